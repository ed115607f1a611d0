"""``rttgeo locate`` and ``rttgeo measure`` (docs/measure.md).

Thin: each handler parses, calls one verb of :mod:`rttgeo.api` and prints its result. The prober
seam is :func:`make_prober_for` (tests replace it with a fake prober); nothing here probes anything
until a handler runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from rttgeo.cli._args import (
    FIGURE_SUFFIXES,
    STDOUT,
    add_convention,
    finite_float,
    int_range,
    output_path,
    store_path,
)
from rttgeo.cli._output import narrate, print_warnings, write_result
from rttgeo.errors import InputError

PROTOCOL_CHOICES = (
    "auto", "icmp", "icmp-raw", "icmp-dgram", "icmp6", "icmp6-raw", "icmp6-dgram", "tcp", "udp",
)


# -- seams ---------------------------------------------------------------------------------------
def make_prober_for(protocol: str, port: int | None = None, **extra: Any) -> Any:
    """A new prober for ``protocol`` (``auto`` = best available ICMP); tests replace this seam.

    ``extra``: prober options, e.g. ``subtract_turnaround=True`` for UDP.
    """
    from rttgeo.api._probing import make_prober

    return make_prober(protocol, port, **extra)


def _prober(args: argparse.Namespace) -> Any:
    if args.subtract_turnaround and args.protocol != "udp":
        raise InputError("only UDP replies carry a turnaround", field="--subtract-turnaround")
    extra = {"subtract_turnaround": True} if args.subtract_turnaround else {}
    return make_prober_for(args.protocol, args.port, **extra)


# -- options -------------------------------------------------------------------------------------
def _params(args: argparse.Namespace) -> Any:
    from rttgeo.api._probing import campaign_params

    return campaign_params(k=args.k, timeout_s=args.timeout, retries=args.retries,
                           concurrency=args.concurrency, rate_per_s=args.rate,
                           landmark_interval_s=args.interval)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--landmarks",
        metavar="CATALOG",
        help="landmark catalog (CSV/JSON); default: the bundled RIPE Atlas anchors (April 2023)",
    )
    p.add_argument(
        "--protocol",
        default="auto",
        choices=PROTOCOL_CHOICES,
        help="probe protocol (default: auto = ICMP echo, raw socket if allowed, else the "
        "unprivileged datagram socket); icmp6* probe the catalog's IPv6 addresses, icmp* its IPv4 "
        "ones; tcp and udp take both",
    )
    p.add_argument(
        "--port",
        type=int_range(1, 65535),
        default=None,
        help="TCP/UDP port for landmarks whose catalog entry has none",
    )
    p.add_argument("-k", type=int_range(1), default=3, help="samples per landmark (default 3)")
    p.add_argument(
        "--timeout",
        type=finite_float(0, 3600, lo_open=True),
        default=2.0,
        metavar="S",
        help="per-probe timeout in seconds (default 2)",
    )
    p.add_argument("--retries", type=int_range(0, 100), default=1,
                   help="retries of a lost probe (default 1)")
    p.add_argument("--concurrency", type=int_range(1), default=1024,
                   help="probes in flight at most (default 1024)")
    p.add_argument(
        "--rate",
        type=finite_float(0),
        default=4000.0,
        metavar="PPS",
        help="global send rate limit in probes/s (default 4000; 0 = none)",
    )
    p.add_argument(
        "--interval",
        type=finite_float(0, 3600),
        default=0.1,
        metavar="S",
        help="minimum gap between two probes to the same landmark (default 0.1 s)",
    )
    p.add_argument(
        "--limit",
        type=int_range(1),
        default=None,
        metavar="N",
        help="probe only N landmarks spread over the catalog (farthest-point sample)",
    )
    p.add_argument(
        "--subtract-turnaround",
        action="store_true",
        help="UDP: subtract the time each landmark server says it held the request (only for "
        "servers you trust, e.g. your own or a lab's: a lying server could look closer)",
    )


def register(sub: Any) -> None:
    """Add ``locate`` and ``measure`` to the ``rttgeo`` subcommands."""
    from rttgeo.estimate import DEFAULT_METHOD, METHODS

    p = sub.add_parser(
        "locate",
        help="measure RTTs to landmarks and estimate where this host is",
        description="Probe landmarks from this host, then estimate its position.",
    )
    _add_common(p)
    add_convention(p, json_help="print the result (estimate, confidence, measurement) as JSON")
    p.add_argument(
        "--method",
        default=DEFAULT_METHOD,
        choices=METHODS,
        metavar="METHOD",
        help=f"estimation method: {', '.join(METHODS)} (default {DEFAULT_METHOD})",
    )
    p.add_argument(
        "--out", metavar="FILE", type=output_path(allow_stdout=True),
        help="write the result as JSON (GeoJSON FeatureCollection for a .geojson name; - = stdout)",
    )
    p.add_argument("--store", metavar="FILE", type=store_path(),
                   help="also keep every sample in this campaign store (SQLite)")
    p.add_argument("--map", metavar="FILE", type=output_path(suffixes=FIGURE_SUFFIXES),
                   help="write a map of the estimate (PNG, SVG or PDF)")
    p.add_argument("--report", metavar="FILE", type=output_path(suffixes=(".html", ".htm")),
                   help="write a self-contained HTML report")
    p.add_argument(
        "--two-stage",
        action="store_true",
        help="probe a spread of landmarks first, then those nearest the coarse estimate",
    )
    p.add_argument("--first", type=int_range(1), default=30, metavar="N",
                   help="landmarks in the quick first wave (two-stage: stage 1), default 30")
    p.add_argument("--second", type=int_range(1), default=30, metavar="N",
                   help="two-stage: landmarks in stage 2 (default 30)")
    p.add_argument(
        "--first-timeout",
        type=finite_float(0, 3600, lo_open=True),
        default=1.5,
        metavar="S",
        help="timeout of the quick first wave that detects 'nothing answers' (default 1.5 s)",
    )
    p.set_defaults(handler=cmd_locate)

    p = sub.add_parser(
        "measure",
        help="run a measurement campaign into a store (no estimate)",
        description="Probe landmarks k times each; every sample goes to --store.",
    )
    _add_common(p)
    add_convention(p, json_help="print the campaign summary (store, counts, RTT per landmark) "
                   "as JSON")
    p.add_argument(
        "--store", metavar="FILE", type=store_path(),
        help="campaign store (SQLite); default campaign-<UTC time>.db",
    )
    p.add_argument("--target", default="self", help="label of the measuring host (default self)")
    p.add_argument("--csv", metavar="FILE", type=output_path(allow_stdout=True),
                   help="also export the samples as CSV (- = stdout)")
    p.set_defaults(handler=cmd_measure)


# -- measure -------------------------------------------------------------------------------------
def cmd_measure(args: argparse.Namespace) -> int:
    from rttgeo.api import measure

    res = measure(
        landmarks=args.landmarks,
        prober=_prober(args),
        campaign=_params(args),
        limit=args.limit,
        store=args.store,
        target=args.target,
        progress=not args.quiet,
        log=lambda line: print(line, file=sys.stderr),
    )
    if args.json:
        write_result(args, STDOUT, res)
    else:
        print(res.describe())
    _print_probe_errors(res.measurement)
    if args.csv:
        if args.csv == STDOUT:
            res.write_csv(sys.stdout)
        else:
            n = res.write_csv(args.csv)
            narrate(args, f"wrote {n} samples to {args.csv}")
    return 0


def _print_probe_errors(measurement: Any) -> None:
    """The three most common details of probes that ended as ``error`` or ``mismatch`` (a reply
    announcing another position than the catalog's), on stderr."""
    for detail, n in measurement.errors[:3]:
        print(f"  {n} probe error(s): {detail}", file=sys.stderr)


# -- locate --------------------------------------------------------------------------------------
def cmd_locate(args: argparse.Namespace) -> int:
    from rttgeo.api import locate

    res = locate(
        landmarks=args.landmarks,
        method=args.method,
        prober=_prober(args),
        campaign=_params(args),
        limit=args.limit,
        two_stage=args.two_stage,
        first_n=args.first,
        second_n=args.second,
        first_timeout_s=args.first_timeout,
        store=args.store,
        progress=not args.quiet,
    )
    print_warnings(res.warnings)
    if args.json:
        write_result(args, STDOUT, res)
    else:
        print(res.describe())
    _print_probe_errors(res.measurement)
    if args.out:
        write_result(args, args.out, res)
    write_pictures(args, res, title=f"rttgeo locate ({res.estimate.method})",
                   summary={"confidence": res.confidence.grade,
                            "protocol": res.measurement.protocol,
                            "landmarks answered": res.measurement.landmarks_answered,
                            "catalog": res.provenance.catalog})
    return 0


def write_pictures(args: argparse.Namespace, res: Any, *, title: str | None = None,
                   truth: tuple[float, float] | None = None,
                   summary: dict[str, Any] | None = None) -> None:
    """``--map`` and ``--report`` of one estimate result (the plot extra)."""
    if getattr(args, "map", None):
        from rttgeo.plot import map_estimate

        map_estimate(res.estimate, args.map, landmarks=list(res.landmarks), title=title,
                     true_lat_deg=truth[0] if truth else None,
                     true_lon_deg=truth[1] if truth else None)
        narrate(args, f"wrote {args.map}")
    if getattr(args, "report", None):
        from rttgeo.plot import write_report

        prov = getattr(res, "provenance", None)
        write_report(res.estimate, args.report, landmarks=list(res.landmarks),
                     true_location=truth, summary=summary,
                     provenance=prov.as_dict() if prov is not None else None)
        narrate(args, f"wrote {args.report}")


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - convenience
    from rttgeo.cli import main as cli_main

    return cli_main(argv)
