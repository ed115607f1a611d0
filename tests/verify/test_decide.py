"""rttgeo.verify.decide: three outcomes, soundness under any added delay, faults, discretisation."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rttgeo.datasets import load_wonderproxy
from rttgeo.errors import InputError
from rttgeo.estimate.delay import symmetric_rtt_ms
from rttgeo.geo.feasible import HALF_CIRCUMFERENCE_KM, annulus_tests
from rttgeo.geo.grid import (
    MAX_LEVEL,
    CellRegion,
    cell_bounds,
    cell_centers,
    cell_unit_vectors,
    circumradius_km,
    global_cells,
)
from rttgeo.geo.sphere import destination, distance_km, to_unit_vectors
from rttgeo.models import Landmark
from rttgeo.units import MAX_KM_PER_RTT_MS
from rttgeo.verify import RadiusClaim, decide, sound_radius_km
from rttgeo.verify.simulate import trusted_hosts

decide_mod = importlib.import_module("rttgeo.verify.decide")


@pytest.fixture(scope="module")
def mesh():
    return load_wonderproxy()


@pytest.fixture(scope="module")
def trusted(mesh):
    return trusted_hosts(mesh)[0]


def test_trusted_hosts_leave_out_those_light_contradicts(mesh):
    ok, why = trusted_hosts(mesh)
    out = {mesh.labels[mesh.ids.index(h)].split(",")[0] for h in why}
    assert out == {"Prague", "La Ceiba", "Rome", "Auckland", "Belfast"}
    assert ok.sum() == len(mesh) - 5


def honest(mesh, t):
    """(landmarks, RTTs) of WonderProxy host ``t`` measured by every other trusted host."""
    s = symmetric_rtt_ms(mesh.rtt_ms)
    ok, _ = trusted_hosts(mesh)
    assert ok[t]
    idx = [j for j in range(len(mesh)) if j != t and ok[j]]
    lms = mesh.landmarks()
    return [lms[j] for j in idx], s[t, idx]


def lm(i, lat, lon):
    return Landmark(f"L{i}", float(lat), float(lon))


def test_sound_radius_is_light_in_vacuum_plus_sphere_error_plus_uncertainty():
    assert sound_radius_km(10.0, 0.0) == pytest.approx(10 * 149.896229 * 1.00562)
    assert sound_radius_km(np.array([1.0, 2.0]), 5.0) == pytest.approx(
        [149.896229 * 1.00562 + 5, 2 * 149.896229 * 1.00562 + 5]
    )


def test_honest_hosts_are_never_refuted_and_far_false_claims_are(mesh, trusted):
    # European, American, Asian and remote hosts: an honest claim can be undecided, never refuted.
    for t in (0, 5, 51, 100, 150, 200):
        if not trusted[t]:
            continue
        lms, r = honest(mesh, t)
        for radius in (100, 500, 2000):
            d = decide(
                RadiusClaim(mesh.lat_deg[t], mesh.lon_deg[t], radius), lms, r, refine_region=False
            )
            assert d.outcome in ("proven", "undecided"), (t, radius, d.reasons)
        antipode_lon = (mesh.lon_deg[t] + 360.0) % 360.0 - 180.0
        d = decide(RadiusClaim(-mesh.lat_deg[t], antipode_lon, 2000), lms, r)
        assert d.outcome == "refuted"
        assert d.reasons == ("region-outside-claim",)
        assert d.deciding, "the landmarks that shaped the region are named"


def test_vienna_is_proven_within_500_km_and_the_region_holds_the_truth(mesh):
    t = mesh.ids.index(next(h for h, lab in zip(mesh.ids, mesh.labels, strict=True) if "Vienna" in lab))
    lms, r = honest(mesh, t)
    d = decide(RadiusClaim(mesh.lat_deg[t], mesh.lon_deg[t], 500), lms, r)
    assert d.outcome == "proven" and d.mode == "sound" and d.sound
    assert d.region.contains(mesh.lat_deg[t], mesh.lon_deg[t])
    assert 0 < d.area_km2 < np.pi * 500**2
    js = d.to_json()
    assert js["outcome"] == "proven" and js["region"]["type"] in ("Polygon", "MultiPolygon")
    assert js["claim"]["radius_km"] == 500 and js["false_accept"] is None


def test_discretisation_is_conservative_at_the_edge_of_one_disc():
    # One landmark: the consistent set is exactly its disc of radius h. A claim slightly smaller
    # than h is not proven (points between lie outside it); one comfortably larger is.
    rtt = 5.0
    h = float(sound_radius_km(rtt, 0.0))
    lms = [lm(0, 30.0, 10.0)]
    for radius, want in ((h - 1.0, "undecided"), (h + 15.0, "proven")):
        d = decide(RadiusClaim(30.0, 10.0, radius), lms, [rtt], position_uncertainty_km=0.0)
        assert d.outcome == want, (radius, d.reasons)
    # A claim just outside the disc (gap 1 km) is not refuted; with a wide gap it is.
    far = destination(30.0, 10.0, 90.0, h + 100.0 + 1.0)
    d = decide(RadiusClaim(float(far[0]), float(far[1]), 100.0), lms, [rtt], position_uncertainty_km=0.0)
    assert d.outcome == "undecided" and d.reasons == ("boundary-unresolved",)
    far = destination(30.0, 10.0, 90.0, h + 100.0 + 30.0)
    d = decide(RadiusClaim(float(far[0]), float(far[1]), 100.0), lms, [rtt], position_uncertainty_km=0.0)
    assert d.outcome == "refuted"


def test_contradicting_landmarks_are_a_landmark_fault_not_a_verdict():
    lms = [lm(0, 0.0, 0.0), lm(1, 0.0, 60.0), lm(2, 10.0, 30.0)]
    rtt = [1.0, 1.0, 30.0]  # 6,700 km apart, yet both claim the host within 150 km
    d = decide(RadiusClaim(0.0, 30.0, 5000), lms, rtt)
    assert d.outcome == "landmark-fault"
    assert "empty-intersection" in d.reasons and ("L0", "L1") in d.conflicts
    assert d.region.empty and d.area_km2 == 0
    # Tolerating one fault, the decision holds for both subsets missing one landmark.
    d1 = decide(RadiusClaim(0.0, 30.0, 5000), lms, rtt, faults=1)
    assert d1.outcome != "landmark-fault"
    assert d1.faults == 1 and d1.faults_needed == 1 and "landmarks-disagree" in d1.reasons


def brute_subsets(claim, lms, rtt, f):
    """Outcomes of decide over every subset missing f landmarks (the definition of fault tolerance)."""
    import itertools

    n = len(lms)
    out = set()
    for drop in itertools.combinations(range(n), f):
        keep = [i for i in range(n) if i not in drop]
        out.add(decide(claim, [lms[i] for i in keep], np.asarray(rtt)[keep], end_level=4).outcome)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_fault_tolerance_agrees_with_every_subset(seed):
    rng = np.random.default_rng(seed)
    host = (rng.uniform(-50, 60), rng.uniform(-180, 180))
    n = 6
    lat = rng.uniform(-60, 70, n)
    lon = rng.uniform(-180, 180, n)
    d = distance_km(host[0], host[1], lat, lon)
    rtt = d / MAX_KM_PER_RTT_MS * rng.uniform(1.5, 3.0, n) + 1.0
    liar = rng.integers(n)
    rtt[liar] = 0.5  # a lying landmark claims the host is right next to it
    lms = [lm(i, a, o) for i, (a, o) in enumerate(zip(lat, lon, strict=True))]
    claim = RadiusClaim(float(lat[liar]), float(lon[liar]), 500.0)
    got = decide(claim, lms, rtt, faults=1, end_level=4).outcome
    subsets = brute_subsets(claim, lms, rtt, 1) - {"landmark-fault"}
    if got == "proven":
        assert subsets == {"proven"}
    if got == "refuted":
        assert subsets == {"refuted"}
    # The lie cannot get the claim at the liar's place proven while the host is far from it.
    if distance_km(host[0], host[1], lat[liar], lon[liar]) > 500:
        assert got != "proven"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    host_lat=st.floats(-85, 85),
    host_lon=st.floats(-180, 180),
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 12),
    claim_km=st.floats(50, 3000),
)
def test_no_added_delay_gets_a_false_claim_proven(host_lat, host_lon, seed, n, claim_km):
    """For any true position and any non-negative added delays, the true position stays in the
    consistent region, so a claim excluding it is never proven and one holding it never refuted."""
    rng = np.random.default_rng(seed)
    lat = rng.uniform(-90, 90, n)
    lon = rng.uniform(-180, 180, n)
    d = distance_km(host_lat, host_lon, lat, lon)
    # The fastest physics allows (light in vacuum over the great circle), then any added delay,
    # including huge ones and exact zeros.
    added = rng.choice([0.0, 0.01, 1.0, 50.0, 500.0], n) * rng.uniform(0, 1, n)
    rtt = np.maximum(d / MAX_KM_PER_RTT_MS + added, 1e-3)
    lms = [lm(i, a, o) for i, (a, o) in enumerate(zip(lat, lon, strict=True))]
    # A false claim: a disc that excludes the host (centred claim_km + margin away).
    centre = destination(host_lat, host_lon, rng.uniform(0, 360), claim_km + 1.0 + rng.uniform(0, 2000))
    false = RadiusClaim(float(centre[0]), float(centre[1]), claim_km)
    dec = decide(false, lms, rtt, position_uncertainty_km=0.0, end_level=4, refine_region=False)
    assert dec.outcome != "proven"
    true = RadiusClaim(host_lat, host_lon, claim_km)
    dec = decide(true, lms, rtt, position_uncertainty_km=0.0, end_level=4)
    assert dec.outcome != "refuted"
    assert dec.region.contains(host_lat, host_lon)


def test_annulus_tests_bracket_the_violations_of_every_point_of_a_cell():
    rng = np.random.default_rng(3)
    level = 2
    rows, cols = global_cells(level)
    pick = rng.choice(len(rows), 300, replace=False)
    rows, cols = rows[pick], cols[pick]
    centres = to_unit_vectors(rng.uniform(-80, 80, 8), rng.uniform(-180, 180, 8))
    lo = rng.uniform(0, 2000, 8)
    hi = lo + rng.uniform(100, 4000, 8)
    definite, possible, _ = annulus_tests(
        cell_unit_vectors(level, rows, cols), circumradius_km(level, rows), centres, lo, hi
    )
    lat0, lat1, lon0, lon1 = cell_bounds(level, rows, cols)
    for k in range(len(rows)):
        z = rng.uniform(np.sin(np.radians(lat0[k])), np.sin(np.radians(lat1[k])), 200)
        plat, plon = np.degrees(np.arcsin(z)), rng.uniform(lon0[k], lon1[k], 200)
        u = to_unit_vectors(plat, plon)
        dist = 6371.0088 * np.arccos(np.clip(u @ centres.T, -1, 1))
        v = ((dist < lo) | (dist > hi)).sum(axis=1)
        assert definite[k] <= v.min() and v.max() <= possible[k]


def test_redundant_discs_are_dropped_without_changing_the_decision(mesh, monkeypatch):
    for t in (5, 60, 121):
        lms, r = honest(mesh, t)
        claim = RadiusClaim(mesh.lat_deg[t], mesh.lon_deg[t], 800)
        with_drop = decide(claim, lms, r, faults=1)
        monkeypatch.setattr(decide_mod, "_redundant", lambda u, lo, hi, f: np.zeros(len(hi), bool))
        without = decide(claim, lms, r, faults=1)
        monkeypatch.undo()
        assert with_drop.outcome == without.outcome
        assert np.array_equal(with_drop.region.keys(), without.region.keys())


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"mode": "bogus"}, "mode"),
        ({"faults": -1}, "faults"),
        ({"faults": 3}, "faults"),
        ({"faults": 1.5}, "faults"),
        ({"position_uncertainty_km": -1.0}, "position_uncertainty_km"),
    ],
)
def test_bad_parameters_raise_input_errors(kwargs, field):
    lms = [lm(0, 0, 0), lm(1, 0, 10), lm(2, 10, 0)]
    with pytest.raises(InputError) as e:
        decide(RadiusClaim(0, 0, 100), lms, [10.0, 10.0, 10.0], **kwargs)
    assert e.value.field == field


@pytest.mark.parametrize("bad", [0.0, -1.0, np.inf])
def test_bad_rtts_raise_input_errors(bad):
    with pytest.raises(InputError, match="not a positive finite") as e:
        decide(RadiusClaim(0, 0, 100), [lm(0, 0, 0), lm(1, 1, 1)], [5.0, bad])
    assert e.value.field == "rtt_ms" and "'L1'" in str(e.value)
    with pytest.raises(InputError, match="align") as e:
        decide(RadiusClaim(0, 0, 100), [lm(0, 0, 0)], [5.0, 5.0])
    assert e.value.field == "rtt_ms"


def test_unmeasured_landmarks_are_ignored_and_no_measurement_decides_nothing():
    lms = [lm(0, 50, 8), lm(1, 0, 0)]
    d = decide(RadiusClaim(50, 8, 1000), lms, [2.0, np.nan])
    assert d.outcome == "proven" and d.landmarks_used == 1
    d = decide(RadiusClaim(50, 8, 1000), lms, [np.nan, np.nan])
    assert d.outcome == "undecided" and "no-landmark-measured" in d.reasons


def test_bad_radius_claims_raise():
    for args in ((91, 0, 10), (0, 181, 10), (0, 0, 0), (0, 0, float("nan"))):
        with pytest.raises(InputError):
            RadiusClaim(*args)


def test_calibrated_decisions_carry_the_rate_measured_for_their_model(monkeypatch):
    from rttgeo.estimate.defaults import default_delay_distance
    from rttgeo.verify import calibrated
    from rttgeo.verify.describe import describe_decision

    rate = calibrated.FalseAcceptRate(
        3, 1000, 0.008, calibrated.DEFAULT_Z, calibrated.DEFAULT_MAX_LANDMARKS, "test", {},
        z_lower=calibrated.DEFAULT_Z_LOWER,
    )
    monkeypatch.setattr(calibrated, "load_false_accept_rate", lambda: rate)
    lms = [lm(0, 50.11, 8.68), lm(1, 48.86, 2.35), lm(2, 52.23, 21.01)]
    d = decide(RadiusClaim(50.11, 8.68, 1000), lms, [1.0, 9.5, 14.0], mode="calibrated")
    assert d.mode == "calibrated" and not d.sound and d.false_accept is rate
    assert "not-sound-against-adversary" in d.reasons
    text = describe_decision(d)
    assert "NOT sound against a lying host" in text and "0.30 % (3 of 1,000" in text
    other = calibrated.CalibratedModel(default_delay_distance(), z=calibrated.DEFAULT_Z + 0.5)
    d2 = decide(RadiusClaim(50.11, 8.68, 1000), lms, [1.0, 9.5, 14.0], mode="calibrated", model=other)
    assert d2.false_accept is None and "NOT measured" in describe_decision(d2)
    # Another lower spread is another model too: the rate does not apply.
    z_lower = 2.0 if calibrated.DEFAULT_Z_LOWER is None else None
    other = calibrated.CalibratedModel(default_delay_distance(), z_lower=z_lower)
    d3 = decide(RadiusClaim(50.11, 8.68, 1000), lms, [1.0, 9.5, 14.0], mode="calibrated", model=other)
    assert d3.false_accept is None
    # Calibrated annuli are never wider than the sound discs.
    assert d.area_km2 <= decide(RadiusClaim(50.11, 8.68, 1000), lms, [1.0, 9.5, 14.0]).area_km2


def test_end_level_outside_the_grid_is_an_input_error():
    with pytest.raises(InputError) as e:
        decide(RadiusClaim(0, 0, 100), [lm(0, 0, 0)], [5.0], end_level=9)
    assert e.value.field == "end_level"


class _Ring:
    """A calibrated model stub: every RTT reads as 500-600 km from its landmark."""

    setting = (0.0, 0.0, 0)

    def select(self, rtt_ms):  # type: ignore[no-untyped-def]
        return np.ones(len(np.atleast_1d(rtt_ms)), dtype=bool)

    def annulus_km(self, rtt_ms):  # type: ignore[no-untyped-def]
        n = len(np.atleast_1d(rtt_ms))
        return np.full(n, 500.0), np.full(n, 600.0)

    def params(self) -> dict:
        return {}


def test_calibrated_annuli_widen_both_ways_by_the_position_uncertainty() -> None:
    # A landmark whose position is uncertain by 200 km: the host may be 300-800 km from where the
    # catalog puts it. A claim 350 km away is consistent; without the uncertainty it is refuted.
    lms = [lm(0, 30.0, 10.0)]
    near = destination(30.0, 10.0, 90.0, 350.0)
    claim = RadiusClaim(float(near[0]), float(near[1]), 60.0)
    d = decide(claim, lms, [10.0], mode="calibrated", model=_Ring(), position_uncertainty_km=200.0)
    assert d.outcome != "refuted", d.reasons
    d0 = decide(claim, lms, [10.0], mode="calibrated", model=_Ring(), position_uncertainty_km=0.0)
    assert d0.outcome == "refuted", d0.reasons
    out = destination(30.0, 10.0, 90.0, 750.0)  # beyond 600 km, inside the widened 800 km
    d2 = decide(RadiusClaim(float(out[0]), float(out[1]), 40.0), lms, [10.0], mode="calibrated",
                model=_Ring(), position_uncertainty_km=200.0)
    assert d2.outcome != "refuted", d2.reasons
    far = destination(30.0, 10.0, 90.0, 850.0)  # past the widened outer edge (800 km) by 50 km
    d1 = decide(RadiusClaim(float(far[0]), float(far[1]), 40.0), lms, [10.0], mode="calibrated",
                model=_Ring(), position_uncertainty_km=200.0)
    assert d1.outcome == "refuted", d1.reasons


def test_exactly_two_contradicting_landmarks_are_named_and_no_other_pair():
    # Two landmarks 6,700 km apart that each put the host within 150 km of them: the only pair.
    lms = [lm(0, 0.0, 0.0), lm(1, 0.0, 60.0)]
    d = decide(RadiusClaim(0.0, 30.0, 5000), lms, [1.0, 1.0])
    assert d.outcome == "landmark-fault"
    assert d.reasons == ("empty-intersection", "landmark-pairs-contradict")
    assert d.conflicts == (("L0", "L1"),)
    assert d.faults_needed == 1
    # A third landmark whose disc overlaps both (wide, 4,500 km) contradicts neither of them.
    d3 = decide(RadiusClaim(0.0, 30.0, 5000), [*lms, lm(2, 10.0, 30.0)], [1.0, 1.0, 30.0])
    assert d3.outcome == "landmark-fault" and d3.conflicts == (("L0", "L1"),)


def test_discs_that_touch_at_one_point_do_not_contradict():
    # The host may sit exactly at the point where two discs touch: not a conflict; 1 m apart is.
    unit = to_unit_vectors(np.array([0.0, 0.0]), np.array([0.0, 40.0]))
    gap = float(decide_mod.pairwise_distance_km(unit[:1], unit[1:])[0, 0])
    assert decide_mod._conflicts(unit, np.array([gap / 2, gap / 2]), ["A", "B"]) == ()
    assert decide_mod._conflicts(unit, np.array([gap / 2, gap / 2 - 0.001]), ["A", "B"]) == (("A", "B"),)


def test_contradicting_pairs_are_listed_in_order_up_to_twenty():
    # Seven landmarks around the equator, each claiming the host within 150 km: all 21 pairs
    # contradict; the first 20 in (i, j) order are listed.
    lms = [lm(i, 0.0, -150.0 + 50.0 * i) for i in range(7)]
    d = decide(RadiusClaim(0.0, 0.0, 1000), lms, [1.0] * 7)
    assert d.outcome == "landmark-fault"
    pairs = [(f"L{i}", f"L{j}") for i in range(7) for j in range(i + 1, 7)]
    assert len(pairs) == 21 and d.conflicts == tuple(pairs[:20])


@pytest.mark.parametrize("mode", ["sound", "calibrated-fallback", "calibrated-model"])
@pytest.mark.parametrize("where", [(-33.87, 151.21), (50.3, 8.9)], ids=["far", "inside-the-region"])
def test_a_disc_covering_the_whole_earth_changes_nothing(where, mode):
    # 200 ms allows 30,000 km: past half the circumference (20,015 km), every point satisfies it.
    # Adding such a landmark, far away or in the middle of the region, leaves the decision, its
    # region and its deciding landmarks unchanged: in sound mode, in calibrated mode when the model
    # does not select the RTT (the sound disc), and when the model's own annulus is such a disc.
    lms = [lm(0, 50.11, 8.68), lm(1, 48.86, 2.35), lm(2, 52.23, 21.01)]
    rtt = [3.0, 9.5, 14.0]
    claim = RadiusClaim(50.11, 8.68, 600)
    kwargs: dict = {"end_level": 4}
    if mode != "sound":
        kwargs.update(mode="calibrated", model=_Unselected() if mode == "calibrated-fallback" else
                      _Annuli((0.0, 30_000.0)))
    base = decide(claim, lms, rtt, **kwargs)
    wide = decide(claim, [*lms, lm(3, *where)], [*rtt, 200.0], **kwargs)
    assert sound_radius_km(200.0, 10.0) > np.pi * 6371.0088
    assert wide.outcome == base.outcome and wide.reasons == base.reasons
    assert np.array_equal(wide.region.keys(), base.region.keys())
    assert [x.id for x in wide.deciding] == [x.id for x in base.deciding]
    assert "L3" not in {x.id for x in wide.deciding} and wide.landmarks_used == 4


class _Annuli:
    """A calibrated model stub: RTTs under 100 ms read as a disc of 100 km/ms; longer ones as the
    annulus ``wide`` (lo, hi) km."""

    setting = (0.0, 0.0, 0)

    def __init__(self, wide: tuple[float, float]) -> None:
        self.wide = wide

    def select(self, rtt_ms):  # type: ignore[no-untyped-def]
        return np.ones(len(np.atleast_1d(rtt_ms)), dtype=bool)

    def annulus_km(self, rtt_ms):  # type: ignore[no-untyped-def]
        r = np.atleast_1d(rtt_ms)
        short = r < 100
        return np.where(short, 0.0, self.wide[0]), np.where(short, r * 100.0, self.wide[1])

    def params(self) -> dict:
        return {}


@pytest.mark.parametrize(
    ("wide", "constrains"),
    [
        ((0.0, np.pi * 6371.0088), False),  # a disc of exactly half the circumference: all points
        ((0.5, 30_000.0), True),  # a hole of 0.5 km, however wide the outer edge: a constraint
    ],
)
def test_an_annulus_constrains_unless_it_is_a_disc_reaching_half_the_circumference(wide, constrains):
    # A landmark (L1) inside the region of a 500 km disc: named among the deciding landmarks exactly
    # when its annulus excludes some point (a hole at its own position), never for a whole-Earth disc.
    lms = [lm(0, 10.0, 20.0), lm(1, 10.5, 20.5)]
    d = decide(RadiusClaim(10.0, 20.0, 2000), lms, [5.0, 150.0], mode="calibrated", model=_Annuli(wide),
               position_uncertainty_km=0.0, end_level=3)
    assert d.outcome == "proven", d.reasons
    assert d.deciding[0].id == "L0" and d.deciding_radius_km[0] == pytest.approx(500.0)
    assert ("L1" in {x.id for x in d.deciding}) == constrains


def test_a_disc_smaller_than_one_cell_still_gives_a_region_holding_the_landmark():
    # A landmark at the centre of a level-0 cell (about 440 km across) with a 1.5 km disc: at
    # every level the disc meets a single cell, which must be kept (never a landmark fault).
    rows, cols = global_cells(0)
    lat, lon = cell_centers(0, rows[2000], cols[2000])
    lms = [Landmark("L0", float(lat), float(lon))]
    d = decide(RadiusClaim(float(lat), float(lon), 60.0), lms, [0.01], position_uncertainty_km=0.0,
               end_level=4)
    assert d.outcome == "proven", d.reasons
    assert d.region.contains(float(lat), float(lon)) and 0 < d.area_km2 < 60.0**2 * np.pi


@pytest.mark.parametrize("end_level", [2, 3])
def test_the_region_is_brought_to_the_finest_level_within_the_cell_cap(monkeypatch, end_level):
    # The region of one 1,500 km disc: n cells at end_level. A cap of exactly n keeps end_level (the
    # cap is inclusive); n - 1 takes the next coarser level; a cap no level meets gives level 0.
    lms = [lm(0, 10.0, 20.0)]
    claim = RadiusClaim(10.0, 20.0, 3000)
    n = len(decide(claim, lms, [10.0], end_level=end_level).region)
    for cap, want in ((n, end_level), (n - 1, end_level - 1), (1, 0)):
        monkeypatch.setattr(decide_mod, "MAX_REGION_CELLS", cap)
        region = decide(claim, lms, [10.0], end_level=end_level).region
        assert region.level == want, (cap, region.level)
        assert region.contains(10.0, 20.0)


def test_region_level_counts_coarser_cells_as_their_descendants(monkeypatch):
    # Cells of level 1 (2 of them) and 3 (5): at level 3 they are 2 x 16 + 5 = 37 cells, at level 2
    # 2 x 4 + 5 (finer cells count at most once each) = 13, at level 1 7, at level 0 7.
    r = np.arange(2, dtype=np.int64)
    cells = [(1, r, r), (3, np.arange(5, dtype=np.int64), np.arange(5, dtype=np.int64))]
    got = {}
    for cap in (37, 36, 13, 12, 7, 6):
        monkeypatch.setattr(decide_mod, "MAX_REGION_CELLS", cap)
        got[cap] = decide_mod._region_level(cells, 3)
    assert got == {37: 3, 36: 2, 13: 2, 12: 1, 7: 1, 6: 0}


def random_case(rng):
    """A random decision problem: up to 6 landmarks around a host (honest RTTs with added delay, at
    times a lying landmark, an unmeasured one or one whose disc covers the Earth), a claim near the
    host, and a fault budget."""
    n = int(rng.integers(1, 7))
    host = (rng.uniform(-70, 70), rng.uniform(-180, 180))
    spread = float(rng.choice([500.0, 2000.0, 8000.0]))
    pts = [destination(host[0], host[1], rng.uniform(0, 360), rng.uniform(0, spread)) for _ in range(n)]
    lat = np.array([float(p[0]) for p in pts])
    lon = np.array([float(p[1]) for p in pts])
    rtt = distance_km(host[0], host[1], lat, lon) / MAX_KM_PER_RTT_MS * rng.uniform(1.0, 2.5, n)
    rtt += rng.uniform(0.05, 3, n)
    if rng.random() < 0.3:
        rtt[rng.integers(n)] = rng.uniform(0.2, 2)  # a liar: the host right next to it
    if rng.random() < 0.1:
        rtt[rng.integers(n)] = np.nan
    if rng.random() < 0.1:
        rtt[rng.integers(n)] = rng.uniform(140, 300)
    c = destination(host[0], host[1], rng.uniform(0, 360), rng.uniform(0, 2 * spread))
    radius_km = float(rng.choice([50, 200, 1000, 3000]) * rng.uniform(0.5, 1.5))
    claim = RadiusClaim(float(c[0]), float(c[1]), radius_km)
    measured = int(np.isfinite(rtt).sum())
    faults = int(rng.integers(0, max(measured, 1))) if rng.random() < 0.5 else 0
    lms = [lm(i, a, o) for i, (a, o) in enumerate(zip(lat, lon, strict=True))]
    kwargs = {"faults": faults, "end_level": int(rng.integers(1, 4)),
              "position_uncertainty_km": float(rng.choice([0.0, 10.0, 100.0]))}
    return claim, lms, rtt, kwargs


@pytest.mark.parametrize("seed", range(6))
def test_refining_only_what_the_verdict_needs_gives_the_same_verdict(seed):
    """refine_region=False stops refining cells that cannot change the verdict: the outcome and its
    reason are those of the fully refined decision, and its blockier region covers the sharp one."""
    rng = np.random.default_rng(100 + seed)
    for _ in range(12):
        claim, lms, rtt, kwargs = random_case(rng)
        sharp = decide(claim, lms, rtt, refine_region=True, **kwargs)
        quick = decide(claim, lms, rtt, refine_region=False, **kwargs)
        assert (quick.outcome, quick.reasons[:1]) == (sharp.outcome, sharp.reasons[:1]), (claim, kwargs)
        assert quick.region.level <= sharp.region.level
        centres = cell_centers(sharp.region.level, sharp.region.rows, sharp.region.cols)
        assert np.all(quick.region.contains(*centres))


def test_sound_radius_defaults_to_no_uncertainty_and_keeps_float64():
    assert sound_radius_km(10.0) == sound_radius_km(10.0, 0.0) == 10 * MAX_KM_PER_RTT_MS * 1.00562
    # float32 or integer RTTs are computed in float64 (a float32 radius would be off by metres).
    for rtt in (np.float32(10.1), np.array([10.1], np.float32), np.array([7], np.int64)):
        got = np.asarray(sound_radius_km(rtt))
        want = np.asarray(rtt, dtype=np.float64) * 149.896229 * 1.00562
        assert got.dtype == np.float64 and got == pytest.approx(want, rel=1e-12)


def _redundancy_case(lo_j, hi_j_of_d, faults=0, hi_k=(100.0,)):
    """_redundant on the reference discs k (radii ``hi_k``, 0 and 700 km west of (0, 0)) and an annulus j
    (first) 300 km east of (0, 0): ``hi_j_of_d`` maps the distance d(j, k0) + 0.5 km the function uses
    (0.5 km covers rounding) to j's outer radius. Returns whether j is dropped."""
    lat = np.array([0.0, 0.0, 0.0][: 1 + len(hi_k)])
    lon = np.array([float(destination(0.0, 0.0, 90.0, 300.0)[1]), 0.0, -700 / 111.195][: 1 + len(hi_k)])
    unit = to_unit_vectors(lat, lon).reshape(-1, 3)
    d = float(decide_mod.pairwise_distance_km(unit, unit[1:2])[0, 0]) + 0.5
    lo = np.array([lo_j(d) if callable(lo_j) else lo_j, *([0.0] * len(hi_k))])
    hi = np.array([hi_j_of_d(d), *hi_k])
    out = decide_mod._redundant(unit, lo, hi, faults)
    assert not out[1:].any(), "the reference discs themselves are never dropped"
    return bool(out[0])


