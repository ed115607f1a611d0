"""The estimators: Shortest Ping, GeoPing, CBG (fixed speed and bestline), Spotter-like, and
rttgeo's own (:class:`PopulationPosterior`).

All follow the contract of :mod:`rttgeo.estimate.base`. Regions live on the equal-area grid at
``end_level`` (default 4: cells of about 20 km; region boundaries resolved to one cell).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from rttgeo.errors import EstimationError
from rttgeo.estimate.base import Estimator
from rttgeo.estimate.defaults import default_bestline, default_delay_distance
from rttgeo.estimate.delay import (
    Bestline,
    DelayDistance,
    LandmarkDelayDistance,
    SpeedOfLight,
    mesh_pairs,
)
from rttgeo.geo.caps import nearest_point_in_discs
from rttgeo.geo.density import CellDensity
from rttgeo.geo.feasible import HALF_CIRCUMFERENCE_KM, disc_intersection, smallest_common_scale
from rttgeo.geo.grid import (
    CellRegion,
    cell_area_km2,
    cell_index,
    cell_unit_vectors,
    children,
    circumradius_km,
    global_cells,
    level_shape,
)
from rttgeo.geo.sphere import from_unit_vectors, to_unit_vectors
from rttgeo.models import Estimate
from rttgeo.units import EARTH_RADIUS_KM, MAX_KM_PER_RTT_MS

__all__ = [
    "CBG",
    "GeoPing",
    "PopulationPosterior",
    "ShortestPing",
    "Spotter",
    "hpd_region",
    "point_in_region",
]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]


def point_in_region(region: CellRegion, lat_deg: float, lon_deg: float) -> tuple[float, float]:
    """(lat, lon) itself if inside ``region``, else the centre of the region's nearest cell."""
    if region.empty or bool(region.contains(lat_deg, lon_deg)):
        return lat_deg, lon_deg
    u = region.unit_vectors()
    k = int(np.argmax(u @ to_unit_vectors(lat_deg, lon_deg)))
    lat, lon = from_unit_vectors(u[k])
    return float(lat), float(lon)


def hpd_region(
    level: int, rows: IntArray, cols: IntArray, log_density: FloatArray, p: float
) -> tuple[CellRegion, FloatArray]:
    """Highest-posterior region holding probability ``p`` of equal-area cells, and normalised masses."""
    w = np.exp(log_density - np.max(log_density))
    w /= w.sum()
    order = np.argsort(-w)
    cum = np.cumsum(w[order])
    k = int(np.searchsorted(cum, p) + 1)
    sel = order[: min(k, len(order))]
    return CellRegion.from_cells(level, rows[sel], cols[sel]), w


class ShortestPing(Estimator):
    """The landmark with the smallest RTT is where the host is (Hu et al. IMC 2012). No region."""

    name = "shortest-ping"
    has_region = False
    point_in_c_discs = False  # the point is a landmark's position, by definition

    def _locate_one(self, rtt_ms: FloatArray, use: BoolArray) -> Estimate:
        idx = np.flatnonzero(use)
        j = int(idx[np.argmin(rtt_ms[idx])])
        return self._estimate(
            self.mesh_.lat_deg[j], self.mesh_.lon_deg[j], nearest_landmark=self.mesh_.ids[j]
        )


