"""Location claims and their conservative tests against grid cells.

A claim is a region of the sphere. :meth:`classify` answers, for cells of the equal-area grid of
:mod:`rttgeo.geo.grid`, +1 when every point of the cell is certainly inside the claim, -1 when every
point is certainly outside, and 0 otherwise (the claim's boundary, widened by its margin, may cross
the cell). Only the two certain answers ever decide a verdict, which is what keeps
:func:`rttgeo.verify.decide` sound under discretisation.

- :class:`RadiusClaim`: within ``radius_km`` of a point (great circle on the sphere). Exact.
- :class:`PolygonClaim`: inside (or, ``negate``, outside) a GeoJSON (Multi)Polygon whose edges are
  straight in lon/lat (RFC 7946), with a safety ``margin_km`` around its boundary; countries
  (:func:`country_claim`) are polygons of the bundled Natural Earth borders with their measured
  border error as the margin. Needs shapely (``pip install 'rttgeo[verify]'``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rttgeo.errors import InputError, require
from rttgeo.geo.grid import cell_bounds_within_km, cell_centers, cell_unit_vectors, circumradius_km
from rttgeo.geo.polygon import geojson_area_km2
from rttgeo.geo.sphere import to_unit_vectors
from rttgeo.textformats import loads_json
from rttgeo.units import EARTH_RADIUS_KM

__all__ = [
    "Claim",
    "PolygonClaim",
    "RadiusClaim",
    "country_claim",
    "parse_geojson_polygons",
    "read_geojson_claim",
]

Int8Array = NDArray[np.int8]

#: Distances from arccos are accurate to about 0.1 km near 0; classification keeps twice that.
FP_SLACK_KM = 0.2


class Claim:
    """Base of claims: ``classify(level, rows, cols)`` and ``describe()``; see the module docstring."""

    kind: str = "claim"

    def classify(self, level: int, rows: NDArray[np.int64], cols: NDArray[np.int64]) -> Int8Array:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class RadiusClaim(Claim):
    """The host is within ``radius_km`` (great circle) of (``lat_deg``, ``lon_deg``)."""

    lat_deg: float
    lon_deg: float
    radius_km: float
    kind: str = field(default="radius", init=False)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lat_deg) and -90.0 <= self.lat_deg <= 90.0):
            raise InputError(f"claim latitude {self.lat_deg} outside [-90, 90]", field="claim")
        if not (math.isfinite(self.lon_deg) and -180.0 <= self.lon_deg <= 180.0):
            raise InputError(f"claim longitude {self.lon_deg} outside [-180, 180]", field="claim")
        if not (math.isfinite(self.radius_km) and self.radius_km > 0):
            raise InputError(f"radius {self.radius_km} km is not a positive number", field="radius_km")

    def classify(self, level: int, rows: NDArray[np.int64], cols: NDArray[np.int64]) -> Int8Array:
        u = cell_unit_vectors(level, rows, cols)
        c = to_unit_vectors(self.lat_deg, self.lon_deg)
        d = EARTH_RADIUS_KM * np.arccos(np.clip(u @ c, -1.0, 1.0))
        pad = circumradius_km(level, rows) + FP_SLACK_KM
        out = np.zeros(len(d), dtype=np.int8)
        out[d + pad <= self.radius_km] = 1
        out[d - pad > self.radius_km] = -1
        return out

    def describe(self) -> str:
        return f"within {self.radius_km:,.0f} km of {self.lat_deg:.4f}, {self.lon_deg:.4f}"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "lat_deg": self.lat_deg,
            "lon_deg": self.lon_deg,
            "radius_km": self.radius_km,
            "text": self.describe(),
        }


@dataclass(frozen=True, eq=False, slots=True)
class PolygonClaim(Claim):
    """Inside (``negate``: outside) a GeoJSON Polygon / MultiPolygon, edges straight in lon/lat.

    ``geometry`` is an RFC 7946 geometry (lon/lat, split at the antimeridian); ``margin_km`` is the
    uncertainty of its boundary: a cell counts as inside only if it lies at least that far within,
    as outside only if at least that far outside. ``name`` labels it in output; ``kind`` is
    ``polygon``, ``country`` or ``not-country``.
    """

    geometry: Mapping[str, Any]
    name: str
    margin_km: float = 0.0
    negate: bool = False
    kind: str = "polygon"
    codes: tuple[str, ...] = ()
    _shape: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.margin_km) and self.margin_km >= 0):
            raise InputError(f"margin {self.margin_km} km must be >= 0", field="margin_km")
        shapely = require("shapely", "verify")
        polys = [
            shapely.Polygon(rings[0], rings[1:])
            for rings in _polygons_of(self.geometry)
        ]
        shape = shapely.make_valid(shapely.MultiPolygon(polys)) if polys else shapely.MultiPolygon()
        # Copies shifted by a full turn make boxes that wrap across +-180 meet the right edges.
        shifted = [shapely.transform(shape, lambda xy, dx=dx: xy + np.array([dx, 0.0])) for dx in (-360, 360)]
        world = shapely.union_all([shape, *shifted])
        boundary = world.boundary
        shapely.prepare(shape)
        shapely.prepare(boundary)
        object.__setattr__(self, "_shape", (shape, boundary))

    @property
    def area_km2(self) -> float:
        """Area of the polygon itself (not of its complement), km^2."""
        return geojson_area_km2(self.geometry)

    def classify(self, level: int, rows: NDArray[np.int64], cols: NDArray[np.int64]) -> Int8Array:
        shapely = require("shapely", "verify")
        shape, boundary = self._shape
        lat0, lat1, lon0, lon1 = cell_bounds_within_km(level, rows, cols, self.margin_km + FP_SLACK_KM)
        boxes = shapely.box(lon0, lat0, lon1, lat1)
        near = shapely.intersects(boxes, boundary)
        lat_c, lon_c = cell_centers(level, rows, cols)
        inside = shapely.contains_xy(shape, lon_c, lat_c)
        out = np.where(inside, 1, -1).astype(np.int8)
        if self.negate:
            out = -out
        out[near] = 0
        return out

    def describe(self) -> str:
        where = f"{'outside' if self.negate else 'inside'} {self.name}"
        return where + (f" (border margin {self.margin_km:g} km)" if self.margin_km else "")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "name": self.name,
            "negate": self.negate,
            "margin_km": self.margin_km,
            "text": self.describe(),
        }
        if self.codes:
            out["codes"] = list(self.codes)
        if self.kind == "polygon":
            out["geometry"] = dict(self.geometry)
        return out


def _polygons_of(geometry: Mapping[str, Any]) -> list[list[Any]]:
    kind = geometry.get("type")
    if kind == "Polygon":
        return [geometry["coordinates"]]
    if kind == "MultiPolygon":
        return list(geometry["coordinates"])
    raise ValueError(f"not a Polygon or MultiPolygon: {kind!r}")


def _check_ring(ring: Any, path: str, where: str | None) -> list[list[float]]:
    if not isinstance(ring, list) or len(ring) < 4:
        raise InputError("a linear ring needs at least 4 positions (RFC 7946 3.1.6)", where=where, field=path)
    out = []
    for k, pos in enumerate(ring):
        p = f"{path}[{k}]"
        if not isinstance(pos, list) or len(pos) < 2:
            raise InputError("a position is [lon, lat] (RFC 7946 3.1.1)", where=where, field=p)
        # JSON numbers only: "10" or true are not coordinates (float() would take them).
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in pos[:2]):
            raise InputError(f"not numbers: {pos[:2]!r}", where=where, field=p)
        lon, lat = float(pos[0]), float(pos[1])
        if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
            raise InputError(f"longitude {pos[0]!r} outside [-180, 180]", where=where, field=p)
        if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
            raise InputError(f"latitude {pos[1]!r} outside [-90, 90]", where=where, field=p)
        if out and abs(lon - out[-1][0]) > 180.0:
            # The edge is straight in lon/lat, so it would run the long way round, across every
            # meridian between: a box over the antimeridian would be read as the band around the
            # rest of the Earth. Split such a polygon at +-180 (RFC 7946 3.1.9).
            raise InputError(f"an edge spans {abs(lon - out[-1][0]):.0f} degrees of longitude: a "
                             "polygon crossing the antimeridian must be split there into a "
                             "MultiPolygon (RFC 7946 3.1.9)", where=where, field=p)
        out.append([lon, lat])
    if out[0] != out[-1]:
        raise InputError("ring is not closed (first and last positions differ)", where=where, field=path)
    return out


def parse_geojson_polygons(obj: Any, where: str | None = None) -> dict[str, Any]:
    """A validated MultiPolygon geometry from a GeoJSON Polygon, MultiPolygon, Feature or
    FeatureCollection of those (RFC 7946). Raises :class:`InputError` naming ``where`` and the
    JSON path of the first fault (missing ``type``, an unsupported type, a ring of fewer than 4
    positions or not closed, a position out of range, a self-intersecting polygon)."""
    polygons: list[list[list[list[float]]]] = []

    def walk(node: Any, path: str) -> None:
        if not isinstance(node, dict):
            raise InputError("expected a GeoJSON object", where=where, field=path or "$")
        kind = node.get("type")
        if kind == "FeatureCollection":
            feats = node.get("features")
            if not isinstance(feats, list):
                raise InputError("'features' must be a list", where=where, field=f"{path}features")
            for i, f in enumerate(feats):
                walk(f, f"{path}features[{i}].")
        elif kind == "Feature":
            if "geometry" not in node or node["geometry"] is None:
                raise InputError("a Feature without geometry", where=where, field=f"{path}geometry")
            walk(node["geometry"], f"{path}geometry.")
        elif kind in ("Polygon", "MultiPolygon"):
            coords = node.get("coordinates")
            if not isinstance(coords, list) or not coords:
                raise InputError("missing or empty 'coordinates'", where=where, field=f"{path}coordinates")
            polys = [coords] if kind == "Polygon" else coords
            for i, rings in enumerate(polys):
                pp = f"{path}coordinates" + ("" if kind == "Polygon" else f"[{i}]")
                if not isinstance(rings, list) or not rings:
                    raise InputError("a polygon needs at least an exterior ring", where=where, field=pp)
                polygons.append([_check_ring(r, f"{pp}[{k}]", where) for k, r in enumerate(rings)])
        elif kind is None:
            raise InputError("missing 'type'", where=where, field=f"{path}type")
        else:
            raise InputError(
                f"type {kind!r} is not a polygon: a claim is a Polygon, MultiPolygon, Feature or "
                "FeatureCollection of them",
                where=where,
                field=f"{path}type",
            )

    walk(obj, "")
    if not polygons:
        raise InputError("no polygon in the file", where=where)
    shapely = require("shapely", "verify")
    for i, rings in enumerate(polygons):
        p = shapely.Polygon(rings[0], rings[1:])
        if not p.is_valid:
            why = shapely.is_valid_reason(p)
            raise InputError(f"polygon #{i} is not valid: {why}", where=where, field="coordinates")
    return {"type": "MultiPolygon", "coordinates": polygons}


def read_geojson_claim(path: str | Path, *, negate: bool = False, margin_km: float = 0.0) -> PolygonClaim:
    """A :class:`PolygonClaim` from a GeoJSON file; faults name the file and the JSON path."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no such file", where=str(p)) from None
    except IsADirectoryError:
        raise InputError("is a directory, not a GeoJSON file", where=str(p)) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not a UTF-8 text file ({exc.reason})", where=str(p)) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", where=str(p)) from None
    # Strict JSON (rttgeo.textformats): huge or non-finite numbers and deep nesting are one
    # InputError naming the file and line, never a traceback.
    obj = loads_json(text, where=str(p), error=InputError)
    geometry = parse_geojson_polygons(obj, where=str(p))
    return PolygonClaim(geometry, name=p.name, margin_km=margin_km, negate=negate, kind="polygon")


