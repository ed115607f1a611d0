"""Reading measured RTTs: a samples CSV (DESIGN.md) or a campaign store.

Used by ``rttgeo estimate`` and the api verbs (this lives in the store room so that the api room
reads samples without importing the CLI).

Samples CSV, UTF-8 (a byte-order mark is skipped): a header naming each column once, with at least
``landmark`` and ``rtt_ms`` (DESIGN.md's full form is ``target, landmark, protocol, sent_unix_ns,
rtt_ms``; other columns are allowed and ignored). Every row has exactly the header's number of
fields; blank lines are skipped. ``rtt_ms`` is a plain decimal number in (0, :data:`MAX_RTT_MS`]
(``12.5``, ``1e1``; never ``5_0``, ``inf``, ``nan``), or empty for a lost probe;
``sent_unix_ns``, when present and not empty, a non-negative integer. Several samples per landmark
reduce to their minimum (the best estimate of the propagation delay). Anything else raises
:class:`~rttgeo.errors.SamplesError` naming the file, the line (header = line 1) and the field.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np

from rttgeo.errors import SamplesError
from rttgeo.models import Landmark
from rttgeo.textformats import csv_errors, csv_header, nul_free, rtt_ms_field, unix_ns_field
from rttgeo.units import MAX_MEASURED_RTT_MS

__all__ = ["MAX_RTT_MS", "align_rtts", "read_rtts", "read_samples_csv"]

#: Largest RTT accepted as a measurement, ms (:data:`rttgeo.units.MAX_MEASURED_RTT_MS`).
MAX_RTT_MS = MAX_MEASURED_RTT_MS
_REQUIRED = ("landmark", "rtt_ms")


def read_rtts(path: str | Path, target: str | None = None) -> dict[str, float]:
    """Minimum RTT in ms per landmark id (NaN if every probe was lost) from a CSV or SQLite store.

    A store is opened read-only (:func:`rttgeo.store.open_readonly`). Raises
    :class:`SamplesError` (CSV) or :class:`~rttgeo.errors.StoreError` naming the file, line and
    field for malformed input (see the module doc).
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            head = fh.read(16)
    except IsADirectoryError:
        raise SamplesError("is a directory, not a samples file", where=str(p)) from None
    except FileNotFoundError:
        raise SamplesError("no such file", where=str(p)) from None
    except OSError as exc:
        raise SamplesError(f"cannot read: {exc.strerror}", where=str(p)) from None
    if head.startswith(b"SQLite format 3"):
        from rttgeo.errors import StoreError
        from rttgeo.store.sqlite import load_rtts

        try:
            ids, rtts = load_rtts(p)
        except StoreError as exc:  # a store the user handed in is bad input, like a bad CSV
            raise SamplesError(str(exc).removeprefix(f"{p}: "), where=str(p)) from None
        return {i: float(r) for i, r in zip(ids, rtts, strict=True)}
    return read_samples_csv(p, target)


def read_samples_csv(path: str | Path, target: str | None = None) -> dict[str, float]:
    """Minimum RTT in ms per landmark id from a samples CSV (see the module doc for the format).

    ``target``: keep only rows of that target (rows with an empty ``target`` are kept too). Without
    it, a file holding several targets is refused.
    """
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(nul_free(fh, where=str(p), error=SamplesError))
            try:
                with csv_errors(reader, where=str(p), error=SamplesError):
                    best, targets = _read_rows(reader, str(p), target)
            except UnicodeDecodeError as exc:
                raise SamplesError(f"not UTF-8 text ({exc.reason})",
                                   where=f"{p}:{_bad_utf8_line(p)}") from None
    except OSError as exc:
        raise SamplesError(f"cannot read: {exc.strerror}", where=str(p)) from None
    named = sorted(targets - {""})
    if target is None and len(named) > 1:
        raise SamplesError(
            f"samples of {len(named)} targets ({', '.join(named[:5])}"
            f"{'...' if len(named) > 5 else ''}): choose one with --target",
            where=str(p),
            field="target",
        )
    if not best:
        if target is not None and named:
            raise SamplesError(
                f"no sample of target {target!r} (the file holds {', '.join(named[:5])}"
                f"{'...' if len(named) > 5 else ''})",
                where=str(p),
                field="target",
            )
        raise SamplesError("no samples", where=str(p))
    return best


def _bad_utf8_line(path: Path) -> int:
    """Line of the first byte that is not UTF-8 (the text reader decodes ahead, so its own line
    count does not say)."""
    raw = path.read_bytes()
    try:
        raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return raw.count(b"\n", 0, exc.start) + 1
    return 1


def _header(reader: Any, name: str) -> list[str]:
    try:
        raw = next(reader)
    except StopIteration:
        raise SamplesError("empty file: expected a header line", where=f"{name}:1") from None
    return csv_header(raw, where=f"{name}:1", required=_REQUIRED, error=SamplesError)


def _read_rows(
    reader: Any, name: str, target: str | None
) -> tuple[dict[str, float], set[str]]:
    header = _header(reader, name)
    col = {c: k for k, c in enumerate(header)}
    best: dict[str, float] = {}
    targets: set[str] = set()
    for raw in reader:
        if not raw or all(not f.strip() for f in raw):
            continue  # blank line
        where = f"{name}:{reader.line_num}"
        if len(raw) != len(header):
            few = len(raw) < len(header)
            raise SamplesError(
                f"{len(raw)} fields where the header has {len(header)}"
                + (" (a short row: a lost probe keeps its fields and leaves rtt_ms empty)"
                   if few else " (more fields than columns)"),
                where=where,
                field=header[len(raw)] if few else None,
            )
        row = [f.strip() for f in raw]
        tgt = row[col["target"]] if "target" in col else ""
        targets.add(tgt)
        if target is not None and tgt and tgt != target:
            continue
        lid = row[col["landmark"]]
        if not lid:
            raise SamplesError("empty landmark id", where=where, field="landmark")
        if "sent_unix_ns" in col:
            unix_ns_field(row[col["sent_unix_ns"]], where=where, error=SamplesError)
        best_old = best.get(lid, math.nan)
        v = rtt_ms_field(row[col["rtt_ms"]], where=where, error=SamplesError)
        if v is None:
            best.setdefault(lid, math.nan)  # lost probe
            continue
        best[lid] = v if math.isnan(best_old) else min(best_old, v)
    return best, targets


def align_rtts(
    rtts: dict[str, float], landmarks: list[Landmark], source: str = "RTTs"
) -> np.ndarray:
    """RTT vector in catalog order (NaN where not measured); unknown landmark ids raise."""
    index = {lm.id: i for i, lm in enumerate(landmarks)}
    unknown = sorted(set(rtts) - set(index))
    if unknown:
        raise SamplesError(
            f"{len(unknown)} landmark id(s) not in the catalog: {', '.join(unknown[:10])}"
            + (" ..." if len(unknown) > 10 else ""),
            where=source,
            field="landmark",
        )
    out = np.full(len(landmarks), np.nan)
    for lid, v in rtts.items():
        out[index[lid]] = v
    return out
