"""Regions as GeoJSON polygons, checked against independent references.

References: a lon/lat ray-casting point-in-polygon written here, shapely (GEOS) for OGC validity and
point-in-polygon, scipy.ndimage.label for the count of connected pieces and holes, and the exact
area of a lon/lat rectangle on the sphere, R^2 * dlon * (sin lat1 - sin lat0).
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage
from shapely.geometry import shape

from rttgeo.geo._arrays import isin_sorted, sorted_unique
from rttgeo.geo.grid import CellRegion, cell_bounds, level_shape, refine
from rttgeo.geo.polygon import (
    feature,
    feature_collection,
    geojson_area_km2,
    region_to_geojson,
    ring_signed_area_km2,
)
from rttgeo.geo.sphere import to_unit_vectors, unit_distance_km
from rttgeo.units import EARTH_RADIUS_KM

NR0, NC0 = level_shape(0)


# --------------------------------------------------------------------------- reference helpers


def polygons_of(geom: dict[str, Any]) -> list[list[list[list[float]]]]:
    if geom["type"] == "Polygon":
        return [geom["coordinates"]]
    assert geom["type"] == "MultiPolygon"
    return geom["coordinates"]


def shoelace_lonlat(ring: list[list[float]]) -> float:
    """Planar signed area in degrees^2 of a closed lon/lat ring (positive counter-clockwise)."""
    a = np.asarray(ring)
    x, y = a[:, 0], a[:, 1]
    return 0.5 * float(np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]))


def ray_cast(ring: list[list[float]], lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Even-odd point-in-ring test in the lon/lat plane (a horizontal ray towards +lon)."""
    a = np.asarray(ring)
    inside = np.zeros(lon.shape, dtype=bool)
    for (x0, y0), (x1, y1) in itertools.pairwise(a):
        straddles = (y0 > lat) != (y1 > lat)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = x0 + (lat - y0) * (x1 - x0) / (y1 - y0)
        inside ^= straddles & (lon < x_cross)
    return inside


