"""``rttgeo eval``, ``rttgeo estimate`` and ``rttgeo demo``: the estimation side of the CLI.

Thin: each handler parses, calls one verb of :mod:`rttgeo.api` and prints its result.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rttgeo.cli._args import FIGURE_SUFFIXES, STDOUT, add_convention, int_range, output_path
from rttgeo.cli._output import narrate, print_warnings, write_result, write_text
from rttgeo.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from rttgeo.estimate import DEFAULT_METHOD, METHODS

    methods_text = ", ".join(METHODS)
    p = sub.add_parser(
        "eval",
        help="leave-one-out evaluation of estimators on a dataset",
        description="Each host in turn is the target and all others are landmarks; calibration "
        "is refitted without any RTT of the target. Prints median / p80 / p90 error, shares "
        "within 100 and 500 km, region coverage and area, time per target.",
    )
    p.add_argument("dataset", nargs="?", default="wonderproxy-2020",
                   help="wonderproxy-2020 (default: the raw files if found, else the bundled copy, "
                   "which equals them; the first line printed says which), "
                   "wonderproxy-2020-bundled, a mesh folder (hosts.csv + pairs.csv or "
                   "pairs.parquet, docs/estimation.md), a WonderProxy folder, or a .parquet mesh")
    p.add_argument("--method", default="all", metavar="METHODS",
                   help=f"comma-separated methods ({methods_text}) or 'all' (default)")
    p.add_argument("--out", type=output_path(allow_stdout=True, suffixes=(".csv", ".json")),
                   metavar="FILE", help="write the summary as CSV (a .csv name) or JSON (a .json "
                   "name; - = JSON on stdout)")
    p.add_argument("--markdown", action="store_true",
                   help="print the figures as the Markdown table of README.md and "
                   "docs/estimation.md instead of the text table")
    p.add_argument("--per-target", type=output_path(allow_stdout=True), metavar="FILE",
                   help="write one CSV row per method and target: true and estimated lat/lon, "
                   "error, region (- = stdout)")
    p.add_argument("--plot", type=output_path(suffixes=FIGURE_SUFFIXES), metavar="FILE",
                   help="write the error CDF of every method (PNG, SVG or PDF)")
    p.add_argument("--map", type=output_path(suffixes=FIGURE_SUFFIXES), metavar="FILE",
                   help="write maps of the worst and best targets of one method (--map-method)")
    p.add_argument("--plot-reliability", type=output_path(suffixes=FIGURE_SUFFIXES), metavar="FILE",
                   help="write the reliability diagram: each method's region coverage at stated "
                   "levels 50-99 %% against the level (methods with a posterior or a region)")
    p.add_argument("--plot-model", type=output_path(suffixes=FIGURE_SUFFIXES), metavar="FILE",
                   help="write RTT against distance of the dataset's pairs with the c and 2/3 c "
                   "lines, the CBG bestlines and the delay-distance model's bands (fitted on the "
                   "whole dataset)")
    p.add_argument("--map-method", metavar="METHOD",
                   help=f"method drawn by --map (default {DEFAULT_METHOD} when evaluated, else "
                   "the first)")
    p.add_argument("--intervals", action="store_true",
                   help="also give each figure's 95 %% bootstrap interval over the targets "
                   "(percentile method, 10,000 resamples, seed 0; about 1 s per method): a table "
                   "after the figures, and <figure>_low / _high in --out and --json")
    p.add_argument("--jobs", type=int_range(0), default=0,
                   help="worker processes (default 0: all cores)")
    p.add_argument("--limit", type=int_range(1), default=None, metavar="N",
                   help="evaluate only the first N targets")
    add_convention(p, json_help="print the summary (one object per method) as JSON")
    p.set_defaults(handler=cmd_eval)

    p = sub.add_parser(
        "estimate",
        help="estimate a position from measured RTTs",
        description="Read RTT samples (CSV: landmark, rtt_ms [, target, protocol, sent_unix_ns]) "
        "or a campaign store, and estimate where the host is.",
    )
    p.add_argument("rtts", type=Path, help="samples CSV or campaign store (SQLite)")
    p.add_argument("--landmarks", metavar="CATALOG",
                   help="landmark catalog (CSV/JSON; default: the bundled RIPE Atlas anchors)")
    p.add_argument("--method", default=DEFAULT_METHOD, choices=METHODS, metavar="METHOD",
                   help=f"estimation method: {methods_text} (default {DEFAULT_METHOD})")
    p.add_argument("--target", help="target id when the CSV or store holds several")
    p.add_argument("--campaign", type=int_range(1), metavar="ID",
                   help="campaign of a store to read (default: the latest, or the latest of "
                   "--target)")
    p.add_argument("--calibrate", metavar="DATASET",
                   help="fit the calibration on this dataset's mesh among the catalog's "
                   "landmarks (ids must match); default: pooled calibration")
    _outputs(p)
    add_convention(p, json_help="print the result (estimate, confidence, provenance) as JSON")
    from rttgeo.cli.batch_cmds import add_batch_arguments  # atlas room's hook: --batch

    add_batch_arguments(p)
    p.set_defaults(handler=cmd_estimate)

    p = sub.add_parser(
        "demo",
        help="offline demo: locate a real host of the bundled WonderProxy mesh with every method",
    )
    p.add_argument("--target", help="host id or city name (default: a host in Frankfurt)")
    p.add_argument("--method", default="all", metavar="METHODS",
                   help=f"comma-separated methods ({methods_text}) or 'all' (default)")
    _outputs(p)
    add_convention(p, json_help="print one JSON line per method (its result and error)")
    p.set_defaults(handler=cmd_demo)


def _outputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=output_path(allow_stdout=True), metavar="FILE",
                   help="write the result as JSON (GeoJSON FeatureCollection for a .geojson name; "
                   "- = stdout)")
    p.add_argument("--geojson", type=output_path(allow_stdout=True), metavar="FILE",
                   help="write the result as a GeoJSON FeatureCollection (point and region)")
    p.add_argument("--map", type=output_path(suffixes=FIGURE_SUFFIXES), metavar="FILE",
                   help="write a map (PNG, SVG or PDF)")
    p.add_argument("--report", type=output_path(suffixes=(".html", ".htm")), metavar="FILE",
                   help="write a self-contained HTML report")


def _write_outputs(args: argparse.Namespace, res: Any, *, truth: tuple[float, float] | None = None,
                   summary: dict[str, Any] | None = None) -> None:
    from rttgeo.cli.measure_cmds import write_pictures

    if args.out:
        write_result(args, args.out, res)
    if args.geojson:
        from rttgeo.api._results import dumps

        write_text(args, args.geojson, dumps(res.to_geojson()))
    write_pictures(args, res, truth=truth, summary=summary)


# -- eval ------------------------------------------------------------------------------------------
def cmd_eval(args: argparse.Namespace) -> int:
    from rttgeo.api import evaluate
    from rttgeo.api.evaluate import parse_methods
    from rttgeo.estimate import DEFAULT_METHOD

    methods = parse_methods(args.method)
    map_method = None
    if args.map:
        map_method = args.map_method or (DEFAULT_METHOD if DEFAULT_METHOD in methods else methods[0])
        if map_method not in methods:
            raise InputError(f"{map_method!r} is not among the evaluated methods "
                             f"({', '.join(methods)})", field="--map-method")
    elif args.map_method:
        raise InputError("--map-method needs --map", field="--map-method")
    if args.plot_reliability and not any(_has_region(m) for m in methods):
        raise InputError(f"--plot-reliability needs a method with a region; {', '.join(methods)} "
                         "give points only", field="--plot-reliability")
    _check_outputs(args)
    res = evaluate(args.dataset, methods=methods, limit=args.limit, jobs=args.jobs or None,
                   keep_estimates=[map_method] if map_method else [], progress=not args.quiet)
    if map_method and not any(e is not None for r in res.results if r.method == map_method
                              for e in r.estimates):
        raise InputError(f"{map_method} placed none of the targets: nothing to draw",
                         field="--map")
    for m, k in res.unplaced().items():
        if k:
            print(f"rttgeo: warning: {m} gave no estimate for {k} of {res.n_targets} targets "
                  "(counted as infinite errors): their RTTs contradict the stated positions or "
                  f"the method cannot use them; `rttgeo mesh check {args.dataset}` names such "
                  "hosts", file=sys.stderr)
    intervals = res.intervals() if args.intervals else None
    if args.json:
        from rttgeo.api._results import dumps

        write_text(args, STDOUT, dumps(res.to_json(intervals)))
    else:
        print(res.header())
        if args.markdown:
            from rttgeo.estimate.evaluate import format_markdown

            print(format_markdown(res.summaries))
        else:
            print(res.table())
        print(f"total {sum(res.seconds):.1f} s (ms/target: fit + locate, median)")
        if intervals is not None:
            print(res.intervals_table(intervals))
    if args.out:
        _write_summary(args, args.out, res, intervals)
    if args.per_target:
        _write_per_target(args, args.per_target, res)
    if args.plot:
        from rttgeo.plot import error_cdf

        error_cdf({r.method: r.error_km for r in res.results}, args.plot,
                  title=f"Leave-one-out error, {res.mesh.name} ({res.n_targets} targets)")
        narrate(args, f"wrote {args.plot}")
    if args.plot_reliability:
        _plot_reliability(args, res)
    if args.plot_model:
        _plot_model(args, res.mesh)
    if map_method:
        from rttgeo.plot import eval_grid

        ests, lat, lon, names = res.estimates(map_method)
        eval_grid(ests, lat, lon, args.map, names=names,
                  title=f"{map_method}: worst and best targets ({res.mesh.name})")
        narrate(args, f"wrote {args.map}")
    return 0


def _check_outputs(args: argparse.Namespace) -> None:
    """No output file of ``rttgeo eval`` is a file of the dataset it reads (``--out
    mymesh/pairs.csv`` would destroy the mesh): InputError naming the option. The CLI's own
    check (:func:`rttgeo.cli._args.check_outputs`) already keeps outputs apart from each other
    and from files named on the command line."""
    from rttgeo.cli._args import same_file
    from rttgeo.datasets.loaders import dataset_files

    inputs = dataset_files(args.dataset)
    for k in ("out", "per_target", "plot", "map", "plot_reliability", "plot_model"):
        v = getattr(args, k)
        if v and v != STDOUT and any(same_file(v, f) for f in inputs):
            raise InputError(f"{v} is a file of the dataset {args.dataset}: name another file",
                             field="--" + k.replace("_", "-"))


def _has_region(method: str) -> bool:
    from rttgeo.estimate import make_estimator

    return type(make_estimator(method)).has_region


def _plot_reliability(args: argparse.Namespace, res: Any) -> None:
    import numpy as np

    from rttgeo.plot.charts import reliability

    levels = {r.method: r.credible_level for r in res.results if not np.isnan(r.credible_level).all()}
    feasible = {r.method: (float(np.mean(r.covered)), len(r.covered)) for r in res.results
                if r.has_region and np.isnan(r.credible_level).all()}
    reliability(levels, args.plot_reliability, feasible_coverage=feasible,
                title=f"Region coverage, leave-one-out on {res.mesh.name} ({res.n_targets} targets)")
    narrate(args, f"wrote {args.plot_reliability}")


def _plot_model(args: argparse.Namespace, mesh: Any) -> None:
    from rttgeo.estimate.calibration import calibration_curves
    from rttgeo.plot import rtt_vs_distance

    c = calibration_curves(mesh)
    rtt_vs_distance(mesh, args.plot_model, bestlines={"pooled": c.pooled_bestline},
                    landmark_bestlines=c.landmark_bestlines, delay_median=(c.rtt_ms, c.median_km),
                    delay_intervals={p: (c.rtt_ms, lo, hi) for p, (lo, hi) in c.intervals_km.items()},
                    rtt_median=(c.forward_km, c.forward_median_ms))
    narrate(args, f"wrote {args.plot_model}")


def _csv_text(columns: list[str], rows: list[dict[str, Any]]) -> str:
    import csv
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: "" if v is None else v for k, v in r.items()})
    return buf.getvalue()


def _write_summary(args: argparse.Namespace, path: str, res: Any, intervals: Any = None) -> None:
    from rttgeo.api._results import dumps

    rows = res.to_json(intervals)["summaries"]
    if path == STDOUT or path.lower().endswith(".json"):
        write_text(args, path, dumps(rows))
    else:
        write_text(args, path, _csv_text(list(rows[0]), rows))


def _write_per_target(args: argparse.Namespace, path: str, res: Any) -> None:
    from rttgeo.api.evaluate import PER_TARGET_COLUMNS

    rows = res.per_target()
    for r in rows:
        for k in ("covered", "consistent"):
            r[k] = "" if r[k] is None else int(r[k])
    write_text(args, path, _csv_text(list(PER_TARGET_COLUMNS), rows))


# -- estimate --------------------------------------------------------------------------------------
def cmd_estimate(args: argparse.Namespace) -> int:
    if getattr(args, "batch", False):  # atlas room's hook: every target, docs/batch.md
        from rttgeo.cli.batch_cmds import cmd_batch

        return cmd_batch(args)
    from rttgeo.cli.batch_cmds import refuse_batch_flags

    refuse_batch_flags(args)
    from rttgeo.api import estimate

    res = estimate(args.rtts, landmarks=args.landmarks, method=args.method, target=args.target,
                   campaign=args.campaign, calibration=args.calibrate)
    camp = res.provenance.campaign
    if camp is not None:
        more = camp["n_campaigns_in_store"]
        narrate(args, f"read campaign {camp['id']} of {camp['store']} (target {camp['target']!r}, "
                f"{camp['protocol']}, {camp['status']}, started {camp['started_utc']}, "
                f"{camp['n_samples']} samples)"
                + (f"; the store holds {more} campaigns: choose one with --campaign ID"
                   if more > 1 else ""))
    print_warnings(res.warnings)
    if args.json:
        write_result(args, STDOUT, res)
    else:
        print(res.describe())
    _write_outputs(args, res)
    return 0


# -- demo ------------------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    import math

    import numpy as np

    from rttgeo.api import estimate
    from rttgeo.api.evaluate import parse_methods
    from rttgeo.datasets import load_wonderproxy
    from rttgeo.estimate import DEFAULT_METHOD
    from rttgeo.estimate.delay import symmetric_rtt_ms
    from rttgeo.geo.sphere import distance_km
    from rttgeo.units import FIBRE_FRACTION_OF_C, rtt_ms_to_max_distance_km

    methods = parse_methods(args.method)
    mesh = load_wonderproxy()
    t = _pick_target(mesh, args.target or "Frankfurt")
    others = np.array([j for j in range(len(mesh)) if j != t])
    sub = mesh.subset(others)
    rtts = symmetric_rtt_ms(mesh.rtt_ms)[t, others]
    landmarks = sub.landmarks()
    truth = (float(mesh.lat_deg[t]), float(mesh.lon_deg[t]))
    order = np.argsort(np.where(np.isfinite(rtts), rtts, np.inf))[:3]
    r0 = float(rtts[order[0]])
    near = mesh.labels[others[order[0]]]
    if not args.json:
        print(
            f"rttgeo demo: where is host {mesh.ids[t]} ({mesh.labels[t]})?  Offline, with the real "
            f"WonderProxy 2020 RTTs\nfrom it to the other {len(others)} servers (their positions "
            "are known: they are the landmarks).\n"
            "Nearest by RTT: " + ", ".join(
                f"{mesh.labels[others[j]]} {rtts[j]:.1f} ms" for j in order) + ".\n"
            f"A round trip of {r0:.1f} ms to {near} puts the host within "
            f"{rtt_ms_to_max_distance_km(r0, FIBRE_FRACTION_OF_C):,.0f} km of it if the signal "
            f"ran in fibre (2/3 c, about 100 km per ms),\nand within "
            f"{rtt_ms_to_max_distance_km(r0):,.0f} km at most at the speed of light in vacuum "
            "(c, 149.9 km per ms: the bound no path beats).\n"
            "Each method is calibrated on the landmark-to-landmark RTTs only (never on the host's).\n"
        )
    rows, chosen = [], None
    for m in methods:
        res = estimate(rtts, landmarks=landmarks, method=m, calibration=sub)
        e = res.estimate
        err = float(distance_km(e.lat_deg, e.lon_deg, *truth))
        inside = None if e.region is None else bool(e.region.contains(*truth))
        rows.append((m, e, err, inside))
        if args.json:
            from rttgeo.cli._output import write_json_lines

            write_json_lines([{**res.to_json(), "truth": {"target": mesh.ids[t],
                               "label": mesh.labels[t], "lat_deg": truth[0],
                               "lon_deg": truth[1]},
                               "error_km": round(err, 3), "truth_in_region": inside}])
        if m == DEFAULT_METHOD or chosen is None:
            chosen = res
    assert chosen is not None
    if not args.json:
        print(f"{'method':<16}{'lat':>9}{'lon':>10}{'error km':>10}{'region km2':>13}"
              f"{'truth inside':>14}")
        for m, e, err, inside in rows:
            area = "-" if math.isnan(e.area_km2) else f"{e.area_km2:,.0f}"
            ins = "-" if inside is None else ("yes" if inside else "no")
            print(f"{m:<16}{e.lat_deg:>9.3f}{e.lon_deg:>10.3f}{err:>10,.0f}{area:>13}{ins:>14}")
        print(f"\ntrue location: {truth[0]:.3f}, {truth[1]:.3f} ({mesh.labels[t]})\n")
        print(chosen.describe(max_landmarks=5))
        print(
            "\nRead it as: the region is every place consistent with the RTTs under the method's "
            f"model;\nits area says how precise the answer is. 'max km' is {_radius_kind(chosen)}."
            "\nTry `rttgeo eval` for all hosts, or `rttgeo locate` to measure your own machine."
        )
    _write_outputs(args, chosen, truth=truth, summary={"target": f"{mesh.ids[t]} {mesh.labels[t]}"})
    return 0


def _radius_kind(res: Any) -> str:
    """What the 'max km' column of an estimate's landmarks is: which speed its radius assumes."""
    from rttgeo.units import FIBRE_KM_PER_RTT_MS, MAX_KM_PER_RTT_MS

    ratios = {d.max_distance_km / d.rtt_ms for d in res.estimate.landmarks
              if d.used and d.rtt_ms > 0 and d.max_distance_km == d.max_distance_km}
    name = res.estimate.method
    if not ratios:
        return f"not given: {name} draws no radius per landmark"
    if all(abs(r - MAX_KM_PER_RTT_MS) < 1e-6 * MAX_KM_PER_RTT_MS for r in ratios):
        return (f"the radius {name} allows for each RTT at the speed of light in vacuum (c, "
                "149.9 km per ms of RTT)")
    if all(abs(r - FIBRE_KM_PER_RTT_MS) < 1e-6 * FIBRE_KM_PER_RTT_MS for r in ratios):
        return (f"the radius {name} allows for each RTT in fibre (2/3 c, 99.9 km per ms of "
                "RTT)")
    return (f"the radius {name}'s calibrated model allows for each RTT (between "
            f"{min(ratios):.0f} and {max(ratios):.0f} km per ms of RTT; c allows 149.9)")


def _pick_target(mesh: Any, key: str) -> int:
    if key in mesh.ids:
        i = mesh.index(key)
    else:
        hits = [i for i, lab in enumerate(mesh.labels) if key.lower() in lab.lower()]
        if not hits:
            raise InputError(f"no host with id or city {key!r} in {mesh.name}", field="--target")
        i = hits[0]
    if mesh.bad[i]:
        raise InputError(f"host {mesh.ids[i]} has known-wrong coordinates; pick another",
                         field="--target")
    return i


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - convenience
    from rttgeo.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
