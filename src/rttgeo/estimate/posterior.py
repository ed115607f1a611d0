"""Probabilistic estimators: Spotter (a delay-distance posterior) and rttgeo's own, over a prior.

Both multiply the delay-distance likelihoods of the nearest landmarks over an equal-area grid,
searched coarse to fine, and both temper their credible regions by what the fit mesh says about
how far the landmarks are independent witnesses:

- The product of K likelihoods treats K landmarks as independent. They are not: a target behind
  a slow access link looks far from all of them at once. On the fit mesh every host is a
  pseudo-target; its standardised residuals against the model, over the landmarks the method would
  use, give their variance s^2 and their common correlation rho (method of moments,
  :class:`ResidualCorrelation`; WonderProxy 2020: s^2 = 1.30, rho = 0.41).
- Spotter tempers by s^2 (1 + rho (K - 1)), the variance of a sum of K such residuals relative
  to K independent ones: 2.4 for 3 landmarks, 7.2 for 12, 17 for 30.
- rttgeo asks how much of that common error moves the location at all. Linearised least squares
  with equicorrelated residuals gives a location covariance s^2 ((1 - rho) A^-1 + rho A^-1 b b^T
  A^-1), A^-1 being the independent one; its largest ratio to A^-1 is s^2 (1 - rho + rho b^T A^-1
  b) (:func:`common_mode_share`). Landmarks all on one side of the host: a common shift moves
  the point, the temperature is Spotter's. Landmarks around the host: it does not, the temperature
  falls towards s^2 (1 - rho).

Nothing here is fitted to a figure of merit: the temperatures come from the fit mesh's residuals
and the geometry of each query, with no leave-one-out (the previous fixed temperature, 6, was
chosen on the WonderProxy leave-one-out). Measured coverage, per mesh, is in docs/estimation.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from rttgeo.errors import EstimationError
from rttgeo.estimate.base import Estimator
from rttgeo.estimate.defaults import default_delay_distance, default_forward_delay_distance
from rttgeo.estimate.delay import (
    DelayDistance,
    ForwardDelayDistance,
    LandmarkDelayDistance,
    mesh_pairs,
)
from rttgeo.geo.density import CellDensity
from rttgeo.geo.feasible import HALF_CIRCUMFERENCE_KM
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
from rttgeo.geo.sphere import arc_km, from_unit_vectors
from rttgeo.models import Candidate, Estimate
from rttgeo.units import EARTH_RADIUS_KM, MAX_KM_PER_RTT_MS

__all__ = ["PopulationPosterior", "ResidualCorrelation", "Spotter", "common_mode_share", "hpd_region"]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]


def hpd_region(
    level: int, rows: IntArray, cols: IntArray, log_density: FloatArray, p: float
) -> tuple[CellRegion, FloatArray]:
    """Highest-posterior region holding probability ``p`` of equal-area cells, and normalised masses."""
    w = np.exp(log_density - np.max(log_density))
    w /= w.sum()
    order = np.argsort(-w, kind="stable")
    cum = np.cumsum(w[order])
    k = int(np.searchsorted(cum, p) + 1)
    sel = order[: min(k, len(order))]
    return CellRegion.from_cells(level, rows[sel], cols[sel]), w


@dataclass(frozen=True, slots=True)
class ResidualCorrelation:
    """How a host's standardised residuals against a delay-distance model vary together.

    ``variance`` is their variance (1 if the model's spread were exact), ``rho`` the correlation
    of two residuals of the same host, ``n_hosts`` how many pseudo-targets they come from.
    """

    variance: float
    rho: float
    n_hosts: int

    #: Residuals are clipped at this many spreads, so that a few wrong coordinates do not rule.
    CLIP = 3.0

    @staticmethod
    def from_residuals(z: FloatArray, w: FloatArray) -> ResidualCorrelation:
        """From residuals ``z`` (hosts, landmarks) with weights ``w`` (0 where a landmark is not
        used for that host), by the method of moments over hosts: E[sum w z^2] = s^2 W1 and
        E[(sum w z)^2 - sum w^2 z^2] = rho s^2 (W1^2 - W2)."""
        w = np.asarray(w, dtype=float)
        z = np.where(w > 0, np.clip(np.nan_to_num(np.asarray(z, dtype=float)),
                                    -ResidualCorrelation.CLIP, ResidualCorrelation.CLIP), 0.0)
        wz = w * z
        a = wz.sum(axis=1)
        num = float(np.sum(a * a - (wz * wz).sum(axis=1)))
        w1, w2 = w.sum(axis=1), (w * w).sum(axis=1)
        den_pairs = float(np.sum(w1 * w1 - w2))
        wsum = float(np.sum(w1))
        variance = float((wz * z).sum()) / wsum if wsum > 0 else 1.0
        rho = num / (variance * den_pairs) if den_pairs > 0 and variance > 0 else 0.0
        return ResidualCorrelation(variance, float(np.clip(rho, 0.0, 1.0)), int(np.sum(w1 > 0)))

    def temperature(self, weight: FloatArray) -> float:
        """Temperature that makes a product over ``weight`` as certain as its independent
        equivalent: s^2 (1 + rho (W1^2 - W2) / W2), at least 1."""
        w1, w2 = float(np.sum(weight)), float(np.sum(weight * weight))
        if w2 <= 0:
            return 1.0
        return max(1.0, self.variance * (1.0 + self.rho * (w1 * w1 - w2) / w2))


@dataclass(frozen=True, slots=True)
class _Query:
    """What one locate multiplies: landmarks ``idx`` with RTTs ``rtt_ms`` (mesh order, full
    vector), ``weight`` (len(idx),) of their log-likelihoods, and the search ``temperature``."""

    rtt_ms: FloatArray
    idx: IntArray
    weight: FloatArray
    temperature: float = 1.0
    #: Landmarks beyond the cut (``PopulationPosterior.far_landmarks``), their weights 1 - w and
    #: the RTT (ms) each is censored at.
    far_idx: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    far_weight: FloatArray = field(default_factory=lambda: np.zeros(0))
    far_rtt_ms: FloatArray = field(default_factory=lambda: np.zeros(0))
    #: Their weighted log-survival on a grid of distances (``PopulationPosterior._far_table``),
    #: their unit vectors, and the table's least and greatest value per block of nodes
    #: (``_far_candidates``).
    far_table: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))
    far_unit: FloatArray = field(default_factory=lambda: np.zeros((0, 3)))
    far_blocks: tuple[FloatArray, FloatArray] = (np.zeros((0, 0)), np.zeros((0, 0)))


class Spotter(Estimator):
    """Probabilistic estimator in the spirit of Spotter (Laki et al. 2011).

    Posterior over cells proportional to the product over landmarks of the pooled delay-distance
    likelihood (:class:`~rttgeo.estimate.delay.DelayDistance`), zero outside the speed-of-light
    (vacuum) discs. Only the ``max_landmarks`` lowest RTTs enter the likelihood (far landmarks add
    bias more than information). The point is the posterior's mode. The region at ``level`` is the
    highest-posterior region of the likelihood tempered by ``region_temperature`` (None: calibrated
    on the fit mesh, see the module docstring; 1: the plain product, whose 90 % region held the
    truth for 23 % of WonderProxy targets). Coarse-to-fine: at each level cells whose log-posterior
    is more than ``prune_nats`` below the best are dropped (their mass is ignored, at most
    ~exp(-prune_nats) per dropped cell).
    """

    name = "spotter"
    region_kind = (
        "highest-posterior region, tempered by the fit mesh's residual correlation; NOT calibrated: "
        "it held the truth for fewer targets than its level on sparse meshes (docs/estimation.md)"
    )
    #: Whether the region's temperature depends on the landmarks' geometry seen from the point
    #: (:func:`common_mode_share`), or only on how many landmarks there are.
    geometry_aware = False
    #: The delay model it multiplies: Spotter's is always p(distance | RTT).
    delay_model = "inverse"

    #: The geometry-aware region temperature never falls below this (x10 sharper than the plain
    #: product at most).
    MIN_REGION_TEMPERATURE = 0.1

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
        region_temperature: float | None = None,
    ) -> None:
        self.level = level
        self.temperature = temperature
        self.end_level = end_level
        self.prune_nats = prune_nats
        self.max_landmarks = max_landmarks
        self.region_temperature = region_temperature

    # -- fit -------------------------------------------------------------------------------------
    def _fit(self) -> None:
        r, d = mesh_pairs(self.mesh_, self.distance_km_, self.usable_)
        self.model_: DelayDistance | LandmarkDelayDistance | ForwardDelayDistance = (
            DelayDistance.fit(r, d) if len(r) >= 50 else default_delay_distance()
        )
        self.correlation_ = self._residual_correlation()

    #: Fewer pseudo-targets than this: the correlation of the bundled mesh is used instead.
    MIN_PSEUDO_TARGETS = 10

    def _residual_correlation(self) -> ResidualCorrelation:
        """Residual variance and correlation over the fit mesh's hosts as pseudo-targets, each
        with the landmarks this method would use for it (module docstring)."""
        hosts = np.flatnonzero(self.usable_)
        r = np.where(self.usable_[None, :], self.rtt_sym_ms_[hosts], np.nan)
        r[np.arange(len(hosts)), hosts] = np.nan
        enough = np.isfinite(r).sum(axis=1) >= 3
        hosts, r = hosts[enough], r[enough]
        if len(hosts) < self.MIN_PSEUDO_TARGETS:
            from rttgeo.estimate.defaults import default_residual_correlation

            return default_residual_correlation(self.delay_model)
        w = self._weights(r)
        rows, cols = np.nonzero(w > 0)
        z = np.zeros_like(w)
        z[rows, cols] = self.model_.residuals(self.distance_km_[hosts[rows], cols], r[rows, cols], cols)
        return ResidualCorrelation.from_residuals(z, w)

    def max_distance_km(self, rtt_ms: FloatArray, idx: IntArray) -> FloatArray:
        return np.asarray(rtt_ms) * MAX_KM_PER_RTT_MS

    # -- which landmarks, how hot ----------------------------------------------------------------
    def _weights(self, rtt_ms: FloatArray) -> FloatArray:
        """Weight of each landmark's log-likelihood per row of ``rtt_ms`` (rows, landmarks; NaN =
        not usable): 1 for the ``max_landmarks`` lowest RTTs (they carry nearly all the
        information, Hu et al. 2012), 0 for the others."""
        order = np.argsort(np.where(np.isfinite(rtt_ms), rtt_ms, np.inf), axis=1, kind="stable")
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(rtt_ms.shape[1])[None, :], axis=1)
        return ((rank < self.max_landmarks) & np.isfinite(rtt_ms)).astype(float)

    def _query(self, rtt_ms: FloatArray, use: BoolArray) -> _Query:
        """The landmarks with a weight (:meth:`_weights`), lowest RTT first; the others are marked
        unused in ``use`` so that the diagnostics say so."""
        w = self._weights(np.where(use, rtt_ms, np.nan)[None, :])[0]
        use &= w > 0
        idx = np.flatnonzero(use)
        idx = idx[np.argsort(rtt_ms[idx], kind="stable")]
        return _Query(rtt_ms, idx, w[idx])

    def _search_temperature(self, q: _Query) -> float:
        """Temperature to search cells at: the broadest the region may need."""
        if self.region_temperature is not None:
            return max(float(self.region_temperature), self.temperature)
        return max(self.correlation_.temperature(q.weight), self.temperature)

    def _region_temperature(self, q: _Query, point_u: FloatArray) -> float:
        """The region's temperature: given, or from the residual correlation and the geometry of
        the landmarks seen from the point (:func:`common_mode_share`)."""
        if self.region_temperature is not None:
            return float(self.region_temperature)
        c = self.correlation_
        if not self.geometry_aware:
            return c.temperature(q.weight)
        d = EARTH_RADIUS_KM * np.arccos(np.clip(self.unit_[q.idx] @ point_u, -1.0, 1.0))
        scale = self.model_.distance_scale_km(q.rtt_ms[q.idx], q.idx, d)
        share = common_mode_share(point_u, self.unit_[q.idx], scale, q.weight)
        # Below 1 when the fit mesh's residuals vary less than the model's spread says (s^2 < 1:
        # the forward model's MAD per bin of distance holds the spread within each bin). Never
        # below MIN_REGION_TEMPERATURE, where rho near 1 would make it 0.
        return max(self.MIN_REGION_TEMPERATURE, c.variance * (1.0 - c.rho + c.rho * share))

    # -- the posterior ---------------------------------------------------------------------------
    def log_likelihood(
        self, u: FloatArray, q: _Query, cap: bool = True, pad_km: FloatArray | None = None
    ) -> FloatArray:
        """Log-posterior (unnormalised, at ``q.temperature``) of points ``u`` (M, 3).

        ``cap``: zero density beyond each speed-of-light radius; for cells of circumradius
        ``pad_km`` (M,), zero only when no point of the cell is within it (a disc smaller than a
        cell still leaves the cells it touches).
        """
        dist = arc_km(u @ self.unit_[q.idx].T)
        pad = 0.0 if pad_km is None else np.asarray(pad_km)[:, None]
        ll = self.model_.log_likelihood(dist, q.rtt_ms[q.idx], cap, q.idx, pad)
        # A weight of 0 never meets -inf here: such landmarks are not in the query.
        ll *= q.weight[None, :]
        return ll.sum(axis=1) / q.temperature

    def _posterior(self, q: _Query) -> tuple[int, IntArray, IntArray, FloatArray, bool]:
        """:meth:`posterior_cells` with the speed-of-light cut, or without it when nothing is left
        (the last item says whether the cut held)."""
        try:
            return (*self.posterior_cells(q, cap=True), True)
        except EstimationError:
            return (*self.posterior_cells(q, cap=False), False)

    def posterior_cells(self, q: _Query, cap: bool = True) -> tuple[int, IntArray, IntArray, FloatArray]:
        """(level, rows, cols, log-posterior) of the cells kept at ``end_level``."""
        rows, cols = global_cells(0)
        for level in range(0, self.end_level + 1):
            if level > 0:
                rows, cols = children(rows, cols)
            u = cell_unit_vectors(level, rows, cols)
            if level == self.end_level:
                exact = self.log_likelihood(u, q, cap, circumradius_km(level, rows))
                keep = np.isfinite(exact)
                if not keep.any():
                    raise EstimationError("the RTTs leave no location with non-zero probability")
                keep &= exact >= np.max(exact[keep]) - self.prune_nats
                return level, rows[keep], cols[keep], exact[keep]
            # Branch and bound: a cell whose upper bound is far below a value actually reached at
            # some cell centre cannot hold the mode nor noticeable mass. The centres with the best
            # upper bounds give that value cheaply (any exact value is a lower bound of the max).
            upper = self._soft_log_likelihood(u, q, circumradius_km(level, rows), cap)
            if not np.isfinite(upper).any():
                raise EstimationError("the RTTs leave no location with non-zero probability")
            top = np.argsort(upper)[-64:]
            exact = self.log_likelihood(u[top], q, cap)
            best = np.max(exact) if np.isfinite(exact).any() else np.max(upper) - self.prune_nats
            keep = np.isfinite(upper) & (upper >= best - self.prune_nats)
            if 4 * keep.sum() > self.MAX_CELLS and level >= self.end_level - 1:
                # A broad posterior does not need finer cells: stop one level early.
                exact = self.log_likelihood(u[keep], q, cap, circumradius_km(level, rows[keep]))
                ok = np.isfinite(exact) & (exact >= np.max(exact) - self.prune_nats)
                if ok.any():
                    return level, rows[keep][ok], cols[keep][ok], exact[ok]
            rows, cols = rows[keep], cols[keep]
        raise AssertionError("unreachable")

    def _soft_log_likelihood(
        self, u: FloatArray, q: _Query, pad_km: FloatArray, cap: bool
    ) -> FloatArray:
        """Upper bound of the log-likelihood over each cell (distances may shift by the pad):
        the model's own bound (``upper_log_likelihood``), at ``q.temperature``. Distances in
        float32 (about 1e-6 relative): the bound only decides which cells to refine, with a
        margin of ``prune_nats``."""
        f4 = np.float32
        dist = arc_km(u.astype(f4) @ self.unit_[q.idx].T.astype(f4))
        ll = self.model_.upper_log_likelihood(dist, pad_km, q.rtt_ms[q.idx], q.idx, q.weight, cap)
        return np.asarray(ll, dtype=np.float64) / q.temperature

    # -- locate ----------------------------------------------------------------------------------
    def _locate_one(self, rtt_ms: FloatArray, use: BoolArray) -> Estimate:
        q = self._query(rtt_ms, use)
        t_search = self._search_temperature(q)
        q = replace(q, temperature=t_search)
        level, rows, cols, logp, cap = self._posterior(q)
        consistent, note = cap, "" if cap else self.UNCAPPED
        k = int(np.argmax(logp))  # the mode does not depend on the temperature
        mode_u = cell_unit_vectors(level, rows[k : k + 1], cols[k : k + 1])[0]
        t_region = self._region_temperature(q, mode_u)
        region, w = hpd_region(level, rows, cols, logp * (t_search / t_region), self.level)
        lat, lon = from_unit_vectors(mode_u)
        return self._estimate(
            float(lat), float(lon), region=region, level=self.level, consistent=consistent,
            note=note, posterior=CellDensity(level, rows, cols, w),
            region_temperature_used=round(t_region, 3),
        )


class PopulationPosterior(Spotter):
    """rttgeo's own estimator: a delay-distance posterior over a population prior.

    - Prior (hosts sit where people are): point masses at every GeoNames city of at least 15,000
      inhabitants weighted ``population ** alpha``, plus a uniform background of weight
      ``background`` per end-level cell (level 3: about 1,560 km^2, 40 km), so that hosts outside
      cities keep a chance. With ``landmark_places``, the cities of the landmarks' places are
      weighted by one factor m, so that the prior expects a host to share a place with a landmark
      as often as the fit mesh's hosts share one with each other (:meth:`_landmark_place_boost`):
      less on a mesh of one host per city, more on one of several hosts per data-centre city.
      With ``site_km`` > 0, a share of each such place's mass moves to atoms at its landmarks, as
      large as the fit mesh's share of hosts within ``site_km`` of another among those that share
      a place (:meth:`_fit_landmark_sites`): RIPE Atlas anchors often share a building, and a host
      0.45 ms from a landmark is then at it, not at the metropolis' centre; none on WonderProxy.
    - Likelihood (Hu et al.'s "the nearest landmarks matter most"): the delay model of the
      nearest landmarks by RTT, zero beyond their speed-of-light radii; pooled over the mesh and,
      with ``per_landmark``, adjusted to each landmark's own routes (neutral without a mesh of
      RTTs). ``delay_model="forward"`` (the default): p(RTT | distance),
      :class:`~rttgeo.estimate.delay.ForwardDelayDistance`, a function of the position that
      carries nothing of the fit mesh's pair distances. ``"inverse"``: the surface density of
      p(distance | RTT), :class:`~rttgeo.estimate.delay.LandmarkDelayDistance` (Spotter-like;
      the default until 2026-12-02), which carries them once per landmark: it favours the
      landmarks' own cells on a clustered mesh and the mesh's typical pair distance on a sparse
      one (docs/estimation.md).
      Which ones: the landmarks whose RTT is within the cut, r_cut = ``near_factor`` x the lowest
      + ``near_extra_ms``, moved up to the ``min_nearest``-th lowest RTT and down to the
      ``max_nearest``-th. Each log-likelihood is weighted 1 up to (1 - ``near_ramp`` / 2) r_cut,
      falling linearly to 0 at (1 + ``near_ramp`` / 2) r_cut, so that the posterior moves smoothly
      with the RTTs (with a hard cut, 0.5 us could change which landmarks counted).
    - Far landmarks (``far_landmarks``, on by default since 2026-12-02; Octant's negative
      constraints, Wong et al. 2007): a landmark left out by the cut still says that the host is
      not near it. Each one of weight w < 1 counts 1 - w times the log of P(RTT >= c | distance),
      c the lower of its RTT and the end of the ramp (it was left out for an RTT at least that),
      read off the fit mesh's standardised residuals (their share at or above the residual,
      (k + 1) / (n + 1), never 0); only the smallest such term over the far landmarks enters (a
      sum over a few hundred landmarks with correlated routes drove every target away from all
      of them: WonderProxy median 167 km, p90 2,015 km). No parameter is fitted to a figure;
      WonderProxy 96 / 1,000 km -> 91 / 951 km (median / p90), docs/estimation.md.
    - Point: the place with the most mass under the posterior with the likelihood at
      ``temperature``. A place is a city with every city within ``place_km`` (its suburbs count
      for it: :meth:`~rttgeo.estimate.prior.PopulationPrior.places`), or a background cell. Exact
      ties go to the larger population, then the lower index. The point is the place's centre of
      mass (its cities and sites weighted by their mass under the posterior itself, untempered:
      the temperature weighs places against each other): it moves smoothly with the RTTs, and
      sits next to a landmark that shares the host's building rather than at the metropolis'
      centre.
    - Region: the highest-posterior cells holding ``level`` of the posterior at
      ``region_temperature`` (None: from the fit mesh's residual correlation and the landmarks'
      geometry seen from the point, module docstring).
    - Candidates: the ``top_k`` places by that same mass, each named by its largest city, with
      its probability under that same posterior: the mass of its cities and of the background
      within ``place_km``, each cell's counted for the nearest place listed only, so that they
      sum to at most 1 (RIPE IPmap's answer shape). The point's place first, the others by
      probability.
    - Low confidence: when the region covers more than ``low_confidence_km2`` (a disc of radius
      560 km: larger than most countries), no city can be told from its neighbours; the estimate
      says so, and the point is only the most probable place.

    Hyper-parameters and the data they were chosen on are listed in docs/estimation.md.
    """

    name = "rttgeo"
    region_kind = "highest-posterior region, tempered by the fit mesh's residual correlation"
    geometry_aware = True

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
        near_ramp: float = 0.1,
        region_temperature: float | None = None,
        per_landmark: bool = True,
        top_k: int = 5,
        place_km: float = 25.0,
        low_confidence_km2: float = 1e6,
        landmark_places: bool = True,
        site_km: float = 1.0,
        delay_model: str = "forward",
        far_landmarks: bool = True,
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
        self.near_ramp = near_ramp
        self.region_temperature = region_temperature
        self.per_landmark = per_landmark
        self.top_k = top_k
        self.place_km = place_km
        self.low_confidence_km2 = low_confidence_km2
        self.landmark_places = landmark_places
        self.site_km = site_km
        if delay_model not in self.DELAY_MODELS:
            choices = ", ".join(self.DELAY_MODELS)
            raise ValueError(f"delay_model must be one of {choices}, got {delay_model!r}")
        self.delay_model = delay_model
        if not isinstance(far_landmarks, bool | np.bool_):
            raise ValueError(f"far_landmarks must be True or False, got {far_landmarks!r}")
        self.far_landmarks = bool(far_landmarks)

    #: The delay models ``delay_model`` names: p(RTT | distance) and p(distance | RTT).
    DELAY_MODELS = ("forward", "inverse")

    def _fit(self) -> None:
        from rttgeo.estimate.prior import population_prior

        r, d = mesh_pairs(self.mesh_, self.distance_km_, self.usable_)
        if self.delay_model == "forward":
            fwd = ForwardDelayDistance.fit(r, d) if len(r) >= 50 else default_forward_delay_distance()
            self.model_ = (
                fwd.per_landmark(self.rtt_sym_ms_, self.distance_km_, self.usable_)
                if self.per_landmark
                else fwd
            )
        else:
            pooled = DelayDistance.fit(r, d) if len(r) >= 50 else default_delay_distance()
            self.model_ = (
                LandmarkDelayDistance.fit(pooled, self.rtt_sym_ms_, self.distance_km_, self.usable_)
                if self.per_landmark
                else pooled
            )
        self.correlation_ = self._residual_correlation()
        self.residual_tail_ = self._residual_tail() if self.far_landmarks else np.zeros(0)
        self.prior_ = population_prior()
        self.landmark_place_boost_ = self._landmark_place_boost()
        self._fit_landmark_sites()

    def _residual_tail(self) -> FloatArray:
        """Sorted standardised residuals of every fit-mesh pair, each host the target of the
        other's landmark model (both directions), for :meth:`_far_log_survival`."""
        hosts = np.flatnonzero(self.usable_)
        r = np.where(self.usable_[None, :], self.rtt_sym_ms_[hosts], np.nan)
        r[np.arange(len(hosts)), hosts] = np.nan
        rows, cols = np.nonzero(np.isfinite(r))
        if len(rows) < self.MIN_TAIL_RESIDUALS:
            from rttgeo.estimate.defaults import default_residual_tail

            return default_residual_tail(self.delay_model)
        return np.sort(self.model_.residuals(self.distance_km_[hosts[rows], cols], r[rows, cols], cols))

    #: Fewest fit-mesh residuals :meth:`_residual_tail` reads; with fewer (landmarks without
    #: RTTs between them), those of the pooled model on the bundled mesh.
    MIN_TAIL_RESIDUALS = 200

    #: Grid of :meth:`_far_table`: steps of ``FAR_STEP`` in u = log(1 + d / ``FAR_D0_KM``), 1 %
    #: of the distance, to half the Earth's circumference (about 600 nodes).
    FAR_STEP = 0.01
    FAR_D0_KM = 50.0
    FAR_NODES = int(np.ceil(np.log1p(HALF_CIRCUMFERENCE_KM / FAR_D0_KM) / FAR_STEP)) + 2

    def _far_table(self, far_idx: IntArray, far_rtt_ms: FloatArray, far_weight: FloatArray) -> FloatArray:
        """(``FAR_NODES``, far landmarks): at each grid distance, weight x log P(RTT >= censoring
        RTT | distance), the probability read off the fit mesh's residuals (the share at or above
        the standardised residual, counted as (k + 1) / (n + 1), never 0)."""
        d = self.FAR_D0_KM * np.expm1(np.arange(self.FAR_NODES) * self.FAR_STEP)
        z = self.model_.residual_grid(d, far_rtt_ms, far_idx)
        tail = self.residual_tail_
        above = len(tail) - np.searchsorted(tail, z.ravel()).reshape(z.shape)
        return np.log((above + 1.0) / (len(tail) + 1.0)) * far_weight[None, :]

    #: Far landmarks :meth:`_far_log_survival` reads first at each point: its nearest ones, then
    #: four times as many where they do not settle the least term.
    FAR_NEAREST = 16
    #: Most (point, landmark) pairs :meth:`_far_terms` holds at once (memory: ~40 bytes each).
    FAR_CHUNK = 1 << 20

    def _far_terms(self, u: FloatArray, q: _Query, cols: IntArray) -> FloatArray:
        """(M, k): the term of far landmark ``cols[m, j]`` (an index into ``q.far_idx``) at point
        ``u[m]`` (M, 3), linear between the nodes of :meth:`_far_table` (1 % of distance apart).
        Each pair is computed elementwise, in float64."""
        lm = q.far_unit[cols]
        dot = u[:, None, 0] * lm[..., 0]
        dot += u[:, None, 1] * lm[..., 1]
        dot += u[:, None, 2] * lm[..., 2]
        x = np.log1p(arc_km(dot) / self.FAR_D0_KM)
        x /= self.FAR_STEP
        i = np.minimum(x.astype(np.int64), self.FAR_NODES - 2)
        x -= i  # the fraction of the way to the next node
        n_far = len(q.far_idx)
        flat = q.far_table.ravel()
        i *= n_far
        i += cols
        lo = np.take(flat, i)
        return lo + (np.take(flat, i + n_far) - lo) * x

    #: Nodes per block of :meth:`_far_candidates`' bounds.
    FAR_BLOCK = 16

    def _far_candidates(self, u: FloatArray, q: _Query) -> IntArray:
        """The far landmarks that can hold the least term at some point of ``u`` (M, 3), exactly.

        The points lie within rho of their mean direction, so landmark j's distances to them lie
        within D_j +- rho and its terms between the least and the greatest node of the blocks of
        ``FAR_BLOCK`` nodes that cover that range (one node of margin each side). A landmark
        whose least bound exceeds another's greatest is never the least.
        """
        n_far = len(q.far_idx)
        centre = u.sum(axis=0)
        norm = float(np.linalg.norm(centre))
        if norm < 1e-9 or n_far < 2:
            return np.arange(n_far)
        centre /= norm
        rho = EARTH_RADIUS_KM * math.acos(float(np.clip(np.min(u @ centre), -1.0, 1.0))) + 1.0
        d = EARTH_RADIUS_KM * np.arccos(np.clip(q.far_unit @ centre, -1.0, 1.0))
        step, d0, last = self.FAR_STEP, self.FAR_D0_KM, self.FAR_NODES - 1
        first = np.floor(np.log1p(np.maximum(d - rho, 0.0) / d0) / step).astype(np.int64) - 1
        final = np.floor(np.log1p((d + rho) / d0) / step).astype(np.int64) + 2
        b = self.FAR_BLOCK
        block_min, block_max = q.far_blocks
        k = np.arange(len(block_min))[:, None]
        cover = (k >= np.clip(first, 0, last)[None, :] // b) & (k <= np.clip(final, 0, last)[None, :] // b)
        least = np.where(cover, block_min, np.inf).min(axis=0)
        most = np.where(cover, block_max, -np.inf).max(axis=0)
        return np.flatnonzero(least <= np.min(most))

    def _far_blocks(self, table: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Least and greatest value of ``table`` (nodes, landmarks) per block of ``FAR_BLOCK``
        nodes."""
        b, n = self.FAR_BLOCK, len(table)
        nb = -(-n // b)
        pad = np.repeat(table[-1:], nb * b - n, axis=0)  # the last node again: same extremes
        blocks = np.concatenate([table, pad]).reshape(nb, b, table.shape[1])
        return blocks.min(axis=1), blocks.max(axis=1)

    #: Side (degrees of latitude and longitude) of the groups of points that share one search
    #: for their nearest far landmarks (:meth:`_far_log_survival`).
    FAR_GROUP_DEG = 2.0

    def _far_groups(self, u: FloatArray) -> tuple[FloatArray, FloatArray, IntArray]:
        """Points ``u`` (M, 3) grouped by cells of ``FAR_GROUP_DEG``: each group's mean direction
        (G, 3), the greatest distance (km) of its points from it (G,), and each point's group."""
        lat, lon = from_unit_vectors(u)
        side = self.FAR_GROUP_DEG
        row, col = np.floor((lat + 90.0) / side), np.floor((lon + 180.0) / side)
        key = row.astype(np.int64) * 1000 + col.astype(np.int64)
        _, group = np.unique(key, return_inverse=True)
        centre = np.stack([np.bincount(group, u[:, i]) for i in range(3)], axis=1)
        centre /= np.linalg.norm(centre, axis=1, keepdims=True)
        rho = np.zeros(len(centre))
        np.maximum.at(rho, group, arc_km(np.einsum("ij,ij->i", u, centre[group])))
        return centre, rho, group

    def _far_log_survival(self, u: FloatArray, q: _Query) -> FloatArray:
        """Per point ``u`` (M, 3): the least over the far landmarks of their term
        (:meth:`_far_terms`), exactly, reading few of them.

        Only the landmarks that can hold the least somewhere among the points are read
        (:meth:`_far_candidates`). When more than ``4 FAR_NEAREST`` can, the points of each cell
        of ``FAR_GROUP_DEG`` (:meth:`_far_groups`) read the k nearest far landmarks of the cell's
        centre first (``FAR_NEAREST``, from a k-d tree). Every other candidate lies at least the
        k-th one's distance d_k less the cell's radius from each of them, so its term there is at
        least the least value any candidate's table takes at or beyond that node (1 km of
        margin). Where the least of the k is no greater, it is the least of all; elsewhere k grows
        fourfold, up to every candidate. The result is exactly the least over every far landmark.
        """
        out = np.zeros(len(u))
        if not len(q.far_idx):
            return out
        keep = self._far_candidates(u, q)
        todo = np.arange(len(u))
        k = self.FAR_NEAREST
        if len(keep) > 4 * k:
            from scipy.spatial import cKDTree

            tree = cKDTree(q.far_unit[keep])
            floor = np.minimum.accumulate(q.far_table[:, keep].min(axis=1)[::-1])[::-1]
            while len(todo) and k < len(keep):
                centre, rho, group = self._far_groups(u[todo])
                chord, near = tree.query(centre, k)
                least = self._far_terms(u[todo], q, keep[near[group]]).min(axis=1)
                d_k = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.minimum(chord[:, -1] / 2.0, 1.0)) - rho
                node = np.log1p(np.maximum(d_k[group] - 1.0, 0.0) / self.FAR_D0_KM) / self.FAR_STEP
                settled = least <= floor[np.minimum(node.astype(np.int64), self.FAR_NODES - 1)]
                out[todo[settled]] = least[settled]
                todo = todo[~settled]
                k *= 4
        step = max(1, self.FAR_CHUNK // len(keep))
        for s in range(0, len(todo), step):
            part = todo[s:s + step]
            out[part] = self._far_terms(u[part], q, np.broadcast_to(keep, (len(part), len(keep)))).min(axis=1)
        return out

    def _query(self, rtt_ms: FloatArray, use: BoolArray) -> _Query:
        """As Spotter's, plus, with ``far_landmarks``, the landmarks of weight w < 1 with weight
        1 - w, each censored at the lower of its RTT and the end of the ramp, (1 + ``near_ramp``
        / 2) r_cut: a landmark is left out because its RTT is at least that."""
        r = np.where(use, rtt_ms, np.nan)[None, :]
        q = super()._query(rtt_ms, use)
        if not self.far_landmarks or not len(q.idx):
            return q
        cut_ms = self._cut_ms(r)
        w = self._weights(r, cut_ms)[0]
        far_idx = np.flatnonzero(np.isfinite(r[0]) & (w < 1.0))
        if not len(far_idx):
            return q
        # Left out for an RTT at or above the end of the ramp: that much is what it says.
        cut = float(cut_ms[0]) * (1.0 + self.near_ramp / 2)
        far_rtt, far_w = np.minimum(rtt_ms[far_idx], cut), 1.0 - w[far_idx]
        table = self._far_table(far_idx, far_rtt, far_w)
        return replace(q, far_idx=far_idx, far_weight=far_w, far_rtt_ms=far_rtt, far_table=table,
                       far_unit=self.unit_[far_idx], far_blocks=self._far_blocks(table))

    def log_likelihood(
        self, u: FloatArray, q: _Query, cap: bool = True, pad_km: FloatArray | None = None
    ) -> FloatArray:
        """Spotter's, plus the far landmarks' term (:meth:`_far_log_survival`) at the same
        temperature. It is never above 0, so the search's upper bound, which leaves it out,
        stays an upper bound."""
        ll = super().log_likelihood(u, q, cap, pad_km)
        if len(q.far_idx):
            ll += self._far_log_survival(u, q) / q.temperature
        return ll

    #: Weight of the population prior's own answer (P0) in the estimate of f, in hosts.
    LANDMARK_PLACE_PSEUDO_HOSTS = 2.0

    def _landmark_place_boost(self) -> FloatArray:
        """Per city, the log factor of its prior weight: log m for the cities of a usable
        landmark's place, 0 for the others (class docstring).

        A landmark's place is the place (:meth:`~rttgeo.estimate.prior.PopulationPrior.places`)
        of any city within ``place_km`` of it; all the cities of such places get the factor, so
        the weights within a place, and its centre of mass, do not change. m makes the prior's
        chance that a host is in a landmark's place, m P0 / (m P0 + 1 - P0) with P0 the prior's
        mass there, equal to f, the fit mesh's chance that a host has another within
        ``place_km``: k such hosts of n, as the posterior mean (k + c P0) / (n + c) with c =
        ``LANDMARK_PLACE_PSEUDO_HOSTS`` (no mesh: m = 1, the prior unchanged). WonderProxy 2020
        (one host per city, by design): k = 11 of 244, P0 = 14.9 %, m = 0.28; the 784 RIPE Atlas
        anchors of 2023 (several per data-centre city): k = 574, m = 15.8.
        """
        boost = np.zeros(len(self.prior_.population))
        idx = np.flatnonzero(self.usable_)
        if not self.landmark_places or len(idx) < 2:
            return boost
        # A landmark's place: the place of any city within place_km of it, all its cities (so
        # that the weights within a place, and its centre of mass, do not change).
        head = self.prior_.places(self.place_km)
        near = np.isin(head, head[self.prior_.near(self.unit_[idx], self.place_km)])
        weight = self.prior_.population**self.alpha
        nr, nc = level_shape(self.end_level)
        p0 = float(weight[near].sum()) / (float(weight.sum()) + self.background * nr * nc)
        if not 0.0 < p0 < 1.0:
            return boost
        c = self.LANDMARK_PLACE_PSEUDO_HOSTS
        f = (self._hosts_beside(self.place_km) + c * p0) / (len(idx) + c)
        boost[near] = math.log(f * (1.0 - p0) / (p0 * (1.0 - f)))
        return boost

    def _hosts_beside(self, km: float) -> int:
        """How many of the fit mesh's usable hosts have another within ``km``."""
        idx = np.flatnonzero(self.usable_)
        return int(np.sum((self.distance_km_[np.ix_(idx, idx)] <= km).sum(axis=1) > 1))

    def _fit_landmark_sites(self) -> None:
        """Where a host in a landmark's place is: a share g of the place's prior mass sits at its
        landmarks' sites, the rest stays on its cities (class docstring).

        g is the fit mesh's share of hosts in a landmark's place that share a site with one (a
        host within ``site_km``): k_site of k_place, as the posterior mean k_site / (k_place + c)
        with c = ``LANDMARK_PLACE_PSEUDO_HOSTS`` pseudo-hosts at 0, the city prior's own answer
        (a city's mass is at its centre, not at a landmark's site). WonderProxy 2020 (no two
        hosts within 4.7 km): g = 0, nothing changes; the 784 RIPE Atlas anchors of 2023: 278 of
        the 574 with an anchor within 25 km have one within 1 km, g = 0.48. Each atom, at a
        landmark, carries g / (landmarks in the place) of the place's mass (the cities' weights
        with the landmark-place factor); the place's cities keep 1 - g. Sets ``site_share_``,
        ``site_scale_`` (per city, log(1 - g) in such places, else 0), ``atom_unit_`` (A, 3),
        ``atom_log_w_`` (A,) and ``atom_head_`` (A,), the city naming each atom's place.
        """
        n = len(self.prior_.population)
        self.site_share_ = 0.0
        self.site_scale_ = np.zeros(n)
        self.atom_unit_ = np.zeros((0, 3))
        self.atom_log_w_ = np.zeros(0)
        self.atom_head_ = np.zeros(0, dtype=np.int64)
        idx = np.flatnonzero(self.usable_)
        if not self.landmark_places or self.site_km <= 0.0 or len(idx) < 2:
            return
        k_site, k_place = self._hosts_beside(self.site_km), self._hosts_beside(self.place_km)
        g = k_site / (k_place + self.LANDMARK_PLACE_PSEUDO_HOSTS)
        if g <= 0.0:
            return
        head = self.prior_.places(self.place_km)
        nearest = self.prior_.nearest_within(self.unit_[idx], self.place_km)
        has = nearest >= 0
        if not has.any():
            return
        lm_head = head[nearest[has]]
        log_w = self.alpha * np.log(np.maximum(self.prior_.population, 1.0)) + self.landmark_place_boost_
        heads, inv, count = np.unique(lm_head, return_inverse=True, return_counts=True)
        # Each place's weight: the sum over its cities (one pass, scaled by the largest term).
        top = float(np.max(log_w))
        place_log_w = np.log(np.bincount(head, np.exp(log_w - top), minlength=len(head))[heads]) + top
        self.site_share_ = g
        self.site_scale_[np.isin(head, lm_head)] = math.log1p(-g)
        self.atom_unit_ = self.unit_[idx[has]]
        self.atom_log_w_ = place_log_w[inv] + math.log(g) - np.log(count[inv])
        self.atom_head_ = lm_head.astype(np.int64)

    def _cut_ms(self, rtt_ms: FloatArray) -> FloatArray:
        """r_cut (ms) of each row of ``rtt_ms`` (rows, landmarks; NaN = not usable): ``near_factor``
        x the lowest + ``near_extra_ms``, moved to the ``min_nearest``-th lowest RTT at least and
        the ``max_nearest``-th at most."""
        ok = np.isfinite(rtt_ms)
        n = ok.sum(axis=1)
        rs = np.sort(np.where(ok, rtt_ms, np.inf), axis=1)
        rows = np.arange(len(rs))
        cut = self.near_factor * rs[:, 0] + self.near_extra_ms
        cut = np.maximum(cut, rs[rows, np.clip(np.minimum(self.min_nearest, n) - 1, 0, None)])
        return np.minimum(cut, rs[rows, np.clip(np.minimum(self.max_nearest, n) - 1, 0, None)])

    def _weights(self, rtt_ms: FloatArray, cut: FloatArray | None = None) -> FloatArray:
        """Per row of ``rtt_ms`` (rows, landmarks; NaN = not usable), the weight of each
        landmark's log-likelihood: 1 up to (1 - near_ramp / 2) r_cut, 0 from (1 + near_ramp / 2)
        r_cut, linear between (class docstring). ``cut``: the rows' r_cut if already known."""
        ok = np.isfinite(rtt_ms)
        if cut is None:
            cut = self._cut_ms(rtt_ms)
        with np.errstate(invalid="ignore", divide="ignore"):
            w = np.clip((cut[:, None] - rtt_ms) / (self.near_ramp * cut[:, None]) + 0.5, 0.0, 1.0)
        return np.where(ok, w, 0.0)

    def _locate_one(self, rtt_ms: FloatArray, use: BoolArray) -> Estimate:
        q = self._query(rtt_ms, use)
        t_search = self._search_temperature(q)
        q = replace(q, temperature=t_search)
        level, rows, cols, logl, cap = self._posterior(q)
        consistent, note = cap, "" if cap else self.UNCAPPED
        order = np.argsort(rows * level_shape(level)[1] + cols)  # row-major, as cities_in_cells needs
        rows, cols, logl = rows[order], cols[order], logl[order]
        city, cell_of = self.prior_.cities_in_cells(level, rows, cols)
        log_pop = self.alpha * np.log(np.maximum(self.prior_.population[city], 1.0))
        log_pop += self.landmark_place_boost_[city] + self.site_scale_[city]
        atom_u = self.prior_.unit[city]
        head_of = self.prior_.places(self.place_km)[city]
        if len(self.atom_log_w_):
            la, lo = from_unit_vectors(self.atom_unit_)
            ar, ac = cell_index(level, la, lo)
            nc = level_shape(level)[1]
            keys = rows * nc + cols
            pos = np.clip(np.searchsorted(keys, ar * nc + ac), 0, len(keys) - 1)
            inside = keys[pos] == ar * nc + ac
            cell_of = np.concatenate([cell_of, pos[inside]])
            log_pop = np.concatenate([log_pop, self.atom_log_w_[inside]])
            atom_u = np.concatenate([atom_u, self.atom_unit_[inside]])
            head_of = np.concatenate([head_of, self.atom_head_[inside]])
        logl_city = self.log_likelihood(atom_u, q, cap)
        # The background weight is per end-level cell: scale it to this level's (larger) cells.
        log_bg = np.log(self.background) + np.log(cell_area_km2(level) / cell_area_km2(self.end_level))
        # Likelihoods come at the search temperature; rescale them for the point's and the region's.
        to_point = t_search / self.temperature
        point_bg, point_city = log_bg + to_point * logl, log_pop + to_point * logl_city
        cell_u = cell_unit_vectors(level, rows, cols)
        # Places: every city counts for the city that names its place (the most populous within
        # place_km, prior.places), and each background cell is a place of its own. The point is
        # the place with the most mass; exact ties go to the more populous place (np.unique and
        # a stable sort keep the prior's order, largest first), then to the earlier cell.
        heads, member_of = (
            np.unique(head_of, return_inverse=True)
            if len(head_of) else (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
        )
        top = max(float(np.max(point_bg)), float(np.max(point_city)) if len(head_of) else -np.inf)
        place_mass = np.bincount(member_of, np.exp(point_city - top), minlength=len(heads))
        score = np.concatenate([place_mass, np.exp(point_bg - top)])
        ranked = np.argsort(-score, kind="stable")
        first = int(ranked[0])
        if first < len(heads):
            k = int(heads[first])
            where = f"{self.prior_.name[k]}, {self.prior_.country[k]}"
            # The place's centre of mass under the posterior itself (the temperature weighs
            # places against each other, not the cities and sites within 25 km of one another):
            # it moves smoothly as the masses of its cities do, and sits by the landmark when a
            # host shares its building.
            members = member_of == first
            inner = log_pop[members] + t_search * logl_city[members]
            inner = np.exp(inner - np.max(inner))
            point_u = (inner[:, None] * atom_u[members]).sum(axis=0)
            point_u /= np.linalg.norm(point_u)
            la, lo = from_unit_vectors(point_u)
            lat, lon = float(la), float(lo)
        else:
            point_u = cell_u[first - len(heads)]
            la, lo = from_unit_vectors(point_u)
            lat, lon, where = float(la), float(lo), "no city stands out"
        t_region = self._region_temperature(q, point_u)
        to_region = t_search / t_region
        reg_bg, reg_city = log_bg + to_region * logl, log_pop + to_region * logl_city
        region_mass = self._cell_mass(reg_bg, reg_city, cell_of)
        region, w = hpd_region(level, rows, cols, np.log(np.maximum(region_mass, 1e-300)), self.level)
        low = region.area_km2 > self.low_confidence_km2
        if low:
            note = _join(note, (
                f"low confidence: the {self.level:.0%} region covers {region.area_km2:,.0f} km² "
                f"(as much as a disc of radius {math.sqrt(region.area_km2 / math.pi):,.0f} km); the "
                "point is only the most probable place: see the candidates and the region"
            ))
        candidates = self._candidates(
            level, rows, cell_u, heads, member_of, cell_of, ranked, point_bg, point_city, (lat, lon)
        )
        return self._estimate(
            lat, lon, region=region, level=self.level, consistent=consistent, note=note,
            posterior=CellDensity(level, rows, cols, w), candidates=candidates, low_confidence=low,
            place=where, likelihood_landmarks=round(float(np.sum(q.weight)), 3),
            region_temperature_used=round(t_region, 3),
        )

    def _candidates(
        self,
        level: int,
        rows: IntArray,
        cell_u: FloatArray,
        heads: IntArray,
        member_of: IntArray,
        cell_of: IntArray,
        ranked: IntArray,
        log_bg: FloatArray,
        log_city: FloatArray,
        point: tuple[float, float],
    ) -> tuple[Candidate, ...]:
        """The first ``top_k`` places of ``ranked`` (places of cities, then cells), a cell only
        when no place listed before it covers it, each with its probability under the point's
        posterior (``log_bg``, ``log_city``: the masses that ranked the places). The point's place
        comes first, the others by probability. The events are disjoint, so the probabilities sum
        to at most 1:

        - a place of cities: the mass of its own cities and sites, plus the background of the
          cells within max(``place_km``, the cell's circumradius at its latitude) of it that lie
          nearer to it than to any other place listed;
        - a cell: its own background, plus its cities whose places are not listed.
        """
        if self.top_k <= 0:
            return ()
        from rttgeo.geo.sphere import distance_km

        top = max(float(np.max(log_bg)), float(np.max(log_city)) if len(log_city) else -np.inf)
        bg_mass, city_mass = np.exp(log_bg - top), np.exp(log_city - top)
        total = float(bg_mass.sum() + city_mass.sum())
        pad = np.maximum(self.place_km, circumradius_km(level, rows))
        picked: list[int] = []
        units: list[FloatArray] = []
        for a in ranked[: 50 * self.top_k]:
            if len(picked) == self.top_k:
                break
            a = int(a)
            if a >= len(heads):
                c = a - len(heads)
                u = cell_u[c]
                if any(EARTH_RADIUS_KM * np.arccos(np.clip(v @ u, -1.0, 1.0)) <= pad[c] for v in units):
                    continue  # this cell's mass already counts for a place listed
            else:
                u = self.prior_.unit[int(heads[a])]
            picked.append(a)
            units.append(u)
        # Each cell's background goes to the nearest listed place within its pad; a listed
        # cell keeps its own.
        d = EARTH_RADIUS_KM * np.arccos(np.clip(cell_u @ np.array(units).T, -1.0, 1.0))
        d[d > pad[:, None]] = np.inf
        owner = np.where(np.isfinite(d).any(axis=1), np.argmin(d, axis=1), -1)
        listed = np.zeros(len(heads), dtype=bool)
        for j, a in enumerate(picked):
            if a >= len(heads):
                owner[a - len(heads)] = j
            else:
                listed[a] = True
        bg_owned = np.bincount(owner[owner >= 0], bg_mass[owner >= 0], minlength=len(picked))
        unlisted_in_cell = np.bincount(cell_of[~listed[member_of]], city_mass[~listed[member_of]],
                                       minlength=len(cell_u))
        out = []
        for j, a in enumerate(picked):
            if a < len(heads):
                k = int(heads[a])
                name, country = str(self.prior_.name[k]), str(self.prior_.country[k])
                la, lo = float(self.prior_.lat_deg[k]), float(self.prior_.lon_deg[k])
                mass = float(city_mass[member_of == a].sum() + bg_owned[j])
            else:
                c = a - len(heads)
                lat_c, lon_c = from_unit_vectors(cell_u[c])
                la, lo = float(lat_c), float(lon_c)
                name, country = f"area around {la:.2f}, {lo:.2f}", ""
                mass = float(bg_mass[c] + unlisted_in_cell[c])
            out.append(Candidate(name=name, country=country, lat_deg=la, lon_deg=lo,
                                 probability=mass / total, radius_km=self.place_km,
                                 distance_km=float(distance_km(la, lo, *point))))
        # The point's place first, the others by their probability (stable: ties keep the rank).
        return (out[0], *sorted(out[1:], key=lambda c: -c.probability))

    @staticmethod
    def _cell_mass(log_bg: FloatArray, log_city: FloatArray, cell_of: IntArray) -> FloatArray:
        """Per cell: its background plus every city inside it (exp-sum, scaled by the largest)."""
        top = max(float(np.max(log_bg)), float(np.max(log_city)) if len(log_city) else -np.inf)
        mass = np.exp(log_bg - top)
        np.add.at(mass, cell_of, np.exp(log_city - top))
        return mass


def common_mode_share(
    point_u: FloatArray, landmarks_u: FloatArray, scale_km: FloatArray, weight: FloatArray
) -> float:
    """How much of a common shift of every residual moves the location, seen from ``point_u``:
    b^T A^-1 b, with J_i = sqrt(w_i) g_i / scale_i (g_i the unit direction away from landmark i
    in the tangent plane at the point, scale_i = d z_i / d distance inverted: sigma_i (D0 + d_i)),
    A = J^T J and b = J^T sqrt(w). It is sum(w) when every landmark lies in one direction (a
    common shift moves the point) and near 0 when they surround the point (it does not).

    Linearised least squares with residuals of variance s^2 and equal correlation rho gives a
    location covariance s^2 ((1 - rho) A^-1 + rho A^-1 b b^T A^-1); its largest ratio to the
    independent A^-1 is s^2 (1 - rho + rho b^T A^-1 b), the region's temperature.
    """
    x = point_u / np.linalg.norm(point_u)
    east = np.cross([0.0, 0.0, 1.0], x)
    if np.linalg.norm(east) < 1e-9:
        east = np.array([1.0, 0.0, 0.0])
    east /= np.linalg.norm(east)
    north = np.cross(x, east)
    away = x[None, :] * (landmarks_u @ x)[:, None] - landmarks_u  # tangent, away from landmark
    g = np.stack([away @ east, away @ north], axis=1)
    norm = np.linalg.norm(g, axis=1)
    ok = norm > 1e-12  # a landmark at the point has no direction
    sw = np.sqrt(weight)
    jac = np.zeros_like(g)
    jac[ok] = (sw[ok] / scale_km[ok])[:, None] * g[ok] / norm[ok, None]
    a = jac.T @ jac
    b = jac.T @ sw
    if np.linalg.cond(a) > 1e12:
        return float(np.sum(weight))
    return float(min(b @ np.linalg.solve(a, b), np.sum(weight)))


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a else b
