"""The record every reader yields for a line without a sample, and format sniffing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rttgeo.errors import SamplesError
from rttgeo.textformats import loads_json

__all__ = ["FORMATS", "Skipped", "sniff_format"]

#: Formats ``rttgeo import`` reads.
FORMATS = ("ping", "scamper", "atlas", "csv", "parquet")


@dataclass(frozen=True, slots=True)
class Skipped:
    """A line (or JSON object) that gave no sample: ``where`` is ``file:line``, ``reason`` says why.

    ``malformed`` is true when the line was broken and the caller asked to skip broken lines.
    """

    where: str
    reason: str
    malformed: bool = False


def sniff_format(path: str | Path) -> str:
    """One of :data:`FORMATS` from the file's first bytes; SamplesError if none fits."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise SamplesError(f"cannot read: {exc.strerror}", where=str(p)) from None
    if head.startswith(b"PAR1"):
        return "parquet"
    text = head.decode("utf-8", errors="replace").lstrip()
    if text.startswith("PING ") or (text.startswith("[") and "bytes from" in text):
        return "ping"
    if text.startswith("{") or text.startswith("["):
        first = text.splitlines()[0] if text else ""
        try:
            obj = loads_json(first, where=str(p), error=SamplesError)
        except SamplesError:  # not one JSON document on its first line (or a hostile one)
            obj = None
        if isinstance(obj, list):
            obj = obj[0] if obj else None
        if isinstance(obj, dict):
            if "msm_id" in obj or "prb_id" in obj:
                return "atlas"
            if obj.get("type") in ("ping", "cycle-start", "cycle-stop", "list", "trace"):
                return "scamper"
        if text.startswith("["):
            return "atlas"  # a JSON array of results, pretty-printed
    first_line = text.splitlines()[0] if text else ""
    if "landmark" in first_line and "rtt_ms" in first_line:
        return "csv"
    raise SamplesError(
        "cannot tell the format (iputils ping -D text, scamper JSON, RIPE Atlas JSON, long-form "
        "CSV or Parquet): give --format",
        where=str(p),
    )
