"""Reading measured RTTs: a samples CSV (DESIGN.md) or a campaign store.

Used by ``rttgeo estimate`` and the api verbs (this lives in the store room so that the api room
reads samples without importing the CLI).

Samples CSV: a header with at least ``landmark`` and ``rtt_ms`` (DESIGN.md's full form is
``target, landmark, protocol, sent_unix_ns, rtt_ms``); an empty ``rtt_ms`` is a lost probe. Several
samples per landmark reduce to their minimum (the best estimate of the propagation delay).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from rttgeo.errors import SamplesError
from rttgeo.models import Landmark

__all__ = ["align_rtts", "read_rtts"]


def read_rtts(path: str | Path, target: str | None = None) -> dict[str, float]:
    """Minimum RTT in ms per landmark id (NaN if every probe was lost) from a CSV or SQLite store.

    Raises :class:`SamplesError` naming the file, line and field for malformed input: a missing
    column, an RTT that is not a positive finite number (NaN text, 0, negative), several targets
    without ``target`` chosen.
    """
    p = Path(path)
    if not p.is_file():
        raise SamplesError("no such file", where=str(p))
    with p.open("rb") as fh:
        head = fh.read(16)
    if head.startswith(b"SQLite format 3"):
        from rttgeo.store.sqlite import load_rtts

        ids, rtts = load_rtts(p)
        return {i: float(r) for i, r in zip(ids, rtts, strict=True)}
    best: dict[str, float] = {}
    targets: set[str] = set()
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            fields = [f.strip() for f in (reader.fieldnames or [])]
            for need in ("landmark", "rtt_ms"):
                if need not in fields:
                    raise SamplesError(
                        f"missing column {need!r} (header: {', '.join(fields) or 'none'})",
                        where=f"{p}:1",
                    )
            for row in reader:
                row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
                where = f"{p}:{reader.line_num}"
                tgt = row.get("target", "")
                if target is not None and tgt and tgt != target:
                    continue
                targets.add(tgt)
                lid = row["landmark"]
                if not lid:
                    raise SamplesError("empty landmark id", where=where, field="landmark")
                text = row["rtt_ms"]
                if text == "":
                    best.setdefault(lid, math.nan)  # lost probe
                    continue
                try:
                    v = float(text)
                except ValueError:
                    raise SamplesError(
                        f"not a number: {text!r}", where=where, field="rtt_ms"
                    ) from None
                if not (math.isfinite(v) and v > 0):
                    raise SamplesError(
                        f"{text!r} is not a positive finite RTT (a lost probe is an empty field, "
                        "never 0, negative or NaN)",
                        where=where,
                        field="rtt_ms",
                    )
                old = best.get(lid, math.nan)
                best[lid] = v if math.isnan(old) else min(old, v)
    except UnicodeDecodeError as exc:
        raise SamplesError(f"not a UTF-8 text file ({exc.reason})", where=str(p)) from None
    if len(targets - {""}) > 1 and target is None:
        raise SamplesError(
            f"samples of {len(targets)} targets ({', '.join(sorted(targets)[:5])}...): choose one "
            "with --target",
            where=str(p),
            field="target",
        )
    if not best:
        raise SamplesError("no samples", where=str(p))
    return best


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
