"""What a RIPE Atlas run will cost, and whether RIPE Atlas's limits allow it.

Every figure here is RIPE NCC's, checked against their documentation (docs/atlas.md, "Costs and
limits", cites each page and says what could not be read first-hand). They change: ``--dry-run``
against the real service also reads your real balance.

- A ping result costs ``packets x (int(size / 1500) + 1)`` credits ("Unit cost = N *
  (int(S/1500) + 1)", default 3 packets of 48 bytes: 3 credits), and "one-off measurement result
  is twice as expensive". rttgeo makes one-off pings of ``size`` 48 bytes, so 2 x ``packets`` per
  vantage point.
- Per user: at most :attr:`AtlasLimits.max_concurrent` simultaneous measurements, at most
  :attr:`AtlasLimits.max_probes` probes per measurement, at most
  :attr:`AtlasLimits.daily_results` results and :attr:`AtlasLimits.daily_credits` credits a day,
  at most :attr:`AtlasLimits.max_same_target` one-off measurements of the same type towards the
  same target at once (rttgeo runs one per target at a time, its stages one after the other).
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
    daily_results: int = 100_000
    daily_credits: int = 1_000_000
    max_same_target: int = 25


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
           results: int = 0, balance: int | None = None, spent_today: int = 0,
           results_today: int = 0) -> LimitCheck:
        """Check a plan of ``results`` results costing ``credits``, at most
        ``probes_per_measurement`` probes in one measurement, against ``limits``, the owner's
        ``balance`` (None: unknown) and what was already spent and produced in the past day."""
        problems = []
        if probes_per_measurement > limits.max_probes:
            problems.append(f"{probes_per_measurement} probes in one measurement: RIPE Atlas allows "
                            f"{limits.max_probes}")
        if results + results_today > limits.daily_results:
            problems.append(f"{results:,} results (+{results_today:,} in the past day) exceed the "
                            f"daily limit of {limits.daily_results:,} results: split the targets "
                            "over several days")
        if credits + spent_today > limits.daily_credits:
            problems.append(f"{credits:,} credits (+{spent_today:,} already spent today) exceed the "
                            f"daily spending limit of {limits.daily_credits:,}: split the targets")
        if balance is not None and credits > balance:
            problems.append(f"{credits:,} credits needed but the balance is {balance:,}")
        return LimitCheck(not problems, tuple(problems))
