"""Generated bad input (issue #13): hypothesis writes CSV, JSON and TOML files and option values and
hands them to the real entry point ``rttgeo.cli.main``. Whatever it makes, a command ends with a
documented exit code and, when it refuses, one error line naming the file or the option: never a
traceback, never an exception out of ``main``. Nothing is probed and no lab is built (both are
replaced by stubs that fail the test if reached by bad input)."""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rttgeo.cli import main, measure_cmds
from rttgeo.errors import LabError
from rttgeo.measure.fake import FakeProber, Loss

from .test_bad_input_corpus import CORPUS, OPTIONS, stubbed_handlers

GOOD_CATALOG = str(CORPUS / "good_catalog.csv")
GOOD_SAMPLES = str(CORPUS / "good_samples.csv")
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])  # capsys: drained per call


@contextlib.contextmanager
def _guarded() -> Iterator[Path]:
    """A temporary working directory; probing and lab building replaced by stubs."""
    probed = FakeProber(default=Loss(), protocol="icmp")

    def no_lab(*a, **kw):  # type: ignore[no-untyped-def]
        raise LabError("stub: a valid world reached lab up (nothing is built in this test)")

    with tempfile.TemporaryDirectory() as d, pytest.MonkeyPatch.context() as mp:
        mp.setattr(measure_cmds, "make_prober_for", lambda protocol, port=None, **kw: probed)
        mp.setattr("rttgeo.lab.up", no_lab)
        mp.setattr("rttgeo.lab.lab.up", no_lab)
        mp.chdir(d)
        yield Path(d)
        assert probed.calls == []


def _run(argv: list[str], capsys, allowed: set[int], name: str) -> int:  # type: ignore[no-untyped-def]
    code = main(argv)
    _out, err = capsys.readouterr()
    assert code in allowed, (code, err)
    assert "Traceback" not in err, err
    if code == 2:
        first = err.strip().splitlines()[0]
        assert first.startswith("rttgeo") and "error:" in first, err
        assert name in err, (name, err)
    return code


# -- CSV ----------------------------------------------------------------------------------------
FIELD = st.one_of(
    st.sampled_from(["", "par", "ber", "mad", "3.5", "1e300", "1e400", "nan", "-inf", "5_0",
                     "0", "-2", "1" * 400, "\u0663", "0x10", '"', '""', "a,b", "\x00", "\ufeff",
                     "12.25", "8848", "icmp;udp", "192.0.2.1", "48.85", "2.35", "me"]),
    st.text(max_size=12),
)
COLUMN = st.sampled_from(["id", "lat_deg", "lon_deg", "address", "port", "protocols", "target",
                          "landmark", "protocol", "sent_unix_ns", "rtt_ms", "", "rtt_ms ",
                          "\ufefflandmark", "x"])


@st.composite
def csv_text(draw) -> str:  # type: ignore[no-untyped-def]
    header = draw(st.lists(COLUMN, min_size=0, max_size=7))
    rows = draw(st.lists(st.lists(FIELD, min_size=0, max_size=8), max_size=6))
    sep = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    lines = [",".join(header)] + [",".join(r) for r in rows]
    return draw(st.sampled_from(["", "\ufeff"])) + sep.join(lines) + draw(st.sampled_from(["", sep]))


@SETTINGS
@given(text=csv_text())
def test_generated_csv(text: str, capsys) -> None:  # type: ignore[no-untyped-def]
    with _guarded() as d:
        f = d / "in.csv"
        f.write_text(text, encoding="utf-8", errors="surrogatepass")
        _run(["landmarks", "check", str(f)], capsys, {0, 2}, str(f))
        _run(["estimate", str(f), "--landmarks", GOOD_CATALOG, "--method", "shortest-ping"],
             capsys, {0, 1, 2}, str(f))


