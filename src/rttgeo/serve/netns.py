"""Run socket-creating code inside a named network namespace (``ip netns``), one thread at a time.

A socket belongs to the network namespace of the thread that created it and keeps it for life, so
``with in_netns("far"): sock = socket.socket(...)`` creates a socket "inside" namespace ``far`` that
any thread may use afterwards. Used by ``rttgeo serve --netns``, by the prober tests and by
benchmarks/bench_prober_fidelity.py. Linux only; needs CAP_SYS_ADMIN (root).
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager

from rttgeo.errors import MeasurementError, PermissionDenied

__all__ = ["in_netns"]

CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        if err == errno.EPERM:
            raise PermissionDenied(
                "entering a network namespace needs root (CAP_SYS_ADMIN): run as root"
            )
        raise MeasurementError(f"setns failed: {os.strerror(err)}")


@contextmanager
def in_netns(name: str) -> Iterator[None]:
    """Switch the calling thread into ``/var/run/netns/<name>`` and back on exit."""
    path = f"/var/run/netns/{name}"
    try:
        target = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise MeasurementError(
            f"no network namespace {name!r} ({path} is missing): create it with ip netns add"
        ) from None
    orig = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(orig)
    finally:
        os.close(target)
        os.close(orig)
