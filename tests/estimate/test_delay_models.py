"""Delay-to-distance models against references computed another way."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog

from rttgeo.estimate.delay import (
    MIN_SLOPE_MS_PER_KM,
    Bestline,
    DelayDistance,
    ForwardDelayDistance,
    LandmarkDelayDistance,
    SpeedOfLight,
    fit_bestline,
    symmetric_rtt_ms,
)
from rttgeo.geo.sphere import pairwise_distance_km, to_unit_vectors


def _lp_bestline(d: np.ndarray, r: np.ndarray) -> float:
    """CBG's bestline LP solved by scipy (HiGHS): the optimum objective m * mean(d) + b."""
    res = linprog(
        [-d.mean(), -1.0],
        A_ub=np.column_stack([d, np.ones_like(d)]),
        b_ub=r,
        bounds=[(MIN_SLOPE_MS_PER_KM, None), (0.0, None)],
    )
    assert res.status == 0
    return -res.fun


@pytest.mark.parametrize("seed", range(5))
def test_bestline_equals_the_lp_optimum(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(40):
        n = int(rng.integers(3, 700))
        d = rng.uniform(0, 12000, n)
        r = d / rng.uniform(25, 99.9, n) + rng.exponential(8, n)
        m, b = fit_bestline(d, r)
        assert m >= MIN_SLOPE_MS_PER_KM and b >= 0
        assert np.all(r - (m * d + b) >= -1e-9), "bestline must lie below every point"
        opt = _lp_bestline(d, r)
        assert m * d.mean() + b == pytest.approx(opt, rel=1e-7)


def test_vectorised_bestlines_equal_the_single_fit(wonderproxy) -> None:
    u = to_unit_vectors(wonderproxy.lat_deg, wonderproxy.lon_deg)
    dist = pairwise_distance_km(u, u)
    sym = symmetric_rtt_ms(wonderproxy.rtt_ms)
    usable = ~wonderproxy.bad
    bl = Bestline.fit(sym, dist, usable)
    physical = np.isfinite(sym) & (sym * 99.930819333 >= dist) & usable[None, :] & usable[:, None]
    np.fill_diagonal(physical, False)
    for i in np.flatnonzero(usable)[::7]:
        k = physical[i]
        m, b = fit_bestline(dist[i, k], sym[i, k])
        obj_single = m * dist[i, k].mean() + b
        obj_vec = bl.slope_ms_per_km[i] * dist[i, k].mean() + bl.intercept_ms[i]
        assert obj_vec == pytest.approx(obj_single, rel=1e-9)
    assert np.all(np.isnan(bl.slope_ms_per_km[~usable]))


def test_bestline_never_faster_than_fibre() -> None:
    # Points that would allow a line steeper than light in fibre are clipped to the fibre slope.
    d = np.array([100.0, 1000.0, 5000.0])
    r = d * MIN_SLOPE_MS_PER_KM + 0.5
    m, b = fit_bestline(d, r)
    assert m == pytest.approx(MIN_SLOPE_MS_PER_KM)
    assert b == pytest.approx(0.5)
    assert Bestline(np.array([m]), np.array([b])).max_distance_km(np.array([10.0]), np.array([0]))[
        0
    ] <= 10.0 * 99.930819333 + 1e-9


def test_speed_of_light_radius() -> None:
    assert SpeedOfLight(1.0).max_distance_km(np.array([10.0]))[0] == pytest.approx(1498.96229)
    assert SpeedOfLight(2 / 3).max_distance_km(np.array([1.0]))[0] == pytest.approx(99.930819, rel=1e-6)


def test_delay_distance_median_tracks_data() -> None:
    rng = np.random.default_rng(3)
    r = rng.uniform(1, 200, 5000)
    d = r * 60 * np.exp(rng.normal(0, 0.2, r.size))  # median 60 km per ms
    model = DelayDistance.fit(r, d)
    mu, _sigma = model.params(np.array([10.0, 100.0]))
    median_km = model.D0_KM * np.expm1(mu)
    assert median_km == pytest.approx([600.0, 6000.0], rel=0.08)
    ll = model.log_likelihood(np.array([[100.0, 2000.0]]), np.array([1.0, 10.0]))
    assert np.isinf(ll[0, 1]), "2000 km in 10 ms RTT is faster than light: zero density"


def _synthetic_mesh(n: int = 40, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(rtt_ms, distance_km) of n landmarks spread over the globe: 60 km per ms of RTT with 10 %
    noise, except landmark 0, whose routes are 1.5x longer, and landmark 1, whose are erratic."""
    rng = np.random.default_rng(seed)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    lon = rng.uniform(-180, 180, n)
    u = to_unit_vectors(lat, lon)
    d = pairwise_distance_km(u, u)
    noise = np.exp(rng.normal(0, 0.1, (n, n)))
    factor = np.ones((n, n))
    factor[0, :] = factor[:, 0] = 1.5
    erratic = np.exp(rng.normal(0, 0.8, n))
    factor[1, :] = factor[:, 1] = erratic
    factor[0, 1] = factor[1, 0] = 1.0
    r = np.maximum(d, 20.0) / 60.0 * factor * noise
    r = np.fmin(r, r.T)
    np.fill_diagonal(r, np.nan)
    return r, d


def test_landmark_delay_distance_learns_each_landmarks_routes() -> None:
    r, d = _synthetic_mesh()
    usable = np.ones(len(r), dtype=bool)
    iu = np.triu_indices(len(r), 1)
    pooled = DelayDistance.fit(r[iu], d[iu])
    model = LandmarkDelayDistance.fit(pooled, r, d, usable)
    # Landmark 0 reaches a host 4,000 km away in 100 ms (1.5x the pool's 60 km/ms): the adjusted
    # median distance moves most of the way there (one offset in log(1 + d / D0) for all its pairs,
    # shrunk by 39 / 44, gives 4,684 km), the pooled one does not.
    mu, _ = model.params(np.array([100.0, 100.0]), np.array([0, 5]))
    median_km = model.D0_KM * np.expm1(mu)
    assert median_km[0] < 0.8 * median_km[1]
    assert abs(median_km[0] - 4000.0) < abs(median_km[0] - 6000.0)
    assert median_km[1] == pytest.approx(6000.0, rel=0.15)
    pooled_mu, _ = pooled.params(np.array([100.0]))
    assert pooled.D0_KM * np.expm1(pooled_mu[0]) == pytest.approx(6000.0, rel=0.15)
    # The erratic landmark is less predictable than the pool; the others are not changed much.
    assert model.spread[1] > 1.5
    assert np.all(model.spread >= 1.0) and np.all(model.spread <= 3.0)
    assert np.all(np.abs(model.shift[2:]) < 0.1)


def test_landmark_delay_distance_ramp_and_neutral_cases() -> None:
    r, d = _synthetic_mesh()
    usable = np.ones(len(r), dtype=bool)
    usable[3] = False  # left out at fit: no pairs, so the pooled model
    iu = np.triu_indices(len(r), 1)
    pooled = DelayDistance.fit(r[iu], d[iu])
    model = LandmarkDelayDistance.fit(pooled, r, d, usable, ramp_ms=(10.0, 50.0))
    assert model.shift[3] == 0.0 and model.spread[3] == 1.0
    rtts = np.array([2.0, 9.9, 20.0, 50.0, 200.0])
    lm0 = np.zeros(5, dtype=np.int64)
    mu, sigma = model.params(rtts, lm0)
    pmu, psigma = pooled.params(rtts)
    # Below 10 ms the landmark's own routes do not count; from 50 ms they count in full.
    np.testing.assert_array_equal(mu[:2], pmu[:2])
    np.testing.assert_array_equal(sigma[:2], psigma[:2])
    assert mu[2] - pmu[2] == pytest.approx(np.log(2) / np.log(5) * model.shift[0])
    np.testing.assert_allclose(mu[3:] - pmu[3:], model.shift[0])
    np.testing.assert_allclose(sigma[3:], psigma[3:] * model.spread[0])
    # Without landmark indices it is the pooled model; the likelihood keeps the light-speed cap.
    np.testing.assert_array_equal(model.params(rtts)[0], pmu)
    ll = model.log_likelihood(np.array([[100.0, 2000.0]]), np.array([1.0, 10.0]), True, lm0[:2])
    assert np.isfinite(ll[0, 0]) and np.isinf(ll[0, 1])
    with pytest.raises(ValueError, match="ramp_ms"):
        LandmarkDelayDistance.fit(pooled, r, d, usable, ramp_ms=(50.0, 10.0))


def test_fast_medians_equal_numpys_to_the_last_bit() -> None:
    """The fit's sort-based medians (issue #11: the leave-one-out refits every model 244 times)
    give exactly what np.nanmedian and per-group np.median give, NaN rows and ties included."""
    from rttgeo.estimate.delay import _group_medians, _row_nanmedians, _sorted_within

    rng = np.random.default_rng(3)
    for _ in range(50):
        a = np.round(rng.normal(size=(12, int(rng.integers(1, 260)))), int(rng.integers(0, 4)))
        a[rng.random(a.shape) < rng.random()] = np.nan
        a[0] = np.nan
        with pytest.warns(RuntimeWarning):  # numpy warns about the all-NaN row
            want = np.nanmedian(a, axis=1)
        assert np.array_equal(_row_nanmedians(a), want, equal_nan=True)
        size = rng.integers(1, 30, int(rng.integers(1, 20)))
        start = np.concatenate([[0], np.cumsum(size)[:-1]])
        group = np.repeat(np.arange(len(size)), size)
        v = np.round(rng.normal(size=int(size.sum())), 1)
        got = _group_medians(v[_sorted_within(v, group)], start, size)
        assert np.array_equal(got, [np.median(v[group == g]) for g in range(len(size))])



# The forward model p(RTT | distance): the likelihood rttgeo multiplies by default.
def test_forward_model_median_tracks_data_down_to_the_bestline_floor() -> None:
    rng = np.random.default_rng(4)
    d = rng.uniform(30.0, 12000.0, 5000)
    r = 0.3 + d / 60.0 * np.exp(rng.normal(0.0, 0.2, d.size))  # 60 km per ms, 0.3 ms floor
    model = ForwardDelayDistance.fit(r, d)
    z, _ = model.standardized(np.array([600.0, 6000.0]), np.array([10.3, 100.3]), False)
    np.testing.assert_allclose(z, 0.0, atol=0.25)  # the median RTT at 600 and 6,000 km
    # Below the first knot (about 40 km) the median falls linearly to the bestline's intercept,
    # which lies under every point (the floor 0.3 ms plus the fastest 1 km of 60 km per ms).
    assert 0.0 < model.floor_ms <= 0.3 + 1.0 / 60.0
    d1 = model.D0_KM * np.expm1(model.knots_u[0])
    r1 = np.exp(model.mu[0])
    for km in (1.0, 0.5 * d1):
        expected = model.floor_ms + (r1 - model.floor_ms) * km / d1
        z, _ = model.standardized(np.array([km]), np.array([expected]), False)
        assert abs(z[0]) < 1e-9
    mu = [model.standardized(np.array([k]), np.array([1.0]), False)[0][0] for k in (2.0, 10.0, 30.0)]
    assert mu[0] > mu[1] > mu[2], "a longer distance means a longer median RTT, so a lower z"
    ll = model.log_likelihood(np.array([[100.0, 2000.0]]), np.array([1.0, 10.0]))
    assert np.isinf(ll[0, 1]), "2000 km in 10 ms RTT is faster than light: zero density"


def test_forward_model_learns_each_landmarks_routes() -> None:
    r, d = _synthetic_mesh()
    usable = np.ones(len(r), dtype=bool)
    usable[3] = False
    iu = np.triu_indices(len(r), 1)
    model = ForwardDelayDistance.fit(r[iu], d[iu]).per_landmark(r, d, usable)
    # Landmark 0's routes are 1.5x longer: its median log RTT moves up by most of log 1.5.
    assert 0.6 * np.log(1.5) < model.shift[0] < 1.1 * np.log(1.5)
    assert np.all(np.abs(model.shift[2:]) < 0.1)
    assert model.spread[1] > 1.5 and np.all((model.spread >= 1.0) & (model.spread <= 3.0))
    assert model.shift[3] == 0.0 and model.spread[3] == 1.0
    # At 100 ms the shift acts in full, below 10 ms not at all.
    far = model.standardized(np.array([[4000.0, 4000.0]]), np.array([100.0, 100.0]), False,
                             np.array([0, 5]))[0][0]
    # 100 ms for 4,000 km is the pool's 1.5x: a poor fit for landmark 5, a fair one for 0.
    assert abs(far[0]) < 1.0 and far[1] > 2.5
    near = model.standardized(np.array([[300.0]]), np.array([5.0]), False, np.array([0]))[0]
    pooled = model.standardized(np.array([[300.0]]), np.array([5.0]), False)[0]
    np.testing.assert_array_equal(near, pooled)
    with pytest.raises(ValueError, match="ramp_ms"):
        model.per_landmark(r, d, usable, ramp_ms=(50.0, 10.0))


@pytest.mark.parametrize("per_landmark", [False, True])
def test_forward_model_cell_bound_is_above_every_point_of_the_cell(per_landmark: bool) -> None:
    # The coarse-to-fine search drops cells by this bound: it must never be below the
    # log-likelihood at any distance the cell allows, knots and the first-knot bend included.
    r, d = _synthetic_mesh()
    iu = np.triu_indices(len(r), 1)
    model = ForwardDelayDistance.fit(r[iu], d[iu])
    if per_landmark:
        model = model.per_landmark(r, d, np.ones(len(r), dtype=bool))
    rng = np.random.default_rng(8)
    cells, lms = 400, 6
    centre = np.exp(rng.uniform(np.log(1.0), np.log(15000.0), (cells, lms)))
    pad = np.exp(rng.uniform(np.log(0.5), np.log(3000.0), cells))
    rtt = np.exp(rng.uniform(np.log(0.2), np.log(250.0), lms))
    idx = rng.integers(0, len(r), lms)
    weight = rng.uniform(0.2, 1.0, lms)
    bound = model.upper_log_likelihood(centre, pad, rtt, idx, weight, cap=True)
    best = np.full(cells, -np.inf)
    for t in np.linspace(-1.0, 1.0, 201):
        dist = np.maximum(centre + t * pad[:, None], 0.0)
        ll = model.log_likelihood(dist, rtt, True, idx) * weight
        best = np.maximum(best, ll.sum(axis=1))
    # The bound takes each landmark's best distance on its own, so it is loose but never low.
    assert np.all(bound >= best - 1e-9)
    assert np.isfinite(bound).sum() > cells // 10


def test_forward_model_distance_scale_is_the_inverse_slope_of_z() -> None:
    # Where the RTT is the median one (z = 0), km of distance per unit of z, as the region's
    # temperature linearises it: -1 / (dz / dd), by central differences.
    r, d = _synthetic_mesh()
    iu = np.triu_indices(len(r), 1)
    model = ForwardDelayDistance.fit(r[iu], d[iu])
    dist = np.array([3.0, 20.0, 300.0, 700.0, 2500.0, 5000.0])
    z1, log_norm = model.standardized(dist, np.ones_like(dist), False)
    rtt = np.exp(-z1 * np.exp(-log_norm))  # the median RTT at each distance
    h = 1e-4 * dist
    slope = (model.residuals(dist + h, rtt) - model.residuals(dist - h, rtt)) / (2 * h)
    np.testing.assert_allclose(model.residuals(dist, rtt), 0.0, atol=1e-9)
    np.testing.assert_allclose(model.distance_scale_km(rtt, None, dist), -1.0 / slope, rtol=1e-3)


@pytest.mark.parametrize("kind", ["forward", "forward-per-landmark", "inverse", "pooled"])
def test_residual_grid_equals_the_residuals_at_every_distance(kind: str) -> None:
    # The far landmarks' table reads residuals on a grid of distances per landmark this way; it
    # must give the very values of residuals() on the repeated distances, below the first knot
    # (the bend to the floor) and on the per-landmark ramp included.
    r, d = _synthetic_mesh()
    iu = np.triu_indices(len(r), 1)
    usable = np.ones(len(r), dtype=bool)
    if kind.startswith("forward"):
        model = ForwardDelayDistance.fit(r[iu], d[iu])
        if kind == "forward-per-landmark":
            model = model.per_landmark(r, d, usable)
    elif kind == "inverse":
        model = LandmarkDelayDistance.fit(DelayDistance.fit(r[iu], d[iu]), r, d, usable)
    else:
        model = DelayDistance.fit(r[iu], d[iu])
    nodes = np.concatenate([[0.0, 0.5, 3.0], np.geomspace(10.0, 20000.0, 60)])
    rtt = np.array([0.3, 4.0, 12.0, 30.0, 80.0, 250.0])
    idx = np.array([0, 1, 2, 4, 5, 0])
    grid = model.residual_grid(nodes, rtt, idx)
    direct = model.residuals(np.repeat(nodes[:, None], len(rtt), axis=1), rtt, idx)
    np.testing.assert_array_equal(grid, direct)
    assert grid.shape == (len(nodes), len(rtt))
