"""``rttgeo mesh check``: which hosts' RTTs break the speed of light for their stated positions."""

from __future__ import annotations

import json

import numpy as np

from rttgeo.cli import main
from rttgeo.datasets import save_mesh_dir
from rttgeo.estimate.meshcheck import check_mesh
from rttgeo.geo.sphere import destination, distance_km
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
    # One pair, each host in it alone: a tie, not a suspect (the pair cannot say which is wrong).
    assert not fast.suspects and [(t.pair.a, t.pair.b) for t in fast.ties] == [("a", "b")]
    assert fast.ties[0].n_rest == 1  # c alone is the rest
    assert check_mesh(_mesh(edge * 1.001)).ok


T_LAT, T_LON = 45.0, 10.0  # where the co-located pair x, p of the tie meshes really is


def _tie_mesh(ring_km: float, *, x_slower_ms: float = 0.0, pair_slower_ms: float = 0.0) -> Mesh:
    """Sixteen hosts on two rings (``ring_km`` and 1,500 km) around T, and x and p both at T,
    0.2 ms apart; RTTs are distance / 80 km/ms + 1 ms (slower than fibre), x's to the rings
    ``x_slower_ms`` longer and both x's and p's ``pair_slower_ms`` longer. x's stated position
    is moved 600 km east of T: it is then faster than light with p only (a tie)."""
    bearings = np.arange(0.0, 360.0, 45.0)
    lat1, lon1 = destination(T_LAT, T_LON, bearings, ring_km)
    lat2, lon2 = destination(T_LAT, T_LON, bearings + 22.5, 1500.0)
    lat = np.concatenate([lat1, lat2, [T_LAT, T_LAT]])
    lon = np.concatenate([lon1, lon2, [T_LON, T_LON]])
    d = distance_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    rtt = d / 80.0 + 1.0
    rtt[-2, :] += x_slower_ms
    rtt[:, -2] += x_slower_ms
    rtt[-2:, :] += pair_slower_ms
    rtt[:, -2:] += pair_slower_ms
    rtt[-2, -1] = rtt[-1, -2] = 0.2
    np.fill_diagonal(rtt, np.nan)
    x_lat, x_lon = destination(T_LAT, T_LON, 90.0, 600.0)
    lat[-2], lon[-2] = float(x_lat), float(x_lon)
    ids = (*(f"r{k}" for k in range(16)), "x", "p")
    return Mesh(ids, lat, lon, rtt, np.zeros(18, dtype=bool), "tie")


def test_a_tie_names_the_host_moved_far_from_its_partner() -> None:
    res = check_mesh(_tie_mesh(700.0))
    assert [(p.a, p.b) for p in res.faster_than_light] == [("x", "p")]
    assert not res.suspects and len(res.ties) == 1
    t = res.ties[0]
    assert t.n_rest == 16 and (t.pair.a, t.pair.b) == ("x", "p")
    # The rings are too far for the speed of light in vacuum to tell; CBG's 2/3 c regions do.
    assert all(e.beyond_km <= 0 for e in t.evidence)
    assert t.contradicted == ("x",) and t.by == "cbg"
    x, p = t.evidence
    assert (x.held_by, p.held_by) == (0, 2)
    assert 500 < x.estimate_km < 700 and p.estimate_km < 100  # both located near T
    assert t.verdict.startswith("x contradicted") and "p agreed with" in t.verdict
    assert check_mesh(_tie_mesh(700.0)).to_json() == res.to_json()  # deterministic


def test_a_tie_named_at_the_speed_of_light_when_the_partner_is_pinned() -> None:
    # A ring at 300 km pins p (its vacuum c discs leave x's stated position out by some 90 km);
    # x's own RTTs are 5 ms slower, so x's stated position breaks no other pair.
    res = check_mesh(_tie_mesh(300.0, x_slower_ms=5.0))
    assert not res.suspects and len(res.ties) == 1
    t = res.ties[0]
    x, p = t.evidence
    assert t.contradicted == ("x",) and t.by == "speed of light"
    assert 30.0 < x.beyond_km < 150.0 and p.beyond_km <= 0
    assert f"is {x.beyond_km:,.0f} km farther from it than their RTT allows" in t.verdict


def test_a_tie_the_rest_cannot_tell() -> None:
    # The pair's RTTs to everyone else are 30 ms slower: every region holds both stated positions.
    res = check_mesh(_tie_mesh(700.0, pair_slower_ms=30.0))
    t = res.ties[0]
    assert t.contradicted == () and t.by == ""
    assert [e.held_by for e in t.evidence] == [2, 2]
    assert t.verdict.startswith("cannot tell")
    assert res.to_json()["ties"][0]["agreed"] == []


def test_wonderproxy_names_the_two_hosts_its_readme_warns_of(wonderproxy) -> None:
    res = check_mesh(wonderproxy)
    first = res.suspects[0]
    assert first.id == "220" and first.pairs >= 20  # La Ceiba, the README's 127 fibre-fast pairs
    assert "204" in {s.id for s in res.suspects}
    assert set(res.left_out_at_fit) == {"204", "220"}  # what the estimators' fit leaves out
    doc = res.to_json()
    assert doc["ok"] is False and doc["suspects"][0]["id"] == "220"
    # Rome (190) is fast with Milan and with Lugano: a suspect; two pairs are left as ties.
    assert [s.id for s in res.suspects] == ["220", "190", "204"]
    ties = {(t.pair.a, t.pair.b): t for t in res.ties}
    assert set(ties) == {("3", "147"), ("8", "139")} and ties["3", "147"].n_rest == 239
    # Prague's stated position is outside both hosts' CBG regions, Bratislava's inside both.
    prague = ties["3", "147"]
    assert prague.contradicted == ("3",) and prague.by == "cbg"
    assert [e.held_by for e in prague.evidence] == [0, 2]
    assert prague.evidence[0].estimate_km > 200 > 100 > prague.evidence[1].estimate_km
    # Nothing near New Zealand: the regions hold both Auckland and Wellington.
    assert ties["8", "139"].contradicted == () and "cannot tell" in ties["8", "139"].verdict
    assert doc["ties"][0]["contradicted"] == ["3"] and doc["ties"][0]["agreed"] == ["147"]


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
    tie = save_mesh_dir(_tie_mesh(700.0), tmp_path / "tie")
    assert main(["mesh", "check", str(tie)]) == 2
    out = capsys.readouterr()
    assert "1 tie(s)" in out.out and "x contradicted" in out.out
    # No suspect host: the line counts the pairs, not "0 host(s)" (it did), then the ties.
    assert out.err.strip() == (f"rttgeo: error: {tie}: 1 pair(s) whose RTT breaks the speed of "
                               "light for their hosts' stated positions: ties (one host of "
                               "each): x/p (x contradicted)")
    assert main(["mesh", "check", str(tie), "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["suspects"] == [] and doc["ties"][0]["contradicted"] == ["x"]
    assert doc["ties"][0]["by"] == "cbg" and doc["ties"][0]["hosts"][1]["held_by_regions"] == 2
    assert main(["mesh", "check", str(tmp_path / "nowhere")]) == 2
    assert "unknown dataset" in capsys.readouterr().err
