"""Locate speed: one target against 800 landmarks on a global grid, against a plain dense grid.

Setup: the 784 RIPE Atlas anchors of April 2023 (real positions, ../shared/datasets) plus 16 probes,
i.e. 800 landmarks; 100 targets at random positions (fixed seed) whose RTTs are synthesised from
geography (great-circle distance at 2/3 c, times a path inflation drawn in [1.2, 2.0], plus 0.5-5 ms
of access delay): speed does not depend on where the RTTs come from. Each method is fitted once
(pooled calibration: anchors come without a mesh) and timed per ``locate`` call with
``time.perf_counter_ns``; the dense baseline evaluates every level-4 cell centre (655,360 cells,
about 20 km) against every landmark, in chunks, with the same constraint test.

Run: ``python benchmarks/bench_estimate_speed.py [--methods cbg,...] [--targets 100]``
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings

import numpy as np
from _goals import Goals

from rttgeo.datasets import load_ripe_atlas
from rttgeo.estimate import DEFAULT_METHOD, make_estimator
from rttgeo.geo.grid import CellRegion, cell_unit_vectors, global_cells
from rttgeo.geo.sphere import pairwise_distance_km, to_unit_vectors
from rttgeo.models import Mesh
from rttgeo.units import EARTH_RADIUS_KM, FIBRE_KM_PER_RTT_MS


def landmarks_800() -> Mesh:
    anchors = load_ripe_atlas(kind="anchors")
    probes = load_ripe_atlas(kind="probes")
    n_extra = 800 - len(anchors)
    pick = np.linspace(0, len(probes) - 1, n_extra).astype(int)
    return Mesh(
        anchors.ids + tuple(probes.ids[i] for i in pick),
        np.concatenate([anchors.lat_deg, probes.lat_deg[pick]]),
        np.concatenate([anchors.lon_deg, probes.lon_deg[pick]]),
        np.full((800, 800), np.nan),
        np.zeros(800, dtype=bool),
        "ripe-atlas-2023 anchors + 16 probes",
    )


def synthetic_rtts(mesh: Mesh, n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lat = np.degrees(np.arcsin(rng.uniform(-0.8, 0.9, n)))
    lon = rng.uniform(-180, 180, n)
    d = pairwise_distance_km(to_unit_vectors(lat, lon), to_unit_vectors(mesh.lat_deg, mesh.lon_deg))
    infl = rng.uniform(1.2, 2.0, d.shape)
    access = rng.uniform(0.5, 5.0, (n, 1))
    return d / FIBRE_KM_PER_RTT_MS * infl + access, np.column_stack([lat, lon])


def dense_cbg(unit: np.ndarray, radius_km: np.ndarray, level: int = 4) -> CellRegion:
    """The plain way: test every cell centre of the level against every disc."""
    rows, cols = global_cells(level)
    cos_r = np.cos(np.minimum(radius_km, np.pi * EARTH_RADIUS_KM) / EARTH_RADIUS_KM)
    keep = np.empty(len(rows), dtype=bool)
    step = 32768
    for a in range(0, len(rows), step):
        u = cell_unit_vectors(level, rows[a : a + step], cols[a : a + step])
        keep[a : a + step] = np.all(u @ unit.T >= cos_r[None, :], axis=1)
    return CellRegion.from_unique_cells(level, rows[keep], cols[keep])


def main() -> int:
    goals = Goals()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--methods", default=f"cbg,{DEFAULT_METHOD}")
    ap.add_argument("--targets", type=int, default=100)
    ap.add_argument("--dense-targets", type=int, default=5)
    args = ap.parse_args()
    mesh = landmarks_800()
    rtts, _truth = synthetic_rtts(mesh, args.targets)
    print(f"setup: {len(mesh)} landmarks ({mesh.name}), {args.targets} synthetic targets, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}, numpy {np.__version__}")
    results = {}
    for m in dict.fromkeys(args.methods.split(",")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = make_estimator(m).fit(mesh)
            est.locate(rtts[0])  # warm-up (caches, imports)
            times = []
            for row in rtts:
                t0 = time.perf_counter_ns()
                est.locate(row)
                times.append((time.perf_counter_ns() - t0) / 1e6)
        t = np.array(times)
        results[m] = float(np.median(t))
        print(f"{m:<14} locate: median {np.median(t):7.2f} ms  p90 {np.percentile(t, 90):7.2f} ms"
              f"  max {t.max():7.2f} ms   (goal: median <= 20 ms): "
              f"{goals.check(f'{m} median locate', np.median(t) <= 20.0)}")
    # Dense baseline for CBG, same constraints, same level.
    est = make_estimator("cbg").fit(mesh)
    unit = to_unit_vectors(mesh.lat_deg, mesh.lon_deg)
    dense_t, same = [], 0
    for row in rtts[: args.dense_targets]:
        radius = est.max_distance_km(row, np.arange(len(mesh)))
        t0 = time.perf_counter_ns()
        region = dense_cbg(unit, radius)
        dense_t.append((time.perf_counter_ns() - t0) / 1e6)
        fast = make_estimator("cbg", max_cells=10**9).fit(mesh).locate(row).region
        same += int(np.array_equal(fast.keys(), region.keys()))
    d = float(np.median(dense_t))
    print(f"dense level-4 CBG (655,360 cells x 800 landmarks): median {d:.0f} ms; coarse-to-fine "
          f"gives the identical region in {same}/{len(dense_t)} targets (goal: all): "
          f"{goals.check('identical regions', same == len(dense_t))}")
    if "cbg" in results:
        print(f"speed-up of coarse-to-fine CBG over the dense grid: x{d / results['cbg']:.0f}")
    return goals.exit_status()


if __name__ == "__main__":
    sys.exit(main())
