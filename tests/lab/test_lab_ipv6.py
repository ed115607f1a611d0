"""The dual-stack lab (root): every host has an IPv6 address too, IPv6 crosses the same delay engine
with the same per-pair delays (C and Python engines), nothing else reaches the engine (no neighbour
discovery, router solicitations or MLD on the TUN path), and ``rttgeo locate`` works over IPv6.

Skipped, saying so, only where the kernel has no IPv6 at all; CI (root, IPv6) runs every test.
"""

from __future__ import annotations

import csv
import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rttgeo.catalog import load_catalog
from rttgeo.errors import LabError
from rttgeo.lab import load_world, parse_world
from rttgeo.lab.lab import ULA_NETWORK, ipv6_supported, network6_for
from rttgeo.lab.world import LAB_NETWORK

from .lab_helpers import EXAMPLES, ping_min_ms, settle_min_rtt
from .test_lab import TOL_MS, UDP_T_TOL_MS, UDP_TOL_MS, _small_world, settle_ping, settle_probers
from .test_lab_locate import WORLD as TEACH_WORLD

NO_IPV6 = "this kernel has no IPv6 (no /proc/sys/net/ipv6: booted with ipv6.disable=1)"


@pytest.fixture
def make_lab6(make_lab):  # type: ignore[no-untyped-def]
    """``make_lab`` where the kernel has IPv6 (skips, saying so, where it has none)."""
    if not ipv6_supported():
        pytest.skip(NO_IPV6)
    return make_lab


