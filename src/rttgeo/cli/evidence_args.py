"""The evidence options of ``rttgeo verify``: ``--check BUNDLE`` or ``--receipts FILE`` checked
against ``--catalog SIGNED`` signed by a ``--catalog-key`` the verifier trusts (docs/verify.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rttgeo.cli._args import finite_float, output_path

__all__ = ["add_evidence_arguments", "evidence_from_args"]


def add_evidence_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "signed evidence (instead of --rtts): receipts that landmarks signed, checked offline")
    g.add_argument("--check", type=Path, metavar="BUNDLE",
                   help="re-check an evidence bundle (rttgeo-evidence JSON) and decide from it")
    g.add_argument("--receipts", type=Path, metavar="FILE",
                   help="check the receipts a host's `rttgeo prove` wrote and decide from them")
    g.add_argument("--bundle-out", type=output_path(), metavar="FILE",
                   help="with --receipts: write the checked receipts as an evidence bundle")
    g.add_argument("--catalog", type=Path, metavar="SIGNED",
                   help="the signed landmark catalog that pins each landmark's key and position")
    g.add_argument("--catalog-key", action="append", default=[], metavar="KEY",
                   help="a catalog signer you trust: 64 hex digits or a .pub file (repeatable)")
    g.add_argument("--challenge", metavar="HEX",
                   help="your own 32-byte challenge (64 hex digits): every receipt must carry it")
    g.add_argument("--max-span", type=finite_float(0, lo_open=True), default=None, metavar="S",
                   help="all sessions within S seconds of each other (default 600)")
    g.add_argument("--max-age", type=finite_float(0, lo_open=True), default=None, metavar="S",
                   help="the newest session ended at most S seconds ago (default: no limit)")


def evidence_from_args(args: argparse.Namespace) -> Any:
    """The checked :class:`~rttgeo.verify.evidence.Evidence` the options name, or None if they name
    none. Raises InputError / VerificationError naming the option or what failed."""
    from rttgeo.errors import InputError

    given = [o for o, v in (("--check", args.check), ("--receipts", args.receipts)) if v]
    if not given:
        for option, value in (("--catalog", args.catalog), ("--bundle-out", args.bundle_out),
                              ("--challenge", args.challenge), ("--max-span", args.max_span),
                              ("--max-age", args.max_age)):
            if value is not None:
                raise InputError("goes with --check BUNDLE or --receipts FILE", field=option)
        if args.catalog_key:
            raise InputError("goes with --check BUNDLE or --receipts FILE", field="--catalog-key")
        return None
    if len(given) > 1:
        raise InputError("give --check or --receipts, not both", field="--check")
    for option, value in (("--rtts", getattr(args, "rtts", None)),
                          ("--landmarks", getattr(args, "landmarks", None)),
                          ("--target", getattr(args, "target", None))):
        if value is not None:
            raise InputError(f"signed evidence brings its own RTTs and landmarks: drop {option}",
                             field=option)
    if args.bundle_out is not None and not args.receipts:
        raise InputError("goes with --receipts (a bundle is already a bundle)", field="--bundle-out")
    if args.catalog is None:
        raise InputError("signed evidence is checked against a signed catalog: give --catalog",
                         field="--catalog")
    if not args.catalog_key:
        raise InputError("name the catalog signer you trust (--catalog-key KEY); a catalog that "
                         "vouches for itself proves nothing", field="--catalog-key")
    from rttgeo import crypto
    from rttgeo.cli.prove_cmds import parse_challenge
    from rttgeo.verify.evidence import load_evidence

    keys = [crypto.parse_public_key(k, what="--catalog-key") for k in args.catalog_key]
    return load_evidence(
        check=args.check, receipts=args.receipts, bundle_out=args.bundle_out,
        catalog=args.catalog, catalog_keys=keys,
        challenge=parse_challenge(args.challenge), max_span_s=args.max_span,
        max_age_s=args.max_age,
    )
