#!/usr/bin/env python3
"""Two-stage landmark selection vs probing every landmark, on the real WonderProxy 2020 mesh.

Leave-one-out: each good host in turn is the target; the other hosts are the landmarks, the
estimator is fitted on the landmark-to-landmark RTTs without the target, and a ReplayProber answers
probes from the target's row of the real RTT matrix (its recorded minimum RTTs). Compared:

* ``all``: probe every landmark (about 245 probes per target);
* ``two-stage F+S``: probe F landmarks spread by farthest-point sampling, estimate coarsely,
  then the S landmarks nearest the coarse estimate (preferring its feasible region), estimate
  again;
* ``random F+S``: the same number of landmarks drawn at random (is the choice what matters?).

Printed per strategy: landmarks probed per target, probes saved vs ``all``, and the median / p90 /
mean great-circle error of the point estimate in km.

    .venv/bin/python benchmarks/bench_two_stage.py [--method cbg] [--first 30] [--second 10 20 30]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import time
import warnings

import numpy as np

from rttgeo.datasets import load_wonderproxy
from rttgeo.estimate import DEFAULT_METHOD, METHODS, make_estimator
from rttgeo.geo.sphere import distance_km
from rttgeo.measure import Campaign, CampaignParams, ReplayProber, two_stage


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default=DEFAULT_METHOD, choices=METHODS)
    ap.add_argument("--first", type=int, default=30)
    ap.add_argument("--second", type=int, nargs="+", default=[10, 20, 30])
    ap.add_argument("--targets", type=int, default=0, help="first N good targets only (0 = all)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    warnings.simplefilter("ignore")

    mesh = load_wonderproxy()
    targets = [i for i in range(len(mesh)) if not mesh.bad[i]]
    if args.targets:
        targets = targets[: args.targets]
    rng = np.random.default_rng(args.seed)
    print(
        "# bench_two_stage: leave-one-out on",
        mesh.name,
        f"({len(mesh)} hosts, "
        f"{int(mesh.bad.sum())} marked bad and never targets), {len(targets)} targets",
    )
    print(
        f"# method {args.method}, ReplayProber (recorded min RTTs, k=1), stage 1 = "
        f"{args.first} farthest-point landmarks; python {platform.python_version()}, "
        f"{platform.machine()}"
    )

    strategies = (
        ["all"]
        + [f"two-stage {args.first}+{s}" for s in args.second]
        + [f"random {args.first}+{s}" for s in args.second]
    )
    errors: dict[str, list[float]] = {s: [] for s in strategies}
    probed: dict[str, list[int]] = {s: [] for s in strategies}
    t0 = time.monotonic()
    for n, t in enumerate(targets):
        others = np.array([i for i in range(len(mesh)) if i != t])
        sub = mesh.subset(others)
        est = make_estimator(args.method).fit(sub)
        row = mesh.rtt_ms[t, others]
        lms = sub.landmarks()
        tl, tg = mesh.lat_deg[t], mesh.lon_deg[t]

        def err(e, tl=tl, tg=tg) -> float:
            return float(distance_km(tl, tg, e.lat_deg, e.lon_deg))

        e_all = est.locate(row)
        errors["all"].append(err(e_all))
        probed["all"].append(int(np.isfinite(row).sum()))
        for s in args.second:
            prober = ReplayProber.from_row(sub.ids, row)

            async def go(prober=prober, s=s, est=est, lms=lms):
                camp = Campaign(prober, CampaignParams(k=1, retries=0))
                async with prober:
                    return await two_stage(camp, lms, est, first_n=args.first, second_n=s)

            res = asyncio.run(go())
            key = f"two-stage {args.first}+{s}"
            errors[key].append(err(est.locate(res.rtts_ms)))
            probed[key].append(len(prober.probed))
            pick = rng.choice(len(others), size=args.first + s, replace=False)
            masked = np.full_like(row, np.nan)
            masked[pick] = row[pick]
            key = f"random {args.first}+{s}"
            errors[key].append(err(est.locate(masked)))
            probed[key].append(args.first + s)
        if (n + 1) % 50 == 0:
            print(
                f"#   {n + 1}/{len(targets)} targets, {time.monotonic() - t0:.0f} s",
                file=sys.stderr,
            )

    n_all = float(np.mean(probed["all"]))
    print(
        f"\n{'strategy':<22}{'probed':>8}{'saved':>8}{'median km':>11}{'p90 km':>9}{'mean km':>9}"
    )
    for s in strategies:
        e = np.asarray(errors[s])
        p = float(np.mean(probed[s]))
        print(
            f"{s:<22}{p:8.1f}{1 - p / n_all:8.0%}{np.median(e):11.0f}"
            f"{np.percentile(e, 90):9.0f}{np.mean(e):9.0f}"
        )
    print(f"\n# {len(targets)} targets in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
