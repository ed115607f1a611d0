#!/usr/bin/env python3
"""Lab scale: time to bring --hosts hosts up and down, and the engine's forwarding rate under load.

Setup: a world of --hosts hosts from the real WonderProxy 2020 matrix (2 targets, the rest
landmarks, each running ``rttgeo serve`` unless --no-serve). Then a load of --pps UDP packets/s for
--seconds s: one generator thread sends from a UDP socket inside each of --senders hosts to random
other hosts (port 9999, where each host has a socket that is never read, so the kernel drops the
packets after the engine delivered them and sends no ICMP back). All traffic stays inside the
lab's namespaces. While the load runs, iputils ping measures min RTT from a target to 10 landmarks
(k=10) to show that precision holds.

Printed: up / down times (goals: 100 hosts up < 30 s, down < 15 s); packets sent, received by
the engine, forwarded, dropped (by reason) and the rate (goal >= 20,000 packets/s); the engine's
lateness histogram during the load; its CPU use (user + system s per wall s, one core = 100 %);
the ping errors (measured min - configured, ms). Exits 1 when a goal is MISSED.

Needs root.  .venv/bin/python benchmarks/bench_lab_scale.py [--hosts 100] [--pps 25000]
    [--seconds 5] [--senders 8] [--no-serve] [--rt-priority 10] [--engine auto|c|python]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import socket
import subprocess
import sys
import threading
import time

import numpy as np
from _goals import Goals

from rttgeo.datasets import load_wonderproxy
from rttgeo.lab import down, up, world_from_mesh

_SUMMARY = re.compile(r"= ([0-9.]+)/([0-9.]+)/([0-9.]+)/([0-9.]+) ms")
PORT = 9999
PAYLOAD = b"x" * 64


def hist_delta(a: dict, b: dict) -> list[int]:  # type: ignore[type-arg]
    return [y - x for x, y in zip(a.get("late_us_hist", []), b.get("late_us_hist", []),
                                  strict=True)]


def main() -> int:
    goals = Goals()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--pps", type=int, default=25000)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--senders", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-serve", action="store_true")
    ap.add_argument("--rt-priority", type=int, default=10)
    ap.add_argument("--engine", choices=("auto", "c", "python"), default="auto")
    ap.add_argument("--spin-us", type=float, default=None,
                    help="engine spin window before due time (default: the lab's)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (network namespaces)", file=sys.stderr)
        return 2
    if not 0 < args.seconds <= 60 or not 0 < args.pps <= 200_000:
        print("bounded load only: --seconds in (0, 60], --pps in (0, 200000]", file=sys.stderr)
        return 2
    world = world_from_mesh(load_wonderproxy(), args.hosts - 2, 2, seed=args.seed,
                            name="bench-scale")
    print("setup:")
    print(f"  machine   {platform.node()} {platform.machine()} {os.cpu_count()} CPUs, Linux "
          f"{platform.release()}, load average {os.getloadavg()[0]:.2f} at start")
    print(f"  world     {len(world)} hosts from WonderProxy 2020 (seed {args.seed}), "
          f"landmark servers {'off' if args.no_serve else 'on'}; engine SCHED_FIFO priority "
          f"{args.rt_priority}")
    print(f"  load      {args.pps} UDP packets/s of {len(PAYLOAD)} B payload for {args.seconds} s "
          f"from {args.senders} hosts to random hosts")
    t0 = time.monotonic()
    extra = {} if args.spin_us is None else {"spin_ns": int(args.spin_us * 1000)}
    lab = up(world, serve=not args.no_serve, rt_priority=args.rt_priority, engine=args.engine,
             **extra)
    t_up = time.monotonic() - t0
    up_goal = goals.check("up time", t_up < 30.0) if len(world) <= 100 else "no goal beyond 100 hosts"
    print(f"up:   {t_up:.2f} s for {len(world)} hosts (goal for 100 hosts < 30 s: {up_goal}); "
          f"{lab.state['engine']} engine")
    t_down = float("nan")
    try:
        names = [h.name for h in lab.hosts]
        addrs = [h.address for h in lab.hosts]
        # a never-read UDP socket on every host: delivered packets are dropped by its full buffer
        sinks = [lab.in_host(n, lambda a=a: _bound(a)) for n, a in zip(names, addrs, strict=True)]
        rng = random.Random(args.seed)
        senders = rng.sample(range(len(names)), args.senders)
        socks = [lab.in_host(names[i], lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
                 for i in senders]
        for s in socks:
            s.setblocking(False)
        before = lab.stats()
        sent = [0]
        send_err = [0]
        gen_s = [args.seconds]
        stop = threading.Event()

        def generate() -> None:
            per_ms = args.pps / 1000.0
            start = time.monotonic_ns()
            end = start + int(args.seconds * 1e9)
            gen_s[0] = args.seconds
            due = 0.0
            r = random.Random(1)
            while not stop.is_set():
                now = time.monotonic_ns()
                if now >= end:
                    break
                target_n = (now - start) / 1e6 * per_ms
                while due < target_n:
                    k = r.randrange(len(socks))
                    dst = r.randrange(len(addrs))
                    if dst == senders[k]:
                        dst = (dst + 1) % len(addrs)
                    try:
                        socks[k].sendto(PAYLOAD, (addrs[dst], PORT))
                        sent[0] += 1
                    except OSError:
                        send_err[0] += 1
                    due += 1
                time.sleep(0.0005)
            gen_s[0] = (time.monotonic_ns() - start) / 1e9

        t_load = time.monotonic()
        gen = threading.Thread(target=generate)
        gen.start()
        # precision under load: ping from a target to 10 landmarks
        tgt = world.target_indices()[0]
        lms = world.landmark_indices()[:10]
        ping_err = []
        for j in lms:
            r = subprocess.run(lab.command(names[tgt], ["ping", "-n", "-q", "-c", "10", "-i",
                                                        "0.01", "-W", "2", addrs[j]]),
                               capture_output=True, text=True, timeout=60)
            m = _SUMMARY.search(r.stdout)
            if m:
                ping_err.append(float(m.group(1)) - world.rtt_ms[tgt, j])
        gen.join()
        wall = time.monotonic() - t_load
        time.sleep(1.2)  # let in-flight packets land and the engine rewrite its stats
        after = lab.stats()
        for s in socks + sinks:
            s.close()
        fwd = after["forwarded"] - before["forwarded"]
        rate_goal = (goals.check("forwarding rate", fwd / gen_s[0] >= 20_000) if args.pps >= 20_000
                     else "no goal below --pps 20000")
        rec = after["received"] - before["received"]
        cpu_user = after["cpu_user_s"] - before["cpu_user_s"]
        cpu_sys = after["cpu_system_s"] - before["cpu_system_s"]
        cpu = cpu_user + cpu_sys
        print(f"load: sent {sent[0]} in {gen_s[0]:.2f} s ({sent[0] / gen_s[0]:,.0f} packets/s; "
              f"{send_err[0]} send errors)")
        print(f"      engine received {rec}, forwarded {fwd} ({fwd / gen_s[0]:,.0f} packets/s "
              f"over the load's {gen_s[0]:.2f} s; goal "
              f">= 20,000: {rate_goal}), "
              f"dropped: queue full "
              f"{after['dropped_queue_full'] - before['dropped_queue_full']}, write error "
              f"{after['dropped_write_error'] - before['dropped_write_error']}; "
              f"not received (kernel TUN queue) {sent[0] + 0 - rec if rec < sent[0] else 0}")
        print(f"      engine CPU {cpu:.2f} s in {wall:.2f} s = {100 * cpu / wall:.0f} % of a core "
              f"({cpu_user:.2f} s user incl. spinning, {cpu_sys:.2f} s system incl. the kernel's "
              f"delivery into the namespaces); spin window {after.get('spin_us')} µs")
        hist = hist_delta(before, after)
        edges = after.get("late_us_edges", [])
        n = max(sum(hist), 1)
        print("      engine lateness after due time during the load:")
        lo = 0.0
        for c, hi in zip(hist, [*edges, float("inf")], strict=True):
            if c:
                print(f"        [{lo:g}, {hi:g}) µs: {c} ({100 * c / n:.2f} %)")
            lo = hi
        if ping_err:
            e = np.array(ping_err)
            print(f"      ping min RTT error under load, {e.size} pairs x 10: p50 "
                  f"{np.median(e):+.3f} ms, max {e.max():+.3f} ms")
    finally:
        t0 = time.monotonic()
        down(lab.id)
        t_down = time.monotonic() - t0
    print(f"down: {t_down:.2f} s (goal < 15 s: {goals.check('down time', t_down < 15.0)}); "
          f"load average at end {os.getloadavg()[0]:.2f}")
    return goals.exit_status()


def _bound(addr: str) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.bind((addr, PORT))
    return s


if __name__ == "__main__":
    sys.exit(main())
