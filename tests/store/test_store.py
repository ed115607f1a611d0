"""Campaign store: schema, summaries from samples, CSV/Parquet export, load_rtts, and durability
(a campaign killed with SIGKILL keeps every sample it reported; Ctrl-C marks it interrupted)."""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from rttgeo.errors import StoreError
from rttgeo.models import Sample
from rttgeo.store import CampaignStore, load_rtts


def fill(store: CampaignStore) -> int:
    cid = store.begin_campaign(
        target="t1", protocol="icmp", catalog_path="c.csv", catalog_sha256="0" * 64, params={"k": 2}
    )
    rows = [("a", 10.0), ("b", None), ("a", 8.5), ("b", None), ("c", 30.25), ("c", 31.0)]
    for i, (lm, rtt) in enumerate(rows):
        store.add_sample(
            cid,
            Sample("t1", lm, "icmp", 1_700_000_000_000_000_000 + i, rtt, "monotonic"),
            attempt=0,
            seq=i // 3,
        )
    return cid


def test_wal_mode_and_schema(tmp_path):
    with CampaignStore(tmp_path / "s.db") as store:
        fill(store)
    db = sqlite3.connect(tmp_path / "s.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    cols = [r[1] for r in db.execute("PRAGMA table_info(sample)")]
    assert cols[:7] == [
        "id",
        "campaign_id",
        "target",
        "landmark",
        "protocol",
        "sent_unix_ns",
        "rtt_ms",
    ]
    camp_cols = {r[1] for r in db.execute("PRAGMA table_info(campaign)")}
    assert {
        "host",
        "started_unix_ns",
        "ended_unix_ns",
        "protocol",
        "catalog_path",
        "catalog_sha256",
        "rttgeo_version",
        "params",
        "status",
    } <= camp_cols


def test_min_rtts_derive_from_samples_and_lost_is_nan(tmp_path):
    with CampaignStore(tmp_path / "s.db") as store:
        cid = fill(store)
        store.end_campaign(cid, "complete")
        ids, mins = store.min_rtts()
        assert ids == ("a", "b", "c")
        np.testing.assert_array_equal(mins, [8.5, np.nan, 30.25])
        ids2, mins2 = store.min_rtts(cid, ["c", "zz", "a"])
        assert ids2 == ("c", "zz", "a")
        np.testing.assert_array_equal(mins2, [30.25, np.nan, 8.5])
        info = store.campaign(cid)
        assert (info.n_samples, info.n_lost, info.status) == (6, 2, "complete")
        assert info.params == {"k": 2} and info.rttgeo_version
    ids3, mins3 = load_rtts(tmp_path / "s.db")
    assert ids3 == ids and np.array_equal(mins3, mins, equal_nan=True)


def test_load_rtts_picks_latest_campaign_or_the_one_asked(tmp_path):
    with CampaignStore(tmp_path / "s.db") as store:
        c1 = fill(store)
        c2 = store.begin_campaign()
        store.add_sample(c2, Sample("self", "z", "udp", 1, 2.0))
    assert load_rtts(tmp_path / "s.db")[0] == ("z",)
    assert load_rtts(tmp_path / "s.db", c1)[0] == ("a", "b", "c")
    with pytest.raises(StoreError, match="no campaign with id 99"):
        load_rtts(tmp_path / "s.db", 99)


def test_zero_or_negative_rtt_refused(tmp_path):
    with CampaignStore(tmp_path / "s.db") as store:
        cid = store.begin_campaign()
        for bad in (0.0, -1.0, math.nan, math.inf):
            with pytest.raises(StoreError, match="never 0"):
                store.add_sample(cid, Sample("self", "a", "icmp", 1, bad))
        assert store.campaign().n_samples == 0


def test_export_csv_design_columns_lost_empty(tmp_path):
    with CampaignStore(tmp_path / "s.db") as store:
        fill(store)
        n = store.export_csv(tmp_path / "s.csv")
        store.export_csv(tmp_path / "x.csv", extra=True)
    lines = (tmp_path / "s.csv").read_text().splitlines()
    assert n == 6
    assert lines[0] == "target,landmark,protocol,sent_unix_ns,rtt_ms"
    assert lines[1] == "t1,a,icmp,1700000000000000000,10.0"
    assert lines[2] == "t1,b,icmp,1700000000000000001,"
    extra = (tmp_path / "x.csv").read_text().splitlines()
    assert extra[0].endswith(",timing,status,attempt,campaign_id")
    assert extra[2].split(",")[5:8] == ["monotonic", "timeout", "0"]


def test_export_parquet_roundtrip(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is the measure extra")
    with CampaignStore(tmp_path / "s.db") as store:
        fill(store)
        assert store.export_parquet(tmp_path / "s.parquet") == 6
    t = pq.read_table(tmp_path / "s.parquet").to_pydict()
    assert t["landmark"] == ["a", "b", "a", "b", "c", "c"]
    assert t["rtt_ms"] == [10.0, None, 8.5, None, 30.25, 31.0]
    assert t["sent_unix_ns"][0] == 1_700_000_000_000_000_000


def test_not_a_store_and_missing_file(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a usable campaign store"):
        CampaignStore(junk)
    with pytest.raises(StoreError, match="no such campaign store"):
        load_rtts(tmp_path / "absent.db")
    with pytest.raises(StoreError, match="does not exist"):
        CampaignStore(tmp_path / "nodir" / "s.db")
    with (
        CampaignStore(tmp_path / "empty.db") as store,
        pytest.raises(StoreError, match="no campaign"),
    ):
        store.campaign()


def test_closed_store_refuses_writes(tmp_path):
    store = CampaignStore(tmp_path / "s.db")
    cid = store.begin_campaign()
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        store.add_sample(cid, Sample("self", "a", "icmp", 1, 1.0))


CHILD = r"""
import sys
from rttgeo.measure import CampaignParams, run_campaign_sync
from rttgeo.measure.fake import FakeProber, Loss, Reply
from rttgeo.models import Landmark
from rttgeo.store import CampaignStore

# 3000 landmarks, 4 samples each: about 40 s unkilled, so that the signal sent after the first
# samples lands mid-campaign however slowly a loaded machine runs the parent (300 left 3.5 s).
lms = [Landmark(f"L{i}", 0.0, float(i % 180)) for i in range(3000)]
script = {lm.id: [Reply(5 + i % 7), Loss(), Reply(6 + i % 5)] for i, lm in enumerate(lms)}
store = CampaignStore(sys.argv[1])

def on_sample(s, status):  # called after the sample is committed
    print(s.landmark, s.sent_unix_ns, "lost" if s.rtt_ms is None else repr(s.rtt_ms), flush=True)

run_campaign_sync(FakeProber(script), lms, CampaignParams(k=3, concurrency=6, timeout_s=0.03,
                  landmark_interval_s=0.0,
                  retries=1), store=store, on_sample=on_sample, quiet=True)
print("DONE", flush=True)
"""


def _default_sigint() -> None:
    """Run in the child before exec: SIGINT back to its default, so Python installs KeyboardInterrupt."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_child(db):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # a shell's background job inherits SIGINT ignored; the child must see Ctrl-C as a user would
        preexec_fn=_default_sigint,
    )


def _read_lines(proc, n, deadline_s=30.0):
    lines = []
    t0 = time.monotonic()
    while len(lines) < n:
        line = proc.stdout.readline()
        assert line, f"child ended early: {proc.stderr.read()}"
        lines.append(line.split())
        assert time.monotonic() - t0 < deadline_s
    return lines


def _finish(proc):
    """Rest of stdout and stderr, then wait. Not communicate(): it reads the raw pipe and would
    drop the lines that readline() already buffered."""
    rest = proc.stdout.read()
    err = proc.stderr.read()
    proc.wait(timeout=15)
    return rest, err


def test_sigkill_mid_campaign_keeps_every_reported_sample(tmp_path):
    db = tmp_path / "killed.db"
    proc = _start_child(db)
    try:
        reported = _read_lines(proc, 120)
        os.kill(proc.pid, signal.SIGKILL)
        rest, _ = _finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    reported += [ln.split() for ln in rest.splitlines() if ln.strip()]
    assert reported and reported[-1] != ["DONE"]
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with CampaignStore(db) as store:
        rows = list(store.iter_rows())
        info = store.campaign()
    assert info.status == "running"  # killed: never marked, samples still readable
    # the kill can fall between a commit and its print, never more than one sample apart
    assert len(reported) >= 120 and len(reported) <= len(rows) <= len(reported) + 1
    stored = [
        [
            r["landmark"],
            str(r["sent_unix_ns"]),
            "lost" if r["rtt_ms"] is None else repr(r["rtt_ms"]),
        ]
        for r in rows
    ]
    # every line the child printed is in the store, in the same order, with the same values
    assert stored[: len(reported)] == reported
    assert len(rows) < 12_000  # and the campaign really was cut short (4 samples x 3000)


def test_sigint_marks_interrupted_and_keeps_samples(tmp_path):
    db = tmp_path / "int.db"
    proc = _start_child(db)
    try:
        reported = _read_lines(proc, 60)
        proc.send_signal(signal.SIGINT)
        rest, err = _finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    reported += [ln.split() for ln in rest.splitlines() if ln.strip()]
    with CampaignStore(db) as store:
        info = store.campaign()
        rows = list(store.iter_rows())
    assert info.status == "interrupted" and info.ended_unix_ns is not None
    assert len(rows) == len(reported)
    assert json.loads(json.dumps(info.params))["k"] == 3
