"""How close rttgeo's probers come to iputils ``ping`` on the same path in the same run.

Builds two network namespaces joined by a veth pair (always removed at exit), then on two paths,
(1) the loopback of the near namespace and (2) the veth from the near to the far namespace,
measures RTTs with ``ping -n -i 0.01 -c N`` (Debian iputils-ping, per-reply ``time=``) and with each
rttgeo prober: ICMP raw, ICMP datagram (``ping_group_range`` opened inside the near namespace
only), TCP handshake (``tcpi_rtt``) and UDP, the last two to ``rttgeo serve --tcp`` started in the
far namespace (for the loopback path, in the near one). Probes are sequential, one every 10 ms,
like ping's; the tools take turns in rounds so that drift affects them all alike. ``udp`` is the
raw RTT (it includes the Python server's wake-up and processing); ``udp-trusted`` subtracts the
turnaround the server reports (only for servers one trusts, see rttgeo.measure.udp).

Prints the setup (kernel, CPU, Python, ping version, sample counts), then per path and tool the
median and p99 RTT in µs and the median extra delay vs ping. Goal: median extra <= 30 µs for every
prober but raw ``udp``; exits 1 when a goal is MISSED.
Needs root. Run:  .venv/bin/python benchmarks/bench_prober_fidelity.py [--samples 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from _goals import Goals

from rttgeo.measure.base import Prober
from rttgeo.measure.icmp import IcmpDgramProber, IcmpRawProber
from rttgeo.measure.tcp import TcpProber
from rttgeo.measure.udp import UdpProber
from rttgeo.models import Landmark
from rttgeo.serve.netns import NetnsLink, netns_available, netns_link, run_in_netns
from rttgeo.wire import DEFAULT_PORT

PORT = DEFAULT_PORT
INTERVAL_S = 0.01
_TIME = re.compile(r"time=([0-9.]+) ms")


def ping_rtts_us(ns: str, addr: str, count: int) -> list[float]:
    out = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            ns,
            "ping",
            "-n",
            "-i",
            str(INTERVAL_S),
            "-c",
            str(count),
            "-W",
            "1",
            addr,
        ],
        capture_output=True,
        text=True,
        timeout=count * 0.1 + 30,
    ).stdout
    return [float(m) * 1000.0 for m in _TIME.findall(out)]


async def prober_rtts_us(
    make: Callable[[], Prober], lm: Landmark, count: int
) -> tuple[list[float], set[str], int]:
    rtts: list[float] = []
    timings: set[str] = set()
    lost = 0
    async with make() as prober:
        await prober.probe(lm, 1.0)  # warm-up (ARP, caches), not counted
        for _ in range(count):
            res = await prober.probe(lm, 1.0)
            if res.rtt_ms is None:
                lost += 1
            else:
                rtts.append(res.rtt_ms * 1000.0)
                timings.add(res.timing)
            await asyncio.sleep(INTERVAL_S)
    return rtts, timings, lost


def start_server(ns: str, lat: float, lon: float, sid: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            ns,
            sys.executable,
            "-m",
            "rttgeo",
            "serve",
            "--lat",
            str(lat),
            "--lon",
            str(lon),
            "--port",
            str(PORT),
            "--id",
            sid,
            "--tcp",
            "--source-rate",
            "1000",
            "--burst",
            "1000",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening" not in line:
        proc.kill()
        raise SystemExit(f"rttgeo serve did not start in {ns}: {line} {proc.stderr.read()}")  # type: ignore[union-attr]
    return proc


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


TOOLS: dict[str, Callable[[], Prober]] = {
    "icmp-raw": IcmpRawProber,
    "icmp-dgram": IcmpDgramProber,
    "tcp": lambda: TcpProber(port=PORT),
    "udp": lambda: UdpProber(port=PORT),
    "udp-trusted": lambda: UdpProber(port=PORT, subtract_turnaround=True),
}


def run_path(link: NetnsLink, name: str, addr: str, samples: int, rounds: int) -> dict[str, dict]:
    per_round = samples // rounds
    data: dict[str, dict] = {t: {"rtts": [], "timings": set(), "lost": 0} for t in ["ping", *TOOLS]}
    lm = Landmark(name, 0.0, 0.0, addr, port=PORT)
    for _ in range(rounds):
        rtts = ping_rtts_us(link.near, addr, per_round)
        data["ping"]["rtts"] += rtts
        data["ping"]["lost"] += per_round - len(rtts)
        data["ping"]["timings"].add("ping SO_TIMESTAMP")
        for tool, make in TOOLS.items():
            rtts, timings, lost = run_in_netns(
                link.near, lambda make=make: prober_rtts_us(make, lm, per_round), timeout_s=120
            )
            data[tool]["rtts"] += rtts
            data[tool]["timings"] |= timings
            data[tool]["lost"] += lost
    return data


def main() -> int:
    goals = Goals()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=200, help="samples per tool and path")
    ap.add_argument("--rounds", type=int, default=4, help="turns the tools take")
    args = ap.parse_args()
    reason = netns_available()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 1
    with open("/proc/cpuinfo") as fh:
        models = [ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")]
    cpu = models[0] if models else platform.processor()
    ping_v = subprocess.run(["ping", "-V"], capture_output=True, text=True).stdout.splitlines()[0]
    print("# rttgeo prober fidelity vs iputils ping")
    print(f"kernel   : {platform.system()} {platform.release()} ({platform.machine()})")
    print(f"cpu      : {cpu}, {os.cpu_count()} logical CPUs")
    print(f"python   : {platform.python_version()}   ping: {ping_v}")
    print(
        f"samples  : {args.samples} per tool and path, in {args.rounds} rounds, one every "
        f"{INTERVAL_S * 1000:.0f} ms, sequential; warm-up probe not counted"
    )
    print("paths    : loopback inside a fresh namespace; veth between two fresh namespaces")
    print("servers  : rttgeo serve --tcp (Python asyncio) in the far namespace (loopback: near)")
    t0 = time.monotonic()
    with netns_link("rtgb") as link:
        link.sysctl(link.near, "net.ipv4.ping_group_range", "0 2147483647")
        servers = [
            start_server(link.far, 10.0, 20.0, "far"),
            start_server(link.near, 0.0, 0.0, "near"),
        ]
        try:
            paths = {
                "loopback": run_path(link, "lo", "127.0.0.1", args.samples, args.rounds),
                "veth": run_path(link, "far", link.far_ip, args.samples, args.rounds),
            }
        finally:
            for proc in servers:
                proc.terminate()
                proc.wait(10)
    print()
    print(
        f"{'path':9} {'tool':11} {'n':>4} {'lost':>4} {'median_us':>10} {'p99_us':>9} "
        f"{'extra_median_us':>16}  timing"
    )
    verdicts = []
    for path, data in paths.items():
        ping_med = statistics.median(data["ping"]["rtts"])
        for tool, d in data.items():
            r = d["rtts"]
            if not r:
                print(f"{path:9} {tool:11} {0:>4} {d['lost']:>4}  no sample")
                continue
            med = statistics.median(r)
            extra = med - ping_med
            print(
                f"{path:9} {tool:11} {len(r):>4} {d['lost']:>4} {med:>10.1f} {pct(r, 0.99):>9.1f} "
                f"{extra:>+16.1f}  {','.join(sorted(d['timings']))}"
            )
            if tool not in ("ping", "udp"):  # raw udp includes the server's processing: no goal
                verdicts.append((path, tool, extra))
    print()
    for path, tool, extra in verdicts:
        print(
            f"goal median extra <= 30 us: {path:9} {tool:11} "
            f"{goals.check(f'{path} {tool}', extra <= 30.0)} ({extra:+.1f} us)"
        )
    print(f"\nwall time {time.monotonic() - t0:.1f} s; namespaces removed")
    return goals.exit_status()


if __name__ == "__main__":
    sys.exit(main())
