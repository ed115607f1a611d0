"""The verification map: claim, region and deciding landmarks on one figure, from plain GeoJSON."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from rttgeo.errors import InputError

pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")

from rttgeo.plot import DecidingLandmark, draw_verification
from rttgeo.plot.regions import disc_intersection_outline
from rttgeo.units import MAX_KM_PER_RTT_MS

SVG = "{http://www.w3.org/2000/svg}"

LANDMARKS = [
    {"id": "fra1", "name": "Frankfurt", "lat_deg": 50.11, "lon_deg": 8.68, "rtt_ms": 4.2},
    {"id": "par1", "name": "Paris", "lat_deg": 48.86, "lon_deg": 2.35, "rtt_ms": 3.1},
    {"id": "ams1", "name": "Amsterdam", "lat_deg": 52.37, "lon_deg": 4.90, "rtt_ms": 4.0},
]
for _lm in LANDMARKS:
    _lm["radius_km"] = _lm["rtt_ms"] * MAX_KM_PER_RTT_MS


def _region() -> dict:
    ring = disc_intersection_outline(
        [lm["lat_deg"] for lm in LANDMARKS],
        [lm["lon_deg"] for lm in LANDMARKS],
        [lm["radius_km"] for lm in LANDMARKS],
    )
    return {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "Polygon", "coordinates": [ring.tolist()]},
    }


def _ids(path: Path) -> set[str]:
    return {g.get("id") for g in ET.parse(path).getroot().iter(f"{SVG}g") if g.get("id")}


def _texts(path: Path) -> str:
    return " ".join("".join(t.itertext()) for t in ET.parse(path).getroot().iter(f"{SVG}text"))


def test_point_claim_region_and_landmarks_on_one_map(tmp_path: Path) -> None:
    claim = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [4.35, 50.85]},
        "properties": {"radius_km": 50},
    }
    out = draw_verification(claim, _region(), LANDMARKS, "proven: inside the claim", tmp_path / "v.svg")
    assert {"claim", "verified-region", "discs", "landmarks", "decision"} <= _ids(out)
    text = _texts(out)
    for needle in (
        "proven: inside the claim",
        "claim: within 50 km of 50.850°, 4.350°",
        "region the RTTs allow, 350,",
        "fra1 Frankfurt: 630 km, 4.2 ms",
        "deciding landmark (3)",
        "Projection: azimuthal equidistant",
    ):
        assert needle in text, needle
    assert out.stat().st_size < 400_000


def test_polygon_claim_no_region_and_dataclass_landmarks(tmp_path: Path) -> None:
    claim = {
        "type": "Polygon",
        "coordinates": [[[2.0, 48.0], [3.0, 48.0], [3.0, 49.0], [2.0, 49.0], [2.0, 48.0]]],
    }
    lms = [DecidingLandmark("x", 48.5, 2.5, 120.0)]
    out = draw_verification(claim, None, lms, "refuted", tmp_path / "v.png", region_label="proven region")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fig = draw_verification(claim, None, lms, "refuted", None, region_label="proven region")
    texts = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    legend = " ".join(t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts())
    assert "refuted" in texts and "proven region: none" in legend


@pytest.mark.parametrize(
    ("claim", "region", "landmarks", "match"),
    [
        ({"type": "Point", "coordinates": [4.0, 50.0]}, None, LANDMARKS, "needs a radius"),
        (
            {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
            None,
            LANDMARKS,
            "Polygon, MultiPolygon or Point",
        ),
        ({"coordinates": []}, None, LANDMARKS, "must be GeoJSON"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}, None, LANDMARKS, "at least three"),
        (
            {"type": "Point", "coordinates": [4.0, 50.0]},
            {"type": "Point", "coordinates": [1, 2]},
            [{"id": "a", "lat_deg": 95.0, "lon_deg": 0.0, "radius_km": 10.0}],
            "not on the Earth",
        ),
        (
            {"type": "Point", "coordinates": [4.0, 50.0]},
            None,
            [{"id": "a", "lat_deg": 1.0}],
            "needs id, lat_deg",
        ),
    ],
)
def test_bad_input_names_the_problem(claim, region, landmarks, match, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=match):
        draw_verification(claim, region, landmarks, "x", tmp_path / "v.png", claim_radius_km=None)
    assert not (tmp_path / "v.png").exists()


def test_labels_and_the_self_contained_report(tmp_path: Path) -> None:
    """``claim_label`` replaces the legend's default; the report holds the verdict, summary,
    inline map and table, no script, and refuses other suffixes and missing directories (it never
    creates one)."""
    from rttgeo.plot import write_verification_report

    claim = {"type": "Point", "coordinates": [8.68, 50.11]}
    svg = draw_verification(claim, _region(), LANDMARKS, "proven", tmp_path / "v.svg",
                            claim_radius_km=500, claim_label="claim: outside Nowhere")
    text = _texts(svg)
    assert "claim: outside Nowhere" in text and "claim: within" not in text
    table = [{**lm, "deciding": lm["id"] != "ams1"} for lm in LANDMARKS]
    page = write_verification_report(
        claim, _region(), LANDMARKS[:2], "proven", tmp_path / "v.html", claim_radius_km=500,
        verdict="PROVEN <now>",
        summary=[("Claim", "within 500 km & more")], table=table, details={"outcome": "proven"})
    html = page.read_text()
    assert "<script" not in html and "http://" not in html.split("<svg", 1)[0]
    assert 'id="verdict">PROVEN &lt;now&gt;</p>' in html and "within 500 km &amp; more" in html
    assert html.count('<tr class="deciding">') == 2
    assert "&quot;outcome&quot;: &quot;proven&quot;" in html  # the decision, escaped
    assert '<td class="id">ams1</td>' in html and 'aria-label="map of the verification"' in html
    with pytest.raises(InputError, match=r"an \.html file"):
        write_verification_report(claim, None, [], "x", tmp_path / "v.txt", claim_radius_km=5)
    with pytest.raises(InputError, match="cannot write"):
        write_verification_report(claim, None, [], "x", tmp_path / "no" / "v.html",
                                  claim_radius_km=5)
    assert not (tmp_path / "no").exists() and not (tmp_path / "v.txt").exists()
