"""The estimator's physics checks at their edges, on small synthetic meshes (fast, so mutation testing
can run them for every mutant; test_physics.py holds the threshold tests). Each test states the
property it protects; docs/testing.md gives the mutation score they reach."""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import replace

import numpy as np
import pytest

from rttgeo.errors import EstimationError, InputError, RttgeoWarning
from rttgeo.estimate import make_estimator
from rttgeo.estimate.base import check_rtts, greedy_outliers, physics_outliers
from rttgeo.geo.sphere import distance_km
from rttgeo.models import Landmark, Mesh
from rttgeo.units import FIBRE_KM_PER_RTT_MS, MAX_KM_PER_RTT_MS

# -- check_rtts ----------------------------------------------------------------------------------


def test_check_rtts_shapes() -> None:
    assert check_rtts([1.0, 2.0], 2).shape == (1, 2)
    assert check_rtts([[1.0, 2.0], [3.0, np.nan]], 2).shape == (2, 2)
    out = check_rtts(np.array([1, 2], dtype=np.int64), 2)
    assert out.dtype == np.float64
    for bad in ([1.0, 2.0, 3.0], [[[1.0, 2.0]]], 1.0):
        with pytest.raises(InputError, match=r"must have shape \(2,\) or \(targets, 2\)"):
            check_rtts(bad, 2)


@pytest.mark.parametrize("bad", [0.0, -1.0, np.inf, -np.inf])
def test_check_rtts_names_the_bad_value_landmark_and_row(bad: float) -> None:
    rows = np.array([[1.0, 2.0, 3.0], [1.0, np.nan, bad]])
    with pytest.raises(InputError) as info:
        check_rtts(rows, 3)
    msg = str(info.value)
    assert f"RTT {bad!r} ms for landmark #2 (target row 1)" in msg and "NaN" in msg  # plain float
    assert info.value.field == "rtt_ms"


def test_check_rtts_takes_nan_and_the_first_bad_value() -> None:
    assert np.isnan(check_rtts([np.nan, 1e-9], 2)[0, 0])  # NaN = lost, a tiny RTT is an RTT
    with pytest.raises(InputError, match=r"landmark #0 \(target row 0\)"):
        check_rtts([[0.0, -1.0]], 2)


# -- greedy_outliers and physics_outliers ---------------------------------------------------------


def pairs(n: int, edges: list[tuple[int, int]]) -> np.ndarray:
    v = np.zeros((n, n), dtype=bool)
    for a, b in edges:
        v[a, b] = v[b, a] = True
    return v


def test_greedy_removes_the_host_in_most_violations_first() -> None:
    # 0 contradicts 1, 2 and 3; removing 0 alone clears every pair.
    v = pairs(5, [(0, 1), (0, 2), (0, 3)])
    assert greedy_outliers(v).tolist() == [True, False, False, False, False]
    # then 4 contradicts 3 as well: 0 first, then the pair 3-4 remains: one of them goes
    v = pairs(5, [(0, 1), (0, 2), (0, 3), (3, 4)])
    removed = greedy_outliers(v)
    assert removed[0] and removed[3] + removed[4] == 1 and removed.sum() == 2


def test_greedy_min_count_and_ties() -> None:
    v = pairs(4, [(0, 1), (0, 2), (2, 3)])
    # 0 has 2 violations: removed with min_count 2; then 2-3 (1 each) stays.
    assert greedy_outliers(v, min_count=2).tolist() == [True, False, False, False]
    assert not greedy_outliers(v, min_count=3).any()
    # A tie: either host of a lone pair may be wrong; drop_ties removes both.
    lone = pairs(3, [(1, 2)])
    assert greedy_outliers(lone, drop_ties=True).tolist() == [False, True, True]
    assert greedy_outliers(lone).sum() == 1
    # The diagonal never counts, and the input is not modified.
    diag = np.eye(3, dtype=bool)
    assert not greedy_outliers(diag).any() and diag.trace() == 3
    assert not greedy_outliers(np.zeros((0, 0), dtype=bool)).any()


