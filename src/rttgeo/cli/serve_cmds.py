"""``rttgeo serve``: run a landmark server (docs/serve.md)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from rttgeo.cli._args import finite_float, int_range, ip_address, name_text, utf8_text
from rttgeo.wire import DEFAULT_PORT

DEFAULT_SOURCE_RATE = 20.0
MAX_RATE = 1e6


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "serve",
        help="run a landmark server that answers rttgeo UDP probes with its position",
        description=(
            "Answer rttgeo UDP echo requests with this machine's position (wire format v1, "
            "docs/serve.md). Replies are never larger than requests; each source (an IPv4 "
            "address, an IPv6 /64) is rate-limited; --tcp answers SYNs with SYN cookies only. "
            "Stops on SIGINT/SIGTERM and prints its counters as JSON; SIGUSR1 prints them "
            "without stopping."
        ),
    )
    _add_server_options(p)
    p.add_argument(
        "--key", default="", help="Ed25519 private key file (rttgeo keygen): also answer the "
        "signed challenge-response and sign receipts (needs --id; docs/verify.md)"
    )
    p.add_argument(
        "--session-ttl", type=finite_float(0, 3600, lo_open=True), default=30.0,
        help="seconds a signed session lives, in (0, 3600] (default 30)"
    )
    p.add_argument(
        "--max-rounds", type=int_range(1, 64), default=64,
        help="most rounds a host may ask for, in [1, 64] (default 64)"
    )
    p.set_defaults(handler=_serve)


def _add_server_options(p: argparse.ArgumentParser) -> None:
    """Position, sockets and limits; every value is checked here, at parse time (exit 2)."""
    p.add_argument("--lat", type=finite_float(-90, 90), required=True,
                   help="latitude of this machine, degrees in [-90, 90]")
    p.add_argument("--lon", type=finite_float(-180, 180), required=True,
                   help="longitude of this machine, degrees in [-180, 180]")
    p.add_argument("--port", type=int_range(0, 65535), default=DEFAULT_PORT,
                   help=f"UDP (and TCP) port; 0 picks a free one (default {DEFAULT_PORT}, "
                        "rttgeo's landmark port)")
    p.add_argument("--bind", type=ip_address(), default="",
                   help="address to bind (default: all, IPv6 dual-stack)")
    p.add_argument("--id", type=utf8_text(max_bytes=64), default="", dest="server_id",
                   help="server id sent in replies (printable UTF-8, <= 64 bytes)")
    p.add_argument("--tcp", action="store_true",
                   help="also answer TCP SYNs on --port (SYN cookies only: no reflection; "
                        "needs net.ipv4.tcp_syncookies)")
    p.add_argument("--source-rate", type=finite_float(0, MAX_RATE, lo_open=True), default=None,
                   help="replies/s per source (an IPv4 address, an IPv6 /64), in (0, 1e6] "
                        f"(default {DEFAULT_SOURCE_RATE:g})")
    p.add_argument("--rate", type=finite_float(0, MAX_RATE, lo_open=True), default=None,
                   dest="deprecated_rate", help=argparse.SUPPRESS)
    p.add_argument("--burst", type=finite_float(1, MAX_RATE), default=40.0,
                   help="burst per source, replies, in [1, 1e6] (default 40)")
    p.add_argument("--ipv6-prefix-len", type=int_range(1, 128), default=64,
                   help="IPv6 sources share one bucket per prefix of this length (default 64)")
    p.add_argument("--max-sources", type=int_range(1, 10_000_000), default=65536,
                   help="sources tracked at once, in [1, 1e7] (default 65536)")
    p.add_argument("--global-rate", type=finite_float(1, MAX_RATE), default=20000.0,
                   help="total replies/s, in [1, 1e6] (default 20000)")
    p.add_argument("--netns", type=name_text(), default="",
                   help="bind inside this named network namespace (ip netns; root)")


def _source_rate(args: argparse.Namespace) -> float:
    """``--source-rate``, or the deprecated ``--rate`` with a warning (one meaning per flag name:
    ``--rate`` is probes/s in ``measure`` and ``locate``)."""
    from rttgeo.errors import InputError

    if args.deprecated_rate is None:
        return DEFAULT_SOURCE_RATE if args.source_rate is None else float(args.source_rate)
    if args.source_rate is not None:
        raise InputError("give --source-rate only (--rate is its deprecated name)",
                         field="--rate")
    print("rttgeo serve: warning: --rate is deprecated here, use --source-rate (replies/s per "
          "source); --rate means probes/s in 'measure' and 'locate'", file=sys.stderr)
    return float(args.deprecated_rate)


def _syncookie_note(server: object) -> None:
    """Say on stderr how TCP reflection is bounded when SYN cookies are on demand only."""
    if getattr(server, "syncookies", None) == 1:
        print("rttgeo serve: note: net.ipv4.tcp_syncookies is 1: the kernel keeps one SYN at a "
              "time, which may draw one resent SYN-ACK (at most one extra packet per 3 s); set "
              "it to 2 for exactly one SYN-ACK per SYN (docs/serve.md)", file=sys.stderr,
              flush=True)


def _serve(args: argparse.Namespace) -> int:
    import asyncio

    args.source_rate = _source_rate(args)
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
        rate_per_s=args.source_rate,
        burst=args.burst,
        ipv6_prefix_len=args.ipv6_prefix_len,
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
    _syncookie_note(server)
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
