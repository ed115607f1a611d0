"""``rttgeo locate`` / ``measure`` end to end: a fake prober injected at the CLI's prober seam
(delays from geography), and real UDP probes to rttgeo LandmarkServers on loopback."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import numpy as np
import pytest

from rttgeo.cli import main, measure_cmds
from rttgeo.geo.sphere import distance_km
from rttgeo.measure.fake import FakeProber, Loss, Reply
from rttgeo.store import CampaignStore, load_rtts

TRUE_LAT, TRUE_LON = 48.86, 2.35  # Paris


def write_catalog(path, n=40, protocols="icmp", port=""):
    rng = np.random.default_rng(7)
    lat = np.concatenate([rng.uniform(35, 60, n - 10), rng.uniform(-40, 60, 10)])
    lon = np.concatenate([rng.uniform(-10, 30, n - 10), rng.uniform(-120, 140, 10)])
    lines = ["id,lat_deg,lon_deg,address,port,protocols,country,source"]
    for i in range(n):
        lines.append(f"lm{i},{lat[i]:.4f},{lon[i]:.4f},127.0.0.{i + 1},{port},{protocols},XX,test")
    path.write_text("\n".join(lines) + "\n")
    return lat, lon


def geo_prober(lat, lon, *, lost=()):
    """RTT = 2 x distance / (2/3 c) + 1 ms: what fibre on great circles would give."""
    d = distance_km(TRUE_LAT, TRUE_LON, lat, lon)
    rtt = 2 * d / 199.86 + 1.0
    script = {f"lm{i}": [Loss() if i in lost else Reply(float(r))] for i, r in enumerate(rtt)}
    return FakeProber(script, protocol="icmp"), rtt


@pytest.fixture
def catalog(tmp_path):
    path = tmp_path / "cat.csv"
    lat, lon = write_catalog(path)
    return path, lat, lon


def test_locate_with_injected_fake_prober_end_to_end(catalog, tmp_path, monkeypatch, capsys):
    path, lat, lon = catalog
    prober, rtt = geo_prober(lat, lon, lost={3})
    monkeypatch.setattr(measure_cmds, "make_prober_for", lambda protocol, port=None: prober)
    out = tmp_path / "est.json"
    store = tmp_path / "loc.db"
    code = main(
        [
            "locate",
            "--landmarks",
            str(path),
            "--out",
            str(out),
            "--store",
            str(store),
            "--timeout",
            "0.3",
            "--first-timeout",
            "0.3",
            "-q",
            "--method",
            "cbg",
        ]
    )
    text = capsys.readouterr().out
    assert code == 0, text
    assert "point" in text and "region" in text and "confidence" in text and "nearest" in text
    doc = json.loads(out.read_text())
    pt = doc["estimate"]["point"]
    err_km = float(distance_km(TRUE_LAT, TRUE_LON, pt["lat_deg"], pt["lon_deg"]))
    assert err_km < 300.0, err_km  # fibre-speed delays on great circles: CBG lands close
    assert doc["estimate"]["area_km2"] > 0
    assert doc["measurement"]["landmarks_answered"] == 39
    assert doc["confidence"]["grade"] in ("high", "medium", "low")
    # the true position lies in the reported region (the constraints are all sound)
    assert doc["estimate"]["region"]["type"] in ("Polygon", "MultiPolygon")
    ids, mins = load_rtts(store)
    got = dict(zip(ids, mins, strict=True))
    assert np.isnan(got["lm3"])
    np.testing.assert_allclose(got["lm0"], rtt[0])
    with CampaignStore(store) as s:
        assert s.campaign().status == "complete"


def test_locate_geojson_and_two_stage(catalog, tmp_path, monkeypatch, capsys):
    path, lat, lon = catalog
    prober, _ = geo_prober(lat, lon)
    monkeypatch.setattr(measure_cmds, "make_prober_for", lambda protocol, port=None: prober)
    out = tmp_path / "est.geojson"
    code = main(
        [
            "locate",
            "--landmarks",
            str(path),
            "--out",
            str(out),
            "--method",
            "cbg",  # the synthetic delays are fibre on great circles: exactly CBG's model at 2/3 c
            "--two-stage",
            "--first",
            "10",
            "--second",
            "8",
            "-k",
            "2",
            "-q",
            "--timeout",
            "0.3",
        ]
    )
    assert code == 0, capsys.readouterr()
    doc = json.loads(out.read_text())
    assert doc["type"] == "FeatureCollection"
    point = doc["features"][0]
    meas = point["properties"]["measurement"]
    assert len(meas["two_stage"]["first"]) == 10 and len(meas["two_stage"]["second"]) == 8
    assert meas["landmarks_probed"] == 18 and meas["probes"] == 36
    assert len({c[0] for c in prober.calls}) == 18  # 22 landmarks never probed
    lon_e, lat_e = point["geometry"]["coordinates"]
    assert float(distance_km(TRUE_LAT, TRUE_LON, lat_e, lon_e)) < 500.0


def test_locate_fails_fast_when_nothing_answers(catalog, monkeypatch, capsys):
    path, _, _ = catalog
    prober = FakeProber(default=Loss(), protocol="icmp")
    monkeypatch.setattr(measure_cmds, "make_prober_for", lambda protocol, port=None: prober)
    code = main(["locate", "--landmarks", str(path), "-q", "--first-timeout", "0.5"])
    err = capsys.readouterr().err
    assert code == 3  # ExitCode.NO_ANSWER, not the usage error's 2
    assert "offline or firewalled" in err and "rttgeo demo" in err
    # it gave up after one concurrent wave of 30 probes with the short timeout: no retries, no
    # full campaign (so it takes about 0.5 s however slow the full campaign would be)
    assert len(prober.calls) == 30 and prober.timeouts_s == [0.5] * 30


def test_measure_writes_store_and_csv(catalog, tmp_path, monkeypatch, capsys):
    path, lat, lon = catalog
    prober, _ = geo_prober(lat, lon, lost={0, 1})
    monkeypatch.setattr(measure_cmds, "make_prober_for", lambda protocol, port=None: prober)
    store = tmp_path / "m.db"
    csv_out = tmp_path / "m.csv"
    code = main(
        [
            "measure",
            "--landmarks",
            str(path),
            "--store",
            str(store),
            "--csv",
            str(csv_out),
            "-k",
            "2",
            "--retries",
            "0",
            "--timeout",
            "0.2",
            "-q",
        ]
    )
    text = capsys.readouterr().out
    assert code == 0
    assert "38/40 landmarks answered" in text
    rows = csv_out.read_text().splitlines()
    assert rows[0] == "target,landmark,protocol,sent_unix_ns,rtt_ms"
    # 30-landmark first wave (k=1) + 40 x 2
    assert len(rows) - 1 == 30 + 80
    lost_rows = [r for r in rows[1:] if r.endswith(",")]
    assert len(lost_rows) == sum(1 for r in rows[1:] if r.split(",")[1] in ("lm0", "lm1"))


def test_landmarks_list_show_check(catalog, capsys, tmp_path):
    path, _, _ = catalog
    assert main(["landmarks", "list", "--landmarks", str(path)]) == 0
    assert "lm39" in capsys.readouterr().out
    assert main(["landmarks", "show", "lm5", "--landmarks", str(path)]) == 0
    assert "127.0.0.6" in capsys.readouterr().out
    assert main(["landmarks", "show"]) == 0
    out = capsys.readouterr().out
    assert "784" in out and "April 2023" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("id,lat_deg,lon_deg,address\na,1,2,x\nb,95,2,y\n")
    assert main(["landmarks", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.csv:3" in err and "lat_deg" in err


def test_landmarks_refresh_writes_catalog_from_mocked_atlas(tmp_path, monkeypatch, capsys):
    from rttgeo.atlas import anchors

    records = [
        {
            "id": 1,
            "probe": 6001,
            "ip_v4": "192.0.2.1",
            "country": "NL",
            "geometry": {"type": "Point", "coordinates": [4.9, 52.37]},
            "is_disabled": False,
        },
        {
            "id": 2,
            "probe": 6002,
            "ip_v4": "192.0.2.2",
            "ip_v6": "2001:db8::2",
            "country": "DE",
            "geometry": {"type": "Point", "coordinates": [8.68, 50.11]},
            "is_disabled": False,
        },
        {
            "id": 3,
            "probe": 6003,
            "ip_v4": None,
            "country": "FR",
            "geometry": {"type": "Point", "coordinates": [2.3, 48.8]},
        },
    ]
    monkeypatch.setattr(anchors, "check_reachable", lambda: None)
    monkeypatch.setattr(anchors, "fetch_anchor_records", lambda: (records, {6001: 1, 6002: 1}))
    # the defaults were bound at definition time: patch the seam the CLI calls
    from rttgeo.cli import landmarks_cmds

    monkeypatch.setattr(
        landmarks_cmds,
        "fetch_landmarks",
        lambda date, family=4: anchors.fetch_anchor_landmarks(
            date=date, reachable=anchors.check_reachable, fetch=anchors.fetch_anchor_records,
            family=family,
        ),
    )
    out = tmp_path / "new.csv"
    assert main(["landmarks", "refresh", "--out", str(out)]) == 0
    from rttgeo.catalog import load_catalog

    got = load_catalog(out)
    assert [lm.id for lm in got] == ["atlas-6001", "atlas-6002"]
    assert got[0].lat_deg == 52.37 and got[0].lon_deg == 4.9 and "fetched" in got[0].source
    # --family 6: the anchors' IPv6 addresses under the same ids, probed with icmp6
    out6 = tmp_path / "new6.csv"
    assert main(["landmarks", "refresh", "--family", "6", "--out", str(out6)]) == 0
    got6 = load_catalog(out6)
    assert [(lm.id, lm.address, lm.protocols) for lm in got6] == [
        ("atlas-6002", "2001:db8::2", ("icmp",))]
    assert main(["landmarks", "refresh", "--family", "5", "--out", str(tmp_path / "x.csv")]) == 2
    assert not (tmp_path / "x.csv").exists()


def test_landmarks_refresh_offline_fails_fast_with_advice(tmp_path, monkeypatch, capsys):
    import socket

    from rttgeo.atlas import anchors

    calls = []

    def refuse(addr, timeout=None):
        calls.append((addr, timeout))
        raise socket.gaierror(-3, "Temporary failure in name resolution")

    monkeypatch.setattr(anchors.socket, "create_connection", refuse)
    code = main(["landmarks", "refresh", "--out", str(tmp_path / "x.csv")])
    err = capsys.readouterr().err
    assert code == 1  # a runtime failure (the network), not a usage error
    assert "offline" in err and "bundled catalog" in err
    assert calls == [(("atlas.ripe.net", 443), 4.0)]
    assert not (tmp_path / "x.csv").exists()


# -- real packets on loopback -----------------------------------------------------------------
class ServerThread:
    """LandmarkServers on 127.0.0.x (one event loop in a thread)."""

    def __init__(self, positions, hosts=None):
        from rttgeo.serve import LandmarkServer

        hosts = hosts or [f"127.0.0.{i + 1}" for i in range(len(positions))]

        self.loop = asyncio.new_event_loop()
        self.servers = [
            LandmarkServer(
                la,
                lo,
                server_id=f"lm{i}",
                host=hosts[i],
                port=0,
                rate_per_s=1000.0,
                burst=1000.0,
            )
            for i, (la, lo) in enumerate(positions)
        ]
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        for s in self.servers:
            asyncio.run_coroutine_threadsafe(s.start(), self.loop).result(5)
        return self

    def __exit__(self, *exc):
        for s in self.servers:
            asyncio.run_coroutine_threadsafe(s.stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def test_locate_over_real_udp_on_loopback(tmp_path, capsys):
    # five landmarks within ~2 km of each other: loopback RTTs (~0.1 ms) are consistent with it
    positions = [
        (48.860, 2.350),
        (48.870, 2.360),
        (48.850, 2.340),
        (48.865, 2.335),
        (48.855, 2.365),
    ]
    with ServerThread(positions) as st:
        lines = ["id,lat_deg,lon_deg,address,port,protocols,country,source"]
        for i, ((la, lo), s) in enumerate(zip(positions, st.servers, strict=True)):
            lines.append(f"lm{i},{la},{lo},127.0.0.{i + 1},{s.port},udp,XX,loopback")
        cat = tmp_path / "loop.csv"
        cat.write_text("\n".join(lines) + "\n")
        out = tmp_path / "e.json"
        store = tmp_path / "e.db"
        code = main(
            [
                "locate",
                "--landmarks",
                str(cat),
                "--protocol",
                "udp",
                "-q",
                "--out",
                str(out),
                "--store",
                str(store),
                "--timeout",
                "1",
            ]
        )
    text = capsys.readouterr()
    assert code == 0, text.err
    doc = json.loads(out.read_text())
    assert doc["measurement"]["protocol"] == "udp"
    assert doc["measurement"]["landmarks_answered"] == 5
    ids, rtts = load_rtts(store)
    assert sorted(ids) == [f"lm{i}" for i in range(5)]
    # loopback round trips: real, positive, well under the 1 s timeout
    assert np.all((rtts > 0) & (rtts < 100.0))
    # every landmark is within ~15 km (0.1 ms at c) of the true host; the estimate may sit one
    # grid cell off (the estimator's finest cells are ~20 km), not more
    pt = doc["estimate"]["point"]
    d = distance_km(pt["lat_deg"], pt["lon_deg"], [p[0] for p in positions], [p[1] for p in positions])
    assert float(np.max(d)) < 30.0
    assert doc["estimate"]["area_km2"] > 0


def test_locate_over_real_icmp_on_loopback(tmp_path, capsys):
    from rttgeo.errors import PermissionDenied
    from rttgeo.measure import make_prober

    try:
        make_prober("auto")
    except PermissionDenied as exc:  # neither root/CAP_NET_RAW nor ping_group_range
        pytest.skip(f"no ICMP socket allowed in this environment: {exc}")
    positions = [(48.860, 2.350), (48.870, 2.360), (48.850, 2.340), (48.865, 2.335)]
    lines = ["id,lat_deg,lon_deg,address"]
    lines += [f"lm{i},{la},{lo},127.0.0.{i + 1}" for i, (la, lo) in enumerate(positions)]
    cat = tmp_path / "icmp.csv"
    cat.write_text("\n".join(lines) + "\n")
    out = tmp_path / "e.json"
    code = main(["locate", "--landmarks", str(cat), "-q", "--out", str(out), "--timeout", "1"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    doc = json.loads(out.read_text())
    assert doc["measurement"]["protocol"].startswith("icmp")
    assert doc["measurement"]["landmarks_answered"] == 4
    rtts = [d["rtt_ms"] for d in doc["estimate"]["landmarks"]]
    assert all(0 < r < 100.0 for r in rtts)  # real loopback echoes, never 0


MEASURE_CHILD = r"""
import sys
from rttgeo.cli import main, measure_cmds
from rttgeo.measure.fake import FakeProber, Reply

