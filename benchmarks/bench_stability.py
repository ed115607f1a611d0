"""How far each estimator's point moves when every RTT moves a little (issue #11, item 4).

For every trusted WonderProxy 2020 target (leave-one-out: the calibration refitted without it),
every RTT to the other hosts is moved by an independent uniform draw in [-a, +a] (floored at
0.01 ms), ``--draws`` times per amplitude a, and the distance between the perturbed and the
unperturbed point is recorded. Amplitudes: 10 µs (far below what a prober resolves: iputils
`ping` and rttgeo's probers agree within about 40 µs, docs/probers.md) and 0.5 ms (typical jitter
of one probe on a real path). Prints, per method and amplitude, the distribution of the move
(median, p90, p99, max) and the share of draws that moved the point by more than 1 km and 100 km.

The test ``tests/estimate/test_posterior.py`` bounds the same on every 6th target (10 µs: no move
above 1 km; 0.5 ms: at most 10 % above 100 km, median at most 1 km); this script measures all.

Run: ``python benchmarks/bench_stability.py [--methods rttgeo,cbg,...] [--draws N] [--seed S]``
(about 5 minutes for rttgeo on 2 cores). Data: the bundled WonderProxy 2020 copy.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import numpy as np

from rttgeo import __version__
from rttgeo.datasets import load_wonderproxy
from rttgeo.errors import RttgeoWarning
from rttgeo.estimate import make_estimator
from rttgeo.estimate.delay import symmetric_rtt_ms
from rttgeo.geo.sphere import distance_km

AMPLITUDES_MS = (0.01, 0.5)


def measure(method: str, draws: int, seed: int) -> dict[float, np.ndarray]:
    """Point moves in km per amplitude, over every trusted target and ``draws`` draws each."""
    mesh = load_wonderproxy(bundled=True)
    sym = symmetric_rtt_ms(mesh.rtt_ms)
    rng = np.random.default_rng(seed)
    moved: dict[float, list[float]] = {a: [] for a in AMPLITUDES_MS}
    for t in range(len(mesh)):
        if mesh.bad[t]:
            continue
        others = np.array([j for j in range(len(mesh)) if j != t])
        rtts = sym[t, others]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RttgeoWarning)
            est = make_estimator(method).fit(mesh.subset(others))
            e = est.locate(rtts)
            for amp in AMPLITUDES_MS:
                for _ in range(draws):
                    jitter = rng.uniform(-amp, amp, len(rtts))
                    perturbed = np.where(np.isfinite(rtts), np.maximum(rtts + jitter, 0.01), np.nan)
                    e2 = est.locate(perturbed)
                    moved[amp].append(float(distance_km(e.lat_deg, e.lon_deg, e2.lat_deg, e2.lon_deg)))
    return {a: np.asarray(v) for a, v in moved.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default="rttgeo,cbg,shortest-ping,spotter",
                    help="comma-separated estimators")
    ap.add_argument("--draws", type=int, default=2, help="draws per target and amplitude")
    ap.add_argument("--seed", type=int, default=2020, help="seed of the perturbations")
    args = ap.parse_args()
    print(f"rttgeo {__version__}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}; WonderProxy 2020 (bundled), every trusted "
          f"target, {args.draws} draws per amplitude, seed {args.seed}")
    print(f"{'method':<14} {'amplitude':>9} {'draws':>6} {'median km':>10} {'p90 km':>8} "
          f"{'p99 km':>8} {'max km':>8} {'>1 km':>7} {'>100 km':>8}")
    for method in args.methods.split(","):
        t0 = time.perf_counter()
        moved = measure(method, args.draws, args.seed)
        for amp, m in moved.items():
            label = f"{amp * 1000:.0f} µs" if amp < 0.1 else f"{amp:.1f} ms"
            print(f"{method:<14} {label:>9} {len(m):>6} {np.median(m):>10.2f} "
                  f"{np.percentile(m, 90):>8.1f} {np.percentile(m, 99):>8.1f} {m.max():>8.1f} "
                  f"{np.mean(m > 1):>7.1%} {np.mean(m > 100):>8.1%}")
        print(f"{'':<14} ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
