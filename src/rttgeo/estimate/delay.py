"""Delay-to-distance models, fitted from a mesh of landmark-to-landmark RTTs.

Each model maps the RTT from a landmark to how far the host can be (hard models) or how likely each
distance is (probabilistic models). Conventions: ``rtt_ms`` arrays are per landmark in mesh order;
distances in km on the sphere of :data:`~rttgeo.units.EARTH_RADIUS_KM`.

- :class:`SpeedOfLight`: radius = RTT x c/2 x fraction. Sound against every medium at fraction 1.
- :class:`Bestline`: CBG's per-landmark bestline (Gueye et al. 2006): the line rtt = m d + b below
  every (distance, RTT) point of the landmark's mesh pairs that lies closest to them, with b >= 0 and
  a slope never faster than light in fibre (m >= 1 / 99.93 ms per km); radius = (rtt - b) / m.
- :class:`DelayDistance`: probabilistic model in the spirit of Spotter (Laki et al. 2011), our design:
  pooled over landmarks, distance given RTT is log-normal in (1 + d / d0) with a median and spread
  that vary smoothly with log RTT, fitted by binned robust statistics; hard cap at the speed of light.
- :class:`LandmarkDelayDistance`: the pooled model adjusted per landmark (its own median offset and
  spread, from its own mesh pairs), for RTTs long enough that the landmark's routes matter.
- :class:`ForwardDelayDistance`: the other way round, p(RTT | d): log RTT is Gaussian given
  log(1 + d / d0), pooled and per landmark. The likelihood of a position, free of the fit mesh's
  distribution of pair distances that p(d | RTT) carries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from rttgeo.geo.feasible import HALF_CIRCUMFERENCE_KM
from rttgeo.models import Mesh
from rttgeo.units import EARTH_RADIUS_KM, FIBRE_KM_PER_RTT_MS, MAX_KM_PER_RTT_MS

__all__ = [
    "Bestline",
    "DelayDistance",
    "ForwardDelayDistance",
    "LandmarkDelayDistance",
    "SpeedOfLight",
    "fit_bestline",
    "mesh_pairs",
    "symmetric_rtt_ms",
]

FloatArray = NDArray[np.float64]

#: Smallest slope a bestline may have: light in fibre, ms of RTT per km.
MIN_SLOPE_MS_PER_KM = 1.0 / FIBRE_KM_PER_RTT_MS


def symmetric_rtt_ms(rtt_ms: FloatArray) -> FloatArray:
    """Element-wise min of both directions (NaN only where neither was measured); diagonal NaN.

    The smaller of the two directed minima is the better estimate of the propagation delay.
    """
    s = np.fmin(rtt_ms, rtt_ms.T)
    s = s.copy()
    np.fill_diagonal(s, np.nan)
    return s


def mesh_pairs(mesh: Mesh, distance_km: FloatArray, usable: NDArray[np.bool_]) -> tuple[
    FloatArray, FloatArray
]:
    """(rtt_ms, distance_km) of every measured unordered pair between usable hosts."""
    s = symmetric_rtt_ms(mesh.rtt_ms)
    idx = np.flatnonzero(usable)
    sub = s[np.ix_(idx, idx)]
    dsub = distance_km[np.ix_(idx, idx)]
    iu = np.triu_indices(len(idx), 1)
    r, d = sub[iu], dsub[iu]
    ok = np.isfinite(r)
    return r[ok], d[ok]


@dataclass(frozen=True, slots=True)
class SpeedOfLight:
    """Radius = RTT x 149.9 km/ms x ``fraction_of_c`` (2/3 for fibre, 1 for a sound bound)."""

    fraction_of_c: float = 2.0 / 3.0

    def max_distance_km(self, rtt_ms: FloatArray, landmark_idx: NDArray[np.int64] | None = None) -> (
        FloatArray
    ):
        return np.asarray(rtt_ms, dtype=float) * MAX_KM_PER_RTT_MS * self.fraction_of_c


def fit_bestline(distance_km: FloatArray, rtt_ms: FloatArray) -> tuple[float, float]:
    """CBG bestline (slope ms/km, intercept ms) of one landmark's points; no LP solver.

    Maximises m * mean(d) + b subject to b <= r_j - m d_j for all j, b >= 0, m >= 1/99.93 (light in
    fibre): :func:`_bestlines` on one row, equal to scipy's LP optimum to 1e-7 (tested). Points
    faster than light in fibre must be removed first.
    """
    d = np.asarray(distance_km, dtype=float)
    if d.size == 0:
        return MIN_SLOPE_MS_PER_KM, 0.0
    m, b = _bestlines(d[None, :], np.asarray(rtt_ms, dtype=float)[None, :])
    return float(m[0]), float(b[0])


def _bestlines(distance_km: FloatArray, rtt_ms: FloatArray, iterations: int = 44) -> tuple[
    FloatArray, FloatArray
]:
    """CBG bestlines of every row at once (NaN distance = point absent), by bisection.

    g(m) = min_j r_j + m (mean(d) - d_j) is the objective; it is the smaller of an increasing part
    (points left of the mean) and a decreasing part (right of it), so its maximum is where they
    cross; 44 halvings of [1/99.93, min r/d] pin the slope to about 6e-14 of that interval.
    """
    d = distance_km
    present = np.isfinite(d)
    r = np.where(present, rtt_ms, np.nan)
    count = present.sum(axis=1)
    xbar = np.where(present, d, 0.0).sum(axis=1) / np.maximum(count, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(present & (d > 0), r / d, np.inf)
    m_max = np.fmax(ratio.min(axis=1), MIN_SLOPE_MS_PER_KM)
    left = present & (d <= xbar[:, None])
    right = present & (d > xbar[:, None])
    lo = np.full(len(d), MIN_SLOPE_MS_PER_KM)
    hi = np.where(np.isfinite(m_max), m_max, 1.0)
    off = np.where(present, xbar[:, None] - d, 0.0)
    rr = np.where(present, r, 0.0)
    r_left, off_left = _packed(left, rr, off)
    r_right, off_right = _packed(right, rr, off)
    buf_left, buf_right = np.empty_like(r_left), np.empty_like(r_right)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        # min_j r_j + mid off_j of each side, in buffers (the same values, no allocations).
        np.multiply(off_left, mid[:, None], out=buf_left)
        buf_left += r_left
        f = buf_left.min(axis=1, initial=np.inf)
        np.multiply(off_right, mid[:, None], out=buf_right)
        buf_right += r_right
        g = buf_right.min(axis=1, initial=np.inf)
        up = f < g  # the increasing part is still the lower: the optimum lies at larger m
        lo = np.where(up, mid, lo)
        hi = np.where(up, hi, mid)
    m = np.clip(0.5 * (lo + hi), MIN_SLOPE_MS_PER_KM, np.where(np.isfinite(m_max), m_max, np.inf))
    b = np.maximum(np.min(np.where(present, rr - m[:, None] * np.where(present, d, 0.0), np.inf),
                          axis=1), 0.0)
    return m, np.where(present.any(axis=1), b, np.nan)


def _packed(mask: NDArray[np.bool_], rtt_ms: FloatArray, offset: FloatArray) -> tuple[
    FloatArray, FloatArray
]:
    """(rtt, offset) of the ``mask``ed points of each row, moved to the front and cut to the
    longest row; the rest is (inf, 0), which never wins a minimum of rtt + m offset."""
    width = int(mask.sum(axis=1).max(initial=0))
    order = np.argsort(~mask, axis=1, kind="stable")[:, :width]
    keep = np.take_along_axis(mask, order, axis=1)
    r = np.where(keep, np.take_along_axis(rtt_ms, order, axis=1), np.inf)
    return r, np.where(keep, np.take_along_axis(offset, order, axis=1), 0.0)


@dataclass(frozen=True, slots=True)
class Bestline:
    """Per-landmark bestlines: ``slope_ms_per_km[i]``, ``intercept_ms[i]``; NaN where not fitted."""

    slope_ms_per_km: FloatArray
    intercept_ms: FloatArray

    @staticmethod
    def fit(
        rtt_ms: FloatArray,
        distance_km: FloatArray,
        usable: NDArray[np.bool_],
        min_points: int = 5,
        pooled: tuple[float, float] | None = None,
    ) -> Bestline:
        """Fit each landmark's bestline from its pairs with other usable landmarks.

        ``rtt_ms`` is the symmetric (N, N) matrix, ``distance_km`` the (N, N) distances; pairs faster
        than light in fibre are skipped (their coordinates are wrong). Landmarks with fewer than
        ``min_points`` pairs get the pooled bestline of all usable pairs (or ``pooled`` =
        (slope, intercept) when the mesh has fewer than ``min_points`` pairs in all).
        """
        n = len(rtt_ms)
        physical = np.isfinite(rtt_ms) & (rtt_ms * FIBRE_KM_PER_RTT_MS >= distance_km)
        physical &= usable[None, :] & usable[:, None]
        np.fill_diagonal(physical, False)
        slope, icpt = _bestlines(np.where(physical, distance_km, np.nan), rtt_ms)
        fitted = usable & (physical.sum(axis=1) >= min_points)
        iu = np.triu_indices(n, 1)
        kk = physical[iu]
        missing = usable & ~fitted
        if missing.any() and (kk.sum() >= min_points or pooled is None):
            # The pooled line is needed only for landmarks with too few points of their own.
            pooled = fit_bestline(distance_km[iu][kk], rtt_ms[iu][kk])
        slope[~usable] = np.nan
        icpt[~usable] = np.nan
        if missing.any():
            assert pooled is not None
            slope[missing], icpt[missing] = pooled
        return Bestline(slope, icpt)

    def max_distance_km(self, rtt_ms: FloatArray, landmark_idx: NDArray[np.int64]) -> FloatArray:
        """Radius per landmark; never above the fibre bound; 0 when the RTT is below the intercept."""
        m = self.slope_ms_per_km[landmark_idx]
        b = self.intercept_ms[landmark_idx]
        return np.maximum(np.asarray(rtt_ms) - b, 0.0) / m


def _group_medians(sorted_values: FloatArray, start: NDArray[np.int64], size: NDArray[np.int64]) -> (
    FloatArray
):
    """Median of each run ``sorted_values[start : start + size]`` (each run sorted, size >= 1):
    the middle value, or the mean of the two middle values, as :func:`numpy.median` computes it."""
    lo = sorted_values[start + (size - 1) // 2]
    hi = sorted_values[start + size // 2]
    return np.where(size % 2 == 1, lo, (lo + hi) / 2.0)


def _sorted_within(values: FloatArray, group: NDArray[np.int64]) -> NDArray[np.int64]:
    """Order that sorts ``values`` within each run of equal ``group`` (non-decreasing, >= 0) and
    keeps the runs in place: ``np.lexsort((values, group))``, with numpy's fast sorts."""
    order = np.argsort(values)
    # Small non-negative group numbers in their smallest dtype: numpy sorts those stably by radix.
    small = group[order].astype(np.min_scalar_type(int(group.max(initial=0))))
    return order[np.argsort(small, kind="stable")]


