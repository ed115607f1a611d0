#!/usr/bin/env python3
"""rttgeo verify, measured: honest hosts, the sound radius against landmark density, and simulated
attackers in sound and calibrated mode (issue #9). Exits non-zero when it prints a goal as missed.

Data (nothing here was produced by the project): the WonderProxy 2020 ping mesh (hosts and their
real pairwise minimum RTTs) and the 784 RIPE Atlas anchors of April 2023 bundled as the default
catalog. Hosts whose coordinates light in vacuum contradicts are left out
(:func:`rttgeo.verify.simulate.trusted_hosts`). Where a simulation needs RTTs the mesh does not have
(RIPE anchors as landmarks, relays), they are drawn from the real WonderProxy inflation over
great-circle distance (:class:`rttgeo.verify.simulate.Inflation`).

1. Honest hosts (sound, f = 0): every trusted WonderProxy host proves with its real RTTs to all
   other trusted hosts; share proven / refuted / undecided for claims of 100-2,000 km around its
   true position, its own country and "not in CN"; the sound radius (smallest proven radius).
2. Density: the sound radius when the landmarks are n random RIPE anchors (simulated RTTs).
3. Attacks, sound mode: false claims (a disc of 100-1,000 km whose centre lies farther than its
   radius plus 50 km from the host) under each attack of rttgeo.verify.simulate.ATTACKS, under
   f lying landmarks (the f landmarks nearest the claimed place report RTTs placing the host there)
   and f misplaced landmarks (the f landmarks nearest the host are listed at the claimed place),
   decided with faults = f. A false accept is a "proven" outcome. A keyless accomplice answering by
   itself is stopped by signatures, not timing: reported apart.
4. Calibrated mode (the delay-distance model fitted on the mesh without the host: leave-one-out):
   the ceiling (the default estimator's leave-one-out points and credible regions within 500 km of
   the truth); a sweep of settings (upper spread z, lower spread z_lower, landmarks) on the
   selection half of the hosts (every other trusted host) against a sample of the same attacks,
   shaped against the pooled model; the chosen setting (most honest 500 km claims proven among
   those whose worst attack kind's false-accept 95 % bound is below 1 %: an attacker picks one
   kind) on the held-out half and a fresh attack sample. That rate is written with its
   provenance to src/rttgeo/data/verify_false_accept.json (--write-rate).

    .venv/bin/python benchmarks/bench_verify_adversary.py                 # full run
    .venv/bin/python benchmarks/bench_verify_adversary.py --quick         # smoke run (goals not judged)
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import date
from functools import cache
from pathlib import Path

import numpy as np

from rttgeo.catalog import load_default_catalog
from rttgeo.datasets import load_wonderproxy
from rttgeo.estimate.delay import DelayDistance, mesh_pairs, symmetric_rtt_ms
from rttgeo.geo.grid import cell_unit_vectors, circumradius_km
from rttgeo.geo.sphere import pairwise_distance_km, to_unit_vectors
from rttgeo.models import Landmark
from rttgeo.verify import PolygonClaim, RadiusClaim, country_claim, decide
from rttgeo.verify.borders import load_countries
from rttgeo.verify.calibrated import (
    DEFAULT_MAX_LANDMARKS,
    DEFAULT_Z,
    DEFAULT_Z_LOWER,
    CalibratedModel,
    upper_95,
)
from rttgeo.verify.claims import FP_SLACK_KM
from rttgeo.verify.decide import SPHERE_ERROR
from rttgeo.verify.simulate import (
    FALSE_CLAIM_KINDS,
    AttackWorld,
    FalseClaim,
    Inflation,
    false_claim,
    trusted_hosts,
)

RADII_KM = (100, 250, 500, 1000, 2000)
ATTACK_RADII_KM = (100, 250, 500, 1000)
DENSITIES = (25, 50, 100, 200, 400, 784)
#: Calibrated settings swept in part 4: (z, z_lower, landmarks). (3.0, 3.0, 5) was the default
#: before the first sweep (a central interval of 3 spreads from the 5 nearest landmarks); (1.2,
#: 3.0, 10) the first sweep's choice (on the pooled bound; its fast-path attackers got 4.45 %).
#: Below z = 1.2 the first sweep found empty intersections taking over and more false accepts; a
#: missing lower bound (None) changed little there, so it is tried only where the choice falls.
SWEEP = (
    *[(z, 3.0, k) for k in (5, 10) for z in (1.2, 2.0, 2.5, 3.0, 3.5, 4.0)],
    *[(z, None, 10) for z in (2.5, 3.0, 3.5)],
)
DEFAULT_SETTING = (DEFAULT_Z, DEFAULT_Z_LOWER, DEFAULT_MAX_LANDMARKS)
#: The sound mode's "setting" (unused by sound decisions).
SOUND = DEFAULT_SETTING
RATE_FILE = Path(__file__).resolve().parents[1] / "src" / "rttgeo" / "data" / "verify_false_accept.json"


def sound_radius_of(decision, lat: float, lon: float) -> float:
    """Smallest radius around (lat, lon) that this decision's region would prove (km)."""
    reg = decision.region
    if reg.empty:
        return float("nan")
    d = pairwise_distance_km(reg.unit_vectors(), to_unit_vectors(lat, lon)[None, :])[:, 0]
    return float(np.max(d + circumradius_km(reg.level, reg.rows)) + FP_SLACK_KM)


