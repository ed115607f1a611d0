"""iputils ``ping -D`` text and scamper ``sc_warts2json`` JSON, as samples.

Who measured whom: the reader is told ``source`` (the host that ran the tool) and maps each
destination through ``landmark_of`` (address -> landmark id; the address itself when absent).

- ``vantage=None`` (default): the tool ran on the *target* ``source`` (e.g. ``self``) and pinged
  landmarks: ``Sample(target=source, landmark=landmark_of(dst))``.
- ``vantage=ID``: the tool ran on landmark ``ID`` and pinged targets:
  ``Sample(target=dst, landmark=ID)``.

Send times: ``ping -D`` prints the receive time of each reply (Unix seconds, microseconds), so a
reply's ``sent_unix_ns`` is that time minus its RTT; a lost probe's send time is interpolated
from its neighbours' by sequence number (a label only, never an RTT). scamper gives ``tx`` per
reply and ``start`` + ``wait`` for lost probes.

Sequence numbers: iputils counts from 1, other pings (macOS, busybox) from 0; a run that shows a
``seq`` 0 counts from 0. iputils' ``icmp_seq`` wraps after 65535: a number more than 32768 below
the run's last one starts the next lap. busybox prints ``seq=`` and has no ``-D``: its replies are
refused with that reason (they were read as lost probes).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from rttgeo.errors import SamplesError
from rttgeo.importers.records import Skipped
from rttgeo.models import Sample
from rttgeo.textformats import decimal_float, loads_json
from rttgeo.units import MAX_MEASURED_RTT_MS

__all__ = ["read_ping_text", "read_scamper_json"]

Item = Sample | Skipped

_HEADER = re.compile(r"^PING (?P<name>\S+?)\s*\((?P<addr>[0-9A-Fa-f:.]+)\)")
_STAMP = re.compile(r"^\[(?P<ts>\d+(?:\.\d+)?)\]\s*(?P<rest>.*)$")
_REPLY = re.compile(r"^\d+ bytes from (?P<from>.+?): (?:icmp_)?seq=(?P<seq>\d+)(?P<tail>.*)$")
_TIME = re.compile(r"\btime=(?P<rtt>\S+) ms\b")
_NOANSWER = re.compile(r"^no answer yet for icmp_seq=(?P<seq>\d+)")
_ERRLINE = re.compile(r"^From (?P<from>\S+)(?: \S+)?:? icmp_seq=(?P<seq>\d+) (?P<what>.+)$")
_TX = re.compile(r"^(?P<tx>\d+) packets transmitted, (?P<rx>\d+) (?:packets )?received")
_KNOWN = (
    re.compile(r"^--- .* ping statistics ---$"),
    re.compile(r"^rtt min/avg/max/mdev = "),
    re.compile(r"^round-trip min/avg/max"),
    re.compile(r"^PING "),
    re.compile(r"^\d+ packets transmitted"),
    re.compile(r"^pipe \d+$"),
)


def _bad(msg: str, where: str, skip: bool, field: str | None = None) -> Skipped:
    if not skip:
        raise SamplesError(msg, where=where, field=field)
    return Skipped(where, msg, malformed=True)


def _positive_rtt(text: str) -> float | None:
    """An RTT as every samples file takes it: plain decimal digits, in (0,
    :data:`~rttgeo.units.MAX_MEASURED_RTT_MS`] ms; None otherwise (``1_0`` was read as 10 ms,
    99999999 ms as an RTT)."""
    try:
        v = decimal_float(text)
    except ValueError:
        return None
    return v if 0 < v <= MAX_MEASURED_RTT_MS else None


def _stamp_ns(text: str) -> int:
    """``1700000000.123456`` (Unix seconds) as integer ns, exactly."""
    sec, _, frac = text.partition(".")
    return int(sec) * 1_000_000_000 + int((frac + "000000000")[:9])


def _lost_send_ns(seq: int, known: list[tuple[int, int]]) -> int:
    """Send time of a lost probe, linear in seq through the replies' ``(seq, sent_ns)``; 0 = unknown.

    Integer arithmetic (nanoseconds since 1970 do not fit a float's 53 bits).
    """
    if not known:
        return 0
    if len(known) == 1:
        return known[0][1] + (seq - known[0][0]) * 1_000_000_000  # ping's default interval, 1 s
    k = bisect.bisect_left(known, (seq, -1))
    k = min(max(k, 1), len(known) - 1)
    (s0, t0), (s1, t1) = known[k - 1], known[k]
    return t0 + (t1 - t0) * (seq - s0) // (s1 - s0)


class _Run:
    """One ``PING`` run: its destination, replies by sequence number, and lost sequence numbers."""

    def __init__(self, dst: str, line: int) -> None:
        self.dst = dst
        self.line = line
        self.replies: dict[int, tuple[float, int]] = {}  # seq -> (rtt_ms, sent_unix_ns)
        self.errors: dict[int, int] = {}  # seq -> line of an ICMP error report
        self.noanswer: set[int] = set()  # seq of 'no answer yet' lines
        self.transmitted: int | None = None
        self._lap = 0  # 65536 x the laps of icmp_seq so far
        self._last_raw: int | None = None

    def seq(self, raw: int) -> int:
        """The run's sequence number of a printed one, counting iputils' laps past 65535."""
        if self._last_raw is not None and raw < self._last_raw - 32768:
            self._lap += 65536
        self._last_raw = raw
        return raw + self._lap

    @property
    def empty(self) -> bool:
        return not (self.replies or self.errors or self.noanswer or self.transmitted)

    def samples(self, source: str, vantage: str | None, landmark_of: Callable[[str], str]) -> list[Sample]:
        seqs = sorted(self.replies)
        known = [(q, self.replies[q][1]) for q in seqs]
        seen = [*seqs, *self.errors, *self.noanswer]
        base = 0 if 0 in seen else 1  # iputils counts from 1, macOS and busybox from 0
        last = max([*seen, base + (self.transmitted or 0) - 1])
        first = base if self.transmitted is not None or base in self.replies else min(seen)
        target, landmark = (self.dst, vantage) if vantage else (source, landmark_of(self.dst))
        out = []
        for seq in range(first, last + 1):
            if seq in self.replies:
                rtt, sent = self.replies[seq]
                out.append(Sample(target, landmark, "icmp", sent, rtt, "ping-D"))
                continue
            sent = _lost_send_ns(seq, known)
            out.append(Sample(target, landmark, "icmp", int(sent), None, "ping-D"))
        return out


def read_ping_text(
    path: str | Path,
    *,
    source: str = "self",
    vantage: str | None = None,
    landmark_of: Mapping[str, str] | None = None,
    skip_malformed: bool = False,
) -> Iterator[Item]:
    """Samples of iputils ``ping -D`` output (one or several runs); see the module docstring.

    A reply line without a ``-D`` timestamp, or with a missing or non-positive ``time=``, is
    malformed (SamplesError with file:line); lines that carry no sample (summary, blank, unknown
    text) come out as :class:`Skipped`. Duplicate replies (``DUP!``) are skipped, counted.
    """
    p = Path(path)
    lookup = dict(landmark_of or {})

    def lm(addr: str) -> str:
        return lookup.get(addr, addr)

    run: _Run | None = None
    try:
        fh = p.open(encoding="utf-8")
    except OSError as exc:
        raise SamplesError(f"cannot read: {exc.strerror}", where=str(p)) from None
    with fh:
        try:
            for n, raw in enumerate(fh, start=1):
                where = f"{p}:{n}"
                line = raw.strip()
                if not line:
                    continue
                m = _HEADER.match(line)
                if m:
                    if run is not None and not run.empty:
                        yield from run.samples(source, vantage, lm)
                    run = _Run(m["addr"], n)
                    continue
                st = _STAMP.match(line)
                body = st["rest"] if st else line
                if run is None:
                    if _REPLY.match(body) or _NOANSWER.match(body):
                        yield _bad("a reply before any 'PING' header line", where, skip_malformed)
                    else:
                        yield Skipped(where, "text before the first 'PING' header")
                    continue
                r = _REPLY.match(body)
                if r:
                    if "DUP!" in r["tail"]:
                        yield Skipped(where, "duplicate reply (DUP!)")
                        continue
                    if st is None:
                        yield _bad("reply without a -D timestamp: run ping with -D", where,
                                   skip_malformed)
                        continue
                    t = _TIME.search(r["tail"])
                    rtt = _positive_rtt(t["rtt"]) if t else None
                    if rtt is None:
                        yield _bad("no positive time= in the reply", where, skip_malformed, "time")
                        continue
                    recv_ns = _stamp_ns(st["ts"])
                    run.replies[run.seq(int(r["seq"]))] = (rtt, recv_ns - round(rtt * 1e6))
                    continue
                m2 = _NOANSWER.match(body)
                if m2:
                    run.noanswer.add(run.seq(int(m2["seq"])))
                    continue
                m3 = _ERRLINE.match(body)
                if m3:
                    run.errors[run.seq(int(m3["seq"]))] = n
                    yield Skipped(where, f"ICMP error for icmp_seq={m3['seq']}: {m3['what']} "
                                  "(stored as a lost probe)")
                    continue
                m4 = _TX.match(line)
                if m4:
                    run.transmitted = int(m4["tx"])
                    continue
                if any(k.match(line) for k in _KNOWN):
                    continue
                yield Skipped(where, "not a ping line")
        except UnicodeDecodeError as exc:
            raise SamplesError(f"not UTF-8 text ({exc.reason})", where=str(p)) from None
    if run is not None and not run.empty:
        yield from run.samples(source, vantage, lm)


def _tv_ns(tv: object) -> int | None:
    """A scamper timeval {sec, usec} in ns; None unless both are non-negative JSON integers (a null
    or text field was a traceback, a negative one a stored negative send time)."""
    if not isinstance(tv, Mapping):
        return None
    sec, usec = tv.get("sec"), tv.get("usec", 0)
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (sec, usec)):
        return None
    return sec * 1_000_000_000 + usec * 1000


#: Most probes one scamper ping object may say it sent (``ping_sent``): scamper's own limit of
#: probes per ping is far below; a larger count is a corrupt file (10^20 never finished).
MAX_PING_SENT = 100_000


def read_scamper_json(
    path: str | Path,
    *,
    source: str = "self",
    vantage: str | None = None,
    landmark_of: Mapping[str, str] | None = None,
    skip_malformed: bool = False,
) -> Iterator[Item]:
    """Samples of scamper ``sc_warts2json`` output: one JSON object per line.

    Ping objects give one sample per probe sent (``ping_sent``): replies with their ``rtt`` (ms)
    and ``tx`` time, the rest lost (send time ``start`` + ``seq`` x ``wait``). Other objects
    (``cycle-start``, ``trace``...) are :class:`Skipped`. A line that is not JSON, or a ping object
    without ``dst`` / ``start`` / ``ping_sent``, is malformed.
    """
    p = Path(path)
    lookup = dict(landmark_of or {})
    try:
        fh = p.open(encoding="utf-8")
    except OSError as exc:
        raise SamplesError(f"cannot read: {exc.strerror}", where=str(p)) from None
    with fh:
        try:
            for n, raw in enumerate(fh, start=1):
                where = f"{p}:{n}"
                if not raw.strip():
                    continue
                try:  # strict: huge or non-finite numbers, deep nesting
                    obj = loads_json(raw, where=where, error=SamplesError, one_line=True)
                except SamplesError as exc:
                    yield _bad(str(exc).removeprefix(f"{where}: "), where, skip_malformed)
                    continue
                if not isinstance(obj, dict):
                    yield _bad("not a JSON object", where, skip_malformed)
                    continue
                kind = obj.get("type")
                if kind != "ping":
                    yield Skipped(where, f"scamper object of type {kind!r} (not ping)")
                    continue
                dst = obj.get("dst")
                start = _tv_ns(obj.get("start"))
                sent_n = obj.get("ping_sent")
                if not isinstance(dst, str) or start is None or not isinstance(sent_n, int) or \
                        isinstance(sent_n, bool):
                    yield _bad("ping object without dst, start (non-negative integers) or "
                               "ping_sent", where, skip_malformed)
                    continue
                if not 0 < sent_n <= MAX_PING_SENT:
                    yield _bad(f"ping_sent {sent_n} is not a count of probes in [1, "
                               f"{MAX_PING_SENT:,}]", where, skip_malformed, "ping_sent")
                    continue
                method = str(obj.get("method", "icmp-echo"))
                proto = "tcp" if "tcp" in method else "udp" if "udp" in method else "icmp"
                wait = obj.get("wait", 1)
                if isinstance(wait, bool) or not isinstance(wait, int | float) or \
                        not 0 < wait <= 3600:
                    yield _bad(f"wait {str(wait)[:40]!r} is not a number of seconds in (0, 3600]",
                               where, skip_malformed, "wait")
                    continue
                wait_ns = int(wait * 1e9)
                target, landmark = (dst, vantage) if vantage else (source, lookup.get(dst, dst))
                replies: dict[int, tuple[float, int]] = {}
                broken = False
                for resp in obj.get("responses") or []:
                    seq = resp.get("seq") if isinstance(resp, Mapping) else None
                    rtt = _positive_rtt(str(resp.get("rtt"))) if isinstance(resp, Mapping) else None
                    if not isinstance(seq, int) or rtt is None:
                        yield _bad("a response without seq or a positive rtt", where,
                                   skip_malformed, "responses")
                        broken = True
                        break
                    if resp.get("from") not in (None, dst):
                        continue  # an ICMP error from a router: the probe counts as lost
                    tx = _tv_ns(resp.get("tx"))
                    replies.setdefault(seq, (rtt, tx if tx is not None else start + seq * wait_ns))
                if broken:
                    continue
                for seq in range(sent_n):
                    if seq in replies:
                        rtt, tx = replies[seq]
                        yield Sample(target, landmark, proto, tx, rtt, "scamper")
                    else:
                        yield Sample(target, landmark, proto, start + seq * wait_ns, None, "scamper")
        except UnicodeDecodeError as exc:
            raise SamplesError(f"not UTF-8 text ({exc.reason})", where=str(p)) from None
