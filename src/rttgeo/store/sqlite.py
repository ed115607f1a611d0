"""Measurement campaigns on disk: one SQLite file (WAL mode), no server.

Tables::

    campaign(id, host, target, started_unix_ns, ended_unix_ns, protocol, catalog_path,
             catalog_sha256, rttgeo_version, params JSON, status)
    sample(id, campaign_id, target, landmark, protocol, sent_unix_ns, rtt_ms NULL when lost,
           timing, status, attempt, seq)

Durability: every :meth:`CampaignStore.add_sample` is its own committed transaction. In WAL mode
with ``synchronous=NORMAL`` a commit is in the operating system's hands when the call returns, so a
process killed with SIGKILL keeps every sample written before it died (a power cut may lose the
last few; pass ``synchronous="FULL"`` to fsync each commit). ``status`` of a campaign is
``running`` while it runs, then ``complete``, ``interrupted`` (Ctrl-C) or ``failed``; a killed
campaign stays ``running`` and its samples stay readable. Summaries (per-landmark minimum RTT)
derive from samples.
"""

from __future__ import annotations

import csv
import json
import math
import socket
import sqlite3
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from rttgeo import __version__
from rttgeo.errors import InputError, StoreError, require
from rttgeo.models import Sample
from rttgeo.textformats import loads_json

__all__ = [
    "CAMPAIGN_STATUSES",
    "SAMPLE_COLUMNS",
    "CampaignInfo",
    "CampaignStore",
    "check_store_file",
    "load_rtts",
    "open_readonly",
]

