"""``rttgeo atlas locate|fetch|mesh``: RIPE Atlas as the measurement engine (docs/atlas.md).

Thin: each handler parses, calls one verb of :mod:`rttgeo.api.atlas` and prints its frozen result
(text, or ``--json``: one document, or JSON lines when there are several results); narration
(the plan of a real run, progress, ``wrote FILE``) goes to stderr and ``-q`` silences it.

The API key comes from ``$RTTGEO_ATLAS_KEY`` or ``--key-file FILE``, never from an argument.
``--server`` / ``--ca-bundle`` (or ``$RTTGEO_ATLAS_SERVER`` / ``$RTTGEO_ATLAS_CA_BUNDLE``) point the
client at another API host, e.g. a mirror or the tests' loopback server.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rttgeo.cli._args import (
    STDOUT,
    add_convention,
    finite_float,
    int_range,
    output_path,
    store_path,
)
from rttgeo.cli._output import narrate, write_json_lines, write_result, write_text


def _client_args(p: argparse.ArgumentParser, key: bool = True) -> None:
    if key:
        p.add_argument("--key-file", type=Path, metavar="FILE",
                       help="file whose first line is the RIPE Atlas API key (default: "
                       "$RTTGEO_ATLAS_KEY); never give the key itself on the command line")
    p.add_argument("--server", default=None,
                   help="API host (default $RTTGEO_ATLAS_SERVER or atlas.ripe.net)")
    p.add_argument("--ca-bundle", default=None, metavar="PEM",
                   help="CA certificates to trust for --server (default: the system's)")


def anchor_probe_ids(text: str) -> tuple[int, ...]:
    """An argparse type: comma-separated anchor probe ids, plain (``6025``) or as landmark ids
    (``atlas-6025``)."""
    out = []
    for part in text.split(","):
        part = part.strip().removeprefix("atlas-")
        if not part:
            continue
        if not part.isdigit() or not part.isascii():
            raise argparse.ArgumentTypeError(
                f"expected probe ids such as 6025 or atlas-6025, got {part[:30]!r}")
        out.append(int(part))
    if not out:
        raise argparse.ArgumentTypeError("no probe id given")
    return tuple(out)


anchor_probe_ids.__name__ = "probe ids"


def unix_time(text: str) -> int:
    """An argparse type: UNIX seconds, or an ISO 8601 date / date and time (UTC unless it says)."""
    if text.isascii() and text.isdigit():
        return int(text)
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected UNIX seconds or an ISO 8601 date such as 2026-01-31 or "
            f"2026-01-31T12:00, got {text[:40]!r}") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return int(t.timestamp())


unix_time.__name__ = "time"


def _discovery_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--anchor-mesh", action="store_true",
                   help="find the built-in anchoring-mesh ping measurements through the API "
                   "(/api/v2/anchor-measurements/) instead of giving their ids")
    p.add_argument("--anchors", type=anchor_probe_ids, default=(), metavar="IDS",
                   help="with --anchor-mesh: only the measurements towards these anchors "
                   "(comma-separated probe ids, e.g. 6025,atlas-6031)")
    p.add_argument("--limit", type=int_range(1), default=None, metavar="N",
                   help="with --anchor-mesh: only the first N measurements (by target probe id)")
    p.add_argument("--af", type=int, choices=(4, 6), default=4,
                   help="with --anchor-mesh: address family of the measurements (default 4)")


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
    p.add_argument("--store", type=store_path(), required=True, metavar="STORE.db",
                   help="campaign store (SQLite) to write")
    p.add_argument("--method", default=DEFAULT_METHOD,
                   help=f"estimation method (default {DEFAULT_METHOD})")
    p.add_argument("--first", type=int_range(1), default=30,
                   help="first-wave vantage points (default 30)")
    p.add_argument("--second", type=int_range(0), default=30,
                   help="second-wave vantage points nearest the first estimate (default 30; 0: "
                   "one wave)")
    p.add_argument("--packets", type=int_range(1), default=3,
                   help="packets per vantage point (default 3)")
    p.add_argument("--anchors-only", action="store_true",
                   help="use anchors only (default: anchors and probes)")
    p.add_argument("--calibration", type=Path, metavar="MESH.parquet",
                   help="anchor mesh from 'rttgeo atlas mesh' (default: pooled calibration)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the plan (vantage points, packets, credits) and check RIPE Atlas's "
                   "limits; create nothing")
    p.add_argument("--poll", type=finite_float(0), default=30.0,
                   help="seconds between status polls (default 30)")
    p.add_argument("--timeout", type=finite_float(0, lo_open=True), default=900.0,
                   help="seconds to wait for each wave's results (default 900)")
    p.add_argument("--out", type=output_path(allow_stdout=True), metavar="FILE",
                   help="write {target: estimate or error} as JSON (- = stdout)")
    _client_args(p)
    add_convention(p, json_help="print one JSON line per target (measurements, samples, "
                   "vantage points left out, estimate); with --dry-run the plan as JSON")
    p.set_defaults(handler=cmd_locate)

    p = asub.add_parser("fetch", help="store the results of public RIPE Atlas measurements",
                        description="Import results of existing public measurements (no key), "
                        "given by id or found with --anchor-mesh, into a store: landmark = the "
                        "probe, target = the destination address.")
    p.add_argument("msm_ids", nargs="*", type=int_range(1), metavar="MSM_ID",
                   help="ids of public RIPE Atlas ping measurements")
    p.add_argument("--store", type=store_path(), required=True, metavar="STORE.db",
                   help="campaign store (SQLite) to write; one campaign per measurement")
    _discovery_args(p)
    p.add_argument("--start", type=unix_time, default=None, metavar="TIME",
                   help="only results from this time (UNIX seconds or ISO 8601, UTC); default: "
                   "every result of MSM_IDs, the latest result per anchor with --anchor-mesh")
    p.add_argument("--stop", type=unix_time, default=None, metavar="TIME",
                   help="only results until this time (UNIX seconds or ISO 8601, UTC)")
    _client_args(p, key=False)
    add_convention(p, json_help="print one JSON line per measurement (fetched or already "
                   "stored, samples, results skipped, target anchor)")
    p.set_defaults(handler=cmd_fetch)

    p = asub.add_parser("mesh", help="anchor-to-anchor minimum RTTs (a Mesh) as Parquet",
                        description="Build a Mesh from anchoring-mesh results fetched into a "
                        "store (or found and fetched first with --anchor-mesh); anchors whose RTTs "
                        "break the speed of light for their declared positions are flagged (bad) "
                        "and listed.")
    p.add_argument("--store", type=store_path(), required=True, metavar="STORE.db",
                   help="store holding the anchoring-mesh results ('rttgeo atlas fetch'); "
                   "written to with --anchor-mesh")
    p.add_argument("--out", type=output_path(suffixes=(".parquet",)), required=True,
                   metavar="MESH.parquet", help="Parquet file to write (binary: not to stdout)")
    p.add_argument("--landmarks", metavar="CATALOG",
                   help="anchor catalog: positions and addresses (default: bundled RIPE anchors, "
                   "updated by the anchors --anchor-mesh recorded in the store)")
    _discovery_args(p)
    _client_args(p, key=False)
    add_convention(p, json_help="print the mesh summary (anchors, pairs, flagged) as JSON")
    p.set_defaults(handler=cmd_mesh)


def _client(args: argparse.Namespace, key: bool) -> Any:
    from rttgeo.atlas import AtlasClient, load_api_key

    server = args.server or os.environ.get("RTTGEO_ATLAS_SERVER") or "atlas.ripe.net"
    ca = args.ca_bundle or os.environ.get("RTTGEO_ATLAS_CA_BUNDLE")
    api_key = load_api_key(key_file=getattr(args, "key_file", None)) if key else None
    return AtlasClient(key=api_key, server=server, verify=ca or True)


def _calling_api(call: Callable[[], Any]) -> tuple[Any, int | None]:
    """``call()``, or (None, 1) after one line on stderr when the API refuses or cannot be
    reached (an AtlasError that is not an input error)."""
    from rttgeo.atlas import AtlasError
    from rttgeo.cli.exitcodes import ExitCode
    from rttgeo.errors import InputError

    try:
        return call(), None
    except AtlasError as exc:
        if isinstance(exc, InputError):
            raise
        print(f"rttgeo: error: {exc}", file=sys.stderr)
        return None, int(ExitCode.RUNTIME)


def _addresses(args: argparse.Namespace) -> list[str]:
    import ipaddress

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
                try:
                    ipaddress.ip_address(t)
                except ValueError:
                    raise InputError(f"not an IPv4 or IPv6 address: {t!r}",
                                     where=f"{args.targets}:{n}") from None
                out.append(t)
    if not out:
        raise InputError("give ADDRESS ... or --targets FILE", field="ADDRESS")
    return out


def _plan_lines(plan: Any) -> list[str]:
    vps = ", ".join(f"IPv{af}: {n}" for af, n in sorted(plan.n_vantage_points.items()))
    lines = [f"plan: {len(plan.targets)} target(s); usable vantage points {vps}"]
    for tp in plan.targets:
        state = "done (stored)" if tp.done else (
            f"resuming measurement(s) {', '.join(map(str, tp.resumed_msm_ids))}"
            if tp.resumed_msm_ids else "new")
        first = ", ".join(tp.first_wave[:6]) + (" ..." if len(tp.first_wave) > 6 else "")
        lines.append(f"  {tp.target} (IPv{tp.af}): first wave {len(tp.first_wave)} [{first}], "
                     f"then {tp.second_n} nearest the first estimate; {state}")
    lines.append(f"  {plan.packets} packet(s) per vantage point; {plan.new_measurements} new "
                 f"measurement(s), {plan.new_results:,} result(s), {plan.credits:,} credits; at "
                 f"most {plan.max_concurrent} measurements at once ({plan.waves} wave(s))")
    if plan.balance is not None:
        lines.append(f"  credit balance: {plan.balance:,}")
    lines.extend(f"  LIMIT: {prob}" for prob in plan.problems)
    if plan.ok:
        lines.append("  within RIPE Atlas's limits (daily credits and results, probes per "
                     "measurement, concurrent measurements)")
    return lines


def cmd_locate(args: argparse.Namespace) -> int:
    from rttgeo.api._results import dumps
    from rttgeo.api.atlas import atlas_locate, plan_locate

    targets = _addresses(args)
    calibration = None
    if args.calibration:
        from rttgeo.datasets import load_mesh_parquet

        calibration = load_mesh_parquet(args.calibration)
    client = _client(args, key=True)
    if args.dry_run:
        plan, code = _calling_api(lambda: plan_locate(
            targets, client=client, store=args.store, first_n=args.first, second_n=args.second,
            packets=args.packets, include_probes=not args.anchors_only))
        if plan is None:
            return code or 1
        if args.json:
            write_result(args, STDOUT, plan)
        else:
            print("\n".join(_plan_lines(plan)))
        return 0 if plan.ok else 2
    res, code = _calling_api(lambda: atlas_locate(
        targets, client=client, store=args.store, method=args.method, first_n=args.first,
        second_n=args.second, packets=args.packets, include_probes=not args.anchors_only,
        calibration=calibration, poll_s=args.poll, timeout_s=args.timeout,
        log=lambda line: narrate(args, line)))
    if res is None:
        return code or 1
    for line in _plan_lines(res.plan):
        narrate(args, line)
    narrate(args, f"created {res.created} measurement(s), resumed {res.resumed}; samples in "
            f"{res.store}")
    if args.json:
        write_json_lines(o.to_json() for o in res.outcomes)
    else:
        print(f"{'target':<28}{'msm ids':<24}{'samples':>8}{'lost':>6}{'VPs':>5}{'lat':>9}"
              f"{'lon':>10}{'region km2':>13}")
        for o in res.outcomes:
            ids = ",".join(map(str, o.msm_ids))
            head = f"{o.target:<28}{ids:<24}{o.n_samples:>8}{o.n_lost:>6}{o.n_vantage_points:>5}"
            if o.estimate is None:
                print(f"{head}  no estimate: {o.error}")
                continue
            e = o.estimate
            area = "-" if math.isnan(e.area_km2) else f"{e.area_km2:,.0f}"
            print(f"{head}{e.lat_deg:>9.3f}{e.lon_deg:>10.3f}{area:>13}")
        for lid, why in sorted(res.flagged.items()):
            print(f"flagged vantage point {lid}: {why} (left out)")
    if args.out:
        write_text(args, args.out, dumps(res.estimates_json()))
    answered = sum(o.estimate is not None for o in res.outcomes)
    return 0 if answered else 3


def _print_fetch(args: argparse.Namespace, res: Any) -> None:
    if args.json:
        write_json_lines({"store": res.store, **m.to_json()} for m in res.measurements)
        return
    for m in res.measurements:
        anchor = f" (anchor {m.anchor})" if m.anchor else ""
        if m.already:
            print(f"measurement {m.msm_id}{anchor}: already in {res.store}, not fetched again")
        else:
            print(f"measurement {m.msm_id}{anchor}: {m.n_samples} samples")
    if res.skipped:
        print(f"{len(res.skipped)} result(s) skipped, e.g. {res.skipped[0][0]}: "
              f"{res.skipped[0][1]}")


def cmd_fetch(args: argparse.Namespace) -> int:
    from rttgeo.api.atlas import atlas_fetch

    client = _client(args, key=False)
    res, code = _calling_api(lambda: atlas_fetch(
        args.msm_ids, client=client, store=args.store, anchor_mesh=args.anchor_mesh,
        anchors=args.anchors, limit=args.limit, af=args.af, start=args.start, stop=args.stop,
        log=lambda line: narrate(args, line)))
    if res is None:
        return code or 1
    _print_fetch(args, res)
    narrate(args, f"store: {res.store}")
    return 0


def cmd_mesh(args: argparse.Namespace) -> int:
    from rttgeo.api.atlas import atlas_mesh

    client = _client(args, key=False) if args.anchor_mesh else None
    res, code = _calling_api(lambda: atlas_mesh(
        args.store, args.out, catalog=args.landmarks, client=client,
        anchor_mesh=args.anchor_mesh, anchors=args.anchors, limit=args.limit, af=args.af,
        log=lambda line: narrate(args, line)))
    if res is None:
        return code or 1
    if args.json:
        write_result(args, STDOUT, res)
        return 0
    if res.fetched is not None:
        _print_fetch(args, res.fetched)
    print(f"{len(res.mesh)} anchors, {res.n_pairs} measured ordered pairs from {res.n_samples} "
          f"samples; wrote {res.path}")
    if res.unknown_targets:
        print(f"{len(res.unknown_targets)} target address(es) not in the catalog, not used: "
              + ", ".join(res.unknown_targets[:5]))
    for lid, why in sorted(res.flagged.items()):
        print(f"flagged anchor {lid}: {why} (marked bad)")
    return 0
