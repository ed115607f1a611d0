"""The estimator contract (scikit-learn's shape) and what every estimator shares.

- The constructor only stores hyper-parameters.
- ``fit(mesh)`` learns calibration from landmark-to-landmark RTTs and returns self; learned state
  ends in ``_``. Landmarks whose stated position is contradicted by physics in the mesh (several
  pairs faster than light in fibre) are excluded, with a warning naming them.
- ``locate(rtts_ms)`` takes one vector (landmarks,) or a (targets, landmarks) matrix of RTTs in ms,
  mesh order, NaN = not measured; returns one :class:`~rttgeo.models.Estimate` or a list.
  Zero, negative or infinite RTTs raise :class:`~rttgeo.errors.InputError`. A landmark whose RTT is
  faster than light given another landmark's RTT (no point on Earth satisfies both at c) is left
  out with a warning naming it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rttgeo.errors import EstimationError, InputError, RttgeoWarning
from rttgeo.estimate.delay import symmetric_rtt_ms
from rttgeo.geo.density import CellDensity
from rttgeo.geo.feasible import HALF_CIRCUMFERENCE_KM
from rttgeo.geo.grid import CellRegion
from rttgeo.geo.sphere import pairwise_distance_km, to_unit_vectors
from rttgeo.models import Estimate, LandmarkDiagnostic, Mesh
from rttgeo.units import FIBRE_KM_PER_RTT_MS, MAX_KM_PER_RTT_MS

__all__ = ["Estimator", "check_rtts", "greedy_outliers", "physics_outliers"]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def check_rtts(rtts_ms: ArrayLike, n_landmarks: int) -> FloatArray:
    """RTTs as a float (targets, landmarks) array; raises InputError on zero, negative or inf."""
    a = np.asarray(rtts_ms, dtype=float)
    if a.ndim not in (1, 2) or a.shape[-1] != n_landmarks:
        raise InputError(
            f"RTTs must have shape ({n_landmarks},) or (targets, {n_landmarks}) in the order of "
            f"the fitted landmarks; got shape {a.shape}"
        )
    a2 = np.atleast_2d(a)
    bad = ~np.isnan(a2) & ~((a2 > 0) & np.isfinite(a2))
    if bad.any():
        t, j = np.argwhere(bad)[0]
        raise InputError(
            f"RTT {a2[t, j]!r} ms for landmark #{j} (target row {t}) is not a positive finite "
            "number: a lost probe is NaN, never 0 or negative",
            field="rtt_ms",
        )
    return a2


def greedy_outliers(violations: BoolArray, min_count: int = 1, drop_ties: bool = False) -> BoolArray:
    """Hosts to remove, greedily, until no pair in ``violations`` (N, N) remains.

    The host in the most violating pairs goes first while it has at least ``min_count``; with
    ``drop_ties`` every host sharing that largest count goes at once (a tie leaves no way to tell
    which one is wrong).
    """
    v = violations.copy()
    np.fill_diagonal(v, False)
    removed = np.zeros(len(v), dtype=bool)
    while len(v):
        counts = v.sum(axis=1)
        top = int(counts.max())
        if top == 0 or top < min_count:
            break
        worst = np.flatnonzero(counts == top) if drop_ties else [int(np.argmax(counts))]
        removed[worst] = True
        v[worst, :] = False
        v[:, worst] = False
    return removed


def physics_outliers(
    distance_km: FloatArray, rtt_ms: FloatArray, km_per_ms: float, min_violations: int = 1
) -> tuple[BoolArray, FloatArray]:
    """Hosts to exclude because too many of their RTTs are faster than ``km_per_ms`` allows.

    ``rtt_ms`` (N, N) symmetric (NaN = unmeasured), ``distance_km`` (N, N). Greedy (see
    :func:`greedy_outliers`); returns the mask of removed hosts and the violation counts at the start.
    """
    v = np.isfinite(rtt_ms) & (distance_km > rtt_ms * km_per_ms)
    np.fill_diagonal(v, False)
    return greedy_outliers(v, min_violations), v.sum(axis=1).astype(float)


class Estimator:
    """Base of every estimator; subclasses implement ``_fit`` and ``_locate_one``."""

    name: ClassVar[str] = "base"
    #: Whether the method makes a region (False: point only, area NaN).
    has_region: ClassVar[bool] = True

    #: Hyper-parameters common to all: a landmark with at least this many mesh pairs faster than
    #: light in fibre is excluded at fit time (its coordinates are probably wrong).
    min_violations: int = 3

    # learned state
    mesh_: Mesh
    unit_: FloatArray
    distance_km_: FloatArray
    rtt_sym_ms_: FloatArray
    usable_: BoolArray
    excluded_: dict[str, str]

    def get_params(self) -> dict[str, Any]:
        """Hyper-parameters as given to the constructor."""
        return {k: v for k, v in vars(self).items() if not k.endswith("_") and not k.startswith("_")}

    def fit(self, mesh: Mesh) -> Self:
        """Learn calibration from ``mesh`` (the landmarks, with their pairwise RTTs if measured)."""
        if len(mesh) == 0:
            raise EstimationError("cannot fit on an empty set of landmarks")
        self.mesh_ = mesh
        self.unit_ = to_unit_vectors(mesh.lat_deg, mesh.lon_deg)
        self.distance_km_ = pairwise_distance_km(self.unit_, self.unit_)
        self.rtt_sym_ms_ = symmetric_rtt_ms(mesh.rtt_ms)
        removed, counts = physics_outliers(
            self.distance_km_, self.rtt_sym_ms_, FIBRE_KM_PER_RTT_MS, self.min_violations
        )
        self.usable_ = ~removed
        self.excluded_ = {
            mesh.ids[i]: f"{int(counts[i])} mesh RTTs faster than light in fibre for its stated "
            "position: its coordinates are probably wrong"
            for i in np.flatnonzero(removed)
        }
        for lid, why in self.excluded_.items():
            warnings.warn(f"landmark {lid!r} left out: {why}", RttgeoWarning, stacklevel=2)
        self._fit()
        return self

    def _fit(self) -> None:
        """Subclass calibration; ``mesh_``, ``unit_``, ``distance_km_``, ``usable_`` are set."""

    def locate(self, rtts_ms: ArrayLike) -> Estimate | list[Estimate]:
        """Estimate each target's position from its RTTs (see the module docstring)."""
        if not hasattr(self, "mesh_"):
            raise EstimationError(f"{type(self).__name__} is not fitted: call fit(mesh) first")
        single = np.ndim(rtts_ms) == 1
        a = check_rtts(rtts_ms, len(self.mesh_))
        out = [self._locate_row(row) for row in a]
        return out[0] if single else out

    def _locate_row(self, rtt_ms: FloatArray) -> Estimate:
        measured = np.isfinite(rtt_ms)
        use = measured & self.usable_
        notes: dict[int, str] = {}
        for i in np.flatnonzero(measured & ~self.usable_):
            notes[int(i)] = "excluded at fit: " + self.excluded_.get(self.mesh_.ids[i], "")
        # Pairs of landmarks that no point can satisfy at the speed of light in vacuum; only
        # landmarks whose radius at c is below half the circumference can be in such a pair.
        idx = np.flatnonzero(use & (rtt_ms * MAX_KM_PER_RTT_MS < HALF_CIRCUMFERENCE_KM))
        reach = (rtt_ms[idx, None] + rtt_ms[None, idx]) * MAX_KM_PER_RTT_MS
        drop = greedy_outliers(self.distance_km_[np.ix_(idx, idx)] > reach, drop_ties=True)
        for i in idx[drop].tolist():
            use[i] = False
            notes[i] = (
                "left out: its RTT is faster than light for its stated position given other "
                "landmarks' RTTs (its coordinates are probably wrong)"
            )
            warnings.warn(
                f"landmark {self.mesh_.ids[i]!r} left out: RTT {rtt_ms[i]:.3f} ms is faster "
                "than light for its stated position (coordinates probably wrong)",
                RttgeoWarning,
                stacklevel=4,
            )
        if not use.any():
            raise EstimationError(
                "no usable landmark: every RTT is missing (NaN) or its landmark was left out"
            )
        usable = use.copy()
        est = self._locate_one(rtt_ms, use)  # may narrow ``use`` to what the method really used
        for i in np.flatnonzero(usable & ~use):
            notes.setdefault(int(i), "not used by this method (it keeps the lowest RTTs)")
        return self._with_diagnostics(est, rtt_ms, use, notes)

    def _locate_one(self, rtt_ms: FloatArray, use: BoolArray) -> Estimate:
        """Estimate from the landmarks where ``use`` is true; may clear entries it did not use."""
        raise NotImplementedError

    def max_distance_km(self, rtt_ms: FloatArray, idx: NDArray[np.int64]) -> FloatArray:
        """Radius each landmark's RTT allows under the method (NaN if none): diagnostics only."""
        return np.full(len(idx), np.nan)

    def _with_diagnostics(
        self, est: Estimate, rtt_ms: FloatArray, use: BoolArray, notes: Mapping[int, str]
    ) -> Estimate:
        idx = np.flatnonzero(np.isfinite(rtt_ms))
        p = to_unit_vectors(est.lat_deg, est.lon_deg)
        dist = pairwise_distance_km(p[None, :], self.unit_[idx])[0]
        radius = self.max_distance_km(rtt_ms[idx], idx)
        ids = self.mesh_.ids
        cols = zip(
            idx.tolist(),
            self.mesh_.lat_deg[idx].tolist(),
            self.mesh_.lon_deg[idx].tolist(),
            rtt_ms[idx].tolist(),
            radius.tolist(),
            dist.tolist(),
            use[idx].tolist(),
            strict=True,
        )
        diags = tuple(
            LandmarkDiagnostic(
                id=ids[i],
                lat_deg=la,
                lon_deg=lo,
                rtt_ms=r,
                max_distance_km=mx,
                distance_km=d,
                slack_km=mx - d,
                used=u,
                note=notes.get(i, ""),
            )
            for i, la, lo, r, mx, d, u in cols
        )
        return Estimate(
            lat_deg=est.lat_deg,
            lon_deg=est.lon_deg,
            method=est.method,
            params=est.params,
            region=est.region,
            area_km2=est.area_km2,
            level=est.level,
            consistent=est.consistent,
            note=est.note,
            landmarks=diags,
            posterior=est.posterior,
        )

    def _estimate(
        self,
        lat_deg: float,
        lon_deg: float,
        *,
        region: CellRegion | None = None,
        level: float | None = None,
        consistent: bool = True,
        note: str = "",
        method: str | None = None,
        posterior: CellDensity | None = None,
        **extra_params: Any,
    ) -> Estimate:
        params = {**self.get_params(), **extra_params}
        return Estimate(
            lat_deg=float(lat_deg),
            lon_deg=float(lon_deg),
            method=method or self.name,
            params=params,
            region=region,
            area_km2=region.area_km2 if region is not None else math.nan,
            level=level,
            consistent=consistent,
            note=note,
            posterior=posterior,
        )