def test_a_disc_is_dropped_as_redundant_exactly_when_it_contains_the_tightest_disc():
    """Dropping annulus j is exact only when it contains the reference disc k: every consistent
    point lies in k, so in j. The 0.5 km margin absorbs rounding (containment at the margin counts);
    a disc missing even 0.1 km of k is kept."""
    assert _redundancy_case(0.0, lambda d: d + 100.0 + 0.5)  # contains k with 1 km to spare
    assert _redundancy_case(0.0, lambda d: d + 100.0)  # exactly at the margin
    assert not _redundancy_case(0.0, lambda d: d - 0.5 + 100.0 - 0.1)  # misses 0.1 km of k
    assert not _redundancy_case(0.0, lambda d: 250.0)  # overlaps k only partly


def test_an_annulus_is_dropped_only_when_its_hole_clears_the_tightest_disc():
    wide = lambda d: d + 5000.0  # noqa: E731 - the outer edge holds k with room to spare
    assert _redundancy_case(lambda d: d - 0.5 - 100.0 - 1.0, wide)  # hole 1 km clear of k
    assert _redundancy_case(lambda d: d - 1.0 - 100.0, wide)  # exactly at the margin
    assert not _redundancy_case(lambda d: d - 0.5 - 100.0 + 0.1, wide)  # hole overlaps k by 0.1 km


