"""The estimator contract (scikit-learn's shape) and what every estimator shares.

- The constructor only stores hyper-parameters.
- ``fit(mesh)`` learns calibration from landmark-to-landmark RTTs and returns self; learned state
  ends in ``_``. Landmarks whose stated position is contradicted by physics in the mesh (several
  pairs faster than light in fibre) are excluded, with a warning naming them.
- ``locate(rtts_ms)`` takes one vector (landmarks,) or a (targets, landmarks) matrix of RTTs in ms,
  mesh order, NaN = not measured; returns one :class:`~rttgeo.models.Estimate` or a list.
  Zero, negative or infinite RTTs raise :class:`~rttgeo.errors.InputError`. A landmark whose RTT is
  faster than light given another landmark's RTT (no point on Earth satisfies both at c, even
  allowing the timing floor and the position uncertainty below) is left out, with one warning per
  landmark per call that says why. When every landmark is left out, the error says why too.
- Every method with a region keeps its point inside the speed-of-light disc of every landmark that
  answered and was kept (:meth:`Estimator.c_discs_point`); the estimate's note says when the point
  had to be moved there.

Physics slack, shared by both checks (class attributes, so a user can change them):

- ``rtt_floor_ms`` (0.05 ms): a measured RTT may understate the propagation delay by this much.
  Timestamps are taken at different layers: on loopback, docs/probers.md measures medians that
  differ by up to 12 us between probing methods for the same path.
- ``position_uncertainty_km`` (10 km): how far a landmark may really be from its stated position.
  Catalogs give city-level coordinates (WonderProxy), or coordinates rounded to 0.001 degree (RIPE
  Atlas), and a server sits in a data centre, not at the city's centre point.

A landmark's reach is then (RTT + rtt_floor_ms) x 149.9 km/ms + position_uncertainty_km. Without
this slack, landmarks on loopback (127.0.0.x) or in one lab city, whose RTTs are a few tens of
microseconds and whose positions are a few km apart, were all called "faster than light".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rttgeo.errors import EstimationError, InputError, warn
from rttgeo.estimate.delay import symmetric_rtt_ms
from rttgeo.geo.caps import nearest_point_in_discs, smallest_scale_point
from rttgeo.geo.density import CellDensity
from rttgeo.geo.feasible import HALF_CIRCUMFERENCE_KM
from rttgeo.geo.grid import CellRegion
from rttgeo.geo.sphere import distance_km, pairwise_distance_km, to_unit_vectors
from rttgeo.models import Candidate, Estimate, LandmarkDiagnostic, Mesh
from rttgeo.units import FIBRE_KM_PER_RTT_MS, MAX_KM_PER_RTT_MS

__all__ = [
    "POSITION_UNCERTAINTY_KM",
    "RTT_FLOOR_MS",
    "Estimator",
    "check_rtts",
    "greedy_outliers",
    "physics_outliers",
]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: A measured RTT may understate the propagation delay by this much, ms (module docstring).
RTT_FLOOR_MS = 0.05
#: How far a landmark may really be from its stated position, km (module docstring).
POSITION_UNCERTAINTY_KM = 10.0


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
            f"RTT {float(a2[t, j])!r} ms for landmark #{j} (target row {t}) is not a positive finite "
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
    distance_km: FloatArray,
    rtt_ms: FloatArray,
    km_per_ms: float,
    min_violations: int = 1,
    slack_km: float = 0.0,
) -> tuple[BoolArray, FloatArray]:
    """Hosts to exclude because too many of their RTTs are faster than ``km_per_ms`` allows.

    ``rtt_ms`` (N, N) symmetric (NaN = unmeasured), ``distance_km`` (N, N). A pair violates when its
    distance exceeds RTT x ``km_per_ms`` + ``slack_km``. Greedy (see :func:`greedy_outliers`);
    returns the mask of removed hosts and the violation counts at the start.
    """
    v = np.isfinite(rtt_ms) & (distance_km > rtt_ms * km_per_ms + slack_km)
    np.fill_diagonal(v, False)
    return greedy_outliers(v, min_violations), v.sum(axis=1).astype(float)


class Estimator:
    """Base of every estimator; subclasses implement ``_fit`` and ``_locate_one``."""

    name: ClassVar[str] = "base"
    #: Whether the method makes a region (False: point only, area NaN).
    has_region: ClassVar[bool] = True
    #: What the region is, and whether its coverage is calibrated (shown with every region).
    region_kind: ClassVar[str] = ""

    #: Hyper-parameters common to all: a landmark with at least this many mesh pairs faster than
    #: light in fibre is excluded at fit time (its coordinates are probably wrong).
    min_violations: int = 3
    #: Physics slack of both checks (module docstring): timing floor (ms) and position error (km).
    rtt_floor_ms: float = RTT_FLOOR_MS
    position_uncertainty_km: float = POSITION_UNCERTAINTY_KM
    #: Whether the point is kept inside every kept landmark's speed-of-light disc (methods whose
    #: point is by definition a landmark's position, Shortest Ping and GeoPing, say False).
    point_in_c_discs: ClassVar[bool] = True

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
            self.distance_km_,
            self.rtt_sym_ms_,
            FIBRE_KM_PER_RTT_MS,
            self.min_violations,
            slack_km=2.0 * self.position_uncertainty_km + self.rtt_floor_ms * FIBRE_KM_PER_RTT_MS,
        )
        self.usable_ = ~removed
        self.excluded_ = {
            mesh.ids[i]: f"{int(counts[i])} mesh RTTs faster than light in fibre for its stated "
            f"position (allowing {self.position_uncertainty_km:g} km of position error per landmark "
            f"and {self.rtt_floor_ms:g} ms of timing error): its coordinates are probably wrong"
            for i in np.flatnonzero(removed)
        }
        for lid, why in self.excluded_.items():
            warn(f"landmark {lid!r} left out: {why}")
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
        left_out: dict[int, list[str]] = {}
        out = [self._locate_row(row, left_out) for row in a]
        # One warning per landmark per call, however many targets left it out.
        for i, whys in left_out.items():
            times = "" if single else f" (for {len(whys)} of {len(a)} targets)"
            warn(f"landmark {self.mesh_.ids[i]!r} left out{times}: {whys[0]}")
        return out[0] if single else out

    def c_reach_km(self, rtt_ms: FloatArray) -> FloatArray:
        """Farthest a host can be from a landmark that answered in ``rtt_ms``, at the speed of light
        in vacuum, allowing the timing floor and the landmark's position uncertainty (km)."""
        return (np.asarray(rtt_ms) + self.rtt_floor_ms) * MAX_KM_PER_RTT_MS + (
            self.position_uncertainty_km
        )

    def light_conflicts(self, rtt_ms: FloatArray, use: BoolArray) -> dict[int, str]:
        """Landmarks among ``use`` to leave out because their RTTs contradict other landmarks' at the
        speed of light, each with the reason: {mesh index: why}.

        Two landmarks conflict when they are farther apart than the sum of their reaches
        (:meth:`c_reach_km`): no place satisfies both. The landmark in most conflicts goes first
        (every landmark sharing the largest count on a tie: nothing tells which one is wrong), until
        no conflict is left. Only landmarks whose reach is below half the circumference can
        conflict.
        """
        reach_all = self.c_reach_km(rtt_ms)
        idx = np.flatnonzero(use & (reach_all < HALF_CIRCUMFERENCE_KM))
        reach = reach_all[idx]
        dist = self.distance_km_[np.ix_(idx, idx)]
        conflict = dist > reach[:, None] + reach[None, :]
        drop = greedy_outliers(conflict, drop_ties=True)
        counts = conflict.sum(axis=1)
        out: dict[int, str] = {}
        for k in np.flatnonzero(drop):
            partners = np.flatnonzero(conflict[k])
            j = partners[np.argmax(dist[k, partners] - reach[partners])]
            i, ij = int(idx[k]), int(idx[j])
            allowed = reach[k] + reach[j]
            why = (
                f"faster than light for its stated position: its RTT {rtt_ms[i]:.3f} ms and "
                f"landmark {self.mesh_.ids[ij]!r}'s {rtt_ms[ij]:.3f} ms allow at most "
                f"{allowed:,.0f} km between the two at the speed of light (with "
                f"{self.rtt_floor_ms:g} ms of timing floor and {self.position_uncertainty_km:g} km of "
                f"position uncertainty each), but their stated positions are {dist[k, j]:,.0f} km "
                f"apart; it contradicts {int(counts[k])} landmark(s) this way, so its stated position "
                "is probably wrong"
            )
            if rtt_ms[i] < 1.0:
                why += (
                    "; an RTT under 1 ms means the host shares a city, a building or a machine "
                    "(loopback) with the landmark: give it the position where it really is"
                )
            out[i] = why
        return out

    def _locate_row(self, rtt_ms: FloatArray, left_out: dict[int, list[str]] | None = None) -> Estimate:
        measured = np.isfinite(rtt_ms)
        use = measured & self.usable_
        notes: dict[int, str] = {}
        for i in np.flatnonzero(measured & ~self.usable_):
            notes[int(i)] = "excluded at fit: " + self.excluded_.get(self.mesh_.ids[i], "")
        conflicts = self.light_conflicts(rtt_ms, use)
        for i, why in conflicts.items():
            use[i] = False
            notes[i] = "left out: " + why
            if left_out is not None:
                left_out.setdefault(i, []).append(why)
        if not use.any():
            raise EstimationError(self._nothing_usable(notes))
        usable = use.copy()
        est = self._locate_one(rtt_ms, use)  # may narrow ``use`` to what the method really used
        for i in np.flatnonzero(usable & ~use):
            notes.setdefault(int(i), "not used by this method (it keeps the lowest RTTs)")
        if self.point_in_c_discs:
            est = self.c_discs_point(est, rtt_ms, usable)
        return self._with_diagnostics(est, rtt_ms, use, notes)

    def _nothing_usable(self, notes: Mapping[int, str]) -> str:
        """Why no landmark is usable, for the error (the reasons were recorded per landmark)."""
        if not notes:
            return "no usable landmark: every RTT is missing (NaN): no landmark answered"
        ids = self.mesh_.ids
        left = [i for i, n in notes.items() if n.startswith("left out")]
        fit = [i for i, n in notes.items() if n.startswith("excluded at fit")]
        parts = [f"no usable landmark: {len(notes)} answered, and every one was left out"]
        if left:
            names = ", ".join(repr(ids[i]) for i in left[:6]) + (" ..." if len(left) > 6 else "")
            parts.append(
                f"{names} contradict each other at the speed of light (for {ids[left[0]]!r}: "
                f"{notes[left[0]].removeprefix('left out: ')})"
            )
        if fit:
            names = ", ".join(repr(ids[i]) for i in fit[:6]) + (" ..." if len(fit) > 6 else "")
            parts.append(f"{names} were excluded when fitting: {notes[fit[0]]}")
        return "; ".join(parts)

    def c_discs_point(self, est: Estimate, rtt_ms: FloatArray, kept: BoolArray) -> Estimate:
        """``est`` with its point inside the speed-of-light disc (radius RTT x 149.9 km/ms) of every
        landmark in ``kept``: the point itself if it is, else the nearest point that is (exact, see
        :mod:`rttgeo.geo.caps`). When those discs share no point (a position error within the
        allowed uncertainty), the discs widened by the physics slack (:meth:`c_reach_km`); when
        even these do not, the smallest common widening of them. The note says what was done."""
        idx = np.flatnonzero(kept)
        centres = self.unit_[idx]
        strict = rtt_ms[idx] * MAX_KM_PER_RTT_MS
        p = to_unit_vectors(est.lat_deg, est.lon_deg)
        if np.all(pairwise_distance_km(p[None, :], centres)[0] <= strict):
            return est
        how = "every kept landmark's speed-of-light disc"
        got = nearest_point_in_discs(est.lat_deg, est.lon_deg, centres, strict)
        if got is None:
            how = (
                "every kept landmark's speed-of-light disc widened by the timing floor and position "
                "uncertainty (the discs themselves share no point)"
            )
            got = nearest_point_in_discs(
                est.lat_deg, est.lon_deg, centres, self.c_reach_km(rtt_ms[idx])
            )
        if got is None:
            scale, la, lo = smallest_scale_point(
                est.lat_deg, est.lon_deg, centres, self.c_reach_km(rtt_ms[idx])
            )
            got = (la, lo)
            how = (
                f"the smallest common widening (x{scale:.3f}) of the kept landmarks' "
                "speed-of-light discs (they share no point even with the physics slack)"
            )
        moved = float(distance_km(est.lat_deg, est.lon_deg, *got))
        note = f"point moved {moved:,.1f} km into {how}"
        return replace(
            est,
            lat_deg=got[0],
            lon_deg=got[1],
            note=f"{est.note}; {note}" if est.note else note,
            params={**est.params, "moved_into_c_discs_km": moved},
            candidates=tuple(
                replace(c, distance_km=float(distance_km(c.lat_deg, c.lon_deg, *got)))
                for c in est.candidates
            ),
        )

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
        return replace(est, landmarks=diags)

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
        candidates: tuple[Candidate, ...] = (),
        low_confidence: bool = False,
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
            region_kind=self.region_kind if region is not None else "",
            candidates=candidates,
            low_confidence=low_confidence,
        )
