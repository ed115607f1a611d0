"""The delay engines alone (C and pure Python), without root: TUN fds replaced by socketpairs.

A SOCK_DGRAM socketpair keeps packet boundaries like a TUN fd, so each engine's routing by
destination address, its delays, drops and counters are checked on any Linux machine (the C engine
where a C compiler exists).
"""

from __future__ import annotations

import ipaddress
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from rttgeo.errors import LabError, RttgeoWarning
from rttgeo.lab.engine import (
    EngineConfig,
    build_engine,
    engine_command,
    read_stats,
    write_config,
)
from rttgeo.measure import timestamps as ts

BASE = ipaddress.IPv4Address("198.18.4.0")
#: The IPv6 side of the same hosts: host i is PREFIX6 + its IPv4 offset in the block (as in a lab).
NET6 = ipaddress.IPv6Network("fd5e:1234:abcd:100::/64")
PREFIX6 = NET6.network_address.packed[:12]
HAVE_CC = bool(shutil.which("cc") or shutil.which("gcc") or os.environ.get("CC"))
needs_cc = pytest.mark.skipif(not HAVE_CC, reason="no C compiler (apt-get install gcc)")


def ipv4_packet(src: str, dst: str, payload: bytes = b"hello") -> bytes:
    """A minimal IPv4/UDP-shaped packet (the engine reads only the version and destination)."""
    total = 20 + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0, 64, 17, 0,
                      ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed)
    return hdr + payload


