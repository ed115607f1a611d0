"""``rttgeo serve``: run a landmark server (docs/serve.md)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from rttgeo.wire import DEFAULT_PORT


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "serve",
        help="run a landmark server that answers rttgeo UDP probes with its position",
        description=(
            "Answer rttgeo UDP echo requests with this machine's position (wire format v1, "
            "docs/serve.md). Replies are never larger than requests; each source IP is "
            "rate-limited. Stops on SIGINT/SIGTERM and prints its counters as JSON; SIGUSR1 "
            "prints them without stopping."
        ),
    )
    p.add_argument("--lat", type=float, required=True, help="latitude of this machine, degrees")
    p.add_argument("--lon", type=float, required=True, help="longitude of this machine, degrees")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"UDP (and TCP) port (default {DEFAULT_PORT}, rttgeo's landmark port)")
    p.add_argument("--bind", default="", help="address to bind (default: all, IPv6 dual-stack)")
    p.add_argument("--id", default="", dest="server_id", help="server id sent in replies (<=64 B)")
    p.add_argument(
        "--tcp", action="store_true", help="also accept (and close) TCP connections on --port"
    )
    p.add_argument("--rate", type=float, default=20.0, help="replies/s per source IP (default 20)")
    p.add_argument("--burst", type=float, default=40.0, help="burst per source IP (default 40)")
    p.add_argument(
        "--max-sources", type=int, default=65536, help="sources tracked at once (default 65536)"
    )
    p.add_argument(
        "--global-rate", type=float, default=20000.0, help="total replies/s (default 20000)"
    )
    p.add_argument(
        "--netns", default="", help="bind inside this named network namespace (ip netns; root)"
    )
    p.add_argument(
        "--key", default="", help="Ed25519 private key file (rttgeo keygen): also answer the "
        "signed challenge-response and sign receipts (needs --id; docs/verify.md)"
    )
    from rttgeo.cli._args import finite_float, int_range

    p.add_argument(
        "--session-ttl", type=finite_float(0, 3600, lo_open=True), default=30.0,
        help="seconds a signed session lives (default 30)"
    )
    p.add_argument(
        "--max-rounds", type=int_range(1, 64), default=64,
        help="most rounds a host may ask for (default 64)"
    )
    p.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    import asyncio

    from rttgeo.errors import InputError

    if not (-90.0 <= args.lat <= 90.0) or not (-180.0 <= args.lon <= 180.0):
        raise InputError("--lat must be in [-90, 90] and --lon in [-180, 180]")
    if len(args.server_id.encode()) > 64:
        raise InputError("--id must be at most 64 bytes of UTF-8")
    if not 0 <= args.port <= 65535:
        raise InputError("--port must be in [0, 65535]")
    challenge = _challenge(args)
    return asyncio.run(_run(args, challenge))


def _challenge(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The signed challenge-response of ``--key`` (None without it); raises InputError."""
    from rttgeo.errors import InputError

    if not args.key:
        return None
    from rttgeo import crypto
    from rttgeo.serve.challenge import ChallengeResponder

    if not args.server_id:
        raise InputError("a signing landmark needs --id (the id its catalog entry has)",
                         field="--key")
    return ChallengeResponder(
        crypto.load_private_key(args.key), landmark_id=args.server_id, lat_deg=args.lat,
        lon_deg=args.lon, max_rounds=args.max_rounds, session_ttl_s=args.session_ttl,
    )


async def _run(args: argparse.Namespace, challenge=None) -> int:  # type: ignore[no-untyped-def]
    import asyncio
    import contextlib
    import signal

    from rttgeo.serve import LandmarkServer

    server = LandmarkServer(
        args.lat,
        args.lon,
        server_id=args.server_id,
        host=args.bind,
        port=args.port,
        tcp=args.tcp,
        rate_per_s=args.rate,
        burst=args.burst,
        max_sources=args.max_sources,
        global_rate_per_s=args.global_rate,
        challenge=challenge,
    )
    if args.netns:
        from rttgeo.serve.netns import in_netns

        with in_netns(args.netns):
            await server.start()
    else:
        await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    def dump() -> None:
        stats = server.stats.as_dict()
        stats["sources_tracked"] = len(server.limiter)
        if server.challenge is not None:
            stats["challenge"] = asdict(server.challenge.stats)
            stats["challenge"]["sessions_open"] = len(server.challenge)
        print(json.dumps({"rttgeo_serve_stats": stats}), flush=True)

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(NotImplementedError, RuntimeError, AttributeError):
        loop.add_signal_handler(signal.SIGUSR1, dump)
    host, port = server.address[:2]
    print(
        f"rttgeo serve: listening on udp {host} port {port}"
        + (" and tcp" if args.tcp else "")
        + f" as {args.server_id or '(no id)'} at lat {args.lat} lon {args.lon}"
        + (f", signing with key {server.challenge.public_key.hex()}"
           if server.challenge is not None else ""),
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        await server.stop()
        dump()
        print("rttgeo serve: stopped", file=sys.stderr, flush=True)
    return 0
