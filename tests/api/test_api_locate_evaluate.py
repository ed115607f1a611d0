"""``rttgeo.locate`` / ``rttgeo.api.measure`` through the prober seam, and ``rttgeo.evaluate``."""

from __future__ import annotations

import json

import numpy as np
import pytest

import rttgeo
from rttgeo.api import measure
from rttgeo.errors import NoLandmarkAnswered
from rttgeo.geo.sphere import distance_km
from rttgeo.measure import CampaignParams, FakeProber
from rttgeo.measure.fake import Loss, Reply
from rttgeo.models import Landmark
from rttgeo.store import CampaignStore

from .geojson_check import assert_rfc7946

TRUE_LAT, TRUE_LON = 48.86, 2.35  # Paris


def _world(n: int = 40, lost: tuple[int, ...] = ()):
    rng = np.random.default_rng(7)
    lat = np.concatenate([rng.uniform(35, 60, n - 10), rng.uniform(-40, 60, 10)])
    lon = np.concatenate([rng.uniform(-10, 30, n - 10), rng.uniform(-120, 140, 10)])
    lms = [Landmark(f"lm{i}", float(lat[i]), float(lon[i]), f"127.0.0.{i + 1}") for i in range(n)]
    rtt = 2 * distance_km(TRUE_LAT, TRUE_LON, lat, lon) / 199.86 + 1.0  # fibre on great circles
    script = {f"lm{i}": [Loss() if i in lost else Reply(float(r))] for i, r in enumerate(rtt)}
    return lms, FakeProber(script, protocol="icmp"), rtt


FAST = CampaignParams(k=2, timeout_s=0.3, retries=0)


def test_locate_through_the_prober_seam_keeps_everything_it_prints(tmp_path) -> None:
    lms, prober, rtt = _world(lost=(3,))
    store = tmp_path / "s.db"
    r = rttgeo.locate(landmarks=lms, method="cbg", prober=prober, campaign=FAST, store=store,
                      first_timeout_s=0.3)
    assert isinstance(r, rttgeo.LocateResult)
    m = r.measurement
    assert m.landmarks_probed == 40 and m.landmarks_answered == 39 and m.status == "complete"
    assert m.n_probes == 30 + 40 * 2 and m.campaign_id is not None
    assert np.isnan(r.rtts_ms[3]) and r.rtts_ms[0] == pytest.approx(rtt[0])
    err = float(distance_km(TRUE_LAT, TRUE_LON, r.estimate.lat_deg, r.estimate.lon_deg))
    assert err < 300  # the delays are exactly CBG's model
    assert r.estimate.region.contains(TRUE_LAT, TRUE_LON)
    doc = json.loads(json.dumps(r.to_json(), allow_nan=False))
    assert doc["measurement"]["landmarks_answered"] == 39 and doc["provenance"]["source"] == "probes"
    assert_rfc7946(r.to_geojson())
    text = r.describe()
    assert "39 of 40 probed landmarks answered" in text and "(vacuum, c)" in text
    with CampaignStore(store) as s:
        assert s.campaign(m.campaign_id).status == "complete"
        assert s.campaign(m.campaign_id).n_samples == m.n_probes


def test_two_stage_records_both_stages() -> None:
    lms, prober, _ = _world()
    r = rttgeo.locate(landmarks=lms, method="cbg", prober=prober, campaign=FAST, two_stage=True,
                      first_n=10, second_n=8)
    ts = r.measurement.two_stage
    assert ts is not None and len(ts["first"]) == 10 and len(ts["second"]) == 8
    assert not set(ts["first"]) & set(ts["second"]) and r.measurement.landmarks_probed == 18


def test_nothing_answering_raises_no_landmark_answered_after_one_wave() -> None:
    lms, _, _ = _world()
    prober = FakeProber(default=Loss(), protocol="icmp")
    with pytest.raises(NoLandmarkAnswered, match="offline or firewalled"):
        rttgeo.locate(landmarks=lms, prober=prober, campaign=FAST, first_timeout_s=0.2)
    assert len(prober.calls) == 30


