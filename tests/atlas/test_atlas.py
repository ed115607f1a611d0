"""RIPE Atlas: the client against a fake API on loopback (HTTPS), and the atlas commands."""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3

import numpy as np
import pytest

from rttgeo.atlas import (
    AtlasAuthError,
    AtlasClient,
    AtlasLimits,
    AtlasRateLimited,
    AtlasRequestError,
    LimitCheck,
    load_api_key,
    ping_result_credits,
)
from rttgeo.cli import main
from rttgeo.geo.sphere import distance_km
from rttgeo.store import CampaignStore, remote_measurements

from .conftest import KEY, LIAR_ID


def _client(fake, key=KEY):
    return AtlasClient(key=key, server=fake.host, verify=fake.ca_file)


# -- client ----------------------------------------------------------------------------------
def test_client_follows_every_page_of_the_probe_list(fake_atlas):
    probes = _client(fake_atlas).probes(status=1)
    assert len(probes) == len([p for p in fake_atlas.probes if p.status_id == 1])
    pages = [r for r in fake_atlas.requests if r[1].startswith("/api/v2/probes/")]
    assert len(pages) == -(-len(probes) // fake_atlas.page_size) >= 8
    assert all(r[2].get("User-Agent", "").startswith("rttgeo/") for r in pages)


def test_client_errors_400_403_429(fake_atlas):
    c = _client(fake_atlas)
    with pytest.raises(AtlasRequestError, match=r"HTTP 400.*/definitions/0/af"):
        c.create_ping(target="2001:db8::1", af=4, probe_ids=[6025], packets=3, description="t")
    with pytest.raises(AtlasAuthError, match=r"HTTP 403.*does not exist.*RTTGEO_ATLAS_KEY"):
        _client(fake_atlas, key="not-a-key").create_ping(
            target="192.0.2.1", af=4, probe_ids=[6025], packets=3, description="t")
    with pytest.raises(AtlasAuthError, match="needs an API key"):
        _client(fake_atlas, key=None).create_ping(
            target="192.0.2.1", af=4, probe_ids=[6025], packets=3, description="t")
    fake_atlas.fail_next.append(("POST", "/api/v2/measurements/", 429))
    with pytest.raises(AtlasRateLimited, match=r"HTTP 429.*resumes"):
        c.create_ping(target="192.0.2.1", af=4, probe_ids=[6025], packets=3, description="t")
    fake_atlas.max_concurrent = 1
    c.create_ping(target="192.0.2.1", af=4, probe_ids=[6025], packets=3, description="t")
    with pytest.raises(AtlasRateLimited, match="concurrent"):
        c.create_ping(target="192.0.2.2", af=4, probe_ids=[6025], packets=3, description="t")


def test_client_measurement_life_cycle(fake_atlas):
    c = _client(fake_atlas)
    m = c.create_ping(target="198.51.100.1", af=4, probe_ids=[6025, 6031], packets=3,
                      description="t")
    body = fake_atlas.bodies[-1]
    assert body["is_oneoff"] is True and body["probes"] == [
        {"type": "probes", "requested": 2, "value": "6025,6031"}]
    assert body["definitions"][0]["type"] == "ping" and body["definitions"][0]["packets"] == 3
    states = [c.status(m).status for _ in range(3)]
    assert states == ["Specified", "Ongoing", "Stopped"] and c.status(m).final
    res = c.results(m)
    assert {r["prb_id"] for r in res} == {6025, 6031} and all(r["fw"] == 5080 for r in res)


def test_key_from_env_or_file_never_shown(tmp_path):
    assert load_api_key(env={"RTTGEO_ATLAS_KEY": " k1 \n"}) == "k1"
    assert load_api_key(env={}) is None
    f = tmp_path / "key"
    f.write_text("k2\n")
    assert load_api_key(key_file=f, env={"RTTGEO_ATLAS_KEY": "k1"}) == "k2"
    f.write_text("")
    with pytest.raises(Exception, match="empty"):
        load_api_key(key_file=f)
    assert "k1" not in repr(AtlasClient(key="k1", server="x"))


def test_credits_and_limits_as_documented():
    """RIPE's unit cost of a ping result, N * (int(S/1500) + 1), doubled for a one-off, and the
    per-user limits (docs/atlas.md cites each)."""
    assert ping_result_credits(3, oneoff=False) == 3  # "the default unit cost = 3"
    assert ping_result_credits(3) == 6  # one-off: "twice as expensive"
    assert ping_result_credits(3, 1600, oneoff=False) == 6
    lim = AtlasLimits()
    assert (lim.max_concurrent, lim.max_probes, lim.daily_results, lim.daily_credits,
            lim.max_same_target) == (100, 1000, 100_000, 1_000_000, 25)
    ok = LimitCheck.of(credits=600_000, results=100_000, probes_per_measurement=1000, limits=lim)
    assert ok.ok and ok.problems == ()
    over = LimitCheck.of(credits=6, results=1, results_today=100_000, probes_per_measurement=1,
                         limits=lim)
    assert not over.ok and "daily limit of 100,000 results" in over.problems[0]


# -- locate ----------------------------------------------------------------------------------
def _targets_file(tmp_path, fake):
    f = tmp_path / "targets.txt"
    f.write_text("# the fake world's targets\n" + "\n".join(fake.truth) + "\n")
    return f


def test_locate_20_addresses_end_to_end(atlas_env, tmp_path, capsys, caplog):
    """The offline end-to-end: plan, credits, measurements, stored samples, estimates."""
    fake = atlas_env
    caplog.set_level(logging.DEBUG)
    db = tmp_path / "s.db"
    rc = main(["atlas", "locate", "--targets", str(_targets_file(tmp_path, fake)), "--store",
               str(db), "--method", "cbg", "--first", "20", "--second", "10", "--poll", "0",
               "--out", str(tmp_path / "est.json")])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    out = cap.out
    # the plan of a real run and its progress are narration (stderr); the table is the result
    assert "plan: 20 target(s)" in cap.err
    assert "40 new measurement(s), 600 result(s), 3,600 credits" in cap.err
    assert "created 40 measurement(s)" in cap.err and "stage 2: " in cap.err
    assert "plan:" not in out and out.startswith("target ")
    assert len(fake.created) == 40
    est = json.loads((tmp_path / "est.json").read_text())
    errors = [distance_km(*fake.truth[t], e["point"]["lat_deg"], e["point"]["lon_deg"])
              for t, e in est.items()]
    assert len(errors) == 20
    # RTTs are 2/3 c with 1.3 inflation: CBG's speed-of-light discs hold the truth; the median
    # error of the two-stage choice stays within 300 km on this geometry
    assert float(np.median(errors)) < 300, errors
    covered = sum(e["region"] is not None for e in est.values())
    assert covered == 20
    with CampaignStore(db) as st:
        infos = [i for i in st.campaigns() if i.params.get("kind") == "atlas-locate"]
        assert len(infos) == 20 and all(i.status == "complete" for i in infos)
        v6 = next(i for i in infos if i.target == "2001:db8:f::6")
        samples = st.samples(v6.id)
        assert len(samples) == 30 * 3 and all(s.landmark.startswith("atlas-") for s in samples)
        assert all(s.target == "2001:db8:f::6" for s in samples)
        recs = remote_measurements(st, service="ripe-atlas")
        assert len(recs) == 40 and all(r.fetched for r in recs)
    # the liar (declared on Tahiti, truly in Frankfurt) answered the Frankfurt target too fast
    assert f"flagged vantage point atlas-{LIAR_ID}" in out
    # the key went only into the Authorization header: never a URL, the output, logs or the store
    creates = [r for r in fake.requests if r[0] == "POST"]
    assert all(r[2].get("Authorization") == f"Key {KEY}" for r in creates)
    assert not any(KEY in r[1] for r in fake.requests)
    assert KEY not in cap.out + cap.err
    assert KEY not in caplog.text
    assert KEY.encode() not in db.read_bytes()
    assert KEY not in (tmp_path / "est.json").read_text()


def test_locate_resumes_from_stored_measurement_ids(atlas_env, tmp_path, capsys, monkeypatch):
    fake = atlas_env
    db = tmp_path / "s.db"
    targets = list(fake.truth)[:4]
    # the run is interrupted (Ctrl-C) while it waits for the first wave's results
    import rttgeo.api.atlas as api_atlas

    calls = {"n": 0}

    def interrupting_sleep(s):
        calls["n"] += 1
        raise KeyboardInterrupt

    monkeypatch.setattr(api_atlas, "_sleep", interrupting_sleep)
    rc = main(["atlas", "locate", *targets, "--store", str(db), "--method", "cbg", "--first",
               "10", "--second", "5", "--poll", "1"])
    assert rc == 130 and calls["n"] == 1
    assert len(fake.created) == 4  # the first wave was paid for
    monkeypatch.setattr(api_atlas, "_sleep", lambda s: None)
    rc = main(["atlas", "locate", *targets, "--store", str(db), "--method", "cbg", "--first",
               "10", "--second", "5", "--poll", "1", "--dry-run"])
    out = capsys.readouterr().out
    assert rc == 0 and "resuming measurement(s)" in out and "4 new measurement(s)" in out
    rc = main(["atlas", "locate", *targets, "--store", str(db), "--method", "cbg", "--first",
               "10", "--second", "5", "--poll", "1"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "created 4 measurement(s), resumed 4" in err
    assert len(fake.created) == 8  # no first-wave measurement paid twice
    # a third run finds everything stored and creates nothing
    rc = main(["atlas", "locate", *targets, "--store", str(db), "--method", "cbg", "--first",
               "10", "--second", "5", "--poll", "1"])
    assert rc == 0 and len(fake.created) == 8


def test_dry_run_plans_and_checks_limits(atlas_env, tmp_path, capsys):
    fake = atlas_env
    db = tmp_path / "s.db"
    rc = main(["atlas", "locate", "198.51.100.1", "2001:db8:f::6", "--store", str(db),
               "--dry-run", "--first", "30", "--second", "30", "--packets", "4"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "4 new measurement(s), 120 result(s), 960 credits" in out
    assert "credit balance: 1,000,000" in out and "within RIPE Atlas's limits" in out
    assert fake.created == [] and not db.exists()
    rc = main(["atlas", "locate", "198.51.100.1", "--store", str(db), "--dry-run", "--first",
               "1001"])
    out = capsys.readouterr().out
    assert rc == 2 and "LIMIT: 1001 probes in one measurement" in out
    fake.past_day_results = 99_950  # the key's owner produced that many results today
    rc = main(["atlas", "locate", "198.51.100.1", "--store", str(db), "--dry-run", "--json"])
    plan = json.loads(capsys.readouterr().out)
    assert rc == 2 and plan["ok"] is False and plan["new_results"] == 60
    assert plan["problems"] == ["60 results (+99,950 in the past day) exceed the daily limit of "
                                "100,000 results: split the targets over several days"]
    fake.past_day_results = 0
    fake.credits = 100
    rc = main(["atlas", "locate", "198.51.100.1", "--store", str(db), "--first", "30"])
    err = capsys.readouterr().err
    assert rc == 2 and "balance is 100" in err and fake.created == []


@pytest.mark.parametrize(
    ("args", "code", "match"),
    [
        (["atlas", "locate", "not-an-ip", "--store", "{db}"], 2, r"'not-an-ip' is not an IPv4"),
        (["atlas", "locate", "198.51.100.1", "--store", "{db}", "--method", "nope"], 2,
         r"unknown method"),
        (["atlas", "locate", "198.51.100.1", "--store", "{db}", "--key-file", "{nokey}"], 2,
         r"nokey: field '--key-file': cannot read"),
        (["atlas", "locate", "--store", "{db}"], 2, r"ADDRESS"),
    ],
)
def test_locate_bad_input(atlas_env, tmp_path, capsys, args, code, match):
    subst = {"{db}": str(tmp_path / "s.db"), "{nokey}": str(tmp_path / "nokey")}
    rc = main([subst.get(a, a) for a in args])
    err = capsys.readouterr().err
    assert rc == code and re.search(match, err), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert atlas_env.created == [] and not (tmp_path / "s.db").exists()


def test_locate_without_key_is_a_runtime_error_with_advice(atlas_env, tmp_path, capsys,
                                                           monkeypatch):
    monkeypatch.delenv("RTTGEO_ATLAS_KEY")
    rc = main(["atlas", "locate", "198.51.100.1", "--store", str(tmp_path / "s.db")])
    err = capsys.readouterr().err
    assert rc == 1 and "needs an API key" in err and "RTTGEO_ATLAS_KEY" in err


# -- fetch and mesh --------------------------------------------------------------------------
def _anchoring_mesh(fake, n=14):
    anchors = [p for p in fake.probes if p.is_anchor and p.status_id == 1][:n]
    anchors.append(fake.probe(LIAR_ID))
    ids = []
    for k, a in enumerate(anchors):
        m = 5_000_000 + k
        fake.add_public(m, a.address_v4, 4, [b.id for b in anchors if b is not a],
                        f"Anchoring Mesh Measurement: Ping IPv4 for anchor {a.id}")
        ids.append(m)
    return ids, anchors


def test_fetch_then_mesh_then_calibrated_locate(atlas_env, tmp_path, capsys):
    fake = atlas_env
    ids, anchors = _anchoring_mesh(fake)
    db = tmp_path / "mesh.db"
    os.environ.pop("RTTGEO_ATLAS_KEY")  # public results: no key needed
    rc = main(["atlas", "fetch", *map(str, ids), "--store", str(db)])
    out = capsys.readouterr().out
    assert rc == 0 and f"measurement {ids[0]}: 42 samples" in out  # 14 anchors x 3 packets
    assert not any("Authorization" in r[2] for r in fake.requests)
    rc = main(["atlas", "fetch", str(ids[0]), "--store", str(db)])
    assert rc == 0 and "already in" in capsys.readouterr().out
    # the liar is not in the bundled catalog: give the mesh a catalog with it
    from rttgeo.catalog import load_default_catalog, save_catalog
    from rttgeo.models import Landmark

    cat = tmp_path / "cat.csv"
    liar = fake.probe(LIAR_ID)
    save_catalog([*load_default_catalog(), Landmark(f"atlas-{LIAR_ID}", -17.535, -149.569,
                                                     liar.address_v4)], cat)
    mesh_file = tmp_path / "mesh.parquet"
    rc = main(["atlas", "mesh", "--store", str(db), "--out", str(mesh_file), "--landmarks", str(cat)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "15 anchors, 210 measured ordered pairs" in out
    assert f"flagged anchor atlas-{LIAR_ID}" in out
    from rttgeo.datasets import load_mesh_parquet

    mesh = load_mesh_parquet(mesh_file)
    i, j = mesh.index(f"atlas-{anchors[0].id}"), mesh.index(f"atlas-{anchors[1].id}")
    expect = min(fake.rtt_ms(anchors[0], anchors[1].address_v4, ids[1], k) for k in range(3))
    assert mesh.rtt_ms[i, j] == expect
    assert bool(mesh.bad[mesh.index(f"atlas-{LIAR_ID}")])
    os.environ["RTTGEO_ATLAS_KEY"] = KEY
    rc = main(["atlas", "locate", "198.51.100.1", "--store", str(tmp_path / "s.db"), "--method",
               "cbg-bestline", "--calibration", str(mesh_file), "--poll", "0", "--first", "20",
               "--second", "10"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert f"flagged vantage point atlas-{LIAR_ID}: calibration mesh" in out


def test_mesh_without_fetched_results_is_an_input_error(tmp_path, capsys):
    db = tmp_path / "s.db"
    CampaignStore(db).close()
    rc = main(["atlas", "mesh", "--store", str(db), "--out", str(tmp_path / "m.parquet")])
    err = capsys.readouterr().err
    assert rc == 2 and "no fetched RIPE Atlas results" in err
    assert not (tmp_path / "m.parquet").exists()


def test_store_is_plain_sqlite(atlas_env, tmp_path):
    """Stored samples are ordinary rows: vantage point = landmark, address = target."""
    fake = atlas_env
    db = tmp_path / "s.db"
    assert main(["atlas", "locate", "198.51.100.1", "--store", str(db), "--method", "cbg",
                 "--first", "5", "--second", "0", "--poll", "0"]) == 0
    con = sqlite3.connect(db)
    rows = con.execute("SELECT DISTINCT target, landmark FROM sample").fetchall()
    con.close()
    assert len(rows) == 5 and {r[0] for r in rows} == {"198.51.100.1"}
    assert len(fake.created) == 1


@pytest.mark.ci_may_skip("it reaches the real RIPE Atlas API; CI has no Internet (RTTGEO_ONLINE=1)")
@pytest.mark.skipif(os.environ.get("RTTGEO_ONLINE") != "1",
                    reason="RTTGEO_ONLINE=1 is not set: this test reaches the real RIPE Atlas API")
def test_online_fetch_a_public_measurement(tmp_path, capsys):  # pragma: no cover - online only
    """The same command against atlas.ripe.net: the built-in ping to k.root (msm 1001)."""
    rc = main(["atlas", "fetch", "1001", "--store", str(tmp_path / "s.db"), "--server",
               "atlas.ripe.net"])
    assert rc == 0 and "measurement 1001:" in capsys.readouterr().out
