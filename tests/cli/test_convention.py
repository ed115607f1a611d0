"""One command-line convention (issue #12), through the real entry point ``rttgeo.cli.main``.

Every argument has help; the commands of the api side take ``-q`` and ``--json``; ``--out -`` is
stdout; bad input exits 2 with one line on stderr, no traceback, nothing written, nothing probed;
nothing answering exits 3; a refused environment 1.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from rttgeo.cli import build_parser, main, measure_cmds
from rttgeo.measure.fake import FakeProber, Loss

from .test_locate import geo_prober, write_catalog

#: Commands that follow the whole convention (-q, --json); ``lab exec`` runs another program and
#: passes its output and exit code through, so it takes neither.
CONVENTION = [
    "eval", "estimate", "demo", "locate", "measure",
    "landmarks list", "landmarks show", "landmarks check", "landmarks refresh",
    "lab up", "lab down", "lab status",
    "import", "atlas locate", "atlas fetch", "atlas mesh",
]


def _subparsers(parser: argparse.ArgumentParser, prefix: str = ""):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                path = f"{prefix} {name}".strip()
                yield path, sub
                yield from _subparsers(sub, path)


def _commands() -> dict[str, argparse.ArgumentParser]:
    return dict(_subparsers(build_parser()))


def test_every_argument_of_every_command_has_help() -> None:
    missing = [
        f"{path}: {a.dest}"
        for path, sub in _commands().items()
        for a in sub._actions
        if not isinstance(a, argparse._SubParsersAction)
        and a.help != argparse.SUPPRESS
        and not (a.help or "").strip()
    ]
    assert missing == []


@pytest.mark.parametrize("command", CONVENTION)
def test_quiet_and_json_on_every_api_command(command: str) -> None:
    sub = _commands()[command]
    flags = {s for a in sub._actions for s in a.option_strings}
    assert {"-q", "--quiet", "--json"} <= flags, command


def _snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


BAD = [
    (["estimate", "{cat}", "--method", "foo"], "--method: invalid choice: 'foo'"),
    (["estimate", "{tmp}/nosuch.csv", "--landmarks", "{cat}"], "no such file"),
    (["estimate", "{cat}", "--map", "{tmp}/nodir/x.png"], "does not exist"),
    (["estimate", "{cat}", "--out", "{tmp}"], "is a directory"),
    (["estimate", "{cat}", "--map", "{tmp}/x.txt"], "expected a .png or .svg or .pdf"),
    (["locate", "--landmarks", "{cat}", "--rate", "-5"], "--rate: must be >= 0"),
    (["locate", "--landmarks", "{cat}", "--rate", "nan"], "--rate: expected a finite number"),
    (["locate", "--landmarks", "{cat}", "--interval", "inf"], "--interval: expected a finite"),
    (["locate", "--landmarks", "{cat}", "--first-timeout", "nan"], "--first-timeout"),
    (["locate", "--landmarks", "{cat}", "--second", "-1"], "--second: must be >= 1"),
    (["locate", "--landmarks", "{cat}", "--first", "0"], "--first: must be >= 1"),
    (["locate", "--landmarks", "{cat}", "-k", "x"], "-k: expected an integer"),
    (["locate", "--landmarks", "{cat}", "--port", "70000"], "--port: must be <= 65535"),
    (["locate", "--landmarks", "{cat}", "--out", "/nonexistent/x.json"], "does not exist"),
    (["locate", "--landmarks", "{cat}", "--protocol", "carrier-pigeon"], "--protocol"),
    (["measure", "--landmarks", "{cat}", "--csv", "/nonexistent/x.csv"], "does not exist"),
    (["measure", "--landmarks", "{cat}", "--store", "-"], "cannot go to stdout"),
    (["locate", "--landmarks", "{cat}", "--protocol", "icmp", "--subtract-turnaround"],
     "only UDP replies carry a turnaround"),
    (["eval", "--method", ","], "no method named"),
    (["eval", "--limit", "-1"], "--limit: must be >= 1"),
    (["eval", "--method", "cbg", "--map-method", "cbg"], "--map-method needs --map"),
    (["eval", "nosuchdataset", "--limit", "1", "--method", "cbg"], "nosuchdataset"),
    (["eval", "--method", "shortest-ping", "--limit", "1", "--plot-reliability", "{tmp}/r.png"],
     "--plot-reliability needs a method with a region"),
    (["eval", "--method", "cbg", "--plot-model", "{tmp}/m.jpg"], "expected a .png or .svg or .pdf"),
    (["demo", "--target", "Atlantis"], "no host with id or city 'Atlantis'"),
    (["landmarks", "show", "nosuch", "--landmarks", "{cat}"], "no landmark with id 'nosuch'"),
    (["landmarks", "check", "{tmp}/nosuch.csv"], "no such file"),
    (["lab", "up"], "give either a world file or --from-dataset"),
    (["import", "{cat}", "--store", "-"], "cannot go to stdout"),
    (["import", "{cat}", "--check", "--json", "--format", "parquet"], "cat.csv"),
    (["atlas", "fetch", "--store", "{tmp}/s.db"], "no measurement id given"),
    (["atlas", "fetch", "1001", "--limit", "2", "--store", "{tmp}/s.db"], "add --anchor-mesh"),
    (["atlas", "mesh", "--store", "{tmp}/s.db", "--out", "-"], "cannot go to stdout"),
    (["atlas", "locate", "--store", "{tmp}/s.db", "--targets", "{cat}"], "not an IPv4 or IPv6"),
    (["estimate"], "the following arguments are required: rtts"),
    (["nosuchcommand"], "invalid choice"),
]


@pytest.mark.parametrize(("argv", "message"), BAD, ids=[" ".join(a[:3]) for a, _ in BAD])
def test_bad_input_exits_2_with_one_line_and_nothing_written_or_probed(
    tmp_path, monkeypatch, capsys, argv, message
) -> None:
    cat = tmp_path / "cat.csv"
    write_catalog(cat)
    probed = FakeProber(default=Loss(), protocol="icmp")
    monkeypatch.setattr(measure_cmds, "make_prober_for", lambda protocol, port=None, **kw: probed)
    monkeypatch.chdir(tmp_path)
    before = _snapshot(tmp_path)
    code = main([a.format(cat=cat, tmp=tmp_path) for a in argv])
    out, err = capsys.readouterr()
    assert code == 2, (code, err)
    assert message in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert out == ""
    assert _snapshot(tmp_path) == before, "nothing written"
    assert probed.calls == [], "nothing probed"


def test_nothing_answering_exits_3_and_a_refused_socket_exits_1(tmp_path, monkeypatch, capsys):
    from rttgeo.errors import PermissionDenied

    cat = tmp_path / "cat.csv"
    write_catalog(cat)
    probed = FakeProber(default=Loss(), protocol="icmp")
    monkeypatch.setattr(measure_cmds, "make_prober_for", lambda protocol, port=None: probed)
    assert main(["locate", "--landmarks", str(cat), "-q", "--first-timeout", "0.2"]) == 3
    assert main(["measure", "--landmarks", str(cat), "-q", "--timeout", "0.2",
                 "--store", str(tmp_path / "m.db")]) == 3
    capsys.readouterr()

    def refuse(protocol, port=None):
        raise PermissionDenied("no ICMP socket is allowed: run as root or widen ping_group_range")

    monkeypatch.setattr(measure_cmds, "make_prober_for", refuse)
    assert main(["locate", "--landmarks", str(cat)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rttgeo: error: no ICMP socket") and "Traceback" not in err


def test_json_and_out_dash_put_the_result_on_stdout(tmp_path, monkeypatch, capsys) -> None:
    cat = tmp_path / "cat.csv"
    lat, lon = write_catalog(cat)
    prober, _ = geo_prober(lat, lon)
    monkeypatch.setattr(measure_cmds, "make_prober_for", lambda protocol, port=None: prober)
    assert main(["locate", "--landmarks", str(cat), "--json", "-q", "--method", "cbg",
                 "--timeout", "0.3", "-k", "1"]) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert set(doc) == {"estimate", "confidence", "measurement", "warnings", "provenance"}
    assert err == ""  # -q: no bar, no narration

    samples = tmp_path / "s.csv"
    samples.write_text("landmark,rtt_ms\nlm0,30\nlm1,25\nlm2,40\n")
    assert main(["estimate", str(samples), "--landmarks", str(cat), "--out", "-", "-q"]) == 0
    out, _ = capsys.readouterr()
    # the text result, then the JSON document
    text, _, js = out.partition("\n{")
    assert "confidence:" in text and json.loads("{" + js)["provenance"]["source"] == str(samples)
    assert main(["estimate", str(samples), "--landmarks", str(cat), "--out", "-", "--json",
                 "-q"]) == 0
    out, _ = capsys.readouterr()
    assert out.count('"estimate"') == 2  # --json and --out - each print the document

    assert main(["demo", "--method", "shortest-ping,cbg", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(x)["estimate"]["method"] for x in lines] == ["shortest-ping", "cbg"]
    assert main(["landmarks", "show", "lm3", "--landmarks", str(cat), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == "lm3"
    assert main(["eval", "--method", "cbg", "--limit", "3", "--jobs", "1", "--json", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["summaries"][0]["n_targets"] == 3


def test_landmarks_check_reports_every_error(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "id,lat_deg,lon_deg,address,port,protocols\n"
        "a,1,2,x,,\n"
        "b,95,2,y,,\n"  # line 3: latitude
        "c,1,2,z,,smtp\n"  # line 4: protocol
        "a,1,2,w,,\n"  # line 5: duplicate id
        "d,1,2,v,,udp\n"  # line 6: udp needs a port
        "e,1,2,u,,,extra\n"  # line 7: too many fields
    )
    assert main(["landmarks", "check", str(bad)]) == 2
    err = capsys.readouterr().err.splitlines()
    wheres = [line.split(": ")[2] for line in err if line.startswith("rttgeo: error:")]
    assert wheres == [f"{bad}:{n}" for n in (3, 4, 5, 6, 7)], err
    assert main(["landmarks", "check", str(bad), "--json", "-q"]) == 2
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["landmarks"] == 1 and [e["field"] for e in doc["errors"]] == [
        "lat_deg", "protocols", "id", "port", None]
    good = tmp_path / "good.csv"
    good.write_text("id,lat_deg,lon_deg,address\na,1,2,x\n")
    assert main(["landmarks", "check", str(good)]) == 0
    assert "1 landmarks, valid" in capsys.readouterr().out


def test_readme_exit_code_table_is_the_code() -> None:
    """README's table lists exactly cli/exitcodes.py's codes (docs match the code)."""
    import re

    from rttgeo.cli.exitcodes import ExitCode

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme[readme.index("| code | meaning |"):]
    codes = [int(m) for m in re.findall(r"^\| (\d+) \|", table, flags=re.M)]
    assert codes == sorted(int(c) for c in ExitCode)


def test_one_landmark_port_everywhere() -> None:
    """Issue #12: the default landmark port was 4789 (IANA's VXLAN) in serve and 4242 in the lab.
    One unassigned port now: the server, the UDP prober, the lab, the example worlds, the docs."""
    import re
    import tomllib

    from rttgeo.lab.world import DEFAULT_PORT as LAB_PORT
    from rttgeo.measure.udp import UdpProber
    from rttgeo.wire import DEFAULT_PORT

    assert DEFAULT_PORT == 8848  # unassigned in IANA's registry (8810-8872), below 32768
    serve = _commands()["serve"]
    assert next(a.default for a in serve._actions if a.dest == "port") == DEFAULT_PORT
    assert UdpProber().port == DEFAULT_PORT and LAB_PORT == DEFAULT_PORT
    root = Path(__file__).resolve().parents[2]
    europe = tomllib.loads((root / "examples/worlds/europe.toml").read_text())
    triangle = json.loads((root / "examples/worlds/triangle.json").read_text())
    assert europe["network"]["port"] == triangle["network"]["port"] == DEFAULT_PORT
    stale = [
        f"{p.relative_to(root)}:{n}"
        for p in [root / "README.md", *root.glob("docs/*.md"), *root.glob("examples/**/*.*"),
                  *root.glob("src/rttgeo/**/*.py")]
        for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
        if re.search(r"\b(4789|4242)\b", line) and "replaced 4789" not in line
    ]
    assert stale == []
