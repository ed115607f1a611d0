"""``rttgeo landmarks list / show / check / refresh``: landmark catalogs (docs/catalog.md).

The network seam is :func:`fetch_landmarks` (tests replace it); nothing here touches the network
until ``refresh`` runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from rttgeo.cli._args import STDOUT, add_convention, output_path
from rttgeo.cli._output import narrate, write_text

_CATALOG_HELP = "catalog file (CSV or JSON); default: the bundled RIPE Atlas anchors (April 2023)"


def fetch_landmarks(date: str, family: int = 4) -> Any:
    """Current RIPE Atlas anchors with their IPv``family`` addresses (network); replaced in tests."""
    from rttgeo.atlas import fetch_anchor_landmarks

    return fetch_anchor_landmarks(date=date, family=family)


def register(sub: Any) -> None:
    """Add ``landmarks`` and its actions to the ``rttgeo`` subcommands."""
    p = sub.add_parser("landmarks", help="list, show, check or refresh landmark catalogs",
                       description="Landmark catalogs: the bundled RIPE Atlas anchors, your own "
                       "files, or a refreshed list (docs/catalog.md).")
    lsub = p.add_subparsers(dest="landmarks_cmd", metavar="ACTION")

    q = lsub.add_parser("list", help="list the landmarks of a catalog")
    q.add_argument("--landmarks", metavar="CATALOG", help=_CATALOG_HELP)
    q.add_argument("--country", metavar="CC", help="only landmarks of this ISO country code")
    add_convention(q, json_help="print the listed landmarks as a JSON catalog (loadable with "
                   "--landmarks)")
    q.set_defaults(handler=cmd_list)

    q = lsub.add_parser("show", help="show one landmark, or the catalog's summary without ID")
    q.add_argument("id", nargs="?", metavar="ID",
                   help="landmark id (e.g. atlas-6025); without it, a summary of the catalog")
    q.add_argument("--landmarks", metavar="CATALOG", help=_CATALOG_HELP)
    add_convention(q, json_help="print the landmark (or the summary) as JSON")
    q.set_defaults(handler=cmd_show)

    q = lsub.add_parser("check", help="validate a catalog file: every error, with line and field",
                        description="Read a catalog and report every problem (file:line, field, "
                        "what is wrong), not only the first. Exit code 0 when valid, 2 when not.")
    q.add_argument("catalog", metavar="CATALOG", help="catalog file to check (CSV or JSON)")
    add_convention(q, json_help="print {catalog, landmarks, errors: [{where, field, message}]} "
                   "as JSON")
    q.set_defaults(handler=cmd_check)

    q = lsub.add_parser("refresh", help="fetch the current RIPE Atlas anchors into a catalog")
    q.add_argument("--out", metavar="FILE", type=output_path(allow_stdout=True),
                   help="output catalog, CSV or JSON by suffix (default "
                   "atlas-anchors-<date>.csv, atlas-anchors6-<date>.csv with --family 6; - = "
                   "CSV on stdout)")
    q.add_argument("--family", type=int, choices=(4, 6), default=4,
                   help="address family of the catalog: 4 (the anchors' IPv4 addresses; default) or 6 "
                   "(their IPv6 addresses, for --protocol icmp6; anchors without IPv6 left out); "
                   "same atlas-<probe> ids")
    add_convention(q, json_help="print {catalog, landmarks, fetched, family} as JSON")
    q.set_defaults(handler=cmd_refresh)
    p.set_defaults(handler=lambda a: (p.print_help(sys.stderr), 2)[1])


def _load(path: str | None) -> tuple[Path, list[Any]]:
    from rttgeo.catalog import resolve_catalog

    return resolve_catalog(path)


def _dumps(doc: Any) -> str:
    from rttgeo.api._results import dumps

    return dumps(doc)


def cmd_list(args: argparse.Namespace) -> int:
    path, landmarks = _load(args.landmarks)
    if args.country:
        landmarks = [lm for lm in landmarks if lm.country.upper() == args.country.upper()]
    if args.json:
        from rttgeo.catalog import landmark_record

        print(_dumps([landmark_record(lm) for lm in landmarks]))
        return 0
    narrate(args, f"# {len(landmarks)} landmarks from {path}")
    for lm in landmarks:
        print(
            f"{lm.id:<16} {lm.lat_deg:9.4f} {lm.lon_deg:10.4f}  {lm.country:<3} "
            f"{lm.address}{'' if lm.port is None else ':' + str(lm.port)}  "
            f"{','.join(lm.protocols)}"
        )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from rttgeo.catalog import file_sha256, landmark_record

    path, landmarks = _load(args.landmarks)
    if args.id is None:
        countries = Counter(lm.country for lm in landmarks)
        protos = Counter(p for lm in landmarks for p in lm.protocols)
        sources = Counter(lm.source for lm in landmarks)
        summary = {
            "catalog": str(path),
            "sha256": file_sha256(path),
            "landmarks": len(landmarks),
            "countries": dict(countries.most_common()),
            "protocols": dict(protos.most_common()),
            "sources": dict(sources.most_common()),
        }
        if args.json:
            print(_dumps(summary))
            return 0
        print(f"catalog    {path}")
        print(f"sha256     {summary['sha256']}")
        print(
            f"landmarks  {len(landmarks)} in {len(countries)} countries "
            f"(most: {', '.join(f'{c} {n}' for c, n in countries.most_common(5))})"
        )
        print(f"protocols  {', '.join(f'{p} {n}' for p, n in protos.most_common())}")
        for s, n in sources.most_common(3):
            print(f"source     {s or '(none)'} ({n})")
        return 0
    for lm in landmarks:
        if lm.id == args.id:
            rec = landmark_record(lm)
            if args.json:
                print(_dumps(rec))
                return 0
            for k, v in rec.items():
                text = ",".join(v) if isinstance(v, list) else ("-" if v in (None, "") else v)
                print(f"{k:<10} {text}")
            return 0
    from rttgeo.errors import CatalogError

    raise CatalogError(f"no landmark with id {args.id!r}", where=str(path), field="id")


def cmd_check(args: argparse.Namespace) -> int:
    from rttgeo.catalog import check_catalog
    from rttgeo.cli.exitcodes import ExitCode

    landmarks, errors = check_catalog(args.catalog)
    if args.json:
        print(_dumps({
            "catalog": args.catalog,
            "landmarks": len(landmarks),
            "errors": [{"where": e.where, "field": e.field, "message": str(e)} for e in errors],
        }))
    for e in errors:
        print(f"rttgeo: error: {e}", file=sys.stderr)
    if errors:
        if len(errors) > 1:
            narrate(args, f"{args.catalog}: {len(errors)} errors; {len(landmarks)} valid landmarks")
        return int(ExitCode.USAGE)
    if not args.json:
        print(f"{args.catalog}: {len(landmarks)} landmarks, valid")
    return 0


def cmd_refresh(args: argparse.Namespace) -> int:
    from rttgeo.catalog import catalog_text, parse_catalog_rows

    if args.json and args.out == STDOUT:
        from rttgeo.errors import InputError

        raise InputError("--json and --out - would both write to stdout: pick one", field="--out")
    date = dt.datetime.now(dt.UTC).date().isoformat()
    landmarks = fetch_landmarks(date, family=args.family)
    out = args.out or (f"atlas-anchors-{date}.csv" if args.family == 4
                       else f"atlas-anchors6-{date}.csv")
    text = catalog_text(landmarks, json_format=out.lower().endswith(".json"))
    # what is written must load: validate the records before writing anything
    from rttgeo.catalog import landmark_record

    parse_catalog_rows(((i, landmark_record(lm)) for i, lm in enumerate(landmarks, 1)),
                       name="fetched anchors")
    write_text(args, out, text)
    if args.json:
        print(_dumps({"catalog": out, "landmarks": len(landmarks), "fetched": date,
                      "family": args.family}))
    elif out != STDOUT:
        narrate(args, f"{len(landmarks)} RIPE Atlas anchors, IPv{args.family} (fetched {date}) "
                f"in {out}; "
                f"use it with --landmarks {out}")
    return 0
