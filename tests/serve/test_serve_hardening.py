"""Hardening of ``rttgeo serve`` (issue #13): IPv6 sources share one bucket per /64 (configurable),
every option is checked at parse time (one line naming it, exit 2, nothing bound), and ``--rate``
(probes/s elsewhere) is only a deprecated, warned alias of ``--source-rate``."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import pytest

from rttgeo import wire
from rttgeo.cli import main
from rttgeo.serve import LandmarkServer
from rttgeo.serve.server import source_key


def request() -> bytes:
    return wire.encode(wire.echo_request(b"n" * 16), pad_to=wire.MIN_REQUEST_SIZE)


def test_source_keys() -> None:
    assert source_key("192.0.2.7") == "192.0.2.7"
    assert source_key("::ffff:192.0.2.7") == "192.0.2.7"  # IPv4 on a dual-stack socket
    a, b = source_key("2001:db8:1:2::1"), source_key("2001:db8:1:2:ffff:1:2:3")
    assert a == b and len(a) == 8
    assert source_key("2001:db8:1:3::1") != a
    assert source_key("fe80::1%eth0") == source_key("fe80::2%eth1")
    assert source_key("2001:db8::1", 128) != source_key("2001:db8::2", 128)
    assert source_key("2001:db8:0:00ff::1", 60) == source_key("2001:db8:0:00f0::1", 60)
    assert source_key("2001:db8:0:01ff::1", 60) != source_key("2001:db8:0:00f0::1", 60)


def test_one_ipv6_64_gets_one_bucket() -> None:
    # Regression (issue #13): per /128, one /64 got 8,000 replies where one address gets 100.
    srv = LandmarkServer(1.0, 2.0, rate_per_s=1e-3, burst=100)
    got = sum(srv.handle(request(), f"2001:db8:7:7::{k:x}") is not None for k in range(1, 8001))
    assert got == 100 and srv.stats.rate_limited == 7900
    other = srv.handle(request(), "2001:db8:7:8::1")  # the next /64 has its own bucket
    assert other is not None
    per_address = LandmarkServer(1.0, 2.0, rate_per_s=1e-3, burst=100, ipv6_prefix_len=128)
    got = sum(per_address.handle(request(), f"2001:db8:7:7::{k:x}") is not None
              for k in range(1, 301))
    assert got == 300


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        # The cases of issue #13.
        ("--rate", "0", "must be > 0"),
        ("--burst", "0.5", "must be >= 1"),
        ("--max-sources", "0", "must be >= 1"),
        ("--global-rate", "0.5", "must be >= 1"),
        ("--rate", "nan", "expected a finite number"),
        ("--burst", "inf", "expected a finite number"),
        ("--id", "a\udcff", "not valid UTF-8"),  # what Python makes of argv bytes a\xff
        # The same classes, other cases.
        ("--source-rate", "-5", "must be > 0"),
        ("--source-rate", "1e400", "expected a finite number"),
        ("--source-rate", "5_0", "expected a finite number"),
        ("--global-rate", "nan", "expected a finite number"),
        ("--max-sources", "1.5", "expected an integer"),
        ("--max-sources", "99999999999", "must be <="),
        ("--lat", "91", "must be <= 90"),
        ("--lat", "nan", "expected a finite number"),
        ("--lon", "-inf", "expected a finite number"),
        ("--port", "65536", "must be <= 65535"),
        ("--port", "-1", "must be >= 0"),
        ("--bind", "localhost", "not an IP address"),
        ("--id", "x" * 65, "at most 64 bytes"),
        ("--id", "a\x00b", "control characters"),
        ("--netns", "../../etc", "expected a name"),
        ("--ipv6-prefix-len", "129", "must be <= 128"),
        ("--session-ttl", "0", "must be > 0"),
        ("--max-rounds", "65", "must be <= 64"),
    ],
)
def test_every_option_checked_at_parse_time(capsys, option, value, words) -> None:
    given = {"--lat": "1", "--lon": "2", "--port": "0", "--bind": "127.0.0.1", option: value}
    argv = ["serve", *(f"{k}={v}" for k, v in given.items())]  # "=": values may start with "-"
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"argument {option}" in err and words in err, err


def test_id_bytes_from_a_real_argv() -> None:
    """The same through a real process: argv bytes that are not UTF-8 (``$'a\\xff'``)."""
    proc = subprocess.run(
        [sys.executable.encode(), b"-m", b"rttgeo", b"serve", b"--lat", b"1", b"--lon", b"2",
         b"--port", b"0", b"--id", b"a\xff"],
        capture_output=True, timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.count(b"\n") == 1 and b"not valid UTF-8" in proc.stderr
    assert b"Traceback" not in proc.stderr


def test_deprecated_rate_alias_warns_and_works(capsys) -> None:
    assert main(["serve", "--lat", "1", "--lon", "2", "--rate", "5", "--source-rate", "5"]) == 2
    assert "give --source-rate only" in capsys.readouterr().err
    proc = subprocess.Popen(
        [sys.executable, "-m", "rttgeo", "serve", "--lat", "1", "--lon", "2", "--port", "0",
         "--bind", "127.0.0.1", "--rate", "7"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert re.search(r"port \d+", line), line
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert "--rate is deprecated here, use --source-rate" in err
