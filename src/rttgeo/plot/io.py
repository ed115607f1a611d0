"""Read a saved estimate (JSON of ``Estimate.to_json`` or of ``rttgeo locate --out``) for drawing.

The region of a saved estimate is GeoJSON, not grid cells; :class:`GeoJSONRegion` offers what the
maps and reports use of a region (emptiness, area, point test, GeoJSON), so a result measured on
one machine can be mapped on another, offline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rttgeo.errors import InputError
from rttgeo.models import Estimate, LandmarkDiagnostic
from rttgeo.textformats import loads_json

__all__ = ["GeoJSONRegion", "estimate_from_json"]


def _polygons(geometry: Mapping[str, Any]) -> list[list[np.ndarray]]:
    kind = geometry.get("type")
    coords = geometry.get("coordinates") or []
    polys = [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else []
    return [[np.asarray(r, dtype=float).reshape(-1, 2) for r in poly] for poly in polys]


@dataclass(frozen=True, eq=False)
class GeoJSONRegion:
    """A region given as a GeoJSON (Multi)Polygon in lon/lat (RFC 7946), with its area in km^2.

    ``contains`` uses the even-odd rule in the lon/lat plane, exact for regions traced along grid
    cell edges (meridians and parallels) as rttgeo writes them.
    """

    geometry: Mapping[str, Any]
    area_km2: float

    @property
    def empty(self) -> bool:
        return not _polygons(self.geometry)

    def __len__(self) -> int:
        return sum(len(p) for p in _polygons(self.geometry))

    def to_geojson(self) -> dict[str, Any]:
        return dict(self.geometry)

    def contains(self, lat_deg: ArrayLike, lon_deg: ArrayLike) -> NDArray[np.bool_]:
        """Whether each point is inside (even-odd over every ring); lon wrapped to [-180, 180)."""
        lat = np.asarray(lat_deg, dtype=float)
        lon = (np.asarray(lon_deg, dtype=float) + 180.0) % 360.0 - 180.0
        lat, lon = np.broadcast_arrays(lat, lon)
        inside = np.zeros(lat.shape, dtype=bool)
        for poly in _polygons(self.geometry):
            for ring in poly:
                x0, y0 = ring[:, 0], ring[:, 1]
                x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
                for k in range(len(ring)):
                    crosses = (y0[k] > lat) != (y1[k] > lat)
                    if not crosses.any():
                        continue
                    with np.errstate(divide="ignore", invalid="ignore"):
                        xc = x0[k] + (lat - y0[k]) * (x1[k] - x0[k]) / (y1[k] - y0[k])
                    inside ^= crosses & (lon < xc)
        return inside


def _f(v: Any) -> float:
    return math.nan if v is None else float(v)


def estimate_from_json(source: str | Path | Mapping[str, Any]) -> Estimate:
    """An :class:`~rttgeo.models.Estimate` from a saved JSON estimate.

    ``source``: a path to a ``.json`` file, or its parsed content: either ``Estimate.to_json()``
    output or the ``{"estimate": ..., "confidence": ..., "measurement": ...}`` document written by
    ``rttgeo locate --out``. The region becomes a :class:`GeoJSONRegion`. Raises InputError naming
    the missing field.
    """
    where = None
    if isinstance(source, str | Path):
        where = str(source)
        try:
            raw = Path(source).read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read the estimate: {exc.strerror}", where=where) from None
        doc: Any = loads_json(raw, where=where)  # strict: huge numbers, deep nesting
    else:
        doc = source
    if isinstance(doc, Mapping) and "estimate" in doc and "point" not in doc:
        doc = doc["estimate"]
    if not isinstance(doc, Mapping) or "point" not in doc:
        raise InputError("no estimate in this document (expected a 'point' field)", where=where)
    try:
        point = doc["point"]
        diags = tuple(
            LandmarkDiagnostic(
                id=str(d["id"]),
                lat_deg=float(d["lat_deg"]),
                lon_deg=float(d["lon_deg"]),
                rtt_ms=_f(d.get("rtt_ms")),
                max_distance_km=_f(d.get("max_distance_km")),
                distance_km=_f(d.get("distance_km")),
                slack_km=_f(d.get("slack_km")),
                used=bool(d.get("used", True)),
                note=str(d.get("note") or ""),
            )
            for d in doc.get("landmarks") or []
        )
        area = _f(doc.get("area_km2"))
        region = doc.get("region")
        return Estimate(
            lat_deg=float(point["lat_deg"]),
            lon_deg=float(point["lon_deg"]),
            method=str(doc.get("method", "")),
            params=dict(doc.get("params") or {}),
            region=GeoJSONRegion(region, area) if region else None,  # type: ignore[arg-type]
            area_km2=area,
            level=None if doc.get("level") is None else float(doc["level"]),
            consistent=bool(doc.get("consistent", True)),
            note=str(doc.get("note") or ""),
            landmarks=diags,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"malformed estimate: {exc!r}", where=where) from None
