"""Anchoring-mesh discovery (``/api/v2/anchor-measurements/``), ``atlas fetch --anchor-mesh`` and
``atlas mesh --anchor-mesh``, against the fake API on loopback (the client does not know it is
fake); and the atlas commands' command-line convention (-q, --json, --out -, bad input)."""

from __future__ import annotations

import json
import re

import pytest

from rttgeo.api.atlas import discover_anchor_mesh
from rttgeo.atlas import AtlasClient, mesh_measurements
from rttgeo.cli import main
from rttgeo.store import CampaignStore, remote_measurements

from .conftest import LIAR_ID


def _mesh_world(fake, n=12):
    """The built-in measurements towards ``n`` connected anchors and the liar (declared on
    Tahiti, truly in Frankfurt); returns ({probe id: IPv4 mesh ping id}, anchors)."""
    anchors = [p for p in fake.probes if p.is_anchor and p.status_id == 1 and p.id != LIAR_ID][:n]
    anchors.append(fake.probe(LIAR_ID))
    return fake.add_anchoring_mesh([a.id for a in anchors]), anchors


def _fetched_paths(fake):
    return [r[1] for r in fake.requests if re.match(r"/api/v2/measurements/\d+/(latest|results)",
                                                     r[1])]


def test_discovery_keeps_only_the_ipv4_mesh_pings_in_the_real_record_shape(atlas_env):
    fake = atlas_env
    ping4, _ = _mesh_world(fake)
    c = AtlasClient(server=fake.host, verify=fake.ca_file)
    nested = c.anchor_measurements()
    assert any(r["type"] == "traceroute" for r in nested)  # the list holds more than rttgeo wants
    assert any(r["is_mesh"] is False for r in nested)
    assert all(isinstance(r["target"], dict) and isinstance(r["measurement"], dict)
               for r in nested)
    found = mesh_measurements(nested)
    assert [m.msm_id for m in found] == [ping4[a] for a in sorted(ping4)]
    assert [m.landmark_id for m in found] == [f"atlas-{a}" for a in sorted(ping4)]
    liar = next(m for m in found if m.probe_id == LIAR_ID)
    assert (liar.anchor.lat_deg, liar.anchor.lon_deg) == (-17.535, -149.569)  # as declared
    assert liar.anchor.address == fake.probe(LIAR_ID).address_v4
    assert all(m.af == 4 and m.description.startswith("Anchoring Mesh Measurement: Ping IPv4")
               for m in found)
    six = mesh_measurements(nested, af=6)
    assert len(six) == len(found) and {m.af for m in six} == {6}
    assert all(":" in m.anchor.address for m in six)
    # without include= the API gives URLs: resolved through /api/v2/anchors/ and
    # /api/v2/measurements/?id__in=..., the same measurements come out
    urls = c.anchor_measurements(include="")
    assert all(isinstance(r["target"], str) and "/anchors/" in r["target"] for r in urls)
    assert all(isinstance(r["measurement"], str) for r in urls)
    by_id = {a["id"]: a for a in c.anchors()}
    msms = {m["id"]: m for m in c.measurements(id__in=[r["measurement"].split("/")[-2]
                                                       for r in urls])}
    plain = mesh_measurements(urls, anchor_records=by_id, measurement_records=msms)
    assert [(m.msm_id, m.probe_id, m.anchor, m.af) for m in plain] == [
        (m.msm_id, m.probe_id, m.anchor, m.af) for m in found]
    # and without the measurement records the address family is unknown: IPv6 ones come too
    unknown = mesh_measurements(urls, anchor_records=by_id)
    assert len(unknown) == 2 * len(found) and {m.af for m in unknown} == {None}
    # the verb does that resolution itself when the API ignores include=
    fake.ignore_include = True
    got = discover_anchor_mesh(client=c, limit=4)
    assert [(m.msm_id, m.probe_id, m.anchor.lat_deg, m.anchor.address) for m in got] == [
        (m.msm_id, m.probe_id, m.anchor.lat_deg, m.anchor.address) for m in found[:4]]


