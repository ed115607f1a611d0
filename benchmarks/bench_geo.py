"""Timings of the geo room: distances, refinement, region polygons and their areas.

Run: ``.venv/bin/python benchmarks/bench_geo.py`` (about 30 s on 2 cores). Prints the setup, then
one line per case: best of ``--repeat`` wall-clock runs (time.perf_counter) and the sizes involved.
Regions are discs of 3000 km radius around Paris found by ``refine`` from level 0 (the cells sorted
with numpy, not ``CellRegion.from_cells``, whose ``np.unique`` is slow under numpy 2.4).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from rttgeo.geo.grid import CellRegion, level_shape, refine
from rttgeo.geo.polygon import geojson_area_km2, region_to_geojson
from rttgeo.geo.sphere import distance_km, pairwise_distance_km, to_unit_vectors, unit_distance_km


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best = float("inf")
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def vertex_count(geom: dict[str, Any]) -> int:
    polys = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
    return sum(len(ring) for rings in polys for ring in rings)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--max-level", type=int, default=8)
    args = ap.parse_args()
    print(
        f"python {platform.python_version()} numpy {np.__version__} on {platform.machine()}, "
        f"{os.cpu_count()} cpus; best of {args.repeat}"
    )
    rng = np.random.default_rng(0)
    n = 1_000_000
    lat1, lat2 = rng.uniform(-90, 90, (2, n))
    lon1, lon2 = rng.uniform(-180, 180, (2, n))
    t, _ = best_of(args.repeat, lambda: distance_km(lat1, lon1, lat2, lon2))
    print(f"distance_km            {n:>10,} pairs   {t * 1e3:8.1f} ms  ({t / n * 1e9:.0f} ns/pair)")
    u = to_unit_vectors(lat1[:2000], lon1[:2000])
    v = to_unit_vectors(lat2[:2000], lon2[:2000])
    t, _ = best_of(args.repeat, lambda: pairwise_distance_km(u, v))
    print(f"pairwise_distance_km   2,000 x 2,000     {t * 1e3:8.1f} ms")

    centre = to_unit_vectors(48.85, 2.35)

    def keep(units: np.ndarray, pad_km: np.ndarray) -> np.ndarray:
        return unit_distance_km(units, centre) <= 3000.0 + pad_km

    for level in range(4, args.max_level + 1):
        rep = args.repeat if level < 7 else 1
        t_ref, (rows, cols) = best_of(rep, lambda lv=level: refine(keep, 0, lv))
        nc = level_shape(level)[1]
        key = np.sort(rows * nc + cols)
        region = CellRegion(level, key // nc, key % nc)
        t_geo, geom = best_of(rep, lambda r=region: region_to_geojson(r))
        t_area, area = best_of(rep, lambda g=geom: geojson_area_km2(g))
        print(
            f"level {level}: refine {t_ref:6.2f} s -> {len(rows):>10,} cells; "
            f"to_geojson {t_geo * 1e3:7.1f} ms ({vertex_count(geom):,} vertices); "
            f"geojson_area_km2 {t_area * 1e3:5.1f} ms (rel. diff to cells "
            f"{area / region.area_km2 - 1:+.1e})"
        )


if __name__ == "__main__":
    main()