class GeoPing(Estimator):
    """Nearest neighbour in delay space (Padmanabhan & Subramanian 2001), against the fitted mesh.

    The host's RTT vector is compared with each landmark's RTT vector to the other landmarks by the
    root-mean-square difference over landmarks measured by both; the closest landmark's position is
    the estimate. Needs a mesh with inter-landmark RTTs. No region.
    """

    name = "geoping"
    has_region = False
    point_in_c_discs = False  # the point is a landmark's position, by definition

    def __init__(self, min_common: int = 5) -> None:
        self.min_common = min_common

    def _fit(self) -> None:
        if np.isfinite(self.rtt_sym_ms_).sum() == 0:
            raise EstimationError("GeoPing needs a mesh with landmark-to-landmark RTTs")

    def _locate_one(self, rtt_ms: FloatArray, use: BoolArray) -> Estimate:
        idx = np.flatnonzero(use)
        vec = self.rtt_sym_ms_[np.ix_(self.usable_, idx)]
        cand = np.flatnonzero(self.usable_)
        diff = vec - rtt_ms[idx][None, :]  # NaN where the landmark pair was not measured
        common = np.isfinite(diff).sum(axis=1)
        rms = np.sqrt(np.nansum(diff**2, axis=1) / np.maximum(common, 1))
        rms[common < self.min_common] = np.inf
        if not np.isfinite(rms).any():
            raise EstimationError(
                f"GeoPing: no landmark shares {self.min_common} measured landmarks with the host"
            )
        j = int(cand[np.argmin(rms)])
        return self._estimate(
            self.mesh_.lat_deg[j], self.mesh_.lon_deg[j], nearest_landmark=self.mesh_.ids[j]
        )


class CBG(Estimator):
    """Constraint-Based Geolocation (Gueye et al. 2006): intersect one disc per landmark.

    ``model="speed"``: radius = RTT x c/2 x ``fraction_of_c``; ``model="bestline"``: each landmark's
    CBG bestline fitted on the mesh. The point estimate is the centroid of the region (moved to the
    region's nearest cell if the centroid falls outside). When the discs have no common point the
    radii are all widened by the smallest common factor that gives one, and the estimate says so.
    """

    name = "cbg"

    def __init__(
        self,
        model: str = "speed",
        fraction_of_c: float = 2.0 / 3.0,
        end_level: int = 4,
        max_cells: int = 20000,
    ) -> None:
        self.model = model
        self.fraction_of_c = fraction_of_c
        self.end_level = end_level
        self.max_cells = max_cells

    def _fit(self) -> None:
        if self.model == "speed":
            self.model_: SpeedOfLight | Bestline = SpeedOfLight(self.fraction_of_c)
        elif self.model == "bestline":
            self.model_ = Bestline.fit(
                self.rtt_sym_ms_, self.distance_km_, self.usable_, pooled=default_bestline()
            )
        else:
            raise ValueError(f"CBG model must be 'speed' or 'bestline', not {self.model!r}")

    @property
    def method_name(self) -> str:
        return "cbg-bestline" if self.model == "bestline" else "cbg"

    def max_distance_km(self, rtt_ms: FloatArray, idx: IntArray) -> FloatArray:
        return self.model_.max_distance_km(rtt_ms, idx)

    def _locate_one(self, rtt_ms: FloatArray, use: BoolArray) -> Estimate:
        idx = np.flatnonzero(use)
        radius = self.max_distance_km(rtt_ms[idx], idx)
        centres = self.unit_[idx]
        region = disc_intersection(centres, radius, self.end_level, max_cells=self.max_cells)
        consistent, note, scale = True, "", 1.0
        exact: tuple[float, float] | None = None
        if region.empty:
            # No cell centre lies in every disc; the discs may still share a point smaller than a
            # cell (sub-millisecond RTTs): decide that exactly before calling them inconsistent.
            j = int(np.argmin(radius))
            exact = nearest_point_in_discs(
                float(self.mesh_.lat_deg[idx[j]]), float(self.mesh_.lon_deg[idx[j]]), centres, radius
            )
        if region.empty and exact is not None:
            row = np.atleast_1d(cell_index(self.end_level, *exact)[0])
            pad = float(circumradius_km(self.end_level, row)[0])
            region = disc_intersection(centres, radius + pad, self.end_level, max_cells=self.max_cells)
            note = (
                f"the feasible region (the smallest disc has a radius of {radius.min():,.1f} km) is "
                f"smaller than the grid's cells: the region shows the {len(region)} cells of about "
                f"{2 * pad:,.0f} km that touch it, and the point is inside every disc"
            )
            return self._estimate(
                exact[0], exact[1], region=region, note=note, method=self.method_name,
                radius_scale=1.0,
            )
        if region.empty:
            scale, region = smallest_common_scale(
                centres, radius, self.end_level, max_cells=self.max_cells
            )
            consistent = False
            note = (
                f"the {len(idx)} constraints have no common point; every radius was widened by "
                f"x{scale:.3f}, the smallest factor that gives one"
            )
        lat, lon = point_in_region(region, *region.centroid())
        return self._estimate(
            lat,
            lon,
            region=region,
            consistent=consistent,
            note=note,
            method=self.method_name,
            radius_scale=scale,
        )


