"""Run socket-creating code inside a named network namespace (``ip netns``), one thread at a time.

A socket belongs to the network namespace of the thread that created it and keeps it for life, so
``with in_netns("far"): sock = socket.socket(...)`` creates a socket "inside" namespace ``far`` that
any thread may use afterwards. Used by ``rttgeo serve --netns``, by the prober tests and by
benchmarks/bench_prober_fidelity.py. Linux only; needs CAP_SYS_ADMIN (root).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import os
import secrets
import shutil
import subprocess
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from rttgeo.errors import MeasurementError, PermissionDenied

__all__ = ["NetnsLink", "in_netns", "netns_available", "netns_link", "run_in_netns"]

T = TypeVar("T")

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


@dataclass(frozen=True, slots=True)
class NetnsLink:
    """Two fresh network namespaces ``near`` and ``far`` joined by one veth pair.

    ``near_ip``/``far_ip`` are the addresses of each end (a private /30, reachable only between
    the two namespaces), ``near_ip6``/``far_ip6`` IPv6 ones (fd00:77::/64, no duplicate address
    detection delay; empty without IPv6); both namespaces also have their own loopback up.
    """

    near: str
    far: str
    near_ip: str
    far_ip: str
    near_ip6: str = ""  # "" when the kernel has no IPv6
    far_ip6: str = ""

    def sysctl(self, ns: str, key: str, value: str) -> None:
        """Set ``key`` (e.g. ``net.ipv4.ping_group_range``) inside namespace ``ns`` only."""
        path = "/proc/sys/" + key.replace(".", "/")
        _ip("netns", "exec", ns, "sh", "-c", f'echo "{value}" > {path}')


def _ip(*args: str) -> None:
    try:
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=20)
    except FileNotFoundError:
        raise MeasurementError("the `ip` command is missing: install iproute2") from None
    except subprocess.CalledProcessError as exc:
        raise MeasurementError(f"ip {' '.join(args)} failed: {exc.stderr.strip()}") from None


_AVAILABLE: list[str | None] = []


def netns_available() -> str | None:
    """None if this process can build a :func:`netns_link`, else the reason why not.

    Tries once (then caches): root, the ``ip`` command, and creating and deleting a namespace
    (a root process in a container without CAP_SYS_ADMIN cannot).
    """
    if _AVAILABLE:
        return _AVAILABLE[0]
    reason: str | None = None
    if os.geteuid() != 0:
        reason = "network namespaces need root"
    elif shutil.which("ip") is None:
        reason = "the `ip` command (iproute2) is missing"
    else:
        name = f"rtgprobe{os.getpid()}{secrets.token_hex(2)}"
        try:
            _ip("netns", "add", name)
        except MeasurementError as exc:
            reason = f"cannot create a network namespace here: {exc}"
        else:
            with contextlib.suppress(MeasurementError):
                _ip("netns", "del", name)
    _AVAILABLE.append(reason)
    return reason


@contextmanager
def netns_link(prefix: str = "rtg") -> Iterator[NetnsLink]:
    """Create two namespaces joined by a veth pair (unique names); always delete them on exit."""
    tag = f"{os.getpid() % 100000:05d}{secrets.token_hex(2)}"
    near, far = f"{prefix}n{tag}", f"{prefix}f{tag}"
    va, vb = f"rg{tag}a", f"rg{tag}b"  # <= 15 characters
    made: list[str] = []
    try:
        for ns in (near, far):
            _ip("netns", "add", ns)
            made.append(ns)
        _ip("link", "add", va, "netns", near, "type", "veth", "peer", "name", vb, "netns", far)
        _ip("-n", near, "addr", "add", "10.77.0.1/30", "dev", va)
        _ip("-n", far, "addr", "add", "10.77.0.2/30", "dev", vb)
        near6 = far6 = ""
        with contextlib.suppress(MeasurementError):  # IPv6 may be disabled
            _ip("-n", near, "addr", "add", "fd00:77::1/64", "dev", va, "nodad")
            _ip("-n", far, "addr", "add", "fd00:77::2/64", "dev", vb, "nodad")
            near6, far6 = "fd00:77::1", "fd00:77::2"
        for ns, dev in ((near, va), (far, vb)):
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "link", "set", dev, "up")
        yield NetnsLink(near, far, "10.77.0.1", "10.77.0.2", near6, far6)
    finally:
        for ns in made:  # deleting a namespace deletes its end of the veth, hence both ends
            with contextlib.suppress(MeasurementError):
                _ip("netns", "del", ns)


def run_in_netns(
    name: str, main: Callable[[], Coroutine[Any, Any, T]], timeout_s: float = 60.0
) -> T:
    """Run ``asyncio.run(main())`` in a fresh thread that lives inside namespace ``name``.

    Every socket the coroutine creates (probers, servers) belongs to that namespace; use
    :func:`in_netns` inside it to create some sockets in another one. Exceptions propagate.
    """
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            with in_netns(name):
                out["result"] = asyncio.run(main())
        except BaseException as exc:  # re-raised in the caller
            out["error"] = exc

    thread = threading.Thread(target=target, name=f"netns-{name}", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise MeasurementError(f"code in namespace {name!r} did not finish in {timeout_s} s")
    if "error" in out:
        raise out["error"]
    return out["result"]  # type: ignore[no-any-return]
