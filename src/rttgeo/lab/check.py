"""Measured RTTs against what a lab world configures: the lab's own fidelity check.

The delay engine holds every packet for its pair's configured one-way delay and can only add to it
(its wake-up, the network stacks), so a measured minimum RTT lies in
``[configured - UNDERSHOOT_MS, configured + bound_ms]``. docs/lab.md measured the excess on a
loaded 2-core VM: +0.02 to +0.08 ms for ICMP, TCP and ping between p1 and p99, 0.2 ms for the
UDP server's turnaround, and single stalls of the VM of about 1 ms; the default bound,
:data:`OVERHEAD_BOUND_MS`, is 0.5 ms (50 km of fibre), so a lab that is off by more than that
fails the check (notebook 3 asserts it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from rttgeo.lab.world import World

__all__ = ["OVERHEAD_BOUND_MS", "UNDERSHOOT_MS", "RttCheck", "compare_to_configured"]

#: Largest excess of a measured minimum RTT over the configured RTT that the check accepts, ms.
OVERHEAD_BOUND_MS = 0.5
#: A measured RTT may fall below the configured one by this much (timestamp rounding), ms; more
#: would mean the lab removed delay, which it cannot.
UNDERSHOOT_MS = 0.01


@dataclass(frozen=True, slots=True)
class RttCheck:
    """One measured pair: ``excess_ms`` = measured - configured."""

    target: str
    landmark: str
    configured_ms: float
    measured_ms: float
    bound_ms: float

    @property
    def excess_ms(self) -> float:
        return self.measured_ms - self.configured_ms

    @property
    def ok(self) -> bool:
        """Within ``[-UNDERSHOOT_MS, bound_ms]`` (a NaN measurement, a lost landmark, is not ok)."""
        return -UNDERSHOOT_MS <= self.excess_ms <= self.bound_ms

    def __str__(self) -> str:
        verdict = "ok" if self.ok else f"OUTSIDE [-{UNDERSHOOT_MS}, +{self.bound_ms}] ms"
        return (
            f"{self.target} -> {self.landmark}: configured {self.configured_ms:.3f} ms, "
            f"measured {self.measured_ms:.3f} ms ({self.excess_ms:+.3f}, {verdict})"
        )


def compare_to_configured(
    world: World,
    target: str,
    measured_ms: Mapping[str, float],
    *,
    bound_ms: float = OVERHEAD_BOUND_MS,
) -> tuple[RttCheck, ...]:
    """One :class:`RttCheck` per landmark in ``measured_ms`` (landmark name to minimum RTT, ms).

    Raises KeyError naming a host that is not in ``world``; ``bound_ms`` must be >= 0.
    """
    if not (bound_ms >= 0 and math.isfinite(bound_ms)):
        raise ValueError(f"bound_ms must be a finite number >= 0, got {bound_ms!r}")
    i = world.index(target)
    return tuple(
        RttCheck(target, name, float(world.rtt_ms[i, world.index(name)]), float(rtt), bound_ms)
        for name, rtt in measured_ms.items()
    )