def _binned_medians(
    x: FloatArray, y: FloatArray, bin_width: float, min_per_bin: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(median x, median y, 1.4826 MAD of y) per bin of ``bin_width`` in ``x`` (sorted), bins merged
    from the low end until each holds ``min_per_bin`` points (a short last bin joins the one before)."""
    edges = np.arange(x[0], x[-1] + bin_width, bin_width)
    cut = np.searchsorted(x, edges[1:-1])
    groups: list[tuple[int, int]] = []
    start = 0
    for c in [*cut.tolist(), len(x)]:
        if c - start >= min_per_bin or (c == len(x) and c > start):
            if c - start < min_per_bin and groups:
                groups[-1] = (groups[-1][0], c)
            else:
                groups.append((start, c))
            start = c
    start_of = np.array([g[0] for g in groups])
    size = np.array([g[1] - g[0] for g in groups])
    gid = np.repeat(np.arange(len(groups)), size)
    knots = _group_medians(x, start_of, size)  # x is sorted, so within each group too
    y = y[_sorted_within(y, gid)]
    med = _group_medians(y, start_of, size)
    dev = np.abs(y - med[gid])
    return knots, med, 1.4826 * _group_medians(dev[_sorted_within(dev, gid)], start_of, size)


def _row_nanmedians(a: FloatArray) -> FloatArray:
    """:func:`numpy.nanmedian` along axis 1 (the same values; NaN for a row of NaN only), by one
    sort instead of numpy's masked-array path (about 10 x faster on a 250 x 250 mesh)."""
    s = np.sort(a, axis=1)  # NaN sort last
    n = (~np.isnan(s)).sum(axis=1)
    rows = np.arange(len(s))
    lo = s[rows, np.maximum(n - 1, 0) // 2]
    hi = s[rows, np.minimum(n // 2, s.shape[1] - 1)]
    return np.where(n == 0, np.nan, np.where(n % 2 == 1, lo, (lo + hi) / 2.0))


def _check_ramp(ramp_ms: tuple[float, float]) -> tuple[float, float]:
    if not 0 < ramp_ms[0] < ramp_ms[1]:
        raise ValueError(f"ramp_ms must be 0 < low < high, got {ramp_ms}")
    return float(ramp_ms[0]), float(ramp_ms[1])


def _ramp_weight(rtt_ms: FloatArray, ramp_ms: tuple[float, float]) -> FloatArray:
    """How much a landmark's own offsets act at each RTT: 0 below ``ramp_ms[0]``, 1 from
    ``ramp_ms[1]``, linear in log RTT between."""
    lo, hi = np.log(ramp_ms[0]), np.log(ramp_ms[1])
    return np.clip((np.log(np.asarray(rtt_ms, dtype=float)) - lo) / (hi - lo), 0.0, 1.0)


def _landmark_offsets(
    e: FloatArray, sigma: FloatArray, shrink_pairs: float
) -> tuple[FloatArray, FloatArray]:
    """(shift, spread) per landmark from its pooled residuals ``e`` (N, N; NaN = no pair) and the
    pool's spreads ``sigma``: the median residual and the MAD of the standardised ones, shrunk by k
    / (k + ``shrink_pairs``) for k pairs (the spread towards 1, clipped to [1, 3]); a landmark
    with no pairs gets (0, 1)."""
    k = np.isfinite(e).sum(axis=1)
    has = k > 0
    shrink = k / (k + shrink_pairs)
    shift = np.zeros(len(e))
    spread = np.ones(len(e))
    if has.any():
        shift[has] = _row_nanmedians(e[has]) * shrink[has]
        z = (e[has] - shift[has, None]) / sigma[has]
        mad = 1.4826 * _row_nanmedians(np.abs(z - _row_nanmedians(z)[:, None]))
        spread[has] = np.clip((k[has] * mad + shrink_pairs) / (k[has] + shrink_pairs), 1.0, 3.0)
    return shift, spread


class _LogNormalDistance:
    """Shared density of the delay-distance models: log(1 + d / D0) ~ N(mu, sigma) per landmark."""

    __slots__ = ()
    D0_KM = 50.0

    def params(
        self, rtt_ms: FloatArray, landmark_idx: NDArray[np.int64] | None = None
    ) -> tuple[FloatArray, FloatArray]:
        raise NotImplementedError

    def log_likelihood(
        self,
        distance_km: FloatArray,
        rtt_ms: FloatArray,
        cap: bool = True,
        landmark_idx: NDArray[np.int64] | None = None,
        pad_km: FloatArray | float = 0.0,
    ) -> FloatArray:
        """Log of the surface density of the host's position given one landmark's RTT.

        ``distance_km`` (cells, L), ``rtt_ms`` (L,); up to a constant per landmark. The density of d
        is spread over the circle of points at distance d (circumference 2 pi R sin(d / R)), so the
        surface density is p(d | r) / (2 pi R sin(d / R)); -inf beyond the speed-of-light radius
        when ``cap`` (for a cell of circumradius ``pad_km`` (cells, 1), when no point of the cell is
        within that radius). ``landmark_idx`` (L,) names the landmarks, for per-landmark models.
        """
        z, log_norm = self.standardized(distance_km, rtt_ms, cap, landmark_idx, pad_km)
        # -0.5 z z + log_norm, in z's buffer (the same operations in the same order).
        out = np.multiply(z, -0.5)
        out *= z
        out += log_norm
        return out

    def standardized(
        self,
        distance_km: FloatArray,
        rtt_ms: FloatArray,
        cap: bool = True,
        landmark_idx: NDArray[np.int64] | None = None,
        pad_km: FloatArray | float = 0.0,
    ) -> tuple[FloatArray, FloatArray]:
        """(z, log_norm): the log-likelihood of :meth:`log_likelihood` is -z^2 / 2 + log_norm, with
        z = (log(1 + d / D0) - mu) / sigma the standardised residual and log_norm = -log(sigma)
        - log((D0 + d) sin(d / R)) (-inf beyond the speed-of-light radius when ``cap``). Estimators
        that model how residuals of one host correlate need z on its own."""
        mu, sigma = self.params(rtt_ms, landmark_idx)
        d = np.maximum(distance_km, 1.0)
        shape = np.broadcast_shapes(d.shape, np.shape(mu))
        if d.shape != shape:
            d = np.broadcast_to(d, shape).copy()
        # z = (log1p(d / D0) - mu) / sigma and log_norm = -log(sigma) - log((D0 + d) sin(min(d / R,
        # pi - 1e-6))), each computed in one buffer: these arrays are (cells, landmarks), and the
        # posterior estimators spend most of their time here.
        z = np.divide(d, self.D0_KM)
        np.log1p(z, out=z)
        z -= mu
        z /= sigma
        log_norm = np.divide(d, EARTH_RADIUS_KM)
        np.minimum(log_norm, np.pi - 1e-6, out=log_norm)
        np.sin(log_norm, out=log_norm)
        d += self.D0_KM
        np.multiply(d, log_norm, out=log_norm)
        np.log(log_norm, out=log_norm)
        np.subtract(-np.log(sigma), log_norm, out=log_norm)
        if cap:
            reach = np.asarray(rtt_ms) * MAX_KM_PER_RTT_MS
            far = np.subtract(distance_km, pad_km)
            np.copyto(log_norm, -np.inf, where=~(far <= reach))
        return z, log_norm

    def residuals(
        self, distance_km: FloatArray, rtt_ms: FloatArray, landmark_idx: NDArray[np.int64] | None = None
    ) -> FloatArray:
        """Standardised residuals (log(1 + d / D0) - mu) / sigma at the true distances."""
        mu, sigma = self.params(rtt_ms, landmark_idx)
        return (np.log1p(np.asarray(distance_km) / self.D0_KM) - mu) / sigma

    def residual_grid(
        self, distance_km: FloatArray, rtt_ms: FloatArray, landmark_idx: NDArray[np.int64] | None = None
    ) -> FloatArray:
        """(distances, landmarks): :meth:`residuals` of every landmark (``rtt_ms``, L) at every
        one of ``distance_km`` (n,)."""
        mu, sigma = self.params(rtt_ms, landmark_idx)
        return (np.log1p(np.asarray(distance_km, dtype=float) / self.D0_KM)[:, None] - mu) / sigma

    def distance_scale_km(
        self, rtt_ms: FloatArray, landmark_idx: NDArray[np.int64] | None, distance_km: FloatArray
    ) -> FloatArray:
        """km of distance per unit of z at ``distance_km``: sigma (D0 + d)."""
        _, sigma = self.params(rtt_ms, landmark_idx)
        return sigma * (self.D0_KM + distance_km)

    def upper_log_likelihood(
        self,
        distance_km: FloatArray,
        pad_km: FloatArray,
        rtt_ms: FloatArray,
        landmark_idx: NDArray[np.int64] | None,
        weight: FloatArray,
        cap: bool,
    ) -> FloatArray:
        """Upper bound, per cell, of the weighted sum of log-likelihoods over a cell whose distances
        from each landmark lie within ``distance_km`` (cells, L; float32, overwritten) +- ``pad_km``
        (cells,).

        Computed in float32 (about 1e-6 relative): the bound only decides which cells to refine,
        with a margin of many nats.
        """
        f4 = np.float32
        rtt = rtt_ms
        dist = distance_km
        # (cells, landmarks) arrays, each step in place (clip = minimum of maximum).
        mu, sigma = (a.astype(f4) for a in self.params(rtt, landmark_idx))
        d0 = f4(self.D0_KM)
        pad = pad_km.astype(f4)[:, None]
        near = np.subtract(dist, pad)
        np.minimum(np.maximum(near, 1.0, out=near), HALF_CIRCUMFERENCE_KM, out=near)
        far = np.add(dist, pad, out=dist)
        np.minimum(np.maximum(far, 1.0, out=far), HALF_CIRCUMFERENCE_KM - 1.0, out=far)
        # The best distance reachable inside the cell: the target distance clipped to [near, far].
        best = np.maximum(d0 * np.expm1(mu)[None, :], near)
        np.minimum(best, far, out=best)
        # Within the cell the Jacobian terms vary too: -log(D0 + d) is largest at the nearest
        # distance, and -log(sin(d / R)) at whichever end of the range has the smaller sine (sin is
        # concave on [0, pi], so its minimum over an interval is at an end).
        r_inv = f4(1.0 / EARTH_RADIUS_KM)
        sin_min = np.sin(np.multiply(near, r_inv))
        far *= r_inv
        np.minimum(sin_min, np.sin(far, out=far), out=sin_min)
        log_norm = np.add(near, d0)
        log_norm *= np.maximum(sin_min, f4(1e-12), out=sin_min)
        np.subtract(-np.log(sigma), np.log(log_norm, out=log_norm), out=log_norm)
        if cap:
            np.copyto(log_norm, -np.inf, where=~(near <= (rtt * MAX_KM_PER_RTT_MS).astype(f4)))
        w = weight.astype(f4)[None, :]
        z = np.divide(best, d0, out=best)
        np.log1p(z, out=z)
        z -= mu
        z /= sigma
        wz = np.multiply(w, z)
        wz *= z
        quad = wz.sum(axis=1)
        log_norm *= w
        return -0.5 * quad + log_norm.sum(axis=1)


@dataclass(frozen=True, slots=True)
class DelayDistance(_LogNormalDistance):
    """Pooled probabilistic delay-distance model (Spotter-like, our design).

    For an RTT r, log(1 + d / D0_KM) is Gaussian with median ``mu(log r)`` and spread
    ``sigma(log r)``, both piecewise linear between bin centres (``knots_log_rtt``) fitted from the
    mesh pairs (median and 1.4826 MAD per bin, so outliers from bad coordinates weigh little).
    The density is 0 beyond the speed-of-light radius. The log(1 + d/D0) scale keeps the spread of
    short, local paths (tens of km) from being drowned by the spread of long ones.
    """

    knots_log_rtt: FloatArray
    mu: FloatArray
    sigma: FloatArray
    #: Below the first knot, the median falls in proportion to the RTT, to zero distance at zero
    #: RTT (False: flat, the median of the shortest pairs whatever the RTT; the old behaviour).
    through_origin: bool = True

    @staticmethod
    def fit(
        rtt_ms: FloatArray,
        distance_km: FloatArray,
        min_per_bin: int = 20,
        bin_width_log: float = 0.15,
    ) -> DelayDistance:
        """Fit from pooled pairs (``rtt_ms``, ``distance_km``).

        Bins of ``bin_width_log`` in ln RTT (about 16 % steps), merged from the short end until each
        holds ``min_per_bin`` pairs, so that the short RTTs that locate a host best get fine bins.
        """
        r = np.asarray(rtt_ms, dtype=float)
        d = np.asarray(distance_km, dtype=float)
        ok = np.isfinite(r) & (r > 0)
        r, d = r[ok], d[ok]
        if len(r) < 2 * min_per_bin:
            raise ValueError(f"need at least {2 * min_per_bin} mesh pairs, got {len(r)}")
        order = np.argsort(r)
        knots, mu, mad = _binned_medians(
            np.log(r[order]), np.log1p(d[order] / DelayDistance.D0_KM), bin_width_log, min_per_bin
        )
        return DelayDistance(knots, np.maximum.accumulate(mu), np.maximum(mad, 0.05))

    def params(
        self, rtt_ms: FloatArray, landmark_idx: NDArray[np.int64] | None = None
    ) -> tuple[FloatArray, FloatArray]:
        """(mu, sigma) of log(1 + d / D0) for each RTT.

        Between the knots both are linear in log RTT; beyond the last knot they stay flat. Below the
        first knot (r1, the median RTT of the shortest pairs: 1.7 ms on WonderProxy) the spread
        stays flat and, with ``through_origin``, the median falls in proportion: mu(r) = mu(r1) r /
        r1. Zero RTT is the one place the model is sure of (zero distance), and a mesh seldom holds
        pairs in one city: extrapolating flat read an RTT of 0.45 ms as "about 50 km, give or take
        10" and nearly ruled out the landmark's own building (issue #11).
        ``landmark_idx`` is accepted for the per-landmark model's signature and ignored: pooled.
        """
        r = np.asarray(rtt_ms, dtype=float)
        lr = np.log(r)
        mu = np.interp(lr, self.knots_log_rtt, self.mu)
        if self.through_origin:
            r1 = np.exp(self.knots_log_rtt[0])
            mu = np.where(r < r1, self.mu[0] * r / r1, mu)
        return mu, np.interp(lr, self.knots_log_rtt, self.sigma)



@dataclass(frozen=True, slots=True)
class LandmarkDelayDistance(_LogNormalDistance):
    """The pooled :class:`DelayDistance` adjusted per landmark, from the landmark's own mesh pairs.

    Some landmarks' routes are longer than the pool's (Hanoi reaches hosts 1,000 km away in 58 ms,
    Des Moines reaches Minneapolis, 443 km, through Chicago in 21 ms), some are noisier. For landmark
    i and every other usable landmark j, the pooled residual is e_ij = log(1 + d_ij / D0) - mu(r_ij):
    - ``shift[i]``: the median of e_ij, shrunk by k / (k + ``shrink_pairs``) for k pairs;
    - ``spread[i]``: the MAD of (e_ij - shift) / sigma(r_ij), shrunk towards 1 the same way and
      clipped to [1, 3]: a landmark may be less predictable than the pool, never more (a tighter
      spread from ~240 pairs makes the posterior overconfident; measured in docs/estimation.md).
    Both act in full from ``ramp_ms[1]`` of RTT and not at all below ``ramp_ms[0]`` (linear in log RTT
    between): short RTTs fix a host near the landmark whatever its long routes do, and the mesh's
    pairs are mostly long. A landmark with no pairs gets the pooled model.
    """

    pooled: DelayDistance
    shift: FloatArray
    spread: FloatArray
    ramp_ms: tuple[float, float] = (10.0, 50.0)

    @staticmethod
    def fit(
        pooled: DelayDistance,
        rtt_ms: FloatArray,
        distance_km: FloatArray,
        usable: NDArray[np.bool_],
        shrink_pairs: float = 5.0,
        ramp_ms: tuple[float, float] = (10.0, 50.0),
    ) -> LandmarkDelayDistance:
        """Per-landmark offsets from the symmetric (N, N) ``rtt_ms`` and ``distance_km`` matrices."""
        ramp = _check_ramp(ramp_ms)
        r = np.where(usable[None, :] & usable[:, None], np.asarray(rtt_ms, dtype=float), np.nan)
        np.fill_diagonal(r, np.nan)
        ok = np.isfinite(r) & (r > 0)
        safe = np.where(ok, r, 1.0)
        mu, sigma = pooled.params(safe)
        e = np.where(ok, np.log1p(np.asarray(distance_km) / pooled.D0_KM) - mu, np.nan)
        shift, spread = _landmark_offsets(e, sigma, shrink_pairs)
        return LandmarkDelayDistance(pooled, shift, spread, ramp)

    def params(
        self, rtt_ms: FloatArray, landmark_idx: NDArray[np.int64] | None = None
    ) -> tuple[FloatArray, FloatArray]:
        """(mu, sigma) of log(1 + d / D0) for each RTT from landmark ``landmark_idx`` (same shape)."""
        mu, sigma = self.pooled.params(rtt_ms)
        if landmark_idx is None:
            return mu, sigma
        w = _ramp_weight(rtt_ms, self.ramp_ms)
        return (
            mu + w * self.shift[landmark_idx],
            sigma * (1.0 + w * (self.spread[landmark_idx] - 1.0)),
        )


@dataclass(frozen=True, slots=True)
class ForwardDelayDistance:
    """Probabilistic model of the RTT given the distance, p(RTT | d), pooled and per landmark.

    log RTT is Gaussian with median ``mu(u)`` and spread ``sigma(u)`` in u = log(1 + d / D0_KM),
    both piecewise linear between knots (``knots_u``) fitted from the mesh pairs (median and 1.4826
    MAD of log RTT per bin of u, so outliers from bad coordinates weigh little); the median is made
    non-decreasing in distance. Beyond the last knot both stay flat. Below the first knot the
    spread stays flat and the median RTT falls linearly with the distance, as propagation delay
    does, to ``floor_ms`` at zero distance: the intercept of the pooled CBG bestline of the fit
    pairs (Gueye et al. 2006: the delay that no distance explains; WonderProxy 2020: 0.22 ms), at
    most half the first knot's RTT. A sparse mesh's first knot can be 500-2,000 km out, and a mesh
    seldom has pairs within one city.

    Per landmark (``shift``, ``spread``; empty for the pooled model) the median moves by the
    landmark's own median residual in log RTT and the spread widens by its own MAD, both shrunk
    towards the pool by k / (k + ``shrink_pairs``) for k pairs, acting in full from the RTT
    ``ramp_ms[1]`` and not at all below ``ramp_ms[0]``, as in :class:`LandmarkDelayDistance`.

    Unlike :class:`DelayDistance`'s p(d | RTT), this likelihood carries no trace of how the fit
    mesh's pairs are spread in distance: multiplied over K landmarks, p(d | RTT) counts the mesh's
    pair-distance distribution K times (docs/estimation.md, "Where the clustered mesh's excess
    confidence comes from"). The density is 0 beyond the speed-of-light radius.
    """

    knots_u: FloatArray
    mu: FloatArray
    sigma: FloatArray
    #: Median RTT at zero distance (ms): the pooled CBG bestline's intercept of the fit pairs.
    floor_ms: float = 0.0
    shift: FloatArray = field(default_factory=lambda: np.zeros(0))
    spread: FloatArray = field(default_factory=lambda: np.ones(0))
    ramp_ms: tuple[float, float] = (10.0, 50.0)
    #: Largest RTT of the fit pairs (ms). A larger RTT is read as this one: the model knows
    #: nothing of the RTT's spread beyond its data, and a 60 s RTT read as such favoured the
    #: distance where the spread is widest (70 km from the landmark, on WonderProxy) and gave a
    #: 22 km region. Read at the ceiling it favours no distance but the farthest, as it should.
    ceiling_ms: float = float("inf")
    #: Tables of the search bound (:meth:`_bound_tables`), made at construction.
    bound_tables_: tuple[FloatArray, FloatArray, FloatArray] = field(
        init=False, repr=False, compare=False
    )

    D0_KM = 50.0

    @staticmethod
    def fit(
        rtt_ms: FloatArray,
        distance_km: FloatArray,
        min_per_bin: int = 20,
        bin_width: float = 0.15,
    ) -> ForwardDelayDistance:
        """Pooled model from pairs (``rtt_ms``, ``distance_km``): bins of ``bin_width`` in u,
        merged from the short end until each holds ``min_per_bin`` pairs."""
        r = np.asarray(rtt_ms, dtype=float)
        d = np.asarray(distance_km, dtype=float)
        ok = np.isfinite(r) & (r > 0) & np.isfinite(d)
        r, d = r[ok], d[ok]
        if len(r) < 2 * min_per_bin:
            raise ValueError(f"need at least {2 * min_per_bin} mesh pairs, got {len(r)}")
        u = np.log1p(np.maximum(d, 1.0) / ForwardDelayDistance.D0_KM)
        order = np.argsort(u)
        knots, mu, mad = _binned_medians(u[order], np.log(r[order]), bin_width, min_per_bin)
        physical = r * FIBRE_KM_PER_RTT_MS >= d
        _, floor = fit_bestline(d[physical], r[physical]) if physical.any() else (0.0, 0.0)
        floor = min(float(floor), 0.5 * float(np.exp(mu[0])))
        return ForwardDelayDistance(knots, np.maximum.accumulate(mu), np.maximum(mad, 0.05), floor,
                                    ceiling_ms=float(r.max()))

    def per_landmark(
        self,
        rtt_ms: FloatArray,
        distance_km: FloatArray,
        usable: NDArray[np.bool_],
        shrink_pairs: float = 5.0,
        ramp_ms: tuple[float, float] = (10.0, 50.0),
    ) -> ForwardDelayDistance:
        """This pooled model with each landmark's offsets, from the symmetric (N, N) ``rtt_ms`` and
        ``distance_km`` matrices (class docstring)."""
        ramp = _check_ramp(ramp_ms)
        r = np.where(usable[None, :] & usable[:, None], np.asarray(rtt_ms, dtype=float), np.nan)
        np.fill_diagonal(r, np.nan)
        ok = np.isfinite(r) & (r > 0)
        mu, sigma = self._curve(np.asarray(distance_km, dtype=float))
        e = np.where(ok, np.log(np.where(ok, r, 1.0)) - mu, np.nan)
        shift, spread = _landmark_offsets(e, sigma, shrink_pairs)
        return ForwardDelayDistance(self.knots_u, self.mu, self.sigma, self.floor_ms, shift, spread, ramp,
                                    self.ceiling_ms)

    def _curve(self, distance_km: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Pooled (median log RTT, spread) at each distance (floored at 1 km)."""
        d = np.maximum(distance_km, 1.0)
        u = np.log1p(d / self.D0_KM)
        mu = np.interp(u, self.knots_u, self.mu)
        low = u < self.knots_u[0]
        if low.any():  # few cells are that near a landmark: compute there only
            d1 = self.D0_KM * np.expm1(self.knots_u[0])
            r1 = np.exp(self.mu[0])
            mu[low] = np.log(self.floor_ms + (r1 - self.floor_ms) * d[low] / d1)
        return mu, np.interp(u, self.knots_u, self.sigma)

    def rtt_quantile_ms(self, distance_km: FloatArray, z: float = 0.0) -> FloatArray:
        """The pooled model's RTT (ms) at ``z`` spreads from the median, at each distance (z = 0:
        the median; +-1.645: the central 90 %)."""
        mu, sigma = self._curve(np.asarray(distance_km, dtype=float))
        return np.exp(mu + z * sigma)

    def _offsets(
        self, rtt_ms: FloatArray, landmark_idx: NDArray[np.int64] | None
    ) -> tuple[FloatArray | float, FloatArray | float]:
        """(shift of the median log RTT, factor of the spread) of each landmark at its RTT."""
        if landmark_idx is None or len(self.shift) == 0:
            return 0.0, 1.0
        w = _ramp_weight(rtt_ms, self.ramp_ms)
        return w * self.shift[landmark_idx], 1.0 + w * (self.spread[landmark_idx] - 1.0)

    def residuals(
        self, distance_km: FloatArray, rtt_ms: FloatArray, landmark_idx: NDArray[np.int64] | None = None
    ) -> FloatArray:
        """Standardised residuals (log RTT - median) / spread at the true distances."""
        return self.standardized(distance_km, rtt_ms, False, landmark_idx)[0]

    def residual_grid(
        self, distance_km: FloatArray, rtt_ms: FloatArray, landmark_idx: NDArray[np.int64] | None = None
    ) -> FloatArray:
        """(distances, landmarks): :meth:`residuals` of every landmark (``rtt_ms``, L) at every
        one of ``distance_km`` (n,), the same values, reading the pooled curve n times, not n L."""
        mu, sigma = self._curve(np.asarray(distance_km, dtype=float))
        shift, factor = self._offsets(rtt_ms, landmark_idx)
        sigma = sigma[:, None] * factor
        return (self._log_rtt(rtt_ms) - shift - mu[:, None]) / sigma

    def _log_rtt(self, rtt_ms: FloatArray) -> FloatArray:
        """log RTT, an RTT above ``ceiling_ms`` read as the ceiling."""
        return np.log(np.minimum(np.asarray(rtt_ms, dtype=float), self.ceiling_ms))

    def standardized(
        self,
        distance_km: FloatArray,
        rtt_ms: FloatArray,
        cap: bool = True,
        landmark_idx: NDArray[np.int64] | None = None,
        pad_km: FloatArray | float = 0.0,
    ) -> tuple[FloatArray, FloatArray]:
        """(z, log_norm): the log-likelihood is -z^2 / 2 + log_norm, with z = (log RTT - median)
        / spread and log_norm = -log(spread) (-inf beyond the speed-of-light radius when ``cap``,
        for a cell of circumradius ``pad_km`` when no point of it is within the radius)."""
        mu, sigma = self._curve(np.asarray(distance_km, dtype=float))
        shift, factor = self._offsets(rtt_ms, landmark_idx)
        sigma = sigma * factor
        z = (self._log_rtt(rtt_ms) - shift - mu) / sigma
        log_norm = -np.log(sigma)
        if cap:
            reach = np.asarray(rtt_ms) * MAX_KM_PER_RTT_MS
            far = np.subtract(distance_km, pad_km)
            log_norm = np.where(far <= reach, log_norm, -np.inf)
        return z, log_norm

    def log_likelihood(
        self,
        distance_km: FloatArray,
        rtt_ms: FloatArray,
        cap: bool = True,
        landmark_idx: NDArray[np.int64] | None = None,
        pad_km: FloatArray | float = 0.0,
    ) -> FloatArray:
        """log p(RTT | d) of the host at ``distance_km`` (cells, L) from landmarks with ``rtt_ms``
        (L,), up to a constant per landmark (:meth:`standardized`)."""
        z, log_norm = self.standardized(distance_km, rtt_ms, cap, landmark_idx, pad_km)
        return -0.5 * z * z + log_norm

    def distance_scale_km(
        self, rtt_ms: FloatArray, landmark_idx: NDArray[np.int64] | None, distance_km: FloatArray
    ) -> FloatArray:
        """km of distance per unit of z at ``distance_km``: spread (D0 + d) / (d median / du),
        very large where the median is flat (the RTT then says nothing of the distance)."""
        u = np.log1p(np.maximum(distance_km, 1.0) / self.D0_KM)
        slope_knots = np.diff(self.mu) / np.maximum(np.diff(self.knots_u), 1e-12)
        seg = np.clip(np.searchsorted(self.knots_u, u, side="right") - 1, 0, max(len(slope_knots) - 1, 0))
        slope = slope_knots[seg] if len(slope_knots) else np.zeros_like(u)
        # Below the first knot mu = log(r0 + (r1 - r0) d / d1): d mu / du = (r1 - r0) (D0 + d) /
        # (d1 exp(mu)).
        d = np.maximum(distance_km, 1.0)
        d1 = self.D0_KM * np.expm1(self.knots_u[0])
        r1 = np.exp(self.mu[0])
        r_d = self.floor_ms + (r1 - self.floor_ms) * np.minimum(d, d1) / d1
        slope = np.where(u < self.knots_u[0], (r1 - self.floor_ms) * (self.D0_KM + d) / (d1 * r_d),
                         np.where(u >= self.knots_u[-1], 0.0, slope))
        _, sigma = self._curve(distance_km)
        _, factor = self._offsets(rtt_ms, landmark_idx)
        return sigma * factor * (self.D0_KM + distance_km) / np.maximum(slope, 1e-6)

    def upper_log_likelihood(
        self,
        distance_km: FloatArray,
        pad_km: FloatArray,
        rtt_ms: FloatArray,
        landmark_idx: NDArray[np.int64] | None,
        weight: FloatArray,
        cap: bool,
    ) -> FloatArray:
        """Upper bound, per cell, of the weighted sum of log-likelihoods over a cell whose distances
        from each landmark lie within ``distance_km`` (cells, L) +- ``pad_km`` (cells,).

        The median is non-decreasing in d, so the smallest |log RTT - median| over the cell is at
        least the gap between log RTT and [median(near), median(far)]; the spread lies between its
        smallest and largest values over [near, far]. Both are read from tables on a grid of
        ``BOUND_STEP`` in u (:meth:`_bound_tables`): the median at the grid nodes around [near,
        far] and the spread's extremes over the grid cells that cover it, so the bound is looser
        by at most one grid cell (5 % of distance) at each end, never below the log-likelihood.
        """
        f4 = np.float32
        mu_node, s_hi_tab, s_lo_tab = self.bound_tables_
        n = len(mu_node) - 1  # grid cells
        pad = np.asarray(pad_km, dtype=f4)[:, None]
        dist = np.asarray(distance_km, dtype=f4)
        near = np.maximum(dist - pad, f4(1.0))
        far = np.maximum(dist + pad, f4(1.0))
        inv_step = f4(1.0 / self.BOUND_STEP)
        d0 = f4(self.D0_KM)
        j = np.minimum((np.log1p(near / d0) * inv_step).astype(np.int32), n - 1)
        k = np.minimum((np.log1p(far / d0) * inv_step).astype(np.int32), n - 1)
        shift, factor = self._offsets(rtt_ms, landmark_idx)
        lr = (self._log_rtt(rtt_ms) - shift).astype(f4)
        gap = np.maximum(np.take(mu_node, j) - lr, lr - np.take(mu_node, k + 1))
        np.maximum(gap, f4(0.0), out=gap)
        jk = j * n + k
        s_hi = np.take(s_hi_tab, jk)
        s_lo = np.take(s_lo_tab, jk)
        fac = np.asarray(factor, dtype=f4)
        gap /= s_hi * fac
        gap *= gap
        ll = f4(-0.5) * gap - np.log(s_lo * fac)
        if cap:
            ll[~(near <= (np.asarray(rtt_ms) * MAX_KM_PER_RTT_MS).astype(f4))] = -np.inf
        return (ll * np.asarray(weight, dtype=f4)[None, :]).sum(axis=1)

    #: Grid step in u = log(1 + d / D0) of the search bound's tables (about 5 % of distance).
    BOUND_STEP = 0.05

    def __post_init__(self) -> None:
        object.__setattr__(self, "bound_tables_", self._bound_tables())

    def _bound_tables(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(median at the grid nodes, the spread's max and min over grid cells j..k at j n + k),
        float32, for :meth:`upper_log_likelihood`."""
        step = self.BOUND_STEP
        n = int(np.ceil(np.log1p(HALF_CIRCUMFERENCE_KM / self.D0_KM) / step)) + 1
        nodes = np.arange(n + 1) * step
        mu_node, s_node = self._curve(self.D0_KM * np.expm1(nodes))
        # Each grid cell's spread extremes: at its two nodes or at a knot inside (piecewise linear).
        s_hi = np.maximum(s_node[:-1], s_node[1:])
        s_lo = np.minimum(s_node[:-1], s_node[1:])
        inside = np.minimum((self.knots_u / step).astype(np.int64), n - 1)
        np.maximum.at(s_hi, inside, self.sigma)
        np.minimum.at(s_lo, inside, self.sigma)
        # Over cells j..k (k >= j): running extremes from each j (about 120 x 120 values).
        hi = np.full((n, n), np.nan)
        lo = np.full((n, n), np.nan)
        for j in range(n):
            hi[j, j:] = np.maximum.accumulate(s_hi[j:])
            lo[j, j:] = np.minimum.accumulate(s_lo[j:])
        f4 = np.float32
        return mu_node.astype(f4), hi.ravel().astype(f4), lo.ravel().astype(f4)
