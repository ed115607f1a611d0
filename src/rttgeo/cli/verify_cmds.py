"""``rttgeo verify``: prove, refute or leave undecided where a host claims to be.

Exit codes (rttgeo.cli.exitcodes): 0 proven, 10 refuted, 11 undecided, 12 landmark fault, 2 usage or
input error, 1 runtime failure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from rttgeo.cli._args import FIGURE_SUFFIXES, finite_float, int_range, output_path
from rttgeo.cli.exitcodes import ExitCode
from rttgeo.errors import InputError, RttgeoError

__all__ = ["EXIT_BY_OUTCOME", "register"]

#: Largest distance an option in km may take: half the Earth's circumference, with room.
_MAX_KM = 20_100.0

EXIT_BY_OUTCOME = {
    "proven": ExitCode.OK,
    "refuted": ExitCode.REFUTED,
    "undecided": ExitCode.UNDECIDED,
    "landmark-fault": ExitCode.LANDMARK_FAULT,
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "verify",
        help="prove or refute where a host claims to be, from RTTs timed by trusted landmarks",
        description=(
            "Decide a location claim from RTTs measured by trusted landmarks: proven (exit 0), "
            "refuted (10), undecided (11) or landmark fault (12). Sound mode (default) uses light "
            "in vacuum and cannot be fooled by a host that adds delay; calibrated mode is tighter, "
            "NOT sound against a lying host, and prints its measured false-accept rate."
        ),
    )
    claim = p.add_argument_group("claim (exactly one)")
    claim.add_argument("--claim", metavar="LAT,LON", help="a point; with --radius-km")
    claim.add_argument("--radius-km", type=finite_float(0, _MAX_KM, lo_open=True), metavar="R",
                       help="radius of the --claim disc, km")
    claim.add_argument("--country", metavar="CC[,CC]", help="in a country (ISO 3166-1 alpha-2)")
    claim.add_argument("--not-country", metavar="CC[,CC]", help="not in any of these countries")
    claim.add_argument("--polygon", type=Path, metavar="FILE", help="inside a GeoJSON (multi)polygon")
    claim.add_argument("--margin-km", type=finite_float(0, _MAX_KM), default=0.0,
                       help="border uncertainty of --polygon, km (default 0)")
    data = p.add_argument_group("RTTs measured by trusted landmarks")
    data.add_argument("--rtts", type=Path, metavar="FILE", help="samples CSV or campaign store (SQLite)")
    data.add_argument("--target", help="target id when the file holds several")
    data.add_argument("--landmarks", metavar="CATALOG",
                      help="landmark catalog (CSV/JSON; default: bundled catalog)")
    from rttgeo.cli.evidence_args import add_evidence_arguments

    add_evidence_arguments(p)
    how = p.add_argument_group("decision")
    how.add_argument("--mode", choices=("sound", "calibrated"), default="sound",
                     help="sound (default: radii at c, never fooled by added delay) or calibrated")
    how.add_argument("--faults", type=int_range(0, 1000), default=0, metavar="F",
                     help="tolerate F faulty landmarks (the decision holds for every subset missing F)")
    how.add_argument("--position-uncertainty-km", type=finite_float(0, _MAX_KM), default=None,
                     metavar="KM",
                     help="landmark position uncertainty added to every radius (default: the signed "
                     "catalog's per landmark, else 10)")
    out = p.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print the decision as JSON (no region)")
    out.add_argument("--out", type=output_path(allow_stdout=True), metavar="FILE",
                     help="write the decision with its region as JSON (.geojson: a FeatureCollection; "
                     "- for stdout)")
    out.add_argument("--map", type=output_path(suffixes=FIGURE_SUFFIXES), metavar="FILE",
                     help="draw the claim, the consistent region and the deciding landmarks (PNG, SVG or "
                     "PDF; the plot extra)")
    out.add_argument("--report", type=output_path(suffixes=(".html", ".htm")), metavar="FILE",
                     help="write a self-contained HTML report: verdict, summary, map, landmarks, "
                     "decision (the plot extra)")
    out.add_argument("-q", "--quiet", action="store_true", help="print nothing; the exit code says it")
    p.set_defaults(handler=cmd_verify)


def build_claim(args: argparse.Namespace) -> Any:
    """The claim the options describe; InputError naming the option when they do not make one."""
    from rttgeo.verify import RadiusClaim, country_claim, read_geojson_claim

    given = [o for o, v in (("--claim", args.claim), ("--country", args.country),
                            ("--not-country", args.not_country), ("--polygon", args.polygon))
             if v is not None]
    if len(given) != 1:
        raise InputError(
            "give exactly one claim: --claim LAT,LON --radius-km R, --country CC, --not-country CC "
            f"or --polygon FILE (got {', '.join(given) or 'none'})",
            field="claim",
        )
    if args.radius_km is not None and args.claim is None:
        raise InputError("--radius-km goes with --claim LAT,LON", field="--radius-km")
    if args.margin_km != 0.0 and args.polygon is None:
        raise InputError("--margin-km goes with --polygon (country borders carry their own)",
                         field="--margin-km")
    if args.claim is not None:
        parts = args.claim.split(",")
        try:
            lat, lon = (float(x) for x in parts)
        except ValueError:
            raise InputError(f"expected LAT,LON in degrees, got {args.claim!r}", field="--claim") from None
        if args.radius_km is None:
            raise InputError("a point claim needs --radius-km R", field="--radius-km")
        return RadiusClaim(lat, lon, args.radius_km)
    if args.country is not None:
        return country_claim(args.country)
    if args.not_country is not None:
        return country_claim(args.not_country, negate=True)
    return read_geojson_claim(args.polygon, margin_km=args.margin_km)


def rtt_source(args: argparse.Namespace) -> tuple[Any, Any]:
    """(rtts_or_evidence, landmarks) for ``verify`` from the input options."""
    from rttgeo.cli.evidence_args import evidence_from_args

    evidence = evidence_from_args(args)
    if evidence is not None:
        return evidence, None
    if args.rtts is None:
        raise InputError("give the RTTs measured by the landmarks: --rtts FILE, or signed evidence: "
                         "--check BUNDLE or --receipts FILE with --catalog", field="--rtts")
    return args.rtts, args.landmarks


def _write_json(path: Path, obj: Any) -> None:
    """Write atomically: a failed write leaves nothing behind."""
    text = json.dumps(obj, indent=2) + "\n"
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError("no such directory", where=str(path), field="--out")
    if path.is_dir():
        raise InputError("cannot write: is a directory", where=str(path), field="--out")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise InputError(f"cannot write: {exc.strerror}", where=str(path), field="--out") from None


def _say(text: str) -> None:
    """Print ``text`` on stdout; a reader that has gone (``verify ... | head``) does not change the
    verdict's exit code: the rest goes nowhere and the verdict still decides the code."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - no flush error at exit


