"""rttgeo's hyper-parameters, one at a time, on a WonderProxy split and on a mesh of other positions.

Issue #11 asks for a better median, p90 and share within 100 km without fitting WonderProxy. Each
variant changes one constructor parameter of ``PopulationPosterior`` and is run, leave-one-out, on:

- ``wp-even``: the WonderProxy 2020 hosts of even index (122 targets; all 246 hosts are landmarks);
- ``synthetic-ripe-150``: 150 RIPE Atlas anchor positions with RTTs drawn from WonderProxy pairs
  of similar distance (``bench_heldout.synthetic_ripe``; no per-host correlation).

A variant is worth keeping only if it helps on both; the full WonderProxy leave-one-out is then the
reported figure (docs/estimation.md lists what was tried and why it was not kept).

Run: ``python benchmarks/bench_rttgeo_variants.py [--variant NAME ...]`` (minutes per variant).
Data: the bundled WonderProxy 2020 copy; the RIPE Atlas anchor snapshot (``shared/datasets``).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

from bench_heldout import synthetic_ripe

from rttgeo.datasets import load_wonderproxy
from rttgeo.estimate.evaluate import leave_one_out, summarize

VARIANTS: dict[str, dict[str, float | bool]] = {
    "default": {},
    "point-temperature-1": {"temperature": 1.0},
    "point-temperature-2.5": {"temperature": 2.5},
    "background-3e3": {"background": 3e3},
    "background-3e4": {"background": 3e4},
    "pooled-model": {"per_landmark": False},
    "cut-extra-5ms": {"near_extra_ms": 5.0},
    "cut-extra-20ms": {"near_extra_ms": 20.0},
    "population-alpha-0.7": {"alpha": 0.7},
    "population-alpha-1.3": {"alpha": 1.3},
    "place-50km": {"place_km": 50.0},
    "min-nearest-5": {"min_nearest": 5},
    "no-landmark-places": {"landmark_places": False},
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variant", action="append", choices=sorted(VARIANTS))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    wp = load_wonderproxy(bundled=True)
    meshes = {"wp-even": (wp, [i for i in range(len(wp)) if i % 2 == 0])}
    syn = synthetic_ripe(wp)
    if syn is not None:
        meshes[syn.name] = (syn, None)
    print(f"setup: {args.jobs} worker processes, {os.cpu_count()} cores, python "
          f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f}")
    for name in args.variant or list(VARIANTS):
        for mesh_name, (mesh, targets) in meshes.items():
            s = summarize(leave_one_out(mesh, "rttgeo", params=VARIANTS[name], targets=targets,
                                        jobs=args.jobs))
            print(f"{name:<22} {mesh_name:<19} median {s.median_km:5.0f} km  p90 {s.p90_km:5.0f} km"
                  f"  within 100 km {s.within_100km:6.1%}  coverage {s.coverage:6.1%}"
                  f"  area {s.median_area_km2:>9,.0f} km2  outside c {s.outside_c}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