# -- JSON ---------------------------------------------------------------------------------------
SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(["par", "192.0.2.1", "a", "landmark", "target", "geography", "matrix"]),
)
KEYS = st.sampled_from(["id", "lat_deg", "lon_deg", "address", "port", "protocols", "landmarks",
                        "hosts", "name", "role", "delay", "model", "rtt_ms", "network", "type",
                        "coordinates", "access_ms", "x"])
JSON = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(KEYS, inner, max_size=5), max_leaves=25)
#: Literals json.dumps never writes but a file may hold.
RAW = st.sampled_from(["1e400", "-1e400", "NaN", "Infinity", "1" * 400, "7" * 5000, "[" * 3000,
                       "{", "]", "\"\\ud800\"", "\x00", "01", "+1"])


@st.composite
def json_text(draw) -> str:  # type: ignore[no-untyped-def]
    text = json.dumps(draw(JSON))
    if draw(st.booleans()):  # splice a raw literal in place of some number or at the end
        raw = draw(RAW)
        text = text.replace("0", raw, 1) if "0" in text else text + raw
    return text


@SETTINGS
@given(text=json_text())
def test_generated_json(text: str, capsys) -> None:  # type: ignore[no-untyped-def]
    with _guarded() as d:
        cat, world, poly = d / "cat.json", d / "world.json", d / "claim.geojson"
        for f in (cat, world, poly):
            f.write_text(text, encoding="utf-8", errors="surrogatepass")
        _run(["landmarks", "check", str(cat)], capsys, {0, 2}, str(cat))
        _run(["lab", "up", str(world)], capsys, {1, 2}, str(world))  # 1: the stub's LabError
        _run(["verify", "--rtts", GOOD_SAMPLES, "--landmarks", GOOD_CATALOG, "--polygon",
              str(poly)], capsys, {0, 2, 10, 11, 12}, str(poly))


# -- TOML ---------------------------------------------------------------------------------------
TOML_VALUE = st.one_of(
    st.sampled_from(["1", "-3.5", "inf", "nan", "-inf", "1e400", "1" * 400, "7" * 5000, '"a"',
                     "true", "[1, 2]", "[" * 300 + "]" * 300, "{ x = 1 }", "0x10", "1_000",
                     "1979-05-27", '"\\u0000"', "'''", "[[1], [2]]"]),
    st.integers().map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)


@st.composite
def toml_text(draw) -> str:  # type: ignore[no-untyped-def]
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.integers(0, 3))
        if kind == 0:
            lines.append(draw(st.sampled_from(["[[hosts]]", "[delay]", "[network]", "[x]",
                                               "[[hosts", "[hosts]"])))
        else:
            key = draw(KEYS)
            lines.append(f"{key} = {draw(TOML_VALUE)}")
    return "\n".join(lines) + "\n"


@SETTINGS
@given(text=toml_text())
def test_generated_toml(text: str, capsys) -> None:  # type: ignore[no-untyped-def]
    with _guarded() as d:
        f = d / "world.toml"
        f.write_text(text, encoding="utf-8")
        _run(["lab", "up", str(f)], capsys, {1, 2}, str(f))


# -- option values ------------------------------------------------------------------------------
VALUE = st.one_of(
    st.text(max_size=20),
    st.floats().map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["nan", "inf", "-0", "1e400", "5_0", "0x1p3", "\u0663", " 7 ", "1" * 400]),
)


@SETTINGS
@given(option=st.sampled_from(OPTIONS), value=VALUE)
def test_generated_option_values(option, value: str, capsys) -> None:  # type: ignore[no-untyped-def]
    command, name, _kind = option
    with tempfile.TemporaryDirectory() as d, pytest.MonkeyPatch.context() as mp, \
            stubbed_handlers():
        mp.chdir(d)
        code = main([*command.split(), f"{name}={value}"])
        err = capsys.readouterr().err
        assert code in (0, 2), (code, err)
        assert "Traceback" not in err, err
        if code == 2:  # the value refused, or a valid value and the command's required ones
            assert err.count("\n") == 1, err
            assert name in err or "the following arguments are required" in err, err
        assert list(Path(d).iterdir()) == [], "an option check left a file behind"
