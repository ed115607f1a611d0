#!/usr/bin/env python3
"""Campaign throughput: N landmarks x k samples with the DEFAULT campaign parameters must finish
within k x (max RTT) + 2 s.

Two setups, both with per-landmark delays drawn uniformly in [--min-delay-ms, --max-delay-ms]
(seeded, so client and server agree):

1. ``fake``: the scripted FakeProber (really sleeps each delay; no packets).
2. ``udp-loopback``: real packets. A server process binds one UDP socket per landmark on its own
   loopback address 127.1.x.y (same port), answers each rttgeo ECHO_REQUEST through
   ``rttgeo.serve.LandmarkServer.handle`` after that landmark's delay (``loop.call_later``); the
   client is rttgeo's real ``UdpProber`` driven by ``run_campaign``.

Printed: the setup, elapsed time vs the bound, samples / lost, and for the real run how far the
measured RTTs sit above the configured delays (server timer + loopback + Python overhead).

    .venv/bin/python benchmarks/bench_campaign_throughput.py [--landmarks 800] [-k 3]
        [--min-delay-ms 5] [--max-delay-ms 200] [--skip-real]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import time

import numpy as np

from rttgeo.measure import CampaignParams, FakeProber, run_campaign_sync
from rttgeo.measure.fake import Reply
from rttgeo.models import Landmark

PORT = 47890


def delays_ms(n: int, lo: float, hi: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(lo, hi, n)


def address(i: int) -> str:
    return f"127.1.{i // 250}.{i % 250 + 1}"


def landmarks(n: int, port: int | None) -> list[Landmark]:
    rng = np.random.default_rng(0)
    return [
        Landmark(
            f"L{i}",
            float(rng.uniform(-60, 70)),
            float(rng.uniform(-180, 180)),
            address(i),
            port,
            ("udp", "icmp"),
        )
        for i in range(n)
    ]


# -- server process --------------------------------------------------------------------------
def serve(n: int, lo: float, hi: float, seed: int, port: int) -> None:
    from rttgeo.serve import LandmarkServer

    d = delays_ms(n, lo, hi, seed) / 1000.0

    class Delayed(asyncio.DatagramProtocol):
        def __init__(self, server: LandmarkServer, delay_s: float) -> None:
            self.server = server
            self.delay_s = delay_s
            self.transport: asyncio.DatagramTransport | None = None

        def connection_made(self, transport):  # type: ignore[no-untyped-def]
            self.transport = transport

        def datagram_received(self, data, addr):  # type: ignore[no-untyped-def]
            reply = self.server.handle(data, addr[0])
            if reply is not None and self.transport is not None:
                asyncio.get_running_loop().call_later(
                    self.delay_s, self.transport.sendto, reply, addr
                )

    async def main() -> None:
        loop = asyncio.get_running_loop()
        servers = []
        for i in range(n):
            srv = LandmarkServer(
                0.0,
                0.0,
                server_id=f"L{i}",
                host=address(i),
                port=port,
                rate_per_s=1000.0,
                burst=1000.0,
            )
            servers.append(srv)
            await loop.create_datagram_endpoint(
                lambda srv=srv, i=i: Delayed(srv, d[i]), local_addr=(address(i), port)
            )
        print("READY", flush=True)
        await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes stdin
        tot: dict[str, int] = {}
        for srv in servers:
            for key, v in srv.stats.as_dict().items():
                if isinstance(v, int) and v:
                    tot[key] = tot.get(key, 0) + v
        print(f"# server counters: {tot}", file=sys.stderr, flush=True)

    asyncio.run(main())


# -- client ----------------------------------------------------------------------------------
def udp_rcvbuf_errors() -> int:
    """Kernel-wide count of UDP datagrams dropped for a full receive buffer (/proc/net/snmp)."""
    try:
        with open("/proc/net/snmp") as fh:
            lines = [ln.split() for ln in fh if ln.startswith("Udp:")]
        return int(lines[1][lines[0].index("RcvbufErrors")])
    except (OSError, ValueError, IndexError):
        return -1


def big_rcvbuf_prober(mib: float):  # type: ignore[no-untyped-def]
    """rttgeo's UdpProber with a larger socket receive buffer (capped by net.core.rmem_max)."""
    import socket

    from rttgeo.measure.udp import UdpProber

    class BigRcvbuf(UdpProber):
        def _make_socket(self) -> socket.socket:
            sock = super()._make_socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, int(mib * (1 << 20)))
            return sock

    return BigRcvbuf(port=PORT)