@cache
def country_shape(code: str):
    import shapely

    polys = load_countries().polygons(code)
    shape = shapely.MultiPolygon([shapely.Polygon(p[0], p[1:]) for p in polys])
    shapely.prepare(shape)
    return shape


def country_of(lat: float, lon: float) -> str | None:
    """The bundled country holding the point (None: none, e.g. Kosovo)."""
    import shapely

    for code in load_countries().codes:
        if shapely.contains_xy(country_shape(code), lon, lat):
            return code
    return None


def distance_to_country_km(lat: float, lon: float, code: str) -> float:
    """Great-circle distance to the nearest vertex of the bundled outline (0 inside it)."""
    import shapely

    if shapely.contains_xy(country_shape(code), lon, lat):
        return 0.0
    xy = shapely.get_coordinates(country_shape(code))
    here = to_unit_vectors(lat, lon)[None, :]
    return float(pairwise_distance_km(here, to_unit_vectors(xy[:, 1], xy[:, 0])).min())


def pct(x: float) -> str:
    return f"{100 * x:5.1f} %"


class Goals:
    def __init__(self, judge: bool) -> None:
        self.judge = judge
        self.missed: list[str] = []

    def check(self, name: str, ok: bool, detail: str) -> None:
        if not self.judge:
            print(f"GOAL {name}: {detail} (not judged: --quick)")
            return
        print(f"GOAL {name}: {'met' if ok else 'MISSED'}: {detail}")
        if not ok:
            self.missed.append(name)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--attacks", type=int, default=10_000, help="sound-mode attacks of each kind")
    ap.add_argument(
        "--calibrated-attacks", type=int, default=2_000, help="calibrated attacks of each kind"
    )
    ap.add_argument(
        "--sweep-attacks", type=int, default=500,
        help="calibrated attacks of each kind per swept setting (>= 300 for a 1 %% bound to be reachable)",
    )
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--end-level", type=int, default=4, help="grid level of the attack decisions")
    ap.add_argument("--quick", action="store_true", help="few hosts and attacks; goals not judged")
    ap.add_argument(
        "--write-rate", action="store_true", help=f"write the calibrated rate to {RATE_FILE.name}"
    )
    ap.add_argument(
        "--skip", default="", help="comma-separated parts to skip: honest,density,sound,calibrated"
    )
    ap.add_argument("--kinds", default="", help="comma-separated attack kinds to run (default: all)")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    if args.quick:
        args.attacks, args.calibrated_attacks, args.sweep_attacks = 200, 100, 20
    goals = Goals(judge=not args.quick)
    rng = np.random.default_rng(args.seed)
    t_start = time.perf_counter()

    mesh = load_wonderproxy()
    ok, why = trusted_hosts(mesh)
    sym = symmetric_rtt_ms(mesh.rtt_ms)
    hosts = np.flatnonzero(ok)
    unit = to_unit_vectors(mesh.lat_deg, mesh.lon_deg)
    lms_all = mesh.landmarks()
    inflation = Inflation.from_mesh(mesh, ok)
    anchors = load_default_catalog()
    a_unit = to_unit_vectors([a.lat_deg for a in anchors], [a.lon_deg for a in anchors])
    print(
        f"setup: {mesh.name} ({len(mesh)} hosts, {len(hosts)} trusted; left out: "
        + "; ".join(f"{mesh.labels[mesh.ids.index(h)]}: {w}" for h, w in why.items())
        + ")"
    )
    print(
        f"       RIPE Atlas anchors 2023-04: {len(anchors)}; numpy {np.__version__}, "
        f"python {platform.python_version()}, seed {args.seed}"
    )
    if args.quick:
        hosts = hosts[:: max(1, len(hosts) // 25)]

    def honest_case(t: int) -> tuple[list[Landmark], np.ndarray]:
        idx = [j for j in np.flatnonzero(ok) if j != t]
        return [lms_all[j] for j in idx], sym[t, idx]

    # ---------------------------------------------------------------- 1. honest hosts (sound)
    if "honest" not in skip:
        print("\n1. honest hosts, sound mode, f = 0, end level 6 (WonderProxy, real RTTs)")
        cn_not = country_claim("CN", negate=True)
        cn_exact = PolygonClaim(cn_not.geometry, "China, no margin", negate=True, kind="not-country")
        exact_not_cn: list[tuple[str, str]] = []
        rows: dict[str, list[str]] = {f"{r} km": [] for r in RADII_KM}
        rows["own country"], rows["not in CN"], rows["not in CN (>2,000 km)"] = [], [], []
        radius = []
        for t in hosts:
            lat, lon = float(mesh.lat_deg[t]), float(mesh.lon_deg[t])
            lms, r = honest_case(t)
            for rk in RADII_KM:
                d = decide(RadiusClaim(lat, lon, rk), lms, r, refine_region=rk == RADII_KM[-1])
                rows[f"{rk} km"].append(d.outcome)
                if rk == RADII_KM[-1]:
                    radius.append(sound_radius_of(d, lat, lon))
            code = country_of(lat, lon)
            if code is not None:
                rows["own country"].append(
                    decide(country_claim(code), lms, r, refine_region=False).outcome
                )
            out = decide(cn_not, lms, r, refine_region=False).outcome
            rows["not in CN"].append(out)
            if distance_to_country_km(lat, lon, "CN") > 2000:
                rows["not in CN (>2,000 km)"].append(out)
                if out != "proven":
                    # The physical limit: exact discs of light in vacuum (no sphere error, no position
                    # uncertainty, no border margin), at a finer grid. Proven there but not above:
                    # a loss of the implementation's safety margins.
                    exact = decide(
                        cn_exact,
                        lms,
                        r / (1.0 + SPHERE_ERROR),
                        position_uncertainty_km=0.0,
                        end_level=7,
                        refine_region=False,
                    ).outcome
                    exact_not_cn.append((mesh.labels[t], exact))
        print(f"   {'claim':<24}{'hosts':>6}{'proven':>10}{'refuted':>10}{'undecided':>11}")
        refuted_honest = 0
        for name, outs in rows.items():
            n = len(outs)
            share = {k: outs.count(k) / max(n, 1) for k in ("proven", "refuted", "undecided")}
            refuted_honest += outs.count("refuted") if True else 0
            print(
                f"   {name:<24}{n:>6}{pct(share['proven']):>10}{pct(share['refuted']):>10}"
                f"{pct(share['undecided']):>11}"
            )
        rad = np.array(radius)
        print(
            f"   sound radius (smallest proven radius around the truth): median {np.nanmedian(rad):,.0f} km, "
            f"p10 {np.nanpercentile(rad, 10):,.0f}, p90 {np.nanpercentile(rad, 90):,.0f}"
        )
        goals.check(
            "sound never refutes an honest claim",
            refuted_honest == 0,
            f"{refuted_honest} honest claims refuted",
        )
        far = rows["not in CN (>2,000 km)"]
        share = far.count("proven") / max(len(far), 1)
        lost = [h for h, o in exact_not_cn if o == "proven"]
        print(
            f"   'not in CN' (>2,000 km) not proven: {len(exact_not_cn)} hosts; with exact discs of light "
            f"in vacuum and no margin {len(lost)} of them would be (the implementation's loss"
            + (f": {', '.join(lost)})" if lost else ")")
            + "; the others' regions reach China by physics: "
            + ", ".join(h for h, o in exact_not_cn if o != "proven")
        )
        goals.check(
            "sound 'not in CN' >= 95 % for hosts > 2,000 km from China",
            share >= 0.95,
            f"{pct(share)} of {len(far)} hosts",
        )

    # ---------------------------------------------------------------- 2. density
    if "density" not in skip:
        print(
            "\n2. sound radius against landmark density: n random RIPE anchors as landmarks, RTTs drawn "
            "from the WonderProxy inflation; targets: the trusted WonderProxy hosts; end level 5"
        )
        print(f"   {'anchors':>8}{'median km':>12}{'p10':>8}{'p90':>8}")
        for n in DENSITIES:
            rr = []
            for t in hosts:
                pick = rng.choice(len(anchors), min(n, len(anchors)), replace=False)
                d_km = pairwise_distance_km(unit[t][None, :], a_unit[pick])[0]
                rtt = inflation.sample_rtt_ms(d_km, rng)
                lat, lon = float(mesh.lat_deg[t]), float(mesh.lon_deg[t])
                dec = decide(RadiusClaim(lat, lon, 20000), [anchors[i] for i in pick], rtt, end_level=5)
                rr.append(sound_radius_of(dec, lat, lon))
            rr = np.array(rr)
            print(
                f"   {n:>8}{np.median(rr):>12,.0f}{np.percentile(rr, 10):>8,.0f}"
                f"{np.percentile(rr, 90):>8,.0f}"
            )

    # ---------------------------------------------------------------- 3/4. attacks
    world = AttackWorld.build(mesh, anchors)
    d_all = pairwise_distance_km(unit, unit)

    @cache
    def loo_model(t: int) -> DelayDistance:
        """The verifier's model for host t: fitted on the mesh without it."""
        keep = ok.copy()
        keep[t] = False
        r, d = mesh_pairs(mesh, d_all, keep)
        return DelayDistance.fit(r, d)

    def calibrated_for(t: int, setting: tuple[float, float | None, int]) -> CalibratedModel:
        z, z_lower, k = setting
        return CalibratedModel(
            loo_model(t), z, "WonderProxy 2020 without the host", max_landmarks=k, z_lower=z_lower
        )

    def attack_proven(case: FalseClaim, mode: str, setting: tuple[float, float | None, int]) -> bool:
        """True when the false claim is proven."""
        dec = decide(
            case.claim,
            case.landmarks,
            case.rtt_ms,
            mode=mode,
            faults=case.faults,
            model=calibrated_for(case.host, setting) if mode == "calibrated" else None,
            end_level=args.end_level,
            refine_region=False,
        )
        return dec.outcome == "proven"

    kinds = FALSE_CLAIM_KINDS
    if args.kinds:
        kinds = tuple(k for k in kinds if k in args.kinds.split(","))
    if "sound" not in skip:
        print(
            f"\n3. attacks, sound mode ({args.attacks:,} of each kind; end level {args.end_level}; "
            "half on WonderProxy landmarks with real honest RTTs, half on 100 random RIPE anchors)"
        )
        print(f"   {'attack':<22}{'attacks':>9}{'false accepts':>15}{'95 % bound':>12}{'s':>7}")
        for kind in kinds:
            t0 = time.perf_counter()
            fa = sum(
                attack_proven(false_claim(kind, world, rng), "sound", SOUND)
                for _ in range(args.attacks)
            )
            print(
                f"   {kind:<22}{args.attacks:>9,}{fa:>15}{pct(upper_95(fa, args.attacks)):>12}"
                f"{time.perf_counter() - t0:>7.0f}"
            )
            goals.check(
                f"sound: 0 false accepts in >= 10,000 '{kind}' attacks",
                fa == 0 and args.attacks >= 10_000,
                f"{fa} in {args.attacks:,}",
            )

        n_acc = (
            max(args.attacks // 10, 100) if not args.kinds or "keyless-accomplice" in args.kinds else 0
        )
        timing = sum(
            attack_proven(false_claim("keyless-accomplice", world, rng), "sound", SOUND)
            for _ in range(n_acc)
        )
        if n_acc:
            print(
                f"   keyless accomplice answering by itself: timing alone would prove {pct(timing / n_acc)} "
                f"of {n_acc:,} false claims. Only signatures stop it: its answers are not signed with the "
                "host's key, so the protocol's receipt checks (rttgeo.verify.evidence, tested in "
                "tests/verify) reject them; they are not counted as false accepts above, and an accomplice "
                "HOLDING the key cannot be stopped by timing at all (docs/verify.md, threat model)."
            )

    if "calibrated" not in skip:
        calibrated_part(args, goals, world, hosts, kinds, attack_proven, calibrated_for)

    print(f"\ntotal time {time.perf_counter() - t_start:,.0f} s")
    if goals.missed:
        print(f"goals missed: {', '.join(goals.missed)}")
        return 1
    return 0


def honest_radius_km(world: AttackWorld, t: int, model: CalibratedModel, end_level: int) -> float:
    """Smallest radius around host t's true position that calibrated mode proves (km; inf when
    the region is empty, a landmark fault)."""
    mesh = world.mesh
    lat, lon = float(mesh.lat_deg[t]), float(mesh.lon_deg[t])
    lms, r = world.honest_case(t)
    dec = decide(RadiusClaim(lat, lon, 20_000), lms, r, mode="calibrated", model=model, end_level=end_level)
    return float("inf") if dec.outcome == "landmark-fault" else sound_radius_of(dec, lat, lon)


def estimator_ceiling(world: AttackWorld, hosts: np.ndarray, levels: tuple[float, ...]) -> None:
    """Print how often the default estimator (leave-one-out) puts its point, and its credible
    region at each level, within 500 km of the truth: a 500 km claim around the truth is proven
    only when the consistent region lies within 500 km of it."""
    from rttgeo.estimate import DEFAULT_METHOD
    from rttgeo.estimate.evaluate import leave_one_out

    mesh = world.mesh
    res = leave_one_out(mesh, DEFAULT_METHOD, targets=[int(t) for t in hosts], keep_estimates=True)
    print(
        f"   ceiling: the default estimator ({DEFAULT_METHOD}, leave-one-out) puts its point within "
        f"500 km of the truth for {pct(float(np.mean(res.error_km <= 500)))} of {len(hosts)} hosts "
        f"(median error {np.median(res.error_km):,.0f} km); a region proving 500 km must lie wholly "
        "within 500 km of the truth"
    )
    inside = {p: [] for p in levels}
    for t, est in zip(hosts, res.estimates, strict=True):
        here = to_unit_vectors(float(mesh.lat_deg[t]), float(mesh.lon_deg[t]))[None, :]
        if est is None or est.posterior is None:
            for p in levels:
                inside[p].append(False)
            continue
        post = est.posterior
        order = np.argsort(-post.mass)
        cum = np.cumsum(post.mass[order])
        reach = (
            pairwise_distance_km(cell_unit_vectors(post.level, post.rows, post.cols), here)[:, 0]
            + circumradius_km(post.level, post.rows)
        )[order]
        for p in levels:
            k = min(int(np.searchsorted(cum, p) + 1), len(order))
            inside[p].append(bool(np.max(reach[:k]) <= 500.0))
    print(
        "   the estimator's own credible region lies within 500 km of the truth for "
        + ", ".join(f"{pct(float(np.mean(inside[p])))} at {100 * p:g} %" for p in levels)
        + " (honest hosts; a calibrated region built on it would prove no more)"
    )


def calibrated_part(args, goals, world, hosts, kinds, attack_proven, calibrated_for) -> None:
    """Part 4: the sweep of calibrated settings, the chosen one, and its measured rate."""
    mesh = world.mesh
    select, held_out = hosts[::2], hosts[1::2]
    n_sweep = args.sweep_attacks
    print(
        "\n4. calibrated mode (the verifier's model fitted leave-one-out: on WonderProxy 2020 without "
        "the host)\n"
        f"   selection: honest 500 km claims of every other trusted host ({len(select)} hosts, "
        f"selection half), false claims {n_sweep} of each of {len(kinds)} kinds (seed {args.seed + 1}, "
        "shaping aimed at the pooled model); the setting proving most selection hosts among those "
        "whose WORST attack kind's false-accept 95 % bound is below 1 % is chosen (an attacker picks "
        "the kind that works best, so the pooled rate would understate the risk). Held out: the other "
        f"{len(held_out)} hosts, and a fresh attack sample of {args.calibrated_attacks:,} per kind "
        f"(seed {args.seed + 2})."
    )
    estimator_ceiling(world, hosts, (0.5, 0.9, 0.99))
    sweep_rng = np.random.default_rng(args.seed + 1)
    sweep_cases = [
        false_claim(k, world, sweep_rng, model=default_pooled()) for k in kinds for _ in range(n_sweep)
    ]
    radius: dict[tuple, np.ndarray] = {}
    rows = []
    print(
        f"   {'z':>5}{'z_lower':>9}{'landmarks':>10}{'proven 500 km':>15}{'fault':>8}"
        f"{'median radius':>15}{'pooled false accepts':>22}{'bound':>8}"
        f"   {'worst kind':<22}{'false accepts':>14}{'bound':>8}"
    )
    for setting in SWEEP:
        rad = np.array(
            [honest_radius_km(world, t, calibrated_for(t, setting), 5) for t in select]
        )
        radius[setting] = rad
        by = {kind: 0 for kind in kinds}
        for c in sweep_cases:
            by[c.kind] += attack_proven(c, "calibrated", setting)
        fa = sum(by.values())
        ub = upper_95(fa, len(sweep_cases))
        worst = max(kinds, key=lambda kind: by[kind])
        worst_ub = upper_95(by[worst], n_sweep)
        share = float(np.mean(rad <= 500.0))
        rows.append((setting, share, worst_ub))
        z, z_lower, k = setting
        print(
            f"   {z:>5}{'none' if z_lower is None else z_lower:>9}{k:>10}{pct(share):>15}"
            f"{pct(float(np.mean(np.isinf(rad)))):>8}{np.median(rad):>13,.0f} km"
            f"{fa:>12} of {len(sweep_cases):,}{pct(ub):>8}"
            f"   {worst:<22}{by[worst]:>7} of {n_sweep:,}{pct(worst_ub):>8}",
            flush=True,
        )
    allowed = [r for r in rows if r[2] < 0.01]
    chosen = max(allowed, key=lambda r: r[1])[0] if allowed else DEFAULT_SETTING
    best_any = np.mean(np.any(np.stack([radius[s] <= 500 for s in SWEEP]), axis=0))
    if not allowed:
        print(
            "   no setting's worst-kind 95 % bound is below 1 % on this sample: the package default "
            "is kept"
        )
    print(
        f"   chosen: z = {chosen[0]}, z_lower = {chosen[1]}, {chosen[2]} landmarks"
        f" (the package default: z = {DEFAULT_Z}, z_lower = {DEFAULT_Z_LOWER}, "
        f"{DEFAULT_MAX_LANDMARKS} landmarks"
        + ("" if chosen == DEFAULT_SETTING else "; NOT the same: update rttgeo.verify.calibrated")
        + ")"
    )
    print(
        f"   ceiling of this family on the selection half: {pct(float(best_any))} of hosts are "
        "proven at 500 km by at least one setting above (whatever its false accepts)"
    )
    # Held out: the chosen setting on the other hosts (and on all), a fresh attack sample.
    outs = []
    for t in hosts:
        lat, lon = float(mesh.lat_deg[t]), float(mesh.lon_deg[t])
        lms, r = world.honest_case(t)
        cal = calibrated_for(t, chosen)
        outs.append(
            decide(
                RadiusClaim(lat, lon, 500), lms, r, mode="calibrated", model=cal, refine_region=False
            ).outcome
        )
    outs_arr = np.array(outs)
    held = np.isin(hosts, held_out)
    halves = (("held-out half", held), ("selection half", ~held), ("all trusted hosts", held | ~held))
    for name, m in halves:
        o = list(outs_arr[m])
        print(
            f"   honest 500 km claims, {name} ({len(o)} hosts): proven {pct(o.count('proven') / len(o))}, "
            f"refuted {pct(o.count('refuted') / len(o))}, undecided {pct(o.count('undecided') / len(o))}, "
            f"landmark fault {pct(o.count('landmark-fault') / len(o))}"
        )
    share = float(np.mean(outs_arr[held] == "proven"))
    rng = np.random.default_rng(args.seed + 2)
    total_fa, total_n, by = 0, 0, {}
    print(f"   {'attack':<22}{'attacks':>9}{'false accepts':>15}{'95 % bound':>12}")
    for kind in kinds:
        n = args.calibrated_attacks
        fa = sum(
            attack_proven(false_claim(kind, world, rng, model=default_pooled()), "calibrated", chosen)
            for _ in range(n)
        )
        by[kind] = (fa, n)
        total_fa += fa
        total_n += n
        print(f"   {kind:<22}{n:>9,}{fa:>15}{pct(upper_95(fa, n)):>12}", flush=True)
    rate = total_fa / total_n
    ub = upper_95(total_fa, total_n)
    worst = max(kinds, key=lambda kind: by[kind][0])
    worst_ub = upper_95(*by[worst])
    print(f"   all attacks: {total_fa} of {total_n:,} = {pct(rate)} (95 % bound {pct(ub)})")
    print(
        f"   worst kind: {worst}, {by[worst][0]} of {by[worst][1]:,} = "
        f"{pct(by[worst][0] / by[worst][1])} (95 % bound {pct(worst_ub)})"
    )
    goals.check(
        "calibrated at 500 km: >= 80 % of honest claims proven (held-out hosts) with false accepts "
        "< 1 % (95 % bound of the worst attack kind)",
        share >= 0.80 and worst_ub < 0.01,
        f"{pct(share)} proven; worst kind {worst} {pct(by[worst][0] / by[worst][1])}, bound "
        f"{pct(worst_ub)}; pooled {pct(rate)}, bound {pct(ub)}",
    )
    provenance = (
        f"benchmarks/bench_verify_adversary.py --seed {args.seed} "
        f"--calibrated-attacks {args.calibrated_attacks} --sweep-attacks {args.sweep_attacks} "
        f"--end-level {args.end_level}, {date.today().isoformat()}: setting chosen on the worst "
        f"attack kind's 95 % bound; false claims of 100-1,000 km under {', '.join(kinds)} "
        f"(shaping against the pooled model; seed {args.seed + 2}); hosts from WonderProxy 2020 "
        "(model fitted without the host), landmarks WonderProxy or 100 RIPE Atlas anchors"
    )
    if args.write_rate and not args.quick:
        if chosen != DEFAULT_SETTING:
            print("   the rate is written for the chosen setting; decisions carry it only once the "
                  "package default is that setting")
        RATE_FILE.write_text(
            json.dumps(
                {
                    "false_accepts": total_fa,
                    "attacks": total_n,
                    "upper_95": ub,
                    "z": chosen[0],
                    "z_lower": chosen[1],
                    "max_landmarks": chosen[2],
                    "by_attack": {k: list(v) for k, v in by.items()},
                    "provenance": provenance,
                },
                indent=2,
            )
            + "\n"
        )
        print(f"   wrote {RATE_FILE}")


_POOLED: list[DelayDistance] = []


def default_pooled() -> DelayDistance:
    """The attacker's idea of the verifier's model: the pooled model of the bundled mesh."""
    if not _POOLED:
        from rttgeo.estimate.defaults import default_delay_distance

        _POOLED.append(default_delay_distance())
    return _POOLED[0]


if __name__ == "__main__":
    sys.exit(main())
