"""Clocks for RTTs: kernel receive timestamps paired with a send stamp taken right at send.

The approach (the most accurate one that needs no privilege, the same one iputils ``ping`` uses):

* **Send**: :func:`send_stamp` reads ``CLOCK_REALTIME`` and ``CLOCK_MONOTONIC`` back to back
  (about 0.1 µs apart) immediately before the ``sendto`` system call; the packet is fully built
  before, so the stamp is 2-10 µs before the packet leaves the socket layer.
* **Receive**: the socket asks for ``SO_TIMESTAMPNS``; the kernel stamps each datagram with
  ``CLOCK_REALTIME`` (ns) when it arrives in the network stack, before the event loop, Python and
  the parser ever see it. That removes the wake-up and interpreter delay (20-200 µs in Python) from
  the RTT.
* ``SO_TIMESTAMPNS`` is on the realtime clock, which NTP may step or slew. The RTT is therefore
  ``rx_kernel_realtime - tx_realtime`` only when the realtime-minus-monotonic offset measured
  at send and at receipt agree within the largest legal slew (500 ppm of the elapsed time)
  plus 20 µs, and the kernel RTT lies in ``[0, monotonic RTT]`` (the kernel saw the reply
  before user space did). Otherwise (a clock step, or no kernel stamp) the RTT falls back to
  the monotonic one measured in user space, and ``timing`` says ``monotonic``.

Error budget of ``so_timestampns`` RTTs: +2 to +10 µs (send-side syscall path, as in ``ping``);
of ``monotonic`` RTTs: +10 to +200 µs (event-loop wake-up and interpreter), never negative.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "SCM_TIMESTAMPNS",
    "SO_TIMESTAMPNS",
    "SendStamp",
    "enable_rx_timestamps",
    "kernel_rx_ns",
    "monotonic_ns",
    "realtime_ns",
    "rtt_ns",
    "send_stamp",
]

#: ``SO_TIMESTAMPNS`` (``SO_TIMESTAMPNS_OLD``) on Linux; the control message type is the same value.
SO_TIMESTAMPNS: int = getattr(socket, "SO_TIMESTAMPNS", 35)
SCM_TIMESTAMPNS: int = SO_TIMESTAMPNS
_TIMESPEC = struct.Struct("@qq")  # struct timespec on 64-bit Linux: tv_sec, tv_nsec

#: Room for one timestamp control message in ``recvmsg``.
ANCBUF_SIZE: int = socket.CMSG_SPACE(_TIMESPEC.size) + 64

#: Largest legal clock slew (adjtimex limits the frequency offset to 500 ppm).
_MAX_SLEW_PPM = 500
_SLACK_NS = 20_000

_realtime = time.CLOCK_REALTIME
_clock_gettime_ns = time.clock_gettime_ns
_monotonic_ns = time.monotonic_ns


@dataclass(frozen=True, slots=True)
class SendStamp:
    """Realtime and monotonic readings taken back to back right before ``sendto`` (ns)."""

    real_ns: int
    mono_ns: int


def _clock_pair() -> tuple[int, int]:
    """(realtime, monotonic) read together: monotonic before and after realtime, retried while
    the two monotonic reads are more than 2 µs apart (the thread was preempted in between)."""
    for _ in range(8):
        m0 = _monotonic_ns()
        real = _clock_gettime_ns(_realtime)
        m1 = _monotonic_ns()
        if m1 - m0 <= 2_000:
            break
    return real, (m0 + m1) // 2


def send_stamp() -> SendStamp:
    """Read both clocks together (see ``_clock_pair``), right before ``sendto``; about 0.3 µs."""
    real, mono = _clock_pair()
    return SendStamp(real, mono)


def enable_rx_timestamps(sock: socket.socket) -> bool:
    """Ask the kernel for ``SO_TIMESTAMPNS`` receive stamps; False if the socket refuses."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def kernel_rx_ns(ancdata: Iterable[tuple[int, int, bytes]]) -> int | None:
    """The ``SCM_TIMESTAMPNS`` realtime receive stamp (ns) in ``recvmsg`` ancillary data or None."""
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            sec, nsec = _TIMESPEC.unpack_from(data)
            if sec > 0:
                return sec * 1_000_000_000 + nsec
    return None


def rtt_ns(sent: SendStamp, rx_kernel_real_ns: int | None, rx_mono_ns: int) -> tuple[int, str]:
    """The RTT in ns and the name of the clock that measured it (``so_timestampns``/``monotonic``).

    ``rx_mono_ns`` is the monotonic time at which user space read the reply (an upper bound).
    """
    mono_rtt = rx_mono_ns - sent.mono_ns
    if rx_kernel_real_ns is not None:
        kern_rtt = rx_kernel_real_ns - sent.real_ns
        now_real, now_mono = _clock_pair()
        drift = abs((now_real - now_mono) - (sent.real_ns - sent.mono_ns))
        allowed = (now_mono - sent.mono_ns) * _MAX_SLEW_PPM // 1_000_000 + _SLACK_NS
        if drift <= allowed and 0 <= kern_rtt <= mono_rtt + _SLACK_NS:
            return kern_rtt, "so_timestampns"
    return mono_rtt, "monotonic"


def monotonic_ns() -> int:
    """Monotonic now in ns (``CLOCK_MONOTONIC``): for user-space RTTs and deadlines."""
    return _monotonic_ns()


def realtime_ns() -> int:
    """Wall-clock now in ns: a label for samples (``sent_unix_ns``), never used to time an RTT."""
    return _clock_gettime_ns(_realtime)
