"""Probers that send nothing: scripted replies for unit tests, replayed RTT matrices for benchmarks.

:class:`FakeProber` answers each landmark from a script of outcomes consumed in order (the last one
repeats): :class:`Reply` after a delay (with optional duplicate copies), :class:`Loss`, a reply that
comes after the timeout (counted as ``late``), :class:`Fail` with an ICMP-like status, or
:class:`Raise` an exception. It really sleeps (``asyncio.sleep``), so concurrency, rate limits,
timeouts and reordering across landmarks happen as with real sockets; the reported RTT is the
scripted delay exactly (``timing="fake"``). :class:`ReplayProber` answers instantly from recorded
minimum RTTs (``timing="replay"``).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rttgeo.measure.base import Prober, ProbeResult
from rttgeo.models import Landmark

__all__ = ["Fail", "FakeProber", "Late", "Loss", "Raise", "ReplayProber", "Reply", "Step"]


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply after ``delay_ms``, followed by ``duplicates`` extra copies (ignored, counted).

    A delay longer than the probe timeout is a late reply: the probe is lost and ``stats.late``
    counts it, as a real prober would count a reply matching an expired probe.
    """

    delay_ms: float
    duplicates: int = 0


@dataclass(frozen=True, slots=True)
class Loss:
    """No reply at all: the probe times out."""


@dataclass(frozen=True, slots=True)
class Fail:
    """A negative answer after ``delay_ms``: ``unreachable``, ``refused`` or ``error``."""

    status: str = "unreachable"
    delay_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class Raise:
    """The prober raises ``exc`` (a bug or an OS error the prober did not translate)."""

    exc: BaseException


Step = Reply | Loss | Fail | Raise


def Late(delay_ms: float) -> Reply:
    """A reply after ``delay_ms``, meant to be longer than the timeout (a late reply)."""
    return Reply(delay_ms)


def _as_step(x: Step | float | int) -> Step:
    if isinstance(x, Reply | Loss | Fail | Raise):
        return x
    return Reply(float(x))


class FakeProber(Prober):
    """Scripted replies per landmark id (see module doc); unscripted landmarks use ``default``.

    ``script[id]`` is a sequence of steps (a bare number is ``Reply(delay_ms)``); once used up, its
    last step repeats. ``calls`` logs ``(landmark_id, monotonic_s)`` of every probe and
    ``timeouts_s`` its timeout, ``in_flight`` / ``max_in_flight`` the concurrency seen,
    ``opened`` / ``closed`` the lifecycle.
    """

    protocol: ClassVar[str] = "fake"

    def __init__(
        self,
        script: Mapping[str, Sequence[Step | float]] | None = None,
        *,
        default: Step | float = Loss(),
        protocol: str = "fake",
    ) -> None:
        super().__init__()
        self.protocol = protocol  # type: ignore[misc]  # per-instance label for samples
        self._script = {k: [_as_step(s) for s in v] for k, v in (script or {}).items()}
        self._pos: dict[str, int] = {}
        self._default = _as_step(default)
        self.calls: list[tuple[str, float]] = []
        self.timeouts_s: list[float] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.opened = False
        self.closed = False

    async def open(self) -> None:
        self.opened = True

    async def close(self) -> None:
        self.closed = True

    def _next_step(self, landmark_id: str) -> Step:
        steps = self._script.get(landmark_id)
        if not steps:
            return self._default
        i = self._pos.get(landmark_id, 0)
        self._pos[landmark_id] = i + 1
        return steps[min(i, len(steps) - 1)]

    async def probe(self, landmark: Landmark, timeout_s: float) -> ProbeResult:
        step = self._next_step(landmark.id)
        sent_ns = time.time_ns()
        self.calls.append((landmark.id, time.monotonic()))
        self.timeouts_s.append(timeout_s)
        self.stats.sent += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if isinstance(step, Raise):
                raise step.exc
            if isinstance(step, Fail):
                await asyncio.sleep(step.delay_ms / 1000.0)
                self.stats.lost += 1
                return ProbeResult(step.status, None, sent_ns, "fake", f"scripted {step.status}")
            if isinstance(step, Loss) or step.delay_ms / 1000.0 > timeout_s:
                await asyncio.sleep(timeout_s)
                self.stats.lost += 1
                if isinstance(step, Reply):
                    self.stats.late += 1
                return ProbeResult("timeout", None, sent_ns, "fake", "no reply")
            await asyncio.sleep(step.delay_ms / 1000.0)
            self.stats.answered += 1
            self.stats.duplicate += step.duplicates
            return ProbeResult("ok", float(step.delay_ms), sent_ns, "fake")
        finally:
            self.in_flight -= 1


class ReplayProber(Prober):
    """Answers from recorded minimum RTTs ``{landmark_id: rtt_ms}``: NaN or absent = lost.

    No sleeping unless ``sleep=True`` (then it waits the RTT, or the timeout for a lost probe).
    """

    protocol: ClassVar[str] = "replay"

    def __init__(self, rtt_ms: Mapping[str, float], *, sleep: bool = False) -> None:
        super().__init__()
        self._rtt = dict(rtt_ms)
        self._sleep = sleep
        self.probed: list[str] = []

    @classmethod
    def from_row(
        cls, ids: Iterable[str], rtt_ms_row: Iterable[float], *, sleep: bool = False
    ) -> ReplayProber:
        """From one row of a mesh's RTT matrix (``ids`` in mesh order)."""
        return cls(dict(zip(ids, (float(x) for x in rtt_ms_row), strict=True)), sleep=sleep)

    async def probe(self, landmark: Landmark, timeout_s: float) -> ProbeResult:
        sent_ns = time.time_ns()
        self.probed.append(landmark.id)
        self.stats.sent += 1
        rtt = self._rtt.get(landmark.id, math.nan)
        if not (math.isfinite(rtt) and rtt > 0) or rtt / 1000.0 > timeout_s:
            if self._sleep:
                await asyncio.sleep(timeout_s)
            self.stats.lost += 1
            return ProbeResult("timeout", None, sent_ns, "replay", "no recorded RTT")
        if self._sleep:
            await asyncio.sleep(rtt / 1000.0)
        self.stats.answered += 1
        return ProbeResult("ok", rtt, sent_ns, "replay")
