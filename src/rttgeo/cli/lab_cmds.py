"""``rttgeo lab``: an emulated Internet on this machine (up, down, status, exec). Needs root."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from rttgeo.cli._args import add_convention, int_range
from rttgeo.cli._args import lab_id as lab_id_type

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
    u.add_argument("--no-ipv6", action="store_true",
                   help="IPv4 only (default: every host also gets an IPv6 address when the "
                   "kernel has IPv6)")
    add_convention(u, json_help="print the lab (id, run dir, catalog, hosts) as JSON")
    u.set_defaults(handler=_up)

    d = sub.add_parser("down", help="remove everything a lab made")
    d.add_argument("lab", nargs="?", type=lab_id_type, help="lab id (default: the only lab)")
    d.add_argument("--force", action="store_true",
                   help="also sweep what a crash left behind, found by the lab id")
    d.add_argument("--all", action="store_true", help="take every lab down")
    add_convention(d, json_help="print one JSON line per lab taken down (id, what was removed)")
    d.set_defaults(handler=_down)

    s = sub.add_parser("status", help="list labs, or show one")
    s.add_argument("lab", nargs="?", type=lab_id_type,
                   help="lab id (default: every lab of this run root)")
    add_convention(s, json_help="print the labs as JSON (one object for a named lab, else a list)")
    s.set_defaults(handler=_status)

    e = sub.add_parser("exec", help="run a command inside a host: rttgeo lab exec HOST -- CMD")
    e.add_argument("--lab", type=lab_id_type, help="lab id (default: the only lab)")
    e.add_argument("host", help="host name from the world")
    e.add_argument("cmd", nargs=argparse.REMAINDER, help="-- command and arguments")
    e.set_defaults(handler=_exec)

    loc = sub.add_parser(
        "locate",
        help="locate a lab host from inside it, and print the error against its true position",
        description="Probe the lab's landmarks from inside HOST (rttgeo locate in its network "
        "namespace), estimate, and compare with where the lab put HOST: the error in km and "
        "whether the region holds the truth. Needs root.",
    )
    loc.add_argument("host", help="host name from the world (a target, or a landmark: it is then "
                     "left out of the landmarks)")
    loc.add_argument("--lab", type=lab_id_type, help="lab id (default: the only lab)")
    _locate_options(loc)
    add_convention(loc, json_help="print the locate result plus 'truth' (position, error_km, "
                   "truth_in_region) as JSON")
    loc.set_defaults(handler=_locate)

    p.set_defaults(handler=lambda a: (p.print_help(sys.stderr), 2)[1])


def _locate_options(p: argparse.ArgumentParser) -> None:
    from rttgeo.cli._args import finite_float, output_path
    from rttgeo.cli.measure_cmds import PROTOCOL_CHOICES
    from rttgeo.estimate import DEFAULT_METHOD, METHODS

    p.add_argument("--method", default=DEFAULT_METHOD, choices=METHODS, metavar="METHOD",
                   help=f"estimation method: {', '.join(METHODS)} (default {DEFAULT_METHOD})")
    p.add_argument("--protocol", default="auto", choices=PROTOCOL_CHOICES,
                   help="probe protocol (default auto = ICMP echo; the lab's landmarks also "
                   "answer tcp and udp; icmp6* probes their IPv6 addresses)")
    p.add_argument("--ipv6", action="store_true",
                   help="probe the landmarks' IPv6 addresses (the lab's catalog6.csv; implied by "
                   "--protocol icmp6*)")
    p.add_argument("-k", type=int_range(1), default=3, help="samples per landmark (default 3)")
    p.add_argument("--timeout", type=finite_float(0, 3600, lo_open=True), default=2.0,
                   metavar="S", help="per-probe timeout in seconds (default 2)")
    p.add_argument("--two-stage", action="store_true",
                   help="probe a spread of landmarks first, then those nearest the coarse estimate")
    p.add_argument("--subtract-turnaround", action="store_true",
                   help="UDP: subtract the time each lab landmark server says it held the request "
                   "(the lab's servers are yours to trust)")
    p.add_argument("--out", metavar="FILE", type=output_path(allow_stdout=True),
                   help="write the result as JSON (GeoJSON for a .geojson name; - = stdout)")


def _locate(args: argparse.Namespace) -> int:
    from rttgeo.api._probing import campaign_params
    from rttgeo.api.lab import lab_locate
    from rttgeo.cli._args import STDOUT
    from rttgeo.cli._output import print_warnings, write_result

    if args.subtract_turnaround and args.protocol != "udp":
        from rttgeo.errors import InputError

        raise InputError("only UDP replies carry a turnaround", field="--subtract-turnaround")
    res = lab_locate(args.host, lab=args.lab, method=args.method, protocol=args.protocol,
                     campaign=campaign_params(k=args.k, timeout_s=args.timeout),
                     two_stage=args.two_stage, subtract_turnaround=args.subtract_turnaround,
                     progress=not args.quiet, ipv6=args.ipv6)
    print_warnings(res.result.warnings)
    if args.json:
        write_result(args, STDOUT, res)
    else:
        print(res.describe())
    if args.out:
        write_result(args, args.out, res.result if args.out.endswith(".geojson") else res)
    return 0


def _pick(lab_id: str | None) -> Any:
    from rttgeo.api.lab import pick_lab

    return pick_lab(lab_id)


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
             signed=args.signed, ipv6=False if args.no_ipv6 else None)
    info = _describe(lab)
    if args.json:
        print(json.dumps(info, indent=1))
    else:
        net6 = f" and {info['network6']}" if info["network6"] else " (IPv4 only)"
        print(f"lab {lab.id} up: world {world.name!r}, {len(world)} hosts in {info['network']}"
              + net6)
        print(f"  run dir  {lab.run_dir}")
        print(f"  catalog  {lab.catalog_path}")
        if info["catalog6"]:
            print(f"  catalog6 {info['catalog6']} (IPv6 addresses)")
        if lab.state.get("signed"):
            print(f"  signed   {lab.signed_catalog_path} (catalog key {lab.catalog_key_path})")
        for h in lab.hosts[:8]:
            print(f"  {h.role:8s} {h.name:20s} {h.address:15s} "
                  + (f"{h.address6:24s} " if h.address6 else "")
                  + f"({h.lat_deg:.3f}, {h.lon_deg:.3f})")
        if len(lab.hosts) > 8:
            print(f"  ... {len(lab.hosts) - 8} more in {lab.run_dir / 'hosts.csv'}")
        if not args.quiet:
            print(f"  try: rttgeo lab exec {lab.hosts[-1].name} -- ping -c 3 "
                  f"{lab.hosts[0].address}")
            print(f"       rttgeo lab locate {lab.hosts[-1].name}   # and the error against the "
                  "truth")
            print(f"  stop: rttgeo lab down {lab.id}")
    return 0


def _describe(lab: Any) -> dict[str, Any]:
    stats = lab.stats()
    return {
        "id": lab.id,
        "world": lab.state.get("world"),
        "status": lab.status,
        "network": lab.state.get("network"),
        "network6": lab.state.get("network6"),
        "run_dir": str(lab.run_dir),
        "catalog": str(lab.catalog_path),
        "catalog6": str(lab.catalog6_path) if lab.state.get("network6") else None,
        "signed_catalog": str(lab.signed_catalog_path) if lab.state.get("signed") else None,
        "catalog_key": str(lab.catalog_key_path) if lab.state.get("signed") else None,
        "engine_alive": lab.engine_pid() is not None,
        "engine_kind": lab.state.get("engine", "c"),
        "hosts": [
            {"name": h.name, "role": h.role, "address": h.address,
             "address6": h.address6 or None, "netns": h.netns,
             "lat_deg": h.lat_deg, "lon_deg": h.lon_deg}
            for h in lab.hosts
        ],
        "engine": {k: stats.get(k) for k in ("received", "received_ipv6", "forwarded",
                                             "dropped_loss", "dropped_unroutable",
                                             "dropped_not_ip", "dropped_queue_full",
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
              + (f"{i['network6']}  " if i["network6"] else "")
              + f"{n_lm} landmarks, {len(i['hosts']) - n_lm} targets  "
              f"{i['engine_kind']} engine {'running' if i['engine_alive'] else 'DEAD'}")
        if e.get("forwarded") is not None:
            v6 = f" ({e['received_ipv6']} IPv6 received)" if e.get("received_ipv6") else ""
            print(f"   forwarded {e['forwarded']} packets{v6}, lateness mean {e['late_mean_us']} µs "
                  f"max {e['late_max_us']} µs, cpu {e['cpu_user_s']} s user "
                  f"{e['cpu_system_s']} s system")
        print(f"   catalog {i['catalog']}")
        if i["catalog6"]:
            print(f"   catalog6 {i['catalog6']} (IPv6 addresses)")
    return 0


def _exec(args: argparse.Namespace) -> int:
    from rttgeo.errors import InputError

    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise InputError("nothing to run: rttgeo lab exec HOST -- CMD [ARGS...]", field="CMD")
    lab = _pick(args.lab)
    names = [h.name for h in lab.hosts]
    if args.host not in names:  # a usage error (exit 2), not a lab fault
        shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
        raise InputError(f"lab {lab.id} has no host {args.host!r} (hosts: {shown})", field="HOST")
    argv = lab.command(args.host, cmd)
    sys.stdout.flush()
    os.execvp(argv[0], argv)
    return 127  # pragma: no cover - execvp does not return