# ------------------------------------------------------------------------------ addressing, no root
def test_network6_is_a_ula_slash64_per_block_and_per_run_root(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    first3 = list(LAB_NETWORK.subnets(new_prefix=24))[:3]
    blocks = [*first3, ipaddress.IPv4Network("198.19.255.252/30")]
    nets = [network6_for(a, blk) for blk in blocks]
    assert all(n.prefixlen == 64 and n.subnet_of(ULA_NETWORK) for n in nets)
    assert len(set(nets)) == len(nets)  # distinct blocks of one root: distinct /64s
    assert len({n.supernet(new_prefix=48) for n in nets}) == 1  # one /48 per run root
    assert network6_for(a, blocks[0]) == nets[0]  # derived, not drawn: the same every time
    other = network6_for(b, blocks[0])
    assert other.supernet(new_prefix=48) != nets[0].supernet(new_prefix=48)
    # the subnet id is the block's offset in 198.18.0.0/15 over 4: 198.18.1.0 -> 0x40
    assert int(nets[1].network_address) >> 64 & 0xFFFF == 256 // 4
    with pytest.raises(LabError, match="not a lab block"):
        network6_for(a, ipaddress.IPv4Network("10.0.0.0/24"))


# ------------------------------------------------------------------------------------- the lab
@pytest.mark.root
@pytest.mark.timeout(150)
def test_ping6_matches_configured_rtt_and_nothing_else_reaches_the_engine(make_lab6) -> None:  # type: ignore[no-untyped-def]
    world = load_world(EXAMPLES / "europe.toml")
    lab = make_lab6(world, serve=False)
    net6 = lab.network6
    assert net6 is not None and net6.prefixlen == 64 and net6.subnet_of(ULA_NETWORK)
    state = json.loads((lab.run_dir / "state.json").read_text())
    assert state["network6"] == str(net6)
    for h, rec in zip(lab.hosts, state["hosts"], strict=True):
        # interface id = the IPv4 address's offset in the lab's block
        off = int(ipaddress.IPv4Address(h.address)) - int(lab.network.network_address)
        assert rec["address6"] == h.address6 == str(net6.network_address + off)
    with open(lab.run_dir / "hosts.csv", newline="") as fh:
        assert [r["address6"] for r in csv.DictReader(fh)] == [h.address6 for h in lab.hosts]
    # the host sees its /128 and nothing link-local (addr_gen_mode 1)
    shown = lab.exec("lyon", ["ip", "-6", "-o", "addr", "show", "dev", lab.host("lyon").tun])
    assert f"{lab.address6('lyon')}/128" in shown.stdout and "fe80" not in shown.stdout

    dsts = ("paris", "london", "warsaw")
    settled = [settle_ping(lab, world, src, {d: lab.address6(d) for d in dsts}, TOL_MS)
               for src in ("lyon", "milan")]
    st = lab.stats(fresh=True)
    # 6 pairs x 10 echoes a round x 2 packets crossed as IPv6, and nothing else did: no neighbour
    # solicitation, router solicitation or MLD report reached the engine (they would be dropped as
    # unroutable: their destinations are multicast)
    assert st["received_ipv6"] >= 3 * 8 * 2 * sum(s.rounds for s in settled)
    assert st["received"] == st["received_ipv6"]
    assert st["dropped_unroutable"] == st["dropped_not_ip"] == 0, st
    assert st["forwarded"] == st["received"]


@pytest.mark.root
@pytest.mark.timeout(150)
def test_icmp6_tcp_udp_probers_over_ipv6(make_lab6) -> None:  # type: ignore[no-untyped-def]
    world = _small_world()
    lab = make_lab6(world, serve=True)
    cat6 = {lm.id: lm for lm in load_catalog(lab.catalog6_path)}
    assert set(cat6) == {"a", "b"} and cat6["a"].address == lab.address6("a")
    assert set(cat6["b"].protocols) == {"icmp", "tcp", "udp"} and cat6["b"].port == world.port
    # the IPv4 catalog is the same landmarks with their IPv4 addresses
    cat4 = {lm.id: lm for lm in load_catalog(lab.catalog_path)}
    assert {k: (v.lat_deg, v.lon_deg) for k, v in cat4.items()} == {
        k: (v.lat_deg, v.lon_deg) for k, v in cat6.items()}
    for proto in ("icmp6", "tcp", "udp", "udp-t"):
        settle_probers(lab, world, cat6, proto,
                       {"udp": UDP_TOL_MS, "udp-t": UDP_T_TOL_MS}.get(proto, TOL_MS))
    # the same dual-stack servers still answer over IPv4
    settle_probers(lab, world, {"a": cat4["a"]}, "udp-t", UDP_T_TOL_MS)


@pytest.mark.root
@pytest.mark.timeout(120)
def test_python_engine_routes_ipv6(make_lab6) -> None:  # type: ignore[no-untyped-def]
    world = _small_world()
    lab = make_lab6(world, serve=False, engine="python")
    assert lab.state["engine"] == "python"
    # the same bound as the Python engine's IPv4 test (test_lab.test_python_engine_lab)
    settle_ping(lab, world, "t", {d: lab.address6(d) for d in ("a", "b")}, 2 * TOL_MS)
    st = lab.stats(fresh=True)
    assert st["engine"] == "python" and st["ipv6"] is True and st["received_ipv6"] >= 32
    assert st["dropped_unroutable"] == st["dropped_not_ip"] == 0, st


@pytest.mark.root
@pytest.mark.slow
@pytest.mark.timeout(240)
def test_cli_up_status_and_locate_over_ipv6(lab_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``rttgeo lab up`` / ``status --json`` show the IPv6 side, ``rttgeo lab exec HOST -- rttgeo
    locate --protocol icmp6`` and ``udp`` against the IPv6 catalog measure the configured RTTs,
    and ``rttgeo lab locate --protocol icmp6`` scores the estimate."""
    if not ipv6_supported():
        pytest.skip(NO_IPV6)
    world_file = tmp_path / "teach.json"
    world_file.write_text(json.dumps(TEACH_WORLD))
    world = parse_world(TEACH_WORLD)
    env = dict(os.environ, RTTGEO_LAB_RUN=str(lab_env))
    cli = [sys.executable, "-m", "rttgeo"]

    def run(*argv: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cli, *argv], capture_output=True, text=True, env=env,
                              timeout=timeout)

    up = run("lab", "up", str(world_file), "--json")
    info = json.loads(up.stdout) if up.returncode == 0 else {}
    try:
        assert up.returncode == 0, up.stderr
        st = run("lab", "status", info["id"], "--json")
        assert st.returncode == 0, st.stderr
        status = json.loads(st.stdout)
        net6 = ipaddress.IPv6Network(status["network6"])
        assert status["catalog6"] == str(lab_env / info["id"] / "catalog6.csv")
        assert all(ipaddress.IPv6Address(h["address6"]) in net6 for h in status["hosts"])
        text = run("lab", "status").stdout
        assert str(net6) in text and "catalog6" in text

        lm_idx = world.landmark_indices()
        t = world.index("lyon")
        want = {world.hosts[i].name: world.rtt_ms[t, i] for i in lm_idx}
        for proto, extra in (("icmp6", []), ("udp", ["--subtract-turnaround"])):
            out = tmp_path / f"{proto}.json"

            def locate(proto: str = proto, extra: list[str] = extra,
                       out: Path = out) -> dict[str, float | None]:
                r = run("lab", "exec", "lyon", "--", *cli, "locate", "--landmarks",
                        status["catalog6"], "--protocol", proto, "-k", "3", "-q", "--method",
                        "cbg", "--out", str(out), *extra)
                assert r.returncode == 0, f"{proto}: {r.stderr[-2000:]}"
                est = json.loads(out.read_text())["estimate"]
                return {d["id"]: d["rtt_ms"] for d in est["landmarks"]}

            settle_min_rtt(locate, want, UDP_T_TOL_MS if proto == "udp" else TOL_MS,
                           what=f"rttgeo locate --protocol {proto} in lyon")

        r = run("lab", "locate", "lyon", "--protocol", "icmp6", "--method", "cbg", "--json", "-q",
                "-k", "2", "--timeout", "1")
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        assert doc["measurement"]["protocol"] == "icmp6"
        assert doc["measurement"]["landmarks_answered"] == 5
        assert doc["truth"]["truth_in_region"] is True  # CBG's model is the lab's here
    finally:
        if info:
            dn = run("lab", "down", info["id"], "--force")
            assert dn.returncode == 0, dn.stderr


@pytest.mark.root
@pytest.mark.timeout(120)
def test_ipv4_only_lab(make_lab, capsys) -> None:  # type: ignore[no-untyped-def]
    """``ipv6=False`` (``--no-ipv6``) is the IPv4-only lab: no IPv6 address, catalog or route, and
    asking for IPv6 is one clean error."""
    from rttgeo.cli import main

    world = _small_world()
    lab = make_lab(world, serve=False, ipv6=False)
    assert lab.network6 is None and lab.state["network6"] is None
    assert all(h.address6 == "" for h in lab.hosts) and not lab.catalog6_path.exists()
    with pytest.raises(LabError, match="IPv4 only"):
        lab.address6("a")
    got, received = ping_min_ms(lab, "t", lab.address("a"), count=3)
    assert received >= 2 and got is not None
    code = main(["lab", "locate", "t", "--lab", lab.id, "--protocol", "icmp6", "-q"])
    err = capsys.readouterr().err
    assert code == 1 and "is IPv4 only" in err and "Traceback" not in err
    st = lab.stats(fresh=True)
    assert st["ipv6"] is False and st["received_ipv6"] == 0  # IPv6 is off inside the hosts


@pytest.mark.root
def test_ipv6_requested_on_a_kernel_without_it(lab_env, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from rttgeo.lab import lab as lab_mod

    monkeypatch.setattr(lab_mod, "ipv6_supported", lambda: False)
    with pytest.raises(LabError, match="no IPv6"):
        lab_mod.up(_small_world(), ipv6=True)
    assert not lab_env.exists() or not any(p for p in lab_env.iterdir() if p.name != ".lock")