def test_physics_outliers_counts_pairs_strictly_faster_than_allowed() -> None:
    d = np.array([[0.0, 100.0, 300.0], [100.0, 0.0, 200.0], [300.0, 200.0, 0.0]])
    rtt = np.array([[np.nan, 1.0, 2.0], [1.0, np.nan, np.nan], [2.0, np.nan, np.nan]])
    # at 100 km/ms: 0-1 exactly at the limit (allowed), 0-2 300 > 200 (violates), 1-2 unmeasured
    removed, counts = physics_outliers(d, rtt, 100.0)
    assert counts.tolist() == [1.0, 0.0, 1.0] and counts.dtype == float
    assert removed.sum() == 1 and not removed[1]
    removed, counts = physics_outliers(d, rtt, 100.0, slack_km=100.0)  # 300 <= 200 + 100
    assert counts.tolist() == [0.0, 0.0, 0.0] and not removed.any()
    removed, _ = physics_outliers(d, rtt, 100.0, min_violations=2)
    assert not removed.any()
    # no slack unless one is given: half a km beyond RTT x speed is already a violation
    d2, rtt2 = np.array([[0.0, 100.5], [100.5, 0.0]]), np.array([[np.nan, 1.0], [1.0, np.nan]])
    assert physics_outliers(d2, rtt2, 100.0)[1].tolist() == [1.0, 1.0]


# -- fit: the mesh-time exclusion ---------------------------------------------------------------

LINE = [Landmark(f"h{i}", 0.0, 10.0 * i) for i in range(6)]  # 1,112 km apart on the equator


def mesh_with(rtt_for: dict[tuple[int, int], float]) -> Mesh:
    """The LINE mesh with RTTs at fibre speed for every pair plus the given overrides."""
    lat = np.array([lm.lat_deg for lm in LINE])
    lon = np.array([lm.lon_deg for lm in LINE])
    d = distance_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    rtt = d / FIBRE_KM_PER_RTT_MS * 1.3 + 1.0
    np.fill_diagonal(rtt, np.nan)
    for (a, b), v in rtt_for.items():
        rtt[a, b] = rtt[b, a] = v
    return Mesh(tuple(lm.id for lm in LINE), lat, lon, rtt, np.zeros(len(LINE), dtype=bool), "line")


def test_fit_excludes_a_landmark_faster_than_fibre_to_three_others_and_says_why() -> None:
    fast = {(5, j): 1.0 for j in range(4)}  # h5 answers h0-h3 in 1 ms: 1,100-5,500 km away
    with pytest.warns(RttgeoWarning, match="landmark 'h5' left out: 4 mesh RTTs faster") as rec:
        est = make_estimator("cbg").fit(mesh_with(fast))
    assert len(rec) == 1
    assert est.usable_.tolist() == [True] * 5 + [False]
    why = est.excluded_["h5"]
    assert why.startswith("4 mesh RTTs faster than light in fibre")
    assert "10 km of position error" in why and "0.05 ms of timing error" in why


def test_fit_keeps_landmarks_with_fewer_than_min_violations() -> None:
    two = {(5, 0): 1.0, (5, 1): 1.0}
    with warnings.catch_warnings():
        warnings.simplefilter("error", RttgeoWarning)
        est = make_estimator("cbg").fit(mesh_with(two))
    assert est.usable_.all() and est.excluded_ == {}


def test_fit_slack_is_twice_the_position_uncertainty_plus_the_timing_floor() -> None:
    """A pair is faster than fibre only beyond RTT x 100 km/ms + 2 x 10 km + 0.05 ms x 100 km/ms."""
    d01 = float(distance_km(0.0, 0.0, 0.0, 10.0))
    slack = 2 * 10.0 + 0.05 * FIBRE_KM_PER_RTT_MS
    at_edge = (d01 - slack) / FIBRE_KM_PER_RTT_MS
    # h5 answers h0..h3 "at the edge" of each distance: allowed just inside, excluded just past it
    for factor, excluded in ((1.0 + 1e-9, False), (1.0 - 1e-6, True)):
        rtts = {}
        for j in range(4):
            d = float(distance_km(0.0, 50.0, 0.0, 10.0 * j))
            rtts[(5, j)] = (d - slack) / FIBRE_KM_PER_RTT_MS * factor
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RttgeoWarning)
            est = make_estimator("cbg").fit(mesh_with(rtts))
        assert ("h5" in est.excluded_) is excluded, factor
    assert at_edge > 0


def test_fit_refuses_an_empty_mesh_and_locate_needs_fit() -> None:
    with pytest.raises(EstimationError, match="empty"):
        make_estimator("cbg").fit(Mesh.from_landmarks([]))
    with pytest.raises(EstimationError, match="not fitted"):
        make_estimator("cbg").locate(np.array([1.0]))


