"""The delay-to-distance calibration of a mesh as curves to draw: what `rttgeo eval --plot-model`
shows over the mesh's RTT-distance pairs.

Fitted through the estimators' contract, on the whole mesh, as the estimators fit it (landmarks
with wrong coordinates left out by the same physics check):

- CBG bestlines (:class:`~rttgeo.estimate.delay.Bestline`, Gueye et al. 2006): each landmark's line
  under its (distance, RTT) points, and the pooled line of all physical pairs;
- the pooled delay-distance model (:class:`~rttgeo.estimate.delay.DelayDistance`, used by
  ``spotter`` and, adjusted per landmark, by ``rttgeo`` with ``delay_model="inverse"``): for each
  RTT, the median distance and the central 50 % and 90 % intervals of log(1 + d / D0) ~ N(mu,
  sigma), mapped back to km;
- the pooled forward model (:class:`~rttgeo.estimate.delay.ForwardDelayDistance`, ``rttgeo``'s by
  default, adjusted per landmark): for each distance, the median RTT.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from rttgeo.errors import RttgeoWarning
from rttgeo.estimate.delay import Bestline, DelayDistance, ForwardDelayDistance, fit_bestline
from rttgeo.models import Mesh
from rttgeo.units import FIBRE_KM_PER_RTT_MS

__all__ = ["CalibrationCurves", "calibration_curves"]

FloatArray = NDArray[np.float64]

#: Normal quantiles of the central 50 % and 90 % intervals.
_Z = {0.5: 0.6744897501960817, 0.9: 1.6448536269514722}


@dataclass(frozen=True, slots=True, eq=False)
class CalibrationCurves:
    """``rtt_ms`` (K,) grid; ``median_km`` (K,) the model's median distance at each RTT;
    ``intervals_km[p]`` = (low, high) (K,) arrays of its central p interval (p = 0.5, 0.9);
    ``pooled_bestline`` = (slope ms/km, intercept ms); ``landmark_bestlines`` (N, 2) per usable
    landmark; ``excluded``: ids left out by the physics check; ``forward_km`` (K,) distance grid
    and ``forward_median_ms`` (K,) the forward model's median RTT at each distance."""

    rtt_ms: FloatArray
    median_km: FloatArray
    intervals_km: dict[float, tuple[FloatArray, FloatArray]]
    pooled_bestline: tuple[float, float]
    landmark_bestlines: FloatArray
    excluded: tuple[str, ...]
    forward_km: FloatArray
    forward_median_ms: FloatArray


def calibration_curves(mesh: Mesh, *, n: int = 200) -> CalibrationCurves:
    """Fit the CBG bestlines, the pooled delay-distance model and the pooled forward model on
    ``mesh`` (as ``cbg-bestline``, ``spotter`` and ``rttgeo`` without its per-landmark offsets fit
    them) and evaluate them on ``n`` RTTs, and ``n`` distances, spread log-uniformly over the
    mesh's."""
    from rttgeo.estimate import make_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RttgeoWarning)
        cbg = make_estimator("cbg-bestline").fit(mesh)
        spotter = make_estimator("spotter").fit(mesh)
        rttgeo = make_estimator(
            "rttgeo", delay_model="forward", per_landmark=False, far_landmarks=False
        ).fit(mesh)
    lines: Bestline = cbg.model_  # type: ignore[attr-defined]
    model = spotter.model_  # type: ignore[attr-defined]
    if not isinstance(model, DelayDistance):  # pragma: no cover - spotter fits the pooled model
        raise TypeError(f"expected a pooled DelayDistance, got {type(model).__name__}")
    forward = rttgeo.model_  # type: ignore[attr-defined]
    if not isinstance(forward, ForwardDelayDistance):  # pragma: no cover - as asked above
        raise TypeError(f"expected a ForwardDelayDistance, got {type(forward).__name__}")
    usable = cbg.usable_
    r = cbg.rtt_sym_ms_
    d = cbg.distance_km_
    iu = np.triu_indices(len(mesh), 1)
    ok = np.isfinite(r[iu]) & usable[iu[0]] & usable[iu[1]] & (r[iu] * FIBRE_KM_PER_RTT_MS >= d[iu])
    pooled = fit_bestline(d[iu][ok], r[iu][ok])
    finite = r[np.isfinite(r) & (r > 0)]
    lo, hi = (float(np.percentile(finite, 0.5)), float(finite.max())) if finite.size else (1.0, 300.0)
    grid = np.geomspace(max(lo, 0.05), hi, n)
    mu, sigma = model.params(grid)

    def km(z: float) -> FloatArray:
        return model.D0_KM * np.expm1(mu + z * sigma)

    intervals = {p: (np.maximum(km(-z), 0.0), km(z)) for p, z in _Z.items()}
    dist = d[np.isfinite(d) & (d > 0) & np.isfinite(r)]
    d_lo, d_hi = (float(np.percentile(dist, 0.5)), float(dist.max())) if dist.size else (10.0, 2e4)
    d_grid = np.geomspace(max(d_lo, 1.0), d_hi, n)
    slopes = np.column_stack([lines.slope_ms_per_km, lines.intercept_ms])[usable]
    return CalibrationCurves(
        rtt_ms=grid,
        median_km=km(0.0),
        intervals_km=intervals,
        pooled_bestline=(float(pooled[0]), float(pooled[1])),
        landmark_bestlines=slopes[np.all(np.isfinite(slopes), axis=1)],
        excluded=tuple(cbg.excluded_),
        forward_km=d_grid,
        forward_median_ms=forward.rtt_quantile_ms(d_grid),
    )
