"""The landmark server: datagram logic, rate limiting, bounded memory, real UDP/TCP, the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rttgeo import wire
from rttgeo.errors import MeasurementError
from rttgeo.measure.tcp import TcpProber
from rttgeo.measure.udp import UdpProber
from rttgeo.models import Landmark
from rttgeo.serve import LandmarkServer
from rttgeo.serve.ratelimit import TokenBucketLimiter

NONCE = b"n" * 16


def request(size: int = wire.MIN_REQUEST_SIZE, nonce: bytes = NONCE) -> bytes:
    return wire.encode(wire.echo_request(nonce), pad_to=size)


def test_reply_echoes_nonce_and_carries_position_and_id() -> None:
    srv = LandmarkServer(52.52, 13.405, server_id="berlin-1")
    reply = srv.handle(request(), "192.0.2.1")
    assert reply is not None
    msg = wire.decode(reply)
    assert msg.type == wire.MsgType.ECHO_REPLY and msg.nonce == NONCE
    assert (msg.lat_deg, msg.lon_deg, msg.server_id) == (52.52, 13.405, "berlin-1")
    assert srv.stats.replied == 1


def test_reply_never_larger_than_request_and_short_requests_are_dropped() -> None:
    srv = LandmarkServer(0.0, 0.0, server_id="x" * 64)  # the largest v1 reply
    assert srv.reply_size == 24 + 8 + 3 + 64 + 7
    for size in range(wire.HEADER_SIZE, 300, 7):
        data = request(size) if size >= 27 else request(0)[:size]
        reply = srv.handle(data, "192.0.2.1")
        if reply is not None:
            assert len(reply) <= len(data)
            assert len(data) >= wire.MIN_REQUEST_SIZE
    assert srv.stats.too_short > 0 and srv.stats.replied > 0


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=400)
    | st.builds(
        lambda n, s: request(s, n), st.binary(min_size=16, max_size=16), st.integers(0, 400)
    )
)
def test_handle_never_raises_and_never_amplifies(data: bytes) -> None:
    srv = LandmarkServer(10.0, 20.0, server_id="fuzz")
    reply = srv.handle(data, "192.0.2.9")
    assert reply is None or len(reply) <= len(data)
    s = srv.stats
    assert (
        s.received
        == 1
        == s.replied + s.malformed_total + s.too_short + s.unsupported + s.rate_limited
    )


def test_malformed_datagrams_are_counted_by_reason() -> None:
    srv = LandmarkServer(0.0, 0.0)
    good = request()
    for bad in (b"", b"hello", b"XXXX" + good[4:], good[:4] + b"\x09" + good[5:]):
        assert srv.handle(bad, "192.0.2.1") is None
    reply_like = wire.encode(wire.echo_reply(NONCE, 1.0, 2.0), pad_to=200)
    assert srv.handle(reply_like, "192.0.2.1") is None  # a reply is never answered (no loops)
    assert srv.stats.malformed == {"short": 2, "magic": 1, "version": 1}
    assert srv.stats.unsupported == 1 and srv.stats.replied == 0


def test_rate_limit_per_source_with_refill() -> None:
    lim = TokenBucketLimiter(rate_per_s=10.0, burst=3.0)
    t0 = 1_000_000_000
    assert [lim.allow("a", t0) for _ in range(5)] == [True, True, True, False, False]
    assert lim.allow("b", t0)  # another source has its own bucket
    assert not lim.allow("a", t0 + 50_000_000)  # 0.5 token after 50 ms
    assert lim.allow("a", t0 + 100_000_000)  # 1 token after 100 ms
    assert not lim.allow("a", t0 + 100_000_000)


def test_rate_limiter_memory_is_bounded_and_idle_sources_evicted_first() -> None:
    lim = TokenBucketLimiter(rate_per_s=1.0, burst=2.0, max_sources=100)
    t = 0
    for i in range(10_000):
        t += 1_000_000
        lim.allow(f"10.0.{i // 256}.{i % 256}", t)
        assert len(lim) <= 100
    assert lim.evicted_active > 0
    lim2 = TokenBucketLimiter(rate_per_s=1000.0, burst=2.0, max_sources=100)
    for i in range(1000):  # one new source per 10 ms: each is idle (full) 2 ms after its visit
        lim2.allow(i, i * 10_000_000)
    assert len(lim2) <= 5 and lim2.evicted_active == 0 and lim2.evicted_idle > 900


def test_server_rate_limits_one_source() -> None:
    srv = LandmarkServer(0.0, 0.0, rate_per_s=1.0, burst=5.0)
    replies = [srv.handle(request(nonce=bytes([i]) * 16), "192.0.2.1") for i in range(20)]
    assert sum(r is not None for r in replies) == 5
    assert srv.stats.rate_limited == 15
    assert srv.handle(request(), "192.0.2.2") is not None


def test_bad_position_refused_before_binding() -> None:
    with pytest.raises(ValueError):
        LandmarkServer(95.0, 0.0)


async def _serve_and_probe() -> None:
    async with LandmarkServer(
        45.0, 7.0, server_id="lo", host="127.0.0.1", port=0, tcp=True, rate_per_s=1.0, burst=5.0
    ) as srv:
        lm = Landmark("lo", 45.0, 7.0, "127.0.0.1", port=srv.port)
        async with UdpProber() as prober:
            results = [await prober.probe(lm, 0.3) for _ in range(8)]
            assert [r.status for r in results] == ["ok"] * 5 + ["timeout"] * 3
            assert all(r.rtt_ms is None for r in results[5:])
            assert all(r.rtt_ms is not None and r.rtt_ms > 0 for r in results[:5])
            assert prober.announced["127.0.0.1"] == ("lo", 45.0, 7.0)
            assert "turnaround_us=" in results[0].detail  # the server stamps what it held
        assert srv.stats.rate_limited == 3 and srv.stats.replied == 5
        # Garbage over the wire is dropped and counted, never answered.
        raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        raw.setblocking(False)
        for junk in (b"junk", b"RTGL" + bytes(200), request(64)):
            raw.sendto(junk, ("127.0.0.1", srv.port))
        # Wait until the server has taken all three (however busy the machine), then nothing may
        # have come back.
        for _ in range(1000):
            if srv.stats.malformed_total + srv.stats.too_short >= 3:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # a reply, had there been one, was sent with the count
        with pytest.raises(BlockingIOError):
            raw.recvfrom(2048)  # nothing came back
        raw.close()
        assert srv.stats.malformed_total == 2 and srv.stats.too_short == 1
        # The TCP listener answers the TCP prober's SYN (its RTT is SYN to SYN-ACK). It never
        # completes a connection (SYN cookies only, ACKs filtered), so no accept queue can fill
        # and drop the SYNs of concurrent probes: 20 at once all get their SYN-ACK at once.
        tcp = TcpProber()
        res = await tcp.probe(lm, 1.0)
        assert res.status == "ok" and res.timing == "tcp_info" and res.rtt_ms is not None
        many = await asyncio.gather(*(tcp.probe(lm, 0.9) for _ in range(20)))
        assert [r.status for r in many] == ["ok"] * 20
        assert srv.syncookies in (1, 2)


def test_real_udp_and_tcp_on_loopback() -> None:
    asyncio.run(_serve_and_probe())


def test_port_in_use_is_a_clear_error() -> None:
    async def body() -> None:
        async with LandmarkServer(0.0, 0.0, host="127.0.0.1", port=0) as first:
            second = LandmarkServer(0.0, 0.0, host="127.0.0.1", port=first.port)
            with pytest.raises(MeasurementError, match="in use"):
                await second.start()

    asyncio.run(body())


def test_cli_serves_and_prints_stats_on_sigterm() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rttgeo",
            "serve",
            "--lat",
            "-1.5",
            "--lon",
            "36.8",
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--id",
            "nairobi",
            "--tcp",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        port = int(re.search(r"port (\d+)", line).group(1))  # type: ignore[union-attr]

        async def probe() -> list[str]:
            async with UdpProber() as p:
                lm = Landmark("n", -1.5, 36.8, "127.0.0.1", port=port)
                return [(await p.probe(lm, 1.0)).status for _ in range(3)]

        assert asyncio.run(probe()) == ["ok"] * 3
        proc.send_signal(signal.SIGUSR1)  # counters without stopping
        assert json.loads(proc.stdout.readline())["rttgeo_serve_stats"]["replied"] == 3
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    stats = json.loads(out.strip().splitlines()[-1])["rttgeo_serve_stats"]
    assert stats["replied"] == 3 and stats["received"] == 3


def test_cli_sigint_also_stops_gracefully() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rttgeo",
            "serve",
            "--lat",
            "0",
            "--lon",
            "0",
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    time.sleep(0.05)
    os.kill(proc.pid, signal.SIGINT)
    out, _err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "rttgeo_serve_stats" in out


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.parametrize("host", ["", "0.0.0.0"])
def test_wildcard_server_answers_from_the_address_probed(host: str) -> None:
    """Regression: bound to a wildcard, the server answered 127.0.0.5 from 127.0.0.1, and the
    client (rightly) ignored the reply. IP_PKTINFO / IPV6_PKTINFO now pin the source address."""

    async def body() -> None:
        async with LandmarkServer(1.0, 2.0, host=host, port=0, rate_per_s=1e6, burst=1e6) as srv:
            async with UdpProber(port=srv.port) as prober:
                lms = [Landmark(f"l{i}", 1.0, 2.0, f"127.0.0.{i}") for i in range(1, 9)]
                results = await asyncio.gather(*(prober.probe(lm, 2.0) for lm in lms))
            assert [r.status for r in results] == ["ok"] * 8
            assert prober.stats.unmatched == 0
            assert set(prober.announced) == {f"127.0.0.{i}" for i in range(1, 9)}

    asyncio.run(body())


def test_ipv6_loopback_udp_and_tcp() -> None:
    if not _has_ipv6_loopback():
        pytest.skip("this kernel has no IPv6 loopback (::1)")

    async def body() -> None:
        async with LandmarkServer(1.0, 2.0, port=0, tcp=True) as srv:
            lm = Landmark("v6", 1.0, 2.0, "::1", port=srv.port)
            async with UdpProber() as prober:
                res = await prober.probe(lm, 2.0)
            assert res.status == "ok" and res.rtt_ms is not None and res.timing == "so_timestampns"
            tcp = await TcpProber().probe(lm, 2.0)
            assert tcp.status == "ok" and tcp.timing == "tcp_info"

    asyncio.run(body())


def test_cli_bad_bind_address_is_a_one_line_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "rttgeo", "serve", "--lat", "0", "--lon", "0", "--bind", "nowhere"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "not an IP address" in proc.stderr and "Traceback" not in proc.stderr
