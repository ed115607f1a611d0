"""IPv6 through the real command line: ``--protocol icmp6`` and UDP on ``::1``, and across two
network namespaces joined by a veth pair whose far end delays every packet (``tc netem``, where
the kernel has it; without it the packets still cross two real network stacks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from rttgeo.cli import main
from rttgeo.geo.sphere import distance_km
from rttgeo.units import MAX_KM_PER_RTT_MS

from .test_locate import ServerThread

#: Four landmarks in and around Paris (within 3 km): on one machine every RTT is far below 1 ms.
PARIS = [(48.860, 2.350), (48.870, 2.360), (48.850, 2.340), (48.865, 2.335)]


def _catalog(path, address, *, port="", protocols="icmp"):
    lines = ["id,lat_deg,lon_deg,address,port,protocols"]
    for i, (la, lo) in enumerate(PARIS):
        a = address(i) if callable(address) else address
        p = port(i) if callable(port) else port
        lines.append(f"lm{i},{la},{lo},{a},{p},{protocols}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _icmp6_allowed() -> str | None:
    from rttgeo.errors import PermissionDenied
    from rttgeo.measure import make_prober

    try:
        make_prober("icmp6")
    except PermissionDenied as exc:
        return str(exc)
    return None


def _check_physics(doc: dict) -> None:
    """Every RTT is real (> 0) and the point lies within c of every landmark that answered."""
    pt = doc["estimate"]["point"]
    for d in doc["estimate"]["landmarks"]:
        assert d["rtt_ms"] > 0
        reach = d["rtt_ms"] * MAX_KM_PER_RTT_MS + 30.0  # + the estimator's grid cell
        assert float(distance_km(pt["lat_deg"], pt["lon_deg"], d["lat_deg"], d["lon_deg"])) <= reach


def test_icmp6_on_loopback(tmp_path, capsys) -> None:
    why = _icmp6_allowed()
    if why:
        pytest.skip(f"no ICMPv6 socket allowed here: {why}")
    cat = _catalog(tmp_path / "v6.csv", "::1")
    code = main(["locate", "--landmarks", str(cat), "--protocol", "icmp6", "--json", "-q",
                 "--timeout", "1", "-k", "2"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert doc["measurement"]["protocol"] == "icmp6"
    assert doc["measurement"]["landmarks_answered"] == 4
    _check_physics(doc)


def test_udp_over_ipv6_loopback(tmp_path, capsys) -> None:
    with ServerThread(PARIS, hosts=["::1"] * len(PARIS)) as st:
        cat = _catalog(tmp_path / "u6.csv", "::1", port=lambda i: st.servers[i].port,
                       protocols="udp")
        code = main(["locate", "--landmarks", str(cat), "--protocol", "udp", "--json", "-q",
                     "--timeout", "1"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert doc["measurement"]["protocol"] == "udp" and doc["measurement"]["landmarks_answered"] == 4
    _check_physics(doc)


def test_a_protocol_whose_family_the_catalog_lacks_is_a_usage_error(tmp_path, capsys) -> None:
    cat = _catalog(tmp_path / "v6.csv", "::1")
    assert main(["locate", "--landmarks", str(cat), "--protocol", "icmp"]) == 2
    assert "use --protocol icmp6" in capsys.readouterr().err
    assert main(["locate", "--protocol", "icmp6"]) == 2  # the bundled anchors are IPv4 only
    err = capsys.readouterr().err
    assert "no landmark with an IPv6 address" in err and "IPv4 only" in err


# -- across namespaces ------------------------------------------------------------------------
DELAY_MS = 10.0


@pytest.mark.root
def test_icmp6_and_udp_across_namespaces_with_delay(tmp_path) -> None:
    """The CLI runs in one namespace; the landmarks (four IPv6 addresses and a landmark server)
    in another, behind a veth whose far end holds every packet 10 ms (tc netem, when the kernel
    has the qdisc: gVisor-like sandboxes do not, and then the delay is 0)."""
    from rttgeo.serve.netns import netns_available, netns_link

    why = netns_available()
    if why:
        pytest.skip(why)
    with netns_link() as lk:
        if not lk.far_ip6:
            pytest.skip("this kernel has no IPv6")
        far_dev = _dev_of(lk.far, lk.far_ip6)
        addrs = [f"fd00:77::1{i}" for i in range(len(PARIS))]
        for a in addrs:
            _ip("-n", lk.far, "addr", "add", f"{a}/64", "dev", far_dev, "nodad")
        netem = subprocess.run(["ip", "netns", "exec", lk.far, "tc", "qdisc", "add", "dev",
                                far_dev, "root", "netem", "delay", f"{DELAY_MS:g}ms"],
                               capture_output=True, text=True)
        delay_ms = DELAY_MS if netem.returncode == 0 else 0.0
        if netem.returncode and "unknown" not in netem.stderr:  # anything but a missing qdisc
            raise AssertionError(netem.stderr)
        lk.sysctl(lk.near, "net.ipv4.ping_group_range", "0 2147483647")
        cat = _catalog(tmp_path / "ns6.csv", lambda i: addrs[i])
        server = subprocess.Popen(
            ["ip", "netns", "exec", lk.far, sys.executable, "-m", "rttgeo", "serve", "--lat",
             "48.86", "--lon", "2.35", "--port", "0", "--bind", "::", "--id", "far6"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            port = _announced_port(server)
            ucat = _catalog(tmp_path / "ns6u.csv", lk.far_ip6, port=port, protocols="udp")
            for proto, catalog in (("icmp6", cat), ("udp", ucat)):
                run = subprocess.run(
                    ["ip", "netns", "exec", lk.near, sys.executable, "-m", "rttgeo", "locate",
                     "--landmarks", str(catalog), "--protocol", proto, "--json", "-q",
                     "--timeout", "2", "-k", "2"],
                    capture_output=True, text=True, timeout=120,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )
                assert run.returncode == 0, (proto, run.stderr)
                assert "Traceback" not in run.stderr
                doc = json.loads(run.stdout)
                assert doc["measurement"]["landmarks_answered"] == 4, proto
                rtts = [d["rtt_ms"] for d in doc["estimate"]["landmarks"]]
                # netem holds each reply 10 ms: no RTT can be below it (a physical lower bound)
                assert min(rtts) >= delay_ms, (proto, rtts)
                _check_physics(doc)
        finally:
            server.terminate()
            server.communicate(timeout=10)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def _dev_of(ns: str, address: str) -> str:
    out = subprocess.run(["ip", "-n", ns, "-o", "-6", "addr", "show"], check=True,
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        if f" {address}/" in line:
            return line.split()[1]
    raise AssertionError(f"no device holds {address} in {ns}: {out}")


def _announced_port(server: subprocess.Popen) -> int:
    """The port ``rttgeo serve --port 0`` picked, from its first line on stdout (within 30 s)."""
    import re
    import select

    assert server.stdout is not None
    ready, _, _ = select.select([server.stdout], [], [], 30.0)
    assert ready, "rttgeo serve did not start within 30 s"
    line = server.stdout.readline()
    m = re.search(r"port (\d+)", line)
    assert m, (line, server.poll())
    return int(m.group(1))
