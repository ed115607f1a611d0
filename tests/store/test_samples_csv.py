"""The samples CSV reader (issue #13 item 2): every malformed file is an error naming the file, line
and field, through the real CLI entry point; the accepted oddities (BOM, blank lines, spaces,
several samples per landmark) are tested as accepted."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from rttgeo.cli import main
from rttgeo.errors import SamplesError
from rttgeo.store import read_rtts
from rttgeo.store.samples_csv import MAX_RTT_MS

HEADER = "target,landmark,protocol,sent_unix_ns,rtt_ms\n"
GOOD = "me,par,icmp,1,3.5\nme,ber,icmp,2,9.0\nme,mad,icmp,3,12.0\n"


def _catalog(tmp_path: Path) -> Path:
    cat = tmp_path / "cat.csv"
    cat.write_text(
        "id,lat_deg,lon_deg,address\n"
        "par,48.86,2.35,192.0.2.1\nber,52.52,13.40,192.0.2.2\nmad,40.42,-3.70,192.0.2.3\n"
    )
    return cat


@pytest.mark.parametrize(
    ("text", "where", "field", "words"),
    [
        # Regressions of issue #13, item 2.
        ("landmark,rtt_ms,rtt_ms\npar,3,4\n", 1, "rtt_ms", "named twice"),
        (HEADER + GOOD + "me,par,icmp,4\n", 5, "rtt_ms", "4 fields where the header has 5"),
        (HEADER + "me,par,icmp,1,5_0\n", 2, "rtt_ms", "not a number"),
        (HEADER + GOOD + "me,par,icmp,4,3.0,extra\n", 5, None, "6 fields where the header has 5"),
        (HEADER + "me,par,icmp,1,1e300\n", 2, "rtt_ms", "not an RTT in (0, 60000] ms"),
        (HEADER + "me,par,icmp,1," + "9" * 200_000 + "\n", 2, None, "longer than 131072"),
        # The same classes, other cases.
        ("landmark,rtt_ms,Landmark ,landmark\npar,3,x,y\n", 1, "landmark", "named twice"),
        ("landmark,,rtt_ms\npar,x,3\n", 1, None, "column 2 of the header has no name"),
        ("landmark,rtt\npar,3\n", 1, None, "missing column 'rtt_ms'"),
        ("", 1, None, "empty file"),
        (HEADER + "me,par,icmp,1,1e400\n", 2, "rtt_ms", "not an RTT"),
        (HEADER + "me,par,icmp,1,60000.5\n", 2, "rtt_ms", "not an RTT"),
        (HEADER + "me,par,icmp,1,٣\n", 2, "rtt_ms", "not a number"),
        (HEADER + "me,par,icmp,1,0x10\n", 2, "rtt_ms", "not a number"),
        (HEADER + "me,par,icmp,1,Infinity\n", 2, "rtt_ms", "not an RTT"),
        (HEADER + "me,par,icmp,1,-0\n", 2, "rtt_ms", "not an RTT"),
        (HEADER + "me,par,icmp,1e3,5\n", 2, "sent_unix_ns", "not a plain decimal integer"),
        (HEADER + "me,par,icmp,-4,5\n", 2, "sent_unix_ns", ">= 0"),
        (HEADER + "me,,icmp,1,5\n", 2, "landmark", "empty landmark id"),
        (HEADER + 'me,"par\nis",icmp,1,5\nme,par,icmp,1,' + "7" * 140_000 + "\n", 4, None,
         "longer than"),
        (HEADER + GOOD + "you,par,icmp,1,5\n", None, "target", "choose one with --target"),
    ],
)
def test_bad_samples_name_file_line_and_field(tmp_path, capsys, text, where, field, words):
    bad = tmp_path / "bad.csv"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(SamplesError) as ei:
        read_rtts(bad)
    e = ei.value
    assert e.where == (str(bad) if where is None else f"{bad}:{where}")
    assert e.field == field and words in str(e)
    # The same through the CLI: exit 2, one line, no traceback, nothing written.
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["estimate", str(bad), "--landmarks", str(_catalog(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and words in err
    assert f"{bad}:{where}" in err if where else str(bad) in err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({*before, "cat.csv"})


def test_not_utf8_nor_a_file(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(HEADER.encode() + GOOD.encode() + b"me,p\xffr,icmp,1,5\n")
    with pytest.raises(SamplesError, match=r"bad\.csv:\d+: not UTF-8"):
        read_rtts(bad)
    with pytest.raises(SamplesError, match="is a directory"):
        read_rtts(tmp_path)
    with pytest.raises(SamplesError, match="no such file"):
        read_rtts(tmp_path / "absent.csv")


def test_target_that_the_file_does_not_hold(tmp_path):
    f = tmp_path / "s.csv"
    f.write_text(HEADER + GOOD + "you,par,icmp,1,5\n")
    assert read_rtts(f, target="you") == {"par": 5.0}
    with pytest.raises(SamplesError, match=r"no sample of target 'nobody' \(the file holds me, you"):
        read_rtts(f, target="nobody")


def test_documented_acceptances(tmp_path, capsys):
    # A UTF-8 byte-order mark (spreadsheets write one), spaces around fields, blank lines, extra
    # columns, several samples per landmark (the minimum wins) and lost probes are accepted.
    f = tmp_path / "s.csv"
    f.write_text(
        "\ufefftarget, landmark ,rtt_ms,note\n"
        "me,par, 3.5 ,a\n\nme,par,2.25,b\nme,ber,,lost\nme,mad,1E1,c\nme,mad,+12,d\n",
        encoding="utf-8",
    )
    got = read_rtts(f)
    assert got["par"] == 2.25 and got["mad"] == 10.0 and math.isnan(got["ber"])
    assert main(["estimate", str(f), "--landmarks", str(_catalog(tmp_path)),
                 "--method", "shortest-ping"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    edge = tmp_path / "edge.csv"
    edge.write_text(f"landmark,rtt_ms\npar,{MAX_RTT_MS:g}\n")
    assert read_rtts(edge) == {"par": MAX_RTT_MS}
