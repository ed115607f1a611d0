#!/usr/bin/env python3
"""Build ``src/rttgeo/data/countries_50m.npz``: Natural Earth admin-0 countries with ISO 3166-1
alpha-2 codes and a measured border-error margin per country, for ``rttgeo verify --country``.

Run ONCE by a maintainer, never at run time. Sources, both from package registries (no live web):

- npm ``world-atlas@2.0.2`` (ISC, by Mike Bostock): Natural Earth 4.1.0 admin-0 countries (public
  domain) as TopoJSON at 1:50m (bundled) and 1:10m (the reference the 50m error is measured
  against). Each country's ``id`` is Natural Earth's ``ISO_N3`` field; world-atlas drops the id
  where Natural Earth has ``-99`` (Kosovo, Somaliland, N. Cyprus, Siachen Glacier, Indian Ocean
  Ter.: areas that belong to no ISO code in Natural Earth's de facto view).
- PyPI ``pycountry`` (the ISO 3166-1 table of Debian's iso-codes) maps ISO_N3 to alpha-2.

::

    mkdir -p /tmp/wa && cd /tmp/wa && npm install world-atlas@2.0.2
    .venv/bin/pip install pycountry shapely
    .venv/bin/python scripts/build_countries.py /tmp/wa/node_modules/world-atlas [CACHE.json]

(about 20 minutes on a 2-core machine; CACHE.json, if given, keeps each country's measured errors so
that an interrupted run resumes.)

Border error: for each country, with A50 the bundled polygon and A10 the 1:10m one (both in
lon/lat, edges straight in lon/lat as RFC 7946 says),

- ``e_out`` = max over points p of A10 \\ A50 of dist(p, A50) (how far the country reaches past
  the bundled outline), which bounds the margin needed to prove "not in the country";
- ``e_in`` = max over points p of A50 \\ A10 of dist(p, outside of A50) (how far the bundled
  outline reaches past the country), the margin needed to prove "in the country".

Both are upper bounds found by branch and bound over squares covering the symmetric difference
(distance is 1-Lipschitz; see :func:`max_distance_km`), tight to ``TOL_DEG``.
Distances are great-circle distances to the planar-nearest point (an upper bound of the distance to
the set); a square of planar half-diagonal h degrees holds no point farther than h x 111.19 km from
its centre (a lon/lat-straight path is never shorter than the great circle, and its length is at
most its planar length in degrees times R pi / 180).

Small islands that the 1:50m data leave out (Chile's Desventuradas, the Cook Islands' atolls) would
make this error hundreds of km; the bundled outline of a country therefore adds every 1:10m part
lying more than ``ISLAND_DEG`` from its 1:50m outline, whole and exact.
The margin stored is ceil(max(e_out, e_in) + 0.5 km).

Output arrays: ``code`` (alpha-2, one per country), ``name``, ``margin_km``, ``e_out_km``,
``e_in_km``; rings ``lon``, ``lat`` (float32 degrees, within 0.4 m of the source, in [-180, 180], split at the
antimeridian), ``ring_start`` (ring i is ``[ring_start[i]:ring_start[i + 1]]``), ``ring_polygon``
(polygon index of each ring; the first ring of a polygon is its exterior, the others holes),
``polygon_country`` (country index of each polygon); ``meta`` (a JSON string with the provenance).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pycountry
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_borders import decode_arcs, polygons, ring, unwrap_ring  # also puts src/ on the path

from rttgeo.datasets.bundle import write_npz

OUT = Path(__file__).resolve().parents[1] / "src" / "rttgeo" / "data" / "countries_50m.npz"
KM_PER_DEG = 6371.0088 * math.pi / 180.0
TOL_DEG = 0.005
ISLAND_DEG = 0.05
EXTRA_KM = 0.5


def alpha2(numeric: str) -> str | None:
    c = pycountry.countries.get(numeric=numeric)
    return None if c is None else c.alpha_2


def _translate(g: shapely.Geometry, dx: float) -> shapely.Geometry:
    return shapely.transform(g, lambda xy: xy + np.array([dx, 0.0]))


def country_geometries(path: Path) -> tuple[dict[str, shapely.Geometry], dict[str, str]]:
    """Alpha-2 code -> valid (Multi)Polygon within lon [-180, 180]; and code -> name."""
    topo = json.loads(path.read_text())
    arcs = decode_arcs(topo)
    parts: dict[str, list[shapely.Geometry]] = {}
    names: dict[str, str] = {}
    world = box(-180.0, -90.0, 180.0, 90.0)
    for geom in topo["objects"]["countries"]["geometries"]:
        num = geom.get("id")
        code = alpha2(num) if num else None
        if code is None:
            continue  # Natural Earth ISO_N3 of -99: no ISO code (see the module docstring)
        for poly in polygons(geom):
            # Degenerate rings (fewer than 4 points, or hugging a pole) carry no area.
            rings = [unwrap_ring(ring(arcs, r)) for r in poly]
            rings = [r if r is not None and len(r) >= 4 else None for r in rings]
            if rings[0] is None:
                continue
            holes = [r for r in rings[1:] if r is not None]
            p = shapely.make_valid(Polygon(rings[0], holes))
            # Rings crossing the antimeridian run past 180 (or start before -180): fold them back.
            for shift in (-360.0, 0.0, 360.0):
                q = shapely.intersection(_translate(p, shift), world)
                if not q.is_empty:
                    parts.setdefault(code, []).append(q)
        names.setdefault(code, geom["properties"]["name"])
    out = {}
    for code, ps in parts.items():
        g = shapely.make_valid(shapely.union_all(ps))
        polys = [x for x in shapely.get_parts(g) if isinstance(x, Polygon) and x.area > 0]
        out[code] = MultiPolygon(polys)
    return out, names


def gc_distance_deg(x: np.ndarray, y: np.ndarray, target: shapely.Geometry) -> np.ndarray:
    """Great-circle distance (in degrees of arc) from points to their planar-nearest point of
    ``target``: an upper bound of the true distance to ``target`` (that point belongs to it)."""
    if len(x) == 0:
        return np.zeros(0)
    line = shapely.shortest_line(shapely.points(x, y), target)
    q = shapely.get_coordinates(shapely.get_point(line, 1))
    la1, lo1, la2, lo2 = map(np.radians, (y, x, q[:, 1], q[:, 0]))
    h = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))


def max_distance_km(pieces: shapely.Geometry, target: shapely.Geometry) -> float:
    """Upper bound (km) of max over points of ``pieces`` of the distance to ``target``.

    Branch and bound over squares (distance is 1-Lipschitz): a square meeting the pieces cannot hold
    a point farther than d(its centre) + its half-diagonal; squares whose bound exceeds the best
    value found at a real point of the pieces (a vertex, or a square centre inside them) split in
    four until their half-diagonal is below ``TOL_DEG``; the answer is the largest bound left.
    """
    if pieces.is_empty:
        return 0.0
    shapely.prepare(target)
    shapely.prepare(pieces)
    verts = shapely.get_coordinates(pieces)
    best = float(gc_distance_deg(verts[:, 0], verts[:, 1], target).max())
    x0, y0, x1, y1 = pieces.bounds
    size = max(x1 - x0, y1 - y0, 1e-9) / 8.0
    cx, cy = np.meshgrid(
        np.arange(x0 + size / 2, x1 + size, size), np.arange(y0 + size / 2, y1 + size, size)
    )
    cx, cy = cx.ravel(), cy.ravel()
    bound = best
    while len(cx):
        h = size / 2.0
        boxes = shapely.box(cx - h, cy - h, cx + h, cy + h)
        meet = shapely.intersects(boxes, pieces)
        cx, cy = cx[meet], cy[meet]
        d = gc_distance_deg(cx, cy, target)
        inside = shapely.contains_xy(pieces, cx, cy)
        if inside.any():
            best = max(best, float(d[inside].max()))
        upper = d + h * math.sqrt(2.0)
        if h * math.sqrt(2.0) < TOL_DEG:
            bound = max(bound, float(upper.max()) if len(upper) else best)
            break
        go = upper > best + TOL_DEG / 2
        cx, cy, size = cx[go], cy[go], size / 2.0
        q = size / 2.0
        cx = np.concatenate([cx - q, cx + q, cx - q, cx + q])
        cy = np.concatenate([cy - q, cy - q, cy + q, cy + q])
    return max(bound, best) * KM_PER_DEG


def main(src_dir: str, cache_path: Path | None = None) -> None:
    src = Path(src_dir)
    g50, names = country_geometries(src / "countries-50m.json")
    g10, _ = country_geometries(src / "countries-10m.json")
    # A country without a 1:10m outline cannot have its error measured: it is left out.
    unmeasured = sorted(set(g50) - set(g10))
    codes = [c for c in sorted(g50) if c in g10]
    cache: dict[str, list[float]] = {}
    if cache_path is not None and cache_path.is_file():
        cache = json.loads(cache_path.read_text())
    lon: list[np.ndarray] = []
    lat: list[np.ndarray] = []
    ring_polygon: list[int] = []
    polygon_country: list[int] = []
    e_out, e_in, margin, added = [], [], [], []
    for ci, code in enumerate(codes):
        a50, a10 = g50[code], g10[code]
        far = [q for q in shapely.get_parts(a10) if shapely.distance(q, a50) > ISLAND_DEG]
        if far:
            a50 = MultiPolygon(
                [
                    x
                    for x in shapely.get_parts(shapely.make_valid(shapely.union_all([a50, *far])))
                    if isinstance(x, Polygon) and x.area > 0
                ]
            )
        added.append(len(far))
        if code in cache:
            eo, ei = cache[code]
        else:
            eo = max_distance_km(shapely.difference(a10, a50), a50)
            ei = max_distance_km(shapely.difference(a50, a10), a50.boundary)
            cache[code] = [eo, ei]
            if cache_path is not None:
                cache_path.write_text(json.dumps(cache))
        e_out.append(eo)
        e_in.append(ei)
        margin.append(math.ceil(max(eo, ei) + EXTRA_KM))
        for poly in a50.geoms:
            pi = len(polygon_country)
            polygon_country.append(ci)
            for r in [poly.exterior, *poly.interiors]:
                xy = np.asarray(r.coords)
                lon.append(xy[:, 0])
                lat.append(xy[:, 1])
                ring_polygon.append(pi)
        print(
            f"{code} {names[code]:<28} e_out {eo:7.2f} km  e_in {ei:7.2f} km  "
            f"margin {margin[-1]} km, {len(far)} parts from 10m"
        )
    start = np.cumsum([0] + [len(x) for x in lon]).astype(np.int64)
    meta = {
        "source": "Natural Earth 4.1.0 admin-0 countries 1:50m (public domain), via npm world-atlas@2.0.2",
        "reference": "the same at 1:10m (world-atlas countries-10m.json)",
        "code_field": "Natural Earth ISO_N3 (world-atlas id) mapped to ISO 3166-1 alpha-2 by pycountry "
        + pycountry_version(),
        "unassigned": "Natural Earth features with ISO_N3 -99 belong to no code",
        "tolerance_deg": TOL_DEG,
        "margin_rule": "ceil(max(e_out, e_in) + 0.5 km)",
        "only_at_10m": sorted(set(g10) - set(g50)),
        "no_10m_outline_left_out": unmeasured,
        "island_deg": ISLAND_DEG,
        "parts_added_from_10m": int(sum(added)),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    write_npz(
        OUT,
        {
            "code": np.array(codes),
            "name": np.array([names[c] for c in codes]),
            "margin_km": np.array(margin, dtype=float),
            "e_out_km": np.round(np.array(e_out), 3),
            "e_in_km": np.round(np.array(e_in), 3),
            "lon": np.concatenate(lon).astype(np.float32),
            "lat": np.concatenate(lat).astype(np.float32),
            "ring_start": start,
            "ring_polygon": np.array(ring_polygon, dtype=np.int32),
            "polygon_country": np.array(polygon_country, dtype=np.int32),
            "meta": np.array(json.dumps(meta)),
        },
    )
    m = np.array(margin)
    print(
        f"wrote {OUT} ({OUT.stat().st_size / 1e3:.0f} kB): {len(codes)} countries, "
        f"{len(ring_polygon)} rings, {start[-1]} points; margin median {np.median(m):.0f} km, "
        f"p90 {np.percentile(m, 90):.0f} km, max {m.max():.0f} km ({codes[int(np.argmax(m))]})"
    )


def pycountry_version() -> str:
    from importlib.metadata import version

    return version("pycountry")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: build_countries.py PATH/TO/node_modules/world-atlas [CACHE.json]")
    main(sys.argv[1], Path(sys.argv[2]) if len(sys.argv) == 3 else None)
