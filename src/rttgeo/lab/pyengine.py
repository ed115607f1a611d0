"""The delay engine in pure Python: the fallback when no C compiler is available.

Same algorithm, config file and stats file as ``engine.c`` (see :mod:`rttgeo.lab.engine`), the
same routing of IPv4 and IPv6 by destination address alone: epoll on the hosts' TUN fds, reads in
batches of 64, a heap keyed by due time, sleep until the spin window before the next due time,
then spin and write. Measured against the C engine in
``benchmarks/bench_lab_engine.py``: it also forwards 20,000 packets/s on a quiet 2-core machine, but
writes packets 5-40 µs after their due time at the median (C: under 1 µs), uses more CPU and falls
behind first when the machine is busy. Run as ``python -m rttgeo.lab.pyengine CONFIG``.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import os
import queue
import random
import resource
import select
import signal
import sys
import threading
import time
from typing import Any

LATE_EDGES_NS = (1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000, 1000000, 10000000)
READ_BATCH = 64
BUFSZ = 2048


class _Stop(Exception):
    pass


def parse_config(text: str) -> dict[str, Any]:
    """The engine config written by :func:`rttgeo.lab.engine.write_config` as a dict."""
    tok = text.split()
    cfg: dict[str, Any] = {"jitter_ns": 0, "loss": 0.0, "seed": 1, "spin_ns": 100_000,
                           "bias_ns": 0, "rt_priority": 0, "max_inflight": 65536, "hosts": {}}
    i = 0
    while i < len(tok):
        key = tok[i]
        if key == "n":
            cfg["n"] = int(tok[i + 1])
            i += 2
        elif key == "base":
            cfg["base"], cfg["block"] = int(tok[i + 1]), int(tok[i + 2])
            i += 3
        elif key in ("jitter_ns", "seed", "spin_ns", "bias_ns", "rt_priority", "max_inflight"):
            cfg[key] = int(tok[i + 1])
            i += 2
        elif key == "prefix6":
            raw = bytes.fromhex(tok[i + 1])
            if len(raw) != 12:
                raise ValueError("prefix6 must be 24 hex digits")
            cfg["prefix6"] = raw
            i += 2
        elif key == "loss":
            cfg["loss"] = float(tok[i + 1])
            i += 2
        elif key == "stats":
            cfg["stats"] = tok[i + 1]
            i += 2
        elif key == "host":
            cfg["hosts"][int(tok[i + 1])] = (int(tok[i + 2]), int(tok[i + 3]))
            i += 4
        elif key == "delay":
            n = cfg["n"]
            vals = [int(x) for x in tok[i + 1 : i + 1 + n * n]]
            if len(vals) != n * n:
                raise ValueError("delay matrix truncated")
            cfg["delay"] = [vals[r * n : (r + 1) * n] for r in range(n)]
            i += 1 + n * n
        else:
            raise ValueError(f"unknown config key {key}")
    for req in ("n", "base", "stats", "delay"):
        if req not in cfg:
            raise ValueError(f"incomplete config: no {req}")
    return cfg


def run(cfg: dict[str, Any]) -> int:
    n = cfg["n"]
    fds = [cfg["hosts"][i][0] for i in range(n)]
    base, block = cfg["base"], cfg["block"]
    prefix6: bytes | None = cfg.get("prefix6")
    addr_map = {cfg["hosts"][i][1] - base: i for i in range(n)}
    delay = cfg["delay"]
    jitter, loss, bias = cfg["jitter_ns"], cfg["loss"], cfg["bias_ns"]
    spin = cfg["spin_ns"]
    max_inflight = cfg["max_inflight"]
    rng = random.Random(cfg["seed"])
    rt_ok = False
    if cfg["rt_priority"] > 0:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(cfg["rt_priority"]))
            rt_ok = True
        except OSError as exc:
            print(f"rttgeo-pyengine: no real-time priority: {exc}", file=sys.stderr)
    c = {"received": 0, "received_ipv6": 0, "forwarded": 0, "dropped_loss": 0,
         "dropped_unroutable": 0, "dropped_not_ip": 0, "dropped_queue_full": 0,
         "dropped_write_error": 0}
    hist = [0] * (len(LATE_EDGES_NS) + 1)
    late = {"max": 0, "sum": 0}
    heap: list[tuple[int, int, int, bytes]] = []
    stats_q: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=1)

    def snapshot() -> dict[str, Any]:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "pid": os.getpid(), "hosts": n, "ipv6": prefix6 is not None, **c,
            "in_flight": len(heap), "realtime": rt_ok,
            "spin_us": spin / 1e3, "spin_now_us": spin / 1e3, "engine": "python",
            "late_us_edges": [e / 1e3 for e in LATE_EDGES_NS], "late_us_hist": list(hist),
            "late_max_us": late["max"] / 1e3,
            "late_mean_us": late["sum"] / c["forwarded"] / 1e3 if c["forwarded"] else 0.0,
            "cpu_user_s": ru.ru_utime, "cpu_system_s": ru.ru_stime,
            "monotonic_ns": time.monotonic_ns(),
        }

    def write(snap: dict[str, Any]) -> None:
        tmp = cfg["stats"] + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(snap, fh)
        os.replace(tmp, cfg["stats"])

    def writer() -> None:  # file I/O off the forwarding loop
        while (snap := stats_q.get()) is not None:
            write(snap)

    ep = select.epoll()
    by_fd = {}
    for i, fd in enumerate(fds):
        os.set_blocking(fd, False)
        ep.register(fd, select.EPOLLIN)
        by_fd[fd] = i

    def on_term(signum: int, frame: object) -> None:
        raise _Stop

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    write(snapshot())
    t = threading.Thread(target=writer, daemon=True)
    t.start()
    print(f"rttgeo-pyengine: ready, {n} hosts", file=sys.stderr, flush=True)
    now_ns = time.monotonic_ns
    next_stats = now_ns() + 1_000_000_000
    seq = 0
    try:
        while True:
            now = now_ns()
            while heap and heap[0][0] <= now:
                due, _, dst, data = heapq.heappop(heap)
                try:
                    os.write(fds[dst], data)
                except OSError:
                    c["dropped_write_error"] += 1
                else:
                    now = now_ns()
                    lt = now - due
                    c["forwarded"] += 1
                    b = 0
                    while b < len(LATE_EDGES_NS) and lt >= LATE_EDGES_NS[b]:
                        b += 1
                    hist[b] += 1
                    late["sum"] += lt
                    late["max"] = max(late["max"], lt)
            if now >= next_stats:
                with contextlib.suppress(queue.Full):
                    stats_q.put_nowait(snapshot())
                next_stats = now + 1_000_000_000
            # epoll.poll rounds its timeout up to whole ms: sleep whole ms only, spin the rest
            wake = min(heap[0][0] - spin, next_stats) if heap else next_stats
            timeout = max((wake - now) // 1_000_000, 0) / 1000.0
            for fd, _ in ep.poll(timeout):
                src = by_fd[fd]
                for _ in range(READ_BATCH):
                    try:
                        data = os.read(fd, BUFSZ)
                    except BlockingIOError:
                        break
                    t_in = now_ns()
                    c["received"] += 1
                    version = data[0] >> 4 if data else 0
                    if version == 4 and len(data) >= 20:
                        off = int.from_bytes(data[16:20], "big") - base
                    elif version == 6 and len(data) >= 40:
                        # the fixed header's destination; extension headers never change it
                        c["received_ipv6"] += 1
                        off = (int.from_bytes(data[36:40], "big")
                               if prefix6 is not None and data[24:36] == prefix6 else -1)
                    else:
                        c["dropped_not_ip"] += 1
                        continue
                    dst = addr_map.get(off) if 0 <= off < block else None
                    if dst is None:
                        c["dropped_unroutable"] += 1
                        continue
                    if loss and rng.random() < loss:
                        c["dropped_loss"] += 1
                        continue
                    if len(heap) >= max_inflight:
                        c["dropped_queue_full"] += 1
                        continue
                    d = delay[src][dst] - bias
                    if jitter:
                        d += int(rng.random() * jitter)
                    seq += 1
                    heapq.heappush(heap, (t_in + max(d, 0), seq, dst, data))
    except _Stop:
        pass
    write(snapshot())
    print("rttgeo-pyengine: stopped", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m rttgeo.lab.pyengine CONFIG", file=sys.stderr)
        return 2
    try:
        with open(args[0]) as fh:
            cfg = parse_config(fh.read())
    except (OSError, ValueError, IndexError) as exc:
        print(f"rttgeo-pyengine: bad config: {exc}", file=sys.stderr)
        return 2
    return run(cfg)


if __name__ == "__main__":
    sys.exit(main())
