"""``rttgeo keygen``, ``sign-catalog``, ``prove`` and ``serve --key`` through the real entry point:
the loopback round trip, and every bad input giving one line on stderr and exit code 2."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("cryptography", reason="the verify extra (cryptography) is not installed")

from rttgeo import crypto
from rttgeo.cli import main
from rttgeo.receipt import decode_receipt
from rttgeo.serve import LandmarkServer
from rttgeo.serve.challenge import ChallengeResponder


def run(argv: list[str], capsys) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and re.match(r"rttgeo( [a-z-]+)?: error: ", lines[0]), err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.fixture
def keys(tmp_path: Path, capsys) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    out = {}
    for name in ("landmark", "host", "catalog"):
        code, stdout, _ = run(["keygen", str(tmp_path / f"{name}.key")], capsys)
        assert code == 0
        out[name] = tmp_path / f"{name}.key"
        assert stdout.strip() == (tmp_path / f"{name}.key.pub").read_text().strip()
    return out


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_keygen_writes_a_private_key_only_its_owner_reads(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(["keygen", str(tmp_path / "k")], capsys)
    assert code == 0 and len(out.strip()) == 64
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600
    key = crypto.load_private_key(tmp_path / "k")
    assert crypto.public_bytes(key).hex() == out.strip()
    before = (tmp_path / "k").read_bytes()
    code, _, err = run(["keygen", str(tmp_path / "k")], capsys)
    one_line_error(code, err, "exists", "--force")
    assert (tmp_path / "k").read_bytes() == before
    code, _, err = run(["keygen", str(tmp_path / "nodir" / "k")], capsys)
    one_line_error(code, err, "nodir")


def test_loopback_round_trip_through_the_cli(tmp_path: Path, keys, capsys) -> None:  # type: ignore[no-untyped-def]
    """keygen, sign-catalog, serve --key (a subprocess), prove: a receipt the landmark signed."""
    port = free_udp_port()
    lm_pub = (tmp_path / "landmark.key.pub").read_text().strip()
    (tmp_path / "cat.csv").write_text(
        "id,lat_deg,lon_deg,address,port,protocols,public_key\n"
        f"paris-1,48.8566,2.3522,127.0.0.1,{port},udp,{lm_pub}\n")
    code, out, err = run(["sign-catalog", str(tmp_path / "cat.csv"), "--key",
                          str(keys["catalog"]), "--out", str(tmp_path / "cat.json")], capsys)
    assert code == 0, err
    server = subprocess.Popen(
        [sys.executable, "-m", "rttgeo", "serve", "--lat", "48.8566", "--lon", "2.3522",
         "--port", str(port), "--bind", "127.0.0.1", "--id", "paris-1", "--key",
         str(keys["landmark"])], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()  # type: ignore[union-attr]
        assert f"signing with key {lm_pub}" in line, line + server.stderr.read()  # type: ignore[union-attr]
        challenge = "ab" * 32
        code, out, err = run([
            "prove", "--key", str(keys["host"]), "--catalog", str(tmp_path / "cat.json"),
            "--catalog-key", str(tmp_path / "catalog.key.pub"), "--out",
            str(tmp_path / "receipts.json"), "--rounds", "4", "--challenge", challenge], capsys)
    finally:
        server.send_signal(signal.SIGINT)
        stats_out, _ = server.communicate(timeout=20)
    assert code == 0, err
    assert "paris-1" in out and "4 rounds" in out and "1 receipt(s)" in out
    doc = json.loads((tmp_path / "receipts.json").read_text())
    assert doc["format"] == "rttgeo-receipts" and doc["challenge"] == challenge
    r = decode_receipt(bytes.fromhex(doc["receipts"][0]["receipt"]))
    r.check_signature()
    assert r.landmark_key.hex() == lm_pub and r.rounds == 4
    assert r.host_key == bytes.fromhex((tmp_path / "host.key.pub").read_text().strip())
    stats = json.loads(stats_out.strip().splitlines()[-1])["rttgeo_serve_stats"]
    assert stats["challenge"]["receipts"] == 1 and stats["challenge"]["answered"] == 4


def test_prove_with_nobody_answering_exits_3_and_records_why(tmp_path: Path, keys, capsys) -> None:  # type: ignore[no-untyped-def]
    pub = crypto.public_bytes(crypto.generate_key()).hex()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        (tmp_path / "cat.csv").write_text(
            "id,lat_deg,lon_deg,address,port,protocols,public_key\n"
            f"mute,1,2,127.0.0.1,{port},udp,{pub}\n")
        run(["sign-catalog", str(tmp_path / "cat.csv"), "--key", str(keys["catalog"]), "--out",
             str(tmp_path / "cat.json")], capsys)
        code, out, _ = run(["prove", "--key", str(keys["host"]), "--catalog",
                            str(tmp_path / "cat.json"), "--out", str(tmp_path / "r.json"),
                            "--timeout", "0.05", "--retries", "1"], capsys)
        assert code == 3
        assert "mute" in out and "no answer to the session opening" in out
        code, out, err = run(["prove", "--key", str(keys["host"]), "--catalog",
                              str(tmp_path / "cat.json"), "--out", str(tmp_path / "r.json"),
                              "--timeout", "0.05", "--retries", "0", "--json", "-q"], capsys)
    assert code == 3 and err == ""
    report = json.loads(out)
    assert report["receipts"] == 0 and report["landmarks"][0]["error"].startswith("no answer")
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["receipts"] == [] and doc["failures"][0]["landmark"] == "mute"


@pytest.fixture
def signed(tmp_path: Path, keys, capsys) -> Path:  # type: ignore[no-untyped-def]
    pub = crypto.public_bytes(crypto.generate_key()).hex()
    (tmp_path / "cat.csv").write_text(
        "id,lat_deg,lon_deg,address,port,protocols,public_key\n"
        f"a,1,2,127.0.0.1,9,udp,{pub}\n")
    assert run(["sign-catalog", str(tmp_path / "cat.csv"), "--key", str(keys["catalog"]),
                "--out", str(tmp_path / "cat.json")], capsys)[0] == 0
    return tmp_path / "cat.json"


def test_prove_bad_inputs(tmp_path: Path, keys, signed, capsys) -> None:  # type: ignore[no-untyped-def]
    base = ["prove", "--key", str(keys["host"]), "--catalog", str(signed), "--out",
            str(tmp_path / "r.json")]
    cases = [
        (["--rounds", "0"], ["--rounds"]),
        (["--rounds", "65"], ["--rounds"]),
        (["--timeout", "0"], ["--timeout"]),
        (["--parallel", "0"], ["--parallel"]),
        (["--challenge", "abc"], ["--challenge", "64 hex"]),
        (["--landmark", "nope"], ["--landmark", "nope"]),
        (["--catalog-key", "00" * 32], ["--catalog-key", "small order"]),
        (["--catalog-key", str(tmp_path / "host.key.pub")], ["not a trusted catalog key"]),
    ]
    for extra, needles in cases:
        code, _, err = run(base + extra, capsys)
        one_line_error(code, err, *needles)
    tampered = tmp_path / "tampered.json"
    doc = json.loads(signed.read_text())
    doc["catalog"] = doc["catalog"].replace("127.0.0.1", "127.0.0.2")
    tampered.write_text(json.dumps(doc))
    for catalog, needles in ((tampered, ["does not verify"]), (tmp_path / "cat.csv", ["cat.csv"]),
                             (tmp_path / "none.json", ["no such"])):
        code, _, err = run(["prove", "--key", str(keys["host"]), "--catalog", str(catalog),
                            "--out", str(tmp_path / "r.json")], capsys)
        one_line_error(code, err, *needles)
    os.chmod(keys["host"], 0o644)
    code, _, err = run(base, capsys)
    one_line_error(code, err, "too open", "chmod 600")
    assert not (tmp_path / "r.json").exists()  # nothing written by a failed run


def test_sign_catalog_bad_inputs(tmp_path: Path, keys, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "nokey.csv").write_text("id,lat_deg,lon_deg,address\na,1,2,192.0.2.1\n")
    code, _, err = run(["sign-catalog", str(tmp_path / "nokey.csv"), "--key", str(keys["catalog"]),
                        "--out", str(tmp_path / "o.json")], capsys)
    one_line_error(code, err, "nokey.csv:2", "public_key")
    code, _, err = run(["sign-catalog", str(tmp_path / "nokey.csv"), "--key",
                        str(tmp_path / "missing.key"), "--out", str(tmp_path / "o.json")], capsys)
    one_line_error(code, err, "missing.key", "no such key file")
    assert not (tmp_path / "o.json").exists()


def test_serve_key_bad_inputs(tmp_path: Path, keys, capsys) -> None:  # type: ignore[no-untyped-def]
    base = ["serve", "--lat", "1", "--lon", "2", "--port", "0", "--bind", "127.0.0.1"]
    code, _, err = run([*base, "--key", str(keys["landmark"])], capsys)
    one_line_error(code, err, "--key", "--id")
    code, _, err = run([*base, "--id", "x", "--key", str(tmp_path / "nope.key")], capsys)
    one_line_error(code, err, "nope.key")
    code, _, err = run([*base, "--id", "x", "--key", str(keys["landmark"]), "--session-ttl", "0"],
                       capsys)
    one_line_error(code, err, "--session-ttl")
    code, _, err = run([*base, "--id", "x", "--key", str(keys["landmark"]), "--max-rounds", "99"],
                       capsys)
    one_line_error(code, err, "--max-rounds")


def test_the_prove_verb_with_a_scripted_prover(tmp_path: Path, signed) -> None:  # type: ignore[no-untyped-def]
    """The api verb takes its prover as a seam; its report and receipts file follow it."""
    from rttgeo.api.prove import prove
    from rttgeo.prove import ProveResult

    class Scripted:
        public_key = crypto.public_bytes(crypto.generate_key())
        challenge = b"Z" * 32

        def run(self, targets):  # type: ignore[no-untyped-def]
            return [ProveResult(t.landmark_id, t.address, t.port, error="scripted") for t in targets]

    report = prove(signed, "unused", prover=Scripted(), out=tmp_path / "r.json")  # type: ignore[arg-type]
    assert report.receipts == 0 and report.results[0].error == "scripted"
    assert "failed: scripted" in report.describe()
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["challenge"] == (b"Z" * 32).hex() and doc["failures"][0]["error"] == "scripted"


def test_an_in_process_signing_server_answers_the_cli(tmp_path: Path, keys, capsys) -> None:  # type: ignore[no-untyped-def]
    """``rttgeo prove --landmark`` picks one landmark of several; the other is not contacted."""
    loop = asyncio.new_event_loop()
    t = threading.Thread(target=loop.run_forever, daemon=True)
    t.start()
    lk = crypto.load_private_key(keys["landmark"])
    srv = LandmarkServer(5.0, 6.0, server_id="b", host="127.0.0.1", port=0,
                         challenge=ChallengeResponder(lk, landmark_id="b", lat_deg=5.0,
                                                      lon_deg=6.0))
    asyncio.run_coroutine_threadsafe(srv.start(), loop).result(5)
    try:
        other = crypto.public_bytes(crypto.generate_key()).hex()
        (tmp_path / "cat.csv").write_text(
            "id,lat_deg,lon_deg,address,port,protocols,public_key\n"
            f"a,1,2,127.0.0.1,9,udp,{other}\n"
            f"b,5,6,127.0.0.1,{srv.address[1]},udp,{crypto.public_bytes(lk).hex()}\n")
        run(["sign-catalog", str(tmp_path / "cat.csv"), "--key", str(keys["catalog"]), "--out",
             str(tmp_path / "cat.json")], capsys)
        code, out, err = run(["prove", "--key", str(keys["host"]), "--catalog",
                              str(tmp_path / "cat.json"), "--landmark", "b", "--out",
                              str(tmp_path / "r.json"), "--rounds", "3"], capsys)
        assert code == 0, err
        assert " a " not in out and "1 receipt(s) from 1 landmark(s)" in out
    finally:
        asyncio.run_coroutine_threadsafe(srv.stop(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        t.join(5)


# ------------------------------------------------------------------------------- prove --every
@pytest.fixture
def in_process_landmark(tmp_path: Path, keys, capsys):  # type: ignore[no-untyped-def]
    """A signing landmark on loopback (in this process) and a signed catalog naming it."""
    loop = asyncio.new_event_loop()
    t = threading.Thread(target=loop.run_forever, daemon=True)
    t.start()
    lk = crypto.load_private_key(keys["landmark"])
    srv = LandmarkServer(5.0, 6.0, server_id="b", host="127.0.0.1", port=0,
                         challenge=ChallengeResponder(lk, landmark_id="b", lat_deg=5.0,
                                                      lon_deg=6.0))
    asyncio.run_coroutine_threadsafe(srv.start(), loop).result(5)
    try:
        (tmp_path / "cat.csv").write_text(
            "id,lat_deg,lon_deg,address,port,protocols,public_key\n"
            f"b,5,6,127.0.0.1,{srv.address[1]},udp,{crypto.public_bytes(lk).hex()}\n")
        assert run(["sign-catalog", str(tmp_path / "cat.csv"), "--key", str(keys["catalog"]),
                    "--out", str(tmp_path / "cat.json")], capsys)[0] == 0
        yield tmp_path / "cat.json"
    finally:
        asyncio.run_coroutine_threadsafe(srv.stop(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        t.join(5)


def test_prove_every_rewrites_fresh_receipts_each_run(tmp_path: Path, keys,  # type: ignore[no-untyped-def]
                                                       in_process_landmark) -> None:
    """Each run writes its own receipts (new sessions, new random challenges) over the last
    file; ``count`` bounds the runs and ``stop`` ends them between runs."""
    import threading as th

    from rttgeo.api.prove import prove_every
    from rttgeo.catalog.signed import load_signed_catalog
    from rttgeo.verify.evidence import build_bundle

    out = tmp_path / "standing.json"
    seen: list[dict] = []

    def look(report) -> None:  # type: ignore[no-untyped-def]
        assert report.receipts == 1, report.describe()
        seen.append(json.loads(out.read_text()))

    last = prove_every(in_process_landmark, keys["host"], every_s=0.05, count=3, out=out,
                       on_report=look, rounds=2)
    assert last is not None and len(seen) == 3
    assert len({d["challenge"] for d in seen}) == 3  # a fresh random challenge per run
    assert len({d["receipts"][0]["receipt"] for d in seen}) == 3
    catalog = load_signed_catalog(in_process_landmark, trusted_keys=None)
    ev = build_bundle(out, catalog)  # the file on disk is the last run's, and it checks
    assert ev.challenge.hex() == seen[-1]["challenge"]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    stop = th.Event()
    runs: list[object] = []
    got = prove_every(in_process_landmark, keys["host"], every_s=3600, out=out, stop=stop,
                      on_report=lambda r: (runs.append(r), stop.set()), rounds=1,
                      challenge=b"C" * 32)
    assert runs == [got] and json.loads(out.read_text())["challenge"] == (b"C" * 32).hex()


def test_prove_every_stops_cleanly_on_sigterm(tmp_path: Path, keys, capsys) -> None:  # type: ignore[no-untyped-def]
    """The daemon (a subprocess against a landmark subprocess) prints a line per run; SIGTERM
    ends it with exit 0, no traceback, and a complete receipts file that checks."""
    from rttgeo.catalog.signed import load_signed_catalog
    from rttgeo.verify.evidence import build_bundle

    port = free_udp_port()
    lm_pub = (tmp_path / "landmark.key.pub").read_text().strip()
    (tmp_path / "cat.csv").write_text(
        "id,lat_deg,lon_deg,address,port,protocols,public_key\n"
        f"paris-1,48.8566,2.3522,127.0.0.1,{port},udp,{lm_pub}\n")
    assert run(["sign-catalog", str(tmp_path / "cat.csv"), "--key", str(keys["catalog"]),
                "--out", str(tmp_path / "cat.json")], capsys)[0] == 0
    server = subprocess.Popen(
        [sys.executable, "-m", "rttgeo", "serve", "--lat", "48.8566", "--lon", "2.3522",
         "--port", str(port), "--bind", "127.0.0.1", "--id", "paris-1", "--key",
         str(keys["landmark"])], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    daemon = None
    try:
        assert "signing with key" in server.stdout.readline()  # type: ignore[union-attr]
        out = tmp_path / "standing.json"
        daemon = subprocess.Popen(
            [sys.executable, "-m", "rttgeo", "prove", "--key", str(keys["host"]), "--catalog",
             str(tmp_path / "cat.json"), "--out", str(out), "--rounds", "2", "--every", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = daemon.stdout.readline()  # type: ignore[union-attr]
        assert "1 receipt(s) from 1 landmark(s)" in first, first
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=60)
    finally:
        for p in (daemon, server):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGINT)
                p.communicate(timeout=20)
    assert daemon.returncode == 0, err
    assert "Traceback" not in err and "stopped by SIGTERM" in err
    ev = build_bundle(out, load_signed_catalog(tmp_path / "cat.json", trusted_keys=None))
    assert len(ev) == 1 and ev.host_key.hex() == (tmp_path / "host.key.pub").read_text().strip()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_prove_every_bad_options(tmp_path: Path, keys, signed, capsys) -> None:  # type: ignore[no-untyped-def]
    base = ["prove", "--key", str(keys["host"]), "--catalog", str(signed), "--out",
            str(tmp_path / "r.json")]
    for extra, needles in ((["--every", "0.5"], ["--every", ">= 1"]),
                           (["--every", "nan"], ["--every"]),
                           (["--every", "10", "--count", "0"], ["--count"]),
                           (["--count", "2"], ["--count", "--every"])):
        code, _, err = run(base + extra, capsys)
        one_line_error(code, err, *needles)
    assert not (tmp_path / "r.json").exists()


def test_prove_every_count_prints_a_json_line_per_run(tmp_path: Path, keys,  # type: ignore[no-untyped-def]
                                                      in_process_landmark, capsys) -> None:
    code, out, err = run(["prove", "--key", str(keys["host"]), "--catalog",
                          str(in_process_landmark), "--out", str(tmp_path / "r.json"), "--rounds",
                          "2", "--every", "1", "--count", "2", "--json", "-q"], capsys)
    assert code == 0 and err == ""
    lines = [json.loads(line) for line in out.splitlines()]
    assert [d["receipts"] for d in lines] == [1, 1] and all("time" in d for d in lines)
    assert lines[0]["challenge"] != lines[1]["challenge"]
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["challenge"] == lines[1]["challenge"]  # the file holds the last run's receipts