# -- locate: landmarks excluded at fit and left out at locate -------------------------------------

A, B, C = Landmark("A", 0.0, 0.0), Landmark("B", 0.0, 1.0), Landmark("C", 0.0, 40.0)


def test_a_landmark_excluded_at_fit_is_not_used_and_its_note_says_why() -> None:
    fast = {(5, j): 1.0 for j in range(4)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RttgeoWarning)
        est = make_estimator("cbg").fit(mesh_with(fast))
    rtts = np.full(6, np.nan)
    rtts[[0, 1, 5]] = [20.0, 20.0, 20.0]
    e = est.locate(rtts)
    diag = {d.id: d for d in e.landmarks}
    assert not diag["h5"].used and diag["h5"].note.startswith("excluded at fit: 4 mesh RTTs")
    assert diag["h0"].used and diag["h1"].used and diag["h0"].note == ""
    assert set(diag) == {"h0", "h1", "h5"}  # unmeasured landmarks are not listed


def test_the_reach_is_rtt_plus_floor_at_c_plus_position_uncertainty() -> None:
    est = make_estimator("cbg").fit(Mesh.from_landmarks([A, B]))
    reach = est.c_reach_km(np.array([0.0, 1.0, 10.0]))
    np.testing.assert_allclose(reach, (np.array([0.0, 1.0, 10.0]) + 0.05) * MAX_KM_PER_RTT_MS + 10.0)


def test_only_landmarks_whose_reach_is_below_half_the_circumference_can_conflict() -> None:
    """A reach of half the circumference or more covers the Earth: it contradicts nothing."""
    est = make_estimator("cbg").fit(Mesh.from_landmarks([A, C]))
    half_rtt = (np.pi * 6371.0088 - 10.0) / MAX_KM_PER_RTT_MS - 0.05
    # C is 4,448 km from A; A at 1 ms reaches 170 km; C at 'half_rtt' reaches everything.
    assert est.light_conflicts(np.array([1.0, half_rtt + 1e-6]), np.array([True, True])) == {}
    # just below that reach, C's reach (about 20,000 km) still covers A: no conflict either way
    assert est.light_conflicts(np.array([1.0, 2.0]), np.array([True, True])).keys() == {0, 1}


def test_a_conflict_is_strictly_farther_than_the_two_reaches() -> None:
    est = make_estimator("cbg").fit(Mesh.from_landmarks([A, B]))
    d = float(distance_km(0.0, 0.0, 0.0, 1.0))
    # two equal RTTs whose reaches sum exactly to the distance: allowed (a point between satisfies
    # both); a hair less: both left out (a tie: nothing tells which one is wrong)
    r_edge = ((d - 20.0) / 2.0) / MAX_KM_PER_RTT_MS - 0.05
    use = np.array([True, True])
    assert est.light_conflicts(np.array([r_edge, r_edge]) * (1 + 1e-12), use) == {}
    out = est.light_conflicts(np.array([r_edge, r_edge]) * (1 - 1e-6), use)
    assert out.keys() == {0, 1}
    assert "its RTT" in out[0] and "landmark 'B'" in out[0] and "landmark 'A'" in out[1]
    assert "stated positions are 111 km apart" in out[0]
    assert "under 1 ms" in out[0]  # RTTs this small mean the same city: the hint is given
    # landmarks not in ``use`` never conflict
    assert est.light_conflicts(np.array([r_edge, r_edge]) * 0.5, np.array([True, False])) == {}


def test_the_hint_about_sub_millisecond_rtts_only_for_them() -> None:
    far = Landmark("F", 0.0, 60.0)  # 6,672 km from A
    est = make_estimator("cbg").fit(Mesh.from_landmarks([A, far]))
    for rtt_ms in (1.0, 1.5, 5.0):  # 1 ms itself is not "under 1 ms"
        out = est.light_conflicts(np.array([rtt_ms, rtt_ms]), np.array([True, True]))
        assert out.keys() == {0, 1} and not any("under 1 ms" in w for w in out.values()), rtt_ms
    out = est.light_conflicts(np.array([0.999, 0.999]), np.array([True, True]))
    assert all("under 1 ms" in w for w in out.values()) and out.keys() == {0, 1}


