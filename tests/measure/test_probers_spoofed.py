"""Probers accept only what they asked for (issue #13), with crafted packets: a UDP reply from the
probed address but another port is not taken, a UDP reply announcing another position than the
catalog's ends the probe as ``mismatch``, and a spoofed ICMP error quoting only the IP header and
8 bytes (no token) does not end a probe (it is kept as a hint until the timeout), while one quoting
the token does."""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest

from rttgeo import wire
from rttgeo.measure.icmp import IcmpDgramProber, IcmpRawProber
from rttgeo.measure.udp import UdpProber
from rttgeo.models import Landmark
from rttgeo.serve.netns import in_netns, netns_available, netns_link, run_in_netns
from rttgeo.serve.reflection import ipv4_packet


def _reply(nonce: bytes, lat: float, lon: float) -> bytes:
    return wire.encode(wire.echo_reply(nonce, lat, lon, "fake"))


def test_udp_reply_from_another_port_is_not_taken() -> None:
    async def body() -> None:
        loop = asyncio.get_running_loop()
        fake = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        fake.bind(("127.0.0.1", 0))
        fake.setblocking(False)
        elsewhere = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # same address, other port
        elsewhere.bind(("127.0.0.1", 0))
        lm = Landmark("lo", 1.0, 2.0, "127.0.0.1", port=fake.getsockname()[1])
        async with UdpProber() as prober:
            task = asyncio.create_task(prober.probe(lm, 0.5))
            data, client = await asyncio.wait_for(loop.sock_recvfrom(fake, 2048), 2.0)
            elsewhere.sendto(_reply(wire.decode(data).nonce, 1.0, 2.0), client)
            res = await task
            assert res.status == "timeout" and res.rtt_ms is None, res
            assert prober.stats.unmatched == 1 and prober.stats.answered == 0
        fake.close()
        elsewhere.close()

    asyncio.run(body())


def test_udp_reply_announcing_another_position_is_a_mismatch_not_a_sample() -> None:
    # Regression (issue #13): an impostor answering for Paris became a good sample.
    async def body() -> None:
        loop = asyncio.get_running_loop()
        fake = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        fake.bind(("127.0.0.1", 0))
        fake.setblocking(False)
        paris = Landmark("paris-1", 48.8566, 2.3522, "127.0.0.1", port=fake.getsockname()[1])

        async def answer(lat: float, lon: float, prober: UdpProber):  # type: ignore[no-untyped-def]
            task = asyncio.create_task(prober.probe(paris, 2.0))
            data, client = await asyncio.wait_for(loop.sock_recvfrom(fake, 2048), 2.0)
            fake.sendto(_reply(wire.decode(data).nonce, lat, lon), client)
            return await task

        async with UdpProber() as prober:
            res = await answer(40.4168, -3.7038, prober)  # announces Madrid
            assert res.status == "mismatch" and res.rtt_ms is None, res
            assert "1053 km from the catalog's" in res.detail and "paris-1" in res.detail
            assert prober.stats.extra["mismatch"] == 1
            near = await answer(48.86, 2.35, prober)  # rounded catalog coordinates: within 10 km
            assert near.status == "ok" and near.rtt_ms is not None
        async with UdpProber(position_tolerance_km=None) as lenient:
            assert (await answer(40.4168, -3.7038, lenient)).status == "ok"
        fake.close()

    asyncio.run(body())


# -- spoofed ICMP errors, in namespaces the test makes ---------------------------------------------
def _icmp_checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _icmp_error(src: str, dst: str, icmp_type: int, code: int, quoted: bytes) -> bytes:
    body = struct.pack("!BBHI", icmp_type, code, 0, 0) + quoted
    body = body[:2] + struct.pack("!H", _icmp_checksum(body)) + body[4:]
    return ipv4_packet(src, dst, socket.IPPROTO_ICMP, body)


@pytest.fixture
def link():  # type: ignore[no-untyped-def]
    why = netns_available()
    if why:
        pytest.skip(why)
    with netns_link("rsp") as lk:
        lk.sysctl(lk.near, "net.ipv4.ping_group_range", "0 2147483647")
        lk.sysctl(lk.far, "net.ipv4.icmp_echo_ignore_all", "1")  # the landmark never answers
        yield lk


