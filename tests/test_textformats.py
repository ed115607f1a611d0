"""Strict JSON / TOML / CSV reading (issue #13): huge integers, 1e400, 5,000-digit numbers, NaN
literals, 100,000 nested brackets and CSV fields over 128 KiB give one clean error naming the file
(and line), for landmark catalogs and lab world files alike, through the real CLI entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from rttgeo.cli import main
from rttgeo.errors import CatalogError, InputError, WorldError
from rttgeo.textformats import (
    MAX_DEPTH,
    decimal_float,
    decimal_int,
    loads_json,
    loads_toml,
)

LM = '{{"id": "a", "lat_deg": {lat}, "lon_deg": 2.0, "address": "192.0.2.1"}}'
HOST = '{{"name": "a", "lat_deg": {lat}, "lon_deg": 2.0}}'

#: (label, numeric literal or whole document, words expected in the message)
NUMBERS = [
    ("400-digit integer", "1" * 400, "400-digit integer is out of range"),
    ("5,000-digit integer", "7" * 5000, "5000-digit integer is out of range"),
    ("1e400", "1e400", "overflows a 64-bit float"),
    ("-1e400", "-1e400", "overflows a 64-bit float"),
    ("5,000-digit float overflowing", "9" * 5000 + ".5", "overflows"),
    ("NaN literal", "NaN", "not a JSON number"),
    ("Infinity literal", "-Infinity", "not a JSON number"),
]


@pytest.mark.parametrize(("label", "lit", "words"), NUMBERS, ids=[n[0] for n in NUMBERS])
def test_json_catalog_numbers(tmp_path, capsys, label, lit, words):
    p = tmp_path / "cat.json"
    p.write_text("[\n" + LM.format(lat=lit) + "\n]\n")
    with pytest.raises(CatalogError, match=words) as ei:
        main_free_load_catalog(p)
    assert ei.value.where == f"{p}:2"
    for argv in (["landmarks", "check", str(p)], ["landmarks", "list", "--landmarks", str(p)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert f"{p}:2" in err and words in err


@pytest.mark.parametrize(("label", "lit", "words"), NUMBERS, ids=[n[0] for n in NUMBERS])
def test_json_world_numbers(tmp_path, capsys, label, lit, words):
    p = tmp_path / "w.json"
    p.write_text('{"hosts": [\n' + HOST.format(lat=lit) + "\n]}\n")
    assert main(["lab", "up", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{p}:2" in err and words in err


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        ('[[hosts]]\nname = "a"\nlat_deg = ' + "1" * 400 + "\nlon_deg = 2\n", "out of range"),
        ('[[hosts]]\nname = "a"\nlat_deg = ' + "1" * 5000 + "\nlon_deg = 2\n", "not valid TOML"),
        ('[[hosts]]\nname = "a"\nlat_deg = 1e400\nlon_deg = 2\n', "overflows a 64-bit float"),
        ('[[hosts]]\nname = "a"\nlat_deg = inf\nlon_deg = 2\n', "w.toml:3: inf is not a finite"),
        ('[[hosts]]\nname = "a"\nlat_deg = nan\nlon_deg = 2\n', "not a finite number"),
        ("x = " + "[" * 100_000 + "]" * 100_000 + "\n", "nested deeper"),
        ("x = " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n", "nested deeper"),
        ("name = \n", "not valid TOML"),
    ],
)
def test_toml_world_files(tmp_path, capsys, doc, words):
    p = tmp_path / "w.toml"
    p.write_text(doc)
    with pytest.raises(WorldError, match=words.replace("[", r"\[").replace("]", r"\]")):
        main_free_load_world(p)
    assert main(["lab", "up", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and str(p) in err


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_deep_nesting_and_binary(tmp_path, capsys, suffix):
    deep = tmp_path / f"deep{suffix}"
    body = "[" * 100_000 + "]" * 100_000
    deep.write_text(body if suffix == ".json" else f"x = {body}\n")
    bad_utf8 = tmp_path / f"bin{suffix}"
    bad_utf8.write_bytes(b'{"hosts": "\xff\xfe"}')
    for p, words in ((deep, "nested deeper"), (bad_utf8, "not UTF-8")):
        assert main(["lab", "up", str(p)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err and str(p) in err, err
    if suffix == ".json":
        assert main(["landmarks", "check", str(deep)]) == 2
        assert "nested deeper" in capsys.readouterr().err


def test_csv_catalog_field_over_128_kib_and_underscored_numbers(tmp_path, capsys):
    p = tmp_path / "cat.csv"
    p.write_text("id,lat_deg,lon_deg,address\na,1,2,192.0.2.1\nb,1,2," + "x" * 200_000 + "\n")
    assert main(["landmarks", "check", str(p)]) == 2
    err = capsys.readouterr().err
    assert f"{p}:3" in err and "longer than 131072" in err and "Traceback" not in err
    p.write_text("id,lat_deg,lon_deg,address,port,protocols\na,4_5,2,192.0.2.1,,\n")
    assert main(["landmarks", "check", str(p)]) == 2
    assert "field 'lat_deg'" in capsys.readouterr().err
    p.write_text("id,lat_deg,lon_deg,address,port,protocols\na,45,2,192.0.2.1,4_242,udp\n")
    assert main(["landmarks", "check", str(p)]) == 2
    assert "field 'port'" in capsys.readouterr().err


def test_accepted_forms():
    assert loads_json('\ufeff{"a": [1, 2.5, -3e2, 123456789012345678901234567890]}', where="x") == {
        "a": [1, 2.5, -300.0, 123456789012345678901234567890]
    }
    assert loads_toml(b'\xef\xbb\xbfa = 1\nb = [[1], [2]]\n', where="x") == {"a": 1, "b": [[1], [2]]}
    assert decimal_float(" +1.5e1 ") == 15.0 and decimal_float(".5") == 0.5
    assert decimal_int("-42") == -42
    for bad in ("5_0", "inf", "nan", "0x1", "1e", "", "١", "1e400"):
        with pytest.raises(ValueError):
            decimal_float(bad)
    for bad in ("1.0", "1_000", "1e3", "9" * 40):
        with pytest.raises(ValueError):
            decimal_int(bad)
    with pytest.raises(InputError, match=r"x:3: not JSON"):
        loads_json('{\n"a": 1,\n}', where="x")


def main_free_load_catalog(p: Path):  # type: ignore[no-untyped-def]
    from rttgeo.catalog import load_catalog

    return load_catalog(p)


def main_free_load_world(p: Path):  # type: ignore[no-untyped-def]
    from rttgeo.lab import load_world

    return load_world(p)


def test_a_json_key_given_twice_is_refused() -> None:
    """Python keeps the last of two, silently: a receipt with two host keys, a catalog entry with
    two positions. One line naming the file and the key."""
    from rttgeo.errors import InputError
    from rttgeo.textformats import loads_json

    assert loads_json('{"a": 1, "b": {"a": 2}}', where="f.json") == {"a": 1, "b": {"a": 2}}
    with pytest.raises(InputError, match=r'^f.json: key "host_key" given twice in one object$'):
        loads_json('{"host_key": "ab",\n "receipts": [],\n "host_key": "cd"}', where="f.json")


@pytest.mark.parametrize("which", ["catalog", "samples", "longform"])
def test_a_nul_byte_in_a_csv_is_one_line_naming_it(tmp_path, capsys, which) -> None:
    """The samples, catalog and long-form readers took a NUL byte as any other character (a
    catalog id with a NUL was 'valid', and matched samples with the same NUL)."""
    from rttgeo.cli import main

    cat = tmp_path / "c.csv"
    cat.write_text("id,lat_deg,lon_deg,address\nfra,50.11,8.68,\npar,48.86,2.35,\nams,52.37,4.90,\n")
    samples = tmp_path / "s.csv"
    samples.write_text("landmark,rtt_ms\nfra,3.0\npar,9\nams,8\n")
    bad = {"catalog": cat, "samples": samples, "longform": tmp_path / "l.csv"}[which]
    if which == "longform":
        bad.write_text("target,landmark,rtt_ms\n10.0.0.1,fra,3.0\n")
    text = bad.read_text().splitlines()
    text[2 if which != "longform" else 1] = text[2 if which != "longform" else 1].replace("a", "a\x00", 1)
    bad.write_text("\n".join(text) + "\n")
    argv = {"catalog": ["landmarks", "check", str(cat)],
            "samples": ["estimate", str(samples), "--landmarks", str(cat)],
            "longform": ["import", str(bad), "--check"]}[which]
    assert main(argv) == 2
    line = 3 if which != "longform" else 2
    assert capsys.readouterr().err == (f"rttgeo: error: {bad}:{line}: a NUL byte: the file is "
                                       "corrupt (or not UTF-8 text)\n")
