#!/usr/bin/env python3
"""Batch estimation at scale: 1,000,000 targets x 100 vantage points (synthetic RTTs, real geometry).

Setup: the vantage points are the 784 bundled RIPE Atlas anchors (April 2023 positions); the targets
sit at the 10,117 RIPE Atlas probe positions of the same snapshot (cycled, each copy moved by a
random ~20 km), or at jittered anchor positions when that dataset is absent. Each target is measured
by 100 anchors (its 50 nearest and 50 at random): RTT = great-circle distance at 2/3 c, inflated by
1 + |N(0.35, 0.2)|, plus 1 ms. The long-form Parquet file (target, landmark, rtt_ms) has
targets x 100 rows.

Measured, each figure with its own setup line:

1. reading: the whole file streamed into chunks (no estimation), rows/s and peak RSS;
2. per method (CBG, rttgeo): targets/s of one process on ``--subset`` targets (per core), and of
   ``--workers`` processes on the same targets (the speed-up), each with its peak RSS;
3. the time the full file would take at the measured rate (an extrapolation, said as one);
4. with ``--full cbg[,rttgeo]``: the named methods over the *whole* file, end to end, on
   ``--workers`` processes (no extrapolation): wall time, targets/s, per CPU-second, peak RSS.

Goals: CBG >= 200 targets/s per core, judged per CPU-second of one process (the machine is shared,
so wall-clock rates depend on other work; both are printed); peak RSS < 2 GiB in every run. Exit 1
when one is missed.

    .venv/bin/python benchmarks/bench_batch.py [--targets 1000000] [--subset 4000] [--workers 2]
        [--full cbg]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _goals import Goals

GIB = 1 << 30


def make_file(path: Path, n_targets: int, per_target: int, seed: int) -> float:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from rttgeo.catalog import load_default_catalog
    from rttgeo.datasets import load_ripe_atlas
    from rttgeo.errors import DatasetError
    from rttgeo.geo.sphere import pairwise_distance_km, to_unit_vectors

    t0 = time.perf_counter()
    cat = load_default_catalog()
    a_lat = np.array([lm.lat_deg for lm in cat])
    a_lon = np.array([lm.lon_deg for lm in cat])
    try:
        pr = load_ripe_atlas(kind="probes")
        p_lat, p_lon = pr.lat_deg, pr.lon_deg
    except DatasetError:
        p_lat, p_lon = a_lat, a_lon
    ua = to_unit_vectors(a_lat, a_lon)
    ids = pa.array([lm.id for lm in cat], pa.string())
    rng = np.random.default_rng(seed)
    writer = None
    block = 10_000
    half = per_target // 2
    for start in range(0, n_targets, block):
        n = min(block, n_targets - start)
        k = (np.arange(start, start + n)) % len(p_lat)
        lat = np.clip(p_lat[k] + rng.normal(0, 0.15, n), -89.9, 89.9)
        lon = (p_lon[k] + rng.normal(0, 0.2, n) + 180) % 360 - 180
        d = pairwise_distance_km(to_unit_vectors(lat, lon), ua)  # (n, 784)
        near = np.argpartition(d, half, axis=1)[:, :half]
        rand = rng.integers(0, len(cat), (n, per_target - half))
        pick = np.concatenate([near, rand], axis=1)
        dd = np.take_along_axis(d, pick, axis=1)
        rtt = 2 * dd / 199.86 * (1 + np.abs(rng.normal(0.35, 0.2, dd.shape))) + 1.0
        names = np.char.add("t", np.char.zfill((np.arange(start, start + n)).astype(str), 7))
        table = pa.table({
            "target": pa.array(np.repeat(names, per_target)),
            "landmark": pa.DictionaryArray.from_arrays(pa.array(pick.ravel(), pa.int32()), ids),
            "rtt_ms": pa.array(rtt.ravel()),
        })
        if writer is None:
            writer = pq.ParquetWriter(str(path), table.schema)
        writer.write_table(table, row_group_size=1 << 20)
    writer.close()
    return time.perf_counter() - t0


def child(args: list[str]) -> dict[str, float]:
    """Run one measurement in a fresh process; returns its printed key=value figures."""
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True,
                         text=True, check=True)
    return {k: float(v) for k, v in (x.split("=") for x in out.stdout.split()) if k}


def run_child(ns: argparse.Namespace) -> int:
    from rttgeo.api.batch import estimate_batch, iter_target_chunks
    from rttgeo.catalog import load_default_catalog

    cat = load_default_catalog()
    # CPU and wall time both start here: imports and the catalog are not part of the run (the
    # estimator's fit in each worker is)
    start = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    if ns.child_mode == "gen":
        make_file(Path(ns.file), ns.targets, ns.vps, ns.seed)
        res_n = ns.targets
    elif ns.child_mode == "read":
        n = 0
        for ids, _ in iter_target_chunks(ns.file, [lm.id for lm in cat], chunk_targets=2000):
            n += len(ids)
        res_n = n
    else:
        res = estimate_batch(ns.file, ns.out, landmarks=cat, method=ns.child_mode,
                             chunk_targets=ns.chunk, workers=ns.workers, region=True)
        res_n = res.n_targets
    dt = time.perf_counter() - t0
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    # this process: VmHWM (ru_maxrss would include the parent's size at fork); the workers:
    # ru_maxrss, an upper bound (it includes this process's size when they were forked)
    hwm = next(int(x.split()[1]) for x in Path("/proc/self/status").read_text().splitlines()
               if x.startswith("VmHWM:")) * 1024
    rss = max(hwm, kids.ru_maxrss * 1024)
    cpu = (me.ru_utime + me.ru_stime - start.ru_utime - start.ru_stime + kids.ru_utime
           + kids.ru_stime)
    print(f"n={res_n} seconds={dt:.3f} rss={rss} cpu={cpu:.3f}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", type=int, default=1_000_000)
    ap.add_argument("--vps", type=int, default=100)
    ap.add_argument("--subset", type=int, default=4000, help="targets estimated per timing run")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=500)
    ap.add_argument("--methods", default="cbg,rttgeo")
    ap.add_argument("--full", default="", help="methods also run over the whole file (e.g. cbg)")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--child-mode", help=argparse.SUPPRESS)
    ap.add_argument("--file", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ns = ap.parse_args()
    if ns.child:
        return run_child(ns)

    work = Path(ns.workdir or tempfile.mkdtemp(prefix="rttgeo-bench-batch-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        print(f"# bench_batch: {ns.targets:,} targets x {ns.vps} vantage points (784 RIPE anchors "
              f"as VPs; targets at RIPE probe positions); python {platform.python_version()}, "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
        full = work / "all.parquet"
        g = child(["--child-mode", "gen", "--file", str(full), "--targets", str(ns.targets),
                   "--vps", str(ns.vps), "--seed", str(ns.seed)])
        print(f"generated {full.stat().st_size / 1e6:,.0f} MB ({ns.targets * ns.vps:,} rows) in "
              f"{g['seconds']:.0f} s (in its own process)")
        r = child(["--child-mode", "read", "--file", str(full)])
        print(f"read + group the whole file: {r['n']:,.0f} targets in {r['seconds']:.0f} s "
              f"({ns.targets * ns.vps / r['seconds']:,.0f} rows/s), peak RSS "
              f"{r['rss'] / GIB:.2f} GiB")
        worst_rss = r["rss"]
        sub = work / "subset.parquet"
        child(["--child-mode", "gen", "--file", str(sub), "--targets", str(ns.subset), "--vps",
               str(ns.vps), "--seed", str(ns.seed + 1)])
        goals = Goals()
        for method in ns.methods.split(","):
            one = child(["--child-mode", method, "--file", str(sub), "--out", str(work / "o1.parquet"),
                         "--workers", "1", "--chunk", str(ns.chunk)])
            many = child(["--child-mode", method, "--file", str(sub), "--out",
                          str(work / "o2.parquet"), "--workers", str(ns.workers), "--chunk",
                          str(ns.chunk)])
            rate1 = one["n"] / one["seconds"]
            rate2 = many["n"] / many["seconds"]
            per_cpu = one["n"] / one["cpu"]
            worst_rss = max(worst_rss, one["rss"], many["rss"])
            hours = ns.targets / rate2 / 3600
            print(f"{method}: {ns.subset:,} targets; 1 process {rate1:,.0f} targets/s wall, "
                  f"{per_cpu:,.0f} targets per CPU-second (per core; the machine is shared) "
                  f"(peak RSS {one['rss'] / GIB:.2f} GiB); {ns.workers} processes "
                  f"{rate2:,.0f} targets/s, speed-up x{rate2 / rate1:.2f} (peak RSS per process "
                  f"{many['rss'] / GIB:.2f} GiB); {ns.targets:,} targets at this rate: "
                  f"{hours:.1f} h (extrapolated from the {ns.subset:,}-target runs)")
            if method == "cbg":
                verdict = goals.check("CBG >= 200 targets/s per core", per_cpu >= 200)
                print(f"goal CBG >= 200 targets/s per core: {verdict} ({per_cpu:,.0f} per "
                      f"CPU-second; {rate1:,.0f} per wall second of one process at load "
                      f"{os.getloadavg()[0]:.1f})")
        for method in [m for m in ns.full.split(",") if m]:
            whole = child(["--child-mode", method, "--file", str(full), "--out",
                           str(work / "all-out.parquet"), "--workers", str(ns.workers),
                           "--chunk", str(ns.chunk)])
            worst_rss = max(worst_rss, whole["rss"])
            print(f"{method}, the whole file end to end (not extrapolated): {whole['n']:,.0f} "
                  f"targets on {ns.workers} processes in {whole['seconds']:,.0f} s wall "
                  f"({whole['n'] / whole['seconds']:,.0f} targets/s wall, "
                  f"{whole['n'] / whole['cpu']:,.0f} per CPU-second), peak RSS "
                  f"{whole['rss'] / GIB:.2f} GiB, load average now {os.getloadavg()[0]:.1f}")
        verdict = goals.check("peak RSS < 2 GiB", worst_rss < 2 * GIB)
        print(f"goal peak RSS < 2 GiB in every run: {verdict} (worst {worst_rss / GIB:.2f} GiB)")
        return goals.exit_status()
    finally:
        if ns.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
