"""``rttgeo mesh check``: which hosts' RTTs break the speed of light for their stated positions."""

from __future__ import annotations

import json

import numpy as np

from rttgeo.cli import main
from rttgeo.datasets import save_mesh_dir
from rttgeo.estimate.meshcheck import check_mesh
from rttgeo.geo.sphere import distance_km
from rttgeo.models import Mesh


def _mesh(rtt_ab: float) -> Mesh:
    """Three hosts: a and b 1,000 km apart on the equator, c beside a; every other RTT possible."""
    lat = np.array([0.0, 0.0, 0.0])
    lon = np.array([0.0, 8.9932, 0.1])
    d = distance_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    rtt = d / 60.0 + 1.0  # well within the speed of light
    rtt[0, 1] = rtt[1, 0] = rtt_ab
    np.fill_diagonal(rtt, np.nan)
    return Mesh(("a", "b", "c"), lat, lon, rtt, np.zeros(3, dtype=bool), "three")


def test_a_pair_just_faster_than_light_is_found_and_one_just_slower_is_not() -> None:
    d_ab = float(distance_km(0.0, 0.0, 0.0, 8.9932))
    # Allowed: (RTT + 0.05 ms) x 149.9 km/ms + 2 x 10 km (the physics slack of the estimators).
    edge = (d_ab - 20.0) / (299.792458 / 2.0) - 0.05
    fast = check_mesh(_mesh(edge * 0.999))
    assert not fast.ok and [(p.a, p.b) for p in fast.faster_than_light] == [("a", "b")]
    assert fast.faster_than_light[0].allowed_km < fast.faster_than_light[0].distance_km
    assert {s.id for s in fast.suspects} <= {"a", "b"} and len(fast.suspects) == 1
    assert check_mesh(_mesh(edge * 1.001)).ok


def test_wonderproxy_names_the_two_hosts_its_readme_warns_of(wonderproxy) -> None:
    res = check_mesh(wonderproxy)
    first = res.suspects[0]
    assert first.id == "220" and first.pairs >= 20  # La Ceiba, the README's 127 fibre-fast pairs
    assert "204" in {s.id for s in res.suspects}
    assert set(res.left_out_at_fit) == {"204", "220"}  # what the estimators' fit leaves out
    doc = res.to_json()
    assert doc["ok"] is False and doc["suspects"][0]["id"] == "220"


def test_mesh_check_through_the_command_line(tmp_path, capsys) -> None:
    clean = save_mesh_dir(_mesh(20.0), tmp_path / "clean")
    assert main(["mesh", "check", str(clean)]) == 0
    out = capsys.readouterr()
    assert "no pair is faster than light" in out.out and out.err == ""
    bad = save_mesh_dir(_mesh(1.0), tmp_path / "bad")
    assert main(["mesh", "check", str(bad), "--json"]) == 2
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert doc["faster_than_light"][0]["a"] == "a" and doc["source"] == str(bad)
    assert len(out.err.strip().splitlines()) == 1 and "speed of light" in out.err
    assert main(["mesh", "check", str(tmp_path / "nowhere")]) == 2
    assert "unknown dataset" in capsys.readouterr().err
