"""Bring a world up as network namespaces joined by the delay engine, and tear it down again.

Layout of one lab with id ``ID`` (4 hex digits, random, distinct from every other lab):

- run dir ``/run/rttgeo-lab/ID/`` (``$RTTGEO_LAB_RUN`` overrides the root): ``state.json`` (hosts,
  namespaces, addresses, pids), ``world.json`` (the resolved world), ``catalog.csv`` (the landmarks
  for ``rttgeo locate --landmarks``), ``hosts.csv``, the engine's config, log and stats, and one log
  per landmark server under ``logs/``; with ``signed``, ``keys/`` (each landmark's Ed25519 key and
  the catalog signer's, mode 0600), ``catalog.signed.json`` and ``catalog.pub``;
- one network namespace per host, ``rttgeo-ID-NAME``, holding the TUN device ``rgID-K`` (K = host
  index) with the host's address (/32) and a route to the lab's block through it, and (dual-stack,
  the default where the kernel has IPv6) its IPv6 address (/128) and a route to the lab's /64;
- one address block per lab, carved from 198.18.0.0/15 (default /22, 1,022 hosts), never overlapping
  another lab's, and one IPv6 /64 (:func:`network6_for`): a ULA /48 derived from the run root, the
  IPv4 block's offset as subnet id, each host's IPv4 offset in the block as interface id, so
  ``198.18.0.5`` is ``fdXX:XXXX:XXXX::5``. The TUN devices are layer-3 and NOARP: no neighbour
  discovery, duplicate address detection or solicited-node group on them; link-local addresses
  and router solicitations are off, so only the hosts' own traffic reaches the engine;
- the engine process (its command line names the run dir) and, in each landmark's namespace,
  ``rttgeo serve --lat --lon --port --tcp`` (started with ``ip netns exec``).

A lab belongs to its run root. Every namespace of a lab carries its run dir as the alias of its
``lo`` device (``rttgeo-lab:/run/rttgeo-lab/ID``), and the engine's command line names the run dir,
so a lab found by its id is claimed by exactly one run dir. ``find_orphans`` lists only leftovers
claimed by a vanished run dir of this root (or claimed by nothing and without a live engine), and
``down(force=True)`` sweeps namespaces ``rttgeo-ID-*``, links ``rgID-*``, processes inside those
namespaces and the engine whose command line names the run dir, and nothing else: never a lab whose
namespaces or live engine name a run dir elsewhere.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import importlib.util
import ipaddress
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rttgeo.errors import LabError
from rttgeo.lab import netns
from rttgeo.lab.engine import (
    DEFAULT_RT_PRIORITY,
    DEFAULT_SPIN_NS,
    EngineConfig,
    engine_command,
    read_stats,
    write_config,
)
from rttgeo.lab.world import LAB_NETWORK, World, check_host_count, parse_world

__all__ = ["Lab", "down", "find_labs", "find_orphans", "ipv6_supported", "network6_for", "run_root",
           "up"]

NETNS_PREFIX = "rttgeo-"
LINK_PREFIX = "rg"
#: Prefix of the ``lo`` alias that records, inside each namespace, the run dir owning it.
OWNER_PREFIX = "rttgeo-lab:"
#: sysctls set in every host namespace: unprivileged ICMP echo sockets for every group, SYN
#: cookies for every SYN (the landmark servers' TCP listeners then answer each SYN with exactly one
#: SYN-ACK: docs/serve.md), no IPv6 (the engine moves IPv4 only; this keeps router solicitations
#: off the links).
HOST_SYSCTLS = {
    "net/ipv4/ping_group_range": "0 2147483647",
    "net/ipv4/tcp_syncookies": "2",
    "net/ipv6/conf/all/disable_ipv6": "1",
    "net/ipv6/conf/default/disable_ipv6": "1",
}
#: sysctls of a dual-stack lab's host namespaces instead of the two above, set before the TUN device
#: moves in (a device takes its namespace's ``default`` values when it arrives): IPv6 on, no
#: link-local address (``addr_gen_mode`` 1), no router solicitations or advertisements, no duplicate
#: address detection. Neighbour discovery needs no switch: a TUN device is NOARP, so the kernel
#: resolves no neighbour and joins no solicited-node group on it; nothing but the hosts' own
#: packets reaches the engine (tests/lab/test_lab_ipv6.py counts it).
HOST_SYSCTLS_IPV6 = {
    "net/ipv6/conf/all/disable_ipv6": "0",
    "net/ipv6/conf/default/disable_ipv6": "0",
    "net/ipv6/conf/default/addr_gen_mode": "1",
    "net/ipv6/conf/default/accept_ra": "0",
    "net/ipv6/conf/default/router_solicitations": "0",
    "net/ipv6/conf/default/accept_dad": "0",
}
#: Every lab's IPv6 /48 is a unique local one (RFC 4193) inside this prefix.
ULA_NETWORK = ipaddress.IPv6Network("fd00::/8")


def ipv6_supported() -> bool:
    """Whether this kernel has IPv6 (``/proc/sys/net/ipv6``; absent when booted ``ipv6.disable=1``)."""
    return os.path.isdir("/proc/sys/net/ipv6")


def network6_for(root: Path, network: ipaddress.IPv4Network) -> ipaddress.IPv6Network:
    """The IPv6 /64 of the lab whose IPv4 block under run root ``root`` is ``network``.

    ``fd`` + the first 40 bits of SHA-256 of the run root's resolved path (RFC 4193's pseudo-random
    global id: another run root gets another /48), then the IPv4 block's offset in 198.18.0.0/15
    divided by 4 as the 16-bit subnet id: IPv4 blocks of one root never overlap, so neither do their
    /64s. A host's interface id is its IPv4 offset in the block (see :meth:`Lab.address6`).
    """
    global_id = hashlib.sha256(str(Path(root).resolve()).encode()).digest()[:5]
    offset = int(network.network_address) - int(LAB_NETWORK.network_address)
    if not 0 <= offset < LAB_NETWORK.num_addresses or offset % 4:
        raise LabError(f"{network} is not a lab block of {LAB_NETWORK}")
    prefix = b"\xfd" + global_id + (offset // 4).to_bytes(2, "big") + bytes(8)
    return ipaddress.IPv6Network((prefix, 64))


def _address6(network6: ipaddress.IPv6Network, network: ipaddress.IPv4Network, address: str) -> str:
    return str(network6.network_address
               + (int(ipaddress.IPv4Address(address)) - int(network.network_address)))


def run_root() -> Path:
    """Directory holding one run dir per lab (``$RTTGEO_LAB_RUN`` or ``/run/rttgeo-lab``)."""
    return Path(os.environ.get("RTTGEO_LAB_RUN", "/run/rttgeo-lab"))


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@dataclass(frozen=True, slots=True)
class LabHost:
    """One host of a running lab."""

    name: str
    role: str
    lat_deg: float
    lon_deg: float
    address: str
    netns: str
    tun: str
    address6: str = ""  # "" in an IPv4-only lab


class Lab:
    """A running (or half-built) lab, read from its run dir. Create with :func:`up`."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.id = self.run_dir.name
        try:
            self.state: dict[str, Any] = json.loads((self.run_dir / "state.json").read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise LabError(f"lab {self.id}: cannot read {self.run_dir}/state.json ({exc}); "
                           f"use 'rttgeo lab down {self.id} --force'") from exc
        self.hosts = [
            LabHost(h["name"], h["role"], h["lat_deg"], h["lon_deg"], h["address"], h["netns"],
                    h["tun"], h.get("address6") or "")
            for h in self.state["hosts"]
        ]

    def __repr__(self) -> str:
        return f"Lab(id={self.id!r}, world={self.state.get('world')!r}, hosts={len(self.hosts)})"

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        down(self.id, force=True)

    # ------------------------------------------------------------------ lookups
    def host(self, name: str) -> LabHost:
        for h in self.hosts:
            if h.name == name:
                return h
        raise LabError(f"lab {self.id} has no host {name!r} (hosts: "
                       f"{', '.join(h.name for h in self.hosts[:10])}...)")

    def address(self, name: str) -> str:
        return self.host(name).address

    def address6(self, name: str) -> str:
        """Host ``name``'s IPv6 address; LabError in an IPv4-only lab."""
        h = self.host(name)
        if not h.address6:
            raise LabError(f"lab {self.id} is IPv4 only (brought up with ipv6=False or on a "
                           f"kernel without IPv6): host {name!r} has no IPv6 address")
        return h.address6

    @property
    def catalog_path(self) -> Path:
        """The landmarks' catalog CSV (``id,lat_deg,lon_deg,address,port,protocols``)."""
        return self.run_dir / "catalog.csv"

    @property
    def catalog6_path(self) -> Path:
        """The landmarks' catalog with their IPv6 addresses (same ids and columns); it exists in a
        dual-stack lab only. For ``rttgeo locate --protocol icmp6`` (or ``tcp``, ``udp``)."""
        return self.run_dir / "catalog6.csv"

    @property
    def signed_catalog_path(self) -> Path:
        """The signed catalog of a lab brought up with ``signed`` (docs/verify.md)."""
        return self.run_dir / "catalog.signed.json"

    @property
    def catalog_key_path(self) -> Path:
        """The public key (hex) that signed :attr:`signed_catalog_path`: what verifiers trust."""
        return self.run_dir / "catalog.pub"

    @property
    def world(self) -> World:
        """The resolved world the lab runs (RTT matrix as configured)."""
        return parse_world(json.loads((self.run_dir / "world.json").read_text()),
                           where=str(self.run_dir / "world.json"))

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.state["network"])

    @property
    def network6(self) -> ipaddress.IPv6Network | None:
        """The lab's IPv6 /64, None in an IPv4-only lab."""
        net = self.state.get("network6")
        return ipaddress.IPv6Network(net) if net else None

    def engine_pid(self) -> int | None:
        pid = self.state.get("engine_pid")
        return pid if pid and _alive(pid) and _pid_names(pid, str(self.run_dir)) else None

    @property
    def status(self) -> str:
        """``up``, ``starting``, or ``engine dead`` when the delay engine started but is gone
        (packets no longer cross the lab: take it down and up again)."""
        recorded = str(self.state.get("status", "unknown"))
        if self.state.get("engine_pid") and self.engine_pid() is None:
            return "engine dead"
        return recorded

    def stats(self, *, fresh: bool = False, timeout_s: float = 3.0) -> dict[str, Any]:
        """The engine's counters, lateness histogram (µs) and CPU seconds.

        The engine rewrites them about once a second; with ``fresh`` this waits (up to
        ``timeout_s``) for a copy taken after the call, so it counts every packet sent before it.
        """
        path = self.run_dir / "engine.stats.json"
        if not fresh:
            return read_stats(path)
        since = time.monotonic_ns()
        deadline = time.monotonic() + timeout_s
        while True:
            st = read_stats(path)
            if st.get("monotonic_ns", 0) > since:
                return st
            if time.monotonic() > deadline:
                raise LabError(f"lab {self.id}: the engine wrote no stats for {timeout_s} s; "
                               f"is it running? (see {self.run_dir / 'engine.log'})")
            time.sleep(0.05)

    # ------------------------------------------------------------------ running things
    def command(self, host: str, argv: Sequence[str]) -> list[str]:
        """``argv`` wrapped to run inside ``host``'s namespace (LabError unless root)."""
        h = self.host(host)
        if os.geteuid() != 0:
            raise LabError(f"entering host {host!r} of lab {self.id} needs root (ip netns exec "
                           "joins a network namespace): run it with sudo")
        return ["ip", "netns", "exec", h.netns, *argv]

    def exec(self, host: str, argv: Sequence[str], *, timeout_s: float | None = 120.0,
             check: bool = False, **kw: Any) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside ``host``'s namespace and wait for it (captured text output)."""
        kw.setdefault("capture_output", True)
        return subprocess.run(self.command(host, argv), text=True, timeout=timeout_s, check=check,
                              **kw)

    def in_host(self, host: str, fn: Any) -> Any:
        """Call ``fn()`` in a thread inside ``host``'s namespace (sockets it makes stay there)."""
        return netns.in_netns(self.host(host).netns, fn)


