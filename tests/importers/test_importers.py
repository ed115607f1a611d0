"""rttgeo import: iputils ping -D, scamper JSON, RIPE Atlas JSON, long-form CSV / Parquet."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from rttgeo.cli import main
from rttgeo.errors import SamplesError
from rttgeo.importers import Skipped, read_longform, read_ping_text, read_scamper_json, sniff_format
from rttgeo.models import Sample
from rttgeo.store import CampaignStore

FIX = Path(__file__).parent / "fixtures"
ATLAS_FIX = Path(__file__).parent.parent / "atlas" / "fixtures"


def _split(items):
    samples = [i for i in items if isinstance(i, Sample)]
    skipped = [i for i in items if isinstance(i, Skipped)]
    return samples, skipped


def test_ping_text_replies_losses_dups_and_ipv6():
    samples, skipped = _split(list(read_ping_text(FIX / "ping_loss.txt", source="me")))
    v4 = [s for s in samples if s.landmark == "192.0.2.10"]
    v6 = [s for s in samples if s.landmark == "2001:db8::7"]
    # 6 transmitted: seq 1, 2, 4 answered; 3 (no answer yet), 5 (gap) and 6 (ICMP error) lost
    assert [s.rtt_ms for s in v4] == [12.5, 12.1, None, 11.9, None, None]
    assert all(s.target == "me" and s.protocol == "icmp" for s in samples)
    # -D prints the receive time: sent = received - rtt
    assert v4[0].sent_unix_ns == 1_700_000_000_100_000_000 - 12_500_000
    # a lost probe's send time: interpolated by sequence number between its neighbours'
    assert v4[2].sent_unix_ns == (v4[1].sent_unix_ns + v4[3].sent_unix_ns) // 2
    assert [s.rtt_ms for s in v6] == [30.25, 29.75]
    reasons = [s.reason for s in skipped]
    assert any("DUP" in r for r in reasons) and any("Unreachable" in r for r in reasons)


def test_ping_text_vantage_and_catalog_mapping():
    samples, _ = _split(list(read_ping_text(FIX / "ping_loss.txt", vantage="atlas-6025")))
    assert {s.target for s in samples} == {"192.0.2.10", "2001:db8::7"}
    assert {s.landmark for s in samples} == {"atlas-6025"}
    samples, _ = _split(list(read_ping_text(FIX / "ping_loss.txt",
                                            landmark_of={"192.0.2.10": "lm-a"})))
    assert {s.landmark for s in samples} == {"lm-a", "2001:db8::7"}


@pytest.mark.skipif(shutil.which("ping") is None, reason="iputils ping is not installed")
def test_ping_text_of_the_real_iputils_ping(tmp_path):
    """The parser reads what the real iputils ping prints (to loopback), RTT for RTT."""
    out = subprocess.run(["ping", "-D", "-n", "-c", "3", "-i", "0.2", "127.0.0.1"],
                         capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        pytest.skip(f"ping to loopback is not permitted here: {out.stderr.strip()}")
    f = tmp_path / "ping.txt"
    f.write_text(out.stdout)
    samples, skipped = _split(list(read_ping_text(f)))
    printed = [float(line.split("time=")[1].split()[0]) for line in out.stdout.splitlines()
               if "time=" in line]
    assert [s.rtt_ms for s in samples] == printed and len(printed) == 3
    assert skipped == []


def test_ping_text_malformed_lines_name_file_and_line(tmp_path):
    f = tmp_path / "bad.txt"
    f.write_text("PING 192.0.2.1 (192.0.2.1) 56(84) bytes of data.\n"
                 "[1700000000.1] 64 bytes from 192.0.2.1: icmp_seq=1 ttl=5 time=1.5 ms\n"
                 "64 bytes from 192.0.2.1: icmp_seq=2 ttl=5 time=1.5 ms\n")
    with pytest.raises(SamplesError, match=r"bad.txt:3: .*-D"):
        list(read_ping_text(f))
    f.write_text("PING 192.0.2.1 (192.0.2.1) 56(84) bytes of data.\n"
                 "[1700000000.1] 64 bytes from 192.0.2.1: icmp_seq=1 ttl=5 time=0.000 ms\n")
    with pytest.raises(SamplesError, match=r"bad.txt:2: field 'time'"):
        list(read_ping_text(f))
    samples, skipped = _split(list(read_ping_text(f, skip_malformed=True)))
    assert [s.where for s in skipped if s.malformed] == [f"{f}:2"]
    assert samples == []  # a skipped line gives no sample; it is counted as malformed


def test_scamper_json():
    samples, skipped = _split(list(read_scamper_json(FIX / "scamper.json", vantage="vp1")))
    assert [(s.target, s.rtt_ms) for s in samples] == [
        ("192.0.2.10", 12.5), ("192.0.2.10", None), ("192.0.2.10", 11.9),
        ("2001:db8::7", 30.25), ("2001:db8::7", 29.75),
    ]
    assert samples[0].sent_unix_ns == 1_700_000_000_001_000_000  # tx of the reply
    assert samples[1].sent_unix_ns == 1_700_000_001_000_000_000  # start + seq * wait
    assert len(skipped) == 2 and all("cycle" in s.reason for s in skipped)


def test_scamper_not_json_is_malformed(tmp_path):
    f = tmp_path / "s.json"
    f.write_text((FIX / "scamper.json").read_text().splitlines()[1] + "\n{oops\n")
    with pytest.raises(SamplesError, match=r"s.json:2: not JSON"):
        list(read_scamper_json(f))


def test_longform_csv_and_parquet(tmp_path):
    f = tmp_path / "l.csv"
    f.write_text("target,landmark,rtt_ms,sent_unix_ns,protocol\n"
                 "10.0.0.1,atlas-6025,12.5,1700000000000000000,icmp\n"
                 "10.0.0.1,atlas-6031,,1700000000000000001,\n"
                 "2001:db8::1,atlas-6025,3.25,,tcp\n")
    samples, _ = _split(list(read_longform(f)))
    assert [(s.target, s.landmark, s.rtt_ms, s.protocol) for s in samples] == [
        ("10.0.0.1", "atlas-6025", 12.5, "icmp"), ("10.0.0.1", "atlas-6031", None, "icmp"),
        ("2001:db8::1", "atlas-6025", 3.25, "tcp"),
    ]
    import pyarrow as pa
    import pyarrow.parquet as pq

    pf = tmp_path / "l.parquet"
    pq.write_table(pa.table({"target": ["a", "a"], "landmark": ["x", "y"],
                             "rtt_ms": [1.5, None]}), pf)
    assert sniff_format(pf) == "parquet"
    samples, _ = _split(list(read_longform(pf)))
    assert [(s.landmark, s.rtt_ms) for s in samples] == [("x", 1.5), ("y", None)]
    pq.write_table(pa.table({"target": ["a"], "landmark": ["x"], "rtt_ms": [0.0]}), pf)
    with pytest.raises(SamplesError, match=r"row 1: field 'rtt_ms'"):
        list(read_longform(pf))


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("target,landmark\na,b\n", r"l.csv:1: missing column 'rtt_ms'"),
        ("target,landmark,rtt_ms\na,b,0\n", r"l.csv:2: field 'rtt_ms'"),
        ("target,landmark,rtt_ms\na,b,-3\n", r"l.csv:2: field 'rtt_ms'"),
        ("target,landmark,rtt_ms\na,b,fast\n", r"l.csv:2: field 'rtt_ms': not a number"),
        ("target,landmark,rtt_ms\n,b,3\n", r"l.csv:2: field 'target'"),
    ],
)
def test_longform_csv_bad_cases(tmp_path, content, match):
    f = tmp_path / "l.csv"
    f.write_text(content)
    with pytest.raises(SamplesError, match=match):
        list(read_longform(f))


def test_sniffing():
    assert sniff_format(FIX / "ping_loss.txt") == "ping"
    assert sniff_format(FIX / "scamper.json") == "scamper"
    assert sniff_format(ATLAS_FIX / "results_fw4790.json") == "atlas"
    assert sniff_format(ATLAS_FIX / "results_fw5080.jsonl") == "atlas"


# -- the CLI -----------------------------------------------------------------------------------
def _rows(db: Path) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT target, landmark, rtt_ms, status FROM sample ORDER BY id").fetchall()
    finally:
        con.close()


def test_cli_import_every_format_into_one_store(tmp_path, capsys):
    csv_file = tmp_path / "l.csv"
    csv_file.write_text("target,landmark,rtt_ms\n10.0.0.1,atlas-6025,12.5\n")
    db = tmp_path / "s.db"
    rc = main(["import", str(FIX / "ping_loss.txt"), str(FIX / "scamper.json"),
               str(ATLAS_FIX / "results_fw4790.json"), str(ATLAS_FIX / "results_fw5080.jsonl"),
               str(csv_file), "--store", str(db)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "ping_loss.txt (ping): 8 samples (3 lost)" in out
    assert "2 line(s) skipped" in out  # the DUP! and the ICMP error line, printed with lines
    assert f"skipped {FIX / 'ping_loss.txt'}:7:" in out
    assert "results_fw4790.json (atlas): 9 samples (5 lost)" in out
    assert "results_fw5080.jsonl (atlas): 6 samples (1 lost)" in out
    assert "1 line(s) skipped" in out  # the traceroute result
    with CampaignStore(db) as st:
        infos = st.campaigns()
        assert [i.params["format"] for i in infos] == ["ping", "scamper", "atlas", "atlas", "csv"]
        assert all(i.status == "complete" for i in infos)
        atlas = st.samples(infos[2].id)
    assert [(s.landmark, s.rtt_ms) for s in atlas[:3]] == [
        ("atlas-6025", 12.5), ("atlas-6025", 12.193), ("atlas-6025", 12.003)]
    assert all(s.target == "193.0.14.129" for s in atlas)
    rows = _rows(db)
    assert len(rows) == 8 + 5 + 9 + 6 + 1
    assert all(r[2] is None or r[2] > 0 for r in rows)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["import", "{bad}", "--store", "{db}"], r"bad.txt:3: "),
        (["import", "{missing}", "--store", "{db}"], r"nope.txt: no such file"),
        (["import", "{bad}"], r"--store"),
        (["import", "{bad}", "--format", "scamper", "--store", "{db}"], r"bad.txt:1: not JSON"),
    ],
)
def test_cli_import_bad_input_writes_nothing(tmp_path, capsys, args, match):
    bad = tmp_path / "bad.txt"
    bad.write_text("PING 192.0.2.1 (192.0.2.1) 56(84) bytes of data.\n"
                   "[1700000000.1] 64 bytes from 192.0.2.1: icmp_seq=1 ttl=5 time=1.5 ms\n"
                   "[1700000000.2] 64 bytes from 192.0.2.1: icmp_seq=2 ttl=5 time=-1 ms\n")
    db = tmp_path / "s.db"
    subst = {"{bad}": str(bad), "{db}": str(db), "{missing}": str(tmp_path / "nope.txt")}
    rc = main([subst.get(a, a) for a in args])
    err = capsys.readouterr().err
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    import re

    assert re.search(match, err), err
    assert not db.exists()


def test_cli_import_skip_malformed_counts_them(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("PING 192.0.2.1 (192.0.2.1) 56(84) bytes of data.\n"
                   "[1700000000.1] 64 bytes from 192.0.2.1: icmp_seq=1 ttl=5 time=1.5 ms\n"
                   "[1700000000.2] 64 bytes from 192.0.2.1: icmp_seq=2 ttl=5 time=-1 ms\n")
    rc = main(["import", str(bad), "--check", "--skip-malformed"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "1 samples (0 lost)" in out and "1 malformed" in out and f"{bad}:3" in out


def test_cli_import_json_lines_and_quiet(tmp_path, capsys):
    """The command-line convention: --json prints one line per file (its counts and campaign),
    the 'wrote' narration goes to stderr and -q silences it."""
    import json

    csv_file = tmp_path / "l.csv"
    csv_file.write_text("target,landmark,rtt_ms\n10.0.0.1,atlas-6025,12.5\n10.0.0.1,atlas-6031,\n")
    db = tmp_path / "s.db"
    rc = main(["import", str(FIX / "ping_loss.txt"), str(csv_file), "--store", str(db), "--json"])
    cap = capsys.readouterr()
    assert rc == 0
    lines = [json.loads(x) for x in cap.out.splitlines()]
    assert [(x["format"], x["n_samples"], x["n_lost"], x["campaign_id"]) for x in lines] == [
        ("ping", 8, 3, 1), ("csv", 2, 1, 2)]
    assert all(x["store"] == str(db) for x in lines)
    assert lines[0]["n_skipped"] == 2 and lines[0]["skipped_examples"][0]["where"].startswith(
        f"{FIX / 'ping_loss.txt'}:")
    assert cap.err == f"wrote 10 samples to {db}\n"
    rc = main(["import", str(csv_file), "--check", "--json", "-q"])
    cap = capsys.readouterr()
    assert rc == 0 and cap.err == ""
    (doc,) = [json.loads(x) for x in cap.out.splitlines()]
    assert doc["store"] is None and doc["campaign_id"] is None and doc["n_samples"] == 2


_PING = {"type": "ping", "method": "icmp-echo", "src": "198.51.100.5", "dst": "192.0.2.10",
         "start": {"sec": 1700000000, "usec": 0}, "ping_sent": 2, "wait": 1,
         "responses": [{"from": "192.0.2.10", "seq": 0, "rtt": 12.5}]}


@pytest.mark.parametrize(("change", "message"), [
    ({"start": {"sec": None, "usec": 0}}, "start (non-negative integers)"),
    ({"start": {"sec": "abc", "usec": 0}}, "start (non-negative integers)"),
    ({"start": {"sec": -5, "usec": 0}}, "start (non-negative integers)"),
    ({"wait": None}, "wait 'None' is not a number of seconds"),
    ({"wait": "x"}, "wait 'x' is not a number of seconds"),
    ({"wait": 1e300}, "is not a number of seconds in (0, 3600]"),
    ({"ping_sent": 10**20}, "is not a count of probes"),
    ({"ping_sent": -1}, "is not a count of probes"),
    ({"ping_sent": True}, "without dst, start"),
    ({"responses": [{"from": "192.0.2.10", "seq": 0, "rtt": "1_5"}]}, "a positive rtt"),
    ({"responses": [{"from": "192.0.2.10", "seq": 0, "rtt": 99999999}]}, "a positive rtt"),
])
def test_scamper_fields_out_of_their_types_are_one_error(tmp_path, change, message):
    """Each was a traceback (null or text times, wait), an import that never ended (ping_sent
    10^20), a stored negative send time, or a wrong RTT (1_5 read as 15 ms, 99999999 ms kept)."""
    import json

    f = tmp_path / "s.json"
    f.write_text(json.dumps({**_PING, **change}) + "\n")
    with pytest.raises(SamplesError, match=re.escape(message)) as info:
        list(read_scamper_json(f))
    assert str(info.value).startswith(f"{f}:1: ")


def test_ping_sequences_from_zero_and_past_65535(tmp_path):
    """A run counting from 0 (macOS) lost its seq-0 reply and got a phantom loss; iputils'
    icmp_seq wrapping after 65535 overwrote earlier replies."""
    f = tmp_path / "mac.txt"
    f.write_text("PING 192.0.2.1 (192.0.2.1): 56 data bytes\n"
                 "[1700000000.100000] 64 bytes from 192.0.2.1: icmp_seq=0 ttl=57 time=10.5 ms\n"
                 "[1700000001.100000] 64 bytes from 192.0.2.1: icmp_seq=1 ttl=57 time=10.25 ms\n"
                 "3 packets transmitted, 2 packets received, 33.3% packet loss\n")
    samples, _ = _split(list(read_ping_text(f)))
    assert [s.rtt_ms for s in samples] == [10.5, 10.25, None]
    lines = ["PING 192.0.2.1 (192.0.2.1) 56(84) bytes of data."]
    n = 65540
    for k in range(1, n + 1):
        lines.append(f"[{1700000000 + k}.000000] 64 bytes from 192.0.2.1: icmp_seq={k % 65536} "
                     f"ttl=57 time={1 + k % 7}.5 ms")
    lines.append(f"{n} packets transmitted, {n} received, 0% packet loss, time {n}000ms")
    f = tmp_path / "wrap.txt"
    f.write_text("\n".join(lines) + "\n")
    samples, _ = _split(list(read_ping_text(f)))
    assert len(samples) == n and all(s.rtt_ms is not None for s in samples)
    assert [s.rtt_ms for s in samples[-6:]] == [1 + k % 7 + 0.5 for k in range(n - 5, n + 1)]


def test_busybox_replies_are_refused_not_read_as_losses(tmp_path):
    f = tmp_path / "bb.txt"
    f.write_text("PING 192.0.2.1 (192.0.2.1): 56 data bytes\n"
                 "64 bytes from 192.0.2.1: seq=0 ttl=57 time=10.5 ms\n"
                 "1 packets transmitted, 1 packets received, 0% packet loss\n")
    with pytest.raises(SamplesError, match=r"bb.txt:2: reply without a -D timestamp"):
        list(read_ping_text(f))


def test_an_import_that_does_not_finish_leaves_no_campaign(tmp_path, monkeypatch, capsys):
    """Ctrl-C (or an error) while the samples were written left a campaign `running` with part of
    them, which `estimate` then read as the latest. The campaign is removed; the store keeps what
    it held before, and the file can be imported again."""
    import rttgeo.store as store_mod

    f = tmp_path / "l.csv"
    f.write_text("target,landmark,rtt_ms\n" + "".join(f"10.0.0.1,L{k},{1 + k}.5\n" for k in range(30)))
    db = tmp_path / "s.db"
    assert main(["import", str(f), "--store", str(db), "-q"]) == 0
    real = store_mod.add_samples

    def interrupted(store, cid, samples, **kw):  # type: ignore[no-untyped-def]
        real(store, cid, (s for k, s in zip(range(20), samples, strict=False)), batch=5)
        raise KeyboardInterrupt

    monkeypatch.setattr(store_mod, "add_samples", interrupted)
    assert main(["import", str(f), "--store", str(db), "-q"]) == 130
    capsys.readouterr()
    with CampaignStore(db) as st:
        assert [(c.id, c.status, c.n_samples) for c in st.campaigns()] == [(1, "complete", 30)]


@pytest.mark.parametrize("rtt", [0.0, -1.5, 99999999.0])
def test_atlas_rtts_out_of_bounds_are_one_error(tmp_path, rtt):
    """An RTT of 0 became a lost probe and one of 99999999 ms a sample."""
    pytest.importorskip("ripe.atlas.sagan", reason="RIPE Atlas results need the atlas extra")
    import json

    from rttgeo.atlas.results import read_atlas_results

    result = json.loads((ATLAS_FIX / "results_fw5080.jsonl").read_text().splitlines()[0])
    packets = [r for r in result["result"] if "rtt" in r]
    assert packets, "the fixture's first result has a reply"
    packets[0]["rtt"] = rtt
    f = tmp_path / "a.jsonl"
    f.write_text(json.dumps(result) + "\n")
    with pytest.raises(SamplesError, match=r"a.jsonl:1: field 'rtt': rtt .* is not an RTT in"):
        list(read_atlas_results(f, on_skip=lambda *a: None))