prober = FakeProber(default=Reply(40), protocol="icmp")
measure_cmds.make_prober_for = lambda protocol, port=None: prober
sys.exit(main(sys.argv[1:]))
"""


def _default_sigint() -> None:
    """Run in the child before exec: SIGINT back to its default, so Python installs KeyboardInterrupt."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_measure_ctrl_c_keeps_samples_and_marks_interrupted(catalog, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    path, _, _ = catalog
    store = tmp_path / "c.db"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            MEASURE_CHILD,
            "measure",
            "--landmarks",
            str(path),
            "--store",
            str(store),
            "-k",
            "50",
            "-q",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # a shell's background job inherits SIGINT ignored; the child must see Ctrl-C as a user would
        preexec_fn=_default_sigint,
    )
    try:
        line = proc.stderr.readline()  # "probing 40 landmarks x 50 ..." once the campaign began
        assert line.startswith("probing 40 landmarks"), line
        deadline = time.monotonic() + 20
        n = 0
        while n < 100 and time.monotonic() < deadline:  # wait until samples are on disk
            time.sleep(0.1)
            with CampaignStore(store) as s:
                n = s.campaign().n_samples
        proc.send_signal(signal.SIGINT)
        err = proc.stderr.read()
        code = proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 130, err
    assert "interrupted:" in err and "samples kept in" in err
    with CampaignStore(store) as s:
        info = s.campaign()
    assert info.status == "interrupted"
    assert 100 <= info.n_samples < 30 + 40 * 50
    kept = int(err.split("interrupted: ")[1].split()[0])
    assert kept == info.n_samples


