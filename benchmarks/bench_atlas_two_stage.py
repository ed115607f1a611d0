#!/usr/bin/env python3
"""Two-stage choice of vantage points (as ``rttgeo atlas locate`` makes it) vs all of them, on the
bundled RIPE Atlas anchors with WonderProxy-like RTTs.

World: the 784 bundled RIPE anchors (April 2023 positions). The RTT between two anchors at distance
d is ``ratio x 2d / (2/3 c)``, where ``ratio`` is drawn from the real WonderProxy 2020 pairs whose
distance falls in the same decile (each pair's min RTT over its fibre round-trip time: path
inflation, access and processing delay as they really are); both directions share one draw.
Leave-one-out: each of ``--targets`` anchors in turn is the target; the other anchors are the
vantage points, the estimator is fitted on their simulated mesh (as on ``rttgeo atlas mesh``), and
the target's RTTs come from the same model. Compared:

* ``all``: every other anchor pings the target (783 vantage points);
* ``two-stage F+S``: F spread over the world (``rttgeo.atlas.first_wave``), a first estimate, then
  the S nearest it (``rttgeo.atlas.second_wave``);
* ``random F+S``: as many vantage points at random.

Printed: vantage points used, the median / p90 / mean error of the point, and the credits per
target (one-off, 3 packets). No goal: the figures are the result.

    .venv/bin/python benchmarks/bench_atlas_two_stage.py [--method cbg] [--targets 150]
"""

from __future__ import annotations

import argparse
import itertools
import platform
import sys
import time
import warnings

import numpy as np

from rttgeo.atlas import first_wave, run_credits, second_wave
from rttgeo.atlas.vantage import VantagePoint
from rttgeo.catalog import load_default_catalog
from rttgeo.datasets import load_wonderproxy
from rttgeo.estimate import METHODS, make_estimator
from rttgeo.estimate.delay import symmetric_rtt_ms
from rttgeo.geo.sphere import distance_km, pairwise_distance_km, to_unit_vectors
from rttgeo.models import Mesh

FIBRE_RTT_MS_PER_KM = 2 / 199.86


def wonderproxy_ratios() -> tuple[np.ndarray, list[np.ndarray]]:
    wp = load_wonderproxy()
    u = to_unit_vectors(wp.lat_deg, wp.lon_deg)
    d = pairwise_distance_km(u, u)
    r = symmetric_rtt_ms(wp.rtt_ms)
    good = ~wp.bad
    iu = np.triu_indices(len(wp), 1)
    ok = np.isfinite(r[iu]) & good[iu[0]] & good[iu[1]] & (d[iu] > 0)
    dd, rr = d[iu][ok], r[iu][ok]
    ratio = rr / (dd * FIBRE_RTT_MS_PER_KM)
    keep = ratio >= 1.0  # physical pairs only
    dd, ratio = dd[keep], ratio[keep]
    edges = np.quantile(dd, np.linspace(0, 1, 11))
    bins = [ratio[(dd >= lo) & (dd <= hi)] for lo, hi in itertools.pairwise(edges)]
    return edges, bins


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="cbg", choices=METHODS)
    ap.add_argument("--targets", type=int, default=150)
    ap.add_argument("--first", type=int, default=30)
    ap.add_argument("--second", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(args.seed)

    cat = load_default_catalog()
    n = len(cat)
    lat = np.array([lm.lat_deg for lm in cat])
    lon = np.array([lm.lon_deg for lm in cat])
    u = to_unit_vectors(lat, lon)
    d = pairwise_distance_km(u, u)
    edges, bins = wonderproxy_ratios()
    b = np.clip(np.searchsorted(edges, d, side="right") - 1, 0, len(bins) - 1)
    ratio = np.empty_like(d)
    for k, pool in enumerate(bins):
        m = b == k
        ratio[m] = rng.choice(pool, size=int(m.sum()))
    ratio = np.triu(ratio, 1)
    ratio = ratio + ratio.T
    rtt = np.maximum(ratio * d * FIBRE_RTT_MS_PER_KM, 0.2)
    np.fill_diagonal(rtt, np.nan)
    targets = rng.choice(n, size=min(args.targets, n), replace=False)
    print(f"# bench_atlas_two_stage: {n} bundled RIPE anchors, WonderProxy-like RTTs (ratio to "
          f"fibre RTT drawn per distance decile from {sum(len(x) for x in bins):,} real WonderProxy "
          f"pairs), leave-one-out on {len(targets)} random anchors (seed {args.seed}); method "
          f"{args.method}; python {platform.python_version()}")
    strategies = ["all", f"two-stage {args.first}+{args.second}",
                  f"random {args.first}+{args.second}"]
    err: dict[str, list[float]] = {s: [] for s in strategies}
    used: dict[str, list[int]] = {s: [] for s in strategies}
    t0 = time.monotonic()
    for c, t in enumerate(targets):
        others = np.array([i for i in range(n) if i != t])
        mesh = Mesh(tuple(cat[i].id for i in others), lat[others], lon[others],
                    rtt[np.ix_(others, others)], np.zeros(len(others), bool), "ripe-sim")
        est = make_estimator(args.method).fit(mesh)
        row = rtt[t, others]
        vps = [VantagePoint(int(cat[i].id.split("-")[1]), lat[i], lon[i], True) for i in others]

        def e(v, t=t):
            return float(distance_km(lat[t], lon[t], v.lat_deg, v.lon_deg))

        err["all"].append(e(est.locate(row)))
        used["all"].append(len(others))
        first = first_wave(vps, args.first)
        r1 = np.full_like(row, np.nan)
        r1[first] = row[first]
        coarse = est.locate(r1)
        second = second_wave(vps, coarse.lat_deg, coarse.lon_deg, args.second, exclude=first,
                             region=coarse.region)
        r2 = r1.copy()
        r2[second] = row[second]
        key = strategies[1]
        err[key].append(e(est.locate(r2)))
        used[key].append(len(first) + len(second))
        pick = rng.choice(len(others), size=args.first + args.second, replace=False)
        r3 = np.full_like(row, np.nan)
        r3[pick] = row[pick]
        err[strategies[2]].append(e(est.locate(r3)))
        used[strategies[2]].append(len(pick))
        if (c + 1) % 50 == 0:
            print(f"#   {c + 1}/{len(targets)} targets, {time.monotonic() - t0:.0f} s",
                  file=sys.stderr)
    print(f"\n{'strategy':<20}{'VPs':>6}{'credits':>9}{'median km':>11}{'p90 km':>9}{'mean km':>9}")
    for s in strategies:
        x = np.asarray(err[s])
        k = float(np.mean(used[s]))
        print(f"{s:<20}{k:6.0f}{run_credits(round(k), 3):9,}{np.median(x):11.0f}"
              f"{np.percentile(x, 90):9.0f}{np.mean(x):9.0f}")
    print(f"\n# {len(targets)} targets in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
