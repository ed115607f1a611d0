"""The RTT clock logic: kernel receive stamps paired with realtime send stamps; fallbacks."""

from __future__ import annotations

import socket
import struct

from rttgeo.measure import timestamps as ts


def test_kernel_rx_stamp_parsed_from_ancillary_data() -> None:
    sec, nsec = 1_700_000_000, 123_456_789
    anc = [(socket.SOL_SOCKET, ts.SCM_TIMESTAMPNS, struct.pack("@qq", sec, nsec))]
    assert ts.kernel_rx_ns(anc) == sec * 10**9 + nsec
    assert ts.kernel_rx_ns([]) is None
    assert ts.kernel_rx_ns([(socket.SOL_SOCKET, ts.SCM_TIMESTAMPNS, b"\x00" * 4)]) is None


def test_kernel_rtt_used_when_clocks_agree() -> None:
    sent = ts.send_stamp()
    rx_real = sent.real_ns + 250_000  # the kernel saw the reply 250 µs after the send stamp
    rx_mono = ts.monotonic_ns() + 1_000_000  # user space read it later
    rtt, timing = ts.rtt_ns(sent, rx_real, rx_mono)
    assert (rtt, timing) == (250_000, "so_timestampns")


def test_clock_step_falls_back_to_monotonic() -> None:
    """Regression guard: a realtime step between send and receive must not become the RTT."""
    now = ts.send_stamp()
    stepped = ts.SendStamp(now.real_ns - 5_000_000_000, now.mono_ns)  # realtime stepped by +5 s
    rx_mono = now.mono_ns + 400_000
    rtt, timing = ts.rtt_ns(stepped, now.real_ns + 300_000, rx_mono)
    assert (rtt, timing) == (400_000, "monotonic")


def test_kernel_stamp_later_than_user_read_or_negative_is_refused() -> None:
    sent = ts.send_stamp()
    rx_mono = sent.mono_ns + 100_000
    assert ts.rtt_ns(sent, sent.real_ns - 1000, rx_mono) == (100_000, "monotonic")
    assert ts.rtt_ns(sent, sent.real_ns + 10_000_000, rx_mono) == (100_000, "monotonic")
    assert ts.rtt_ns(sent, None, rx_mono) == (100_000, "monotonic")


def test_real_udp_socket_delivers_kernel_stamps() -> None:
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        b.bind(("127.0.0.1", 0))
        assert ts.enable_rx_timestamps(b)
        sent = ts.send_stamp()
        a.sendto(b"x", b.getsockname())
        _data, anc, _flags, _addr = b.recvmsg(16, ts.ANCBUF_SIZE)
        rx_mono = ts.monotonic_ns()
        stamp = ts.kernel_rx_ns(anc)
        assert stamp is not None
        rtt, timing = ts.rtt_ns(sent, stamp, rx_mono)
        assert timing == "so_timestampns" and 0 <= rtt <= rx_mono - sent.mono_ns + 20_000
    finally:
        a.close()
        b.close()