def in_geometry(geom: dict[str, Any], lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    out = np.zeros(lon.shape, dtype=bool)
    for rings in polygons_of(geom):
        inside = ray_cast(rings[0], lon, lat)
        for hole in rings[1:]:
            inside &= ~ray_cast(hole, lon, lat)
        out |= inside
    return out


def random_points_off_boundaries(
    region: CellRegion, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Points uniform on the sphere in the region's row/col bounding box with a 2-cell margin,
    kept 1e-6 of a cell away from raster lines."""
    nr, nc = level_shape(region.level)
    r0 = max(int(region.rows.min()) - 2, 0)
    r1 = min(int(region.rows.max()) + 3, nr)
    c0 = max(int(region.cols.min()) - 2, 0)
    c1 = min(int(region.cols.max()) + 3, nc)
    fr = rng.uniform(r0, r1, n)
    fc = rng.uniform(c0, c1, n)
    ok = (np.abs(fr - np.round(fr)) > 1e-6) & (np.abs(fc - np.round(fc)) > 1e-6)
    fr, fc = fr[ok], fc[ok]
    lat = np.degrees(np.arcsin(-1.0 + 2.0 * fr / nr))
    lon = -180.0 + 360.0 * fc / nc
    return lat, lon


def check_geometry(region: CellRegion) -> dict[str, Any]:
    """All structural rules of the output, plus area and point-in-polygon agreement."""
    geom = region.to_geojson()
    assert geom == region_to_geojson(region)
    json.dumps(geom, allow_nan=False)  # serialisable, no NaN
    nr, nc = level_shape(region.level)
    lons = set((-180.0 + 360.0 * np.arange(nc + 1) / nc).tolist())
    lats = set(np.degrees(np.arcsin(np.clip(-1 + 2 * np.arange(nr + 1) / nr, -1, 1))).tolist())
    lats |= {-90.0, 90.0}
    for rings in polygons_of(geom):
        assert len(rings) >= 1
        for k, ring in enumerate(rings):
            assert len(ring) >= 5
            assert ring[0] == ring[-1]
            assert ring[0] == min(ring, key=lambda p: (p[1], p[0])), "canonical start vertex"
            pts = [tuple(p) for p in ring[:-1]]
            assert len(set(pts)) == len(pts), "ring must be simple (no repeated vertex)"
            for i in range(len(pts)):
                a, b, c = pts[i - 1], pts[i], pts[(i + 1) % len(pts)]
                assert a != b
                assert b[0] in lons and b[1] in lats, "vertices are raster corners"
                # Raster edges: each edge is along a parallel or a meridian, and turns at every
                # vertex (collinear vertices removed).
                assert (a[0] == b[0]) != (a[1] == b[1])
                assert (a[0] == b[0]) != (b[0] == c[0])
                assert abs(b[0] - a[0]) <= 360.0 and -180.0 <= b[0] <= 180.0
            sign = shoelace_lonlat(ring)
            if k == 0:
                assert sign > 0, "exterior ring must be counter-clockwise"
            else:
                assert sign < 0, "hole must be clockwise"
    # Independent checks: GEOS validity and area.
    shp = shape(geom)
    assert shp.is_valid, shapely.validation.explain_validity(shp)
    assert geojson_area_km2(geom) == pytest.approx(region.area_km2, rel=1e-6)
    # Point in polygon: our ray casting and shapely agree with region.contains.
    rng = np.random.default_rng(len(region))
    lat, lon = random_points_off_boundaries(region, 4000, rng)
    want = region.contains(lat, lon)
    assert np.array_equal(in_geometry(geom, lon, lat), want)
    assert np.array_equal(shapely.contains_xy(shp, lon, lat), want)
    return geom


def region_from_mask(mask: np.ndarray, r0: int, c0: int, level: int = 0) -> CellRegion:
    rr, cc = np.nonzero(mask)
    return CellRegion.from_cells(level, rr + r0, cc + c0)


def mask_of(text: str) -> np.ndarray:
    """A mask drawn as text, first line = northernmost row ('#' = in the region)."""
    lines = [ln for ln in text.strip("\n").splitlines()]
    return np.array([[ch == "#" for ch in ln] for ln in lines[::-1]], dtype=bool)


# --------------------------------------------------------------------------- named cases


def test_single_cell() -> None:
    region = CellRegion.from_cells(3, [100], [400])
    geom = check_geometry(region)
    assert geom["type"] == "Polygon" and len(geom["coordinates"]) == 1
    lat0, lat1, lon0, lon1 = (float(v) for v in cell_bounds(3, 100, 400))
    assert geom["coordinates"][0] == [
        [lon0, lat0],
        [lon1, lat0],
        [lon1, lat1],
        [lon0, lat1],
        [lon0, lat0],
    ]
    exact = (
        EARTH_RADIUS_KM**2
        * math.radians(lon1 - lon0)
        * (math.sin(math.radians(lat1)) - math.sin(math.radians(lat0)))
    )
    assert geojson_area_km2(geom) == pytest.approx(exact, rel=1e-12)


def test_l_shape() -> None:
    m = mask_of(
        """
#..
#..
###
"""
    )
    geom = check_geometry(region_from_mask(m, 20, 30))
    assert geom["type"] == "Polygon"
    assert len(geom["coordinates"]) == 1 and len(geom["coordinates"][0]) == 7  # 6 corners


def test_ring_with_a_hole() -> None:
    m = mask_of(
        """
#####
#####
##.##
#####
"""
    )
    geom = check_geometry(region_from_mask(m, 12, 60))
    assert geom["type"] == "Polygon"
    exterior, hole = geom["coordinates"]
    assert len(exterior) == 5 and len(hole) == 5
    assert shoelace_lonlat(exterior) > 0 > shoelace_lonlat(hole)


def test_two_separate_blobs() -> None:
    region = CellRegion.from_cells(1, [10, 10, 11, 50, 50], [20, 21, 20, 200, 201])
    geom = check_geometry(region)
    assert geom["type"] == "MultiPolygon" and len(geom["coordinates"]) == 2


def test_antimeridian_gives_two_polygons_touching_plus_and_minus_180() -> None:
    level = 2
    nc = level_shape(level)[1]
    centre = to_unit_vectors(-17.0, 179.0)  # Fiji

    def keep(u: np.ndarray, pad_km: np.ndarray) -> np.ndarray:
        return unit_distance_km(u, centre) <= 500.0 + pad_km

    region = CellRegion.from_cells(level, *refine(keep, 0, level))
    assert set(region.cols.tolist()) & {0} and set(region.cols.tolist()) & {nc - 1}
    geom = check_geometry(region)
    assert geom["type"] == "MultiPolygon" and len(geom["coordinates"]) == 2
    extents = []
    for rings in geom["coordinates"]:
        lon = np.asarray(rings[0])[:, 0]
        extents.append((lon.min(), lon.max()))
        # No edge jumps across the antimeridian.
        assert np.max(np.abs(np.diff(lon))) < 180.0
    extents.sort()
    assert extents[0][0] == -180.0 and extents[0][1] < 0
    assert extents[1][1] == 180.0 and extents[1][0] > 0


@pytest.mark.parametrize("north", [True, False])
def test_polar_caps(north: bool) -> None:
    level = 1
    nr, nc = level_shape(level)
    rows = np.arange(nr - 5, nr) if north else np.arange(0, 3)
    rr, cc = np.meshgrid(rows, np.arange(nc), indexing="ij")
    region = CellRegion.from_cells(level, rr.ravel(), cc.ravel())
    geom = check_geometry(region)
    assert geom["type"] == "Polygon" and len(geom["coordinates"]) == 1
    ring = geom["coordinates"][0]
    assert len(ring) == 5
    pole = 90.0 if north else -90.0
    edge_lat = float(
        cell_bounds(level, rows[0], 0)[0] if north else cell_bounds(level, rows[-1], 0)[1]
    )
    assert {tuple(p) for p in ring} == {
        (-180.0, edge_lat),
        (180.0, edge_lat),
        (180.0, pole),
        (-180.0, pole),
    }
    # Exact cap area: 2 pi R^2 (1 - |sin edge_lat|).
    exact = 2 * math.pi * EARTH_RADIUS_KM**2 * (1 - abs(math.sin(math.radians(edge_lat))))
    assert geojson_area_km2(geom) == pytest.approx(exact, rel=1e-9)


def test_polar_cap_with_a_notch_and_the_whole_globe() -> None:
    # A disc around the north pole from refine, plus a missing cell inside it (a hole touching no
    # edge) and the whole sphere.
    level = 2
    centre = to_unit_vectors(90.0, 0.0)

    def keep(u: np.ndarray, pad_km: np.ndarray) -> np.ndarray:
        return unit_distance_km(u, centre) <= 2500.0 + pad_km

    rows, cols = refine(keep, 0, level)
    drop = (rows == rows.min() + 2) & (cols == 100)
    geom = check_geometry(CellRegion.from_cells(level, rows[~drop], cols[~drop]))
    assert geom["type"] == "Polygon" and len(geom["coordinates"]) == 2
    whole = CellRegion.from_cells(0, *np.divmod(np.arange(NR0 * NC0), NC0))
    geom = check_geometry(whole)
    assert geojson_area_km2(geom) == pytest.approx(4 * math.pi * EARTH_RADIUS_KM**2, rel=1e-12)


def test_corner_pinch_keeps_cells_apart() -> None:
    m = mask_of(
        """
.#
#.
"""
    )
    geom = check_geometry(region_from_mask(m, 15, 40))
    assert geom["type"] == "MultiPolygon" and len(geom["coordinates"]) == 2
    m = mask_of(
        """
#.
.#
"""
    )
    geom = check_geometry(region_from_mask(m, 15, 40))
    assert geom["type"] == "MultiPolygon" and len(geom["coordinates"]) == 2
    # The two squares share exactly one vertex.
    a, b = ({tuple(p) for p in rings[0]} for rings in geom["coordinates"])
    assert len(a & b) == 1


def test_pinch_closing_a_c_shape_makes_a_hole_touching_the_exterior() -> None:
    # Regression: the traced ring passed twice through the pinch corner (GEOS: "Ring
    # Self-intersection"); it is now split into an exterior and a hole that touch at that point.
    m = mask_of(
        """
###.
#.#.
#..#
####
"""
    )
    geom = check_geometry(region_from_mask(m, 8, 8))
    assert geom["type"] == "Polygon" and len(geom["coordinates"]) == 2
    m2 = mask_of(
        """
####
#..#
#.#.
###.
"""
    )
    geom = check_geometry(region_from_mask(m2, 8, 8))
    assert geom["type"] == "Polygon" and len(geom["coordinates"]) == 2


def test_diagonal_holes_touching_at_a_point_are_two_holes() -> None:
    m = mask_of(
        """
####
#.##
##.#
####
"""
    )
    geom = check_geometry(region_from_mask(m, 30, 90))
    assert geom["type"] == "Polygon" and len(geom["coordinates"]) == 3


def test_holes_in_a_row_are_attached_through_their_western_neighbours() -> None:
    # The run west of the eastern holes starts at another hole, so the attachment walks from hole
    # to hole until it reaches the exterior.
    m = mask_of(
        """
#######
#.#.#.#
#######
"""
    )
    geom = check_geometry(region_from_mask(m, 25, 70))
    assert geom["type"] == "Polygon" and len(geom["coordinates"]) == 4


def test_nested_island_in_a_lake() -> None:
    m = mask_of(
        """
#######
#.....#
#.###.#
#.#.#.#
#.###.#
#.....#
#######
"""
    )
    geom = check_geometry(region_from_mask(m, 5, 5))
    assert geom["type"] == "MultiPolygon"
    sizes = sorted(len(rings) for rings in geom["coordinates"])
    assert sizes == [2, 2]  # each piece has exactly one hole, assigned to the right exterior


def test_empty_region_and_unsorted_cells() -> None:
    geom = CellRegion.from_cells(2, [], []).to_geojson()
    assert geom == {"type": "MultiPolygon", "coordinates": []}
    assert geojson_area_km2(geom) == 0.0
    # CellRegion built directly (refine order, duplicates) gives the same polygon as from_cells.
    rows = np.array([5, 4, 5, 4, 5], dtype=np.int64)
    cols = np.array([7, 7, 6, 6, 6], dtype=np.int64)
    assert (
        CellRegion(0, rows, cols).to_geojson() == CellRegion.from_cells(0, rows, cols).to_geojson()
    )
    with pytest.raises(ValueError):
        region_to_geojson(CellRegion(0, np.array([NR0]), np.array([0])))


# --------------------------------------------------------------------------- property test


@st.composite
def cell_sets(draw: st.DrawFn) -> tuple[np.ndarray, int, int]:
    h = draw(st.integers(1, 7))
    w = draw(st.integers(1, 7))
    bits = draw(st.lists(st.booleans(), min_size=h * w, max_size=h * w))
    mask = np.array(bits, dtype=bool).reshape(h, w)
    # Put the window against the poles and the antimeridian often.
    r0 = draw(st.sampled_from([0, NR0 - h, draw(st.integers(0, NR0 - h))]))
    c0 = draw(st.sampled_from([0, NC0 - w, draw(st.integers(0, NC0 - w))]))
    return mask, r0, c0


@settings(max_examples=300, deadline=None)
@given(cell_sets())
def test_random_cell_sets_give_valid_polygons(case: tuple[np.ndarray, int, int]) -> None:
    check_against_labels(*case)


def check_against_labels(mask: np.ndarray, r0: int, c0: int) -> None:
    """check_geometry, plus the counts of pieces and holes from scipy.ndimage.label."""
    region = region_from_mask(mask, r0, c0)
    if region.empty:
        assert region.to_geojson() == {"type": "MultiPolygon", "coordinates": []}
        return
    geom = check_geometry(region)
    # Pieces = 4-connected components of the cells. The holes of a piece are the bounded
    # components of the complement of that piece alone (other pieces may sit in them), which are
    # the 4-connected components of its non-cells; the raster frame counts as outside.
    labels, pieces = ndimage.label(mask)
    want_holes = []
    for i in range(1, pieces + 1):
        _, n_out = ndimage.label(np.pad(labels != i, 1, constant_values=True))
        want_holes.append(n_out - 1)
    polys = polygons_of(geom)
    assert len(polys) == pieces
    assert sorted(len(rings) - 1 for rings in polys) == sorted(want_holes)


@st.composite
def wide_cell_sets(draw: st.DrawFn) -> tuple[np.ndarray, int, int]:
    """Bands of whole rows (runs that reach both lon -180 and 180, keys that continue from one
    row into the next) with random cells toggled, against a pole or in between."""
    h = draw(st.integers(1, 5))
    full = draw(st.lists(st.booleans(), min_size=h, max_size=h))
    mask = np.repeat(np.array(full, dtype=bool)[:, None], NC0, axis=1)
    flips = draw(st.lists(st.tuples(st.integers(0, h - 1), st.integers(0, NC0 - 1)), max_size=12))
    for r, c in flips:
        mask[r, c] = ~mask[r, c]
    r0 = draw(st.sampled_from([0, NR0 - h, 17]))
    return mask, r0, 0


@settings(max_examples=60, deadline=None)
@given(wide_cell_sets())
def test_random_whole_row_bands_give_valid_polygons(case: tuple[np.ndarray, int, int]) -> None:
    check_against_labels(*case)


# --------------------------------------------------------------------------- area and features


def test_ring_signed_area_matches_rectangle_formula() -> None:
    ring = [[10.0, 20.0], [30.0, 20.0], [30.0, 50.0], [10.0, 50.0]]  # open ring is closed for us
    exact = (
        EARTH_RADIUS_KM**2
        * math.radians(20.0)
        * (math.sin(math.radians(50)) - math.sin(math.radians(20)))
    )
    assert ring_signed_area_km2(ring) == pytest.approx(exact, rel=1e-12)
    assert ring_signed_area_km2(ring[::-1]) == pytest.approx(-exact, rel=1e-12)
    with pytest.raises(ValueError):
        ring_signed_area_km2([[0.0, 0.0]])
    with pytest.raises(ValueError):
        geojson_area_km2({"type": "Point", "coordinates": [0.0, 0.0]})


def test_feature_collection_wraps_geometries() -> None:
    g1 = CellRegion.from_cells(0, [3], [4]).to_geojson()
    g2 = CellRegion.from_cells(0, [30, 31], [4, 4]).to_geojson()
    fc = feature_collection(
        [(g1, {"name": "a", "area_km2": 1.0}), g2, feature(None, {"name": "nothing"})]
    )
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 3
    assert fc["features"][0] == {
        "type": "Feature",
        "geometry": g1,
        "properties": {"name": "a", "area_km2": 1.0},
    }
    assert fc["features"][1]["properties"] == {} and fc["features"][1]["geometry"] == g2
    assert fc["features"][2]["geometry"] is None
    json.dumps(fc, allow_nan=False)
    total = CellRegion.from_cells(0, [3, 30, 31], [4, 4, 4]).area_km2
    assert geojson_area_km2(fc) == pytest.approx(total, rel=1e-12)


@pytest.mark.parametrize(
    ("lat_deg", "lon_deg", "pieces", "holes"),
    [
        (48.85, 2.35, 1, 1),
        (80.0, -100.0, 1, 1),  # holds the north pole: one piece around it, still one hole
        (-70.0, 179.0, 2, 0),  # split at the antimeridian, which cuts the hole open too
        (0.0, -180.0, 2, 0),
    ],
)
def test_annulus_from_refine_at_level_6(
    lat_deg: float, lon_deg: float, pieces: int, holes: int
) -> None:
    # A ring of 600..1400 km, a typical feasible region between two RTT bounds.
    centre = to_unit_vectors(lat_deg, lon_deg)

    def keep(u: np.ndarray, pad_km: np.ndarray) -> np.ndarray:
        d = unit_distance_km(u, centre)
        return (d <= 1400.0 + pad_km) & (d >= 600.0 - pad_km)

    region = CellRegion.from_cells(6, *refine(keep, 0, 6))
    polys = polygons_of(check_geometry(region))
    assert len(polys) == pieces
    assert sum(len(rings) - 1 for rings in polys) == holes


def test_array_helpers_match_numpy() -> None:
    rng = np.random.default_rng(12)
    keys = rng.integers(0, 500, 2000)
    assert np.array_equal(sorted_unique(keys), np.unique(keys))
    assert np.array_equal(sorted_unique(np.unique(keys)), np.unique(keys))
    assert len(sorted_unique(np.array([], dtype=np.int64))) == 0
    q = rng.integers(-10, 510, 3000)
    assert np.array_equal(isin_sorted(q, np.unique(keys)), np.isin(q, keys))
    assert not isin_sorted(q, np.array([], dtype=np.int64)).any()