# ------------------------------------------------------------------------------------------- up
def up(
    world: World,
    *,
    serve: bool | None = None,
    seed: int = 1,
    spin_ns: int = DEFAULT_SPIN_NS,
    bias_ns: int = 0,
    rt_priority: int = DEFAULT_RT_PRIORITY,
    engine: str = "auto",
    ready_timeout_s: float = 60.0,
    signed: bool = False,
    ipv6: bool | None = None,
) -> Lab:
    """Build ``world`` as a lab and return it; on any failure, everything built so far is removed.

    ``serve``: run ``rttgeo serve`` on every landmark (None: if the serve command is installed).
    ``bias_ns`` is subtracted from every one-way delay (0 by default; see docs/lab.md).
    ``rt_priority``: SCHED_FIFO priority of the engine (0 = normal scheduling).
    ``engine``: ``c``, ``python`` or ``auto`` (C if a compiler is found; see rttgeo.lab.engine).
    ``signed``: give every landmark an Ed25519 key, run ``rttgeo serve --key``, and write a signed
    catalog (:attr:`Lab.signed_catalog_path`) and its signer's public key (docs/verify.md).
    ``ipv6``: give every host an IPv6 address too (None: when the kernel has IPv6; True without
    it is a LabError); the engine routes both families with the same per-pair delays.
    Raises :class:`LabError` if not root or namespaces / TUN are missing.
    """
    netns.check_capable()
    engine_argv, engine_kind = engine_command(engine)
    if serve is None:
        serve = importlib.util.find_spec("rttgeo.cli.serve_cmds") is not None
    root = run_root()
    check_host_count(len(world), world.name)
    if ipv6 is None:
        ipv6 = ipv6_supported()
    elif ipv6 and not ipv6_supported():
        raise LabError("this kernel has no IPv6 (no /proc/sys/net/ipv6: booted with "
                       "ipv6.disable=1?): bring the lab up IPv4 only (--no-ipv6)")
    owner = str((root / "0000").resolve())
    if len(OWNER_PREFIX + owner) > 255 or any(c in owner for c in '"\\\n'):
        raise LabError(f"run root {root} must be a path of under 230 characters without quotes, "
                       "backslashes or newlines (it is recorded inside each namespace)")
    with _locked(root):
        lab_id = _new_id(root)
        network = _allocate_block(root, world.prefix_len)
        run_dir = root / lab_id
        run_dir.mkdir(mode=0o755)
        (run_dir / "logs").mkdir()
        addrs = [str(network.network_address + 1 + i) for i in range(len(world))]
        network6 = network6_for(root, network) if ipv6 else None
        hosts = [
            {
                "name": h.name,
                "role": h.role,
                "lat_deg": h.lat_deg,
                "lon_deg": h.lon_deg,
                "address": addrs[i],
                "netns": f"{NETNS_PREFIX}{lab_id}-{h.name}",
                "tun": f"{LINK_PREFIX}{lab_id}-{i}",
                "address6": _address6(network6, network, addrs[i]) if network6 else None,
            }
            for i, h in enumerate(world.hosts)
        ]
        state: dict[str, Any] = {
            "id": lab_id,
            "world": world.name,
            "status": "starting",
            "created_unix": time.time(),
            "network": str(network),
            "network6": str(network6) if network6 else None,
            "port": world.port,
            "engine_pid": None,
            "engine": engine_kind,
            "engine_argv": engine_argv,
            "server_pids": {},
            "signed": bool(signed and serve),
            "hosts": hosts,
        }
        _write_json(run_dir / "state.json", state)
    try:
        _build(world, run_dir, state, engine_argv, serve=serve, seed=seed, spin_ns=spin_ns,
               bias_ns=bias_ns, rt_priority=rt_priority, ready_timeout_s=ready_timeout_s)
    except BaseException:
        with contextlib.suppress(Exception):
            down(lab_id, force=True)
        raise
    return Lab(run_dir)


