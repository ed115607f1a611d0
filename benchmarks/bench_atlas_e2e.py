#!/usr/bin/env python3
"""Offline end-to-end of ``rttgeo atlas locate``: 20 addresses against the fake RIPE Atlas API.

Starts the tests' fake API (tests/atlas/fakeapi.py: HTTPS on 127.0.0.1, the bundled anchors'
positions, 40 probes, one anchor that lies about its position, 20 targets at WonderProxy server
positions, RTT = distance at 2/3 c x 1.3 + 1 ms + jitter < 2 ms), runs the real command line
against it, and prints the plan, the credits, the stored samples and the estimates with their error
against the fake world's truth. Goal: every target estimated (exit 0).

    .venv/bin/python benchmarks/bench_atlas_e2e.py [--method cbg] [--first 20] [--second 10]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="cbg")
    ap.add_argument("--first", type=int, default=20)
    ap.add_argument("--second", type=int, default=10)
    args = ap.parse_args()

    from rttgeo.cli import main as cli
    from rttgeo.geo.sphere import distance_km
    from rttgeo.store import CampaignStore
    from tests.atlas.conftest import KEY, build_world

    fake, truth = build_world(20)
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        fake.start(t / "tls")
        try:
            os.environ.update(RTTGEO_ATLAS_KEY=KEY, RTTGEO_ATLAS_SERVER=fake.host,
                              RTTGEO_ATLAS_CA_BUNDLE=fake.ca_file)
            (t / "targets.txt").write_text("\n".join(truth) + "\n")
            print(f"# fake RIPE Atlas API at {fake.host}: {len(fake.probes)} probes, "
                  f"{len(truth)} targets; method {args.method}, {args.first} + {args.second} "
                  "vantage points, 3 packets")
            rc = cli(["atlas", "locate", "--targets", str(t / "targets.txt"), "--store",
                      str(t / "run.db"), "--method", args.method, "--first", str(args.first),
                      "--second", str(args.second), "--poll", "0", "--out", str(t / "e.json")])
            est = json.loads((t / "e.json").read_text())
            with CampaignStore(t / "run.db") as st:
                n = sum(i.n_samples for i in st.campaigns())
                lost = sum(i.n_lost for i in st.campaigns())
        finally:
            fake.stop()
    err = {a: float(distance_km(*truth[a], e["point"]["lat_deg"], e["point"]["lon_deg"]))
           for a, e in est.items() if "point" in e}
    inside = sum(1 for a, e in est.items() if e.get("region") is not None)
    print(f"\nstored samples: {n} ({lost} lost); measurements created: {len(fake.created)}")
    print(f"{'target':<16}{'error km':>10}")
    for a, d in err.items():
        print(f"{a:<16}{d:>10.0f}")
    e = np.array(list(err.values()))
    print(f"\nerror: median {np.median(e):.0f} km, p90 {np.percentile(e, 90):.0f} km, max "
          f"{e.max():.0f} km; {len(err)}/{len(truth)} estimated, {inside} with a region")
    ok = rc == 0 and len(err) == len(truth)
    print(f"goal (every target estimated, exit 0): {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
