"""Read commands never write (issue #13): stores open read-only with the schema checked first, a
foreign SQLite file is never switched to WAL nor given tables, corrupt stores give one clean error,
and a cleanly closed store on a read-only filesystem reads."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from rttgeo.cli import main
from rttgeo.errors import StoreError
from rttgeo.models import Sample
from rttgeo.store import CampaignStore, load_rtts, open_readonly


def _catalog(tmp_path: Path) -> Path:
    cat = tmp_path / "cat.csv"
    cat.write_text(
        "id,lat_deg,lon_deg,address\n"
        "par,48.86,2.35,192.0.2.1\nber,52.52,13.40,192.0.2.2\nmad,40.42,-3.70,192.0.2.3\n"
        "lon,51.51,-0.13,192.0.2.4\n"
    )
    return cat


def _store(path: Path) -> Path:
    with CampaignStore(path) as s:
        c = s.begin_campaign(target="me", params={"k": 1})
        for i, (lm, rtt) in enumerate([("par", 3.0), ("ber", 9.0), ("mad", 12.0), ("lon", 5.0)]):
            s.add_sample(c, Sample("me", lm, "icmp", 1_700_000_000_000_000_000 + i, rtt))
        s.end_campaign(c, "complete")
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _foreign(path: Path) -> Path:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE people (name TEXT, age INTEGER)")
    db.execute("INSERT INTO people VALUES ('ada', 36)")
    db.commit()
    db.close()
    return path


def test_estimate_of_a_foreign_sqlite_file_changes_nothing(tmp_path, capsys):
    # Regression (issue #13): 'rttgeo estimate foreign.sqlite' switched it to WAL and added tables.
    foreign = _foreign(tmp_path / "foreign.sqlite")
    before = _digest(foreign)
    listing = sorted(os.listdir(tmp_path))
    assert main(["estimate", str(foreign), "--landmarks", str(_catalog(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "foreign.sqlite" in err and "not a campaign store" in err
    assert _digest(foreign) == before
    assert sorted(os.listdir(tmp_path)) == sorted([*listing, "cat.csv"])
    db = sqlite3.connect(f"file:{foreign}?mode=ro", uri=True)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["people"]
    db.close()


def test_writer_refuses_a_foreign_sqlite_file_before_changing_it(tmp_path):
    foreign = _foreign(tmp_path / "foreign.sqlite")
    before = _digest(foreign)
    with pytest.raises(StoreError, match=f"^{re.escape(str(foreign))}: not a campaign store"):
        CampaignStore(foreign)
    assert _digest(foreign) == before
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    with pytest.raises(StoreError, match="not an SQLite file"):
        CampaignStore(text)
    assert text.read_text() == "hello\n"
    with pytest.raises(StoreError, match="is a directory"):
        CampaignStore(tmp_path)


def test_reading_a_store_never_changes_its_bytes(tmp_path, capsys):
    store = _store(tmp_path / "s.db")
    before, mtime = _digest(store), store.stat().st_mtime_ns
    assert main(["estimate", str(store), "--landmarks", str(_catalog(tmp_path)),
                 "--method", "shortest-ping"]) == 0
    with open_readonly(store) as s:
        assert s.campaign().target == "me"
        with pytest.raises(StoreError, match="readonly"):
            s.begin_campaign()
    assert _digest(store) == before and store.stat().st_mtime_ns == mtime


@pytest.mark.parametrize(
    ("sql", "column"),
    [
        ("UPDATE sample SET rtt_ms = 'abc' WHERE landmark = 'par'", "'rtt_ms' holds str 'abc'"),
        ("UPDATE sample SET landmark = x'00ff' WHERE id = 1", "'landmark' holds bytes"),
        ("UPDATE sample SET rtt_ms = 9e999 WHERE id = 2", "'rtt_ms' holds float inf"),
        ("UPDATE sample SET sent_unix_ns = 'soon' WHERE id = 3", "'sent_unix_ns' holds str"),
        ("UPDATE campaign SET params = '{not json'", "'params': "),
        ("UPDATE campaign SET params = '[1, 2]'", "not a JSON object"),
        ("UPDATE campaign SET params = '" + "[" * 5000 + "]" * 5000 + "'", "nested deeper"),
        ("UPDATE campaign SET status = x'01'", "'status' holds bytes"),
        ("UPDATE campaign SET status = 'sleeping'", "'status' holds str 'sleeping'"),
        ("ALTER TABLE sample DROP COLUMN timing", "lacks timing"),
    ],
)
def test_corrupt_stores_give_one_clean_error(tmp_path, capsys, sql, column):
    store = _store(tmp_path / "s.db")
    db = sqlite3.connect(store)
    db.execute(sql)
    db.commit()
    db.close()
    before = _digest(store)
    assert main(["estimate", str(store), "--landmarks", str(_catalog(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert str(store) in err and column in err, err
    assert _digest(store) == before


def test_store_problems_name_the_file(tmp_path):
    with pytest.raises(StoreError, match="no such campaign store"):
        load_rtts(tmp_path / "absent.db")
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).execute("VACUUM").connection.close()
    with pytest.raises(StoreError, match="empty SQLite database"):
        load_rtts(empty)


_READ_CHILD = """
import sys
from rttgeo.store import load_rtts
ids, rtts = load_rtts(sys.argv[1])
print(",".join(ids), ",".join(f"{x:g}" for x in rtts))
"""


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="mounting a read-only filesystem needs root and util-linux unshare (CI runs as root)",
)
def test_a_cleanly_closed_store_on_a_read_only_filesystem_reads(tmp_path):
    # Regression (issue #13): "unable to open database file" for a valid store on read-only media.
    store = _store(tmp_path / "s.db")
    assert not (tmp_path / "s.db-wal").exists()  # cleanly closed
    mnt = tmp_path / "ro"
    mnt.mkdir()
    script = (
        f"mount -t tmpfs none {mnt} && cp {store} {mnt}/s.db && mount -o remount,ro {mnt} && "
        f"{sys.executable} -c '{_READ_CHILD}' {mnt}/s.db && "
        f"{sys.executable} -m rttgeo estimate {mnt}/s.db --landmarks {_catalog(tmp_path)} "
        "--method shortest-ping"
    )
    # A private mount namespace: the mount disappears with the child, whatever happens.
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first == "par,ber,mad,lon 3,9,12,5"
    assert "Traceback" not in proc.stderr