def _build(world: World, run_dir: Path, state: dict[str, Any], engine_argv: list[str], *,
           serve: bool, seed: int, spin_ns: int, bias_ns: int, rt_priority: int,
           ready_timeout_s: float) -> None:
    hosts = state["hosts"]
    network = ipaddress.IPv4Network(state["network"])
    network6 = ipaddress.IPv6Network(state["network6"]) if state.get("network6") else None
    _write_json(run_dir / "world.json", world.to_json())
    netns.run_ip([], batch=[f"netns add {h['netns']}" for h in hosts])
    sysctls = {**HOST_SYSCTLS, **(HOST_SYSCTLS_IPV6 if network6 else {})}
    for h in hosts:  # before the TUN devices move in: they take the namespace's IPv6 defaults
        netns.write_sysctls(h["netns"], sysctls)
    fds: list[int] = []
    try:
        for h in hosts:
            fds.append(netns.open_tun(h["tun"]))
        netns.run_ip([], batch=[f"link set {h['tun']} netns {h['netns']}" for h in hosts])
        procs = []
        for h in hosts:
            lines = [
                f'link set lo alias "{OWNER_PREFIX}{run_dir.resolve()}"',
                "link set lo up",
                f"link set {h['tun']} mtu 1500 up",
                f"addr add {h['address']}/32 dev {h['tun']}",
                f"route add {network} dev {h['tun']}",
            ]
            if network6:
                lines += [f"addr add {h['address6']}/128 dev {h['tun']} nodad",
                          f"route add {network6} dev {h['tun']}"]
            procs.append(subprocess.Popen(["ip", "-n", h["netns"], "-batch", "-"],
                                          stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.PIPE, text=True))
            procs[-1].stdin.write("\n".join(lines) + "\n")  # type: ignore[union-attr]
            procs[-1].stdin.close()  # type: ignore[union-attr]
        for h, p in zip(hosts, procs, strict=True):
            err = p.stderr.read() if p.stderr else ""
            if p.wait() != 0:
                raise LabError(f"configuring {h['netns']} failed: {err.strip()}")
        cfg = EngineConfig(
            fds=fds,
            addresses_u32=[int(ipaddress.IPv4Address(h["address"])) for h in hosts],
            base_u32=int(network.network_address),
            block_size=network.num_addresses,
            one_way_ms=world.one_way_ms(),
            jitter_ms=world.jitter_ms,
            loss=world.loss,
            seed=seed,
            spin_ns=spin_ns,
            bias_ns=bias_ns,
            rt_priority=rt_priority,
            stats_path=run_dir / "engine.stats.json",
            prefix6=network6.network_address.packed[:12] if network6 else None,
        )
        write_config(cfg, run_dir / "engine.conf")
        with open(run_dir / "engine.log", "ab") as log:
            eng = subprocess.Popen([*engine_argv, str(run_dir / "engine.conf")], pass_fds=fds,
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                   start_new_session=True)
    finally:
        for fd in fds:
            os.close(fd)
    state["engine_pid"] = eng.pid
    _write_json(run_dir / "state.json", state)
    deadline = time.monotonic() + 10.0
    while not (run_dir / "engine.stats.json").exists():
        if eng.poll() is not None:
            raise LabError(f"the delay engine exited with code {eng.returncode}: "
                           f"{(run_dir / 'engine.log').read_text().strip()[-500:]}")
        if time.monotonic() > deadline:
            raise LabError("the delay engine did not start within 10 s; see "
                           f"{run_dir / 'engine.log'}")
        time.sleep(0.005)

    if state.get("signed"):
        _make_keys(run_dir, state)
    if serve:
        _start_servers(world, run_dir, state, ready_timeout_s)
    _write_catalog(run_dir, state)
    state["status"] = "up"
    _write_json(run_dir / "state.json", state)


