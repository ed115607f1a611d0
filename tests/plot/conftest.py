from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from synth import EUROPE, PACIFIC, synthetic_estimate

from rttgeo.models import Estimate


@pytest.fixture(scope="session")
def europe() -> Estimate:
    """A CBG-like estimate of a host at (47 N, 4 E) from 9 landmarks (Tokyo not used)."""
    return synthetic_estimate(47.0, 4.0, EUROPE, unused=("tokyo",))


@pytest.fixture(scope="session")
def pacific() -> Estimate:
    """A region straddling the antimeridian around Fiji, truth at (17.5 S, 179 W)."""
    return synthetic_estimate(-17.5, -179.0, PACIFIC)
