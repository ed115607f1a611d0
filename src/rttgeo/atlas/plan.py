"""What a RIPE Atlas run will cost, and whether RIPE Atlas's limits allow it.

Costs and limits as published by the RIPE NCC (RIPE Atlas docs, "Credits" and "Measurement limits",
as read in 2026; they change: ``--dry-run`` against the real service also reads your real balance).

- A ping result costs ``packets x (int(size / 1500) + 1)`` credits, doubled for a one-off
  measurement. rttgeo makes one-off pings of ``size`` 48 bytes, so 2 x ``packets`` per vantage point.
- At most :attr:`AtlasLimits.max_concurrent` measurements of one user running at once, at most
  :attr:`AtlasLimits.max_probes` probes per measurement, at most
  :attr:`AtlasLimits.daily_credits` credits spent per day (the default spending limit).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AtlasLimits", "LimitCheck", "ping_result_credits", "run_credits"]

PING_SIZE_BYTES = 48


@dataclass(frozen=True, slots=True)
class AtlasLimits:
    """RIPE Atlas per-user limits (defaults as published; see the module docstring)."""

    max_concurrent: int = 100
    max_probes: int = 1000
    daily_credits: int = 1_000_000


def ping_result_credits(packets: int, size_bytes: int = PING_SIZE_BYTES, oneoff: bool = True) -> int:
    """Credits one ping result costs (one vantage point of one measurement)."""
    base = packets * (size_bytes // 1500 + 1)
    return base * (2 if oneoff else 1)


def run_credits(n_results: int, packets: int) -> int:
    """Credits of ``n_results`` one-off ping results of ``packets`` packets."""
    return n_results * ping_result_credits(packets)


@dataclass(frozen=True, slots=True)
class LimitCheck:
    """Outcome of checking a plan against the limits: ``ok`` and one line per problem."""

    ok: bool
    problems: tuple[str, ...]

    @staticmethod
    def of(*, credits: int, probes_per_measurement: int, limits: AtlasLimits,
           balance: int | None = None, spent_today: int = 0) -> LimitCheck:
        problems = []
        if probes_per_measurement > limits.max_probes:
            problems.append(f"{probes_per_measurement} probes in one measurement: RIPE Atlas allows "
                            f"{limits.max_probes}")
        if credits + spent_today > limits.daily_credits:
            problems.append(f"{credits:,} credits (+{spent_today:,} already spent today) exceed the "
                            f"daily spending limit of {limits.daily_credits:,}: split the targets")
        if balance is not None and credits > balance:
            problems.append(f"{credits:,} credits needed but the balance is {balance:,}")
        return LimitCheck(not problems, tuple(problems))
