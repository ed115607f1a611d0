"""``rttgeo.estimate``: every accepted input gives the estimator's own answer; bad input is named."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

import rttgeo
from rttgeo.datasets import load_wonderproxy
from rttgeo.errors import InputError, RttgeoWarning, SamplesError
from rttgeo.estimate import make_estimator
from rttgeo.estimate.delay import symmetric_rtt_ms
from rttgeo.geo.sphere import distance_km
from rttgeo.models import Sample

from .geojson_check import assert_rfc7946

T = 30  # a WonderProxy host with a clean row


@pytest.fixture(scope="module")
def row():
    mesh = load_wonderproxy()
    others = np.array([j for j in range(len(mesh)) if j != T])
    sub = mesh.subset(others)
    rtts = symmetric_rtt_ms(mesh.rtt_ms)[T, others]
    return mesh, sub, sub.landmarks(), rtts


def test_mapping_samples_and_array_give_the_estimators_own_answer(row) -> None:
    mesh, _sub, lms, rtts = row
    # the same thing done by hand through the estimate room: fitted on the catalog, pooled
    from rttgeo.models import Mesh

    direct = make_estimator("cbg").fit(Mesh.from_landmarks(lms)).locate(rtts)
    by_array = rttgeo.estimate(rtts, landmarks=lms, method="cbg")
    mapping = {lm.id: float(r) for lm, r in zip(lms, rtts, strict=True) if np.isfinite(r)}
    by_mapping = rttgeo.estimate(mapping, landmarks=lms, method="cbg")
    samples = [Sample("me", i, "icmp", k, r + 0.3 * k) for k in range(3) for i, r in mapping.items()]
    samples += [Sample("me", next(iter(mapping)), "icmp", 9, None)]  # a lost probe changes nothing
    by_samples = rttgeo.estimate(samples, landmarks=lms, method="cbg")
    for r in (by_array, by_mapping, by_samples):
        assert (r.estimate.lat_deg, r.estimate.lon_deg) == (direct.lat_deg, direct.lon_deg)
        assert r.estimate.area_km2 == direct.area_km2
    assert by_mapping.provenance.source == "mapping" and by_samples.provenance.source == "samples"
    err = float(distance_km(direct.lat_deg, direct.lon_deg, mesh.lat_deg[T], mesh.lon_deg[T]))
    assert err < 1500  # CBG, pooled calibration, on a real row


def test_calibration_on_the_mesh_and_result_holds_what_the_cli_prints(row) -> None:
    _mesh, sub, lms, rtts = row
    r = rttgeo.estimate(rtts, landmarks=lms, calibration=sub)  # default method
    from rttgeo.estimate import DEFAULT_METHOD

    with pytest.warns(RttgeoWarning):
        direct = make_estimator(DEFAULT_METHOD).fit(sub).locate(rtts)
    # the verb keeps the fit's warnings (the bad WonderProxy hosts 204 and 220), once each
    assert sum("'220'" in w for w in r.warnings) == 1 and sum("'204'" in w for w in r.warnings) == 1
    assert (r.estimate.lat_deg, r.estimate.lon_deg) == (direct.lat_deg, direct.lon_deg)
    assert r.provenance.calibration.startswith("mesh")
    # confidence: the nearest landmark is the lowest RTT, its radii fibre < vacuum, both exact
    j = int(np.nanargmin(rtts))
    c = r.confidence
    assert c.nearest_id == lms[j].id and c.nearest_rtt_ms == rtts[j]
    assert c.nearest_within_km_vacuum == pytest.approx(rtts[j] * 149.896229)
    assert c.nearest_within_km_fibre == pytest.approx(rtts[j] * 149.896229 * 2 / 3)
    assert c.n_answered == int(np.isfinite(rtts).sum())
    text = r.describe()
    assert "confidence:" in text and "(fibre, 2/3 c)" in text and "(vacuum, c)" in text
    # frozen values
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.confidence = None  # type: ignore[misc]


def test_json_and_geojson_are_strict_rounded_and_valid(row) -> None:
    _mesh, _sub, lms, rtts = row
    r = rttgeo.estimate(rtts, landmarks=lms, method="cbg")
    doc = json.loads(json.dumps(r.to_json(), allow_nan=False))
    assert set(doc) == {"estimate", "confidence", "warnings", "provenance"}
    pt = doc["estimate"]["point"]
    assert pt["lat_deg"] == round(r.estimate.lat_deg, 6) and pt["lon_deg"] == round(r.estimate.lon_deg, 6)
    fc = r.to_geojson()
    assert_rfc7946(fc)
    kinds = [f["properties"]["kind"] for f in fc["features"]]
    assert kinds == ["point", "region"]
    assert fc["features"][0]["properties"]["confidence"]["grade"] == r.confidence.grade
    # the region survives the rounding: same area within 0.01 %
    from rttgeo.geo.polygon import geojson_area_km2

    assert geojson_area_km2(fc["features"][1]["geometry"]) == pytest.approx(r.estimate.area_km2, rel=1e-4)


def test_plot_reads_the_saved_document_back(row, tmp_path) -> None:
    _mesh, _sub, lms, rtts = row
    from rttgeo.plot import estimate_from_json

    r = rttgeo.estimate(rtts, landmarks=lms, method="cbg")
    p = tmp_path / "e.json"
    p.write_text(json.dumps(r.to_json()))
    back = estimate_from_json(p)
    assert back.lat_deg == round(r.estimate.lat_deg, 6) and back.method == "cbg"


@pytest.mark.parametrize(
    ("rtts", "error", "text"),
    [
        ({"no-such-landmark": 5.0}, SamplesError, "not in the catalog"),
        ({"atlas-6025": 0.0}, SamplesError, "never 0"),
        ({"atlas-6025": -3.0}, SamplesError, "never 0"),
        ({"atlas-6025": math.inf}, SamplesError, "infinite"),
        ({"atlas-6025": "fast"}, SamplesError, "not a number"),
        ({"atlas-6025": None}, InputError, "every probe was lost"),
        ([1.0, 2.0, 3.0], InputError, "shape (784,)"),
    ],
)
def test_bad_rtts_raise_input_errors_naming_what(rtts, error, text) -> None:
    with pytest.raises(error, match=None) as info:
        rttgeo.estimate(rtts)
    assert text in str(info.value)


def test_unknown_method_and_several_targets_are_input_errors() -> None:
    with pytest.raises(InputError, match="unknown method 'foo'"):
        rttgeo.estimate({"atlas-6025": 4.0}, method="foo")
    two = [Sample("a", "atlas-6025", "icmp", 0, 4.0), Sample("b", "atlas-6031", "icmp", 0, 9.0)]
    with pytest.raises(SamplesError, match="2 targets"):
        rttgeo.estimate(two)
    r = rttgeo.estimate(two, target="b", method="shortest-ping")
    assert r.confidence.nearest_id == "atlas-6031"


def test_bad_hyper_parameters_are_input_errors_naming_them() -> None:
    with pytest.raises(InputError, match="delay_model must be one of forward, inverse, got 'sideways'"):
        rttgeo.estimate({"atlas-6025": 4.0}, params={"delay_model": "sideways"})
    with pytest.raises(InputError, match="far_landmarks must be True or False, got 'False'"):
        rttgeo.estimate({"atlas-6025": 4.0}, params={"far_landmarks": "False"})
    with pytest.raises(InputError, match=r"bad hyper-parameter for rttgeo: .*no_such"):
        rttgeo.estimate({"atlas-6025": 4.0}, params={"no_such": 1})


def test_both_delay_models_answer_from_the_same_rtts(row) -> None:
    _, sub, lms, rtts = row
    fwd = rttgeo.estimate(rtts, landmarks=lms, calibration=sub, params={"delay_model": "forward"})
    inv = rttgeo.estimate(rtts, landmarks=lms, calibration=sub, params={"delay_model": "inverse"})
    # Each estimate records which model made it; both are consistent with every RTT.
    assert fwd.estimate.params["delay_model"] == "forward"
    assert inv.estimate.params["delay_model"] == "inverse"
    for r in (fwd, inv):
        assert r.estimate.consistent
        assert r.estimate.region is not None and r.estimate.region.area_km2 > 0


def test_warnings_once_per_landmark_with_the_reason() -> None:
    """Two landmarks whose RTTs are faster than light for their positions given the others'."""
    from rttgeo.models import Landmark

    lms = [Landmark(f"p{i}", 48.85 + 0.01 * i, 2.35, "x") for i in range(4)]
    lms.append(Landmark("far", -33.9, 151.2, "x"))  # Sydney, answering in 1 ms: impossible
    r = rttgeo.estimate({"p0": 1.0, "p1": 1.1, "p2": 1.2, "p3": 1.3, "far": 1.0}, landmarks=lms,
                        method="cbg")
    far = [w for w in r.warnings if "'far'" in w]
    assert len(far) == 1 and "faster than light" in far[0]
    assert len(r.warnings) == len(set(r.warnings))


def test_provenance_holds_the_sha256_of_the_samples_file_as_given(row, tmp_path, monkeypatch) -> None:
    import hashlib

    _mesh, _sub, lms, rtts = row
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.csv").write_text(
        "landmark,rtt_ms\n"
        + "".join(f"{lm.id},{float(r)!r}\n" for lm, r in zip(lms, rtts, strict=True) if np.isfinite(r))
    )
    r = rttgeo.estimate("s.csv", landmarks=lms, method="cbg")
    want = hashlib.sha256((tmp_path / "s.csv").read_bytes()).hexdigest()
    prov = json.loads(json.dumps(r.to_json()))["provenance"]
    assert prov["source"] == "s.csv" and prov["source_sha256"] == want  # the path as typed
    assert r.provenance.source_sha256 == want
    # RTTs given in memory come from no file: nothing to hash
    assert rttgeo.estimate(rtts, landmarks=lms, method="cbg").to_json()["provenance"][
        "source_sha256"] is None