def report(name: str, res, bound_s: float, extra: str = "") -> bool:  # type: ignore[no-untyped-def]
    ok = res.elapsed_s <= bound_s
    print(
        f"{name:<14} {res.elapsed_s:7.2f} s  (bound {bound_s:.2f} s: {'PASS' if ok else 'FAIL'})"
        f"  {res.n_sent} samples, {res.n_lost} lost, "
        f"{len(res.answered)}/{len(res.landmark_ids)} landmarks answered{extra}"
    )
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--landmarks", type=int, default=800)
    ap.add_argument("-k", type=int, default=3)
    ap.add_argument("--min-delay-ms", type=float, default=5.0)
    ap.add_argument("--max-delay-ms", type=float, default=200.0)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--rate", type=float, default=None, help="override the default rate (probes/s)")
    ap.add_argument(
        "--rcvbuf-mib",
        type=float,
        default=4.0,
        help="also run with the prober's SO_RCVBUF raised to this (0 = stock run only)",
    )
    ap.add_argument("--skip-real", action="store_true", help="only the fake-prober run")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    n, k = args.landmarks, args.k
    if args.serve:
        serve(n, args.min_delay_ms, args.max_delay_ms, args.seed, PORT)
        return 0

    params = CampaignParams(k=k)
    if args.rate is not None:  # not the default: say so in the setup line
        params = CampaignParams(k=k, rate_per_s=args.rate)
    d = delays_ms(n, args.min_delay_ms, args.max_delay_ms, args.seed)
    bound_s = k * d.max() / 1000.0 + 2.0
    print(
        f"# bench_campaign_throughput: {n} landmarks x {k} samples, delays uniform in "
        f"[{args.min_delay_ms:g}, {args.max_delay_ms:g}] ms (max {d.max():.1f} ms), seed "
        f"{args.seed}"
    )
    print(
        f"# default CampaignParams: concurrency {params.concurrency}, rate "
        f"{params.rate_per_s:g}/s (burst {params.burst}), timeout {params.timeout_s:g} s, "
        f"retries {params.retries}; bound = k x max delay + 2 s = {bound_s:.2f} s"
    )
    print(
        f"# python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} CPUs, {platform.platform()}"
    )
    ok = True

    fake = FakeProber({f"L{i}": [Reply(float(x))] for i, x in enumerate(d)})
    res = run_campaign_sync(fake, landmarks(n, None), params, quiet=True)
    ok &= report("fake", res, bound_s, f", max in flight {fake.max_in_flight}")

    if not args.skip_real:
        from rttgeo.measure import make_prober

        server = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve",
                "--landmarks",
                str(n),
                "--seed",
                str(args.seed),
                "--min-delay-ms",
                str(args.min_delay_ms),
                "--max-delay-ms",
                str(args.max_delay_ms),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            line = server.stdout.readline() if server.stdout else ""
            if line.strip() != "READY":
                print("server did not start", file=sys.stderr)
                return 1
            variants = [("udp-loopback", make_prober("udp", port=PORT))]
            if args.rcvbuf_mib:
                variants.append(
                    (f"udp+rcvbuf{args.rcvbuf_mib:g}M", big_rcvbuf_prober(args.rcvbuf_mib))
                )
            for name, prober in variants:
                before = udp_rcvbuf_errors()
                t0 = time.monotonic()
                res = run_campaign_sync(prober, landmarks(n, PORT), params, quiet=True)
                wall = time.monotonic() - t0
                over = [
                    s.rtt_ms - d[int(s.landmark[1:])] for s in res.samples if s.rtt_ms is not None
                ]
                o = np.asarray(over)
                extra = (
                    f"; RTT - configured delay: median {np.median(o):.2f} ms, p99 "
                    f"{np.percentile(o, 99):.2f} ms, max {o.max():.2f} ms; wall {wall:.2f} s"
                    if len(o)
                    else ""
                )
                ok &= report(name, res, bound_s, extra)
                print(
                    f"#   prober counters: {prober.stats}; kernel UDP RcvbufErrors during the "
                    f"run: {udp_rcvbuf_errors() - before} (datagrams dropped by a full socket "
                    "receive buffer)"
                )
        finally:
            if server.stdin:
                server.stdin.close()
            try:
                server.wait(5)
            except subprocess.TimeoutExpired:
                server.kill()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
