"""The probabilistic estimators (rttgeo.estimate.posterior): how they temper their regions, which
landmarks they weigh, the answer's shape (candidates, low confidence), and how far the point moves
when the RTTs do."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from rttgeo.errors import RttgeoWarning
from rttgeo.estimate import make_estimator
from rttgeo.estimate.delay import symmetric_rtt_ms
from rttgeo.estimate.evaluate import co_located_twins
from rttgeo.estimate.posterior import ResidualCorrelation, common_mode_share
from rttgeo.geo.sphere import destination, distance_km, to_unit_vectors
from rttgeo.models import Mesh


def _split(mesh: Mesh, t: int) -> tuple[Mesh, np.ndarray]:
    others = np.array([j for j in range(len(mesh)) if j != t])
    return mesh.subset(others), symmetric_rtt_ms(mesh.rtt_ms)[t, others]


def test_residual_correlation_recovers_a_known_variance_and_correlation() -> None:
    # 4,000 hosts, each with 12 residuals of variance 2 and correlation 0.3 (a shared part).
    rng = np.random.default_rng(7)
    shared = rng.normal(0, np.sqrt(2 * 0.3), (4000, 1))
    z = shared + rng.normal(0, np.sqrt(2 * 0.7), (4000, 12))
    z = np.clip(z, -3, 3)  # the estimator clips at 3 spreads; keep the truth comparable
    c = ResidualCorrelation.from_residuals(list(z), [np.ones(12)] * 4000)
    assert c.variance == pytest.approx(np.mean(z**2), rel=1e-9)
    assert c.rho == pytest.approx(0.3, abs=0.03)
    # Spotter's temperature: variance x (1 + rho (K - 1)).
    assert c.temperature(np.ones(12)) == pytest.approx(c.variance * (1 + c.rho * 11), rel=1e-12)
    assert c.temperature(np.ones(1)) == pytest.approx(max(1.0, c.variance), rel=1e-12)


def test_common_mode_share_is_all_when_one_sided_and_none_when_surrounded() -> None:
    point = to_unit_vectors(0.0, 0.0)
    scale = np.full(4, 80.0)
    around = to_unit_vectors(*destination(0.0, 0.0, np.array([0.0, 90.0, 180.0, 270.0]), 500.0))
    assert common_mode_share(point, around, scale, np.ones(4)) == pytest.approx(0.0, abs=1e-9)
    one_side = to_unit_vectors(*destination(0.0, 0.0, np.array([80.0, 85.0, 90.0, 95.0]), 500.0))
    share = common_mode_share(point, one_side, scale, np.ones(4))
    assert 3.9 < share <= 4.0
    # Collinear landmarks (a singular geometry) count as one-sided: the most cautious answer.
    line = to_unit_vectors(*destination(0.0, 0.0, np.array([90.0, 90.0, 90.0]), [300.0, 500.0, 700.0]))
    assert common_mode_share(point, line, scale[:3], np.ones(3)) == pytest.approx(3.0)


def test_region_temperature_follows_the_residuals_below_1_and_stops_at_its_floor(wonderproxy) -> None:
    # Landmarks all around the point: no common shift moves it, so the temperature is
    # s^2 (1 - rho); with s^2 < 1 (a model spread wider than its residuals) that sharpens the
    # product, and with rho near 1 it would reach 0 but stops at MIN_REGION_TEMPERATURE.
    est = make_estimator("rttgeo").fit(Mesh.from_landmarks(wonderproxy.landmarks()))
    point = to_unit_vectors(48.0, 10.0)
    lm = to_unit_vectors(*destination(48.0, 10.0, np.array([0.0, 90.0, 180.0, 270.0]), 400.0))
    est.unit_ = np.vstack([lm, est.unit_[4:]])
    rtt = np.full(len(est.unit_), np.nan)
    rtt[:4] = 6.0
    q = est._query(rtt, np.isfinite(rtt))
    assert sorted(q.idx.tolist()) == [0, 1, 2, 3]
    est.correlation_ = ResidualCorrelation(0.8, 0.4, 100)
    assert est._region_temperature(q, point) == pytest.approx(0.8 * 0.6, rel=1e-6)
    est.correlation_ = ResidualCorrelation(0.8, 1.0, 100)
    assert est._region_temperature(q, point) == est.MIN_REGION_TEMPERATURE
    # Spotter's temperature, by the number of landmarks alone, stays at 1 or more.
    assert ResidualCorrelation(0.8, 0.0, 100).temperature(np.ones(4)) == 1.0


def test_landmarks_near_the_cut_enter_with_a_weight_that_falls_linearly(wonderproxy) -> None:
    est = make_estimator("rttgeo").fit(Mesh.from_landmarks(wonderproxy.landmarks()[:6]))
    # Lowest 5 ms: cut = 2 x 5 + 10 = 20 ms; the ramp is 10 % of the cut, centred on it.
    rtt = np.array([5.0, 8.0, 19.0, 20.0, 20.9, 21.5])
    use = np.ones(6, dtype=bool)
    q = est._query(rtt, use)
    weight = dict(zip(q.idx.tolist(), q.weight.tolist(), strict=True))
    assert weight[0] == weight[1] == weight[2] == 1.0
    assert weight[3] == pytest.approx(0.5)
    assert weight[4] == pytest.approx(0.05)
    assert 5 not in weight and not use[5], "beyond the ramp: not used, and the diagnostics say so"


@pytest.fixture(scope="module")
def frankfurt(wonderproxy):
    t = next(i for i, lab in enumerate(wonderproxy.labels) if lab.startswith("Frankfurt"))
    sub, rtts = _split(wonderproxy, t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RttgeoWarning)
        est = make_estimator("rttgeo").fit(sub)
    return est, rtts


def test_candidates_are_places_with_probabilities_and_the_first_is_the_points(frankfurt) -> None:
    est, rtts = frankfurt
    e = est.locate(rtts)
    assert 1 <= len(e.candidates) <= 5
    # The point is the centre of mass of the first candidate's place (its cities within 25 km).
    assert e.candidates[0].distance_km <= e.candidates[0].radius_km == 25.0
    assert e.params["place"] == f"{e.candidates[0].name}, {e.candidates[0].country}"
    probs = [c.probability for c in e.candidates]
    assert all(0.0 < p <= 1.0 for p in probs) and sum(probs) <= 1.0 + 1e-9
    names = [c.name for c in e.candidates]
    assert len(set(names)) == len(names)
    assert "Frankfurt am Main" in names  # the truth is among them (71 km from the point)
    doc = e.to_json()
    assert doc["candidates"][0]["name"] == names[0] and doc["low_confidence"] is False
    assert "tempered" in doc["region_kind"]


def test_candidates_are_disjoint_and_ordered_on_every_target(wonderproxy) -> None:
    """Each listed place's probability counts the background of the cells within 25 km (or the
    cell's own circumradius at its latitude) once, for the nearest place listed: the candidates
    sum to at most 1 everywhere. (They summed to up to 2.5 when every place took the cells within
    the polar row's circumradius, 504 km.) Riga (57 N), Reykjavik (64 N), Canberra and Quito are
    among the targets; they had sums of 2.42 and 2.50."""
    from rttgeo.estimate.evaluate import leave_one_out

    names = ("Riga", "Reykjavik", "Canberra", "Quito", "Tokyo", "Frankfurt", "Nairobi", "Lima")
    targets = [i for i, lab in enumerate(wonderproxy.labels) if lab.split(",")[0] in names]
    assert len(targets) == len(names)
    r = leave_one_out(wonderproxy, "rttgeo", targets=targets, keep_estimates=True, jobs=1)
    for e in r.estimates:
        probs = [c.probability for c in e.candidates]
        assert 0.0 < sum(probs) <= 1.0 + 1e-9, (e.params["place"], probs)
        assert e.params["place"] == f"{e.candidates[0].name}, {e.candidates[0].country}"
        assert probs[1:] == sorted(probs[1:], reverse=True)
        assert all(c.distance_km > 0 for c in e.candidates[1:])


def test_the_same_rtts_give_the_same_answer(frankfurt) -> None:
    est, rtts = frankfurt
    a, b = est.locate(rtts), est.locate(rtts.copy())
    assert (a.lat_deg, a.lon_deg, a.area_km2) == (b.lat_deg, b.lon_deg, b.area_km2)
    assert a.candidates == b.candidates


def test_a_host_far_from_every_landmark_is_flagged_low_confidence(wonderproxy) -> None:
    # Only three landmarks, all more than 100 ms away: the region spans a continent.
    t = next(i for i, lab in enumerate(wonderproxy.labels) if lab.startswith("Nairobi"))
    sub, rtts = _split(wonderproxy, t)
    far = np.where(rtts > 100.0, rtts, np.nan)
    far[np.flatnonzero(np.isfinite(far))[3:]] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RttgeoWarning)
        e = make_estimator("rttgeo").fit(sub).locate(far)
    assert e.low_confidence and e.area_km2 > 1e6
    assert "low confidence" in e.note


def test_spotter_says_its_region_is_not_calibrated(frankfurt, wonderproxy) -> None:
    sub, rtts = _split(wonderproxy, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RttgeoWarning)
        e = make_estimator("spotter").fit(sub).locate(rtts)
    assert "NOT calibrated" in e.region_kind and "NOT calibrated" in e.to_json()["region_kind"]


# Issue #11: "the point estimate jumps between cities under perturbations far below measurement
# noise" (the bundled copy, 0.5 us from the raw files, moved 11 of 244 targets by more than 1 km,
# one by 412 km). Every 6th WonderProxy target, two draws per amplitude, seeded. The measured
# distribution over all 244 targets is in docs/estimation.md.
@pytest.fixture(scope="module")
def perturbed(wonderproxy):
    moved: dict[float, list[float]] = {0.01: [], 0.5: []}
    rng = np.random.default_rng(2020)
    for t in range(0, len(wonderproxy), 6):
        if wonderproxy.bad[t]:
            continue
        sub, rtts = _split(wonderproxy, t)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RttgeoWarning)
            est = make_estimator("rttgeo").fit(sub)
            e = est.locate(rtts)
            for amp, out in moved.items():
                for _ in range(2):
                    jitter = rng.uniform(-amp, amp, len(rtts))
                    e2 = est.locate(np.where(np.isfinite(rtts), np.maximum(rtts + jitter, 0.01), np.nan))
                    out.append(float(distance_km(e.lat_deg, e.lon_deg, e2.lat_deg, e2.lon_deg)))
    return {amp: np.array(v) for amp, v in moved.items()}


def test_ten_microseconds_do_not_move_the_point(perturbed) -> None:
    moved = perturbed[0.01]
    assert len(moved) >= 80
    assert np.max(moved) <= 1.0, np.sort(moved)[-5:]


def test_half_a_millisecond_moves_few_points_far(perturbed) -> None:
    moved = perturbed[0.5]
    assert np.mean(moved > 100.0) <= 0.10, np.sort(moved)[-10:]
    assert np.median(moved) <= 1.0  # the point is a centre of mass: it moves a little, smoothly


# Issue #11 item 1: "targets next to a landmark are pushed away" (0.8 km from a landmark at
# 0.45 ms, placed 55 km away). Synthetic co-located targets: a twin of every 4th WonderProxy host,
# 0-15 km from it, 0.05-0.65 ms from it, the host's own RTTs (+0-0.3 ms) to everyone else
# (`co_located_twins`).
def test_co_located_targets_are_placed_at_least_as_well_as_shortest_ping(wonderproxy) -> None:
    twins = co_located_twins(wonderproxy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RttgeoWarning)
        ours = make_estimator("rttgeo").fit(wonderproxy)
        sp = make_estimator("shortest-ping").fit(wonderproxy)
    err_ours, err_sp = [], []
    for rtt, lat, lon in zip(twins.rtt_ms, twins.lat_deg, twins.lon_deg, strict=True):
        for est, out in ((ours, err_ours), (sp, err_sp)):
            e = est.locate(rtt)
            out.append(float(distance_km(e.lat_deg, e.lon_deg, lat, lon)))
    assert len(err_ours) >= 55
    assert np.median(err_ours) <= 10.0
    assert np.median(err_ours) <= np.median(err_sp) + 1.0, (np.median(err_ours), np.median(err_sp))


# The landmarks' places in the prior: the fit mesh says how often a host shares a place with
# another, and the prior is made to agree (PopulationPosterior._landmark_place_boost).
def _landmark_place_share(est) -> tuple[float, float]:
    """(the prior's chance of a landmark's place after the factor, its chance before)."""
    p = est.prior_
    w = p.population ** est.alpha
    nr, nc = 40 << est.end_level, 128 << est.end_level
    total = w.sum() + est.background * nr * nc
    near = est.landmark_place_boost_ != 0
    p0 = w[near].sum() / total
    m = np.exp(est.landmark_place_boost_[near][0])
    return m * p0 / (m * p0 + 1 - p0), p0


def _twin_mesh(base: Mesh, km: float) -> Mesh:
    """``base`` with a twin of every host ``km`` east of it (RTTs copied, 0.2 ms between twins)."""
    n = len(base)
    lat = np.concatenate([base.lat_deg, base.lat_deg])
    lon = np.concatenate([base.lon_deg, destination(base.lat_deg, base.lon_deg, 90.0, km)[1]])
    rtt = np.tile(base.rtt_ms, (2, 2))
    rtt[np.arange(n), np.arange(n) + n] = rtt[np.arange(n) + n, np.arange(n)] = 0.2
    np.fill_diagonal(rtt, np.nan)
    ids = tuple(base.ids) + tuple(f"{i}-twin" for i in base.ids)
    return Mesh(ids, lat, lon, rtt, np.zeros(2 * n, dtype=bool), "twins")


def test_the_prior_shares_places_with_landmarks_as_often_as_the_fit_mesh_does(wonderproxy) -> None:
    good = np.flatnonzero(~wonderproxy.bad)[::3]
    spread = wonderproxy.subset(good)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RttgeoWarning)
        alone = make_estimator("rttgeo").fit(spread)
        paired = make_estimator("rttgeo").fit(_twin_mesh(spread, 5.0))
        off = make_estimator("rttgeo", landmark_places=False).fit(spread)
    n = len(spread)
    d = distance_km(spread.lat_deg[:, None], spread.lon_deg[:, None], spread.lat_deg, spread.lon_deg)
    k = int(np.sum((d <= 25.0).sum(axis=1) > 1))
    after, p0 = _landmark_place_share(alone)
    # Exactly the fit mesh's share, as the posterior mean with two pseudo-hosts at the prior's P0.
    assert after == pytest.approx((k + 2 * p0) / (n + 2), rel=1e-9)
    assert after < p0  # WonderProxy keeps one host per city: its landmarks' places are rarer
    after, p0 = _landmark_place_share(paired)
    assert after == pytest.approx((2 * n + 2 * p0) / (2 * n + 2), rel=1e-9)  # every host paired
    assert after > p0
    assert not off.landmark_place_boost_.any()


def test_a_target_goes_to_a_landmark_s_place_more_often_where_hosts_share_places(wonderproxy) -> None:
    # The same RTTs, on a mesh of single hosts and on the same mesh with a silent twin of every
    # landmark 5 km away (no RTT to it: the likelihood is the same, only the prior's share
    # changes). Where hosts share places, more points land beside a landmark; where they do not,
    # no more (without the factor: 0 and 1 of 27 targets; with it: 0 and 16). With the
    # likelihood p(RTT | distance) no target of the single hosts lands beside a landmark even
    # without the factor (p(distance | RTT) put 4 there, 1 with the factor).
    good = np.flatnonzero(~wonderproxy.bad)[::3]
    spread = wonderproxy.subset(good)
    twins = _twin_mesh(spread, 5.0)
    sym = symmetric_rtt_ms(spread.rtt_ms)
    n = len(spread)
    beside: dict[tuple[str, bool], int] = {}
    for name, mesh in (("alone", spread), ("paired", twins)):
        for on in (True, False):
            hits = 0
            for t in range(0, n, 2):
                keep = np.array([j for j in range(len(mesh)) if j % n != t])
                rtt = np.where(keep < n, sym[t, keep % n], np.nan)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RttgeoWarning)
                    est = make_estimator("rttgeo", landmark_places=on).fit(mesh.subset(keep))
                    e = est.locate(rtt)
                d = distance_km(e.lat_deg, e.lon_deg, spread.lat_deg, spread.lon_deg)
                hits += bool(np.min(np.delete(d, t)) <= 25.0)
            beside[name, on] = hits
    assert beside["paired", True] > beside["paired", False], beside
    assert beside["alone", True] <= beside["alone", False], beside


# The landmarks' sites: where hosts share buildings (RIPE Atlas anchors), a host in a landmark's
# place is often at the landmark itself; the fit mesh says how often (_fit_landmark_sites).
def test_hosts_share_a_landmark_s_site_as_often_as_the_fit_mesh_does(wonderproxy) -> None:
    spread = wonderproxy.subset(np.flatnonzero(~wonderproxy.bad)[::3])
    n = len(spread)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RttgeoWarning)
        alone = make_estimator("rttgeo").fit(wonderproxy)  # no two hosts within 4.7 km
        sited = make_estimator("rttgeo").fit(_twin_mesh(spread, 0.3))
        near = make_estimator("rttgeo").fit(_twin_mesh(spread, 5.0))
        off = make_estimator("rttgeo", site_km=0.0).fit(_twin_mesh(spread, 0.3))
    assert alone.site_share_ == 0.0 and len(alone.atom_unit_) == 0 and not alone.site_scale_.any()
    assert near.site_share_ == 0.0  # twins 5 km apart share a place, not a site
    # Every host has its twin 0.3 km away: 2n of 2n, with two pseudo-hosts at 0.
    assert sited.site_share_ == pytest.approx(2 * n / (2 * n + 2), rel=1e-12)
    assert len(sited.atom_unit_) > n  # an atom at each landmark of a place (some have no city)
    assert np.allclose(sited.site_scale_[sited.site_scale_ != 0], np.log1p(-sited.site_share_))
    assert off.site_share_ == 0.0 and len(off.atom_unit_) == 0


def test_a_target_at_a_landmark_s_site_is_placed_there_where_hosts_share_sites(wonderproxy) -> None:
    # A twin 0.3 km from every host, 0.2 ms from it, with its RTTs to everyone else: each twin in
    # turn is the target. Without the sites the point is the place's centre of mass (median
    # 1.2 km, p90 3.7 km here, where WonderProxy's hosts sit at their cities' coordinates); with
    # them it is the landmark's site, as Shortest Ping's (0.3 km).
    spread = wonderproxy.subset(np.flatnonzero(~wonderproxy.bad)[::3])
    n = len(spread)
    twins = _twin_mesh(spread, 0.3)
    sym = symmetric_rtt_ms(twins.rtt_ms)
    err: dict[str, list[float]] = {"sites": [], "no-sites": [], "shortest-ping": []}
    for t in range(n, 2 * n, 2):
        keep = np.array([j for j in range(2 * n) if j != t])
        for name, method, params in (("sites", "rttgeo", {}), ("no-sites", "rttgeo", {"site_km": 0.0}),
                                     ("shortest-ping", "shortest-ping", {})):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RttgeoWarning)
                e = make_estimator(method, **params).fit(twins.subset(keep)).locate(sym[t, keep])
            err[name].append(float(distance_km(e.lat_deg, e.lon_deg, twins.lat_deg[t], twins.lon_deg[t])))
    med = {k: float(np.median(v)) for k, v in err.items()}
    assert med["sites"] <= med["shortest-ping"] + 0.1, med
    assert med["no-sites"] >= med["sites"] + 0.5, med
    assert np.percentile(err["sites"], 80) <= 1.0, np.sort(err["sites"])


def test_the_prior_names_the_nearest_city_within_a_radius_or_none() -> None:
    from rttgeo.estimate.prior import population_prior
    from rttgeo.geo.sphere import to_unit_vectors

    prior = population_prior()
    # central Paris, 0.5 km from the Louvre; mid-Atlantic, no city within 25 km
    k = prior.nearest_within(to_unit_vectors(np.array([48.8606, 0.0]), np.array([2.3376, -30.0])), 25.0)
    assert k[1] == -1
    assert str(prior.name[k[0]]).startswith("Paris")  # GeoNames: "Paris 01 Louvre"
    d = distance_km(48.8606, 2.3376, prior.lat_deg[k[0]], prior.lon_deg[k[0]])
    assert d == pytest.approx(float(np.min(distance_km(48.8606, 2.3376, prior.lat_deg, prior.lon_deg))))


def test_far_landmarks_are_censored_at_the_end_of_the_ramp(wonderproxy) -> None:
    six = Mesh.from_landmarks(wonderproxy.landmarks()[:6])
    est = make_estimator("rttgeo").fit(six)  # on by default
    # No RTTs between these landmarks: the residuals are the bundled mesh's, as the delay model.
    assert len(est.residual_tail_) > 10_000 and np.all(np.diff(est.residual_tail_) >= 0)
    # As above: cut 20 ms, the ramp ends at 21 ms; landmarks of weight w < 1 count 1 - w.
    rtt = np.array([5.0, 8.0, 19.0, 20.0, 20.9, 30.0])
    q = est._query(rtt, np.ones(6, dtype=bool))
    assert q.far_idx.tolist() == [3, 4, 5]
    assert q.far_weight == pytest.approx([0.5, 0.95, 1.0])
    assert q.far_rtt_ms == pytest.approx([20.0, 20.9, 21.0])
    plain = make_estimator("rttgeo", far_landmarks=False).fit(six)
    assert len(plain._query(rtt, np.ones(6, dtype=bool)).far_idx) == 0


def test_far_landmarks_say_the_host_is_not_near_them(wonderproxy) -> None:
    # Lisbon (WonderProxy 2020 leave-one-out): the near landmarks alone put it 275 km from Lyon,
    # whose RTT (61 ms) is beyond the cut (41 ms); Lyon's censored RTT says "not near Lyon".
    t = list(wonderproxy.ids).index("44")
    sub, rtt = _split(wonderproxy, t)
    truth = (wonderproxy.lat_deg[t], wonderproxy.lon_deg[t])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RttgeoWarning)
        plain = make_estimator("rttgeo", far_landmarks=False).fit(sub).locate(rtt)
        far = make_estimator("rttgeo").fit(sub)
        e = far.locate(rtt)
    assert distance_km(plain.lat_deg, plain.lon_deg, *truth) > 1000
    assert distance_km(e.lat_deg, e.lon_deg, *truth) < 100
    q = far._query(rtt, np.isfinite(rtt) & far.usable_)
    near_far = to_unit_vectors(np.array([plain.lat_deg, e.lat_deg]), np.array([plain.lon_deg, e.lon_deg]))
    s = far._far_log_survival(near_far, q)
    assert np.all(s <= 0.0) and s[0] < s[1] - 1.0, "the plain point costs more: -3.8 vs -2.0"


def test_the_far_term_s_table_and_pruning_match_the_residuals_read_directly(wonderproxy) -> None:
    # The far landmarks' term is read off a per-query table (1 % of distance between nodes) and
    # only for the landmarks that can be the least (_far_candidates), at each point its nearest
    # first; it must agree with the definition, min over far landmarks of (1 - w) log P(residual
    # >= z), z at the exact distance, and be exactly the least over every far landmark's term.
    t = list(wonderproxy.ids).index("131")  # Nairobi: 91 ms to the nearest, most landmarks far
    sub, rtt = _split(wonderproxy, t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RttgeoWarning)
        est = make_estimator("rttgeo").fit(sub)
    q = est._query(rtt, np.isfinite(rtt) & est.usable_)
    n_far = len(q.far_idx)
    assert n_far > 100
    rng = np.random.default_rng(3)
    near = est.unit_[q.far_idx[5]] + rng.normal(0, 0.02, (400, 3))  # within ~300 km of one
    read = []
    terms = type(est)._far_terms

    def counted(self, u, q, cols):
        read.append(cols.size)
        return terms(self, u, q, cols)

    for pts, compact in ((rng.normal(size=(400, 3)), False), (near, True)):
        u = pts / np.linalg.norm(pts, axis=1, keepdims=True)
        d = np.degrees(np.arccos(np.clip(u @ est.unit_[q.far_idx].T, -1, 1))) * 111.195
        z = est.model_.residuals(d, q.far_rtt_ms, q.far_idx)
        tail = est.residual_tail_
        exact = np.log((len(tail) - np.searchsorted(tail, z) + 1.0) / (len(tail) + 1.0))
        exact = (exact * q.far_weight[None, :]).min(axis=1)
        read.clear()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(type(est), "_far_terms", counted)
            fast = est._far_log_survival(u, q)
        if compact:  # as a posterior's support: most far landmarks cannot be the least
            assert sum(read) < len(u) * n_far / 2, sum(read) / (len(u) * n_far)
        else:  # any landmark can: the nearest are read first, and more where they do not settle
            assert len(est._far_candidates(u, q)) > 4 * est.FAR_NEAREST and len(read) > 1
        # A step of the empirical survival can fall between two nodes: at the tail's last
        # residuals one step is up to log 2 (from 2 residuals above to 1); most points agree
        # to 0.01 nats.
        assert np.max(np.abs(fast - exact)) < np.log(2.0), np.max(np.abs(fast - exact))
        assert np.median(np.abs(fast - exact)) < 0.01
        every = est._far_terms(u, q, np.broadcast_to(np.arange(n_far), (len(u), n_far))).min(axis=1)
        # Reading the nearest first is exact: the same least term (a landmark wrongly passed over
        # would differ by a step of the table; 1e-9 only allows for SIMD rounding of the batch).
        np.testing.assert_allclose(fast, every, rtol=0.0, atol=1e-9)


def test_an_rtt_beyond_the_calibration_gives_no_confident_answer() -> None:
    """One landmark at 1 s or 60 s: read as such, the model favoured the distance where its spread
    is widest (about 70 km from the landmark) and gave a region of 1,557 km² with no warning. An
    RTT above the fit pairs' largest is read as that largest: low confidence, a continent-sized
    region, the point far from the landmark."""
    from rttgeo.api import estimate

    for rtt in (1_000.0, 60_000.0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RttgeoWarning)
            e = estimate({"atlas-6025": rtt}).estimate
        lm = next(d for d in e.landmarks if d.id == "atlas-6025")
        assert e.low_confidence and e.area_km2 > 10_000_000, (rtt, e.area_km2)
        assert lm.distance_km > 1_000, (rtt, lm.distance_km)
