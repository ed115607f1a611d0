#!/usr/bin/env python3
"""Why the lab's delay engine is C: the C engine against the same loop written in pure Python.

Setup (no root needed): --hosts hosts, each a datagram socketpair standing for its TUN device (same
packet boundaries); one-way delays between hosts drawn uniformly in [1, 100] ms (seeded). A
generator process sends minimal IPv4 packets (64 B payload) from random hosts to random hosts at
--rates packets/s for --seconds s each; a sink process drains every host end. Each engine runs in
its own process:

* ``c``: ``rttgeo/lab/engine.c`` as the lab runs it (timerfd + adaptive spin window);
* ``python``: the same algorithm in Python (epoll on the fds, ``os.read`` batches, ``heapq`` by
  due time, sleep until 200 µs before due then spin, ``os.write``).

Both run at SCHED_FIFO priority --rt-priority when root (as the lab runs its engine), else normal.

Printed per engine and rate: packets sent, delivered and the rate achieved, the engine's own
lateness (due time to write: p50, p99, share over 1 ms) and its CPU use (user + system / wall).

    .venv/bin/python benchmarks/bench_lab_engine.py [--hosts 8] [--seconds 3] [--rt-priority 10]
        [--rates 5000,10000,20000,30000]
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import ipaddress
import multiprocessing as mp
import os
import platform
import random
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rttgeo.lab.engine import EngineConfig, build_engine, read_stats, write_config

BASE = ipaddress.IPv4Address("198.18.8.0")


def packet(dst: int) -> bytes:
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 84, 0, 0, 64, 17, 0, bytes(4),
                      (BASE + 1 + dst).packed)
    return hdr + bytes(64)


def python_engine(fds: list[int], delay_ns: np.ndarray, seconds: float, rt: int, out) -> None:  # type: ignore[no-untyped-def]
    """The engine's algorithm in pure Python; reports lateness samples (ns) and CPU seconds."""
    if rt:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(rt))
    n = len(fds)
    base = int(BASE)
    ep = select.epoll()
    for fd in fds:
        os.set_blocking(fd, False)
        ep.register(fd, select.EPOLLIN)
    idx = {fd: i for i, fd in enumerate(fds)}
    dl = delay_ns.tolist()
    heap: list[tuple[int, int, int, bytes]] = []
    seq = 0
    late: list[int] = []
    spin = 200_000
    now_ns = time.monotonic_ns
    end = now_ns() + int(seconds * 1e9)
    while True:
        now = now_ns()
        while heap and heap[0][0] <= now:
            t, _, dst, data = heapq.heappop(heap)
            os.write(fds[dst], data)
            now = now_ns()
            late.append(now - t)
        if now > end and not heap:
            break
        if heap:
            wait = heap[0][0] - spin - now
            timeout = max(wait / 1e9, 0.0)
        else:
            timeout = 0.05
        for fd, _ in ep.poll(timeout):
            src = idx[fd]
            for _ in range(64):
                try:
                    data = os.read(fd, 2048)
                except BlockingIOError:
                    break
                t_in = now_ns()
                off = int.from_bytes(data[16:20], "big") - base
                if 0 <= off - 1 < n:
                    seq += 1
                    heapq.heappush(heap, (t_in + dl[src][off - 1], seq, off - 1, data))
    ru = resource.getrusage(resource.RUSAGE_SELF)
    out.send((late, ru.ru_utime + ru.ru_stime))


def generate(fds: list[int], rate: int, seconds: float, out) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(1)
    n = len(fds)
    pkts = [packet(d) for d in range(n)]
    sent = 0
    start = time.monotonic_ns()
    end = start + int(seconds * 1e9)
    while True:
        now = time.monotonic_ns()
        if now >= end:
            break
        due = (now - start) / 1e9 * rate
        while sent < due:
            src = rng.randrange(n)
            dst = (src + 1 + rng.randrange(n - 1)) % n
            with contextlib.suppress(BlockingIOError):
                os.write(fds[src], pkts[dst])
            sent += 1
        time.sleep(0.0005)
    out.send(sent)


def sink(fds: list[int], seconds: float, out) -> None:  # type: ignore[no-untyped-def]
    ep = select.epoll()
    for fd in fds:
        os.set_blocking(fd, False)
        ep.register(fd, select.EPOLLIN)
    got = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for fd, _ in ep.poll(0.05):
            for _ in range(256):
                try:
                    os.read(fd, 2048)
                    got += 1
                except BlockingIOError:
                    break
    out.send(got)


