#!/usr/bin/env python3
"""Regenerate the bad-input corpus of rttgeo's command line (issue #13): tests/data/bad_inputs/.

Every file is an input a careless user or an adversary could hand to rttgeo: malformed landmark
catalogs, samples files, campaign stores, lab world files, GeoJSON claims, keys and receipts, one
class of fault each (huge and non-finite numbers, deep nesting, duplicated or missing columns,
short and long rows, fields over 128 KiB, non-UTF-8 bytes, foreign or corrupt SQLite files, ...).
``cases.json`` pairs each file with every command that reads that kind of file and says what the
command must do: the exit code (cli/exitcodes.py: 2 for bad input) and what its one line on
stderr must name (the file, and the line and field where the reader knows them), or, for the
accepted oddities (a UTF-8 byte-order mark), exit 0. tests/cli/test_bad_input_corpus.py runs every
case through the real entry point ``rttgeo.cli.main`` and checks that the corpus on disk is what
this script makes.

Placeholders in the argv: ``{corpus}`` this directory, ``{good_catalog}`` / ``{good_samples}`` valid
inputs in it, ``{tmp}`` a fresh directory per case, ``{key}`` a valid private key the test makes
with ``rttgeo keygen`` (no key is kept in the repository).

    python scripts/build_bad_inputs.py [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "bad_inputs"
BIG = 131_073  # one character over the csv module's field limit (128 KiB)
NEST = 5_000  # brackets: far past Python's recursion limit (1,000) and rttgeo's nesting limit (64)

CAT_HEADER = "id,lat_deg,lon_deg,address,port,protocols\n"
CAT_OK = "par,48.8566,2.3522,192.0.2.1,8848,icmp;udp\nber,52.52,13.405,192.0.2.2,,icmp\n"
SAMPLES_HEADER = "target,landmark,protocol,sent_unix_ns,rtt_ms\n"
SAMPLES_OK = "me,par,icmp,1,3.5\nme,ber,icmp,2,9.0\nme,mad,icmp,3,12.0\n"


def _json_lm(lat: str) -> str:
    return '[\n{"id": "par", "lat_deg": ' + lat + ', "lon_deg": 2.35, "address": "192.0.2.1"}\n]\n'


# (file name, content, line the reader must name or None, field or None)
CATALOGS: list[tuple[str, str | bytes, int | None, str | None]] = [
    ("missing_column.csv", "id,lat_deg,address\npar,48.8,192.0.2.1\n", 1, "lon_deg"),
    ("lat_out_of_range.csv", CAT_HEADER + CAT_OK + "x,95,2,192.0.2.9,,\n", 4, "lat_deg"),
    ("lat_nan.csv", CAT_HEADER + CAT_OK + "x,nan,2,192.0.2.9,,\n", 4, "lat_deg"),
    ("lat_inf.csv", CAT_HEADER + CAT_OK + "x,inf,2,192.0.2.9,,\n", 4, "lat_deg"),
    ("lat_underscore.csv", CAT_HEADER + CAT_OK + "x,4_5,2,192.0.2.9,,\n", 4, "lat_deg"),
    ("lat_hex.csv", CAT_HEADER + CAT_OK + "x,0x10,2,192.0.2.9,,\n", 4, "lat_deg"),
    ("lat_1e400.csv", CAT_HEADER + CAT_OK + "x,1e400,2,192.0.2.9,,\n", 4, "lat_deg"),
    ("lat_400_digits.csv", CAT_HEADER + CAT_OK + "x," + "1" * 400 + ",2,192.0.2.9,,\n", 4,
     "lat_deg"),
    ("duplicate_id.csv", CAT_HEADER + CAT_OK + "par,1,2,192.0.2.9,,\n", 4, "id"),
    ("empty_id.csv", CAT_HEADER + CAT_OK + ",1,2,192.0.2.9,,\n", 4, "id"),
    ("short_row.csv", CAT_HEADER + CAT_OK + "x,1,2\n", 4, "address"),
    ("long_row.csv", CAT_HEADER + CAT_OK + "x,1,2,192.0.2.9,,,extra\n", 4, None),
    ("port_out_of_range.csv", CAT_HEADER + CAT_OK + "x,1,2,192.0.2.9,70000,udp\n", 4, "port"),
    ("port_underscore.csv", CAT_HEADER + CAT_OK + "x,1,2,192.0.2.9,8_848,udp\n", 4, "port"),
    ("bad_protocol.csv", CAT_HEADER + CAT_OK + "x,1,2,192.0.2.9,,smtp\n", 4, "protocols"),
    ("udp_without_port.csv", CAT_HEADER + CAT_OK + "x,1,2,192.0.2.9,,udp\n", 4, "port"),
    ("address_with_space.csv", CAT_HEADER + CAT_OK + "x,1,2,192.0.2.9 x,,\n", 4, "address"),
    ("field_over_128k.csv", CAT_HEADER + CAT_OK + "x,1,2," + "a" * BIG + ",,\n", 4, None),
    ("empty.csv", "", 1, None),
    ("header_only.csv", CAT_HEADER, None, None),
    ("not_utf8.csv", CAT_HEADER.encode() + b"p\xe9r,1,2,192.0.2.9,,\n", None, None),
    ("duplicate_column.csv", "id,lat_deg,lon_deg,address,id\npar,1,2,192.0.2.1,x\n", 1, None),
    ("json_400_digits.json", _json_lm("1" * 400), 2, None),
    ("json_5000_digits.json", _json_lm("7" * 5000), 2, None),
    ("json_1e400.json", _json_lm("1e400"), 2, None),
    ("json_nan.json", _json_lm("NaN"), 2, None),
    ("json_infinity.json", _json_lm("-Infinity"), 2, None),
    ("json_lat_string.json", _json_lm('"north"'), None, "lat_deg"),
    ("json_nested.json", "[" * NEST + "]" * NEST, None, None),
    ("json_not_a_list.json", '{"landmarks": 5}\n', None, None),
    ("json_entry_not_object.json", "[1, 2]\n", 1, None),
    ("json_syntax.json", '[\n{"id": "par",}\n]\n', 2, None),
]

SAMPLES: list[tuple[str, str | bytes, int | None, str | None]] = [
    # The cases of issue #13, item 2.
    ("duplicate_column.csv", "landmark,rtt_ms,rtt_ms\npar,3,4\n", 1, "rtt_ms"),
    ("short_row.csv", SAMPLES_HEADER + SAMPLES_OK + "me,par,icmp,4\n", 5, "rtt_ms"),
    ("underscore.csv", SAMPLES_HEADER + "me,par,icmp,1,5_0\n", 2, "rtt_ms"),
    ("extra_field.csv", SAMPLES_HEADER + SAMPLES_OK + "me,par,icmp,4,3.0,x\n", 5, None),
    ("rtt_1e300.csv", SAMPLES_HEADER + "me,par,icmp,1,1e300\n", 2, "rtt_ms"),
    ("field_over_128k.csv", SAMPLES_HEADER + "me,par,icmp,1," + "9" * BIG + "\n", 2, None),
    # The same classes, other cases.
    ("rtt_zero.csv", SAMPLES_HEADER + "me,par,icmp,1,0\n", 2, "rtt_ms"),
    ("rtt_negative.csv", SAMPLES_HEADER + "me,par,icmp,1,-2.5\n", 2, "rtt_ms"),
    ("rtt_nan.csv", SAMPLES_HEADER + "me,par,icmp,1,nan\n", 2, "rtt_ms"),
    ("rtt_inf.csv", SAMPLES_HEADER + "me,par,icmp,1,inf\n", 2, "rtt_ms"),
    ("rtt_1e400.csv", SAMPLES_HEADER + "me,par,icmp,1,1e400\n", 2, "rtt_ms"),
    ("rtt_hex.csv", SAMPLES_HEADER + "me,par,icmp,1,0x1p3\n", 2, "rtt_ms"),
    ("rtt_text.csv", SAMPLES_HEADER + "me,par,icmp,1,fast\n", 2, "rtt_ms"),
    ("rtt_unicode_digit.csv", SAMPLES_HEADER + "me,par,icmp,1,\u0663\n", 2, "rtt_ms"),
    ("sent_not_integer.csv", SAMPLES_HEADER + "me,par,icmp,1.5,3\n", 2, "sent_unix_ns"),
    ("empty_landmark.csv", SAMPLES_HEADER + "me,,icmp,1,3\n", 2, "landmark"),
    ("missing_rtt_column.csv", "landmark,rtt\npar,3\n", 1, None),
    ("unnamed_column.csv", "landmark,,rtt_ms\npar,x,3\n", 1, None),
    ("empty.csv", "", 1, None),
    ("header_only.csv", SAMPLES_HEADER, None, None),
    ("not_utf8.csv", SAMPLES_HEADER.encode() + b"me,p\xffr,icmp,1,3\n", 2, None),
    ("two_targets.csv", SAMPLES_HEADER + SAMPLES_OK + "you,par,icmp,4,5\n", None, "target"),
    ("unknown_landmark.csv", SAMPLES_HEADER + "me,atlantis,icmp,1,5\n", None, "landmark"),
    ("all_lost.csv", SAMPLES_HEADER + "me,par,icmp,1,\nme,ber,icmp,2,\n", None, None),
]

WORLD_HOSTS = '"hosts": [{"name": "a", "lat_deg": 1, "lon_deg": 2}, {"name": "b", "lat_deg": 3, ' \
    '"lon_deg": 4, "role": "target"}]'


def _world(lat: str) -> str:
    return '{\n"hosts": [\n{"name": "a", "lat_deg": ' + lat + ', "lon_deg": 2}\n]}\n'


def _toml(lat: str) -> str:
    return f'[[hosts]]\nname = "a"\nlat_deg = {lat}\nlon_deg = 2\n'


WORLDS: list[tuple[str, str | bytes, int | None, str | None]] = [
    ("json_400_digits.json", _world("1" * 400), 3, None),
    ("json_5000_digits.json", _world("7" * 5000), 3, None),
    ("json_1e400.json", _world("1e400"), 3, None),
    ("json_nan.json", _world("NaN"), 3, None),
    ("json_nested.json", "[" * NEST + "]" * NEST, None, None),
    ("json_not_object.json", "[1, 2]\n", None, None),
    ("json_lat_out_of_range.json", _world("91"), None, "hosts[0].lat_deg"),
    ("json_unknown_field.json", '{"colour": "red", ' + WORLD_HOSTS + "}\n", None, "colour"),
    ("json_no_hosts.json", '{"hosts": []}\n', None, "hosts"),
    ("json_duplicate_host.json", '{"hosts": [{"name": "a", "lat_deg": 1, "lon_deg": 2}, '
     '{"name": "a", "lat_deg": 3, "lon_deg": 4}]}\n', None, "hosts[1].name"),
    ("json_matrix_wrong_size.json", '{"delay": {"model": "matrix", "rtt_ms": [[0]]}, '
     + WORLD_HOSTS + "}\n", None, "delay.rtt_ms"),
    ("json_faster_than_light.json", '{"delay": {"model": "matrix", "rtt_ms": [[0, 0.001], '
     "[0.001, 0]]}, " + WORLD_HOSTS + "}\n", None, "delay.rtt_ms[0][1]"),
    ("json_too_many_hosts.json", '{"network": {"prefix_len": 15}, "hosts": ['
     + ",".join(f'{{"name":"h{i}","lat_deg":0,"lon_deg":0}}' for i in range(2049)) + "]}\n",
     None, "hosts"),
    ("json_not_utf8.json", b'{"name": "\xff"}', None, None),
    ("toml_syntax.toml", "name = \n", None, None),
    ("toml_inf.toml", _toml("inf"), 3, None),
    ("toml_nan.toml", _toml("nan"), 3, None),
    ("toml_1e400.toml", _toml("1e400"), 3, None),
    ("toml_400_digits.toml", _toml("1" * 400), None, "hosts[0].lat_deg"),
    ("toml_5000_digits.toml", _toml("7" * 5000), None, None),
    ("toml_nested.toml", "x = " + "[" * NEST + "]" * NEST + "\n", None, None),
]

POLYGONS: list[tuple[str, str | bytes, int | None, str | None]] = [
    ("syntax.geojson", '{"type": "Polygon",\n"coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]],}',
     3, None),
    ("coordinate_1e400.geojson", '{"type": "Polygon",\n"coordinates": [[[1e400, 0], [1, 0], '
     "[1, 1], [0, 0]]]}", 2, None),
    ("coordinate_nan.geojson", '{"type": "Polygon",\n"coordinates": [[[NaN, 0], [1, 0], [1, 1], '
     "[0, 0]]]}", 2, None),
    ("nested.geojson", "[" * NEST + "]" * NEST, None, None),
    ("not_a_polygon.geojson", '{"type": "Point", "coordinates": [0, 0]}', None, None),
    ("not_utf8.geojson", b'{"type": "\xff"}', None, None),
]

# Each kind of file and the commands that read it ({f}: the file).
COMMANDS: dict[str, list[list[str]]] = {
    "catalogs": [
        ["landmarks", "check", "{f}"],
        ["landmarks", "list", "--landmarks", "{f}"],
        ["landmarks", "show", "--landmarks", "{f}"],
        ["estimate", "{good_samples}", "--landmarks", "{f}"],
        ["locate", "--landmarks", "{f}"],
        ["measure", "--landmarks", "{f}", "--store", "{tmp}/m.db"],
        ["verify", "--rtts", "{good_samples}", "--landmarks", "{f}", "--claim", "48.85,2.35",
         "--radius-km", "500"],
        ["import", "{f}", "--check"],  # not samples at all: the format is not recognised
    ],
    "samples": [
        ["estimate", "{f}", "--landmarks", "{good_catalog}"],
        ["verify", "--rtts", "{f}", "--landmarks", "{good_catalog}", "--claim", "48.85,2.35",
         "--radius-km", "500"],
        ["import", "{f}", "--format", "csv", "--check"],
    ],
    "stores": [
        ["estimate", "{f}", "--landmarks", "{good_catalog}"],
        ["verify", "--rtts", "{f}", "--landmarks", "{good_catalog}", "--claim", "48.85,2.35",
         "--radius-km", "500"],
        ["measure", "--landmarks", "{good_catalog}", "--store", "{f}"],
        ["locate", "--landmarks", "{good_catalog}", "--store", "{f}"],
        ["atlas", "mesh", "--store", "{f}", "--out", "{tmp}/mesh.parquet"],
    ],
    "worlds": [["lab", "up", "{f}"]],
    "polygons": [
        ["verify", "--rtts", "{good_samples}", "--landmarks", "{good_catalog}", "--polygon",
         "{f}"],
    ],
}
#: Commands whose handler reads the file before anything else, so the line and field the reader
#: names must appear; for the others the file name must.
STRICT = {"landmarks check", "landmarks list", "estimate", "lab up"}
#: Store faults: (file, SQL run on a valid store, or None for a file made another way, words of
#: the readers' message, words of the writers' message). Applies to the commands of
#: ``COMMANDS["stores"]``; the writers (measure/locate --store) check the file's kind only, so
#: corrupt values in a real store are not theirs to refuse. A text file is read as a samples CSV.
STORES: list[tuple[str, str | None, str, str]] = [
    ("foreign.db", None, "not a campaign store", "not a campaign store"),
    ("not_sqlite.db", None, "missing column 'landmark'", "not a usable campaign store"),
    ("empty_database.db", None, "empty SQLite database", "empty SQLite database"),
    ("truncated.db", None, "malformed", "malformed"),
    ("rtt_text.db", "UPDATE sample SET rtt_ms = 'abc' WHERE id = 1", "'rtt_ms' holds str", ""),
    ("landmark_blob.db", "UPDATE sample SET landmark = x'00ff' WHERE id = 1", "holds bytes", ""),
    ("params_not_json.db", "UPDATE campaign SET params = '{not json'", "'params'", ""),
    ("rtt_infinite.db", "UPDATE sample SET rtt_ms = 9e999 WHERE id = 2", "'rtt_ms' holds float",
     ""),
    ("missing_column.db", "ALTER TABLE sample DROP COLUMN timing", "lacks timing", "lacks timing"),
]
#: Exit codes other than 2 for a (file, command): verify decides "undecided" (11) when every
#: probe was lost, which is its answer, not an input error.
EXIT_OVERRIDES = {
    ("samples/all_lost.csv", "verify"): 11,
    # import keeps every target, unknown landmarks (noted) and lost probes: samples, not errors
    ("samples/two_targets.csv", "import"): 0,
    ("samples/unknown_landmark.csv", "import"): 0,
    ("samples/all_lost.csv", "import"): 0,
}
SERVE = ["serve", "--lat", "1", "--lon", "2", "--port", "0", "--bind", "127.0.0.1", "--id", "x"]
#: Bad arguments that are not files of the kinds above: (argv, exit code, words of the message).
ARGUMENTS: list[tuple[list[str], int, list[str]]] = [
    (["eval", "{corpus}/catalogs"], 2, ["{corpus}/catalogs", "'dataset'"]),
    (["eval", "no-such-dataset"], 2, ["no-such-dataset"]),
    (["demo", "--target", "Atlantis"], 2, ["Atlantis"]),
    (["keygen", "{good_catalog}"], 2, ["{good_catalog}", "exists"]),
    (["landmarks", "show", "no-such-id", "--landmarks", "{good_catalog}"], 2, ["no-such-id"]),
    (["landmarks", "check", "{corpus}/no-such.csv"], 2, ["no-such.csv", "no such file"]),
    (["landmarks", "check", "{corpus}/catalogs"], 2, ["{corpus}/catalogs"]),
    (["estimate", "{corpus}/catalogs", "--landmarks", "{good_catalog}"], 2,
     ["{corpus}/catalogs", "is a directory"]),
    (["estimate", "{corpus}/no-such.csv", "--landmarks", "{good_catalog}"], 2, ["no such file"]),
    (["estimate", "{good_samples}", "--landmarks", "{good_catalog}", "--target", "nobody"], 2,
     ["nobody"]),
    (["lab", "up", "{corpus}/no-such.toml"], 2, ["no-such.toml"]),
    (["lab", "up", "{corpus}/worlds"], 2, ["{corpus}/worlds"]),
    (["lab", "down", "../etc"], 2, ["not a lab id"]),
    (["lab", "status", "ZZZZ"], 2, ["not a lab id"]),
    (["lab", "exec", "--lab", "x/y", "a", "--", "true"], 2, ["not a lab id"]),
    ([*SERVE, "--key", "{tmp}"], 2, ["{tmp}"]),
    ([*SERVE, "--key", "{corpus}/no-such.key"], 2, ["no-such.key"]),
    ([*SERVE, "--key", "{good_catalog}"], 2, ["{good_catalog}"]),
    (["sign-catalog", "{corpus}/catalogs/json_nested.json", "--key", "{key}", "--out",
      "{tmp}/s.json"], 2, ["json_nested.json", "nested deeper"]),
    (["sign-catalog", "{corpus}/catalogs/lat_nan.csv", "--key", "{key}", "--out",
      "{tmp}/s.json"], 2, ["lat_nan.csv"]),
    (["prove", "--key", "{key}", "--catalog", "{corpus}/catalogs/json_1e400.json", "--out",
      "{tmp}/r.json"], 2, ["json_1e400.json", "overflows"]),
    (["prove", "--key", "{key}", "--catalog", "{corpus}/polygons/nested.geojson", "--out",
      "{tmp}/r.json"], 2, ["nested.geojson", "nested deeper"]),
    (["verify", "--check", "{corpus}/polygons/nested.geojson", "--catalog",
      "{corpus}/catalogs/json_1e400.json", "--catalog-key", "{key}.pub", "--claim", "1,2",
      "--radius-km", "5"], 2, ["json_1e400.json"]),
]
#: Acceptances: (kind, file, content, argv) that must exit 0.
ACCEPTED: list[tuple[str, str, str | bytes, list[str]]] = [
    ("samples", "bom.csv", "\ufeff" + SAMPLES_HEADER + SAMPLES_OK,
     ["estimate", "{f}", "--landmarks", "{good_catalog}", "--method", "shortest-ping"]),
    ("catalogs", "bom.csv", "\ufeff" + CAT_HEADER + CAT_OK, ["landmarks", "check", "{f}"]),
    ("catalogs", "bom.json", "\ufeff" + _json_lm("48.85"), ["landmarks", "check", "{f}"]),
]


def _write(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")


def _stores(out: Path) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from rttgeo.models import Sample
    from rttgeo.store import CampaignStore

    d = out / "stores"
    d.mkdir(parents=True, exist_ok=True)
    for name, sql, _reader, _writer in STORES:
        p = d / name
        for stale in (p, p.with_name(p.name + "-wal"), p.with_name(p.name + "-shm")):
            stale.unlink(missing_ok=True)
        if name == "foreign.db":
            db = sqlite3.connect(p)
            db.execute("CREATE TABLE people (name TEXT, age INTEGER)")
            db.execute("INSERT INTO people VALUES ('ada', 36)")
            db.commit()
            db.close()
            continue
        if name == "not_sqlite.db":
            _write(p, "this is a text file, not a campaign store\n")
            continue
        if name == "empty_database.db":
            db = sqlite3.connect(p)
            db.execute("VACUUM")
            db.close()
            continue
        with CampaignStore(p) as s:
            c = s.begin_campaign(target="me", params={"k": 1}, host="corpus")
            for i, (lm, rtt) in enumerate([("par", 3.0), ("ber", 9.0), ("mad", 12.0)]):
                s.add_sample(c, Sample("me", lm, "icmp", 1_700_000_000_000_000_000 + i, rtt))
            s.end_campaign(c, "complete")
        db = sqlite3.connect(p)
        db.execute("PRAGMA journal_mode = DELETE")  # one file, no -wal beside it
        if sql:
            db.execute(sql)
            db.commit()
        db.execute("VACUUM")
        db.close()
        if name == "truncated.db":
            p.write_bytes(p.read_bytes()[:1500])


def build(out: Path = OUT) -> list[dict[str, object]]:
    """Write the corpus under ``out``; returns the cases (also written to ``cases.json``)."""
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "good_catalog.csv",
           CAT_HEADER + CAT_OK + "mad,40.4168,-3.7038,192.0.2.3,,icmp\n")
    _write(out / "good_samples.csv", SAMPLES_HEADER + SAMPLES_OK)
    cases: list[dict[str, object]] = []
    for kind, table in (("catalogs", CATALOGS), ("samples", SAMPLES), ("worlds", WORLDS),
                        ("polygons", POLYGONS)):
        for name, content, line, fld in table:
            _write(out / kind / name, content)
            f = "{corpus}/" + f"{kind}/{name}"
            for argv in COMMANDS[kind]:
                cmd = " ".join(a for a in argv[:2] if not a.startswith(("{", "-")))
                strict = cmd in STRICT
                expect = [f + (f":{line}" if strict and line else "")]
                if strict and fld:
                    expect.append(f"'{fld}'")
                code = EXIT_OVERRIDES.get((f"{kind}/{name}", cmd), 2)
                cases.append({"id": f"{kind}/{name} {cmd}", "argv": [a.replace("{f}", f)
                              for a in argv], "exit": code, "stderr": expect if code == 2 else []})
    _stores(out)
    for name, _sql, reader, writer in STORES:
        f = "{corpus}/stores/" + name
        for argv in COMMANDS["stores"]:
            cmd = " ".join(a for a in argv[:2] if not a.startswith(("{", "-")))
            words = writer if cmd in ("measure", "locate", "atlas mesh") else reader
            if not words:
                continue
            expect = [f, words]
            cases.append({"id": f"stores/{name} {cmd}", "argv": [a.replace("{f}", f)
                          for a in argv], "exit": 2, "stderr": expect})
    for argv, code, words in ARGUMENTS:
        cmd = " ".join(a for a in argv[:2] if not a.startswith(("{", "-")))
        cases.append({"id": f"argument {cmd}: {' '.join(argv[2:])[:60]}", "argv": argv,
                      "exit": code, "stderr": words})
    for kind, name, content, argv in ACCEPTED:
        _write(out / kind / name, content)
        f = "{corpus}/" + f"{kind}/{name}"
        cases.append({"id": f"{kind}/{name} accepted", "argv": [a.replace("{f}", f)
                      for a in argv], "exit": 0, "stderr": []})
    (out / "cases.json").write_text(json.dumps(cases, indent=1) + "\n", encoding="utf-8")
    return cases


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT, help=f"output directory (default {OUT})")
    args = ap.parse_args()
    cases = build(args.out)
    print(f"wrote {len(cases)} cases to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
