"""Pooled calibration used when the landmarks come without a mesh of their own RTTs.

Fitted once (and cached) on the WonderProxy 2020 mesh bundled with the package: the pooled CBG
bestline of all its physical pairs, and the pooled delay-distance model. Real measurements from a
catalog of, say, RIPE Atlas anchors then still get a calibrated model, at the price of assuming the
anchors' paths behave like WonderProxy's.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from rttgeo.estimate.delay import DelayDistance, fit_bestline, mesh_pairs
from rttgeo.geo.sphere import pairwise_distance_km, to_unit_vectors
from rttgeo.units import FIBRE_KM_PER_RTT_MS

__all__ = ["default_bestline", "default_delay_distance"]


@lru_cache(maxsize=1)
def _bundled_pairs() -> tuple[np.ndarray, np.ndarray]:
    from rttgeo.datasets import load_wonderproxy

    mesh = load_wonderproxy(bundled=True)
    u = to_unit_vectors(mesh.lat_deg, mesh.lon_deg)
    r, d = mesh_pairs(mesh, pairwise_distance_km(u, u), ~mesh.bad)
    physical = r * FIBRE_KM_PER_RTT_MS >= d
    return r[physical], d[physical]


@lru_cache(maxsize=1)
def default_bestline() -> tuple[float, float]:
    """(slope ms/km, intercept ms) of the pooled bestline of the bundled mesh."""
    r, d = _bundled_pairs()
    return fit_bestline(d, r)


@lru_cache(maxsize=1)
def default_delay_distance() -> DelayDistance:
    """Pooled delay-distance model of the bundled mesh."""
    r, d = _bundled_pairs()
    return DelayDistance.fit(r, d)