def ipv6_packet(src: str, dst: str, payload: bytes = b"hello", ext: bytes = b"") -> bytes:
    """A minimal IPv6 packet, next header UDP (17) or, with ``ext``, a hop-by-hop options header
    (0) carrying ``ext`` before it; the engine reads only the version and the fixed destination."""
    body = (bytes([17, (len(ext) + 2 + 7) // 8 - 1]) + ext).ljust(
        ((len(ext) + 2 + 7) // 8) * 8, b"\0") + payload if ext else payload
    hdr = struct.pack("!IHBB16s16s", 6 << 28, len(body), 0 if ext else 17, 64,
                      ipaddress.IPv6Address(src).packed, ipaddress.IPv6Address(dst).packed)
    return hdr + body


@pytest.fixture(scope="module")
def exe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The C engine compiled once for this module, in a fresh cache."""
    if not HAVE_CC:
        pytest.skip("no C compiler (apt-get install gcc)")
    return build_engine(tmp_path_factory.mktemp("engine-cache"))


@pytest.fixture(params=["c", "python"])
def engine_argv(request: pytest.FixtureRequest) -> list[str]:
    if request.param == "python":
        return [sys.executable, "-m", "rttgeo.lab.pyengine"]
    return [str(request.getfixturevalue("exe"))]


@pytest.fixture
def engine(tmp_path: Path, engine_argv: list[str]) -> Iterator:  # type: ignore[type-arg]
    """``start(one_way_ms, **cfg)`` runs the engine for N hosts: (host socket ends, proc)."""
    procs: list[subprocess.Popen] = []  # type: ignore[type-arg]
    socks: list[socket.socket] = []

    def start(one_way_ms: np.ndarray, **kw):  # type: ignore[no-untyped-def]
        n = one_way_ms.shape[0]
        pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM) for _ in range(n)]
        host_ends = [a for a, _ in pairs]
        eng_ends = [b for _, b in pairs]
        for sock in host_ends:  # delays are timed by the kernel, not by this (maybe busy) process
            assert ts.enable_rx_timestamps(sock)
        socks.extend(host_ends + eng_ends)
        cfg = EngineConfig(
            fds=[s.fileno() for s in eng_ends],
            addresses_u32=[int(BASE) + 1 + i for i in range(n)],
            base_u32=int(BASE),
            block_size=256,
            one_way_ms=one_way_ms,
            prefix6=kw.pop("prefix6", PREFIX6),
            rt_priority=10 if os.geteuid() == 0 else 0,  # as in the lab, where root
            stats_path=tmp_path / "stats.json",
            **kw,
        )
        write_config(cfg, tmp_path / "engine.conf")
        p = subprocess.Popen([*engine_argv, str(tmp_path / "engine.conf")], pass_fds=cfg.fds,
                             stderr=subprocess.PIPE)
        procs.append(p)
        deadline = time.monotonic() + 10
        while not (tmp_path / "stats.json").exists():
            assert p.poll() is None, p.stderr.read() if p.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.01)
        return host_ends, p

    try:
        yield start
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=5)
        for s in socks:
            s.close()


def addr(i: int) -> str:
    return str(BASE + 1 + i)


def addr6(i: int) -> str:
    return str(NET6.network_address + 1 + i)


def recv_timed(sock: socket.socket, timeout_s: float = 2.0) -> tuple[bytes, int] | None:
    """(data, realtime ns at which the engine wrote it: the kernel's stamp of the datagram)."""
    r, _, _ = select.select([sock], [], [], timeout_s)
    if not r:
        return None
    data, anc, _flags, _addr = sock.recvmsg(4096, ts.ANCBUF_SIZE)
    stamp = ts.kernel_rx_ns(anc)
    assert stamp is not None, "no kernel stamp on a socketpair datagram"
    return data, stamp


def _packet(family: int, src: int, dst: int, payload: bytes) -> bytes:
    if family == 4:
        return ipv4_packet(addr(src), addr(dst), payload)
    # every other IPv6 packet carries an extension header: routed by the fixed header all the same
    return ipv6_packet(addr6(src), addr6(dst), payload, ext=b"\x01\x02" * (len(payload) % 2))


@pytest.mark.parametrize("family", [4, 6])
def test_routes_by_destination_with_configured_delay(engine, tmp_path: Path, family: int) -> None:  # type: ignore[no-untyped-def]
    ow = np.array([[0.0, 5.0, 20.0], [5.0, 0.0, 12.5], [20.0, 12.5, 0.0]])
    hosts, proc = engine(ow)
    delays = {}
    for src, dst in ((0, 1), (0, 2), (2, 1), (1, 0)):
        samples = []
        for k in range(8):
            pkt = _packet(family, src, dst, f"{src}{dst}{k}".encode())
            t0 = ts.realtime_ns()
            hosts[src].send(pkt)
            got = recv_timed(hosts[dst])
            assert got is not None, f"{src}->{dst} never arrived"
            data, t1 = got
            assert data == pkt  # delivered unchanged, to the right host only
            samples.append((t1 - t0) / 1e6)
        delays[(src, dst)] = min(samples)
        for other in range(3):
            if other != dst:
                assert recv_timed(hosts[other], 0.0) is None
    for (src, dst), got_ms in delays.items():
        # From just before the send to the kernel's stamp of the engine's write: never early, and
        # the best of 8 within 1 ms (the engine runs SCHED_FIFO as root; the wake-up of this test
        # process, late by several ms on a busy machine, is not part of it).
        assert ow[src, dst] - 0.01 <= got_ms < ow[src, dst] + 1.0, (src, dst, got_ms)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=5) == 0
    st = read_stats(tmp_path / "stats.json")
    assert st["received"] == st["forwarded"] == 32
    assert st["received_ipv6"] == (32 if family == 6 else 0) and st["ipv6"] is True
    assert st["dropped_unroutable"] == st["dropped_loss"] == st["dropped_not_ip"] == 0
    assert sum(st["late_us_hist"]) == 32


def test_ipv4_and_ipv6_of_one_pair_share_its_delay(engine) -> None:  # type: ignore[no-untyped-def]
    """The pair's delay is the same whichever family a packet uses (interleaved, same fds)."""
    ow = np.array([[0.0, 7.5], [7.5, 0.0]])
    hosts, _ = engine(ow)
    got: dict[int, list[float]] = {4: [], 6: []}
    for k in range(16):
        family = 4 if k % 2 else 6
        pkt = _packet(family, 1, 0, bytes([k]))
        t0 = ts.realtime_ns()
        hosts[1].send(pkt)
        r = recv_timed(hosts[0])
        assert r is not None and r[0] == pkt, f"IPv{family} packet {k} lost or changed"
        got[family].append((r[1] - t0) / 1e6)
    for family, samples in got.items():
        assert 7.5 - 0.01 <= min(samples) < 7.5 + 1.0, (family, samples)


def test_drops_unroutable_non_ip_and_counts_loss(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ow = np.array([[0.0, 1.0], [1.0, 0.0]])
    hosts, proc = engine(ow, loss=0.5, seed=42)
    hosts[0].send(ipv4_packet(addr(0), "198.18.4.200"))  # in block, no such host
    hosts[0].send(ipv4_packet(addr(0), "10.1.2.3"))  # outside the block
    hosts[0].send(ipv6_packet(addr6(0), str(NET6.network_address + 200)))  # in prefix, no host
    hosts[0].send(ipv6_packet(addr6(0), "fd5e:1234:abcd:101::2"))  # another /64
    hosts[0].send(ipv6_packet(addr6(0), "ff02::2"))  # a router solicitation's destination
    hosts[0].send(b"\x60" + bytes(30))  # IPv6, truncated header
    hosts[0].send(b"\x45\x00")  # IPv4, truncated header
    hosts[0].send(b"\x50" + bytes(59))  # neither IPv4 nor IPv6
    n = 400
    for k in range(n):
        hosts[0].send(ipv4_packet(addr(0), addr(1), k.to_bytes(4, "big")))
        if k % 50 == 49:
            time.sleep(0.01)  # keep the socketpair's queue from filling
    time.sleep(0.2)
    arrived = 0
    while recv_timed(hosts[1], 0.05) is not None:
        arrived += 1
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=5)
    st = read_stats(tmp_path / "stats.json")
    assert st["dropped_unroutable"] == 5
    assert st["dropped_not_ip"] == 3
    assert st["received_ipv6"] == 3
    assert st["forwarded"] == arrived
    assert st["dropped_loss"] + arrived == n
    assert 0.4 * n < st["dropped_loss"] < 0.6 * n  # binomial(400, 0.5): sd 10


def test_no_prefix6_routes_no_ipv6(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An IPv4-only lab's engine (no prefix6) drops IPv6 packets as unroutable."""
    ow = np.array([[0.0, 1.0], [1.0, 0.0]])
    hosts, proc = engine(ow, prefix6=None)
    hosts[0].send(ipv6_packet(addr6(0), addr6(1)))
    hosts[0].send(ipv4_packet(addr(0), addr(1)))
    got = recv_timed(hosts[1])
    assert got is not None and got[0][0] >> 4 == 4
    assert recv_timed(hosts[1], 0.1) is None
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=5)
    st = read_stats(tmp_path / "stats.json")
    assert st["ipv6"] is False and st["dropped_unroutable"] == 1 and st["forwarded"] == 1


def test_jitter_only_adds_delay(engine) -> None:  # type: ignore[no-untyped-def]
    ow = np.array([[0.0, 2.0], [2.0, 0.0]])
    hosts, _ = engine(ow, jitter_ms=3.0)
    got = []
    for k in range(30):
        t0 = ts.realtime_ns()
        hosts[0].send(ipv4_packet(addr(0), addr(1), bytes([k])))
        r = recv_timed(hosts[1])
        assert r is not None
        got.append((r[1] - t0) / 1e6)
    assert min(got) >= 2.0 - 0.01
    assert max(got) - min(got) > 1.0  # uniform jitter in [0, 3] ms over 30 packets


def test_bad_config_and_shapes() -> None:
    with pytest.raises(LabError, match="12 bytes"):
        EngineConfig(fds=[3], addresses_u32=[1], base_u32=0, block_size=4,
                     one_way_ms=np.zeros((1, 1)), stats_path=Path("/x"), prefix6=bytes(16))
    with pytest.raises(LabError, match="shape"):
        write_config(EngineConfig(fds=[3, 4], addresses_u32=[1, 2], base_u32=0, block_size=4,
                                  one_way_ms=np.zeros((3, 3)), stats_path=Path("/x")),
                     Path("/nonexistent/never-written"))


def test_engine_rejects_bad_config(tmp_path: Path, engine_argv: list[str]) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text("n 2\nfrobnicate 3\n")
    r = subprocess.run([*engine_argv, str(conf)], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "frobnicate" in r.stderr


@needs_cc
def test_c_engine_is_cached(exe: Path) -> None:
    assert build_engine(exe.parent) == exe  # compiled once per version of the source
    assert engine_command("c", exe.parent) == ([str(exe)], "c")


def test_auto_falls_back_to_python_without_compiler(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no cc, gcc, clang
    monkeypatch.delenv("CC", raising=False)
    with pytest.warns(RttgeoWarning, match="no C compiler"):
        argv, kind = engine_command("auto", tmp_path / "empty-cache")
    assert kind == "python" and argv[-1] == "rttgeo.lab.pyengine"
    with pytest.raises(LabError, match="no C compiler"):
        engine_command("c", tmp_path / "empty-cache")
    with pytest.raises(LabError, match="unknown engine"):
        engine_command("rust")