def _start_servers(world: World, run_dir: Path, state: dict[str, Any], timeout_s: float) -> None:
    port = int(state["port"])
    for h in state["hosts"]:
        if h["role"] != "landmark":
            continue
        argv = [
            "ip", "netns", "exec", h["netns"],
            sys.executable, "-m", "rttgeo", "serve",
            "--lat", repr(h["lat_deg"]), "--lon", repr(h["lon_deg"]),
            "--port", str(port), "--tcp", "--id", h["name"],
            # a dual-stack lab's server answers on both of its host's addresses (the wildcard,
            # dual-stack: the namespace has no other address but loopback)
            *(() if h.get("address6") else ("--bind", h["address"])),
        ]
        if state.get("signed"):
            argv += ["--key", str(run_dir / "keys" / f"{h['name']}.key")]
        with open(run_dir / "logs" / f"{h['name']}.log", "ab") as log:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                 start_new_session=True)
        state["server_pids"][h["name"]] = p.pid
    _write_json(run_dir / "state.json", state)
    deadline = time.monotonic() + timeout_s
    for h in state["hosts"]:
        if h["role"] != "landmark":
            continue
        while not _tcp_listening(h["netns"], h["address"], port):
            pid = state["server_pids"][h["name"]]
            if not _alive(pid):
                log = (run_dir / "logs" / f"{h['name']}.log").read_text(errors="replace")
                raise LabError(f"landmark server of {h['name']} exited: {log.strip()[-800:]}")
            if time.monotonic() > deadline:
                raise LabError(f"landmark server of {h['name']} not listening on "
                               f"{h['address']}:{port} after {timeout_s:.0f} s")
            time.sleep(0.05)