def test_with_faults_a_disc_is_redundant_only_when_it_contains_each_of_the_f_plus_1_tightest():
    # Reference discs: 100 km at (0, 0) and 150 km 700 km west of it. A 2,000 km disc 300 km east of
    # (0, 0) holds both: dropped with one fault tolerated. A 500 km one holds only the first: kept
    # (a point may lie in the second disc alone when the first landmark is the faulty one).
    big = lambda d: 2000.0  # noqa: E731
    assert _redundancy_case(0.0, big, faults=1, hi_k=(100.0, 150.0))
    assert not _redundancy_case(0.0, lambda d: 500.0, faults=1, hi_k=(100.0, 150.0))
    assert _redundancy_case(0.0, lambda d: 500.0, faults=0, hi_k=(100.0, 150.0))
    # With faults = 1 and only two discs, any point in either is consistent: nothing is dropped.
    assert not _redundancy_case(0.0, big, faults=1, hi_k=(100.0,))


def test_the_decision_refines_the_region_to_end_level_by_default():
    d = decide(RadiusClaim(10.0, 20.0, 3000), [lm(0, 10.0, 20.0)], [10.0], end_level=3)
    assert d.region.level == 3
    quick = decide(RadiusClaim(10.0, 20.0, 3000), [lm(0, 10.0, 20.0)], [10.0], end_level=3,
                   refine_region=False)
    # Quick mode returns the region at the coarsest level it holds cells of: level 0 here.
    assert quick.region.level == 0 and quick.outcome == d.outcome == "proven"
    assert d.faults_needed == quick.faults_needed == 0 and d.reasons == ("region-inside-claim",)
    assert "stopped_early" not in d.params


