"""Maps: files written, expected marks present, antimeridian and poles handled."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from synth import synthetic_estimate

from rttgeo.errors import InputError, MissingExtra
from rttgeo.geo.sphere import distance_km
from rttgeo.models import Estimate, Landmark

pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")

from rttgeo.plot import _mpl, eval_grid, map_estimate
from rttgeo.plot.layers import MapLayers
from rttgeo.plot.maps import draw_estimate, map_view, map_window

SVG = "{http://www.w3.org/2000/svg}"


def _svg_texts(path: Path) -> str:
    root = ET.parse(path).getroot()
    return " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))


def _group(path: Path, gid: str) -> ET.Element:
    root = ET.parse(path).getroot()
    found = [g for g in root.iter(f"{SVG}g") if g.get("id") == gid]
    assert len(found) == 1, f"expected one <g id={gid!r}>, got {len(found)}"
    return found[0]


def _n_marks(path: Path, gid: str) -> int:
    """Markers drawn in group ``gid`` (matplotlib writes them as <path> or <use>)."""

    def count(e: ET.Element) -> int:
        if e.tag == f"{SVG}defs":  # marker shapes defined once, then <use>d per point
            return 0
        own = 1 if e.tag in (f"{SVG}path", f"{SVG}use") else 0
        return own + sum(count(c) for c in e)

    return count(_group(path, gid))


def test_map_svg_has_legend_and_one_marker_per_landmark(europe: Estimate, tmp_path: Path) -> None:
    out = map_estimate(europe, tmp_path / "m.svg", true_lat_deg=47.0, true_lon_deg=4.0)
    assert out == tmp_path / "m.svg"
    text = _svg_texts(out)
    for label in (
        "point estimate (synthetic-cbg)",
        "feasible region (all constraints",
        "constraint circle",
        "landmark used (9, 3 on the map)",
        "landmark not used / no RTT (1, 0 on the map)",
        "true location (error",
        "land, coastline",
        "country border",
        "landmark RTT (ms, log scale)",
    ):
        assert label in text, f"legend label {label!r} missing from the SVG"
    # One marker per used landmark in view (markers off the map are not written), one star, one X.
    view = map_view(europe, true_lat_deg=47.0, true_lon_deg=4.0)
    used = [d for d in europe.landmarks if d.used]
    x, y = view.project_points([d.lat_deg for d in used], [d.lon_deg for d in used])
    assert _n_marks(out, "landmarks-used") == int(view.contains_xy(x, y).sum()) >= 3
    assert _n_marks(out, "estimate") == 1
    assert _n_marks(out, "truth") == 1
    # Tokyo (unused) is on the other side of the globe: not drawn on a map of France.
    assert _n_marks(out, "landmarks-unused") == 0
    assert int(view.contains_xy(x, y).sum()) == 3
    assert "Projection: azimuthal equidistant" in text
    assert out.stat().st_size < 400_000


def test_map_png(europe: Estimate, tmp_path: Path) -> None:
    out = map_estimate(europe, tmp_path / "m.png", title="a title")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image as mpimg

    img = mpimg.imread(out)
    assert img.shape[0] > 800 and img.shape[1] > 1200
    assert img[..., :3].std() > 0.05  # not a blank canvas


def test_map_pdf_is_small_vector(europe: Estimate, tmp_path: Path) -> None:
    out = map_estimate(europe, tmp_path / "m.pdf", true_lat_deg=47.0, true_lon_deg=4.0)
    data = out.read_bytes()
    assert data[:5] == b"%PDF-"
    assert len(data) < 400_000
    assert b"CreationDate" not in data  # reproducible bytes


def test_map_rejects_other_suffix_and_half_truth(europe: Estimate, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"use \.png, \.svg or \.pdf"):
        map_estimate(europe, tmp_path / "m.jpg")
    with pytest.raises(InputError, match="both"):
        map_estimate(europe, tmp_path / "m.png", true_lat_deg=1.0)


def _outline_lonlat(layers: MapLayers) -> list[np.ndarray]:
    out = []
    for ring in layers.region_outlines:
        lat, lon = layers.view.projection.inverse(ring[:, 0], ring[:, 1])
        out.append(np.column_stack([lon, lat]))
    return out


def test_region_across_the_antimeridian_is_one_closed_shape(pacific: Estimate) -> None:
    plt = _mpl.pyplot()
    fig, ax = plt.subplots()
    layers = draw_estimate(ax, pacific, true_lat_deg=-17.5, true_lon_deg=-179.0)
    lon0, lon1, _, _ = layers.window
    assert lon0 < 180.0 < lon1, "the view should be centred on the antimeridian"
    assert layers.region_kind == "discs"
    (ring,) = layers.region_outlines  # one closed shape, although the GeoJSON is split at 180
    np.testing.assert_allclose(ring[0], ring[-1])
    lonlat = _outline_lonlat(layers)[0]
    assert np.any(lonlat[:, 0] > 179.0) and np.any(lonlat[:, 0] < -179.0)
    # The outline is the exact intersection of the discs: every vertex inside every disc, on one.
    used = [d for d in pacific.landmarks if d.used]
    dist = np.array([distance_km(d.lat_deg, d.lon_deg, lonlat[:, 1], lonlat[:, 0]) for d in used])
    slack = np.array([d.max_distance_km for d in used])[:, None] - dist
    assert slack.min() > -1e-6 and np.abs(slack).min(axis=0).max() < 1e-6
    # Truth and estimate are drawn inside the view.
    xs = [c.get_offsets()[0] for c in ax.collections if c.get_gid() in ("truth", "estimate")]
    assert len(xs) == 2 and all(layers.view.contains_xy(x, y) for x, y in xs)
    plt.close(fig)


def test_saved_region_split_by_the_producer_is_drawn_whole(pacific: Estimate) -> None:
    """GeoJSON split at +-180 (RFC 7946), read back from a file, without the discs that made it:
    its smoothed outline is still one closed shape, without a seam."""
    from dataclasses import replace

    from rttgeo.plot import estimate_from_json

    back = estimate_from_json(pacific.to_json())
    geo = back.region.to_geojson()
    lons = [pt[0] for poly in geo["coordinates"] for ring in poly for pt in ring]
    assert min(lons) < -179.0 and max(lons) > 179.0  # the producer did split it
    blind = tuple(replace(d, max_distance_km=float("nan")) for d in back.landmarks)
    no_discs = replace(back, landmarks=blind)
    plt = _mpl.pyplot()
    fig, ax = plt.subplots()
    layers = draw_estimate(ax, no_discs)
    assert layers.region_kind == "smoothed"
    assert len(layers.region_outlines) == 1
    # The smoothed outline's area is the region's, to the smoothing's rounding of its corners.
    assert layers.region_area_km2[1.0] == pytest.approx(pacific.region.area_km2, rel=0.03)
    plt.close(fig)


def test_window_near_the_pole_stays_on_the_globe(tmp_path: Path) -> None:
    arctic = [
        ("longyearbyen", 78.22, 15.65),
        ("alert", 82.5, -62.35),
        ("dikson", 73.5, 80.5),
        ("utqiagvik", 71.29, -156.79),
        ("tromso", 69.65, 18.96),
        ("nuuk", 64.18, -51.72),
    ]
    est = synthetic_estimate(88.0, 40.0, arctic, level=3)
    lon0, lon1, lat0, lat1 = map_window(est, true_lat_deg=88.0, true_lon_deg=40.0)
    assert -90.0 <= lat0 < lat1 <= 90.0
    assert lat1 == 90.0 and (lon0, lon1) == (-180.0, 180.0)  # the view holds the pole
    out = map_estimate(est, tmp_path / "pole.png", true_lat_deg=88.0, true_lon_deg=40.0)
    assert out.stat().st_size > 10_000


def test_point_only_estimate_and_catalogue(europe: Estimate, tmp_path: Path) -> None:
    from dataclasses import replace

    point_only = replace(europe, region=None, area_km2=float("nan"), method="shortest-ping")
    cat = [Landmark("extra-1", 45.0, 0.0), Landmark("extra-2", 49.0, 9.0)]
    out = map_estimate(point_only, tmp_path / "p.svg", landmarks=cat)
    text = _svg_texts(out)
    assert "other catalogue landmarks (2)" in text
    assert "region" not in text.split("landmark RTT")[0].split("Legend")[-1]


def test_eval_grid(europe: Estimate, pacific: Estimate, tmp_path: Path) -> None:
    ests = [europe, pacific, europe]
    out = eval_grid(
        ests,
        [47.0, -17.5, 40.0],
        [4.0, -179.0, -3.0],
        tmp_path / "g.svg",
        names=["a", "b", "c"],
        n_worst=2,
        n_best=1,
    )
    text = _svg_texts(out)
    assert "worst 1: c" in text  # Madrid truth, far from the estimate in France
    assert "best 1:" in text
    assert "median error" in text
    with pytest.raises(InputError):
        eval_grid(ests, [0.0], [0.0], tmp_path / "x.png")


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtra, match=r"rttgeo\[plot\]"):
        _mpl.pyplot()


def test_bundled_borders_are_whole_and_small() -> None:
    from importlib import resources

    data = _mpl.borders()
    assert len(data["land"]) > 1000 and len(data["borders"]) > 300
    ref = resources.files("rttgeo") / "data" / "borders_50m.npz"
    assert ref.is_file()
    with resources.as_file(ref) as f:
        assert f.stat().st_size < 1_000_000
    # Rings crossing 180 are continuous (no jump except Antarctica's closure along the pole).
    for ring in data["land"]:
        jumps = np.flatnonzero(np.abs(np.diff(ring[:, 0])) > 180.0)
        assert all(ring[j, 1] == -90.0 and ring[j + 1, 1] == -90.0 for j in jumps)
    for line in data["borders"]:
        assert np.all(np.abs(np.diff(line[:, 0])) <= 180.0)
    attribution = (resources.files("rttgeo") / "data" / "borders_50m.txt").read_text()
    assert "Natural Earth" in attribution and "ISC" in attribution
