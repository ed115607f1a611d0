"""World files: parsing, validation errors naming the field, delay models, real-mesh selection."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from rttgeo.errors import WorldError
from rttgeo.lab.world import (
    LAB_NETWORK,
    block_capacity,
    great_circle_km,
    load_world,
    parse_world,
    world_from_mesh,
)
from rttgeo.models import Mesh
from rttgeo.units import C_KM_PER_MS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "worlds"


def _world(**over: object) -> dict:
    base: dict = {
        "name": "t",
        "delay": {"model": "geography", "fraction_of_c": 0.5, "inflation": 1.0},
        "hosts": [
            {"name": "a", "lat_deg": 0.0, "lon_deg": 0.0},
            {"name": "b", "lat_deg": 0.0, "lon_deg": 90.0, "role": "target", "access_ms": 1.5},
        ],
    }
    base.update(over)
    return base


def test_examples_parse() -> None:
    files = sorted(EXAMPLES.glob("*.toml")) + sorted(EXAMPLES.glob("*.json"))
    assert files, "examples/worlds must hold at least one world"
    for f in files:
        w = load_world(f)
        assert len(w) >= 2
        off = w.rtt_ms[~np.eye(len(w), dtype=bool)]
        assert np.all(np.isfinite(off)) and np.all(off > 0)
        assert np.allclose(w.rtt_ms, w.rtt_ms.T, equal_nan=True)


def test_geography_delay_matches_formula() -> None:
    w = parse_world(_world())
    # a quarter of the equator at half of c, round trip, plus b's access delay
    quarter_km = math.pi / 2 * 6371.0088
    expect = 2 * quarter_km / (0.5 * C_KM_PER_MS) + 1.5
    assert w.rtt_ms[0, 1] == pytest.approx(expect, rel=1e-12)
    assert w.rtt_ms[1, 0] == w.rtt_ms[0, 1]
    assert math.isnan(w.rtt_ms[0, 0])
    assert np.allclose(w.one_way_ms()[0, 1] * 2, expect)
    assert w.one_way_ms()[0, 0] == 0.0
    assert [h.role for h in w.hosts] == ["landmark", "target"]


def test_great_circle_against_geographiclib_sphere() -> None:
    from geographiclib.geodesic import Geodesic

    g = Geodesic(6371.0088, 0.0)  # sphere
    lat = np.array([48.8566, -33.87, 35.68, 0.0])
    lon = np.array([2.3522, 151.21, 139.69, -179.9])
    d = great_circle_km(lat, lon)
    for i in range(4):
        for j in range(4):
            ref = g.Inverse(lat[i], lon[i], lat[j], lon[j])["s12"]
            assert d[i, j] == pytest.approx(ref, abs=1e-6)


def test_matrix_model_and_roundtrip_through_json(tmp_path: Path) -> None:
    data = _world(delay={"model": "matrix", "rtt_ms": [[0, 70.0], [74.0, 0]], "jitter_ms": 0.2})
    w = parse_world(data)
    assert w.rtt_ms[0, 1] == pytest.approx(72.0 + 1.5)  # mean of both ways + access
    p = tmp_path / "w.json"
    p.write_text(json.dumps(w.to_json()))
    w2 = load_world(p)
    assert np.allclose(w2.rtt_ms, w.rtt_ms, equal_nan=True)
    assert w2.jitter_ms == 0.2 and w2.names == w.names


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.update(colour="red"), "colour"),
        (lambda d: d["hosts"][1].update(lat=1.0), "hosts[1].lat"),
        (lambda d: d["hosts"][1].update(name="a"), "hosts[1].name"),
        (lambda d: d["hosts"][0].update(lat_deg=91.0), "hosts[0].lat_deg"),
        (lambda d: d["hosts"][0].update(lon_deg=float("nan")), "hosts[0].lon_deg"),
        (lambda d: d["hosts"][0].update(lon_deg="east"), "hosts[0].lon_deg"),
        (lambda d: d["hosts"][0].update(role="router"), "hosts[0].role"),
        (lambda d: d["hosts"][0].update(access_ms=-1.0), "hosts[0].access_ms"),
        (lambda d: d["hosts"][0].update(name="bad name"), "hosts[0].name"),
        (lambda d: d["hosts"][0].pop("lon_deg"), "hosts[0].lon_deg"),
        (lambda d: d["delay"].update(fraction_of_c=1.5), "delay.fraction_of_c"),
        (lambda d: d["delay"].update(inflation=0.5), "delay.inflation"),
        (lambda d: d["delay"].update(loss=1.0), "delay.loss"),
        (lambda d: d["delay"].update(jitter_ms=-0.1), "delay.jitter_ms"),
        (lambda d: d["delay"].update(model="teleport"), "delay.model"),
        (lambda d: d["delay"].update(speed=3), "delay.speed"),
        (lambda d: d.update(network={"prefix_len": 14}), "network.prefix_len"),
        (lambda d: d.update(network={"port": 0}), "network.port"),
        (lambda d: d.update(hosts=[]), "hosts"),
    ],
)
def test_bad_input_names_the_field(mutate, field: str) -> None:  # type: ignore[no-untyped-def]
    data = _world()
    mutate(data)
    with pytest.raises(WorldError) as info:
        parse_world(data, where="w.toml")
    assert info.value.field == field
    assert field in str(info.value) and "w.toml" in str(info.value)


def test_faster_than_light_matrix_rejected() -> None:
    # 0 deg -> 90 deg on the equator is 10,008 km: at least 66.8 ms round trip at c
    data = _world(delay={"model": "matrix", "rtt_ms": [[0, 50.0], [50.0, 0]]})
    with pytest.raises(WorldError, match="faster than light") as info:
        parse_world(data)
    assert info.value.field == "delay.rtt_ms[0][1]"


def test_matrix_shape_and_values_checked() -> None:
    with pytest.raises(WorldError) as info:
        parse_world(_world(delay={"model": "matrix", "rtt_ms": [[0, 80.0]]}))
    assert info.value.field == "delay.rtt_ms"
    with pytest.raises(WorldError) as info:
        parse_world(_world(delay={"model": "matrix", "rtt_ms": [[0, 80.0], [-1, 0]]}))
    assert info.value.field == "delay.rtt_ms[1][0]"
    with pytest.raises(WorldError) as info:
        parse_world(_world(delay={"model": "geography", "rtt_ms": [[0, 80.0], [80, 0]]}))
    assert info.value.field == "delay.rtt_ms"


def test_too_many_hosts_for_block() -> None:
    hosts = [{"name": f"h{i}", "lat_deg": 0.0, "lon_deg": i * 0.01} for i in range(15)]
    ok = _world(hosts=hosts[:14], network={"prefix_len": 28})
    assert len(parse_world(ok)) == 14 == block_capacity(28)
    with pytest.raises(WorldError, match="do not fit") as info:
        parse_world(_world(hosts=hosts, network={"prefix_len": 28}))
    assert info.value.field == "hosts"
    assert block_capacity(LAB_NETWORK.prefixlen) == 2**17 - 2


def test_toml_and_json_files(tmp_path: Path) -> None:
    t = tmp_path / "w.toml"
    t.write_text('name = "x"\n[[hosts]]\nname = "a"\nlat_deg = 1\nlon_deg = 2\n'
                 '[[hosts]]\nname = "b"\nlat_deg = 3\nlon_deg = 4\nrole = "target"\n')
    assert load_world(t).names == ("a", "b")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(WorldError, match="not valid TOML"):
        load_world(bad)
    with pytest.raises(WorldError, match="cannot read"):
        load_world(tmp_path / "missing.json")


def _mesh(n: int = 12, missing: tuple[int, int] | None = None, bad: int | None = None) -> Mesh:
    rng = np.random.default_rng(3)
    lat = rng.uniform(-50, 60, n)
    lon = rng.uniform(-120, 140, n)
    d = great_circle_km(lat, lon)
    rtt = d / 100.0 * 1.3 + 2.0 + rng.uniform(0, 1, (n, n))
    np.fill_diagonal(rtt, np.nan)
    if missing:
        i, j = missing
        rtt[i, j] = np.nan
    flags = np.zeros(n, dtype=bool)
    if bad is not None:
        flags[bad] = True
    return Mesh(ids=tuple(f"s{i}" for i in range(n)), lat_deg=lat, lon_deg=lon, rtt_ms=rtt,
                bad=flags, name="synthetic")


def test_world_from_mesh_symmetric_complete_and_skips_bad() -> None:
    mesh = _mesh(12, missing=(2, 5), bad=7)
    w = world_from_mesh(mesh, 8, 2, seed=1)
    assert len(w) == 10 and len(w.target_indices()) == 2 and len(w.landmark_indices()) == 8
    src = list(w.params["source_ids"])
    assert "s7" not in src  # bad host skipped
    assert not ({"s2", "s5"} <= set(src))  # the pair without an RTT is never both chosen
    for a, sa in enumerate(src):
        for b, sb in enumerate(src):
            if a != b:
                i, j = mesh.index(sa), mesh.index(sb)
                assert w.rtt_ms[a, b] == pytest.approx((mesh.rtt_ms[i, j] + mesh.rtt_ms[j, i]) / 2)
    assert world_from_mesh(mesh, 8, 2, seed=1).names == w.names  # seed fixes the choice
    with pytest.raises(WorldError, match="usable hosts"):
        world_from_mesh(mesh, 10, 1)