def test_end_level_accepts_every_grid_level_from_0_to_max_level():
    # A 1.5 km disc: a handful of cells at every level, so the finest level is cheap.
    lms = [lm(0, 10.0, 20.0)]
    for level in (0, MAX_LEVEL):
        d = decide(RadiusClaim(10.0, 20.0, 5000), lms, [0.01], position_uncertainty_km=0.0, end_level=level)
        assert d.outcome == "proven" and d.end_level == level and d.region.level == level
    for level in (-1, MAX_LEVEL + 1):
        with pytest.raises(InputError) as e:
            decide(RadiusClaim(10.0, 20.0, 5000), lms, [0.01], end_level=level)
        assert e.value.field == "end_level"


@pytest.mark.parametrize("mode", ["sound", "calibrated"])
def test_position_uncertainty_widens_the_sound_disc(mode):
    # One landmark, 5 ms: light reaches h km. A claim 60 km past h is refuted when the landmark's
    # position is exact, and not refuted when it may be 100 km off (the host may be h + 100 km away).
    # In calibrated mode an RTT the model does not select falls back to that same sound disc.
    h = float(sound_radius_km(5.0))
    far = destination(30.0, 10.0, 90.0, h + 60.0)
    claim = RadiusClaim(float(far[0]), float(far[1]), 20.0)
    kwargs = {"mode": mode, "end_level": 5}
    if mode == "calibrated":
        kwargs["model"] = _Unselected()
    exact = decide(claim, [lm(0, 30.0, 10.0)], [5.0], position_uncertainty_km=0.0, **kwargs)
    assert exact.outcome == "refuted", exact.reasons
    loose = decide(claim, [lm(0, 30.0, 10.0)], [5.0], position_uncertainty_km=100.0, **kwargs)
    assert loose.outcome == "undecided", loose.reasons
    assert loose.deciding_radius_km == pytest.approx((h + 100.0,))


