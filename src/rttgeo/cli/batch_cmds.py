"""``rttgeo estimate SAMPLES --batch --out estimates.parquet``: every target, at scale.

Hooked into the estimate command by two lines in ``estimate_cmds`` (its flags, and a dispatch at the
top of its handler); the engine is :func:`rttgeo.api.batch.estimate_batch` (docs/batch.md).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rttgeo.cli._args import int_range

#: The batch flags' defaults (dest: default), which ``rttgeo estimate`` without ``--batch``
#: requires (:func:`refuse_batch_flags`).
_BATCH_DEFAULTS: dict[str, object] = {"workers": 0, "dask": None, "chunk": 2000, "no_region": False,
                                      "region_format": "geojson", "calibration_mesh": None}


def add_batch_arguments(p: argparse.ArgumentParser) -> None:
    """The batch flags of ``rttgeo estimate``."""
    d = _BATCH_DEFAULTS
    g = p.add_argument_group("batch (every target of a store or long-form file; docs/batch.md)")
    g.add_argument("--batch", action="store_true",
                   help="estimate every target; write one Parquet row per target to --out")
    g.add_argument("--workers", type=int_range(0, 1024), default=d["workers"],
                   help="worker processes (default: all cores; 1 = this process)")
    g.add_argument("--dask", metavar="tcp://HOST:PORT|local", default=d["dask"],
                   help="run the chunks on a Dask cluster (the 'dask' extra)")
    g.add_argument("--chunk", type=int_range(1, 10_000_000), default=d["chunk"],
                   help=f"targets per chunk (default {d['chunk']})")
    g.add_argument("--no-region", action="store_true",
                   help="leave the region column empty (faster, smaller files)")
    g.add_argument("--region-format", choices=("geojson", "wkb"), default=d["region_format"],
                   help="region column: region_geojson (RFC 7946 text, default) or region_wkb "
                   "(WKB bytes with GeoParquet metadata; the 'geo' extra)")
    g.add_argument("--calibration-mesh", type=Path, metavar="MESH.parquet",
                   default=d["calibration_mesh"],
                   help="fit on this mesh (e.g. from 'rttgeo atlas mesh'); default pooled")


def refuse_batch_flags(args: argparse.Namespace) -> None:
    """Without ``--batch`` the batch flags do nothing: InputError naming the first one given,
    rather than ignoring it (``--calibration-mesh`` was)."""
    from rttgeo.errors import InputError

    for dest, default in _BATCH_DEFAULTS.items():
        if getattr(args, dest) != default:
            opt = "--" + dest.replace("_", "-")
            hint = " (to fit on a mesh here, use --calibrate)" if dest == "calibration_mesh" else ""
            raise InputError(f"goes with --batch{hint}", field=opt)


def cmd_batch(args: argparse.Namespace) -> int:
    from rttgeo.api.batch import estimate_batch
    from rttgeo.catalog import resolve_catalog
    from rttgeo.errors import InputError

    out = Path(args.out) if args.out not in (None, "-") else None
    if out is None or out.suffix.lower() != ".parquet":
        raise InputError("--batch writes Parquet: give --out FILE.parquet", field="--out")
    for opt in ("target", "campaign", "calibrate", "geojson", "map", "report", "json"):
        if getattr(args, opt, None):
            raise InputError(f"--{opt} does not apply to --batch", field=f"--{opt}")
    if args.no_region and args.region_format != "geojson":
        raise InputError("--no-region writes no region to format: drop one of them",
                         field="--region-format")
    calibration = None
    if args.calibration_mesh:
        from rttgeo.datasets import load_mesh_parquet

        calibration = load_mesh_parquet(args.calibration_mesh)
    _, landmarks = resolve_catalog(args.landmarks)
    workers = args.workers or os.cpu_count() or 1
    res = estimate_batch(args.rtts, out, landmarks=landmarks, method=args.method,
                         calibration=calibration, chunk_targets=args.chunk, workers=workers,
                         dask=args.dask, region=not args.no_region,
                         region_format=args.region_format,
                         progress=not getattr(args, "quiet", False))
    rate = res.n_targets / res.elapsed_s if res.elapsed_s > 0 else float("inf")
    print(f"{res.n_targets} targets ({res.n_errors} without estimate: see the 'error' column), "
          f"method {res.method}, {res.engine}, {res.elapsed_s:.1f} s ({rate:,.0f} targets/s); "
          f"wrote {res.out}")
    return 0 if res.n_targets > res.n_errors else 3
