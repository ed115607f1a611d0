"""``rttgeo import``: other tools' measurements into a campaign store (docs/import.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rttgeo.cli._args import add_convention, output_path
from rttgeo.cli._output import narrate, write_json_lines


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "import",
        help="import ping / scamper / RIPE Atlas / long-form CSV or Parquet samples into a store",
        description="Read RTT measurements made by other tools into a campaign store, one campaign "
        "per file: iputils 'ping -D' text, scamper JSON (sc_warts2json), RIPE Atlas result JSON "
        "(array or JSON lines), long-form CSV or Parquet (target, landmark, rtt_ms[, sent_unix_ns, "
        "protocol]). A malformed line stops the import (file:line) before anything is written; "
        "skipped lines are counted and printed.",
    )
    p.add_argument("files", nargs="+", type=Path, help="files to import")
    p.add_argument("--store", type=output_path(), metavar="STORE.db",
                   help="campaign store to write (SQLite; created if new)")
    p.add_argument("--check", action="store_true", help="check and count only; write nothing")
    p.add_argument("--format", default="auto",
                   choices=("auto", "ping", "scamper", "atlas", "csv", "parquet"),
                   help="input format (default: sniffed from each file's first bytes)")
    p.add_argument("--source", default="self", metavar="NAME",
                   help="ping / scamper: the target host that ran the tool (default 'self'); "
                   "destinations are landmarks")
    p.add_argument("--vantage", metavar="LANDMARK_ID",
                   help="ping / scamper: the tool ran on this landmark; destinations are targets")
    p.add_argument("--landmarks", metavar="CATALOG",
                   help="catalog mapping destination addresses to landmark ids (default: bundled)")
    p.add_argument("--skip-malformed", action="store_true",
                   help="count malformed lines and go on instead of stopping at the first")
    add_convention(p, json_help="print one JSON line per file (counts, campaign id, skipped "
                   "examples)")
    p.set_defaults(handler=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    from rttgeo.api.importing import import_files
    from rttgeo.errors import InputError

    if not args.check and args.store is None:
        raise InputError("give --store STORE.db (or --check to write nothing)", field="--store")
    if args.check and args.store is not None:
        raise InputError("--check writes nothing: drop --store", field="--check")
    res = import_files(args.files, None if args.check else args.store, fmt=args.format,
                       source=args.source, vantage=args.vantage, catalog=args.landmarks,
                       skip_malformed=args.skip_malformed)
    if args.json:
        write_json_lines({"store": res.store, **f.to_json()} for f in res.files)
    else:
        for f in res.files:
            where = f"campaign {f.campaign_id}" if f.campaign_id is not None else "checked"
            print(f"{f.path} ({f.format}): {f.n_samples} samples ({f.n_lost} lost), "
                  f"{f.n_targets} target(s), {f.n_landmarks} landmark(s); {f.n_skipped} line(s) "
                  f"skipped, {f.n_malformed} malformed; {where}")
            for w, why in f.examples:
                print(f"  skipped {w}: {why}")
            if f.unknown_landmarks:
                more = " ..." if len(f.unknown_landmarks) > 5 else ""
                print(f"  note: {len(f.unknown_landmarks)} landmark id(s) not in the catalog: "
                      + ", ".join(f.unknown_landmarks[:5]) + more)
    if res.store:
        narrate(args, f"wrote {res.n_samples} samples to {res.store}")
    return 0