#: Columns of the CSV export (DESIGN.md sample format), in order.
SAMPLE_COLUMNS = ("target", "landmark", "protocol", "sent_unix_ns", "rtt_ms")
CAMPAIGN_STATUSES = ("running", "complete", "interrupted", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS campaign (
    id INTEGER PRIMARY KEY,
    host TEXT NOT NULL,
    target TEXT NOT NULL,
    started_unix_ns INTEGER NOT NULL,
    ended_unix_ns INTEGER,
    protocol TEXT NOT NULL,
    catalog_path TEXT,
    catalog_sha256 TEXT,
    rttgeo_version TEXT NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sample (
    id INTEGER PRIMARY KEY,
    campaign_id INTEGER NOT NULL REFERENCES campaign(id),
    target TEXT NOT NULL,
    landmark TEXT NOT NULL,
    protocol TEXT NOT NULL,
    sent_unix_ns INTEGER NOT NULL,
    rtt_ms REAL CHECK (rtt_ms IS NULL OR rtt_ms > 0),
    timing TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 0,
    seq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS sample_campaign ON sample(campaign_id, landmark);
"""


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    """Metadata of one stored campaign (times in Unix ns; ``ended_unix_ns`` None while running)."""

    id: int
    host: str
    target: str
    started_unix_ns: int
    ended_unix_ns: int | None
    protocol: str
    catalog_path: str | None
    catalog_sha256: str | None
    rttgeo_version: str
    params: Mapping[str, Any]
    status: str
    n_samples: int
    n_lost: int


class CampaignStore:
    """A campaign store file. Use as a context manager; all methods raise :class:`StoreError`."""

    def __init__(
        self,
        path: str | Path,
        *,
        wal: bool = True,
        synchronous: str = "NORMAL",
        read_only: bool = False,
    ) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._closed = True
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL"):
            raise ValueError("synchronous must be OFF, NORMAL or FULL")
        if read_only:
            self._db = _connect_readonly(self.path)
            self._closed = False
            return
        try:
            if self.path.parent and not self.path.parent.exists():
                raise StoreError(f"{self.path}: directory {self.path.parent} does not exist")
            if self.path.is_dir():
                raise StoreError(f"{self.path}: is a directory; give a file name for the store")
            if self.path.exists() and self.path.stat().st_size > 0:
                _check_header(self.path)
            self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=10.0)
            self._closed = False
            self._db.execute("PRAGMA busy_timeout = 10000")
            # Check what the file holds before changing anything: a foreign SQLite file is never
            # switched to WAL nor given our tables.
            _check_schema(self._db, self.path, allow_empty=True)
            if wal:
                mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":  # ':memory:', or a filesystem without shm
                    raise StoreError(f"{self.path}: cannot use WAL mode (got {mode})")
            self._db.execute(f"PRAGMA synchronous = {synchronous.upper()}")
            self._db.executescript(_SCHEMA)
        except StoreError:
            self.close()
            raise
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StoreError(
                f"{self.path}: not a usable campaign store ({exc}); give a new file name"
            ) from None
        except OSError as exc:  # permissions, a name too long
            self.close()
            raise StoreError(
                f"{self.path}: {exc.strerror}; check the path and permissions"
            ) from None

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Close the file (idempotent). Committed samples are already on disk."""
        if not self._closed:
            self._closed = True
            self._db.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> CampaignStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _exec(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        if self._closed:
            raise StoreError(f"{self.path}: the store is closed")
        try:
            return self._db.execute(sql, args)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from None

    # -- writing -----------------------------------------------------------------------------
    def begin_campaign(
        self,
        *,
        target: str = "self",
        protocol: str = "",
        catalog_path: str | Path | None = None,
        catalog_sha256: str | None = None,
        params: Mapping[str, Any] | None = None,
        host: str | None = None,
    ) -> int:
        """Record a new campaign with status ``running``; returns its id."""
        cur = self._exec(
            "INSERT INTO campaign (host, target, started_unix_ns, protocol, catalog_path,"
            " catalog_sha256, rttgeo_version, params, status) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                host if host is not None else socket.gethostname(),
                target,
                time.time_ns(),
                protocol,
                None if catalog_path is None else str(catalog_path),
                catalog_sha256,
                __version__,
                json.dumps(dict(params or {}), sort_keys=True, default=str),
                "running",
            ),
        )
        return int(cur.lastrowid or 0)

    def add_sample(
        self,
        campaign_id: int,
        sample: Sample,
        *,
        status: str | None = None,
        attempt: int = 0,
        seq: int = 0,
    ) -> None:
        """Append one sample and commit it (durable against SIGKILL when this returns)."""
        rtt = sample.rtt_ms
        if rtt is not None and not (math.isfinite(rtt) and rtt > 0):
            raise StoreError(f"refusing sample with rtt_ms={rtt!r}: a lost probe is None, never 0")
        sent = int(sample.sent_unix_ns)
        if not 0 <= sent < 2**63:  # SQLite's INTEGER is 64-bit signed; the time is after 1970
            raise StoreError(f"refusing sample with sent_unix_ns={sent}: not a time SQLite can store")
        self._exec(
            "INSERT INTO sample (campaign_id, target, landmark, protocol, sent_unix_ns, rtt_ms,"
            " timing, status, attempt, seq) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                campaign_id,
                sample.target,
                sample.landmark,
                sample.protocol,
                sent,
                rtt,
                sample.timing,
                status or ("timeout" if rtt is None else "ok"),
                attempt,
                seq,
            ),
        )

    def end_campaign(self, campaign_id: int, status: str) -> None:
        """Mark the campaign ``complete``, ``interrupted`` or ``failed`` with its end time."""
        if status not in CAMPAIGN_STATUSES:
            raise ValueError(f"status must be one of {CAMPAIGN_STATUSES}")
        self._exec(
            "UPDATE campaign SET status = ?, ended_unix_ns = ? WHERE id = ?",
            (status, time.time_ns(), campaign_id),
        )

    def discard_campaign(self, campaign_id: int) -> None:
        """Remove campaign ``campaign_id`` and its samples, in one transaction (an open one is
        rolled back first): for an import that did not finish, which its file can redo."""
        db = self._db
        try:
            if db.in_transaction:
                db.execute("ROLLBACK")
            db.execute("BEGIN")
            db.execute("DELETE FROM sample WHERE campaign_id = ?", (campaign_id,))
            db.execute("DELETE FROM campaign WHERE id = ?", (campaign_id,))
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise StoreError(f"{self.path}: {exc}") from None

    # -- reading -----------------------------------------------------------------------------
    def campaigns(self) -> list[CampaignInfo]:
        """All campaigns, oldest first, with their sample and loss counts."""
        rows = self._exec(
            f"SELECT {', '.join('c.' + c for c in _CAMPAIGN_TYPES)},"
            " COUNT(s.id), COALESCE(SUM(s.rtt_ms IS NULL), 0)"
            " FROM campaign c LEFT JOIN sample s ON s.campaign_id = c.id"
            " GROUP BY c.id ORDER BY c.id"
        ).fetchall()
        out = []
        for r in rows:
            row = self._checked("campaign", _CAMPAIGN_TYPES, r[: len(_CAMPAIGN_TYPES)])
            out.append(
                CampaignInfo(
                    **{k: v for k, v in row.items() if k != "params"},
                    params=self._params(row["id"], row["params"]),
                    n_samples=int(r[-2]),
                    n_lost=int(r[-1]),
                )
            )
        return out

    def campaign(self, campaign_id: int | None = None) -> CampaignInfo:
        """One campaign (the latest when ``campaign_id`` is None); StoreError if there is none."""
        infos = self.campaigns()
        if not infos:
            raise StoreError(f"{self.path}: the store holds no campaign")
        if campaign_id is None:
            return infos[-1]
        for info in infos:
            if info.id == campaign_id:
                return info
        raise StoreError(f"{self.path}: no campaign with id {campaign_id}")

    def iter_rows(self, campaign_id: int | None = None) -> Iterator[dict[str, Any]]:
        """Sample rows as dicts (all columns), in arrival order; all campaigns when id is None."""
        sql = f"SELECT {', '.join(_SAMPLE_TYPES)} FROM sample"
        args: tuple[Any, ...] = ()
        if campaign_id is not None:
            sql += " WHERE campaign_id = ?"
            args = (campaign_id,)
        for row in self._exec(sql + " ORDER BY id", args):
            yield self._checked("sample", _SAMPLE_TYPES, row)

    def samples(self, campaign_id: int | None = None) -> list[Sample]:
        """Samples as :class:`Sample` values, in arrival order."""
        return [
            Sample(
                r["target"],
                r["landmark"],
                r["protocol"],
                r["sent_unix_ns"],
                r["rtt_ms"],
                r["timing"],
            )
            for r in self.iter_rows(campaign_id)
        ]

    def min_rtts(
        self, campaign_id: int | None = None, landmark_ids: Sequence[str] | None = None
    ) -> tuple[tuple[str, ...], np.ndarray]:
        """``(landmark_ids, min_rtt_ms)`` of one campaign (latest by default); NaN = no reply.

        Order: ``landmark_ids`` when given (absent ones NaN), else order of first sample.
        """
        cid = self.campaign(campaign_id).id
        best: dict[str, float] = {}
        for row in self.iter_rows(cid):
            lid, rtt = row["landmark"], row["rtt_ms"]
            old = best.get(lid, np.nan)
            if rtt is not None and not rtt >= old:  # NaN-aware minimum
                best[lid] = float(rtt)
            elif lid not in best:
                best[lid] = np.nan
        ids = tuple(landmark_ids) if landmark_ids is not None else tuple(best)
        return ids, np.array([best.get(i, np.nan) for i in ids], dtype=float)

    # -- validation of what is read (a store may have been changed by other programs) --------
    def _checked(
        self, table: str, types: Mapping[str, tuple[type, ...]], row: Sequence[Any]
    ) -> dict[str, Any]:
        """``row`` as a dict after checking each column's type; StoreError names row and column."""
        out = dict(zip(types, row, strict=True))
        for col, allowed in types.items():
            v = out[col]
            ok = isinstance(v, allowed) and not isinstance(v, bool)
            if ok and col == "rtt_ms" and v is not None:
                ok = math.isfinite(v) and v > 0
            if ok and col == "status" and table == "campaign":
                ok = v in CAMPAIGN_STATUSES
            if not ok:
                shown = repr(v)[:40]
                raise StoreError(
                    f"{self.path}: corrupt store: {table} row {out.get('id')!r}, column {col!r} "
                    f"holds {type(v).__name__} {shown}; the file was changed outside rttgeo"
                )
        return out

    def _params(self, campaign_id: int, text: str) -> dict[str, Any]:
        try:
            params = loads_json(text, where="params")
        except InputError as exc:
            raise StoreError(
                f"{self.path}: corrupt store: campaign row {campaign_id}, column 'params': {exc}"
            ) from None
        if not isinstance(params, dict):
            raise StoreError(
                f"{self.path}: corrupt store: campaign row {campaign_id}, column 'params' is not "
                "a JSON object"
            )
        return params

    # -- export ------------------------------------------------------------------------------
    def export_csv(
        self, path: str | Path, campaign_id: int | None = None, *, extra: bool = False
    ) -> int:
        """Write samples as CSV (DESIGN.md columns; ``extra`` adds timing, status, attempt).

        A lost probe has an empty ``rtt_ms``. Returns the number of rows written.
        """
        cols = list(SAMPLE_COLUMNS) + (
            ["timing", "status", "attempt", "campaign_id"] if extra else []
        )
        n = 0
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(cols)
            for r in self.iter_rows(campaign_id):
                r = dict(r)
                r["rtt_ms"] = "" if r["rtt_ms"] is None else repr(float(r["rtt_ms"]))
                w.writerow([r[c] for c in cols])
                n += 1
        return n

    def export_parquet(self, path: str | Path, campaign_id: int | None = None) -> int:
        """Write all sample columns as Parquet (needs pyarrow, the ``measure`` extra)."""
        pa = require("pyarrow", "measure")
        pq = require("pyarrow.parquet", "measure")
        rows = list(self.iter_rows(campaign_id))
        schema = pa.schema(
            [
                ("target", pa.string()),
                ("landmark", pa.string()),
                ("protocol", pa.string()),
                ("sent_unix_ns", pa.int64()),
                ("rtt_ms", pa.float64()),
                ("timing", pa.string()),
                ("status", pa.string()),
                ("attempt", pa.int32()),
                ("campaign_id", pa.int64()),
            ]
        )
        table = pa.table({name: [r[name] for r in rows] for name in schema.names}, schema=schema)
        pq.write_table(table, str(path))
        return len(rows)


def load_rtts(
    path: str | Path, campaign_id: int | None = None
) -> tuple[tuple[str, ...], np.ndarray]:
    """``(landmark_ids, min_rtt_ms_per_landmark)`` of a stored campaign (latest by default).

    The minimum over each landmark's samples, in ms; NaN where every probe was lost. Raises
    :class:`StoreError` if ``path`` is not a campaign store or holds no campaign.
    """
    with open_readonly(path) as store:
        return store.min_rtts(campaign_id)


def check_store_file(path: str | Path) -> None:
    """StoreError unless ``path`` is an SQLite file holding rttgeo's campaign tables (read-only:
    a command checks the ``--store`` it was given before probing anything)."""
    with open_readonly(path):
        pass


def open_readonly(path: str | Path) -> CampaignStore:
    """Open an existing campaign store for reading only: what every read command calls.

    Nothing in the file is ever changed: the connection is SQLite's ``mode=ro``, and the schema is
    checked before any other query (a foreign SQLite file is refused, never switched to WAL nor
    given tables). A store on read-only media (no ``-wal`` file beside it, so cleanly closed) is
    opened ``immutable``. In a writable directory SQLite may leave its empty ``-wal`` / ``-shm``
    side files next to a WAL store, as any reader does. Raises :class:`StoreError`.
    """
    return CampaignStore(path, read_only=True)


_SQLITE_MAGIC = b"SQLite format 3\x00"
#: Columns read back and the Python types SQLite must give for them.
_CAMPAIGN_TYPES: dict[str, tuple[type, ...]] = {
    "id": (int,),
    "host": (str,),
    "target": (str,),
    "started_unix_ns": (int,),
    "ended_unix_ns": (int, type(None)),
    "protocol": (str,),
    "catalog_path": (str, type(None)),
    "catalog_sha256": (str, type(None)),
    "rttgeo_version": (str,),
    "params": (str,),
    "status": (str,),
}
_SAMPLE_TYPES: dict[str, tuple[type, ...]] = {
    "id": (int,),
    "campaign_id": (int,),
    "target": (str,),
    "landmark": (str,),
    "protocol": (str,),
    "sent_unix_ns": (int,),
    "rtt_ms": (float, int, type(None)),
    "timing": (str,),
    "status": (str,),
    "attempt": (int,),
    "seq": (int,),
}


def _check_header(path: Path) -> None:
    """StoreError unless ``path`` starts with SQLite's 16-byte magic."""
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except IsADirectoryError:
        raise StoreError(f"{path}: is a directory, not a campaign store") from None
    except OSError as exc:
        raise StoreError(f"{path}: cannot read: {exc.strerror}") from None
    if head != _SQLITE_MAGIC:
        raise StoreError(
            f"{path}: not a usable campaign store (not an SQLite file); give a new file name"
        )


def _check_schema(db: sqlite3.Connection, path: Path, *, allow_empty: bool) -> None:
    """StoreError unless ``db`` holds rttgeo's campaign and sample tables (or is empty and allowed)."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables:
        if allow_empty:
            return
        raise StoreError(f"{path}: an empty SQLite database, not a campaign store")
    for table, types in (("campaign", _CAMPAIGN_TYPES), ("sample", _SAMPLE_TYPES)):
        if table not in tables:
            raise StoreError(
                f"{path}: not a campaign store (its tables: {', '.join(sorted(tables)[:8])}); "
                "rttgeo leaves it untouched"
            )
        cols = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
        missing = [c for c in types if c not in cols]
        if missing:
            raise StoreError(
                f"{path}: not a campaign store (table {table!r} lacks {', '.join(missing)}); "
                "rttgeo leaves it untouched"
            )


def _connect_readonly(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise StoreError(f"{path}: no such campaign store")
    _check_header(path)
    base = "file:" + urllib.parse.quote(str(path.resolve()))

    def connect(query: str) -> sqlite3.Connection:
        db = sqlite3.connect(base + query, uri=True, isolation_level=None, timeout=10.0)
        try:
            db.execute("PRAGMA busy_timeout = 10000")
            _check_schema(db, path, allow_empty=False)
        except BaseException:
            db.close()
            raise
        return db

    try:
        try:
            return connect("?mode=ro")
        except sqlite3.OperationalError:
            # A WAL store on read-only media: SQLite cannot make its -shm file. Without a -wal
            # file nothing is pending and no writer has it open, so the main file is the store.
            wal = path.with_name(path.name + "-wal")
            if wal.exists():
                raise
            return connect("?mode=ro&immutable=1")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot read the campaign store ({exc})") from None