def country_claim(codes: str | Sequence[str], *, negate: bool = False) -> PolygonClaim:
    """In (``negate``: not in) the union of countries given by ISO 3166-1 alpha-2 codes.

    Borders are the bundled Natural Earth 1:50m admin-0 polygons (:mod:`rttgeo.verify.borders`);
    the margin is the largest measured border error (50m against 10m) of the countries named, in
    the direction that matters: how far the outline may overreach the country for "in", how far the
    country may reach past the outline for "not in".
    """
    from rttgeo.verify.borders import load_countries

    if isinstance(codes, str):
        codes = [c for c in codes.split(",")]
    want = [c.strip().upper() for c in codes]
    if not want or any(not c for c in want):
        raise InputError("give one or more ISO 3166-1 alpha-2 codes, e.g. DE or CN,HK,MO", field="country")
    table = load_countries()
    unknown = [c for c in want if c not in table.index]
    if unknown:
        raise InputError(
            f"no bundled border for {', '.join(unknown)}: codes are ISO 3166-1 alpha-2 (e.g. DE, CN); "
            "see docs/verify.md for the list and for areas Natural Earth assigns to no code",
            field="country",
        )
    polys: list[Any] = []
    for c in dict.fromkeys(want):
        polys.extend(table.polygons(c))
    names = ", ".join(f"{table.name(c)} ({c})" for c in dict.fromkeys(want))
    return PolygonClaim(
        {"type": "MultiPolygon", "coordinates": polys},
        name=names,
        margin_km=max(table.margin_km(c, inside=not negate) for c in want),
        negate=negate,
        kind="not-country" if negate else "country",
        codes=tuple(dict.fromkeys(want)),
    )
