"""Pooled calibration used when the landmarks come without a mesh of their own RTTs.

Fitted once (and cached) on the WonderProxy 2020 mesh bundled with the package: the pooled CBG
bestline of all its physical pairs, and the pooled delay-distance model. Real measurements from a
catalog of, say, RIPE Atlas anchors then still get a calibrated model, at the price of assuming the
anchors' paths behave like WonderProxy's.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from rttgeo.errors import RttgeoWarning
from rttgeo.estimate.delay import DelayDistance, ForwardDelayDistance, fit_bestline, mesh_pairs
from rttgeo.geo.sphere import pairwise_distance_km, to_unit_vectors
from rttgeo.units import FIBRE_KM_PER_RTT_MS

if TYPE_CHECKING:
    from rttgeo.estimate.posterior import ResidualCorrelation

__all__ = [
    "default_bestline",
    "default_calibration_source",
    "default_delay_distance",
    "default_forward_delay_distance",
    "default_residual_correlation",
    "default_residual_tail",
]


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


@lru_cache(maxsize=1)
def default_forward_delay_distance() -> ForwardDelayDistance:
    """Pooled p(RTT | distance) model of the bundled mesh."""
    r, d = _bundled_pairs()
    return ForwardDelayDistance.fit(r, d)


@lru_cache(maxsize=2)
def default_residual_correlation(delay_model: str = "inverse") -> ResidualCorrelation:
    """Residual variance and correlation of the pooled ``delay_model`` on the bundled mesh, for
    estimators fitted on landmarks without enough RTTs between them (see
    :mod:`rttgeo.estimate.posterior`)."""
    from rttgeo.datasets import load_wonderproxy
    from rttgeo.estimate.posterior import PopulationPosterior

    est = PopulationPosterior(per_landmark=False, delay_model=delay_model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RttgeoWarning)
        est.fit(load_wonderproxy(bundled=True))
    return est.correlation_


@lru_cache(maxsize=2)
def default_residual_tail(delay_model: str = "forward") -> np.ndarray:
    """Sorted standardised residuals of the pooled ``delay_model`` on the bundled mesh, for the
    far landmarks' term of estimators fitted without enough landmark-to-landmark RTTs."""
    from rttgeo.datasets import load_wonderproxy
    from rttgeo.estimate.posterior import PopulationPosterior

    est = PopulationPosterior(per_landmark=False, delay_model=delay_model, far_landmarks=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RttgeoWarning)
        est.fit(load_wonderproxy(bundled=True))
    return est.residual_tail_


@lru_cache(maxsize=1)
def default_calibration_source() -> str:
    """What estimators fitted without landmark-to-landmark RTTs are calibrated on, with the
    fingerprint of the data (for the provenance of every estimate)."""
    from rttgeo.datasets import load_wonderproxy

    sha = load_wonderproxy(bundled=True).sha256
    return f"pooled: the bundled WonderProxy 2020 mesh (sha256 {sha}; no landmark-to-landmark RTTs given)"
