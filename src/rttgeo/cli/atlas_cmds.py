"""``rttgeo atlas locate|fetch|mesh``: RIPE Atlas as the measurement engine (docs/atlas.md).

The API key comes from ``$RTTGEO_ATLAS_KEY`` or ``--key-file FILE``, never from an argument.
``--server`` / ``--ca-bundle`` (or ``$RTTGEO_ATLAS_SERVER`` / ``$RTTGEO_ATLAS_CA_BUNDLE``) point the
client at another API host, e.g. a mirror or the tests' loopback server.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any


def _client_args(p: argparse.ArgumentParser, key: bool = True) -> None:
    if key:
        p.add_argument("--key-file", type=Path, metavar="FILE",
                       help="file whose first line is the RIPE Atlas API key (default: "
                       "$RTTGEO_ATLAS_KEY); never give the key itself on the command line")
    p.add_argument("--server", default=None,
                   help="API host (default $RTTGEO_ATLAS_SERVER or atlas.ripe.net)")
    p.add_argument("--ca-bundle", default=None, metavar="PEM",
                   help="CA certificates to trust for --server (default: the system's)")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from rttgeo.estimate import DEFAULT_METHOD

    atlas = sub.add_parser("atlas", help="RIPE Atlas: locate addresses, fetch results, anchor mesh",
                           description="RIPE Atlas as the distributed measurement engine.")
    asub = atlas.add_subparsers(dest="atlas_command", metavar="ATLAS_COMMAND")
    atlas.set_defaults(handler=lambda a: (atlas.print_help(), 2)[1])

    p = asub.add_parser(
        "locate", help="ping addresses from RIPE Atlas vantage points and estimate where they are",
        description="Two-stage choice of vantage points (a spread first wave, then the ones "
        "nearest the first estimate), one-off pings, samples stored, estimates printed. An "
        "interrupted run resumes from the measurement ids in the store.")
    p.add_argument("addresses", nargs="*", metavar="ADDRESS", help="IPv4 or IPv6 addresses")
    p.add_argument("--targets", type=Path, metavar="FILE", help="file with one address per line")
    p.add_argument("--store", type=Path, required=True, help="campaign store (SQLite) to write")
    p.add_argument("--method", default=DEFAULT_METHOD,
                   help=f"estimation method (default {DEFAULT_METHOD})")
    p.add_argument("--first", type=int, default=30, help="first-wave vantage points (default 30)")
    p.add_argument("--second", type=int, default=30,
                   help="second-wave vantage points nearest the first estimate (default 30; 0: "
                   "one wave)")
    p.add_argument("--packets", type=int, default=3, help="packets per vantage point (default 3)")
    p.add_argument("--anchors-only", action="store_true",
                   help="use anchors only (default: anchors and probes)")
    p.add_argument("--calibration", type=Path, metavar="MESH.parquet",
                   help="anchor mesh from 'rttgeo atlas mesh' (default: pooled calibration)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the plan (vantage points, packets, credits) and check RIPE Atlas's "
                   "limits; create nothing")
    p.add_argument("--poll", type=float, default=30.0, help="seconds between status polls")
    p.add_argument("--timeout", type=float, default=900.0,
                   help="seconds to wait for each wave's results (default 900)")
    p.add_argument("--out", type=Path, help="write the estimates as JSON")
    _client_args(p)
    p.set_defaults(handler=cmd_locate)

    p = asub.add_parser("fetch", help="store the results of public RIPE Atlas measurements",
                        description="Import results of existing public measurements (no key), "
                        "e.g. the anchoring-mesh ones, into a store: landmark = the probe, "
                        "target = the destination address.")
    p.add_argument("msm_ids", nargs="+", type=int, metavar="MSM_ID",
                   help="ids of public RIPE Atlas ping measurements")
    p.add_argument("--store", type=Path, required=True,
                   help="campaign store (SQLite) to write; one campaign per measurement")
    _client_args(p, key=False)
    p.set_defaults(handler=cmd_fetch)

    p = asub.add_parser("mesh", help="anchor-to-anchor minimum RTTs (a Mesh) as Parquet",
                        description="Build a Mesh from anchoring-mesh results fetched into a "
                        "store; anchors whose RTTs break the speed of light for their declared "
                        "positions are flagged (bad) and listed.")
    p.add_argument("--store", type=Path, required=True,
                   help="store holding the anchoring-mesh results ('rttgeo atlas fetch')")
    p.add_argument("--out", type=Path, required=True, help="Parquet file to write")
    p.add_argument("--landmarks", metavar="CATALOG",
                   help="anchor catalog: positions and addresses (default: bundled RIPE anchors)")
    p.set_defaults(handler=cmd_mesh)


def _client(args: argparse.Namespace, key: bool) -> Any:
    from rttgeo.atlas import AtlasClient, load_api_key

    server = args.server or os.environ.get("RTTGEO_ATLAS_SERVER") or "atlas.ripe.net"
    ca = args.ca_bundle or os.environ.get("RTTGEO_ATLAS_CA_BUNDLE")
    api_key = load_api_key(key_file=getattr(args, "key_file", None)) if key else None
    return AtlasClient(key=api_key, server=server, verify=ca or True)


def _runtime(exc: Exception) -> int:
    from rttgeo.cli.exitcodes import ExitCode

    print(f"rttgeo: error: {exc}", file=sys.stderr)
    return int(ExitCode.RUNTIME)


def _addresses(args: argparse.Namespace) -> list[str]:
    from rttgeo.errors import InputError

    out = list(args.addresses)
    if args.targets:
        try:
            lines = args.targets.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read: {exc}", where=str(args.targets)) from None
        for n, line in enumerate(lines, start=1):
            t = line.split("#", 1)[0].strip()
            if t:
                import ipaddress

                try:
                    ipaddress.ip_address(t)
                except ValueError:
                    raise InputError(f"not an IPv4 or IPv6 address: {t!r}",
                                     where=f"{args.targets}:{n}") from None
                out.append(t)
    if not out:
        raise InputError("give ADDRESS ... or --targets FILE", field="ADDRESS")
    return out


def _print_plan(plan: Any) -> None:
    vps = ", ".join(f"IPv{af}: {n}" for af, n in sorted(plan.n_vantage_points.items()))
    print(f"plan: {len(plan.targets)} target(s); usable vantage points {vps}")
    for tp in plan.targets:
        state = "done (stored)" if tp.done else (
            f"resuming measurement(s) {', '.join(map(str, tp.resumed_msm_ids))}"
            if tp.resumed_msm_ids else "new")
        first = ", ".join(tp.first_wave[:6]) + (" ..." if len(tp.first_wave) > 6 else "")
        print(f"  {tp.target} (IPv{tp.af}): first wave {len(tp.first_wave)} [{first}], then "
              f"{tp.second_n} nearest the first estimate; {state}")
    print(f"  {plan.packets} packet(s) per vantage point; {plan.new_measurements} new "
          f"measurement(s), {plan.new_results} result(s), {plan.credits:,} credits; at most "
          f"{plan.max_concurrent} measurements at once ({plan.waves} wave(s))")
    if plan.balance is not None:
        print(f"  credit balance: {plan.balance:,}")
    for prob in plan.problems:
        print(f"  LIMIT: {prob}")
    if plan.ok:
        print("  within RIPE Atlas's limits (daily spending, probes per measurement, "
              "concurrent measurements)")


def cmd_locate(args: argparse.Namespace) -> int:
    from rttgeo.api.atlas import atlas_locate, plan_locate
    from rttgeo.atlas import AtlasError
    from rttgeo.errors import InputError

    targets = _addresses(args)
    calibration = None
    if args.calibration:
        from rttgeo.datasets import load_mesh_parquet

        calibration = load_mesh_parquet(args.calibration)
    client = _client(args, key=True)
    try:
        if args.dry_run:
            plan = plan_locate(targets, client=client, store=args.store, first_n=args.first,
                               second_n=args.second, packets=args.packets,
                               include_probes=not args.anchors_only)
            _print_plan(plan)
            return 0 if plan.ok else 2
        res = atlas_locate(targets, client=client, store=args.store, method=args.method,
                           first_n=args.first, second_n=args.second, packets=args.packets,
                           include_probes=not args.anchors_only, calibration=calibration,
                           poll_s=args.poll, timeout_s=args.timeout)
    except AtlasError as exc:
        if isinstance(exc, InputError):
            raise
        return _runtime(exc)
    _print_plan(res.plan)
    print(f"created {res.created} measurement(s), resumed {res.resumed}; samples in {res.store}")
    print(f"{'target':<28}{'msm ids':<24}{'samples':>8}{'lost':>6}{'VPs':>5}{'lat':>9}{'lon':>10}"
          f"{'region km2':>13}")
    for o in res.outcomes:
        ids = ",".join(map(str, o.msm_ids))
        if o.estimate is None:
            print(f"{o.target:<28}{ids:<24}{o.n_samples:>8}{o.n_lost:>6}{o.n_vantage_points:>5}  "
                  f"no estimate: {o.error}")
            continue
        e = o.estimate
        area = "-" if math.isnan(e.area_km2) else f"{e.area_km2:,.0f}"
        print(f"{o.target:<28}{ids:<24}{o.n_samples:>8}{o.n_lost:>6}{o.n_vantage_points:>5}"
              f"{e.lat_deg:>9.3f}{e.lon_deg:>10.3f}{area:>13}")
    for lid, why in sorted(res.flagged.items()):
        print(f"flagged vantage point {lid}: {why} (left out)")
    if args.out:
        doc = {o.target: (o.estimate.to_json() if o.estimate else {"error": o.error})
               for o in res.outcomes}
        args.out.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {args.out}")
    answered = sum(o.estimate is not None for o in res.outcomes)
    return 0 if answered else 3


def cmd_fetch(args: argparse.Namespace) -> int:
    from rttgeo.api.atlas import atlas_fetch
    from rttgeo.atlas import AtlasError
    from rttgeo.errors import InputError

    try:
        res = atlas_fetch(args.msm_ids, client=_client(args, key=False), store=args.store)
    except AtlasError as exc:
        if isinstance(exc, InputError):
            raise
        return _runtime(exc)
    for m, n in res.fetched.items():
        print(f"measurement {m}: {n} samples")
    for m in res.already:
        print(f"measurement {m}: already in {res.store}, not fetched again")
    if res.skipped:
        print(f"{len(res.skipped)} result(s) skipped, e.g. {res.skipped[0][0]}: {res.skipped[0][1]}")
    print(f"store: {res.store}")
    return 0


def cmd_mesh(args: argparse.Namespace) -> int:
    from rttgeo.api.atlas import atlas_mesh

    res = atlas_mesh(args.store, args.out, catalog=args.landmarks)
    print(f"{len(res.mesh)} anchors, {res.n_pairs} measured ordered pairs from {res.n_samples} "
          f"samples; wrote {res.path}")
    if res.unknown_targets:
        print(f"{len(res.unknown_targets)} target address(es) not in the catalog, not used: "
              + ", ".join(res.unknown_targets[:5]))
    for lid, why in sorted(res.flagged.items()):
        print(f"flagged anchor {lid}: {why} (marked bad)")
    return 0
