#!/usr/bin/env python3
"""Regenerate rttgeo's bundled landmark catalog from the RIPE Atlas anchor snapshot of April 2023.

Input: ``anchors.csv`` (``ip,probe_id,is_anchor,country_code,latitude,longitude``) from
``../shared/datasets/ripe-atlas-2023/`` (see its README). Output: ``src/rttgeo/data/`` catalog
with one landmark per anchor answering ICMP echo, id ``atlas-<probe_id>``, the snapshot date
in ``source``.

IPv4 only: the snapshot's ``ip`` column holds each anchor's IPv4 address and nothing else (the
pickles of dioptra-io/geoloc-imc-2023 kept ``address_v4`` only), so the bundled catalog has no IPv6
address. ``rttgeo landmarks refresh`` fetches the current anchors from RIPE Atlas, or write your own
catalog with IPv6 literals in ``address`` to probe with ``--protocol icmp6`` (docs/catalog.md).

    python scripts/build_catalog.py [--anchors PATH] [--out PATH]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from rttgeo.catalog import DEFAULT_CATALOG_NAME, load_catalog, save_catalog  # noqa: E402
from rttgeo.models import Landmark  # noqa: E402

SOURCE = "RIPE Atlas anchor, snapshot of April 2023 (dioptra-io/geoloc-imc-2023@2cdcdf0cc9a4)"


def build(anchors_csv: Path) -> list[Landmark]:
    out = []
    with open(anchors_csv, newline="") as fh:
        for row in csv.DictReader(fh):
            if row["is_anchor"].strip() != "True":
                continue
            out.append(
                Landmark(
                    id=f"atlas-{int(row['probe_id'])}",
                    lat_deg=float(row["latitude"]),
                    lon_deg=float(row["longitude"]),
                    address=row["ip"].strip(),
                    protocols=("icmp",),
                    country=row["country_code"].strip(),
                    source=SOURCE,
                )
            )
    out.sort(key=lambda lm: int(lm.id.split("-")[1]))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    from rttgeo.datasets.loaders import dataset_dir

    folder = dataset_dir("ripe-atlas-2023")  # $RTTGEO_DATASETS, else shared/datasets walking up
    ap.add_argument(
        "--anchors",
        type=Path,
        default=(folder or ROOT.parent / "shared" / "datasets" / "ripe-atlas-2023") / "anchors.csv",
        help="the snapshot's anchors.csv (default: found as the dataset loaders find it)",
    )
    ap.add_argument("--check-ipv6", action="store_true",
                    help="count the IPv6 addresses in the snapshot and exit (it has none)")
    ap.add_argument(
        "--out", type=Path, default=ROOT / "src" / "rttgeo" / "data" / DEFAULT_CATALOG_NAME
    )
    args = ap.parse_args()
    if args.check_ipv6:
        with open(args.anchors, newline="") as fh:
            rows = list(csv.DictReader(fh))
        v6 = sum(":" in v for r in rows for v in r.values())
        print(f"{args.anchors}: columns {', '.join(rows[0])}; {len(rows)} rows, {v6} IPv6 addresses")
        return 0
    landmarks = build(args.anchors)
    save_catalog(landmarks, args.out)
    n = len(load_catalog(args.out))  # validates what was written
    print(f"wrote {n} landmarks to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