def _far_sockets(far: str, proto: int) -> tuple[socket.socket, socket.socket]:
    """(a raw socket in ``far`` seeing incoming packets of ``proto``, one sending raw IP)."""
    with in_netns(far):
        sniff = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
        send = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    sniff.settimeout(5.0)
    return sniff, send


def _sniff(sniff: socket.socket, want) -> bytes:  # type: ignore[no-untyped-def]
    while True:
        pkt = sniff.recv(65535)
        if want(pkt):
            return pkt


@pytest.mark.root
@pytest.mark.parametrize("kind", [IcmpDgramProber, IcmpRawProber])
def test_spoofed_icmp_error_without_the_token_does_not_end_the_probe(link, kind) -> None:  # type: ignore[no-untyped-def]
    sniff, send = _far_sockets(link.far, socket.IPPROTO_ICMP)
    far = Landmark("far", 0.0, 0.0, link.far_ip)

    def is_echo(pkt: bytes) -> bool:
        return pkt[9] == 1 and pkt[20] == 8 and socket.inet_ntoa(pkt[12:16]) == link.near_ip

    def spoof(quote_len: int | None) -> None:
        """Wait for the echo request, then send a host unreachable quoting part of it."""
        pkt = _sniff(sniff, is_echo)
        quoted = pkt if quote_len is None else pkt[: 20 + quote_len]
        send.sendto(_icmp_error(link.far_ip, link.near_ip, 3, 1, quoted), (link.near_ip, 0))

    async def body() -> None:
        async with kind() as prober:
            # IP header + 8 bytes: identifier and sequence, no token. Only a hint.
            task = asyncio.create_task(prober.probe(far, 1.5))
            await asyncio.to_thread(spoof, 8)
            res = await task
            assert res.status == "timeout" and res.rtt_ms is None, res
            assert "unverified ICMP error" in res.detail, res
            assert prober.stats.extra.get("unverified_errors", 0) >= 1
            # The whole probe quoted, token included: the error is real and ends the probe.
            task = asyncio.create_task(prober.probe(far, 5.0))
            await asyncio.to_thread(spoof, None)
            res = await task
            assert res.status == "unreachable" and res.rtt_ms is None, res
            # Half the token quoted (8 of 16 bytes, 64 bits) is enough too.
            task = asyncio.create_task(prober.probe(far, 5.0))
            await asyncio.to_thread(spoof, 16)
            assert (await task).status == "unreachable"

    try:
        run_in_netns(link.near, body, timeout_s=60)
    finally:
        sniff.close()
        send.close()


@pytest.mark.root
def test_spoofed_port_unreachable_without_the_nonce_does_not_end_a_udp_probe(link) -> None:  # type: ignore[no-untyped-def]
    with in_netns(link.far):
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # a server that never answers
        silent.bind((link.far_ip, 0))
        send = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    silent.settimeout(5.0)
    port = silent.getsockname()[1]
    far = Landmark("far", 0.0, 0.0, link.far_ip, port=port)

    def spoof(full: bool) -> None:
        data, (_ip, sport) = silent.recvfrom(4096)
        udp = struct.pack("!HHHH", sport, port, 8 + len(data), 0)
        orig = ipv4_packet(link.near_ip, link.far_ip, socket.IPPROTO_UDP, udp + data)
        quoted = orig if full else orig[:28]  # IP header + UDP header: ports, no nonce
        send.sendto(_icmp_error(link.far_ip, link.near_ip, 3, 3, quoted), (link.near_ip, 0))

    async def body() -> None:
        async with UdpProber() as prober:
            task = asyncio.create_task(prober.probe(far, 1.5))
            await asyncio.to_thread(spoof, False)
            res = await task
            assert res.status == "timeout" and res.rtt_ms is None, res
            assert prober.stats.extra.get("foreign_errors", 0) >= 1
            task = asyncio.create_task(prober.probe(far, 5.0))
            await asyncio.to_thread(spoof, True)
            res = await task
            assert res.status == "refused", res

    try:
        run_in_netns(link.near, body, timeout_s=60)
    finally:
        silent.close()
        send.close()

