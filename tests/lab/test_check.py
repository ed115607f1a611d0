"""rttgeo.lab.check: the measured-against-configured check of notebook 3 fails when it should."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from rttgeo.geo import distance_km
from rttgeo.lab import load_world
from rttgeo.lab.check import OVERHEAD_BOUND_MS, UNDERSHOOT_MS, compare_to_configured
from rttgeo.units import C_KM_PER_MS

WORLD = load_world(Path(__file__).resolve().parents[2] / "examples" / "worlds" / "europe.toml")


def configured(target: str, landmark: str) -> float:
    """The world file's formula, written out as notebook 3 explains it: 2 x 1.4 x distance at
    2/3 c, plus both ends' access delay (london 0.5 ms, milan 1 ms)."""
    h = {x.name: x for x in WORLD.hosts}
    km = float(distance_km(h[target].lat_deg, h[target].lon_deg, h[landmark].lat_deg,
                           h[landmark].lon_deg))
    return 2 * 1.4 * km / (0.6667 * C_KM_PER_MS) + h[target].access_ms + h[landmark].access_ms


def test_configured_rtts_are_the_world_files_formula() -> None:
    rows = compare_to_configured(WORLD, "milan", {"paris": 10.0, "london": 10.0})
    for row in rows:
        assert row.configured_ms == pytest.approx(configured("milan", row.landmark), rel=1e-12)
    assert rows[1].configured_ms - rows[0].configured_ms > 1.0  # london's 0.5 ms access shows


def test_the_check_accepts_the_engines_overhead_and_nothing_beyond_its_bound() -> None:
    want = configured("lyon", "paris")
    for excess_ms, ok in [
        (0.0, True),
        (0.03, True),  # docs/lab.md: the ICMP median excess on a loaded VM
        (OVERHEAD_BOUND_MS, True),
        (OVERHEAD_BOUND_MS + 0.001, False),  # the lab is off by more than its bound
        (5.0, False),
        (-UNDERSHOOT_MS, True),
        (-UNDERSHOOT_MS - 0.001, False),  # faster than configured: the lab removed delay
        (math.nan, False),  # never measured
    ]:
        (row,) = compare_to_configured(WORLD, "lyon", {"paris": want + excess_ms})
        assert row.ok is ok, (excess_ms, str(row))
        assert ("OUTSIDE" in str(row)) is not ok
    (tight,) = compare_to_configured(WORLD, "lyon", {"paris": want + 0.1}, bound_ms=0.05)
    assert not tight.ok and tight.excess_ms == pytest.approx(0.1)


def test_bad_arguments() -> None:
    with pytest.raises(KeyError, match="atlantis"):
        compare_to_configured(WORLD, "lyon", {"atlantis": 1.0})
    with pytest.raises(KeyError, match="atlantis"):
        compare_to_configured(WORLD, "atlantis", {"paris": 1.0})
    for bad in (-0.1, math.inf, math.nan):
        with pytest.raises(ValueError, match="bound_ms"):
            compare_to_configured(WORLD, "lyon", {"paris": 1.0}, bound_ms=bad)