class _Unselected(_Annuli):
    """A calibrated model that selects no RTT: every landmark falls back to its sound disc."""

    def __init__(self) -> None:
        super().__init__((0.0, 1.0))

    def select(self, rtt_ms):  # type: ignore[no-untyped-def]
        return np.zeros(len(np.atleast_1d(rtt_ms)), dtype=bool)


def test_calibrated_landmarks_the_model_does_not_select_get_exactly_the_sound_disc():
    lms = [lm(0, 50.11, 8.68), lm(1, 48.86, 2.35), lm(2, 52.23, 21.01)]
    rtt = [3.0, 9.5, 14.0]
    for claim in (RadiusClaim(50.11, 8.68, 600), RadiusClaim(48.86, 2.35, 150)):
        sound = decide(claim, lms, rtt, end_level=4)
        cal = decide(claim, lms, rtt, mode="calibrated", model=_Unselected(), end_level=4)
        assert cal.outcome == sound.outcome and cal.reasons[:1] == sound.reasons[:1]
        assert np.array_equal(cal.region.keys(), sound.region.keys())
        assert [x.id for x in cal.deciding] == [x.id for x in sound.deciding]
        assert cal.deciding_radius_km == sound.deciding_radius_km


def test_params_record_the_physics_and_the_uncertainty_used():
    lms = [lm(0, 50.11, 8.68), lm(1, 48.86, 2.35)]
    d = decide(RadiusClaim(50.11, 8.68, 600), lms, [3.0, 9.5], end_level=3, position_uncertainty_km=4.0)
    assert d.params == {
        "end_level": 3,
        "km_per_rtt_ms": pytest.approx(149.896229 * 1.00562, rel=1e-12),
        "position_uncertainty_km": 4.0,
    }
    d = decide(RadiusClaim(50.11, 8.68, 600), lms, [3.0, 9.5], end_level=3,
               position_uncertainty_km=[4.0, 9.0])
    assert d.params["position_uncertainty_km"] == "per landmark"
    d = decide(RadiusClaim(50.11, 8.68, 600), lms, [3.0, 9.5], end_level=3,
               position_uncertainty_km=[4.0, 4.0])
    assert d.params["position_uncertainty_km"] == 4.0
    assert d.to_json(with_region=False)["params"]["end_level"] == 3


