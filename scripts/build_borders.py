#!/usr/bin/env python3
"""Build ``src/rttgeo/data/borders_50m.npz`` (coastlines and country borders) from Natural Earth.

Run ONCE by a maintainer, never at run time. The source is the npm package ``world-atlas`` (ISC
licence, by Mike Bostock), a TopoJSON packaging of Natural Earth 1:50m (public domain)::

    mkdir -p /tmp/wa && cd /tmp/wa && npm install world-atlas@2.0.2
    .venv/bin/python scripts/build_borders.py /tmp/wa/node_modules/world-atlas

(``npm pack world-atlas@2.0.2`` and unpacking the tarball gives the same files.) The file is
written reproducibly (``rttgeo.datasets.bundle.write_npz``): a rebuild gives the same bytes.

TopoJSON arcs are decoded here by hand (delta decoding, then the quantisation transform), so the
script needs nothing beyond numpy. Output arrays (all in degrees, quantised to the source's grid,
about 0.0036 deg x 0.0017 deg, i.e. < 400 m):

``land_lon``, ``land_lat`` (float32) and ``land_start`` (int32): the rings of the land polygons
(coastlines, which also serve to fill land; exteriors counter-clockwise, holes clockwise; rings
crossing the antimeridian are continuous and may reach past 180; Antarctica is closed along the
south pole), concatenated; ring i is ``[land_start[i]:land_start[i + 1]]``.
``border_lon``, ``border_lat``, ``border_start``: the arcs shared by two countries (land
borders), each drawn once, cut at the antimeridian.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from rttgeo.datasets.bundle import write_npz

OUT = Path(__file__).resolve().parents[1] / "src" / "rttgeo" / "data" / "borders_50m.npz"


def decode_arcs(topo: dict) -> list[np.ndarray]:
    """Absolute (lon, lat) arrays of every arc of a quantised TopoJSON topology."""
    sx, sy = topo["transform"]["scale"]
    tx, ty = topo["transform"]["translate"]
    out = []
    for arc in topo["arcs"]:
        q = np.cumsum(np.asarray(arc, dtype=np.int64), axis=0)
        out.append(np.column_stack([q[:, 0] * sx + tx, q[:, 1] * sy + ty]))
    return out


def arc_points(arcs: list[np.ndarray], index: int) -> np.ndarray:
    """Arc ``index``; a negative index ~i means arc i reversed (TopoJSON convention)."""
    return arcs[index] if index >= 0 else arcs[~index][::-1]


def ring(arcs: list[np.ndarray], indices: list[int]) -> np.ndarray:
    """Stitch arcs into one ring, dropping the shared point between consecutive arcs."""
    parts = [
        arc_points(arcs, i) if k == 0 else arc_points(arcs, i)[1:] for k, i in enumerate(indices)
    ]
    return np.concatenate(parts)


def orient(r: np.ndarray, *, ccw: bool) -> np.ndarray:
    """Ring turned counter-clockwise (``ccw``) or clockwise in the lon/lat plane."""
    x, y = r[:, 0], r[:, 1]
    area = 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)
    return r if (area > 0) == ccw else r[::-1]


def unwrap_ring(r: np.ndarray) -> np.ndarray | None:
    """A ring whose longitudes jump across the antimeridian made continuous (TopoJSON from
    world-atlas is spherical: Eurasia, Fiji and Antarctica cross +-180).

    Longitudes are unwrapped and shifted so the ring starts at or east of -180 (it may end past
    180); a ring that goes once around a pole (Antarctica) is closed along that pole. Degenerate
    rings hugging the pole are dropped (None).
    """
    if not np.any(np.abs(np.diff(r[:, 0])) > 180.0):
        return r
    lon = np.degrees(np.unwrap(np.radians(r[:, 0])))
    lat = r[:, 1]
    if abs(lon[-1] - lon[0]) > 180.0:  # encircles a pole
        if np.ptp(lat) < 0.01:
            return None
        pole = -90.0 if lat.mean() < 0 else 90.0
        lon = np.concatenate([lon, [lon[-1], lon[0], lon[0]]])
        lat = np.concatenate([lat, [pole, pole, lat[0]]])
    lon = lon - 360.0 * np.floor((lon.min() + 180.0) / 360.0)
    return np.column_stack([lon, lat])


def split_at_antimeridian(line: np.ndarray) -> list[np.ndarray]:
    """A polyline cut where consecutive longitudes jump across +-180."""
    cut = np.flatnonzero(np.abs(np.diff(line[:, 0])) > 180.0) + 1
    return [part for part in np.split(line, cut) if len(part) > 1]


def polygons(geometry: dict) -> list[list[list[int]]]:
    if geometry["type"] == "Polygon":
        return [geometry["arcs"]]
    if geometry["type"] == "MultiPolygon":
        return geometry["arcs"]
    return []


def pack(lines: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    start = np.cumsum([0] + [len(line) for line in lines]).astype(np.int32)
    xy = np.concatenate(lines) if lines else np.zeros((0, 2))
    return xy[:, 0].astype(np.float32), xy[:, 1].astype(np.float32), start


def main(src_dir: str) -> None:
    src = Path(src_dir)
    land = json.loads((src / "land-50m.json").read_text())
    countries = json.loads((src / "countries-50m.json").read_text())

    land_arcs = decode_arcs(land)
    # Exterior rings counter-clockwise and holes clockwise in the lon/lat plane, so that a compound
    # path filled by the non-zero winding rule leaves holes (e.g. the Caspian Sea) empty.
    rings = []
    for geom in land["objects"]["land"]["geometries"]:
        for poly in polygons(geom):
            for k, r in enumerate(poly):
                u = unwrap_ring(ring(land_arcs, r))
                if u is not None:
                    rings.append(orient(u, ccw=(k == 0)))

    c_arcs = decode_arcs(countries)
    uses = np.zeros(len(c_arcs), dtype=int)
    for geom in countries["objects"]["countries"]["geometries"]:
        for poly in polygons(geom):
            for r in poly:
                for i in r:
                    uses[i if i >= 0 else ~i] += 1
    borders = [part for i in np.flatnonzero(uses >= 2) for part in split_at_antimeridian(c_arcs[i])]

    land_lon, land_lat, land_start = pack(rings)
    b_lon, b_lat, b_start = pack(borders)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    write_npz(
        OUT,
        {
            "land_lon": land_lon,
            "land_lat": land_lat,
            "land_start": land_start,
            "border_lon": b_lon,
            "border_lat": b_lat,
            "border_start": b_start,
        },
    )
    print(
        f"wrote {OUT} ({OUT.stat().st_size / 1e3:.0f} kB): {len(rings)} land rings "
        f"({len(land_lon)} points), {len(borders)} border arcs ({len(b_lon)} points)"
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: build_borders.py PATH/TO/node_modules/world-atlas")
    main(sys.argv[1])