def test_discs_that_touch_do_not_conflict() -> None:
    """Two landmarks whose reaches sum exactly to their distance are consistent (the point where
    the discs touch satisfies both); a hair less and both are left out. With no timing floor, an
    RTT of 0 reaches exactly the position uncertainty, so the tie is exact in floating point."""
    est = make_estimator("cbg").fit(Mesh.from_landmarks([A, B]))
    d = float(est.distance_km_[0, 1])
    est.rtt_floor_ms = 0.0
    zero, use = np.array([0.0, 0.0]), np.array([True, True])
    est.position_uncertainty_km = d / 2.0
    assert est.c_reach_km(zero).sum() == d
    assert est.light_conflicts(zero, use) == {}
    est.position_uncertainty_km = float(np.nextafter(d / 2.0, 0.0))
    assert est.light_conflicts(zero, use).keys() == {0, 1}


def test_the_reason_names_the_landmark_contradicted_most_and_the_figures() -> None:
    """A landmark in several conflicts is explained by the one it contradicts most (the largest
    excess of distance over the two reaches), with the allowed distance (the sum of the reaches),
    the stated distance and how many landmarks it contradicts."""
    x = Landmark("X", 0.0, 0.0)
    p2, p1 = Landmark("P2", 0.0, 9.0), Landmark("P1", 0.0, 5.0)  # 1,001 and 556 km from X
    est = make_estimator("cbg").fit(Mesh.from_landmarks([x, p2, p1]))  # P1 is not the first
    rtts = np.array([0.1, 5.0, 1.0])
    reach = est.c_reach_km(rtts)  # 32, 760, 167 km: X-P1 exceeds by 356 km, X-P2 by 209 km
    out = est.light_conflicts(rtts, np.array([True, True, True]))
    assert out.keys() == {0}
    why = out[0]
    assert f"landmark 'P1''s 1.000 ms allow at most {reach[0] + reach[2]:,.0f} km" in why
    assert f"stated positions are {est.distance_km_[0, 2]:,.0f} km apart" in why
    assert "its RTT 0.100 ms" in why and "contradicts 2 landmark(s)" in why and "under 1 ms" in why


def test_when_every_landmark_is_left_out_locate_raises_and_nothing_is_guessed() -> None:
    est = make_estimator("cbg").fit(Mesh.from_landmarks([A, C]))
    with pytest.raises(EstimationError, match="left out"):
        est.locate(np.array([1.0, 1.0]))
    with pytest.raises(EstimationError, match="every RTT is missing"):
        est.locate(np.array([np.nan, np.nan]))