def test_none_values_read_as_missing_rtts_and_as_bad_uncertainties():
    # A Python list may carry None (JSON null) for a lost probe: it is NaN, not measured.
    lms = [lm(0, 50, 8), lm(1, 0, 0)]
    d = decide(RadiusClaim(50, 8, 1000), lms, [2.0, None])
    assert d.outcome == "proven" and d.landmarks_used == 1
    # An uncertainty of None is no number: an input error naming the field, not a TypeError.
    with pytest.raises(InputError) as e:
        decide(RadiusClaim(50, 8, 1000), lms, [2.0, 3.0], position_uncertainty_km=[5.0, None])
    assert str(e.value).endswith("position uncertainty must be finite and >= 0 km")
    assert e.value.field == "position_uncertainty_km"


def test_a_fault_budget_covering_every_constraining_landmark_excludes_no_place():
    # One landmark puts the host within 150 km; two others' discs cover the Earth. Tolerating two
    # faulty landmarks, the first may be one of them: every place on Earth is consistent, so a claim
    # around the first landmark is not proven (and one elsewhere not refuted).
    lms = [lm(0, 10.0, 20.0), lm(1, -30.0, 100.0), lm(2, 40.0, -100.0)]
    rtt = [1.0, 200.0, 200.0]
    near = decide(RadiusClaim(10.0, 20.0, 500), lms, rtt, faults=2, end_level=3)
    assert near.outcome == "undecided"
    assert near.reasons == ("consistent-inside-and-outside", "tolerates-2-faulty-landmarks")
    assert near.faults_needed == 0 and near.region.contains(-60.0, -120.0)
    # Both witnesses are found on level 0: the decision stops there, the claim's border cells left
    # unrefined (kept whole in the region), and says so.
    assert near.params["stopped_early"] is True and len(near.region) == 5120 * 4**3
    # At end_level 0 nothing is left to refine when it stops: not "stopped early".
    assert "stopped_early" not in decide(RadiusClaim(10.0, 20.0, 500), lms, rtt, faults=2, end_level=0).params
    far = decide(RadiusClaim(-60.0, -120.0, 500), lms, rtt, faults=2, end_level=3)
    assert far.outcome == "undecided"
    assert decide(RadiusClaim(-60.0, -120.0, 500), lms, rtt, faults=0, end_level=3).outcome == "refuted"


@pytest.mark.parametrize("refine_region", [True, False])
def test_both_discs_of_a_lens_are_named_as_deciding(refine_region):
    # Two 1,500 km discs 2,000 km apart: the region is their lens, and both borders shape it.
    a = lm(0, 0.0, 0.0)
    b = lm(1, 0.0, float(destination(0.0, 0.0, 90.0, 2000.0)[1]))
    d = decide(RadiusClaim(0.0, 9.0, 1500), [a, b], [10.0, 10.0], position_uncertainty_km=0.0,
               end_level=4, refine_region=refine_region)
    assert d.outcome == "proven", d.reasons
    assert sorted(x.id for x in d.deciding) == ["L0", "L1"]
    assert d.deciding_radius_km == pytest.approx((sound_radius_km(10.0),) * 2)


def test_a_region_of_one_cell_is_a_region_and_a_fault_in_quick_mode_an_empty_one():
    # At end_level 0, a 1.5 km disc at a cell's centre leaves exactly one cell: a (tiny) region,
    # never a landmark fault.
    rows, cols = global_cells(0)
    lat, lon = cell_centers(0, rows[2000], cols[2000])
    one = decide(RadiusClaim(float(lat), float(lon), 2000.0), [Landmark("L0", float(lat), float(lon))],
                 [0.01], position_uncertainty_km=0.0, end_level=0)
    assert one.outcome == "proven" and len(one.region) == 1
    # Contradicting landmarks in quick mode: a landmark fault with an empty region, as when sharp.
    lms = [lm(0, 0.0, 0.0), lm(1, 0.0, 60.0)]
    for refine_region in (False, True):
        d = decide(RadiusClaim(0.0, 30.0, 5000), lms, [1.0, 1.0], refine_region=refine_region)
        assert d.outcome == "landmark-fault" and d.region.empty and d.area_km2 == 0
        assert d.region_geojson()["coordinates"] == []