def run(kind: str, n: int, delay_ms: np.ndarray, rate: int, seconds: float, exe: Path,
        rt: int) -> str:
    pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM) for _ in range(n)]
    for a, b in pairs:
        for s in (a, b):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    host = [a.fileno() for a, _ in pairs]
    eng = [b.fileno() for _, b in pairs]
    ctx = mp.get_context("fork")
    gen_r, gen_w = ctx.Pipe(False)
    sink_r, sink_w = ctx.Pipe(False)
    tmp = Path(tempfile.mkdtemp(dir=os.environ.get("BENCH_TMP")))
    t0 = time.monotonic()
    if kind == "c":
        cfg = EngineConfig(fds=eng, addresses_u32=[int(BASE) + 1 + i for i in range(n)],
                           base_u32=int(BASE), block_size=256, one_way_ms=delay_ms,
                           rt_priority=rt, stats_path=tmp / "stats.json")
        write_config(cfg, tmp / "engine.conf")
        proc = subprocess.Popen([str(exe), str(tmp / "engine.conf")], pass_fds=eng,
                                stderr=subprocess.DEVNULL)
        while not (tmp / "stats.json").exists():
            time.sleep(0.01)
        before = read_stats(tmp / "stats.json")
    else:
        eng_r, eng_w = ctx.Pipe(False)
        proc = ctx.Process(target=python_engine,
                           args=(eng, np.rint(delay_ms * 1e6).astype(np.int64), seconds + 0.3,
                                 rt, eng_w))
        proc.start()
    t0 = time.monotonic()
    g = ctx.Process(target=generate, args=(host, rate, seconds, gen_w))
    k = ctx.Process(target=sink, args=(host, seconds + 0.5, sink_w))
    k.start()
    g.start()
    sent = gen_r.recv()
    received = sink_r.recv()
    g.join()
    k.join()
    wall = time.monotonic() - t0
    if kind == "c":
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=5)
        st = read_stats(tmp / "stats.json")
        cpu = (st["cpu_user_s"] + st["cpu_system_s"]
               - before["cpu_user_s"] - before["cpu_system_s"])
        hist = np.array(st["late_us_hist"])
        edges = st["late_us_edges"]
        total = max(hist.sum(), 1)
        cum = np.cumsum(hist) / total
        p50 = edges[int(np.searchsorted(cum, 0.5))] if cum[-1] else float("nan")
        p99i = int(np.searchsorted(cum, 0.99))
        p99 = edges[p99i] if p99i < len(edges) else float("inf")
        over_1ms = hist[edges.index(1000) + 1:].sum() / total * 100
        lat = f"p50 < {p50:g} µs, p99 < {p99:g} µs, > 1 ms {over_1ms:.2f} %"
    else:
        late, cpu = eng_r.recv()
        proc.join()
        arr = np.array(late, dtype=float) / 1e3
        lat = (f"p50 {np.percentile(arr, 50):.1f} µs, p99 {np.percentile(arr, 99):.1f} µs, "
               f"> 1 ms {np.mean(arr > 1000) * 100:.2f} %") if arr.size else "no packets"
    for a, b in pairs:
        a.close()
        b.close()
    return (f"  {kind:6s} {rate:6d}/s: sent {sent}, delivered {received} "
            f"({received / seconds:,.0f}/s, {100 * received / max(sent, 1):.1f} %); "
            f"lateness {lat}; CPU {100 * cpu / wall:.0f} % of a core")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hosts", type=int, default=8)
    ap.add_argument("--rates", default="5000,10000,20000,30000")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rt-priority", type=int, default=10)
    ap.add_argument("--engines", default="c,python")
    args = ap.parse_args()
    rt = args.rt_priority if os.geteuid() == 0 else 0
    if not 0 < args.seconds <= 30:
        print("--seconds must be in (0, 30]", file=sys.stderr)
        return 2
    rng = np.random.default_rng(0)
    d = rng.uniform(1.0, 100.0, (args.hosts, args.hosts))
    d = (d + d.T) / 2
    np.fill_diagonal(d, 0.0)
    exe = build_engine()
    print("setup:")
    print(f"  machine {platform.node()} {os.cpu_count()} CPUs, Linux {platform.release()}, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"  {args.hosts} hosts as socketpairs, one-way delays 1-100 ms, {args.seconds} s per "
          f"run; generator, sink and engine in separate processes; engines at "
          f"{'SCHED_FIFO ' + str(rt) if rt else 'normal scheduling'}")
    for rate in [int(x) for x in args.rates.split(",")]:
        for kind in args.engines.split(","):
            print(run(kind, args.hosts, d, rate, args.seconds, exe, rt), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
