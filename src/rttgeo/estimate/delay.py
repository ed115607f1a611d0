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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from rttgeo.models import Mesh
from rttgeo.units import EARTH_RADIUS_KM, FIBRE_KM_PER_RTT_MS, MAX_KM_PER_RTT_MS

__all__ = [
    "Bestline",
    "DelayDistance",
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
    """CBG bestline (slope ms/km, intercept ms) of one landmark's points; exact, no LP solver.

    Maximises m * mean(d) + b subject to b <= r_j - m d_j for all j, b >= 0, m >= 1/99.93. The
    objective is concave piecewise linear in m with breakpoints at the slopes of the lower convex hull,
    so the optimum is at a hull slope, at the fibre slope, or at the b = 0 limit min(r/d).
    Points faster than light in fibre must be removed first (they make the problem infeasible).
    """
    d = np.asarray(distance_km, dtype=float)
    r = np.asarray(rtt_ms, dtype=float)
    if len(d) == 0:
        return MIN_SLOPE_MS_PER_KM, 0.0
    pos = d > 0
    m_max = float(np.min(r[pos] / d[pos])) if pos.any() else np.inf
    m_max = max(m_max, MIN_SLOPE_MS_PER_KM)
    order = np.lexsort((r, d))
    hull = _lower_hull(d[order], r[order])
    hd, hr = d[order][hull], r[order][hull]
    slopes = np.diff(hr) / np.where(np.diff(hd) > 0, np.diff(hd), np.nan)
    cand = np.concatenate([[MIN_SLOPE_MS_PER_KM, m_max], slopes[np.isfinite(slopes)]])
    cand = np.clip(cand, MIN_SLOPE_MS_PER_KM, m_max)
    b = np.min(r[None, :] - cand[:, None] * d[None, :], axis=1)
    b = np.maximum(b, 0.0)
    obj = cand * d.mean() + b
    k = int(np.argmax(obj))
    return float(cand[k]), float(b[k])


def _lower_hull(x: FloatArray, y: FloatArray) -> list[int]:
    """Indices of the lower convex hull of points sorted by x (Andrew's monotone chain)."""
    hull: list[int] = []
    for i in range(len(x)):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            if (x[b] - x[a]) * (y[i] - y[a]) - (y[b] - y[a]) * (x[i] - x[a]) <= 0:
                hull.pop()
            else:
                break
        hull.append(i)
    return hull


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
        slope = np.full(n, np.nan)
        icpt = np.full(n, np.nan)
        physical = np.isfinite(rtt_ms) & (rtt_ms * FIBRE_KM_PER_RTT_MS >= distance_km)
        physical &= usable[None, :] & usable[:, None]
        for i in np.flatnonzero(usable):
            k = physical[i]
            if k.sum() >= min_points:
                slope[i], icpt[i] = fit_bestline(distance_km[i, k], rtt_ms[i, k])
        iu = np.triu_indices(n, 1)
        kk = physical[iu]
        if kk.sum() >= min_points or pooled is None:
            pooled = fit_bestline(distance_km[iu][kk], rtt_ms[iu][kk])
        missing = usable & ~np.isfinite(slope)
        slope[missing], icpt[missing] = pooled
        return Bestline(slope, icpt)

    def max_distance_km(self, rtt_ms: FloatArray, landmark_idx: NDArray[np.int64]) -> FloatArray:
        """Radius per landmark; never above the fibre bound; 0 when the RTT is below the intercept."""
        m = self.slope_ms_per_km[landmark_idx]
        b = self.intercept_ms[landmark_idx]
        return np.maximum(np.asarray(rtt_ms) - b, 0.0) / m


@dataclass(frozen=True, slots=True)
class DelayDistance:
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

    D0_KM = 50.0

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
        lr = np.log(r[order])
        y = np.log1p(d[order] / DelayDistance.D0_KM)
        edges = np.arange(lr[0], lr[-1] + bin_width_log, bin_width_log)
        cut = np.searchsorted(lr, edges[1:-1])
        groups: list[np.ndarray] = []
        start = 0
        for c in [*cut.tolist(), len(lr)]:
            if c - start >= min_per_bin or (c == len(lr) and c > start):
                if c - start < min_per_bin and groups:
                    groups[-1] = np.arange(groups[-1][0], c)
                else:
                    groups.append(np.arange(start, c))
                start = c
        knots = np.array([np.median(lr[g]) for g in groups])
        mu = np.array([np.median(y[g]) for g in groups])
        mad = np.array([1.4826 * np.median(np.abs(y[g] - np.median(y[g]))) for g in groups])
        return DelayDistance(knots, np.maximum.accumulate(mu), np.maximum(mad, 0.05))

    def params(self, rtt_ms: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(mu, sigma) of log(1 + d / D0) for each RTT (flat extrapolation beyond the knots)."""
        lr = np.log(np.asarray(rtt_ms, dtype=float))
        return (
            np.interp(lr, self.knots_log_rtt, self.mu),
            np.interp(lr, self.knots_log_rtt, self.sigma),
        )

    def log_likelihood(
        self, distance_km: FloatArray, rtt_ms: FloatArray, cap: bool = True
    ) -> FloatArray:
        """Log of the surface density of the host's position given one landmark's RTT.

        ``distance_km`` (cells, L), ``rtt_ms`` (L,); up to a constant per landmark. The density of d
        is spread over the circle of points at distance d (circumference 2 pi R sin(d / R)), so the
        surface density is p(d | r) / (2 pi R sin(d / R)); -inf beyond the speed-of-light radius
        when ``cap``.
        """
        mu, sigma = self.params(rtt_ms)
        d = np.maximum(distance_km, 1.0)
        y = np.log1p(d / self.D0_KM)
        ll = (
            -0.5 * ((y - mu) / sigma) ** 2
            - np.log(sigma)
            - np.log(self.D0_KM + d)
            - np.log(np.sin(np.minimum(d / EARTH_RADIUS_KM, np.pi - 1e-6)))
        )
        if not cap:
            return ll
        return np.where(distance_km <= np.asarray(rtt_ms) * MAX_KM_PER_RTT_MS, ll, -np.inf)
