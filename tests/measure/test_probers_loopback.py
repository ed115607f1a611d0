"""Real probes over 127.0.0.1: ICMP raw and datagram, TCP handshakes, UDP, lost and spoofed replies.

No timing is asserted (timings live in benchmarks/bench_prober_fidelity.py); only that RTTs are
positive, finite, labelled with their clock, and that every reply not ours is counted, not taken.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import subprocess
import sys

import pytest

from rttgeo import wire
from rttgeo.errors import PermissionDenied
from rttgeo.measure.auto import PROTOCOL_NAMES, available_protocols, make_prober
from rttgeo.measure.base import Prober, ProbeResult
from rttgeo.measure.icmp import IcmpDgramProber, IcmpRawProber
from rttgeo.measure.tcp import TcpProber
from rttgeo.measure.udp import UdpProber
from rttgeo.models import Landmark
from rttgeo.serve.netns import netns_available, netns_link, run_in_netns

LO = Landmark("lo", 0.0, 0.0, "127.0.0.1")
IS_ROOT = os.geteuid() == 0


def _status(name: str) -> tuple[bool, str]:
    st = {s.name: s for s in available_protocols()}[name]
    return st.available, st.reason


def assert_ok(res: ProbeResult, timing: str) -> None:
    assert res.status == "ok", res
    assert res.rtt_ms is not None and math.isfinite(res.rtt_ms) and res.rtt_ms > 0
    assert res.timing == timing
    assert res.sent_unix_ns > 1_600_000_000 * 10**9


async def _sequential_then_concurrent(prober: Prober, lm: Landmark, timing: str) -> None:
    async with prober:
        for _ in range(10):
            assert_ok(await prober.probe(lm, 2.0), timing)
        many = await asyncio.gather(*(prober.probe(lm, 2.0) for _ in range(200)))
    for res in many:
        assert_ok(res, timing)
    s = prober.stats
    assert (s.sent, s.answered, s.lost, s.duplicate, s.late, s.malformed) == (210, 210, 0, 0, 0, 0)
    assert s.extra.get("token_mismatch", 0) == 0
    # ``unmatched`` is asserted only where no other process's replies can arrive: a raw ICMP
    # socket also sees other processes' echo replies on loopback (another suite on a shared
    # machine), counted there and ignored.
    if not isinstance(prober, IcmpRawProber):
        assert s.unmatched == 0, s


@pytest.mark.root
def test_icmp_raw_loopback_sequential_and_concurrent_through_one_socket() -> None:
    ok, why = _status("icmp-raw")
    if not ok:
        pytest.skip(why)
    prober = make_prober("icmp-raw")
    assert isinstance(prober, IcmpRawProber)
    asyncio.run(_sequential_then_concurrent(prober, LO, "so_timestampns"))


def test_icmp_dgram_loopback() -> None:
    ok, why = _status("icmp-dgram")
    if ok:
        asyncio.run(_sequential_then_concurrent(IcmpDgramProber(), LO, "so_timestampns"))
        return
    reason = netns_available()
    if reason:
        pytest.skip(f"ICMP datagram socket refused here ({why}) and {reason}")
    # The sysctl is per network namespace: allow it in a private one and use its loopback.
    with netns_link() as link:
        link.sysctl(link.near, "net.ipv4.ping_group_range", "0 2147483647")
        run_in_netns(
            link.near,
            lambda: _sequential_then_concurrent(IcmpDgramProber(), LO, "so_timestampns"),
        )


def test_tcp_handshake_uses_tcp_info_and_closed_port_rst_is_refused_or_opt_in_sample() -> None:
    async def body() -> None:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(512)
        port = listener.getsockname()[1]
        prober = TcpProber()
        try:
            lm = Landmark("lo", 0.0, 0.0, "127.0.0.1", port=port)
            for _ in range(5):
                assert_ok(await prober.probe(lm, 2.0), "tcp_info")
            many = await asyncio.gather(*(prober.probe(lm, 2.0) for _ in range(100)))
            for res in many:
                assert_ok(res, "tcp_info")
        finally:
            listener.close()
        # Now nothing listens there: the RST is a round trip, timed on the monotonic clock, but
        # a sample only when asked for (it might come from a firewall near the prober).
        res = await prober.probe(lm, 2.0)
        assert res.status == "refused" and res.rtt_ms is None and "(RST) after" in res.detail
        res = await TcpProber(rst_is_sample=True).probe(lm, 2.0)
        assert_ok(res, "connect_rst")
        assert "RST" in res.detail

    asyncio.run(body())


def test_tcp_lost_syn_is_timeout_with_no_rtt() -> None:
    async def body() -> None:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)  # the accept queue holds one connection; further SYNs are dropped
        port = listener.getsockname()[1]
        filler = socket.create_connection(("127.0.0.1", port))
        try:
            prober = TcpProber()
            res = await prober.probe(Landmark("lo", 0, 0, "127.0.0.1", port=port), 0.4)
            assert res.status == "timeout" and res.rtt_ms is None
            assert prober.stats.lost == 1
        finally:
            filler.close()
            listener.close()

    asyncio.run(body())


def test_udp_lost_probe_is_timeout_not_zero() -> None:
    async def body() -> None:
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # receives, never answers
        silent.bind(("127.0.0.1", 0))
        async with UdpProber() as prober:
            lm = Landmark("lo", 0, 0, "127.0.0.1", port=silent.getsockname()[1])
            res = await prober.probe(lm, 0.2)
            assert res.status == "timeout" and res.rtt_ms is None
            assert prober.stats.lost == 1 and prober.stats.answered == 0
        silent.close()

    asyncio.run(body())


def test_udp_closed_port_is_refused_at_once_via_icmp_error() -> None:
    async def body() -> None:
        closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        closed.close()  # nothing listens: the kernel answers ICMP port unreachable
        async with UdpProber() as prober:
            lm = Landmark("lo", 0, 0, "127.0.0.1", port=port)
            results = [await prober.probe(lm, 5.0) for _ in range(3)]
        for res in results:
            assert res.status == "refused" and res.rtt_ms is None, res
            assert "port unreachable" in res.detail and "127.0.0.1" in res.detail
        assert prober.stats.answered == 0 and prober.stats.lost == 0

    asyncio.run(body())


def test_udp_spoofed_malformed_duplicate_and_late_replies_are_counted_not_taken() -> None:
    async def body() -> None:
        loop = asyncio.get_running_loop()
        fake = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # plays the landmark by hand
        fake.bind(("127.0.0.1", 0))
        fake.setblocking(False)
        other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # a third party on 127.0.0.2
        other.bind(("127.0.0.2", 0))
        lm = Landmark("lo", 1.0, 2.0, "127.0.0.1", port=fake.getsockname()[1])
        async with UdpProber() as prober:
            task = asyncio.create_task(prober.probe(lm, 2.0))
            data, client = await asyncio.wait_for(loop.sock_recvfrom(fake, 2048), 2.0)
            req = wire.decode(data)
            assert len(data) >= wire.MIN_REQUEST_SIZE

            def reply(nonce: bytes) -> bytes:
                return wire.encode(wire.echo_reply(nonce, 1.0, 2.0, "fake"))

            fake.sendto(reply(bytes(16)), client)  # wrong nonce: unmatched
            other.sendto(reply(req.nonce), client)  # right nonce, wrong source: unmatched
            fake.sendto(b"RTGL\x01\x02garbage", client)  # malformed
            fake.sendto(wire.encode(wire.echo_request(req.nonce), pad_to=128), client)  # malformed
            await asyncio.sleep(0.05)
            assert not task.done()  # none of these was taken as the answer
            fake.sendto(reply(req.nonce), client)
            res = await task
            assert_ok(res, "so_timestampns")
            fake.sendto(reply(req.nonce), client)  # duplicate
            # A reply after the timeout is late, not an RTT.
            res2 = await prober.probe(lm, 0.1)
            assert res2.status == "timeout" and res2.rtt_ms is None
            data2, client = await loop.sock_recvfrom(fake, 2048)
            fake.sendto(reply(wire.decode(data2).nonce), client)
            for _ in range(1000):  # until the prober has read the duplicate and the late reply
                if prober.stats.duplicate + prober.stats.late >= 2:
                    break
                await asyncio.sleep(0.01)
            s = prober.stats
            assert (s.unmatched, s.malformed, s.duplicate, s.late) == (2, 2, 1, 1), s
            assert (s.answered, s.lost) == (1, 1)
            assert s.extra.get("token_mismatch", 0) == 0  # mismatched keys, not tokens
        fake.close()
        other.close()

    asyncio.run(body())


def test_make_prober_names_and_unknown_name() -> None:
    assert isinstance(make_prober("tcp", port=443), TcpProber)
    assert make_prober("tcp", port=443).port == 443  # type: ignore[attr-defined]
    assert isinstance(make_prober("udp"), UdpProber)
    assert set(PROTOCOL_NAMES) >= {"auto", "icmp", "icmp-raw", "icmp-dgram", "tcp", "udp"}
    with pytest.raises(ValueError, match="unknown protocol"):
        make_prober("carrier-pigeon")
    raw_ok, _ = _status("icmp-raw")
    dgram_ok, _ = _status("icmp-dgram")
    if raw_ok:
        assert isinstance(make_prober("auto"), IcmpRawProber)
    elif dgram_ok:
        assert isinstance(make_prober("auto"), IcmpDgramProber)
    else:
        with pytest.raises(PermissionDenied):
            make_prober("auto")


_UNPRIVILEGED_CHECK = """
import sys
from rttgeo.errors import PermissionDenied
from rttgeo.measure.auto import make_prober
for name in ("auto", "icmp-raw", "icmp-dgram"):
    try:
        make_prober(name)
    except PermissionDenied as exc:
        print(name, "::", exc)
    else:
        print(name, ":: allowed")
