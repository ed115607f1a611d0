"""An RFC 7946 checker for the tests: structure, positions, rings, winding, and 1e-6 deg rounding."""

from __future__ import annotations

import itertools
import math
from typing import Any

GEOMETRIES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")


def _position(p: Any) -> None:
    assert isinstance(p, list) and len(p) in (2, 3), p
    lon, lat = p[0], p[1]
    assert all(isinstance(v, int | float) and math.isfinite(v) for v in p), p
    assert -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0, p
    assert round(lon, 6) == lon and round(lat, 6) == lat, f"not rounded to 1e-6 degree: {p}"


def _signed_area(ring: list[list[float]]) -> float:
    return 0.5 * sum(a[0] * b[1] - b[0] * a[1] for a, b in itertools.pairwise(ring))


def _polygon(rings: Any) -> None:
    assert isinstance(rings, list)
    for k, ring in enumerate(rings):
        assert len(ring) >= 4 and ring[0] == ring[-1], "a linear ring is closed, >= 4 positions"
        for p in ring:
            _position(p)
        area = _signed_area(ring)
        assert (area > 0) if k == 0 else (area < 0), "right-hand rule: exterior CCW, holes CW"


def assert_geometry(g: Any) -> None:
    assert isinstance(g, dict) and g.get("type") in (*GEOMETRIES, "GeometryCollection"), g
    assert "crs" not in g
    kind, c = g["type"], g.get("coordinates")
    if kind == "Point":
        _position(c)
    elif kind in ("MultiPoint", "LineString"):
        for p in c:
            _position(p)
    elif kind == "MultiLineString":
        for line in c:
            for p in line:
                _position(p)
    elif kind == "Polygon":
        _polygon(c)
    elif kind == "MultiPolygon":
        for poly in c:
            _polygon(poly)
    else:
        for sub in g["geometries"]:
            assert_geometry(sub)
    if kind in ("Polygon", "MultiPolygon") and c:
        from shapely.geometry import shape

        assert shape(g).is_valid, "a valid simple-feature geometry"


def assert_rfc7946(obj: Any) -> None:
    """Raise AssertionError unless ``obj`` is an RFC 7946 FeatureCollection, Feature or geometry."""
    assert isinstance(obj, dict) and "crs" not in obj
    if obj.get("type") == "FeatureCollection":
        assert isinstance(obj["features"], list)
        for f in obj["features"]:
            assert_rfc7946(f)
            assert f["type"] == "Feature"
    elif obj.get("type") == "Feature":
        assert "geometry" in obj and "properties" in obj
        assert obj["properties"] is None or isinstance(obj["properties"], dict)
        if obj["geometry"] is not None:
            assert_geometry(obj["geometry"])
    else:
        assert_geometry(obj)
