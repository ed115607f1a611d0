"""Claims: GeoJSON validation, conservative cell classification, bundled country borders."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely

from rttgeo.errors import InputError
from rttgeo.geo.grid import cell_bounds, cell_bounds_within_km, global_cells
from rttgeo.geo.sphere import destination, distance_km
from rttgeo.models import Landmark
from rttgeo.verify import PolygonClaim, RadiusClaim, country_claim, decide, read_geojson_claim
from rttgeo.verify.borders import load_countries

SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]]}


def sample_cells(level, rows, cols, rng, k=60):
    """Random points (lat, lon) inside each cell, (cells, k)."""
    lat0, lat1, lon0, lon1 = cell_bounds(level, rows, cols)
    z = rng.uniform(np.sin(np.radians(lat0))[:, None], np.sin(np.radians(lat1))[:, None], (len(rows), k))
    return np.degrees(np.arcsin(z)), rng.uniform(lon0[:, None], lon1[:, None], (len(rows), k))


@pytest.mark.parametrize("margin", [0.0, 25.0])
def test_polygon_classification_is_conservative(margin):
    claim = PolygonClaim(SQUARE, "square", margin_km=margin)
    level = 3
    rows, cols = global_cells(level)
    lat0, _, lon0, _ = cell_bounds(level, rows, cols)
    near = (lat0 > -5) & (lat0 < 15) & (lon0 > -5) & (lon0 < 15)
    rows, cols = rows[near], cols[near]
    cls = claim.classify(level, rows, cols)
    assert (cls == 1).any() and (cls == -1).any() and (cls == 0).any()
    lat, lon = sample_cells(level, rows, cols, np.random.default_rng(1))
    poly = shapely.Polygon(SQUARE["coordinates"][0])
    inside = shapely.contains_xy(poly, lon, lat)
    assert inside[cls == 1].all() and not inside[cls == -1].any()
    if margin:
        # Certain cells also keep the margin to the border: every sampled point of a certain cell
        # is more than the margin away from the square's edges.
        edge = np.array(poly.exterior.segmentize(0.05).coords)
        for k in np.flatnonzero(cls != 0)[:40]:
            d = distance_km(lat[k][:, None], lon[k][:, None], edge[None, :, 1], edge[None, :, 0])
            assert d.min() > margin - 0.5


def test_negated_claim_flips_certain_cells_only():
    pos = PolygonClaim(SQUARE, "square")
    neg = PolygonClaim(SQUARE, "square", negate=True)
    rows, cols = global_cells(2)
    a, b = pos.classify(2, rows, cols), neg.classify(2, rows, cols)
    assert np.array_equal(a, -b)


def test_cell_bounds_within_km_hold_every_point_within_the_margin():
    rng = np.random.default_rng(2)
    level = 4
    rows, cols = global_cells(level)
    pick = rng.choice(len(rows), 400, replace=False)
    rows, cols = rows[pick], cols[pick]
    lat, lon = sample_cells(level, rows, cols, rng, k=5)
    margin = 80.0
    lat0, lat1, lon0, lon1 = cell_bounds_within_km(level, rows, cols, margin)
    for k in range(len(rows)):
        for j in range(5):
            plat, plon = destination(
                lat[k, j], lon[k, j], rng.uniform(0, 360, 20), rng.uniform(0, margin, 20)
            )
            dl = (plon - lon0[k]) % 360.0
            assert np.all((plat >= lat0[k] - 1e-9) & (plat <= lat1[k] + 1e-9))
            assert np.all(dl <= (lon1[k] - lon0[k]) + 1e-9)


@pytest.mark.parametrize(
    ("obj", "field", "match"),
    [
        ({"coordinates": []}, "type", "missing 'type'"),
        ({"type": "Point", "coordinates": [0, 0]}, "type", "not a polygon"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}, "coordinates[0]", "at least 4"),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]},
            "coordinates[0]",
            "not closed",
        ),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [200, 0], [1, 1], [0, 0]]]},
            "coordinates[0][1]",
            "longitude",
        ),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 95], [1, 1], [0, 0]]]},
            "coordinates[0][1]",
            "latitude",
        ),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], ["a", 0], [1, 1], [0, 0]]]},
            "coordinates[0][1]",
            "not numbers",
        ),
        (  # numbers written as text were read as numbers
            {"type": "Polygon", "coordinates": [[[0, 0], ["10", "0"], [1, 1], [0, 0]]]},
            "coordinates[0][1]",
            "not numbers",
        ),
        (  # a box over the antimeridian was read as the band around the rest of the Earth
            {"type": "Polygon", "coordinates": [[[170, 40], [-170, 40], [-170, 55], [170, 55],
                                                 [170, 40]]]},
            "coordinates[0][1]",
            "crossing the antimeridian must be split",
        ),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
            "coordinates",
            "Self-intersection",
        ),
        ({"type": "Feature", "properties": {}}, "geometry", "without geometry"),
        (
            {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "geometry": {"type": "LineString"}}],
            },
            "features[0].geometry.type",
            "not a polygon",
        ),
        ({"type": "FeatureCollection", "features": []}, None, "no polygon"),
    ],
)
def test_bad_geojson_names_the_file_and_field(tmp_path, obj, field, match):
    p = tmp_path / "claim.geojson"
    p.write_text(json.dumps(obj))
    with pytest.raises(InputError, match=match) as e:
        read_geojson_claim(p)
    assert e.value.where == str(p)
    assert e.value.field == field


def test_unreadable_geojson_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_geojson_claim(tmp_path / "missing.geojson")
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json")
    with pytest.raises(InputError, match=r"bad\.geojson:1: not JSON"):
        read_geojson_claim(bad)
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InputError, match="UTF-8"):
        read_geojson_claim(bad)


def test_feature_collection_claim_reads_and_decides(tmp_path):
    p = tmp_path / "zone.geojson"
    fc = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {}, "geometry": SQUARE}],
    }
    p.write_text(json.dumps(fc))
    claim = read_geojson_claim(p)
    assert claim.kind == "polygon" and claim.name == "zone.geojson"
    assert claim.area_km2 == pytest.approx(1.23e6, rel=0.02)
    lms = [Landmark("a", 5.0, 5.0)]
    assert decide(claim, lms, [1.0]).outcome == "proven"  # 150 km around the centre of a 1,100 km square
    assert decide(claim, lms, [40.0]).outcome == "undecided"
    far = [Landmark("b", 40.0, 100.0)]
    assert decide(claim, far, [2.0]).outcome == "refuted"


def test_bundled_countries_have_codes_names_and_measured_margins():
    table = load_countries()
    assert len(table.codes) > 230
    for code, name in (
        ("DE", "Germany"),
        ("CN", "China"),
        ("FR", "France"),
        ("US", "United States of America"),
    ):
        assert table.name(code) == name
    assert "XK" not in table.index  # Kosovo: Natural Earth ISO_N3 -99
    m = table.margins_km
    assert np.all(m >= np.maximum(table.e_out_km, table.e_in_km))
    assert 1 <= table.margin_km("DE") <= 20
    # Each direction has its own margin, never above the combined one nor below its error.
    for c in ("CN", "DE", "NO"):
        i = table.index[c]
        assert table.e_in_km[i] < table.margin_km(c, inside=True) <= table.margin_km(c)
        assert table.e_out_km[i] < table.margin_km(c, inside=False) <= table.margin_km(c)
    assert country_claim("CN", negate=True).margin_km == table.margin_km("CN", inside=False) < 20
    assert country_claim("CN").margin_km == table.margin_km("CN", inside=True)
    assert "world-atlas@2.0.2" in table.meta["source"]


@pytest.mark.parametrize(
    ("code", "inside", "outside"),
    [
        ("DE", (50.11, 8.68), (48.86, 2.35)),  # Frankfurt / Paris
        ("CN", (39.9, 116.4), (35.68, 139.69)),  # Beijing / Tokyo
        ("RU", (64.7, 177.5), (64.5, -165.4)),  # Anadyr (east of 180) / Nome, Alaska
        ("FJ", (-16.5, 179.9), (-13.8, -172.0)),  # Vanua Levu across the antimeridian / Samoa
    ],
)
def test_country_claims_classify_known_places(code, inside, outside):
    claim = country_claim(code)
    lms_in = [Landmark("x", *inside)]
    lms_out = [Landmark("y", *outside)]
    # 0.1 ms: within 15 km + 10 km position uncertainty of the landmark
    assert decide(claim, lms_in, [0.1]).outcome in ("proven", "undecided")
    assert decide(claim, lms_out, [0.1]).outcome == "refuted"
    assert decide(country_claim(code, negate=True), lms_out, [0.1]).outcome == "proven"


def test_frankfurt_is_proven_in_germany_and_not_in_china():
    lms = [Landmark("fra", 50.11, 8.68)]
    assert decide(country_claim("DE"), lms, [0.3]).outcome == "proven"
    assert decide(country_claim("CN", negate=True), lms, [20.0]).outcome == "proven"
    both = country_claim(["cn", "HK", "mo"], negate=True)
    assert both.codes == ("CN", "HK", "MO") and both.kind == "not-country"
    assert decide(both, lms, [20.0]).outcome == "proven"


def test_country_margin_keeps_border_hosts_undecided():
    # Strasbourg sits on the French-German border: 5 km from Germany, its own cell is neither.
    lms = [Landmark("sxb", 48.58, 7.75)]
    assert decide(country_claim("FR"), lms, [0.01], position_uncertainty_km=1.0).outcome == "undecided"


@pytest.mark.parametrize("codes", ["XX", "", "DE,,FR", "Germany"])
def test_unknown_country_codes_raise(codes):
    with pytest.raises(InputError) as e:
        country_claim(codes)
    assert e.value.field == "country"


def test_radius_claim_json():
    c = RadiusClaim(50.0, 8.0, 250.0)
    assert c.to_json() == {
        "kind": "radius",
        "lat_deg": 50.0,
        "lon_deg": 8.0,
        "radius_km": 250.0,
        "text": "within 250 km of 50.0000, 8.0000",
    }