"""


def test_permission_errors_say_what_to_change() -> None:
    """Without CAP_NET_RAW and outside ping_group_range, each refusal names the fix."""
    if IS_ROOT:
        reason = netns_available()
        if reason:
            pytest.skip(reason)
        # Still uid 0 (so the checkout stays readable) but with no capability at all, in a fresh
        # namespace whose ping_group_range is the kernel default "1 0" (nobody).
        with netns_link() as link:
            out = subprocess.run(
                [
                    "ip", "netns", "exec", link.near, "setpriv", "--bounding-set=-all",
                    "--inh-caps=-all", sys.executable, "-c", _UNPRIVILEGED_CHECK,
                ],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            ).stdout
    else:
        if any(s.available for s in available_protocols() if s.name.startswith("icmp")):
            pytest.skip("this unprivileged process may open an ICMP socket")
        out = subprocess.run(
            [sys.executable, "-c", _UNPRIVILEGED_CHECK],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    lines = dict(line.split(" :: ", 1) for line in out.strip().splitlines())
    assert "CAP_NET_RAW" in lines["icmp-raw"] and "setcap" in lines["icmp-raw"]
    assert 'sysctl -w net.ipv4.ping_group_range="0 2147483647"' in lines["icmp-dgram"]
    assert "is 1 0" in lines["icmp-dgram"]
    for needle in ("CAP_NET_RAW", "ping_group_range", "tcp"):
        assert needle in lines["auto"]


def test_udp_turnaround_subtracted_only_when_trusted_and_plausible() -> None:
    async def one(prober: UdpProber, turnaround_ns: int) -> ProbeResult:
        loop = asyncio.get_running_loop()
        fake = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        fake.bind(("127.0.0.1", 0))
        fake.setblocking(False)
        lm = Landmark("lo", 1.0, 2.0, "127.0.0.1", port=fake.getsockname()[1])
        task = asyncio.create_task(prober.probe(lm, 2.0))
        data, client = await asyncio.wait_for(loop.sock_recvfrom(fake, 2048), 2.0)
        await asyncio.sleep(0.002)  # the "server" holds the request for >= 2 ms
        reply = wire.encode(wire.echo_reply(wire.decode(data).nonce, 1.0, 2.0, "f"))
        fake.sendto(reply + wire.turnaround_tlv(turnaround_ns), client)
        res = await task
        fake.close()
        return res

    async def body() -> None:
        async with UdpProber() as untrusting, UdpProber(subtract_turnaround=True) as trusting:
            raw = await one(untrusting, 1_000_000)
            assert_ok(raw, "so_timestampns")
            assert (
                raw.rtt_ms is not None
                and raw.rtt_ms >= 2.0
                and "turnaround_us=1000.0" in raw.detail
            )
            adj = await one(trusting, 1_000_000)
            assert_ok(adj, "so_timestampns-turnaround")
            assert adj.rtt_ms is not None and adj.rtt_ms >= 1.0
            # A turnaround longer than the RTT itself is impossible: it is not subtracted.
            bogus = await one(trusting, 5_000_000_000 // 2)
            assert_ok(bogus, "so_timestampns")

    asyncio.run(body())


def test_closing_with_probes_in_flight_ends_them_as_errors() -> None:
    async def body() -> None:
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent.bind(("127.0.0.1", 0))
        prober = UdpProber(port=silent.getsockname()[1])
        await prober.open()
        task = asyncio.create_task(prober.probe(LO, 5.0))
        await asyncio.sleep(0.05)
        await prober.close()
        res = await task
        assert res.status == "error" and res.rtt_ms is None and "closed" in res.detail
        silent.close()

    asyncio.run(body())


@pytest.mark.root
def test_icmp_raw_many_landmarks_at_once_demultiplexed_by_address() -> None:
    ok, why = _status("icmp-raw")
    if not ok:
        pytest.skip(why)

    async def body() -> None:
        lms = [Landmark(f"l{i}", 0.0, 0.0, f"127.0.{i // 200}.{1 + i % 200}") for i in range(300)]
        async with IcmpRawProber() as prober:
            results = await asyncio.gather(*(prober.probe(lm, 5.0) for lm in lms for _ in range(3)))
        for res in results:
            assert_ok(res, "so_timestampns")
        # Every probe got its own reply and none was handed another probe's token. ``unmatched``
        # is not asserted: a raw ICMP socket also sees other processes' echo replies (another
        # suite pinging loopback on a shared machine), which are counted there and ignored.
        assert prober.stats.answered == 900
        assert prober.stats.extra.get("token_mismatch", 0) == 0 and prober.stats.duplicate == 0

    asyncio.run(body())


@pytest.mark.root
def test_replies_dropped_by_a_full_socket_buffer_are_lost_and_counted() -> None:
    ok, why = _status("icmp-raw")
    if not ok:
        pytest.skip(why)

    async def body() -> None:
        async with IcmpRawProber() as prober:
            assert prober._sock is not None
            prober._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # tiny on purpose
            results = await asyncio.gather(*(prober.probe(LO, 0.5) for _ in range(300)))
        lost = [r for r in results if r.status == "timeout"]
        assert lost and all(r.rtt_ms is None for r in lost)
        assert prober.stats.answered + prober.stats.lost == 300
        assert prober.stats.extra["kernel_drops"] >= 1

    asyncio.run(body())


class _CloggedSocket:
    """A real socket whose first ``clogged`` sends fail as if the send buffer were full."""

    def __init__(self, sock: socket.socket, clogged: int) -> None:
        self._sock, self.clogged = sock, clogged

    def sendto(self, data: bytes, addr: tuple) -> int:  # type: ignore[type-arg]
        if self.clogged > 0:
            self.clogged -= 1
            raise BlockingIOError
        return self._sock.sendto(data, addr)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._sock, name)


def test_full_send_buffer_makes_probes_wait_not_hang() -> None:
    """Regression: each waiting probe used to replace the others' writer callback, so all but one
    waited forever. Now they share one callback and all complete."""

    async def body() -> None:
        from rttgeo.serve import LandmarkServer

        async with (
            LandmarkServer(0.0, 0.0, host="127.0.0.1", port=0, rate_per_s=1e6, burst=1e6) as srv,
            UdpProber(port=srv.port) as prober,
        ):
            prober._sock = _CloggedSocket(prober._sock, clogged=15)  # type: ignore[arg-type,assignment]
            results = await asyncio.wait_for(
                asyncio.gather(*(prober.probe(LO, 2.0) for _ in range(20))), 10.0
            )
        assert [r.status for r in results] == ["ok"] * 20

    asyncio.run(body())


def test_cancelled_probe_leaves_nothing_pending() -> None:
    async def body() -> None:
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent.bind(("127.0.0.1", 0))
        async with UdpProber(port=silent.getsockname()[1]) as prober:
            task = asyncio.create_task(prober.probe(LO, 5.0))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert prober._pending == {}
        silent.close()

    asyncio.run(body())


@pytest.mark.root
def test_ipv6_landmark_on_the_ipv4_icmp_prober_is_an_error_result_saying_what_to_use() -> None:
    ok, why = _status("icmp-raw")
    if not ok:
        pytest.skip(why)

    async def body() -> None:
        async with IcmpRawProber() as prober:
            res = await prober.probe(Landmark("v6", 0, 0, "::1"), 1.0)
        assert res.status == "error" and res.rtt_ms is None
        assert "IPv6 address" in res.detail and "icmp6" in res.detail
        assert prober.stats.sent == 0

    asyncio.run(body())


def test_icmp_error_about_one_probe_does_not_fail_the_next_send() -> None:
    """Regression: with IP_RECVERR the port unreachable for a probe to a closed port left a
    pending socket error, and the next probe's sendto failed with "Connection refused"."""

    async def body() -> None:
        from rttgeo.serve import LandmarkServer

        closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        closed.bind(("127.0.0.1", 0))
        dead_port = closed.getsockname()[1]
        closed.close()
        async with (
            LandmarkServer(0.0, 0.0, host="127.0.0.1", port=0, rate_per_s=1e6, burst=1e6) as srv,
            UdpProber() as prober,
        ):
            dead = Landmark("dead", 0, 0, "127.0.0.1", port=dead_port)
            live = Landmark("live", 0, 0, "127.0.0.1", port=srv.port)
            results = await asyncio.gather(
                *(prober.probe(lm, 2.0) for _ in range(5) for lm in (dead, live))
            )
        assert [r.status for r in results] == ["refused", "ok"] * 5, results

    asyncio.run(body())