def test_quick_mode_names_every_disc_bordering_the_region_whichever_level_settled_it():
    # A lens of two 900 km discs and a claim to its south-east, refuted. In quick mode the edge cells
    # are settled on several levels (those far from the claim early, the rest later): the deciding
    # landmarks gather all of them, as in the sharp decision.
    lms = [lm(0, 0.0, 0.0), lm(1, 0.0, 9.2)]
    claim = RadiusClaim(-6.0, 17.4, 930.0)
    for refine_region in (False, True):
        d = decide(claim, lms, [6.0, 6.0], position_uncertainty_km=0.0, end_level=2,
                   refine_region=refine_region)
        assert d.outcome == "refuted", d.reasons
        assert sorted(x.id for x in d.deciding) == ["L0", "L1"], refine_region


@pytest.mark.parametrize("refine_region", [False, True])
def test_with_one_fault_a_far_disc_keeps_a_claim_from_being_proven_or_refuted(refine_region):
    """Tolerating one faulty landmark, the host may be in either of two far-apart discs. A claim
    holding only one of them is neither proven nor refuted, at every level of refinement: cells of
    the other disc settled early still count against the verdict."""
    p = (10.0, 20.0)
    q = destination(*p, 90.0, 5000.0)
    tiny_far = [lm(0, *p), lm(1, float(q[0]), float(q[1]))]
    # A 30 km disc at p (no cell of it wholly consistent) and a 1,500 km disc 5,000 km east: a claim
    # of 500 km around p holds only the first.
    d = decide(RadiusClaim(*p, 500.0), tiny_far, [0.2, 10.0], faults=1, end_level=3,
               refine_region=refine_region)
    assert d.outcome == "undecided", d.reasons
    assert d.region.contains(float(q[0]), float(q[1])) and d.region.contains(*p)
    # A 1,500 km disc at p inside a 3,000 km claim, and a 30 km disc 5,000 km east, outside it.
    big_tiny = decide(RadiusClaim(*p, 3000.0), tiny_far, [10.0, 0.2], faults=1, end_level=3,
                      refine_region=refine_region)
    assert big_tiny.outcome == "undecided", big_tiny.reasons
    assert decide(RadiusClaim(*p, 3000.0), tiny_far, [10.0, 0.2], faults=0, end_level=3).outcome == (
        "landmark-fault"
    )


@pytest.mark.parametrize(("claim_km", "outcome"), [(2000.0, "refuted"), (20000.0, "proven")])
def test_quick_mode_settles_everything_on_level_0_when_the_verdict_is_known_there(claim_km, outcome):
    """A 1,500 km disc and a claim far from it (refuted) or around the whole Earth (proven): level 0
    already holds a wholly consistent cell certainly outside (inside) the claim and no cell on the
    claim's border, so quick mode refines nothing: its region is exactly the level-0 cells the disc
    may reach."""
    lms = [lm(0, 10.0, 20.0)]
    far = destination(10.0, 20.0, 180.0, 5000.0)
    claim = RadiusClaim(10.0, 20.0, claim_km) if outcome == "proven" else RadiusClaim(
        float(far[0]), float(far[1]), claim_km)
    d = decide(claim, lms, [10.0], position_uncertainty_km=0.0, end_level=4, refine_region=False)
    assert d.outcome == outcome, d.reasons
    rows, cols = global_cells(0)
    definite, _, _ = annulus_tests(cell_unit_vectors(0, rows, cols), circumradius_km(0, rows),
                                   to_unit_vectors(10.0, 20.0).reshape(1, 3), np.zeros(1),
                                   sound_radius_km([10.0]))
    want = CellRegion.from_cells(0, rows[definite == 0], cols[definite == 0])
    assert d.region.level == 0 and np.array_equal(d.region.keys(), want.keys())


def test_quick_mode_refines_partly_consistent_cells_until_a_witness_is_found():
    """Quick mode leaves a partly consistent cell unrefined only once a wholly consistent cell on
    the same side of the claim is known; before that, refining it may find one. Here (a lens, a
    claim across it) the wholly consistent cell outside the claim appears only on refining such
    cells: quick mode finds it, and gives the sharp decision's reason."""
    lms = [lm(0, 0.0, 0.0), lm(1, 0.0, 15.51)]
    claim = RadiusClaim(8.38, 7.59, 2084.0)
    sharp = decide(claim, lms, [9.9015, 9.9015], position_uncertainty_km=0.0, end_level=4)
    quick = decide(claim, lms, [9.9015, 9.9015], position_uncertainty_km=0.0, end_level=4,
                   refine_region=False)
    assert sharp.reasons == quick.reasons == ("consistent-inside-and-outside",)


@pytest.mark.parametrize("refine_region", [False, True])
def test_a_landmark_fault_inside_the_claim_is_found_in_quick_mode_too(refine_region):
    # Three landmarks in a row, 512 km apart, each 3.1 ms (467 km): the outer two cannot both be
    # right. The claim holds the first's disc; quick mode must still refine the partly consistent
    # cells inside the claim until none is left: a landmark fault, not a verdict.
    lms = [lm(0, 0.0, 0.0), lm(1, 0.0, 4.6), lm(2, 0.0, 9.2)]
    d = decide(RadiusClaim(0.0, -0.7, 940.0), lms, [3.1, 3.1, 3.1], position_uncertainty_km=0.0,
               end_level=4, refine_region=refine_region)
    assert d.outcome == "landmark-fault", d.reasons
    assert d.conflicts == (("L0", "L2"),) and d.region.empty


def test_a_disc_holding_the_region_with_room_to_spare_is_not_named_as_deciding():
    # The lens of two 1,507 km discs 2,000 km apart, and a wide disc from a landmark 3,000 km north
    # of the lens whose border passes 50 km from the lens at its closest: the wide disc constrains
    # nothing the lens does not, so only the two lens landmarks shaped the region. (Coarse cells
    # near the lens, refined later, do straddle the wide disc's border: they do not count.)
    a, b = lm(0, 0.0, 0.0), lm(1, 0.0, float(destination(0.0, 0.0, 90.0, 2000.0)[1]))
    h = float(sound_radius_km(10.0))
    mid = destination(0.0, 0.0, 90.0, 1000.0)
    north = destination(float(mid[0]), float(mid[1]), 0.0, 3000.0)
    rng = np.random.default_rng(0)
    plat, plon = rng.uniform(-15, 15, 200_000), rng.uniform(-5, 25, 200_000)
    lens = (distance_km(0.0, 0.0, plat, plon) <= h) & (distance_km(0.0, float(b.lon_deg), plat, plon) <= h)
    reach = float(distance_km(float(north[0]), float(north[1]), plat[lens], plon[lens]).max()) + 50.0
    c = lm(2, float(north[0]), float(north[1]))
    rtt_c = reach / float(sound_radius_km(1.0))
    d = decide(RadiusClaim(float(mid[0]), float(mid[1]), 1400.0), [a, b, c], [10.0, 10.0, rtt_c],
               position_uncertainty_km=0.0, end_level=4)
    assert d.outcome == "proven", d.reasons
    assert sorted(x.id for x in d.deciding) == ["L0", "L1"]


