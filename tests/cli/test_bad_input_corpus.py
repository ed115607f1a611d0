"""The bad-input corpus (issue #13), run through the real entry point ``rttgeo.cli.main``.

tests/data/bad_inputs/ is made by scripts/build_bad_inputs.py: malformed catalogs, samples files,
stores, world files and GeoJSON claims, each paired in ``cases.json`` with every command that reads
that kind of file. Each case must exit with its documented code (2: bad input), print only error
lines on stderr (no traceback) naming the file, and the line and field where the reader knows
them, write nothing, and probe nothing. A second test sweeps every option of every command (as the
commands are registered, so new commands and options are covered when they land) with values of
the classes that once gave tracebacks or silent nonsense.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rttgeo.cli import build_parser, main, measure_cmds
from rttgeo.measure.fake import FakeProber, Loss

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "bad_inputs"
CASES = json.loads((CORPUS / "cases.json").read_text(encoding="utf-8"))


def _builder():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("build_bad_inputs",
                                                  ROOT / "scripts" / "build_bad_inputs.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_corpus_is_what_the_script_makes(tmp_path) -> None:
    """The committed corpus is the kept script's output (rerun the script after changing it)."""
    cases = _builder().build(tmp_path)
    assert cases == CASES
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    have = sorted(p.relative_to(CORPUS) for p in CORPUS.rglob("*") if p.is_file())
    assert made == have
    for rel in made:
        if rel.suffix not in (".db", ".sqlite"):  # SQLite bytes vary with its version
            assert (tmp_path / rel).read_bytes() == (CORPUS / rel).read_bytes(), rel


def _snapshot(*roots: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for r in roots for p in r.rglob("*")}


@pytest.fixture
def guarded(monkeypatch):  # type: ignore[no-untyped-def]
    """Nothing may be probed and no lab built, whatever a case does."""
    probed = FakeProber(default=Loss(), protocol="icmp")
    monkeypatch.setattr(measure_cmds, "make_prober_for",
                        lambda protocol, port=None, **kw: probed)

    def no_lab(*a, **kw):  # type: ignore[no-untyped-def]
        raise AssertionError("a bad world file reached lab up")

    monkeypatch.setattr("rttgeo.lab.up", no_lab)
    monkeypatch.setattr("rttgeo.lab.lab.up", no_lab)
    return probed


@pytest.fixture(scope="module")
def key(tmp_path_factory) -> str:  # type: ignore[no-untyped-def]
    """A valid private key, made by ``rttgeo keygen`` (needs the verify extra)."""
    pytest.importorskip("cryptography", reason="the verify extra (cryptography) is not installed")
    path = tmp_path_factory.mktemp("key") / "test.key"
    assert main(["keygen", str(path)]) == 0
    return str(path)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_input(case, tmp_path, monkeypatch, capsys, guarded, request) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    subst = {"{corpus}": str(CORPUS), "{tmp}": str(tmp_path),
             "{good_catalog}": str(CORPUS / "good_catalog.csv"),
             "{good_samples}": str(CORPUS / "good_samples.csv")}
    if any("{key}" in a for a in case["argv"]):  # also {key}.pub, written beside it
        subst["{key}"] = request.getfixturevalue("key")
    capsys.readouterr()

    def fill(text: str) -> str:
        for k, v in subst.items():
            text = text.replace(k, v)
        return text

    argv = [fill(a) for a in case["argv"]]
    before = _snapshot(CORPUS, tmp_path)
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == case["exit"], (code, err)
    assert "Traceback" not in err, err
    if case["exit"] == 2:
        lines = err.strip().splitlines()
        assert lines and lines[0].startswith("rttgeo") and "error:" in lines[0], err
        assert len(lines) == 1 or case["argv"][:2] == ["landmarks", "check"], err  # it lists all
        for want in case["stderr"]:
            assert fill(want) in err, (want, err)
        assert out == ""
    assert _snapshot(CORPUS, tmp_path) == before, "nothing written"
    assert guarded.calls == [], "nothing probed"


# -- every option of every command -----------------------------------------------------------------
def _commands() -> dict[str, argparse.ArgumentParser]:
    out: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    path = f"{prefix} {name}".strip()
                    out[path] = sub
                    walk(sub, path)

    walk(build_parser(), "")
    return out