def test_nothing_answered_says_missing_even_with_a_landmark_excluded_at_fit() -> None:
    """A landmark excluded at fit that did not answer either is not counted as one that answered:
    with no RTT at all the error still says every RTT is missing."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RttgeoWarning)
        est = make_estimator("cbg").fit(mesh_with({(5, j): 1.0 for j in range(4)}))
    assert not est.usable_[5]
    with pytest.raises(EstimationError, match="every RTT is missing"):
        est.locate(np.full(6, np.nan))


def test_the_point_is_in_the_light_disc_of_landmarks_the_method_did_not_use() -> None:
    """Spotter keeping only its lowest RTT puts its point by that one landmark; the others were
    kept by the checks, so the point is moved into their light discs too, and the note says so."""
    lms = [Landmark("A", 0.0, 0.0), Landmark("B", 0.0, 3.0), Landmark("C", 3.0, 1.5),
           Landmark("D", 0.0, 8.0)]
    est = make_estimator("spotter", max_landmarks=1).fit(Mesh.from_landmarks(lms))
    rtts = np.array([5.0, 5.0, 5.0, 6.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RttgeoWarning)
        e = est.locate(rtts)
    assert [d.used for d in e.landmarks] == [True, False, False, False]
    assert e.note.startswith("point moved ") and e.params["moved_into_c_discs_km"] > 1.0
    dist = distance_km(e.lat_deg, e.lon_deg, [lm.lat_deg for lm in lms], [lm.lon_deg for lm in lms])
    assert np.all(dist <= rtts * MAX_KM_PER_RTT_MS + 1e-6), dist


def test_left_out_landmarks_are_noted_and_warned_once_per_call() -> None:
    three = [A, B, C]
    est = make_estimator("cbg").fit(Mesh.from_landmarks(three))
    rtts = np.array([[2.0, 2.0, 1.0]] * 3)  # C (4,448 km away) answering in 1 ms contradicts both
    with pytest.warns(RttgeoWarning) as rec:
        out = est.locate(rtts)
    assert [str(w.message)[:30] for w in rec] == ["landmark 'C' left out (for 3 o"]
    for e in out:
        diag = {d.id: d for d in e.landmarks}
        assert not diag["C"].used and diag["C"].note.startswith("left out: faster than light")
        assert diag["A"].used and diag["B"].used
    with pytest.warns(RttgeoWarning, match=r"^landmark 'C' left out: faster"):
        est.locate(rtts[0])  # a single target: no "(for k of n targets)"


def test_every_measured_landmark_carries_a_note_that_says_why_it_was_not_used() -> None:
    """A locate result lists every landmark that answered, with the reason it was not used: excluded
    at fit (with the fit's reason), left out at locate (faster than light), or not used by the
    method (a method may keep only its lowest RTTs); a used landmark has no note. ``describe`` shows
    the first two kinds as "left out" and not the third (it is the method's choice, not a fault)."""
    from rttgeo.estimate.describe import describe

    fast = {(5, j): 1.0 for j in range(4)}  # h5 is excluded at fit (test above)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RttgeoWarning)
        est = make_estimator("spotter", max_landmarks=2).fit(mesh_with(fast))
    lon = np.array([lm.lon_deg for lm in LINE])
    rtts = distance_km(0.0, 11.0, 0.0, lon) / FIBRE_KM_PER_RTT_MS * 1.3 + 1.0  # a host at 0, 11
    rtts[4] = 1.0  # h4, 3,200 km away, in 1 ms: faster than light given h1's RTT (2.4 ms)
    rtts[5] = 5.0
    with pytest.warns(RttgeoWarning, match="landmark 'h4' left out: faster than light"):
        e = est.locate(rtts)
    notes = {d.id: d.note for d in e.landmarks}
    used = {d.id for d in e.landmarks if d.used}
    assert used == {"h1", "h2"}  # the two lowest RTTs of the landmarks kept
    assert notes["h1"] == notes["h2"] == ""
    assert notes["h0"] == notes["h3"] == "not used by this method (it keeps the lowest RTTs)"
    assert notes["h4"].startswith("left out: faster than light for its stated position")
    assert notes["h5"] == "excluded at fit: " + est.excluded_["h5"]
    shown = describe(e)
    assert "left out: h4: left out: faster" in shown and "left out: h5: excluded at fit" in shown
    assert "h0:" not in shown and "h3:" not in shown
    # the point stays in the light disc of every landmark kept, used by the method or not
    dist = distance_km(e.lat_deg, e.lon_deg, 0.0, lon[:4])
    assert np.all(dist <= rtts[:4] * MAX_KM_PER_RTT_MS)
    # a landmark that did not answer is not listed at all
    rtts[3] = np.nan
    with pytest.warns(RttgeoWarning, match="'h4'"):
        assert "h3" not in {d.id for d in est.locate(rtts).landmarks}


def test_warnings_point_at_the_callers_line() -> None:
    """The landmark warnings of fit and locate name the caller's file (the first frame outside
    rttgeo, :func:`rttgeo.errors.warn`), so that a user sees which of their calls left a landmark
    out, and warning filters by module work."""
    import rttgeo

    package = os.path.dirname(os.path.abspath(rttgeo.__file__)) + os.sep
    # Under mutation testing (scripts/mutation.py), mutmut's trampoline (a file of the mutmut
    # package) sits between this test and rttgeo's functions: it is then the first caller outside
    # rttgeo, and only that property can be checked.
    caller = None if "mutmut" in sys.modules else __file__
    fast = {(5, j): 1.0 for j in range(4)}
    with pytest.warns(RttgeoWarning, match="'h5' left out") as rec:
        est = make_estimator("cbg").fit(mesh_with(fast))
    files = [w.filename for w in rec]
    assert len(files) == 1 and not files[0].startswith(package)
    assert caller is None or files == [caller]
    rtts = np.full(6, 20.0)
    rtts[4] = 0.5  # h4 in 0.5 ms contradicts every other landmark 1,100+ km away at 20 ms
    with pytest.warns(RttgeoWarning, match="'h4' left out") as rec:
        est.locate(rtts)
    files = [w.filename for w in rec]
    assert len(files) == 1 and not files[0].startswith(package)
    assert caller is None or files == [caller]


def test_c_discs_point_moves_a_point_into_the_light_discs_and_says_how() -> None:
    """The point of a region method lies inside every kept landmark's disc at c when those discs
    meet; else inside the discs widened by the physics slack; else at their smallest common
    widening. The note and ``moved_into_c_discs_km`` say which and how far."""
    from rttgeo.models import Estimate

    lms = [Landmark("A", 0.0, 0.0), Landmark("B", 0.0, 3.0), Landmark("C", 3.0, 1.5)]
    est = make_estimator("cbg").fit(Mesh.from_landmarks(lms))
    assert est.point_in_c_discs and not make_estimator("shortest-ping").point_in_c_discs
    far = Estimate(-5.0, -5.0, "cbg", {}, None, float("nan"), None, True, note="given")
    kept = np.array([True, True, True])

    def moved(rtts: list[float]) -> tuple[Estimate, np.ndarray]:
        r = np.array(rtts)
        out = est.c_discs_point(far, r, kept)
        d = distance_km(out.lat_deg, out.lon_deg, [lm.lat_deg for lm in lms],
                        [lm.lon_deg for lm in lms])
        assert out.params["moved_into_c_discs_km"] == pytest.approx(
            float(distance_km(-5.0, -5.0, out.lat_deg, out.lon_deg)), rel=1e-9)
        assert out.note.startswith("given; point moved ")
        return out, d

    # The discs at c meet (A 2 ms = 300 km, B and C 3 ms): inside all of them.
    out, d = moved([2.0, 3.0, 3.0])
    assert np.all(d <= np.array([2.0, 3.0, 3.0]) * MAX_KM_PER_RTT_MS + 1e-6)
    assert "into every kept landmark's speed-of-light disc" in out.note and "widened" not in out.note
    # A 0.3 ms (45 km), C 2 ms: 372 km apart, 345 km of reach at c; with the slack they meet.
    out, d = moved([0.3, 2.0, 2.0])
    assert "widened by the timing floor and position uncertainty" in out.note
    assert np.all(d <= est.c_reach_km(np.array([0.3, 2.0, 2.0])) + 1e-6)
    assert d[0] > 0.3 * MAX_KM_PER_RTT_MS  # outside A's disc at c: that is why it was widened
    # Pairwise close enough, jointly not even with the slack: the smallest common widening.
    out, d = moved([0.05, 0.05, 0.05])
    assert "smallest common widening" in out.note
    # an estimate without a note gets the move as its whole note; its candidates' distances are
    # measured from the moved point
    from rttgeo.models import Candidate

    cands = (Candidate("P", "XX", 0.5, 1.5, 0.6, 50.0, 0.0), Candidate("Q", "", 2.0, 0.5, 0.3, 50.0, 0.0))
    bare = Estimate(-5.0, -5.0, "cbg", {}, None, float("nan"), None, True, candidates=cands)
    out = est.c_discs_point(bare, np.array([2.0, 3.0, 3.0]), kept)
    assert out.note.startswith("point moved ") and out.note.endswith("speed-of-light disc")
    assert [c.name for c in out.candidates] == ["P", "Q"]
    for c, was in zip(out.candidates, cands, strict=True):
        assert c.distance_km == pytest.approx(
            float(distance_km(out.lat_deg, out.lon_deg, c.lat_deg, c.lon_deg)), rel=1e-12)
        assert c.distance_km > 10.0 and replace(c, distance_km=0.0) == was

    # and a point already inside every disc is left alone, note and all
    inside = Estimate(0.5, 1.5, "cbg", {}, None, float("nan"), None, True, note="given")
    assert est.c_discs_point(inside, np.array([2.0, 3.0, 3.0]), kept) is inside
    # the discs are closed: a point exactly on the edge of every one is inside them, left alone
    from rttgeo.geo.sphere import pairwise_distance_km, to_unit_vectors

    edge_km = pairwise_distance_km(to_unit_vectors(0.5, 1.5)[None, :], est.unit_)[0]
    on_edge = edge_km / MAX_KM_PER_RTT_MS
    assert np.array_equal(on_edge * MAX_KM_PER_RTT_MS, edge_km)  # exact in floating point
    assert est.c_discs_point(inside, on_edge, kept) is inside
    assert est.c_discs_point(inside, np.nextafter(on_edge, 0.0), kept) is not inside
