"""``rttgeo mesh check PATH``: are a mesh's RTTs possible for its hosts' stated positions?"""

from __future__ import annotations

import argparse
import sys

from rttgeo.cli._args import add_convention


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "mesh",
        help="check a mesh of host-to-host RTTs (your own data, in the generic format)",
        description="A mesh is a folder with hosts.csv (id,lat_deg,lon_deg[,label][,bad]) and "
        "pairs.csv or pairs.parquet (a,b,rtt_ms); see docs/estimation.md. 'rttgeo eval PATH' "
        "evaluates every estimator on it.",
    )
    msub = p.add_subparsers(dest="mesh_command", metavar="SUBCOMMAND")
    q = msub.add_parser(
        "check",
        help="report the hosts whose RTTs break the speed of light for their stated positions",
        description="Read a mesh, validate it (file, line and field of every problem), and report "
        "every pair faster than light in vacuum for the hosts' stated positions, with the hosts "
        "that explain them (the host in most such pairs first); for a pair whose two hosts are in no "
        "other such pair, which stated position the rest of the mesh contradicts. Exit code 0 when "
        "every stated position is possible, 2 when some are not or the files are malformed.",
    )
    q.add_argument("path", metavar="PATH",
                   help="mesh folder (hosts.csv + pairs.csv or pairs.parquet), a WonderProxy "
                   "folder, an rttgeo .parquet mesh, or wonderproxy-2020")
    add_convention(q, json_help="print {mesh, source, sha256, hosts, pairs, ok, "
                   "faster_than_light, suspects, ties, ...} as JSON")
    q.set_defaults(handler=cmd_check)
    p.set_defaults(handler=lambda a: (p.print_help(sys.stderr), 2)[1])


def cmd_check(args: argparse.Namespace) -> int:
    from rttgeo.api._results import dumps
    from rttgeo.api.mesh import check_mesh
    from rttgeo.cli.exitcodes import ExitCode

    res = check_mesh(args.path)
    if args.json:
        print(dumps(res.to_json()))
    else:
        print(res.describe())
    if not res.ok:
        what = (f"{len(res.suspects)} host(s) whose RTTs break the speed of light for their stated "
                "position" if res.suspects else f"{len(res.faster_than_light)} pair(s) whose RTT breaks "
                "the speed of light for their hosts' stated positions")
        print(f"rttgeo: error: {args.path}: {what}: {res.blame()}", file=sys.stderr)
        return int(ExitCode.USAGE)
    return int(ExitCode.OK)
