#!/usr/bin/env python3
"""Build ``src/rttgeo/data/wonderproxy-2020.npz``, the copy of the WonderProxy 2020 mesh bundled with
the package, from the raw files (``shared/datasets/wonderproxy-2020/``, see its README).

Every array is kept exactly as the loader reads the raw files (RTTs as float64, NaN where a pair
was not measured), so ``rttgeo eval`` gives the same figures, to the last bit, on the bundled copy
as on the raw files; the file is written reproducibly (``rttgeo.datasets.bundle.write_npz``), so a
rebuild gives the same bytes (``--check`` compares instead of writing).

    python scripts/build_wonderproxy.py [--raw FOLDER] [--out PATH] [--check]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from rttgeo.datasets import dataset_dir, load_wonderproxy  # noqa: E402
from rttgeo.datasets.loaders import BUNDLED_WONDERPROXY, write_bundled_wonderproxy  # noqa: E402

OUT = ROOT / "src" / "rttgeo" / "data" / BUNDLED_WONDERPROXY


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw", type=Path, default=dataset_dir("wonderproxy-2020"),
                    help="folder of the raw files (default: found like the loader does)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--check", action="store_true",
                    help="rebuild into a temporary file and compare it with --out byte for byte")
    args = ap.parse_args()
    if args.raw is None:
        print("raw WonderProxy files not found: pass --raw FOLDER", file=sys.stderr)
        return 2
    mesh = load_wonderproxy(args.raw)
    if not args.check:
        size = write_bundled_wonderproxy(mesh, args.out)
        print(f"wrote {args.out} ({len(mesh)} hosts, {size / 1e3:.0f} kB)")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / BUNDLED_WONDERPROXY
        write_bundled_wonderproxy(mesh, fresh)
        same = fresh.read_bytes() == args.out.read_bytes()
    print(f"{args.out}: {'identical to' if same else 'DIFFERS from'} a rebuild from {args.raw}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