def test_measure_writes_the_store_and_its_csv(tmp_path) -> None:
    lms, prober, _ = _world(lost=(0,))
    lines: list[str] = []
    r = measure(landmarks=lms, prober=prober, campaign=FAST, store=tmp_path / "m.db",
                target="box", log=lines.append)
    assert lines and lines[0].startswith("probing 40 landmarks x 2 (icmp) into")
    assert r.measurement.landmarks_answered == 39 and np.isnan(r.rtts_ms[0])
    n = r.write_csv(tmp_path / "m.csv")
    rows = (tmp_path / "m.csv").read_text().splitlines()
    assert rows[0] == "target,landmark,protocol,sent_unix_ns,rtt_ms" and len(rows) == n + 1
    with CampaignStore(tmp_path / "m.db") as s:
        assert s.export_csv(tmp_path / "s.csv", r.campaign_id) == n
    assert (tmp_path / "s.csv").read_text() == (tmp_path / "m.csv").read_text()
    # and the store estimates like the measurement did
    e = rttgeo.estimate(tmp_path / "m.db", landmarks=lms, method="cbg")
    assert e.provenance.campaign["id"] == r.campaign_id and e.provenance.campaign["target"] == "box"
    np.testing.assert_array_equal(np.isnan(e.rtts_ms), np.isnan(r.rtts_ms))


def test_evaluate_per_target_rows_hold_true_and_estimated_positions() -> None:
    r = rttgeo.evaluate(methods="shortest-ping,cbg", limit=6, jobs=1)
    assert r.methods == ("shortest-ping", "cbg") and r.n_targets == 6
    rows = r.per_target()
    assert len(rows) == 12
    for row in rows:
        d = float(distance_km(row["true_lat_deg"], row["true_lon_deg"], row["est_lat_deg"],
                              row["est_lon_deg"]))
        assert d == pytest.approx(row["error_km"], abs=0.01)  # 1e-6 deg rounding: < 1 m
    doc = json.loads(json.dumps(r.to_json(), allow_nan=False))
    assert [s["method"] for s in doc["summaries"]] == ["shortest-ping", "cbg"]
    assert "median km" in r.table()


def test_evaluate_with_workers_reports_progress_and_matches_one_process() -> None:
    from rttgeo.estimate import evaluate as ev

    seen: list[tuple[int, int]] = []
    one = ev.leave_one_out(_mesh(), "cbg",
                           targets=range(8), jobs=1)
    two = ev.leave_one_out(_mesh(), "cbg", targets=range(8), jobs=2,
                           progress=lambda d, n: seen.append((d, n)))
    assert one.target_ids == two.target_ids
    np.testing.assert_array_equal(one.error_km, two.error_km)
    np.testing.assert_array_equal(one.lat_deg, two.lat_deg)
    assert seen[-1] == (len(one.target_ids), len(one.target_ids)) and len(seen) > 1
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def _mesh():
    from rttgeo.datasets import load_wonderproxy

    return load_wonderproxy()


def test_evaluate_rejects_empty_and_unknown_methods() -> None:
    from rttgeo.errors import InputError

    with pytest.raises(InputError, match="no method named"):
        rttgeo.evaluate(methods=",")
    with pytest.raises(InputError, match="unknown method 'magic'"):
        rttgeo.evaluate(methods=["magic"])
    with pytest.raises(InputError, match=">= 1"):
        rttgeo.evaluate(methods="cbg", limit=-1)


def test_locate_text_lists_the_candidates_as_estimate_prints_them() -> None:
    from rttgeo.estimate.describe import describe

    lms, prober, _ = _world()
    r = rttgeo.locate(landmarks=lms, method="rttgeo", prober=prober, campaign=FAST,
                      first_timeout_s=0.3)
    cands = r.estimate.candidates
    assert cands and cands[0].name == "Paris"
    # every line of rttgeo estimate's candidates block, word for word, in locate's text
    lines = describe(r.estimate).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("candidates ("))
    block = lines[start : start + 1 + len(cands)]
    assert block[0] == ("candidates (probability the host is within 25 km; the first is the "
                        "point's place):")
    text = r.describe().splitlines()
    at = text.index(f"  {block[0]}")
    assert text[at : at + len(block)] == [f"  {line}" for line in block]
    for c in cands:
        assert any(f"{c.probability:.1%}" in t and c.name in t for t in text[at + 1 : at + len(block)])
    # a method without candidates (cbg) prints none
    lms, prober, _ = _world()
    r = rttgeo.locate(landmarks=lms, method="cbg", prober=prober, campaign=FAST, first_timeout_s=0.3)
    assert not r.estimate.candidates and "candidates" not in r.describe()


def test_estimate_from_a_store_records_the_store_files_sha256(tmp_path) -> None:
    import hashlib

    lms, prober, _ = _world()
    store = tmp_path / "m.db"
    measure(landmarks=lms, prober=prober, campaign=FAST, store=store, target="box")
    e = rttgeo.estimate(store, landmarks=lms, method="cbg")
    assert e.provenance.source == str(store) and e.provenance.campaign["target"] == "box"
    assert e.to_json()["provenance"]["source_sha256"] == hashlib.sha256(store.read_bytes()).hexdigest()