def _tcp_listening(ns: str, address: str, port: int) -> bool:
    def probe() -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            return s.connect_ex((address, port)) == 0

    return bool(netns.in_netns(ns, probe))


def _make_keys(run_dir: Path, state: dict[str, Any]) -> None:
    """An Ed25519 key per landmark and one for the catalog signer, under ``keys/`` (mode 0600)."""
    from rttgeo import crypto

    (run_dir / "keys").mkdir(mode=0o700)
    for h in state["hosts"]:
        if h["role"] == "landmark":
            key = crypto.generate_key()
            crypto.save_private_key(key, run_dir / "keys" / f"{h['name']}.key")
            h["public_key"] = crypto.public_bytes(key).hex()
    crypto.save_private_key(crypto.generate_key(), run_dir / "keys" / "catalog.key")
    _write_json(run_dir / "state.json", state)


def _write_catalog(run_dir: Path, state: dict[str, Any]) -> None:
    signed = bool(state.get("signed"))
    families = [("catalog.csv", "address")]
    if state.get("network6"):
        families.append(("catalog6.csv", "address6"))
    for name, field in families:
        with open(run_dir / name, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "lat_deg", "lon_deg", "address", "port", "protocols"]
                       + (["public_key"] if signed else []))
            for h in state["hosts"]:
                if h["role"] == "landmark":
                    w.writerow([h["name"], h["lat_deg"], h["lon_deg"], h[field], state["port"],
                                "icmp;tcp;udp"] + ([h["public_key"]] if signed else []))
    if signed:
        from rttgeo import crypto
        from rttgeo.catalog.signed import sign_catalog

        key = crypto.load_private_key(run_dir / "keys" / "catalog.key")
        sign_catalog(run_dir / "catalog.csv", key, run_dir / "catalog.signed.json",
                     name=f"lab-{state['id']}")
        (run_dir / "catalog.pub").write_text(crypto.public_bytes(key).hex() + "\n")
    with open(run_dir / "hosts.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "role", "lat_deg", "lon_deg", "address", "netns", "address6"])
        for h in state["hosts"]:
            w.writerow([h["name"], h["role"], h["lat_deg"], h["lon_deg"], h["address"],
                        h["netns"], h.get("address6") or ""])


def _new_id(root: Path) -> str:
    taken = {p.name for p in root.iterdir()} if root.exists() else set()
    in_use = {n[len(NETNS_PREFIX):].split("-", 1)[0] for n in netns.list_netns()
              if n.startswith(NETNS_PREFIX)}
    for _ in range(1000):
        lab_id = secrets.token_hex(2)
        if lab_id not in taken and lab_id not in in_use and not netns.list_links(
                f"{LINK_PREFIX}{lab_id}-"):
            return lab_id
    raise LabError("could not find a free lab id")  # pragma: no cover


def _allocate_block(root: Path, prefix_len: int) -> ipaddress.IPv4Network:
    used = []
    for lab in find_labs(root):
        with contextlib.suppress(Exception):
            used.append(ipaddress.IPv4Network(json.loads(
                (lab / "state.json").read_text())["network"]))
    for block in LAB_NETWORK.subnets(new_prefix=prefix_len):
        if not any(block.overlaps(u) for u in used):
            return block
    raise LabError(f"no free /{prefix_len} block left in {LAB_NETWORK}: "
                   "take labs down (rttgeo lab status) or use a longer network.prefix_len")


# ----------------------------------------------------------------------------------------- down
def find_labs(root: Path | None = None) -> list[Path]:
    """Run dirs of the labs under ``root`` (default :func:`run_root`)."""
    root = root or run_root()
    if not root.exists():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def find_orphans(root: Path | None = None) -> list[str]:
    """Ids of labs of ``root`` that left namespaces or links behind without a run dir (a crash).

    A leftover claimed by a run dir under another root (its namespaces' tag, or its live engine's
    command line) is that root's business and is not listed; an untagged leftover is listed only
    while no engine of that id is alive.
    """
    root = root or run_root()
    have = {p.name for p in find_labs(root)}
    ids = set()
    for n in netns.list_netns():
        if n.startswith(NETNS_PREFIX):
            ids.add(n[len(NETNS_PREFIX):].split("-", 1)[0])
    for n in netns.list_links(LINK_PREFIX):
        ids.add(n[len(LINK_PREFIX):].split("-", 1)[0])
    out = []
    for i in sorted(ids - have):
        if len(i) != 4 or not all(c in "0123456789abcdef" for c in i):
            continue
        claim = claimed_by(i)
        if claim is None or _same_path(claim, root / i):
            out.append(i)
    return out


def claimed_by(lab_id: str) -> Path | None:
    """The run dir that owns lab ``lab_id``: the tag inside its namespaces, else the run dir named
    by a live engine of that id; None when nothing claims it (an untagged, engine-less leftover)."""
    for ns in netns.list_netns():
        if ns.startswith(f"{NETNS_PREFIX}{lab_id}-"):
            tag = _namespace_owner(ns)
            if tag is not None:
                return Path(tag)
    for _pid, run_dir in _engines_of(lab_id):
        return run_dir
    return None


def _namespace_owner(ns: str) -> str | None:
    out = netns.run_ip(["-n", ns, "-j", "link", "show", "lo"], check=False)
    try:
        alias = str(json.loads(out)[0].get("ifalias", ""))
    except (ValueError, IndexError, AttributeError, TypeError):
        return None
    return alias[len(OWNER_PREFIX):] if alias.startswith(OWNER_PREFIX) else None


def _engines_of(lab_id: str) -> list[tuple[int, Path]]:
    """Live engines of any root whose config is ``.../ID/engine.conf``: (pid, run dir)."""
    out = []
    tail = f"/{lab_id}/engine.conf"
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            args = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        for a in args:
            text = a.decode(errors="replace")
            if text.endswith(tail) and _alive(int(d.name)):
                out.append((int(d.name), Path(text).parent))
    return out


def _same_path(a: Path, b: Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _pid_names(pid: int, needle: str) -> bool:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        cmd = raw.replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return needle in cmd


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours counts as dead
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _reap(pid: int) -> None:
    """Collect ``pid`` if it is an exited child of ours (no-op otherwise)."""
    with contextlib.suppress(ChildProcessError, OSError):
        if _is_zombie(pid):
            os.waitpid(pid, 0)
        else:
            os.waitpid(pid, os.WNOHANG)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _kill_and_wait(pids: Sequence[int], timeout_s: float = 3.0) -> None:
    """SIGTERM ``pids``, SIGKILL what is left after ``timeout_s``, reap children of ours."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + timeout_s
        while True:
            for pid in pids:
                _reap(pid)
            if not any(_alive(p) for p in pids) or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        if not any(_alive(p) for p in pids):
            break
    for pid in pids:  # a child of ours that exited after the last look is still a zombie
        _reap(pid)


def down(lab_id: str, *, force: bool = False) -> list[str]:
    """Remove everything lab ``lab_id`` made; returns what was removed (for the user).

    Without ``force`` the lab's state file must be readable. With ``force`` it also sweeps what a
    crash left: namespaces ``rttgeo-ID-*``, links ``rgID-*``, the processes inside them, and an
    engine whose command line names the lab's run dir. Nothing outside the lab is touched.
    """
    if not lab_id or not all(c in "0123456789abcdef" for c in lab_id) or len(lab_id) != 4:
        raise LabError(f"{lab_id!r} is not a lab id (4 hex digits; see 'rttgeo lab status')")
    netns.check_capable()
    root = run_root()
    run_dir = root / lab_id
    claim = claimed_by(lab_id)
    if claim is not None and not _same_path(claim, run_dir):
        raise LabError(
            f"lab {lab_id} belongs to another run root: its run dir is {claim}, not {run_dir}; "
            f"nothing was touched (take it down from its own root: RTTGEO_LAB_RUN={claim.parent} "
            f"rttgeo lab down {lab_id})"
        )
    removed: list[str] = []
    state: dict[str, Any] = {}
    try:
        state = json.loads((run_dir / "state.json").read_text())
    except FileNotFoundError:
        if not force:
            if _leftovers(lab_id):
                raise LabError(f"lab {lab_id} has no state file but left namespaces or links "
                               f"behind (a crash?): sweep them with 'rttgeo lab down {lab_id} "
                               "--force'") from None
            raise LabError(f"no lab {lab_id} (see 'rttgeo lab status')") from None
    except (OSError, json.JSONDecodeError) as exc:
        if not force:
            raise LabError(f"lab {lab_id}: state unreadable ({exc}); use --force") from exc
    ns_names = {h["netns"] for h in state.get("hosts", [])}
    ns_names |= {n for n in netns.list_netns() if n.startswith(f"{NETNS_PREFIX}{lab_id}-")}
    ns_names &= set(netns.list_netns())

    # 1. processes: landmark servers (own process groups), then anything inside the namespaces
    pids = [int(p) for p in state.get("server_pids", {}).values()]
    pids = [p for p in pids if _alive(p) and _pid_names(p, "rttgeo")]
    for ns in sorted(ns_names):
        pids += netns_pids_safe(ns)
    pids = sorted(set(pids) - {os.getpid()})
    if pids:
        for p in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p, signal.SIGTERM)  # server and its ip-netns-exec child
        _kill_and_wait(pids)
        removed.append(f"{len(pids)} processes")

    # 2. the engine: its command line names the run dir
    eng = state.get("engine_pid")
    eng_pids = [eng] if eng and _pid_names(eng, str(run_dir)) else []
    if force and not eng_pids:
        eng_pids = _find_engines(run_dir)
    if eng_pids:
        _kill_and_wait(eng_pids)
        removed.append("engine")

    # 3. namespaces (their TUN devices go with the engine's fds), then stray links
    if ns_names:
        netns.run_ip([], batch=[f"netns del {n}" for n in sorted(ns_names)], check=not force)
        removed.append(f"{len(ns_names)} namespaces")
    links = netns.list_links(f"{LINK_PREFIX}{lab_id}-")
    if links:
        netns.run_ip([], batch=[f"link del {n}" for n in links], check=False)
        removed.append(f"{len(links)} links")

    # 4. the run dir
    if run_dir.exists():
        _rmtree(run_dir)
        removed.append(str(run_dir))
    return removed


def netns_pids_safe(ns: str) -> list[int]:
    try:
        return netns.netns_pids(ns)
    except LabError:
        return []


def _find_engines(run_dir: Path) -> list[int]:
    out = []
    needle = str(run_dir / "engine.conf")
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and _pid_names(int(d.name), needle):
            out.append(int(d.name))
    return out


def _leftovers(lab_id: str) -> bool:
    return bool(
        [n for n in netns.list_netns() if n.startswith(f"{NETNS_PREFIX}{lab_id}-")]
        or netns.list_links(f"{LINK_PREFIX}{lab_id}-")
    )


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)