class Spotter(Estimator):
    """Probabilistic estimator in the spirit of Spotter (Laki et al. 2011).

    Posterior over cells proportional to the product over landmarks of the pooled delay-distance
    likelihood (:class:`~rttgeo.estimate.delay.DelayDistance`) raised to ``1 / temperature``, zero
    outside the speed-of-light (vacuum) discs. Only the ``max_landmarks`` lowest RTTs enter the
    likelihood (far landmarks add bias more than information). The region at ``level`` is the
    highest-posterior region holding that probability; the point is the posterior's mode.
    Coarse-to-fine: at each level cells whose log-posterior is more than ``prune_nats`` below the best
    are dropped (their mass is ignored, at most ~exp(-prune_nats) per dropped cell).
    """

    name = "spotter"

    #: Refinement stops one level early when the last level would hold more cells than this.
    MAX_CELLS = 20000

    UNCAPPED = (
        "no point lies within every used landmark's speed-of-light radius; the radii were dropped "
        "and only the soft delay-distance likelihood was used"
    )

    def __init__(
        self,
        level: float = 0.9,
        temperature: float = 1.0,
        end_level: int = 4,
        prune_nats: float = 15.0,
        max_landmarks: int = 30,
    ) -> None:
        self.level = level
        self.temperature = temperature
        self.end_level = end_level
        self.prune_nats = prune_nats
        self.max_landmarks = max_landmarks

    def _fit(self) -> None:
        r, d = mesh_pairs(self.mesh_, self.distance_km_, self.usable_)
        self.model_: DelayDistance | LandmarkDelayDistance = (
            DelayDistance.fit(r, d) if len(r) >= 50 else default_delay_distance()
        )

    def max_distance_km(self, rtt_ms: FloatArray, idx: IntArray) -> FloatArray:
        return np.asarray(rtt_ms) * MAX_KM_PER_RTT_MS

    def _search_temperature(self) -> float:
        """Temperature of the likelihood used to search and weigh cells."""
        return self.temperature

    def _posterior(
        self, rtt_ms: FloatArray, idx: IntArray
    ) -> tuple[int, IntArray, IntArray, FloatArray, bool]:
        """:meth:`posterior_cells` with the speed-of-light cut, or without it when nothing is left
        (the last item says whether the cut held)."""
        try:
            return (*self.posterior_cells(rtt_ms, idx, cap=True), True)
        except EstimationError:
            return (*self.posterior_cells(rtt_ms, idx, cap=False), False)

    def _nearest(self, rtt_ms: FloatArray, use: BoolArray) -> IntArray:
        """The ``max_landmarks`` lowest RTTs: they carry nearly all the information (Hu et al.
        2012). The others are marked unused in ``use`` so that the diagnostics say so."""
        idx = np.flatnonzero(use)
        keep = idx[np.argsort(rtt_ms[idx], kind="stable")[: self.max_landmarks]]
        use[np.setdiff1d(idx, keep)] = False
        return keep

    def log_likelihood(
        self,
        u: FloatArray,
        rtt_ms: FloatArray,
        idx: IntArray,
        cap: bool = True,
        pad_km: FloatArray | None = None,
    ) -> FloatArray:
        """Log-posterior (unnormalised) of points ``u`` (M, 3) from the landmarks ``idx``.

        ``cap``: zero density beyond each speed-of-light radius; for cells of circumradius
        ``pad_km`` (M,), zero only when no point of the cell is within it (a disc smaller than a
        cell still leaves the cells it touches).
        """
        dist = EARTH_RADIUS_KM * np.arccos(np.clip(u @ self.unit_[idx].T, -1.0, 1.0))
        pad = 0.0 if pad_km is None else np.asarray(pad_km)[:, None]
        ll = self.model_.log_likelihood(dist, rtt_ms[idx], cap, idx, pad)
        return ll.sum(axis=1) / self._search_temperature()

    def _locate_one(self, rtt_ms: FloatArray, use: BoolArray) -> Estimate:
        idx = self._nearest(rtt_ms, use)
        level, rows, cols, logp, cap = self._posterior(rtt_ms, idx)
        consistent, note = cap, "" if cap else self.UNCAPPED
        region, w = hpd_region(level, rows, cols, logp, self.level)
        k = int(np.argmax(w))
        lat, lon = from_unit_vectors(cell_unit_vectors(level, rows[k : k + 1], cols[k : k + 1])[0])
        return self._estimate(
            float(lat), float(lon), region=region, level=self.level, consistent=consistent, note=note,
            posterior=CellDensity(level, rows, cols, w),
        )

    def posterior_cells(
        self, rtt_ms: FloatArray, idx: IntArray, cap: bool = True
    ) -> tuple[int, IntArray, IntArray, FloatArray]:
        """(level, rows, cols, log-posterior) of the cells kept at ``end_level``."""
        rows, cols = global_cells(0)
        for level in range(0, self.end_level + 1):
            if level > 0:
                rows, cols = children(rows, cols)
            u = cell_unit_vectors(level, rows, cols)
            if level == self.end_level:
                exact = self.log_likelihood(u, rtt_ms, idx, cap, circumradius_km(level, rows))
                keep = np.isfinite(exact)
                if not keep.any():
                    raise EstimationError("the RTTs leave no location with non-zero probability")
                keep &= exact >= np.max(exact[keep]) - self.prune_nats
                return level, rows[keep], cols[keep], exact[keep]
            # Branch and bound: a cell whose upper bound is far below a value actually reached at
            # some cell centre cannot hold the mode nor noticeable mass. The centres with the best
            # upper bounds give that value cheaply (any exact value is a lower bound of the max).
            upper = self._soft_log_likelihood(u, rtt_ms, idx, circumradius_km(level, rows), cap)
            if not np.isfinite(upper).any():
                raise EstimationError("the RTTs leave no location with non-zero probability")
            top = np.argsort(upper)[-64:]
            exact = self.log_likelihood(u[top], rtt_ms, idx, cap)
            best = np.max(exact) if np.isfinite(exact).any() else np.max(upper) - self.prune_nats
            keep = np.isfinite(upper) & (upper >= best - self.prune_nats)
            if 4 * keep.sum() > self.MAX_CELLS and level >= self.end_level - 1:
                # A broad posterior does not need finer cells: stop one level early.
                exact = self.log_likelihood(
                    u[keep], rtt_ms, idx, cap, circumradius_km(level, rows[keep])
                )
                ok = np.isfinite(exact) & (exact >= np.max(exact) - self.prune_nats)
                if ok.any():
                    return level, rows[keep][ok], cols[keep][ok], exact[ok]
            rows, cols = rows[keep], cols[keep]
        raise AssertionError("unreachable")

    def _soft_log_likelihood(
        self, u: FloatArray, rtt_ms: FloatArray, idx: IntArray, pad_km: FloatArray, cap: bool
    ) -> FloatArray:
        """Upper bound of the log-likelihood over each cell (distances may shift by the pad).

        Computed in float32 (about 1e-6 relative): the bound only decides which cells to refine,
        with a margin of ``prune_nats``.
        """
        f4 = np.float32
        dot = u.astype(f4) @ self.unit_[idx].T.astype(f4)
        dist = f4(EARTH_RADIUS_KM) * np.arccos(np.clip(dot, -1.0, 1.0))
        mu, sigma = (a.astype(f4) for a in self.model_.params(rtt_ms[idx], idx))
        d0 = f4(self.model_.D0_KM)
        pad = pad_km.astype(f4)[:, None]
        near = np.clip(dist - pad, 1.0, HALF_CIRCUMFERENCE_KM)
        far = np.clip(dist + pad, 1.0, HALF_CIRCUMFERENCE_KM - 1.0)
        # The best distance reachable inside the cell: the target distance clipped to [near, far].
        best = np.clip(d0 * np.expm1(mu)[None, :], near, far)
        # Within the cell the Jacobian terms vary too: -log(D0 + d) is largest at the nearest
        # distance, and -log(sin(d / R)) at whichever end of the range has the smaller sine (sin is
        # concave on [0, pi], so its minimum over an interval is at an end).
        r_inv = f4(1.0 / EARTH_RADIUS_KM)
        sin_min = np.minimum(np.sin(near * r_inv), np.sin(far * r_inv))
        z = (np.log1p(best / d0) - mu) / sigma
        ll = -0.5 * z * z - np.log(sigma) - np.log((d0 + near) * np.maximum(sin_min, f4(1e-12)))
        if cap:
            ll = np.where(near <= (rtt_ms[idx] * MAX_KM_PER_RTT_MS).astype(f4), ll, -np.inf)
        return ll.sum(axis=1, dtype=np.float64) / self._search_temperature()


