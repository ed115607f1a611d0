"""Bulk writes into a campaign store, and the table of remote measurements (RIPE Atlas ids).

:func:`add_samples` appends many samples in transactions of ``batch`` rows (one commit per batch:
an import of millions of rows does not pay one fsync per row; a crash loses at most the open batch,
and the campaign then stays ``running``).

``remote_measurement`` records every measurement created on a remote service *before* its results
are awaited, so an interrupted run finds the ids again instead of paying for new measurements::

    remote_measurement(id, campaign_id, service, msm_id, target, stage, vantage_points JSON,
                       packets, created_unix_ns, fetched_unix_ns NULL until its results are stored)
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from rttgeo.errors import StoreError
from rttgeo.models import Sample
from rttgeo.store.sqlite import CampaignStore

__all__ = [
    "RemoteMeasurement",
    "add_samples",
    "iter_min_rtt_rows",
    "mark_fetched",
    "record_remote_measurement",
    "remote_measurements",
]

_REMOTE_SCHEMA = """
CREATE TABLE IF NOT EXISTS remote_measurement (
    id INTEGER PRIMARY KEY,
    campaign_id INTEGER NOT NULL REFERENCES campaign(id),
    service TEXT NOT NULL,
    msm_id INTEGER NOT NULL,
    target TEXT NOT NULL,
    stage INTEGER NOT NULL,
    vantage_points TEXT NOT NULL,
    packets INTEGER NOT NULL,
    created_unix_ns INTEGER NOT NULL,
    fetched_unix_ns INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS remote_measurement_msm ON remote_measurement(service, msm_id);
"""


@dataclass(frozen=True, slots=True)
class RemoteMeasurement:
    """A measurement created on a remote service (``service`` e.g. ``ripe-atlas``)."""

    campaign_id: int
    service: str
    msm_id: int
    target: str
    stage: int
    vantage_points: tuple[str, ...]
    packets: int
    created_unix_ns: int
    fetched_unix_ns: int | None

    @property
    def fetched(self) -> bool:
        return self.fetched_unix_ns is not None


def _db(store: CampaignStore) -> sqlite3.Connection:
    if store.closed:
        raise StoreError(f"{store.path}: the store is closed")
    return store._db  # same room: the store's own connection


def add_samples(
    store: CampaignStore,
    campaign_id: int,
    samples: Iterable[Sample],
    *,
    status: str | None = None,
    batch: int = 10_000,
) -> int:
    """Append ``samples`` to campaign ``campaign_id`` in transactions of ``batch``; returns count.

    ``status`` defaults to ``ok`` for a reply and ``timeout`` for a lost probe. A zero, negative or
    non-finite RTT raises StoreError (a lost probe is None, never 0); the open batch is rolled back.
    """
    db = _db(store)
    sql = (
        "INSERT INTO sample (campaign_id, target, landmark, protocol, sent_unix_ns, rtt_ms,"
        " timing, status, attempt, seq) VALUES (?,?,?,?,?,?,?,?,0,0)"
    )
    rows: list[tuple[object, ...]] = []
    total = 0

    def flush() -> None:
        try:
            db.execute("BEGIN")
            db.executemany(sql, rows)
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise StoreError(f"{store.path}: {exc}") from None
        rows.clear()

    for s in samples:
        rtt = s.rtt_ms
        if rtt is not None and not (math.isfinite(rtt) and rtt > 0):
            raise StoreError(f"refusing sample with rtt_ms={rtt!r}: a lost probe is None, never 0")
        rows.append((campaign_id, s.target, s.landmark, s.protocol, int(s.sent_unix_ns), rtt,
                     s.timing, status or ("timeout" if rtt is None else "ok")))
        total += 1
        if len(rows) >= batch:
            flush()
    if rows:
        flush()
    return total


def _ensure_remote(store: CampaignStore) -> sqlite3.Connection:
    db = _db(store)
    try:
        db.executescript(_REMOTE_SCHEMA)
    except sqlite3.Error as exc:
        raise StoreError(f"{store.path}: {exc}") from None
    return db


def record_remote_measurement(
    store: CampaignStore,
    campaign_id: int,
    *,
    service: str,
    msm_id: int,
    target: str,
    stage: int,
    vantage_points: Sequence[str],
    packets: int,
) -> None:
    """Record a created measurement (committed at once, before its results are awaited)."""
    db = _ensure_remote(store)
    try:
        db.execute(
            "INSERT INTO remote_measurement (campaign_id, service, msm_id, target, stage,"
            " vantage_points, packets, created_unix_ns) VALUES (?,?,?,?,?,?,?,?)",
            (campaign_id, service, int(msm_id), target, int(stage), json.dumps(list(vantage_points)),
             int(packets), time.time_ns()),
        )
    except sqlite3.Error as exc:
        raise StoreError(f"{store.path}: {exc}") from None


def mark_fetched(store: CampaignStore, service: str, msm_id: int) -> None:
    """Record that the results of ``msm_id`` are stored as samples."""
    db = _ensure_remote(store)
    try:
        db.execute(
            "UPDATE remote_measurement SET fetched_unix_ns = ? WHERE service = ? AND msm_id = ?",
            (time.time_ns(), service, int(msm_id)),
        )
    except sqlite3.Error as exc:
        raise StoreError(f"{store.path}: {exc}") from None


def remote_measurements(
    store: CampaignStore, *, service: str | None = None, campaign_id: int | None = None
) -> list[RemoteMeasurement]:
    """Recorded remote measurements, oldest first (empty when the table does not exist yet)."""
    db = _db(store)
    try:
        exists = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='remote_measurement'"
        ).fetchone()
        if not exists:
            return []
        sql = ("SELECT campaign_id, service, msm_id, target, stage, vantage_points, packets,"
               " created_unix_ns, fetched_unix_ns FROM remote_measurement WHERE 1=1")
        args: list[object] = []
        if service is not None:
            sql += " AND service = ?"
            args.append(service)
        if campaign_id is not None:
            sql += " AND campaign_id = ?"
            args.append(campaign_id)
        rows = db.execute(sql + " ORDER BY id", args).fetchall()
    except sqlite3.Error as exc:
        raise StoreError(f"{store.path}: {exc}") from None
    return [
        RemoteMeasurement(r[0], r[1], r[2], r[3], r[4], tuple(json.loads(r[5])), r[6], r[7], r[8])
        for r in rows
    ]


def iter_min_rtt_rows(store: CampaignStore, batch: int = 1 << 20
                      ) -> Iterator[list[tuple[str, str, float | None]]]:
    """``(target, landmark, min rtt_ms or None)`` of every sample, grouped and ordered by target,
    in lists of at most ``batch`` rows (one query; SQLite sorts on disk, so memory stays bounded).
    Works on a store opened with ``open_readonly``."""
    db = _db(store)
    try:
        cur = db.execute("SELECT target, landmark, MIN(rtt_ms) FROM sample "
                         "GROUP BY target, landmark ORDER BY target")
        while True:
            rows = cur.fetchmany(batch)
            if not rows:
                return
            yield rows
    except sqlite3.Error as exc:
        raise StoreError(f"{store.path}: {exc}") from None
