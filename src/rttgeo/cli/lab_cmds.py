"""``rttgeo lab``: an emulated Internet on this machine (up, down, status, exec). Needs root."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from rttgeo.cli._args import add_convention, int_range

DATASETS = ("wonderproxy-2020",)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "lab",
        help="emulate an Internet of hosts around the world on this machine (root)",
        description=(
            "Build a world of hosts as network namespaces joined by a delay engine that holds "
            "every packet for the one-way delay between the hosts' places, so real ICMP, TCP and "
            "UDP probes cross a real network stack (docs/lab.md). Needs root."
        ),
    )
    sub = p.add_subparsers(dest="lab_command", metavar="ACTION")

    u = sub.add_parser("up", help="bring a world up and print its lab id")
    u.add_argument("world", nargs="?", help="world file (.toml or .json; examples/worlds/)")
    u.add_argument("--from-dataset", choices=DATASETS,
                   help="take hosts and their real min RTTs from a measured data set")
    u.add_argument("--landmarks", type=int_range(1, 10000), default=25, metavar="N",
                   help="landmarks (with --from-dataset; default 25)")
    u.add_argument("--targets", type=int_range(1, 10000), default=2, metavar="N",
                   help="targets (with --from-dataset; default 2)")
    u.add_argument("--seed", type=int_range(0), default=0,
                   help="random seed of the host choice (with --from-dataset; default 0)")
    u.add_argument("--no-serve", action="store_true",
                   help="do not start 'rttgeo serve' on the landmarks (ICMP only)")
    u.add_argument("--signed", action="store_true",
                   help="landmarks sign (rttgeo serve --key); write a signed catalog (docs/verify.md)")
    u.add_argument("--engine", choices=("auto", "c", "python"), default="auto",
                   help="delay engine: compiled C (default when a C compiler exists) or Python")
    add_convention(u, json_help="print the lab (id, run dir, catalog, hosts) as JSON")
    u.set_defaults(handler=_up)

    d = sub.add_parser("down", help="remove everything a lab made")
    d.add_argument("lab", nargs="?", help="lab id (default: the only lab)")
    d.add_argument("--force", action="store_true",
                   help="also sweep what a crash left behind, found by the lab id")
    d.add_argument("--all", action="store_true", help="take every lab down")
    add_convention(d, json_help="print one JSON line per lab taken down (id, what was removed)")
    d.set_defaults(handler=_down)

    s = sub.add_parser("status", help="list labs, or show one")
    s.add_argument("lab", nargs="?", help="lab id (default: every lab of this run root)")
    add_convention(s, json_help="print the labs as JSON (one object for a named lab, else a list)")
    s.set_defaults(handler=_status)

    e = sub.add_parser("exec", help="run a command inside a host: rttgeo lab exec HOST -- CMD")
    e.add_argument("--lab", help="lab id (default: the only lab)")
    e.add_argument("host", help="host name from the world")
    e.add_argument("cmd", nargs=argparse.REMAINDER, help="-- command and arguments")
    e.set_defaults(handler=_exec)

    p.set_defaults(handler=lambda a: (p.print_help(sys.stderr), 2)[1])


def _pick(lab_id: str | None) -> Any:
    from rttgeo.errors import LabError
    from rttgeo.lab import Lab, find_labs, run_root

    if lab_id:
        path = run_root() / lab_id
        if not path.is_dir():
            raise LabError(f"no lab {lab_id} under {run_root()} (see 'rttgeo lab status')")
        return Lab(path)
    labs = find_labs()
    if len(labs) == 1:
        return Lab(labs[0])
    if not labs:
        raise LabError("no lab is up: start one with 'rttgeo lab up WORLD'")
    raise LabError(f"{len(labs)} labs are up ({', '.join(p.name for p in labs)}): name one")


def _up(args: argparse.Namespace) -> int:
    from rttgeo.errors import WorldError
    from rttgeo.lab import load_world, up, world_from_mesh

    if bool(args.world) == bool(args.from_dataset):
        raise WorldError("give either a world file or --from-dataset", field="world")
    if args.from_dataset:
        from rttgeo.datasets import load_wonderproxy

        world = world_from_mesh(load_wonderproxy(), args.landmarks, args.targets, seed=args.seed,
                                name=f"{args.from_dataset}-s{args.seed}")
    else:
        world = load_world(args.world)
    if args.signed and args.no_serve:
        raise WorldError("--signed needs the landmark servers (drop --no-serve)", field="--signed")
    lab = up(world, serve=False if args.no_serve else None, engine=args.engine,
             signed=args.signed)
    info = _describe(lab)
    if args.json:
        print(json.dumps(info, indent=1))
    else:
        print(f"lab {lab.id} up: world {world.name!r}, {len(world)} hosts in {info['network']}")
        print(f"  run dir  {lab.run_dir}")
        print(f"  catalog  {lab.catalog_path}")
        if lab.state.get("signed"):
            print(f"  signed   {lab.signed_catalog_path} (catalog key {lab.catalog_key_path})")
        for h in lab.hosts[:8]:
            print(f"  {h.role:8s} {h.name:20s} {h.address:15s} ({h.lat_deg:.3f}, {h.lon_deg:.3f})")
        if len(lab.hosts) > 8:
            print(f"  ... {len(lab.hosts) - 8} more in {lab.run_dir / 'hosts.csv'}")
        if not args.quiet:
            print(f"  try: rttgeo lab exec {lab.hosts[-1].name} -- ping -c 3 "
                  f"{lab.hosts[0].address}")
            print(f"  stop: rttgeo lab down {lab.id}")
    return 0


def _describe(lab: Any) -> dict[str, Any]:
    stats = lab.stats()
    return {
        "id": lab.id,
        "world": lab.state.get("world"),
        "status": lab.status,
        "network": lab.state.get("network"),
        "run_dir": str(lab.run_dir),
        "catalog": str(lab.catalog_path),
        "signed_catalog": str(lab.signed_catalog_path) if lab.state.get("signed") else None,
        "catalog_key": str(lab.catalog_key_path) if lab.state.get("signed") else None,
        "engine_alive": lab.engine_pid() is not None,
        "engine_kind": lab.state.get("engine", "c"),
        "hosts": [
            {"name": h.name, "role": h.role, "address": h.address, "netns": h.netns,
             "lat_deg": h.lat_deg, "lon_deg": h.lon_deg}
            for h in lab.hosts
        ],
        "engine": {k: stats.get(k) for k in ("received", "forwarded", "dropped_loss",
                                             "dropped_unroutable", "dropped_queue_full",
                                             "late_mean_us", "late_max_us", "cpu_user_s",
                                             "cpu_system_s")},
    }


def _down(args: argparse.Namespace) -> int:
    from rttgeo.lab import down, find_labs

    if args.all:
        ids = [p.name for p in find_labs()]
    elif args.lab:
        ids = [args.lab]
    else:
        ids = [_pick(None).id] if not args.force else [p.name for p in find_labs()][:1]
        if not ids:
            from rttgeo.errors import LabError

            raise LabError("no lab to take down (name a lab id for a forced sweep)")
    for lab_id in ids:
        removed = down(lab_id, force=args.force)
        if args.json:
            print(json.dumps({"id": lab_id, "removed": list(removed)}))
        else:
            print(f"lab {lab_id} down: removed {', '.join(removed) or 'nothing'}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from rttgeo.lab import Lab, find_labs

    labs = [_pick(args.lab)] if args.lab else []
    if not args.lab:
        for p in find_labs():
            try:
                labs.append(Lab(p))
            except Exception as exc:  # a broken run dir is reported, not fatal
                print(f"lab {p.name}: {exc}", file=sys.stderr)
    infos = [_describe(lab) for lab in labs]
    if args.json:
        print(json.dumps(infos if not args.lab else infos[0], indent=1))
        return 0
    if not infos:
        print("no lab is up")
    from rttgeo.lab.lab import find_orphans

    for orphan in find_orphans():
        print(f"lab {orphan}: left namespaces or links behind without a run dir (a crash?); "
              f"remove them with: rttgeo lab down {orphan} --force")
    for i in infos:
        e = i["engine"]
        n_lm = sum(h["role"] == "landmark" for h in i["hosts"])
        print(f"lab {i['id']}  world {i['world']!r}  {i['status']}  {i['network']}  "
              f"{n_lm} landmarks, {len(i['hosts']) - n_lm} targets  "
              f"{i['engine_kind']} engine {'running' if i['engine_alive'] else 'DEAD'}")
        if e.get("forwarded") is not None:
            print(f"   forwarded {e['forwarded']} packets, lateness mean {e['late_mean_us']} µs "
                  f"max {e['late_max_us']} µs, cpu {e['cpu_user_s']} s user "
                  f"{e['cpu_system_s']} s system")
        print(f"   catalog {i['catalog']}")
    return 0


def _exec(args: argparse.Namespace) -> int:
    from rttgeo.errors import LabError

    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise LabError("nothing to run: rttgeo lab exec HOST -- CMD [ARGS...]")
    lab = _pick(args.lab)
    argv = lab.command(args.host, cmd)
    sys.stdout.flush()
    os.execvp(argv[0], argv)
    return 127  # pragma: no cover - execvp does not return
