"""Long-form samples: CSV or Parquet with ``target, landmark, rtt_ms[, sent_unix_ns, protocol]``.

One row per probe. An empty CSV field or a Parquet null in ``rtt_ms`` is a lost probe; any other
value must be an RTT in (0, 60000] ms (``rttgeo.units.MAX_MEASURED_RTT_MS``; never 0, negative,
infinite or NaN; a lost probe is never 0). The CSV rules are those of every samples file
(``rttgeo.textformats``): each column named once, every row with the header's number of fields (a
short row is not a lost probe), plain decimal numbers (``5_0`` is refused), fields under 128 KiB,
UTF-8 with an optional byte-order mark. ``sent_unix_ns`` absent or empty means unknown (stored as
0); ``protocol`` absent means ``icmp``.

:func:`read_longform` yields :class:`~rttgeo.models.Sample` (with line numbers in errors; for
``rttgeo import``); :func:`iter_longform_batches` yields column arrays in bounded chunks (for batch
estimation of millions of rows; Parquet through pyarrow's batch reader, CSV through the csv module).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from rttgeo.errors import SamplesError, require
from rttgeo.importers.records import Skipped
from rttgeo.models import Sample
from rttgeo.textformats import csv_errors, csv_header, nul_free, rtt_ms_field, unix_ns_field

__all__ = ["LONGFORM_COLUMNS", "iter_longform_batches", "read_longform"]

#: Required columns, then optional ones.
LONGFORM_COLUMNS = ("target", "landmark", "rtt_ms", "sent_unix_ns", "protocol")
_REQUIRED = LONGFORM_COLUMNS[:3]


def _is_parquet(p: Path) -> bool:
    try:
        with p.open("rb") as fh:
            return fh.read(4) == b"PAR1"
    except OSError as exc:
        raise SamplesError(f"cannot read: {exc.strerror}", where=str(p)) from None


def _check_rtt(value: object, where: str, skip: bool) -> tuple[float | None, Skipped | None]:
    """(rtt_ms or None for lost, None) or (None, Skipped) / raises for a malformed value."""
    if value is None or value == "":
        return None, None
    try:
        return rtt_ms_field(str(value), where=where, error=SamplesError), None
    except SamplesError as exc:
        if not skip:
            raise
        return None, Skipped(where, str(exc).removeprefix(f"{where}: "), malformed=True)


def _missing(cols: list[str], where: str) -> None:
    for need in _REQUIRED:
        if need not in cols:
            raise SamplesError(
                f"missing column {need!r} (columns: {', '.join(cols) or 'none'}); long form needs "
                "target, landmark, rtt_ms [, sent_unix_ns, protocol]",
                where=where,
            )


def read_longform(path: str | Path, *, skip_malformed: bool = False) -> Iterator[Sample | Skipped]:
    """Samples of a long-form CSV or Parquet file, row by row (see the module docstring)."""
    p = Path(path)
    if _is_parquet(p):
        yield from _read_parquet_rows(p, skip_malformed)
        return
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(nul_free(fh, where=str(p), error=SamplesError))
            with csv_errors(reader, where=str(p), error=SamplesError):
                try:
                    first = next(reader)
                except StopIteration:
                    first = []
                if not first:
                    raise SamplesError("empty file: expected a header line", where=f"{p}:1")
                try:
                    cols = csv_header(first, where=f"{p}:1", required=_REQUIRED,
                                      error=SamplesError)
                except SamplesError as exc:
                    if "missing column" in str(exc):
                        _missing([c.strip() for c in first], f"{p}:1")
                    raise
                for raw in reader:
                    if not raw or all(not f.strip() for f in raw):
                        continue  # blank line
                    where = f"{p}:{reader.line_num}"
                    if len(raw) != len(cols):
                        msg = f"{len(raw)} fields where the header has {len(cols)}"
                        if not skip_malformed:
                            raise SamplesError(msg, where=where,
                                               field=cols[len(raw)] if len(raw) < len(cols)
                                               else None)
                        yield Skipped(where, msg, malformed=True)
                        continue
                    yield from _row(dict(zip(cols, raw, strict=True)), where, skip_malformed)
    except UnicodeDecodeError as exc:
        raise SamplesError(f"not UTF-8 text ({exc.reason})", where=str(p)) from None


def _row(row: dict[str, str | None], where: str, skip: bool) -> Iterator[Sample | Skipped]:
    target = (row.get("target") or "").strip()
    landmark = (row.get("landmark") or "").strip()
    if not target or not landmark:
        field = "target" if not target else "landmark"
        if not skip:
            raise SamplesError(f"empty {field}", where=where, field=field)
        yield Skipped(where, f"empty {field}", malformed=True)
        return
    rtt, bad = _check_rtt((row.get("rtt_ms") or "").strip(), where, skip)
    if bad is not None:
        yield bad
        return
    try:
        sent = unix_ns_field(row.get("sent_unix_ns") or "", where=where, error=SamplesError) or 0
    except SamplesError as exc:
        if not skip:
            raise
        yield Skipped(where, str(exc).removeprefix(f"{where}: "), malformed=True)
        return
    proto = (row.get("protocol") or "").strip() or "icmp"
    yield Sample(target, landmark, proto, sent, rtt, "import")


def _row_group_batches(pf: object, rows: int, columns: list[str]) -> Iterator[object]:
    """Batches read with one reader per row group (a whole-file reader keeps memory per row read)."""
    for i in range(pf.num_row_groups):  # type: ignore[attr-defined]
        yield from pf.iter_batches(batch_size=rows, row_groups=[i], columns=columns)  # type: ignore[attr-defined]


def _read_parquet_rows(p: Path, skip: bool) -> Iterator[Sample | Skipped]:
    pq = require("pyarrow.parquet", "measure")
    try:
        pf = pq.ParquetFile(str(p))
    except Exception as exc:  # pyarrow raises ArrowInvalid / OSError
        raise SamplesError(f"not a readable Parquet file ({exc})", where=str(p)) from None
    cols = list(pf.schema_arrow.names)
    _missing(cols, str(p))
    want = [c for c in LONGFORM_COLUMNS if c in cols]
    n = 0
    for batch in _row_group_batches(pf, 65536, want):
        d = batch.to_pydict()
        for i in range(batch.num_rows):
            n += 1
            row = {c: d[c][i] for c in want}
            row = {k: ("" if v is None else v) for k, v in row.items()}
            yield from _row({k: str(v) for k, v in row.items()}, f"{p}:row {n}", skip)


def iter_longform_batches(
    path: str | Path, *, batch_rows: int = 262_144
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(target, landmark, rtt_ms)`` arrays of at most ``batch_rows`` rows each, file order.

    ``target`` and ``landmark`` are object arrays of str, ``rtt_ms`` float64 with NaN for a lost
    probe. Malformed values raise SamplesError (row number in Parquet, line in CSV).
    """
    p = Path(path)
    if _is_parquet(p):
        pq = require("pyarrow.parquet", "measure")
        pc = require("pyarrow.compute", "measure")
        try:
            pf = pq.ParquetFile(str(p))
        except Exception as exc:
            raise SamplesError(f"not a readable Parquet file ({exc})", where=str(p)) from None
        _missing(list(pf.schema_arrow.names), str(p))
        start = 0
        for batch in _row_group_batches(pf, batch_rows, list(_REQUIRED)):
            rtt_col = pc.cast(batch.column("rtt_ms"), "double")
            rtt = rtt_col.to_numpy(zero_copy_only=False).astype(float)
            nulls = np.asarray(rtt_col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
            bad = ~nulls & ~(np.isfinite(rtt) & (rtt > 0))
            if bad.any():
                k = int(np.flatnonzero(bad)[0])
                raise SamplesError(f"{rtt[k]!r} is not a positive finite RTT (lost = null)",
                                   where=f"{p}:row {start + k + 1}", field="rtt_ms")
            rtt[nulls] = np.nan
            tgt = np.asarray(batch.column("target").to_pylist(), dtype=object)
            lmk = np.asarray(batch.column("landmark").to_pylist(), dtype=object)
            start += batch.num_rows
            yield tgt, lmk, rtt
        return
    tgt_l: list[str] = []
    lmk_l: list[str] = []
    rtt_l: list[float] = []
    for item in read_longform(p):
        if isinstance(item, Skipped):  # pragma: no cover - read_longform raises when not skipping
            continue
        tgt_l.append(item.target)
        lmk_l.append(item.landmark)
        rtt_l.append(math.nan if item.rtt_ms is None else item.rtt_ms)
        if len(rtt_l) >= batch_rows:
            yield np.asarray(tgt_l, dtype=object), np.asarray(lmk_l, dtype=object), np.asarray(rtt_l)
            tgt_l, lmk_l, rtt_l = [], [], []
    if rtt_l:
        yield np.asarray(tgt_l, dtype=object), np.asarray(lmk_l, dtype=object), np.asarray(rtt_l)