class PopulationPosterior(Spotter):
    """rttgeo's own estimator: a delay-distance posterior over a population prior.

    - Prior (hosts sit where people are): point masses at every GeoNames city of at least 15,000
      inhabitants weighted ``population ** alpha``, plus a uniform background of weight
      ``background`` per end-level cell (level 3: about 1,560 km^2, 40 km), so that hosts outside
      cities keep a chance.
    - Likelihood (Spotter-like, and Hu et al.'s "the nearest landmarks matter most"): the
      delay-distance model of the nearest landmarks by RTT, zero beyond their speed-of-light radii;
      pooled over the mesh and, with ``per_landmark``, adjusted to each landmark's own routes
      (:class:`~rttgeo.estimate.delay.LandmarkDelayDistance`; neutral without a mesh of RTTs).
      How many: every landmark whose RTT is at most ``near_factor`` x the lowest + ``near_extra_ms``
      (at least ``min_nearest``, at most ``max_nearest``): a host next to a landmark is pinned by
      it alone, a remote host needs several rings to cross.
    - Point: the heaviest atom (a city, or a background cell) of the posterior with the likelihood
      at ``temperature``. Region: the highest-posterior cells holding ``level`` of the posterior with
      the likelihood at ``region_temperature`` (each cell carrying its background and its cities):
      a point wants the sharpest posterior, a credible region one whose spread matches the errors.

    Hyper-parameters were chosen globally on the WonderProxy leave-one-out from a few values each, so
    its figures there are somewhat optimistic (docs/estimation.md): K from 3 to 30 by RTT within
    2 x the lowest + 10 ms, alpha 1, background 1e4 per level-3 cell, point temperature 1.5,
    per-landmark adjustment ramped in from 10 to 50 ms;
    the region temperature is the smallest of {3, 4, 5, 6, 8} whose 90 % region holds the truth for
    at least 90 % of targets (6). The delay-distance calibration itself is fitted per mesh.
    """

    name = "rttgeo"

    def __init__(
        self,
        level: float = 0.9,
        temperature: float = 1.5,
        end_level: int = 3,
        prune_nats: float = 10.0,
        alpha: float = 1.0,
        background: float = 1e4,
        near_factor: float = 2.0,
        near_extra_ms: float = 10.0,
        min_nearest: int = 3,
        max_nearest: int = 30,
        region_temperature: float = 6.0,
        per_landmark: bool = True,
    ) -> None:
        self.level = level
        self.temperature = temperature
        self.end_level = end_level
        self.prune_nats = prune_nats
        self.alpha = alpha
        self.background = background
        self.near_factor = near_factor
        self.near_extra_ms = near_extra_ms
        self.min_nearest = min_nearest
        self.max_nearest = max_nearest
        self.region_temperature = region_temperature
        self.per_landmark = per_landmark

    def _fit(self) -> None:
        from rttgeo.estimate.prior import population_prior

        super()._fit()
        if self.per_landmark:
            assert isinstance(self.model_, DelayDistance)
            self.model_ = LandmarkDelayDistance.fit(
                self.model_, self.rtt_sym_ms_, self.distance_km_, self.usable_
            )
        self.prior_ = population_prior()

    def _search_temperature(self) -> float:
        # Cells are searched and kept for the broader of the two posteriors.
        return max(self.temperature, self.region_temperature)

    def _nearest(self, rtt_ms: FloatArray, use: BoolArray) -> IntArray:
        idx = np.flatnonzero(use)
        order = idx[np.argsort(rtt_ms[idx], kind="stable")]
        near = int(np.sum(rtt_ms[order] <= self.near_factor * rtt_ms[order[0]] + self.near_extra_ms))
        keep = order[: min(max(near, self.min_nearest), self.max_nearest)]
        use[np.setdiff1d(idx, keep)] = False
        return keep

    def _locate_one(self, rtt_ms: FloatArray, use: BoolArray) -> Estimate:
        idx = self._nearest(rtt_ms, use)
        level, rows, cols, logl, cap = self._posterior(rtt_ms, idx)
        consistent, note = cap, "" if cap else self.UNCAPPED
        order = np.argsort(rows * level_shape(level)[1] + cols)  # row-major, as cities_in_cells needs
        rows, cols, logl = rows[order], cols[order], logl[order]
        city, cell_of = self.prior_.cities_in_cells(level, rows, cols)
        log_pop = self.alpha * np.log(np.maximum(self.prior_.population[city], 1.0))
        logl_city = self.log_likelihood(self.prior_.unit[city], rtt_ms, idx, cap)
        # Likelihoods come at the search temperature; rescale them for the point's.
        sharpen = self._search_temperature() / self.temperature
        # The background weight is per end-level cell: scale it to this level's (larger) cells.
        log_bg = np.log(self.background) + np.log(cell_area_km2(level) / cell_area_km2(self.end_level))
        region_mass = self._cell_mass(log_bg + logl, log_pop + logl_city, cell_of)
        log_mass = np.log(np.maximum(region_mass, 1e-300))
        region, w = hpd_region(level, rows, cols, log_mass, self.level)
        point_bg = log_bg + sharpen * logl
        point_city = log_pop + sharpen * logl_city
        if len(city) and np.max(point_city) >= np.max(point_bg):
            k = int(city[np.argmax(point_city)])
            lat, lon = self.prior_.lat_deg[k], self.prior_.lon_deg[k]
            where = f"{self.prior_.name[k]}, {self.prior_.country[k]}"
        else:
            k = int(np.argmax(point_bg))
            la, lo = from_unit_vectors(cell_unit_vectors(level, rows[k : k + 1], cols[k : k + 1])[0])
            lat, lon, where = float(la), float(lo), "no city stands out"
        return self._estimate(
            float(lat), float(lon), region=region, level=self.level, consistent=consistent,
            note=note, posterior=CellDensity(level, rows, cols, w), place=where,
            likelihood_landmarks=len(idx),
        )

    @staticmethod
    def _cell_mass(log_bg: FloatArray, log_city: FloatArray, cell_of: IntArray) -> FloatArray:
        """Per cell: its background plus every city inside it (exp-sum, scaled by the largest)."""
        top = max(float(np.max(log_bg)), float(np.max(log_city)) if len(log_city) else -np.inf)
        mass = np.exp(log_bg - top)
        np.add.at(mass, cell_of, np.exp(log_city - top))
        return mass
