"""Real probes to a host in a network namespace the test creates (veth between two namespaces).

Covers every prober across a real link, spoofed / malformed / duplicate / late ICMP replies
injected by a raw socket on the far host, ICMP errors, and lost probes. Needs root and ``ip netns``
(CI runs as root); skipped, saying why, only when those are truly absent.
"""

from __future__ import annotations

import asyncio
import math
import re
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator

import pytest

from rttgeo.measure.base import Prober, ProbeResult
from rttgeo.measure.icmp import Icmp6DgramProber, Icmp6RawProber, IcmpDgramProber, IcmpRawProber
from rttgeo.measure.tcp import TcpProber
from rttgeo.measure.udp import UdpProber
from rttgeo.models import Landmark
from rttgeo.serve import LandmarkServer
from rttgeo.serve.netns import NetnsLink, in_netns, netns_available, netns_link, run_in_netns

pytestmark = pytest.mark.root
_REASON = netns_available()
if _REASON:
    pytest.skip(_REASON, allow_module_level=True)


@pytest.fixture(scope="module")
def link() -> Iterator[NetnsLink]:
    with netns_link() as lk:
        lk.sysctl(lk.near, "net.ipv4.ping_group_range", "0 2147483647")
        yield lk


@pytest.fixture()
def quiet_link() -> Iterator[NetnsLink]:
    """A link whose far host ignores echo requests (a raw socket there still sees them)."""
    with netns_link() as lk:
        lk.sysctl(lk.near, "net.ipv4.ping_group_range", "0 2147483647")
        lk.sysctl(lk.far, "net.ipv4.icmp_echo_ignore_all", "1")
        yield lk


def assert_ok(res: ProbeResult, timing: str) -> None:
    assert res.status == "ok", res
    assert res.rtt_ms is not None and math.isfinite(res.rtt_ms) and res.rtt_ms > 0
    assert res.timing == timing


@pytest.mark.parametrize("kind", [IcmpRawProber, IcmpDgramProber])
def test_icmp_across_veth(link: NetnsLink, kind: type[Prober]) -> None:
    async def body() -> None:
        lm = Landmark("far", 0.0, 0.0, link.far_ip)
        async with kind() as prober:
            for _ in range(5):
                assert_ok(await prober.probe(lm, 5.0), "so_timestampns")
            many = await asyncio.gather(*(prober.probe(lm, 5.0) for _ in range(100)))
        for res in many:
            assert_ok(res, "so_timestampns")
        assert prober.stats.answered == 105 and prober.stats.unmatched == 0

    run_in_netns(link.near, body)


def test_udp_and_tcp_to_a_landmark_server_in_the_far_namespace(link: NetnsLink) -> None:
    async def body() -> None:
        server = LandmarkServer(
            -23.55, -46.63, server_id="sao-paulo", port=0, tcp=True, rate_per_s=1000.0, burst=1000.0
        )
        with in_netns(link.far):
            await server.start()
        try:
            lm = Landmark("far", -23.55, -46.63, link.far_ip, port=server.port)
            async with UdpProber() as udp:
                results = await asyncio.gather(*(udp.probe(lm, 2.0) for _ in range(50)))
            for res in results:
                assert_ok(res, "so_timestampns")
                assert "server_id=sao-paulo" in res.detail
            assert udp.announced[link.far_ip] == ("sao-paulo", -23.55, -46.63)
            tcp = TcpProber()
            for _ in range(5):
                assert_ok(await tcp.probe(lm, 2.0), "tcp_info")
            closed = Landmark("far", 0, 0, link.far_ip, port=1)
            assert_ok(await TcpProber(rst_is_sample=True).probe(closed, 2.0), "connect_rst")
            assert (await tcp.probe(closed, 2.0)).status == "refused"
        finally:
            await server.stop()
        assert server.stats.replied == 50

    run_in_netns(link.near, body)


def _echo_reply(ident: int, seq: int, payload: bytes, corrupt: bool = False) -> bytes:
    from scapy.layers.inet import ICMP
    from scapy.packet import Raw

    data = bytearray(bytes(ICMP(type=0, code=0, id=ident, seq=seq) / Raw(payload)))
    if corrupt:
        data[2] ^= 0xFF  # break the checksum
    return bytes(data)


async def _next_echo_request(loop: asyncio.AbstractEventLoop, spy: socket.socket) -> tuple:
    while True:
        data = await asyncio.wait_for(loop.sock_recv(spy, 4096), 2.0)
        icmp = data[(data[0] & 0x0F) * 4 :]
        if icmp[0] == 8:
            _t, _c, _sum, ident, seq = struct.unpack(">BBHHH", icmp[:8])
            return ident, seq, bytes(icmp[8:])