def test_among_equally_tight_discs_the_first_listed_is_the_reference():
    # Two 100 km discs tie as the tightest: the first listed (index 2) is the reference, whatever
    # the platform's sort does with ties, so the result does not depend on it. The 5,000 km disc
    # around (0, 10) holds the first (dropped) but not the second.
    lat = np.zeros(4)
    lon = np.array([10.0, 150.0, 0.0, 60.0])
    unit = to_unit_vectors(lat, lon).reshape(-1, 3)
    hi = np.array([5000.0, 5000.0, 100.0, 100.0])
    assert decide_mod._redundant(unit, np.zeros(4), hi, 0).tolist() == [True, False, False, False]


def test_input_error_messages_carry_the_figures_to_fix_the_input():
    # The counts and ranges in the messages are data the user acts on.
    lms = [lm(0, 0, 0), lm(1, 1, 1), lm(2, 2, 2)]
    with pytest.raises(InputError) as e:
        decide(RadiusClaim(0, 0, 100), lms[:1], [5.0, 5.0])
    assert "2 RTTs for 1 landmarks: they must align" in str(e.value)
    with pytest.raises(InputError) as e:
        decide(RadiusClaim(0, 0, 100), lms[:1], [[5.0, 5.0]])
    assert "(1, 2) RTTs for 1 landmarks: they must align" in str(e.value)
    with pytest.raises(InputError) as e:
        decide(RadiusClaim(0, 0, 100), lms[:2], [5.0, -1.0])
    assert str(e.value).endswith(  # the value as a plain float, not NumPy 2's np.float64(-1.0)
        "RTT -1.0 ms of landmark 'L1' is not a positive finite number (a lost probe is NaN, never 0 "
        "or negative)"
    )
    with pytest.raises(InputError) as e:
        decide(RadiusClaim(0, 0, 100), lms, [5.0, 5.0, 5.0], faults=3)
    assert str(e.value).endswith("faults must be an integer in [0, 2] (landmarks measured: 3), got 3")
    with pytest.raises(InputError) as e:
        decide(RadiusClaim(0, 0, 100), lms, [5.0, np.nan, np.nan], faults=1)
    assert str(e.value).endswith("faults must be an integer in [0, 0] (landmarks measured: 1), got 1")


@pytest.mark.parametrize("refine_region", [True, False])
@pytest.mark.parametrize("seed", range(8))
def test_honest_rtts_never_report_a_disagreement(seed, refine_region):
    """A host inside every landmark's disc forces no landmark out: faults_needed is 0 and no
    "landmarks-disagree", whatever the fault budget. The count once came from the last level's
    cells only, which quick mode fills with cells that are partly outside some disc (101 of 600
    random honest decisions said the landmarks disagreed)."""
    rng = np.random.default_rng(seed)
    cities = [(50.11, 8.68), (48.86, 2.35), (52.23, 21.01), (45.46, 9.19), (51.51, -0.13)]
    host = (48.21 + rng.uniform(-3, 3), 16.37 + rng.uniform(-3, 3))
    lms = [lm(i, la, lo) for i, (la, lo) in enumerate(cities)]
    # RTTs 1.5 x the light time plus up to 2 ms: every disc holds the host.
    rtt = [1.5 * float(distance_km(*host, la, lo)) / MAX_KM_PER_RTT_MS + rng.uniform(0.1, 2.0)
           for la, lo in cities]
    for faults in (1, 2):
        d = decide(RadiusClaim(40.0, 0.0, 500.0), lms, rtt, faults=faults, end_level=4,
                   refine_region=refine_region)
        assert d.faults_needed == 0, (faults, d.reasons)
        assert "landmarks-disagree" not in d.reasons
        assert d.outcome != "proven" and d.region.contains(*host)


@pytest.mark.parametrize("refine_region", [True, False])
def test_a_landmark_inside_the_region_whose_disc_holds_it_is_not_deciding(refine_region):
    """L0 sits inside the region that L1's 600 km disc leaves, and its own 3,000 km disc holds
    that region with room to spare: only L1 decides. (The cell holding L0's position was once
    counted as possibly outside L0's disc, since its band's near end d - pad is below zero.)"""
    lms = [lm(0, 0.0, 0.0), lm(1, 0.0, 3.0)]
    per_ms = float(sound_radius_km(1.0, 0.0))
    d = decide(RadiusClaim(0.0, 3.0, 2000.0), lms, [3000.0 / per_ms, 600.0 / per_ms],
               refine_region=refine_region)
    assert d.region.contains(0.0, 0.0)
    assert d.outcome == "proven" and [x.id for x in d.deciding] == ["L1"]


def test_a_redundant_disc_is_never_named_as_deciding():
    """L1's disc holds L0's (same centre, 1.5 km wider): every consistent point satisfies it, so
    it is dropped and only L0 decides; its edge runs through the region's edge cells, so kept it
    would be named too."""
    lms = [lm(0, 10.0, 20.0), lm(1, 10.0, 20.0)]
    per_ms = float(sound_radius_km(1.0, 0.0))
    d = decide(RadiusClaim(10.0, 20.0, 3000.0), lms, [800.0 / per_ms, 801.5 / per_ms])
    assert d.outcome == "proven" and [x.id for x in d.deciding] == ["L0"]


@pytest.mark.parametrize("refine_region", [True, False])
@pytest.mark.parametrize("beyond_km", [0.0, 10.0])
def test_a_disc_over_the_whole_earth_is_never_named_as_deciding(beyond_km, refine_region):
    """With one fault tolerated and two landmarks, nothing is redundant. L1's disc reaches half
    the circumference (exactly, or 10 km past it): it holds the whole Earth and constrains
    nothing, so it is left out, even at its antipode, where a cell's band reaches past its edge
    (kept, quick mode named it as deciding)."""
    lms = [lm(0, 10.0, 20.0), lm(1, -30.0, 100.0)]
    per_ms = float(sound_radius_km(1.0, 0.0))
    # L1's radius is its 1 ms light radius plus an uncertainty that brings it to H + beyond_km.
    unc = [0.0, HALF_CIRCUMFERENCE_KM + beyond_km - per_ms]
    assert float(sound_radius_km(1.0, unc[1])) == HALF_CIRCUMFERENCE_KM + beyond_km
    d = decide(RadiusClaim(10.0, 20.0, 3000.0), lms, [800.0 / per_ms, 1.0], faults=1,
               end_level=2, position_uncertainty_km=unc, refine_region=refine_region)
    assert d.outcome == "undecided" and d.region.contains(30.0, -80.0)  # L1's antipode
    assert "L1" not in [x.id for x in d.deciding]