def _typed_options() -> list[tuple[str, str, str]]:
    """(command, option, kind) of every option whose value is checked by a type."""
    found = []
    for path, sub in _commands().items():
        for a in sub._actions:
            if not a.option_strings or a.nargs == 0:
                continue
            kind = getattr(a.type, "__name__", "")
            if a.choices is not None:
                kind = "choice"
            found.append((path, a.option_strings[-1], kind))
    return found


#: Values of the classes that once passed: non-finite, overflowing, Python-only number forms.
BAD_NUMBERS = ["nan", "-nan", "inf", "-inf", "1e400", "5_0", "0x10", "\u0663", "", "1" * 400,
               "7" * 5000]
BAD_INTEGERS = [*BAD_NUMBERS, "1.5", "1e3"]


def _bad_values(kind: str, tmp: Path) -> list[str]:
    if kind == "number":
        return BAD_NUMBERS
    if kind == "integer":
        return BAD_INTEGERS
    if kind in ("output path", "campaign store"):
        return [str(tmp / "no-such-dir" / "x.json"), str(tmp), "/proc/rttgeo-x.json"]
    if kind == "choice":
        return ["no-such-choice", "a\udcff"]
    if kind == "text":
        return ["a\udcff", "a\x01b", "x" * 300]
    if kind == "address":
        return ["localhost", "999.1.1.1", "::g"]
    if kind == "name":
        return ["../etc", "a/b", "x" * 300]
    if kind == "lab id":
        return ["../etc", "ZZZZ", "abcde"]
    return []


#: Kinds of value type the sweep knows how to get wrong (types of cli/_args.py, and choices).
SWEPT = ("number", "integer", "output path", "campaign store", "choice", "text", "address",
         "name", "lab id")
OPTIONS = [(c, o, k) for c, o, k in _typed_options() if k in SWEPT]


def test_the_sweep_covers_every_typed_option() -> None:
    """Options with a plain ``type=float`` / ``int`` would slip through the sweep: none left."""
    plain = [(c, o) for c, o, k in _typed_options() if k in ("float", "int")]
    assert plain == []
    assert len(OPTIONS) > 60  # every command's numbers, outputs and choices


@contextlib.contextmanager
def stubbed_handlers() -> Iterator[list[str]]:
    """main() runs for real up to the handler, which only records that it was reached."""
    reached: list[str] = []

    def build() -> argparse.ArgumentParser:
        parser = build_parser()
        stack = [parser]
        while stack:
            p = stack.pop()
            p.set_defaults(handler=lambda args: reached.append("handler") or 0)
            for a in p._actions:
                if isinstance(a, argparse._SubParsersAction):
                    stack.extend(a.choices.values())
        return parser

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("rttgeo.cli.build_parser", build)
        yield reached


@pytest.fixture
def stub_handlers():  # type: ignore[no-untyped-def]
    with stubbed_handlers() as reached:
        yield reached


@pytest.mark.parametrize(("command", "option", "kind"), OPTIONS,
                         ids=[f"{c} {o}" for c, o, _ in OPTIONS])
def test_every_option_refuses_bad_values_at_parse_time(
    command, option, kind, tmp_path, capsys, stub_handlers
) -> None:  # type: ignore[no-untyped-def]
    for value in _bad_values(kind, tmp_path):
        # "--opt=value": values may start with "-"; ids of 5,000 digits are not printed
        code = main([*command.split(), f"{option}={value}"])
        err = capsys.readouterr().err
        shown = value if len(value) < 50 else value[:20] + "..."
        assert code == 2, (shown, err)
        assert err.count("\n") == 1 and "Traceback" not in err, (shown, err)
        assert f"argument {option}" in err or option in err, (shown, err)
    assert stub_handlers == [], "no handler ran"


def test_output_checks_leave_nothing_behind(tmp_path, capsys, stub_handlers) -> None:
    """The writability check creates and removes the file it asked about, and never truncates an
    existing one."""
    keep = tmp_path / "keep.json"
    keep.write_text("precious\n")
    before = os.stat(keep).st_mtime_ns
    assert main(["estimate", "x.csv", "--out", str(keep)]) == 0
    assert main(["estimate", "x.csv", "--out", str(tmp_path / "new.json")]) == 0
    assert keep.read_text() == "precious\n" and os.stat(keep).st_mtime_ns == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.json"]