def test_locate_says_when_a_landmark_answered_from_another_position(catalog, tmp_path, monkeypatch,
                                                                     capsys):
    """A reply announcing another position than the catalog's is no sample (a `mismatch`); locate
    said only "39 of 40 answered". Its detail is now counted with the probe errors: on stderr and
    in the JSON's measurement.errors."""
    from rttgeo.measure.fake import Fail

    path, lat, lon = catalog
    d = distance_km(TRUE_LAT, TRUE_LON, lat, lon)
    script = {f"lm{i}": [Reply(float(2 * km / 199.86 + 1.0))] for i, km in enumerate(d)}
    script["lm3"] = [Fail("mismatch")]
    prober = FakeProber(script, protocol="icmp")
    monkeypatch.setattr(measure_cmds, "make_prober_for", lambda protocol, port=None: prober)
    out = tmp_path / "est.json"
    code = main(["locate", "--landmarks", str(path), "--out", str(out), "--timeout", "0.3",
                 "--first-timeout", "0.3", "-q", "--method", "cbg", "-k", "2"])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    doc = json.loads(out.read_text())
    (err,) = doc["measurement"]["errors"]
    assert err["detail"] == "scripted mismatch" and err["count"] >= 2  # every probe of lm3
    assert cap.err.splitlines() == [f"  {err['count']} probe error(s): scripted mismatch"]
    assert doc["measurement"]["landmarks_answered"] == 39