def cmd_verify(args: argparse.Namespace) -> int:
    from rttgeo.api.verify import verify

    if args.map or args.report:  # before any work: without the plot extra nothing is written
        from rttgeo.errors import require

        require("matplotlib", "plot")
    claim = build_claim(args)
    # --receipts writes --bundle-out as it checks them: gone again if the verdict fails on input.
    bundle = getattr(args, "bundle_out", None)
    fresh = bundle is not None and not os.path.lexists(bundle)
    try:
        rtts, landmarks = rtt_source(args)
        if args.faults < 0:
            raise InputError(f"must be >= 0, got {args.faults}", field="--faults")
        unc = args.position_uncertainty_km
        if unc is not None and not (unc >= 0 and unc < float("inf")):
            raise InputError(f"must be a finite number >= 0, got {unc}",
                             field="--position-uncertainty-km")
        result = verify(claim, rtts, landmarks=landmarks, mode=args.mode, faults=args.faults,
                        position_uncertainty_km=unc, target=args.target)
    except RttgeoError:
        if fresh:
            Path(bundle).unlink(missing_ok=True)
        raise
    to_stdout = args.out is not None and str(args.out) == "-"
    if to_stdout:
        _say(json.dumps(result.to_json(), indent=2))  # the whole document, even with -q
    elif args.out:
        out = Path(args.out)
        if out.suffix.lower() == ".geojson":
            from rttgeo.geo.polygon import feature_collection

            props = result.to_json(with_region=False)
            _write_json(out, feature_collection([(result.decision.region_geojson(), props)]))
        else:
            _write_json(out, result.to_json())
    if args.map:
        result.draw(args.map)
    if args.report:
        result.write_report(args.report)
    if not args.quiet:
        if args.json:
            _say(json.dumps(result.to_json(with_region=False), indent=2))
        elif not to_stdout:
            _say(result.describe())
        if args.out and not to_stdout:
            print(f"wrote {args.out}", file=sys.stderr)
        if args.map:
            print(f"wrote {args.map}", file=sys.stderr)
        if args.report:
            print(f"wrote {args.report}", file=sys.stderr)
    return int(EXIT_BY_OUTCOME[result.outcome])
