"""No reflection through ``rttgeo serve`` (issue #13): spoofed SYNs and spoofed UDP requests, injected
into a namespace the test made (rttgeo.serve.reflection), never draw more packets or bytes than they
carried. Root only (a namespace and a TUN device); CI runs as root."""

from __future__ import annotations

import os

import pytest

from rttgeo import wire
from rttgeo.serve import reflection as R
from rttgeo.serve.reflection import ReflectionLab, tcp_segment, udp_datagram

pytestmark = [pytest.mark.root, pytest.mark.timeout(180)]

#: SYN option blocks: every real stack's form (MSS first) and the crafted ones the filter drops.
SYNS = {
    "bare": b"",
    "mss": R.MSS_ONLY,
    "linux": R.LINUX_SYN,
    "ts-only": R.TS_ONLY,
    "mss-ts-ws": R.MSS_TS_WS_TIGHT,
    "sack-only": R.SACK_ONLY,
}
#: Linux resends an unanswered SYN-ACK after 1 s and 3 s (then 7, 15, 31): listening 3.5 s after
#: the last SYN sees the first two resends of any request the kernel kept.
LISTEN_S = 3.5


def _unavailable() -> str | None:
    from rttgeo.errors import LabError
    from rttgeo.lab.netns import check_capable

    try:
        check_capable()
    except LabError as exc:
        return str(exc)
    return None


@pytest.fixture(autouse=True)
def _root_and_tun() -> None:
    why = _unavailable()
    if why:
        pytest.skip(why)


def _syns(dst: str, port: int, net: int, n: int = 40) -> list[bytes]:
    out = []
    for k, opts in enumerate(SYNS.values()):
        for i in range(n):
            src = f"10.{net}.{k}.{1 + i}"  # a fresh victim per SYN: no 4-tuple is reused
            out.append(tcp_segment(src, dst, 20000 + i, port, options=opts, seq=7 + i))
    out += [tcp_segment(f"10.{net}.9.{1 + i}", dst, 30000 + i, port, options=R.MSS_ONLY,
                        payload=b"x" * 64) for i in range(n)]  # SYNs carrying data
    return out


def test_spoofed_syns_draw_at_most_one_synack_each_never_more_bytes(capfd) -> None:
    # Regression (issue #13): 50 spoofed SYNs (2,000 B) drew 304 SYN-ACKs (17,848 B).
    with ReflectionLab(["--tcp"], syncookies=2) as lab:
        r = lab.measure(_syns(lab.server_ip, lab.port, 201), listen_s=LISTEN_S)
        # ACKs, RSTs and data to the listener (e.g. spoofed ACK floods) draw nothing at all.
        acks = [tcp_segment(f"10.202.0.{1 + i}", lab.server_ip, 40000 + i, lab.port,
                            flags=flags, options=R.MSS_ONLY, seq=99, ack=12345)
                for i, flags in enumerate([R.ACK, R.RST, R.ACK | 0x08, 0x01 | R.ACK] * 10)]
        quiet = lab.measure(acks, listen_s=1.0)
    assert r.bytes_out <= r.bytes_in and r.packets_out <= r.packets_in, r
    # Exactly one SYN-ACK per SYN whose options start with MSS (three kinds + data), none else.
    assert r.out_by_kind == {"tcp-synack": 4 * 40}, r
    assert quiet.packets_out == 0, quiet


def test_default_syncookies_bound_the_excess(capfd) -> None:
    """With the kernel default (tcp_syncookies = 1) the kernel keeps one request at a time,
    which may resend once (TCP_SYNCNT 1): at most one extra SYN-ACK per 3 s, never a longer one."""
    with ReflectionLab(["--tcp"], syncookies=1) as lab:
        r = lab.measure(_syns(lab.server_ip, lab.port, 203), listen_s=LISTEN_S)
    assert r.out_by_kind.keys() <= {"tcp-synack"}
    assert 4 * 40 <= r.packets_out <= 4 * 40 + 1 + LISTEN_S / 3, r
    synack_max = 60  # the longest SYN-ACK is no longer than the longest SYN admitted (60 B)
    assert r.bytes_out <= r.packets_out * synack_max


def test_tcp_refused_without_syncookies() -> None:
    from rttgeo.errors import MeasurementError

    with pytest.raises(MeasurementError, match="tcp_syncookies"), ReflectionLab(
        ["--tcp"], syncookies=0
    ):
        pass


def test_spoofed_udp_never_draws_more_bytes_than_it_carried() -> None:
    nonce = os.urandom(16)
    good = wire.encode(wire.echo_request(nonce), pad_to=wire.MIN_REQUEST_SIZE)
    payloads = [
        good,                                                 # a valid request: one reply
        wire.encode(wire.echo_request(nonce), pad_to=200),    # a longer one
        good[:60],                                            # too short: dropped
        b"RTGL" + bytes(200),                                 # malformed
        os.urandom(128),                                      # junk
        b"",                                                  # empty datagram
    ]
    with ReflectionLab(["--source-rate", "1000", "--burst", "1000"]) as lab:
        pkts = [udp_datagram(f"10.204.{k}.{1 + i}", lab.server_ip, 5000 + i, lab.port, p)
                for k, p in enumerate(payloads) for i in range(30)]
        # and a closed port: the kernel's ICMP port unreachable is rate-limited and quotes
        # at most what it got
        pkts += [udp_datagram(f"10.204.9.{1 + i}", lab.server_ip, 5000, lab.port + 1, good)
                 for i in range(30)]
        r = lab.measure(pkts, listen_s=1.0)
    assert r.bytes_out <= r.bytes_in and r.packets_out <= r.packets_in, r
    assert r.out_by_kind.get("udp") == 60, r  # the valid and the long request, 30 sources each
