"""The store's commit path (issue #15, mutation target ``store-commit``): the settings a writer
opens with are the ones SQLite applies, every sample is committed when ``add_sample`` returns
(another connection sees it at once), each call stores exactly one row with its defaults, the
campaign record holds what it was given, and every failure is one StoreError naming the file.

The SIGKILL / SIGINT tests in test_store.py prove durability end to end, but in a child process:
under mutmut that child imports the unmutated package, so the properties are also held here,
in-process."""

from __future__ import annotations

import json
import re
import socket
import sqlite3
import time
from pathlib import Path

import pytest

from rttgeo import __version__
from rttgeo.errors import StoreError
from rttgeo.models import Sample
from rttgeo.store import CampaignStore, open_readonly


def _count(path: Path) -> int:
    """Rows of ``sample`` as an independent connection sees them (committed rows only)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute("SELECT COUNT(*) FROM sample").fetchone()[0]
    finally:
        db.close()


def _pragma(store: CampaignStore, name: str) -> object:
    return store._db.execute(f"PRAGMA {name}").fetchone()[0]


@pytest.mark.parametrize(
    ("given", "level"),
    [("OFF", 0), ("off", 0), ("NORMAL", 1), ("normal", 1), ("FULL", 2), ("Full", 2)],
)
def test_the_synchronous_level_asked_for_is_the_one_sqlite_applies(tmp_path, given, level):
    # synchronous is a per-connection setting: read it on the store's own connection.
    with CampaignStore(tmp_path / "s.db", synchronous=given) as store:
        assert _pragma(store, "synchronous") == level
        assert _pragma(store, "journal_mode") == "wal"


def test_default_settings_wal_normal_and_the_busy_timeout(tmp_path):
    with CampaignStore(tmp_path / "s.db") as store:
        assert _pragma(store, "synchronous") == 1  # NORMAL: durable against SIGKILL (module doc)
        assert _pragma(store, "journal_mode") == "wal"
        assert _pragma(store, "busy_timeout") == 10_000  # ms: a concurrent reader never fails at once
    with CampaignStore(tmp_path / "d.db", wal=False) as store:
        assert _pragma(store, "journal_mode") == "delete"  # SQLite's default, left alone


def test_an_unknown_synchronous_level_is_refused_before_any_file_is_made(tmp_path):
    with pytest.raises(ValueError, match=r"^synchronous must be OFF, NORMAL or FULL$"):
        CampaignStore(tmp_path / "s.db", synchronous="EXTRA")  # SQLite has it; we do not offer it
    assert list(tmp_path.iterdir()) == []


def test_a_store_that_cannot_keep_a_write_ahead_log_is_refused(tmp_path):
    # An in-memory database reports journal_mode 'memory' after asking for WAL, as a filesystem
    # without shared memory would report 'delete': never run on silently without the WAL.
    with pytest.raises(StoreError, match=r"^:memory:: cannot use WAL mode \(got memory\)$"):
        CampaignStore(":memory:")


def test_every_sample_is_committed_when_add_sample_returns(tmp_path):
    path = tmp_path / "s.db"
    with CampaignStore(path) as store:
        cid = store.begin_campaign(target="t")
        for i, rtt in enumerate([4.0, None, 0.001, 1.0, 250.5]):
            store.add_sample(cid, Sample("t", f"L{i}", "icmp", 1_000 + i, rtt, "monotonic"))
            # not held in an open transaction: another connection sees the row at once
            assert _count(path) == i + 1
        rows = list(store.iter_rows(cid))
    # exactly one row per call, in order, with the values given (sub-millisecond RTTs kept)
    assert [(r["landmark"], r["sent_unix_ns"], r["rtt_ms"]) for r in rows] == [
        ("L0", 1000, 4.0), ("L1", 1001, None), ("L2", 1002, 0.001), ("L3", 1003, 1.0),
        ("L4", 1004, 250.5),
    ]


def test_add_sample_defaults_and_status(tmp_path):
    with CampaignStore(tmp_path / "s.db") as store:
        cid = store.begin_campaign()
        store.add_sample(cid, Sample("self", "a", "udp", 1, 3.5))
        store.add_sample(cid, Sample("self", "b", "udp", 2, None))
        store.add_sample(cid, Sample("self", "c", "udp", 3, 7.0), status="late", attempt=2, seq=5)
        rows = [(r["landmark"], r["status"], r["attempt"], r["seq"]) for r in store.iter_rows(cid)]
    assert rows == [("a", "ok", 0, 0), ("b", "timeout", 0, 0), ("c", "late", 2, 5)]


def test_a_refused_sample_stores_nothing(tmp_path):
    path = tmp_path / "s.db"
    with CampaignStore(path) as store:
        cid = store.begin_campaign()
        store.add_sample(cid, Sample("self", "a", "icmp", 1, 2.0))
        for bad in (0.0, -0.5, float("inf"), float("-inf"), float("nan")):
            with pytest.raises(StoreError, match=re.escape(f"rtt_ms={bad!r}") + ".*never 0"):
                store.add_sample(cid, Sample("self", "a", "icmp", 2, bad))
        assert _count(path) == 1


def test_a_send_time_sqlite_cannot_hold_is_a_store_error_and_stores_nothing(tmp_path):
    path = tmp_path / "s.db"
    with CampaignStore(path) as store:
        cid = store.begin_campaign()
        for good in (0, 2**63 - 1):  # the epoch, and the largest 64-bit signed integer
            store.add_sample(cid, Sample("self", "a", "icmp", good, 2.0))
        for bad in (2**63, -1):
            with pytest.raises(StoreError, match=f"sent_unix_ns={bad}"):
                store.add_sample(cid, Sample("self", "a", "icmp", bad, 2.0))
        assert _count(path) == 2


def test_the_campaign_record_holds_what_it_was_given(tmp_path):
    path = tmp_path / "s.db"
    with CampaignStore(path) as store:
        t0 = time.time_ns()
        plain = store.begin_campaign()
        t1 = time.time_ns()
        full = store.begin_campaign(
            target="203.0.113.9",
            protocol="tcp",
            catalog_path=Path("cats") / "eu.csv",
            catalog_sha256="ab" * 32,
            params={"z": 1, "a": Path("x/y"), "k": [1, 2]},
            host="probe-7",
        )
        store.end_campaign(full, "failed")
        infos = {i.id: i for i in store.campaigns()}
    a, b = infos[plain], infos[full]
    assert (a.target, a.protocol, a.host) == ("self", "", socket.gethostname())
    assert (a.catalog_path, a.catalog_sha256, a.params) == (None, None, {})
    assert (a.status, a.ended_unix_ns, a.rttgeo_version) == ("running", None, __version__)
    assert t0 <= a.started_unix_ns <= t1
    assert (b.target, b.protocol, b.host) == ("203.0.113.9", "tcp", "probe-7")
    assert (b.catalog_path, b.catalog_sha256) == (str(Path("cats") / "eu.csv"), "ab" * 32)
    assert b.params == {"z": 1, "a": "x/y", "k": [1, 2]}  # a value JSON lacks is stored as text
    assert b.status == "failed" and b.ended_unix_ns >= b.started_unix_ns
    # The params column is canonical JSON (sorted keys): equal parameters are equal text, so
    # campaigns can be grouped by their parameters in SQL whatever order the caller built them.
    db = sqlite3.connect(path)
    text = db.execute("SELECT params FROM campaign WHERE id = ?", (full,)).fetchone()[0]
    db.close()
    assert text == json.dumps({"a": "x/y", "k": [1, 2], "z": 1}, sort_keys=True)


def test_a_campaign_id_is_its_rows_own_whatever_ids_the_file_holds(tmp_path):
    # Another program wrote a campaign with id -1: SQLite gives the next row id 0, and our
    # samples must go to that campaign, not to a default id.
    path = tmp_path / "s.db"
    CampaignStore(path).close()
    db = sqlite3.connect(path)
    db.execute(
        "INSERT INTO campaign (id, host, target, started_unix_ns, protocol, rttgeo_version,"
        " params, status) VALUES (-1, 'h', 't', 1, '', 'x', '{}', 'complete')"
    )
    db.commit()
    db.close()
    with CampaignStore(path) as store:
        cid = store.begin_campaign(target="mine")
        store.add_sample(cid, Sample("mine", "a", "icmp", 1, 5.0))
        assert cid == 0
        assert store.campaign(0).target == "mine" and store.campaign(0).n_samples == 1
        assert store.campaign(-1).n_samples == 0


def test_end_campaign_refuses_an_unknown_status_and_changes_nothing(tmp_path):
    with CampaignStore(tmp_path / "s.db") as store:
        cid = store.begin_campaign()
        with pytest.raises(ValueError, match=r"^status must be one of \('running', 'complete'"):
            store.end_campaign(cid, "done")
        info = store.campaign(cid)
    assert (info.status, info.ended_unix_ns) == ("running", None)


def test_open_and_closed_state(tmp_path):
    path = tmp_path / "s.db"
    store = CampaignStore(path)
    assert store.read_only is False and store.closed is False
    cid = store.begin_campaign()
    store.close()
    assert store.closed is True  # rttgeo.store.bulk relies on it
    with pytest.raises(StoreError, match=f"^{re.escape(str(path))}: the store is closed$"):
        store.add_sample(cid, Sample("self", "a", "icmp", 1, 1.0))
    reader = open_readonly(path)
    assert reader.read_only is True and reader.closed is False
    assert reader.campaign(cid).n_samples == 0
    reader.close()
    assert reader.closed is True


def test_a_sqlite_error_is_one_store_error_naming_the_file(tmp_path):
    path = tmp_path / "s.db"
    with CampaignStore(path) as store:
        cid = store.begin_campaign()
    with open_readonly(path) as reader:
        with pytest.raises(StoreError, match=f"^{re.escape(str(path))}: attempt to write a readonly"):
            reader.add_sample(cid, Sample("self", "a", "icmp", 1, 1.0))
        with pytest.raises(StoreError, match=f"^{re.escape(str(path))}: attempt to write a readonly"):
            reader.end_campaign(cid, "complete")
    assert _count(path) == 0


def test_an_empty_file_becomes_a_store(tmp_path):
    # e.g. made by mktemp: zero bytes is not a foreign file
    path = tmp_path / "s.db"
    path.touch()
    with CampaignStore(path) as store:
        store.add_sample(store.begin_campaign(), Sample("self", "a", "icmp", 1, 1.5))
    assert _count(path) == 1


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"x", "not an SQLite file"),  # one byte: the header check, not SQLite, refuses it
        (b"SQLite format 3\x00" + b"\x07" * 200, "file is not a database"),  # SQLite refuses it
    ],
)
def test_a_file_that_is_not_a_store_is_refused_untouched(tmp_path, content, why):
    path = tmp_path / "s.db"
    path.write_bytes(content)
    with pytest.raises(
        StoreError, match=f"^{re.escape(str(path))}: not a usable campaign store \\({why}\\)"
    ):
        CampaignStore(path)
    assert path.read_bytes() == content
    assert [p.name for p in tmp_path.iterdir()] == ["s.db"]  # no -wal or -shm left beside it


def test_an_os_error_on_the_path_is_one_store_error(tmp_path):
    path = tmp_path / ("x" * 300 + ".db")  # longer than any Linux file name (ENAMETOOLONG)
    with pytest.raises(StoreError, match=r": File name too long; check the path and permissions$"):
        CampaignStore(path)
