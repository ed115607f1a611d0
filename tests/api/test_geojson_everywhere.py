"""Issue #12: GeoJSON written by rttgeo is RFC 7946 everywhere, coordinates to 1e-6 degree:
estimates (estimate, locate), and verify decisions (their region)."""

from __future__ import annotations

import json

import numpy as np

import rttgeo
from rttgeo.datasets import load_wonderproxy
from rttgeo.estimate.delay import symmetric_rtt_ms
from rttgeo.geo.polygon import geojson_area_km2

from .geojson_check import assert_rfc7946


def test_verify_decision_region_is_rounded_rfc7946() -> None:
    from rttgeo.verify import RadiusClaim

    mesh = load_wonderproxy()
    t = next(i for i, lab in enumerate(mesh.labels) if "Vienna" in lab)
    others = [j for j in range(len(mesh)) if j != t and not mesh.bad[j]]
    lms = [mesh.landmarks()[j] for j in others]
    rtts = symmetric_rtt_ms(mesh.rtt_ms)[t, others]
    res = rttgeo.verify(RadiusClaim(float(mesh.lat_deg[t]), float(mesh.lon_deg[t]), 500.0), rtts,
                        landmarks=lms)
    doc = json.loads(json.dumps(res.to_json()))
    region = next(v["region"] for v in (doc, doc.get("decision", {})) if "region" in v)
    assert_rfc7946(region)
    # rounding to 1e-6 degree keeps the area to 1e-5
    assert abs(geojson_area_km2(region) / res.decision.area_km2 - 1) < 1e-5


def test_estimate_and_its_geojson_agree_and_are_rounded() -> None:
    r = rttgeo.estimate({"atlas-6025": 4.1, "atlas-6031": 9.8, "atlas-6042": 12.5}, method="cbg")
    fc = r.to_geojson()
    assert_rfc7946(fc)
    lon, lat = fc["features"][0]["geometry"]["coordinates"]
    assert (lat, lon) == (round(r.estimate.lat_deg, 6), round(r.estimate.lon_deg, 6))
    assert np.isclose(geojson_area_km2(fc["features"][1]["geometry"]), r.estimate.area_km2,
                      rtol=1e-5)