def test_fetch_anchor_mesh_latest_results_anchors_limit_and_window(atlas_env, tmp_path, capsys):
    fake = atlas_env
    ping4, anchors = _mesh_world(fake)
    db = tmp_path / "mesh.db"
    rc = main(["atlas", "fetch", "--anchor-mesh", "--store", str(db)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    # 13 anchors: each measurement's latest result from the 12 others, 3 packets each
    assert cap.out.count(": 36 samples") == 13, cap.out
    assert f"(anchor atlas-{LIAR_ID})" in cap.out and "found 13 anchoring-mesh" in cap.err
    assert not any("Authorization" in r[2] for r in fake.requests)  # public: no key sent
    paths = _fetched_paths(fake)
    assert sorted(paths) == sorted(f"/api/v2/measurements/{m}/latest" for m in ping4.values())
    with CampaignStore(db) as st:
        infos = {i.params["msm_id"]: i for i in st.campaigns()}
        a, b = anchors[0], anchors[1]
        info = infos[ping4[a.id]]
        assert info.params["anchor"]["id"] == f"atlas-{a.id}"
        got = sorted(s.rtt_ms for s in st.samples(info.id) if s.landmark == f"atlas-{b.id}")
        # the latest round (the second): jitter keys k + 1 x packets
        assert got == sorted(fake.rtt_ms(b, a.address_v4, ping4[a.id], k) for k in (3, 4, 5))
    # again: every measurement is already in the store, nothing fetched
    n_before = len(_fetched_paths(fake))
    assert main(["atlas", "fetch", "--anchor-mesh", "--store", str(db), "--json", "-q"]) == 0
    cap = capsys.readouterr()
    lines = [json.loads(x) for x in cap.out.splitlines()]
    assert len(lines) == 13 and {x["status"] for x in lines} == {"already stored"}
    assert cap.err == "" and len(_fetched_paths(fake)) == n_before

    # --anchors (probe ids, plain or as landmark ids) and --limit (the lowest probe ids)
    db2 = tmp_path / "two.db"
    pick = [anchors[3].id, anchors[5].id]
    assert main(["atlas", "fetch", "--anchor-mesh", "--anchors", f"atlas-{pick[0]},{pick[1]}",
                 "--store", str(db2), "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["msm_id"] for x in lines] == [ping4[p] for p in sorted(pick)]
    assert all(x["n_samples"] == 36 and x["store"] == str(db2) for x in lines)
    assert main(["atlas", "fetch", "--anchor-mesh", "--limit", "3", "--store",
                 str(tmp_path / "three.db"), "--json", "-q"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["anchor"] for x in lines] == [f"atlas-{p}" for p in sorted(ping4)[:3]]

    # a time window: only the first round (1700000000 + i, i < 12) of one measurement
    db3 = tmp_path / "window.db"
    a, b = anchors[0], anchors[1]
    assert main(["atlas", "fetch", str(ping4[a.id]), "--start", "1700000000", "--stop",
                 "2023-11-14T22:17:19", "--store", str(db3)]) == 0  # = 1700000239
    assert f"measurement {ping4[a.id]}: 36 samples" in capsys.readouterr().out
    with CampaignStore(db3) as st:
        (info,) = st.campaigns()
        got = sorted(s.rtt_ms for s in st.samples(info.id) if s.landmark == f"atlas-{b.id}")
    assert got == sorted(fake.rtt_ms(b, a.address_v4, ping4[a.id], k) for k in (0, 1, 2))
    assert f"/api/v2/measurements/{ping4[a.id]}/results?start=1700000000&stop=1700000239" in [
        r[1] for r in fake.requests]


def test_mesh_from_discovery_flags_the_liar_without_a_hand_made_catalog(atlas_env, tmp_path,
                                                                       capsys):
    """The liar is not in the bundled catalog; discovery records every target anchor as the API
    declares it, so the mesh has it and the speed-of-light check flags it."""
    fake = atlas_env
    _, anchors = _mesh_world(fake)
    db, out = tmp_path / "mesh.db", tmp_path / "mesh.parquet"
    rc = main(["atlas", "mesh", "--anchor-mesh", "--store", str(db), "--out", str(out)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "13 anchors, 156 measured ordered pairs from 468 samples" in cap.out
    assert f"flagged anchor atlas-{LIAR_ID}" in cap.out and f"wrote {out}" in cap.out
    from rttgeo.datasets import load_mesh_parquet

    mesh = load_mesh_parquet(out)
    assert set(mesh.ids) == {f"atlas-{a.id}" for a in anchors}
    assert [mesh.ids[k] for k in range(len(mesh)) if mesh.bad[k]] == [f"atlas-{LIAR_ID}"]
    k = mesh.index(f"atlas-{LIAR_ID}")
    assert (mesh.lat_deg[k], mesh.lon_deg[k]) == (-17.535, -149.569)
    # the same store again, without discovery: the recorded anchors still give the same mesh
    rc = main(["atlas", "mesh", "--store", str(db), "--out", str(tmp_path / "again.parquet"),
               "--json", "-q"])
    cap = capsys.readouterr()
    doc = json.loads(cap.out)
    assert rc == 0 and cap.err == ""
    assert doc["n_anchors"] == 13 and doc["n_pairs"] == 156 and doc["fetched"] is None
    assert list(doc["flagged"]) == [f"atlas-{LIAR_ID}"]
    with CampaignStore(db) as st:
        assert len(remote_measurements(st, service="ripe-atlas")) == 13


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["atlas", "fetch", "--store", "{db}"], r"MSM_ID.*no measurement id given"),
        (["atlas", "fetch", "5", "--anchor-mesh", "--store", "{db}"], r"not both"),
        (["atlas", "fetch", "5", "--anchors", "6025", "--store", "{db}"], r"add --anchor-mesh"),
        (["atlas", "fetch", "--anchor-mesh", "--anchors", "x1", "--store", "{db}"],
         r"--anchors: expected probe ids"),
        (["atlas", "fetch", "--anchor-mesh", "--anchors", "999999", "--store", "{db}"],
         r"no IPv4 anchoring-mesh ping measurement found for anchor probe id\(s\) 999999"),
        (["atlas", "fetch", "--anchor-mesh", "--limit", "0", "--store", "{db}"],
         r"--limit: must be >= 1"),
        (["atlas", "fetch", "5", "--start", "2026-13-01", "--store", "{db}"], r"--start: expected"),
        (["atlas", "fetch", "5", "--start", "2000", "--stop", "1000", "--store", "{db}"],
         r"--stop must be after --start"),
        (["atlas", "fetch", "5", "--store", "-"], r"cannot go to stdout"),
        (["atlas", "mesh", "--store", "{db}", "--out", "{tmp}/m.csv"], r"expected a .parquet"),
        (["atlas", "mesh", "--store", "{db}", "--out", "-"], r"cannot go to stdout"),
        (["atlas", "mesh", "--store", "{db}", "--out", "{tmp}/m.parquet", "--limit", "2"],
         r"add --anchor-mesh"),
        (["atlas", "locate", "198.51.100.1", "--store", "{db}", "--out", "{tmp}/no/x.json"],
         r"does not exist"),
        (["atlas", "locate", "198.51.100.1", "--store", "{db}", "--poll", "nan"], r"--poll"),
        (["atlas", "locate", "198.51.100.1", "--store", "{db}", "--second", "-1"], r"--second"),
    ],
)
def test_atlas_bad_input_exits_2_one_line_nothing_written(atlas_env, tmp_path, capsys, args,
                                                          match):
    fake = atlas_env
    _mesh_world(fake, n=3)
    subst = {"{db}": str(tmp_path / "s.db"), "{tmp}": str(tmp_path)}
    rc = main([re.sub(r"\{\w+\}", lambda m: subst[m.group(0)], a) for a in args])
    cap = capsys.readouterr()
    assert rc == 2, cap
    assert re.search(match, cap.err), cap.err
    assert len(cap.err.strip().splitlines()) == 1 and "Traceback" not in cap.err
    assert cap.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tls"], "nothing written"
    assert fake.created == [] and _fetched_paths(fake) == []


def test_locate_json_lines_quiet_and_out_dash(atlas_env, tmp_path, capsys):
    fake = atlas_env
    db = tmp_path / "s.db"
    targets = ["198.51.100.1", "198.51.100.2"]
    rc = main(["atlas", "locate", *targets, "--store", str(db), "--method", "cbg", "--first",
               "10", "--second", "5", "--poll", "0", "--json", "-q"])
    cap = capsys.readouterr()
    assert rc == 0 and cap.err == ""  # -q: no plan, no progress
    lines = [json.loads(x) for x in cap.out.splitlines()]
    assert [x["target"] for x in lines] == targets
    for x in lines:
        assert len(x["msm_ids"]) == 2 and x["n_samples"] == 15 * 3 and x["error"] == ""
        assert x["estimate"]["method"] == "cbg" and x["estimate"]["point"]["lat_deg"] is not None
        assert isinstance(x["left_out"], dict)
    # the Frankfurt target: the liar (truly in Frankfurt) answered too fast and was left out
    assert f"atlas-{LIAR_ID}" in lines[0]["left_out"]
    assert len(fake.created) == 4
    # again (all stored): the estimates document on stdout after the table, nothing created
    rc = main(["atlas", "locate", *targets, "--store", str(db), "--method", "cbg", "--first",
               "10", "--second", "5", "--poll", "0", "--out", "-", "-q"])
    out = capsys.readouterr().out
    table, _, doc = out.partition("\n{")
    assert rc == 0 and table.startswith("target ") and len(fake.created) == 4
    est = json.loads("{" + doc)
    assert set(est) == set(targets) and all("point" in e for e in est.values())
