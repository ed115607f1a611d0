"""Estimators on fixed real data: contract, regions, consistency, bad input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from rttgeo.errors import EstimationError, InputError, RttgeoWarning
from rttgeo.estimate import METHODS, make_estimator
from rttgeo.estimate.delay import symmetric_rtt_ms
from rttgeo.geo.sphere import distance_km
from rttgeo.models import Estimate, Mesh


def _split(mesh: Mesh, t: int) -> tuple[Mesh, np.ndarray]:
    others = np.array([j for j in range(len(mesh)) if j != t])
    return mesh.subset(others), symmetric_rtt_ms(mesh.rtt_ms)[t, others]


@pytest.fixture(scope="module")
def frankfurt(wonderproxy):
    t = next(i for i, lab in enumerate(wonderproxy.labels) if lab.startswith("Frankfurt"))
    sub, rtts = _split(wonderproxy, t)
    return sub, rtts, (wonderproxy.lat_deg[t], wonderproxy.lon_deg[t])


#: Frankfurt (WonderProxy host 29) located from the other 245 hosts: each method's error in km as
#: measured with this code on 2026-12-01 (this test computes it; docs/estimation.md gives the
#: methods' leave-one-out medians, 146-481 km, for scale), and the bound the test holds it to:
#: 20 % above it, rounded up to 10 km. A change of calibration that moves an error beyond its bound
#: must say so here.
FRANKFURT_ERROR_KM = {
    "shortest-ping": 184.4,
    "geoping": 325.6,
    "cbg": 132.8,
    "cbg-bestline": 107.3,
    "spotter": 68.7,
    "rttgeo": 71.5,
}


def test_every_method_has_its_frankfurt_figure() -> None:
    assert set(FRANKFURT_ERROR_KM) == set(METHODS)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_locates_frankfurt_as_measured(frankfurt, method: str) -> None:
    sub, rtts, truth = frankfurt
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RttgeoWarning)
        e = make_estimator(method).fit(sub).locate(rtts)
    assert isinstance(e, Estimate)
    error_km = float(distance_km(e.lat_deg, e.lon_deg, *truth))
    assert error_km <= math.ceil(1.2 * FRANKFURT_ERROR_KM[method] / 10.0) * 10.0, error_km
    assert len(e.landmarks) == np.isfinite(rtts).sum()
    json_ = e.to_json()
    assert json_["method"] == method and json_["point"]["lat_deg"] == e.lat_deg
    if e.region is not None:
        assert json_["region"]["type"] in ("Polygon", "MultiPolygon")
        assert e.area_km2 > 0


def test_constructor_only_stores_hyperparameters() -> None:
    est = make_estimator("cbg", fraction_of_c=0.5)
    assert est.get_params() == {"model": "speed", "fraction_of_c": 0.5, "end_level": 4,
                                "max_cells": 20000}
    with pytest.raises(EstimationError, match="not fitted"):
        est.locate(np.array([1.0]))


def test_cbg_point_lies_inside_its_region(wonderproxy) -> None:
    for t in range(0, len(wonderproxy), 17):
        if wonderproxy.bad[t]:
            continue
        sub, rtts = _split(wonderproxy, t)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RttgeoWarning)
            for method in ("cbg", "cbg-bestline"):
                e = make_estimator(method).fit(sub).locate(rtts)
                assert bool(e.region.contains(e.lat_deg, e.lon_deg)), (method, t)


def test_inconsistent_constraints_are_widened_and_reported(frankfurt) -> None:
    sub, rtts, _ = frankfurt
    # A fibre-speed CBG with radii at 1/10 of fibre speed cannot be satisfied by any point.
    e = make_estimator("cbg", fraction_of_c=0.05).fit(sub).locate(rtts)
    assert not e.consistent
    assert "widened" in e.note
    assert e.params["radius_scale"] > 1.0
    assert not e.region.empty and bool(e.region.contains(e.lat_deg, e.lon_deg))


def test_batch_equals_one_by_one(wonderproxy) -> None:
    sub, _ = _split(wonderproxy, 0)
    sym = symmetric_rtt_ms(wonderproxy.rtt_ms)
    rows = np.array([np.delete(sym[t], 0) for t in (0, 5, 9)])
    est = make_estimator("cbg").fit(sub)
    batch = est.locate(rows)
    assert isinstance(batch, list) and len(batch) == 3
    for row, e in zip(rows, batch, strict=True):
        one = est.locate(row)
        assert (one.lat_deg, one.lon_deg, one.area_km2) == (e.lat_deg, e.lon_deg, e.area_km2)


@pytest.mark.parametrize("bad", [0.0, -3.0, math.inf])
def test_zero_negative_or_infinite_rtt_is_rejected(frankfurt, bad: float) -> None:
    sub, rtts, _ = frankfurt
    rtts = rtts.copy()
    rtts[3] = bad
    with pytest.raises(InputError, match="not a positive finite"):
        make_estimator("cbg").fit(sub).locate(rtts)


def test_wrong_shape_is_rejected(frankfurt) -> None:
    sub, rtts, _ = frankfurt
    with pytest.raises(InputError, match="shape"):
        make_estimator("shortest-ping").fit(sub).locate(rtts[:-1])


def test_all_missing_rtts_raise(frankfurt) -> None:
    sub, rtts, _ = frankfurt
    with pytest.raises(EstimationError, match="no usable landmark"):
        make_estimator("cbg").fit(sub).locate(np.full_like(rtts, np.nan))


def test_landmarks_with_wrong_coordinates_are_left_out_at_fit(wonderproxy) -> None:
    # Regression: WonderProxy 220 (La Ceiba) and 204 (Belfast) have wrong coordinates; fit must find
    # them from physics alone (RTTs faster than light in fibre), name them and never use them.
    sub, rtts = _split(wonderproxy, 0)
    with pytest.warns(RttgeoWarning) as rec:
        est = make_estimator("cbg").fit(sub)
    assert set(est.excluded_) == {"204", "220"}
    assert {"'204'", "'220'"} <= {w for r in rec for w in str(r.message).split() if w[0] == "'"}
    e = est.locate(rtts)
    left_out = {d.id for d in e.landmarks if not d.used}
    assert {"204", "220"} <= left_out


def test_rtt_faster_than_light_leaves_that_landmark_out_with_a_warning(frankfurt) -> None:
    sub, rtts, _ = frankfurt
    rtts = rtts.copy()
    sydney = next(i for i, lab in enumerate(sub.labels) if lab.startswith("Sydney"))
    rtts[sydney] = 2.0  # Frankfurt-Sydney in 2 ms: impossible given the European landmarks' RTTs
    est = make_estimator("cbg").fit(sub)
    with pytest.warns(RttgeoWarning, match=sub.ids[sydney]):
        e = est.locate(rtts)
    diag = next(d for d in e.landmarks if d.id == sub.ids[sydney])
    assert not diag.used and "faster than light" in diag.note
    assert e.consistent
