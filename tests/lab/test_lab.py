"""The lab for real (root): packets through the delay engine take the configured time, ICMP / TCP /
UDP work across namespaces, and nothing is left behind after down (even after a crash)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rttgeo.errors import LabError
from rttgeo.lab import down, find_labs, load_world, parse_world
from rttgeo.lab.netns import list_links, list_netns
from rttgeo.measure.tcp import tcp_info_rtt_us

from .lab_helpers import EXAMPLES, ping_min_ms, ping_rtts_ms, prober_rtts_ms, settle_min_rtt

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]

#: How far a measured minimum RTT may sit from the configured one: the engine's wake-up latency
#: on arrival and its spin window add tens of µs; a loaded VM adds more now and then.
TOL_MS = 0.3
#: UDP is answered by ``rttgeo serve``, a Python process: its wake-up and processing time
#: (0.1-0.6 ms on a loaded 2-core VM) is part of a UDP RTT, unlike ICMP (kernel) and TCP
#: (kernel handshake).
UDP_TOL_MS = 1.0
#: UDP with the server's turnaround subtracted (``udp-t``): usually 0.03-0.13 ms over (docs/lab.md),
#: but a fresh-clone CI run of 2026-12-02 on an otherwise idle VM saw 0.25-0.32 ms over in every
#: one of 72 samples, while ICMP and TCP stayed within 0.3 ms in the same test. The engine stamps a
#: packet when it reads it, after waking from epoll (engine.c; 100-150 us from a deep idle state),
#: and ``rttgeo serve``'s reply leaves 0.05-0.3 ms after the request arrived, when the engine has
#: likely gone back to sleep: our reading, not measured apart. The server cannot report that wait.
UDP_T_TOL_MS = 0.5


def _small_world(loss: float = 0.0, jitter_ms: float = 0.0, name: str = "small"):  # type: ignore

    return parse_world({
        "name": name,
        "delay": {"model": "matrix", "rtt_ms": [[0, 12.0, 30.0], [12.0, 0, 20.0],
                                                [30.0, 20.0, 0]],
                  "loss": loss, "jitter_ms": jitter_ms},
        "network": {"prefix_len": 28},
        "hosts": [
            {"name": "a", "lat_deg": 48.85, "lon_deg": 2.35},
            {"name": "b", "lat_deg": 51.5, "lon_deg": -0.12},
            {"name": "t", "lat_deg": 45.76, "lon_deg": 4.84, "role": "target"},
        ],
    })


def settle_probers(lab, world, landmarks, proto: str, tol_ms: float, src: str = "t"):  # type: ignore[no-untyped-def]
    """rttgeo's ``proto`` prober from ``src`` to each of ``landmarks`` (id -> Landmark), 6 probes
    a round, settled on the configured RTTs (:func:`settle_min_rtt`)."""

    def probe() -> dict[str, float | None]:
        out = {}
        for dst, lm in landmarks.items():
            rtts = prober_rtts_ms(lab, src, lm, proto, count=6)
            got = [r for r in rtts if r is not None]
            assert len(got) >= 4, f"{proto} {src}->{dst}: {rtts}"
            out[dst] = min(got)
        return out

    return settle_min_rtt(probe, {d: world.rtt_ms[world.index(src), world.index(d)]
                                  for d in landmarks}, tol_ms, what=f"{proto} from {src}")


def settle_ping(lab, world, src: str, addresses: dict[str, str], tol_ms: float):  # type: ignore[no-untyped-def]
    """iputils ping (10 echoes a round) from ``src`` to each host of ``addresses`` (name ->
    address), settled on the configured RTTs (:func:`settle_min_rtt`)."""

    def ping() -> dict[str, float | None]:
        out = {}
        for dst, addr in addresses.items():
            got, received = ping_min_ms(lab, src, addr, count=10)
            assert received >= 8, f"ping {src}->{dst}: {received} of 10 answered"
            out[dst] = got
        return out

    return settle_min_rtt(ping, {d: world.rtt_ms[world.index(src), world.index(d)]
                                 for d in addresses}, tol_ms, what=f"ping from {src}")


def _snapshot(lab_id: str) -> dict[str, list[str]]:
    return {
        "netns": [n for n in list_netns() if n.startswith(f"rttgeo-{lab_id}-")],
        "links": list_links(f"rg{lab_id}-"),
    }


def _proc_names(needle: str) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError):
                if needle in (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                        errors="replace"):
                    out.append(int(d.name))
    return out


def test_ping_matches_configured_rtt_and_down_leaves_nothing(make_lab, lab_env) -> None:  # type: ignore[no-untyped-def]
    world = load_world(EXAMPLES / "europe.toml")
    lab = make_lab(world, serve=False)
    assert lab.engine_pid() is not None
    assert {h.address for h in lab.hosts} <= set(map(str, lab.network.hosts()))
    pairs = [(src, dst) for src in ("lyon", "milan") for dst in ("paris", "london", "warsaw")]

    def ping_pairs() -> dict[tuple[str, str], float | None]:
        out = {}
        for src, dst in pairs:
            got, received = ping_min_ms(lab, src, lab.address(dst), count=10)
            assert received >= 8, f"{src}->{dst}: {received} of 10 answered"
            out[src, dst] = got
        return out

    settle_min_rtt(ping_pairs, {(s, d): world.rtt_ms[world.index(s), world.index(d)]
                                for s, d in pairs}, TOL_MS, what="ping")
    stats = lab.stats(fresh=True)
    assert stats["hosts"] == len(world)
    # no packet may be reported as forwarded without having been received
    assert stats["forwarded"] <= stats["received"]

    engine = lab.engine_pid()
    run_dir = lab.run_dir
    removed = down(lab.id)
    assert "engine" in removed
    assert _snapshot(lab.id) == {"netns": [], "links": []}
    assert not run_dir.exists()
    assert engine is not None and not Path(f"/proc/{engine}").exists()
    assert _proc_names(str(run_dir)) == []
    assert find_labs() == []


def test_tcp_udp_icmp_probers_through_engine(make_lab) -> None:  # type: ignore[no-untyped-def]
    world = _small_world()
    lab = make_lab(world, serve=True)
    landmarks = {lm.id: lm for lm in world.landmarks([h.address for h in lab.hosts])}
    # the catalog the lab wrote holds the same landmarks
    from rttgeo.catalog import load_catalog

    cat = {lm.id: lm for lm in load_catalog(lab.catalog_path)}
    assert set(cat) == {"a", "b"} and cat["a"].address == lab.address("a")
    assert set(cat["b"].protocols) == {"icmp", "tcp", "udp"} and cat["b"].port == world.port
    for proto in ("icmp", "tcp", "udp", "udp-t"):
        settle_probers(lab, world, landmarks, proto,
                       {"udp": UDP_TOL_MS, "udp-t": UDP_T_TOL_MS}.get(proto, TOL_MS))
    servers = list(lab.state["server_pids"].values())
    assert len(servers) == 2 and all(Path(f"/proc/{p}").exists() for p in servers)
    down(lab.id)
    assert not any(p in _proc_names("rttgeo") for p in servers), "landmark servers survived"
    assert _snapshot(lab.id) == {"netns": [], "links": []}


def test_tcp_connect_time_in_namespace(make_lab) -> None:  # type: ignore[no-untyped-def]
    """A plain TCP echo inside the lab: handshake and one echo round trip each take one RTT."""
    world = _small_world()
    lab = make_lab(world, serve=False)
    a_addr = lab.address("a")
    srv = lab.in_host("a", lambda: socket.create_server((a_addr, 9000)))
    srv.settimeout(5)

    def client() -> tuple[float, float]:
        c = socket.create_connection((a_addr, 9000), timeout=5)
        info = tcp_info_rtt_us(c)  # the kernel's own handshake RTT: no thread wake-up in it
        assert info is not None
        conn, _ = srv.accept()  # returns when the handshake's last ACK reached a: RTT/2 later
        t1 = time.monotonic_ns()
        c.sendall(b"ping")
        conn.sendall(conn.recv(4))
        assert c.recv(4) == b"ping"
        t2 = time.monotonic_ns()
        c.close()
        conn.close()
        return info[0] / 1e3, (t2 - t1) / 1e6

    want = world.rtt_ms[world.index("a"), world.index("b")]
    runs: list[tuple[float, float]] = []

    def connect() -> dict[str, float | None]:
        batch = [lab.in_host("b", client) for _ in range(4)]
        runs.extend(batch)
        return {"handshake": min(r[0] for r in batch)}

    try:
        settle_min_rtt(connect, {"handshake": want}, 1.0, what="TCP b->a")
    finally:
        srv.close()
    # The echo is timed in user space, two thread wake-ups included (several ms late on a busy
    # machine): never early, and the data crossed the delay once, not twice.
    assert want - 0.01 <= min(r[1] for r in runs) < 2 * want


def test_python_engine_lab(make_lab) -> None:  # type: ignore[no-untyped-def]
    """The pure-Python fallback engine runs a lab too (ICMP through real namespaces)."""
    world = _small_world()
    lab = make_lab(world, serve=False, engine="python")
    assert lab.state["engine"] == "python" and lab.engine_pid() is not None
    settle_ping(lab, world, "t", {d: lab.address(d) for d in ("a", "b")}, 2 * TOL_MS)
    assert lab.stats(fresh=True)["engine"] == "python"


def test_loss_and_jitter(make_lab) -> None:  # type: ignore[no-untyped-def]
    world = _small_world(loss=0.5, jitter_ms=2.0)
    lab = make_lab(world, serve=False)
    rtts = ping_rtts_ms(lab, "t", lab.address("a"), count=60, interval_s=0.01)
    # each echo needs two packets through: 25 % answered on average, 60 sent
    assert 3 <= len(rtts) <= 30, len(rtts)
    want = world.rtt_ms[world.index("t"), world.index("a")]
    assert min(rtts) >= want - 0.01  # jitter only adds delay
    assert max(rtts) - min(rtts) > 0.5  # two one-way jitters uniform in [0, 2] ms each
    st = lab.stats(fresh=True)
    assert st["dropped_loss"] > 0


def test_two_labs_coexist_and_force_down_after_crash(make_lab, lab_env) -> None:  # type: ignore[no-untyped-def]
    w1, w2 = _small_world(name="one"), _small_world(name="two")
    lab1, lab2 = make_lab(w1, serve=False), make_lab(w2, serve=False)
    assert lab1.id != lab2.id
    assert not lab1.network.overlaps(lab2.network)
    assert set(h.netns for h in lab1.hosts).isdisjoint(h.netns for h in lab2.hosts)
    for lab in (lab1, lab2):
        _, received = ping_min_ms(lab, "t", lab.address("a"), count=3)
        assert received >= 2, f"lab {lab.id}: {received} of 3 pings answered, {lab.stats()}"
    # lab 1 cannot reach lab 2's addresses: no route, no engine between them
    r = lab1.exec("t", ["ping", "-n", "-c", "1", "-W", "1", lab2.address("a")])
    assert r.returncode != 0, r.stdout

    # crash lab 1: engine killed, a stray process left in a host, state file lost
    stray = subprocess.Popen(lab1.command("a", ["sleep", "600"]), start_new_session=True)
    os.kill(lab1.engine_pid(), signal.SIGKILL)
    (lab1.run_dir / "state.json").unlink()
    with pytest.raises(LabError, match="--force"):
        down(lab1.id)  # without --force the state file is needed
    removed = down(lab1.id, force=True)
    assert "3 namespaces" in removed and any("processes" in r for r in removed), removed
    stray.wait(timeout=5)
    assert _snapshot(lab1.id) == {"netns": [], "links": []}, removed
    assert not lab1.run_dir.exists()
    # lab 2 untouched and still working
    assert len(_snapshot(lab2.id)["netns"]) == 3 and lab2.engine_pid() is not None
    _, received = ping_min_ms(lab2, "t", lab2.address("b"), count=3)
    assert received >= 2, f"lab 2 after lab 1's sweep: {received} of 3 answered, {lab2.stats()}"


def test_cli_up_status_exec_down(lab_env) -> None:  # type: ignore[no-untyped-def]
    env = dict(os.environ, RTTGEO_LAB_RUN=str(lab_env))
    cli = [sys.executable, "-m", "rttgeo", "lab"]
    up = subprocess.run([*cli, "up", str(EXAMPLES / "europe.toml"), "--no-serve", "--json"],
                        capture_output=True, text=True, env=env, timeout=60)
    try:
        assert up.returncode == 0, up.stderr
        info = json.loads(up.stdout)
        st = subprocess.run([*cli, "status"], capture_output=True, text=True, env=env, timeout=30)
        assert info["id"] in st.stdout and "c engine running" in st.stdout
        paris = next(h["address"] for h in info["hosts"] if h["name"] == "paris")
        ex = subprocess.run([*cli, "exec", "lyon", "--", "ping", "-c", "1", "-W", "2", paris],
                            capture_output=True, text=True, env=env, timeout=30)
        assert ex.returncode == 0 and "1 received" in ex.stdout
        ex = subprocess.run([*cli, "exec", "lyon", "--", "false"], env=env, timeout=30)
        assert ex.returncode == 1
        ex = subprocess.run([*cli, "exec", "nowhere", "--", "true"], capture_output=True,
                            text=True, env=env, timeout=30)
        assert ex.returncode == 2, ex.stderr
        assert "no host 'nowhere'" in ex.stderr and "lyon" in ex.stderr
        assert "Traceback" not in ex.stderr and ex.stdout == ""
        ex = subprocess.run([*cli, "exec", "lyon", "--"], capture_output=True, text=True,
                            env=env, timeout=30)
        assert ex.returncode == 2 and "nothing to run" in ex.stderr, ex.stderr
    finally:
        dn = subprocess.run([*cli, "down", "--all", "--force"], capture_output=True, text=True,
                            env=env, timeout=60)
    assert dn.returncode == 0, dn.stderr
    assert _snapshot(info["id"]) == {"netns": [], "links": []}


def test_errors_without_root(monkeypatch: pytest.MonkeyPatch) -> None:
    from rttgeo.lab import netns, up

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(LabError, match="needs root"):
        netns.check_capable()
    with pytest.raises(LabError, match="needs root"):
        up(_small_world())
    with pytest.raises(LabError, match="needs root"):
        down("abcd")


def test_bad_lab_id_rejected() -> None:
    with pytest.raises(LabError, match="not a lab id"):
        down("../etc")


def test_one_way_matrix_is_half_rtt() -> None:
    w = _small_world()
    ow = w.one_way_ms()
    assert np.allclose(ow + ow.T, np.nan_to_num(w.rtt_ms))


def test_orphan_namespace_found_and_swept(lab_env) -> None:  # type: ignore[no-untyped-def]
    """Namespaces of a lab whose run dir is gone are listed by id and removed by a forced down."""
    import secrets

    from rttgeo.lab.lab import find_orphans

    lab_id = secrets.token_hex(2)
    while lab_id in find_orphans():
        lab_id = secrets.token_hex(2)
    name = f"rttgeo-{lab_id}-x"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        assert lab_id in find_orphans()
        removed = down(lab_id, force=True)
        assert removed == ["1 namespaces"]
        assert name not in list_netns() and lab_id not in find_orphans()
    finally:
        if name in list_netns():
            subprocess.run(["ip", "netns", "del", name], check=False)
