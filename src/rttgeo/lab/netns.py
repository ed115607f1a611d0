"""Thin wrappers over Linux network namespaces, TUN devices and ``ip`` (iproute2).

Everything here needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN); failures become
:class:`rttgeo.errors.LabError` saying what is missing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import os
import shutil
import struct
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from rttgeo.errors import LabError

T = TypeVar("T")

NETNS_DIR = Path("/run/netns")
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000

_libc: ctypes.CDLL | None = None


def check_capable() -> None:
    """Raise :class:`LabError` saying what is needed if this process cannot build a lab."""
    if os.geteuid() != 0:
        raise LabError(
            "rttgeo lab needs root (it creates network namespaces and TUN devices): "
            "run it with sudo, or as root in a VM or container started with --privileged"
        )
    if shutil.which("ip") is None:
        raise LabError("rttgeo lab needs the 'ip' command of iproute2: apt-get install iproute2")
    if not os.path.exists("/dev/net/tun"):
        raise LabError(
            "rttgeo lab needs /dev/net/tun: load the tun module (modprobe tun) or, in a container, "
            "pass the device (--device /dev/net/tun)"
        )
    if not os.path.exists("/proc/self/ns/net"):
        raise LabError("this kernel has no network namespaces (CONFIG_NET_NS): rttgeo lab needs"
                       " them")


def run_ip(args: Sequence[str], *, batch: Sequence[str] = (), check: bool = True) -> str:
    """Run ``ip ARGS`` (with ``-batch -`` fed ``batch`` lines if given); LabError on failure."""
    cmd = ["ip", *args]
    inp = None
    if batch:
        cmd += ["-batch", "-"]
        inp = "\n".join(batch) + "\n"
    proc = subprocess.run(cmd, input=inp, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise LabError(f"'{' '.join(cmd)}' failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def list_netns() -> list[str]:
    """Names of the named network namespaces (``ip netns list``)."""
    try:
        return sorted(p.name for p in NETNS_DIR.iterdir())
    except FileNotFoundError:
        return []


def netns_pids(name: str) -> list[int]:
    """Pids of the processes living in namespace ``name``."""
    out = run_ip(["netns", "pids", name], check=False)
    return [int(x) for x in out.split() if x.isdigit()]


def list_links(prefix: str) -> list[str]:
    """Names of links in the root namespace starting with ``prefix``."""
    try:
        return sorted(n for n in os.listdir("/sys/class/net") if n.startswith(prefix))
    except FileNotFoundError:  # pragma: no cover
        return []


def open_tun(name: str) -> int:
    """Create TUN device ``name`` (IFF_TUN | IFF_NO_PI) in this namespace; returns its fd.

    The device lives while the fd is open; it keeps working after being moved to another namespace.
    """
    if len(name.encode()) > 15:
        raise LabError(f"interface name {name!r} is longer than 15 bytes")
    try:
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        raise LabError(f"cannot open /dev/net/tun: {exc.strerror} (needs root and the tun module)")\
            from exc
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    except OSError as exc:
        os.close(fd)
        raise LabError(f"cannot create TUN device {name}: {exc.strerror}") from exc
    return fd


def _libc_setns() -> Callable[[int, int], int]:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _libc.setns  # type: ignore[no-any-return]


def in_netns(name: str, fn: Callable[[], T]) -> T:
    """Run ``fn()`` in a helper thread that has joined network namespace ``name``; return its value.

    Sockets created by ``fn`` belong to that namespace and keep working after the thread ends; files
    under /proc/sys/net opened there are the namespace's own sysctls.
    """
    box: dict[str, object] = {}

    def worker() -> None:
        try:
            fd = os.open(NETNS_DIR / name, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc_setns()(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise LabError(f"setns into {name}: {os.strerror(err)}")
            finally:
                os.close(fd)
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the caller
            box["error"] = exc

    t = threading.Thread(target=worker, name=f"netns-{name}")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def write_sysctls(name: str, values: dict[str, str]) -> None:
    """Set net.* sysctls (``{"net/ipv4/ping_group_range": "0 2147483647"}``) inside ``name``."""

    def go() -> None:
        for key, val in values.items():
            path = Path("/proc/sys") / key
            try:
                path.write_text(val)
            except FileNotFoundError:
                continue  # e.g. IPv6 disabled in this kernel
            except OSError as exc:
                raise LabError(f"cannot set {key} in {name}: {exc.strerror}") from exc

    in_netns(name, go)