@pytest.mark.parametrize("kind", [IcmpRawProber, IcmpDgramProber])
def test_icmp_spoofed_duplicate_late_and_malformed_replies(quiet_link: NetnsLink, kind: type[Prober]) -> None:
    link = quiet_link

    async def body() -> None:
        loop = asyncio.get_running_loop()
        with in_netns(link.far):  # the far host answers nothing by itself; we answer by hand
            spy = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        spy.setblocking(False)
        to_near = (link.near_ip, 0)
        lm = Landmark("far", 0.0, 0.0, link.far_ip)
        async with kind() as prober:
            task = asyncio.create_task(prober.probe(lm, 2.0))
            ident, seq, token = await _next_echo_request(loop, spy)
            spy.sendto(_echo_reply(ident, seq, b"\x00" * len(token)), to_near)  # wrong token
            spy.sendto(_echo_reply(ident, seq ^ 0x5A5A, token), to_near)  # unknown sequence
            spy.sendto(_echo_reply(ident, seq, token, corrupt=True), to_near)  # bad checksum
            await asyncio.sleep(0.1)
            assert not task.done()
            spy.sendto(_echo_reply(ident, seq, token), to_near)
            assert_ok(await task, "so_timestampns")
            spy.sendto(_echo_reply(ident, seq, token), to_near)  # duplicate
            late = await prober.probe(lm, 0.15)  # nobody answers in time: lost, never 0
            assert late.status == "timeout" and late.rtt_ms is None
            ident2, seq2, token2 = await _next_echo_request(loop, spy)
            spy.sendto(_echo_reply(ident2, seq2, token2), to_near)  # late
            await asyncio.sleep(0.1)
        spy.close()
        s = prober.stats
        assert (s.sent, s.answered, s.lost) == (2, 1, 1)
        assert (s.unmatched, s.duplicate, s.late) == (2, 1, 1), s
        assert s.extra["token_mismatch"] == 1
        # The kernel drops bad ICMP checksums before a datagram socket sees them; a raw socket
        # sees them and counts them as malformed.
        assert s.malformed == (1 if kind is IcmpRawProber else 0)

    run_in_netns(link.near, body)


@pytest.mark.parametrize("kind", [IcmpRawProber, IcmpDgramProber])
def test_icmp_error_ends_probe_as_unreachable(link: NetnsLink, kind: type[Prober]) -> None:
    """The far host routes nothing onward: it answers probes beyond it with net unreachable."""
    link.sysctl(link.far, "net.ipv4.ip_forward", "1")
    subprocess.run(
        ["ip", "-n", link.near, "route", "add", "10.77.9.0/24", "via", link.far_ip],
        check=True,
        capture_output=True,
    )

    async def body() -> None:
        async with kind() as prober:
            res = await prober.probe(Landmark("beyond", 0, 0, "10.77.9.9"), 5.0)
        assert res.status == "unreachable" and res.rtt_ms is None
        assert link.far_ip in res.detail and "unreachable" in res.detail

    try:
        run_in_netns(link.near, body)
    finally:
        subprocess.run(["ip", "-n", link.near, "route", "del", "10.77.9.0/24"], check=False)
        link.sysctl(link.far, "net.ipv4.ip_forward", "0")


def test_cli_serve_inside_a_namespace(link: NetnsLink) -> None:
    """``rttgeo serve --netns far`` binds in that namespace: reachable across the veth only."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rttgeo",
            "serve",
            "--lat",
            "1",
            "--lon",
            "2",
            "--port",
            "0",
            "--netns",
            link.far,
            "--id",
            "far",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(re.search(r"port (\d+)", proc.stdout.readline()).group(1))  # type: ignore[union-attr]

        async def body() -> ProbeResult:
            async with UdpProber(port=port) as prober:
                return await prober.probe(Landmark("far", 1, 2, link.far_ip), 2.0)

        assert_ok(run_in_netns(link.near, body), "so_timestampns")
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


@pytest.mark.parametrize("kind", [Icmp6RawProber, Icmp6DgramProber])
def test_icmp6_across_veth(link: NetnsLink, kind: type[Prober]) -> None:
    if not link.far_ip6:
        pytest.skip("this kernel has no IPv6")

    async def body() -> None:
        lm = Landmark("far6", 0.0, 0.0, link.far_ip6)
        async with kind() as prober:
            for _ in range(3):
                assert_ok(await prober.probe(lm, 5.0), "so_timestampns")
            many = await asyncio.gather(*(prober.probe(lm, 5.0) for _ in range(50)))
            loop6 = await prober.probe(Landmark("lo6", 0.0, 0.0, "::1"), 5.0)
        for res in many:
            assert_ok(res, "so_timestampns")
        assert_ok(loop6, "so_timestampns")
        assert prober.stats.answered == 54 and prober.stats.unmatched == 0

    run_in_netns(link.near, body)


@pytest.mark.parametrize("kind", [Icmp6RawProber, Icmp6DgramProber])
def test_icmp6_error_ends_probe_as_unreachable(link: NetnsLink, kind: type[Prober]) -> None:
    if not link.far_ip6:
        pytest.skip("this kernel has no IPv6")
    link.sysctl(link.far, "net.ipv6.conf.all.forwarding", "1")
    subprocess.run(
        ["ip", "-n", link.near, "-6", "route", "add", "fd00:79::/64", "via", link.far_ip6],
        check=True,
        capture_output=True,
    )

    async def body() -> None:
        async with kind() as prober:
            res = await prober.probe(Landmark("beyond6", 0, 0, "fd00:79::9"), 5.0)
        assert res.status == "unreachable" and res.rtt_ms is None, res
        assert link.far_ip6 in res.detail and "unreachable" in res.detail

    try:
        run_in_netns(link.near, body)
    finally:
        subprocess.run(["ip", "-n", link.near, "-6", "route", "del", "fd00:79::/64"], check=False)
        link.sysctl(link.far, "net.ipv6.conf.all.forwarding", "0")
