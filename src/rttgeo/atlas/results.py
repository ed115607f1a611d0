"""RIPE Atlas ping results as samples, parsed by ripe-atlas-sagan (the ``atlas`` extra).

Every result format sagan knows is accepted (firmware 1 to 5000+, ping over IPv4 and IPv6): one
sample per packet sent: a reply's ``rtt``, or a lost probe for ``{"x": "*"}`` and ``{"error": ...}``
packets and for packets sent but absent from the ``result`` list. Mapping: the probe that measured
is the landmark (``atlas-<prb_id>``, the id the RIPE catalogs use), the destination address is the
target. ``sent_unix_ns`` is the result's ``timestamp`` (RIPE Atlas gives no per-packet send time;
a label only). Results of other types (traceroute, DNS...) and results that carry only an error
(``err`` / ``dnserr``) are reported through ``on_skip``; a result that sagan cannot parse is
malformed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from rttgeo.errors import SamplesError, require
from rttgeo.models import Sample
from rttgeo.textformats import loads_json
from rttgeo.units import MAX_MEASURED_RTT_MS

__all__ = ["landmark_id", "ping_samples", "read_atlas_results", "result_samples"]

SkipFn = Callable[[str, str], None]


def landmark_id(probe_id: int) -> str:
    """The landmark id of RIPE Atlas probe ``probe_id`` (``atlas-<id>``)."""
    return f"atlas-{int(probe_id)}"


def _sagan() -> Any:
    return require("ripe.atlas.sagan", "atlas")


def result_samples(raw: Mapping[str, Any], where: str, on_skip: SkipFn) -> list[Sample]:
    """Samples of one raw result dict (see the module docstring); raises SamplesError if broken."""
    sagan = _sagan()
    kind = str(raw.get("type", "")).lower() if isinstance(raw, Mapping) else ""
    if not isinstance(raw, Mapping):
        raise SamplesError("a result is not a JSON object", where=where)
    if kind and kind != "ping":
        on_skip(where, f"RIPE Atlas result of type {kind!r} (not ping)")
        return []
    try:
        res = sagan.PingResult(dict(raw), on_error=sagan.PingResult.ACTION_IGNORE,
                               on_malformation=sagan.PingResult.ACTION_FAIL)
    except Exception as exc:  # ResultParseError and the KeyError / TypeError of broken input
        raise SamplesError(f"not a RIPE Atlas ping result ({exc})", where=where) from None
    return ping_samples(res, where, on_skip)


def ping_samples(res: Any, where: str, on_skip: SkipFn) -> list[Sample]:
    """Samples of a parsed sagan ``PingResult``."""
    if res.probe_id is None or res.destination_address is None:
        on_skip(where, "result without a probe id or destination address")
        return []
    if res.is_error and not res.packets:
        on_skip(where, f"measurement error on the probe: {res.error_message}")
        return []
    target = str(res.destination_address)
    lm = landmark_id(res.probe_id)
    sent = int(res.created_timestamp) * 1_000_000_000
    out: list[Sample] = []
    sent_n = int(res.packets_sent or 0)
    if not res.packets and res.rtt_min is not None and res.rtt_min > 0:
        # firmware 1 results carry only min/avg/max: the minimum is the one RTT known
        out.append(Sample(target, lm, "icmp", sent, _rtt(res.rtt_min, where), "ripe-atlas-min"))
        sent_n -= int(res.packets_received or 1)
    for pkt in res.packets:
        if pkt.dup:
            continue
        rtt = None if pkt.rtt is None else _rtt(pkt.rtt, where)
        out.append(Sample(target, lm, "icmp", sent, rtt, "ripe-atlas"))
    n_lost = sent_n - (len(out) if res.packets else 0)
    out.extend(Sample(target, lm, "icmp", sent, None, "ripe-atlas") for _ in range(max(0, n_lost)))
    return out


def _rtt(value: float, where: str) -> float:
    """A packet's RTT as every samples file takes it, in (0, 60000] ms; SamplesError otherwise (an
    RTT of 0 became a lost probe, one of 99999999 ms a sample)."""
    v = float(value)
    if not 0 < v <= MAX_MEASURED_RTT_MS:
        raise SamplesError(f"rtt {value!r} is not an RTT in (0, {MAX_MEASURED_RTT_MS:g}] ms",
                           where=where, field="rtt")
    return v


def read_atlas_results(path: str | Path, *, on_skip: SkipFn,
                       skip_malformed: bool = False) -> Iterator[Sample]:
    """Samples of a RIPE Atlas result file: one JSON array, or JSON lines (one result a line).

    A malformed line (not JSON, not a result) raises SamplesError with file:line, or, with
    ``skip_malformed``, is passed to ``on_skip`` with a reason starting ``malformed:``.
    """
    p = Path(path)
    try:
        text_head = p.open("rb").read(1).decode("ascii", errors="replace")
    except OSError as exc:
        raise SamplesError(f"cannot read: {exc.strerror}", where=str(p)) from None

    def each(items: Iterable[tuple[str, Any]]) -> Iterator[Sample]:
        for where, raw in items:
            try:
                yield from result_samples(raw, where, on_skip)
            except SamplesError as exc:
                if not skip_malformed:
                    raise
                on_skip(where, f"malformed: {exc}")

    try:
        if text_head == "[":
            data = loads_json(p.read_bytes(), where=str(p), error=SamplesError)  # strict
            if not isinstance(data, list):
                raise SamplesError("expected a JSON array of results", where=str(p))
            yield from each((f"{p}:result {i + 1}", r) for i, r in enumerate(data))
            return
        with p.open(encoding="utf-8") as fh:
            def lines() -> Iterator[tuple[str, Any]]:
                for n, line in enumerate(fh, start=1):
                    if not line.strip():
                        continue
                    where = f"{p}:{n}"
                    try:
                        yield where, loads_json(line, where=where, error=SamplesError,
                                                one_line=True)
                    except SamplesError as exc:
                        if not skip_malformed:
                            raise
                        on_skip(where, f"malformed: {exc}")
            yield from each(lines())
    except UnicodeDecodeError as exc:
        raise SamplesError(f"not UTF-8 text ({exc.reason})", where=str(p)) from None
