"""``rttgeo eval``, ``rttgeo estimate`` and ``rttgeo demo``: the estimation side of the CLI."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from rttgeo.errors import InputError


def _methods(text: str) -> list[str]:
    from rttgeo.estimate import METHODS

    if text == "all":
        return list(METHODS)
    out = [m.strip() for m in text.split(",") if m.strip()]
    for m in out:
        if m not in METHODS:
            raise InputError(f"unknown method {m!r}; choose from {', '.join(METHODS)} or 'all'")
    return out


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from rttgeo.estimate import DEFAULT_METHOD

    p = sub.add_parser(
        "eval",
        help="leave-one-out evaluation of estimators on a dataset",
        description="Each host in turn is the target and all others are landmarks; calibration "
        "is refitted without any RTT of the target. Prints median / p80 / p90 error, shares "
        "within 100 and 500 km, region coverage and area, time per target.",
    )
    p.add_argument("dataset", nargs="?", default="wonderproxy-2020",
                   help="wonderproxy-2020 (default; bundled copy if the data folder is absent) "
                   "or a folder holding the WonderProxy files")
    p.add_argument("--method", default="all", help="comma-separated methods, or 'all' (default)")
    p.add_argument("--out", type=Path, help="write the summary as CSV or JSON (by suffix)")
    p.add_argument("--per-target", type=Path, help="write per-target errors as CSV")
    p.add_argument("--plot", type=Path, help="write the error CDF of every method (PNG or SVG)")
    p.add_argument("--map", type=Path,
                   help="write maps of the worst and best targets of the first method")
    p.add_argument("--jobs", type=int, default=0, help="worker processes (default: all cores)")
    p.add_argument("--limit", type=int, default=0, help="evaluate only the first N targets")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(handler=cmd_eval)

    p = sub.add_parser(
        "estimate",
        help="estimate a position from measured RTTs",
        description="Read RTT samples (CSV: landmark, rtt_ms [, target, protocol, sent_unix_ns]) "
        "or a campaign store, and estimate where the host is.",
    )
    p.add_argument("rtts", type=Path, help="samples CSV or campaign store (SQLite)")
    p.add_argument("--landmarks", help="landmark catalog (CSV/JSON; default: bundled catalog)")
    p.add_argument("--method", default=DEFAULT_METHOD)
    p.add_argument("--target", help="target id when the CSV holds several")
    p.add_argument("--calibrate", metavar="DATASET",
                   help="fit the calibration on this dataset's mesh among the catalog's "
                   "landmarks (ids must match); default: pooled calibration")
    _outputs(p)
    p.set_defaults(handler=cmd_estimate)

    p = sub.add_parser(
        "demo",
        help="offline demo: locate a real host of the bundled WonderProxy mesh with every method",
    )
    p.add_argument("--target", help="host id or city name (default: a host in Frankfurt)")
    p.add_argument("--method", default="all", help="methods to run (default all)")
    _outputs(p)
    p.set_defaults(handler=cmd_demo)


def _outputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, help="write the estimate as JSON (region as GeoJSON)")
    p.add_argument("--geojson", type=Path, help="write the region as a GeoJSON Feature")
    p.add_argument("--map", type=Path, help="write a map (PNG or SVG)")
    p.add_argument("--report", type=Path, help="write a self-contained HTML report")


# -- eval ------------------------------------------------------------------------------------------
def cmd_eval(args: argparse.Namespace) -> int:
    from rttgeo.datasets import load
    from rttgeo.estimate.evaluate import format_table, leave_one_out, summarize

    mesh = load(args.dataset)
    methods = _methods(args.method)
    targets = [i for i in range(len(mesh)) if not mesh.bad[i]]
    if args.limit:
        targets = targets[: args.limit]
    bad = [mesh.ids[i] for i in range(len(mesh)) if mesh.bad[i]]
    print(
        f"{mesh.name}: {len(mesh)} hosts, {len(targets)} targets (excluded as targets, known-bad "
        f"coordinates: {', '.join(bad) or 'none'}); leave-one-out, calibration refitted per target"
    )
    tty = sys.stderr.isatty() and not args.quiet
    results, summaries = [], []
    t_all = time.perf_counter()
    for m in methods:
        t0 = time.perf_counter()

        def progress(k: int, n: int, m: str = m) -> None:
            if tty:
                print(f"\r{m}: {k}/{n} targets", end="", file=sys.stderr, flush=True)

        r = leave_one_out(
            mesh, m, targets=targets, progress=progress, jobs=args.jobs or None,
            keep_estimates=bool(args.map) and m == methods[0],
        )
        if tty:
            print("\r" + " " * 40 + "\r", end="", file=sys.stderr)
        results.append(r)
        summaries.append(summarize(r))
        if not args.quiet:
            print(f"  {m}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    print(format_table(summaries))
    print(f"total {time.perf_counter() - t_all:.1f} s (ms/target: fit + locate, median)")
    if args.out:
        _write_summary(args.out, summaries)
        print(f"wrote {args.out}")
    if args.per_target:
        _write_per_target(args.per_target, results)
        print(f"wrote {args.per_target}")
    if args.plot:
        from rttgeo.plot import error_cdf

        error_cdf({r.method: r.error_km for r in results}, args.plot,
                  title=f"Leave-one-out error, {mesh.name} ({len(targets)} targets)")
        print(f"wrote {args.plot}")
    if args.map:
        from rttgeo.plot import eval_grid

        r = results[0]
        ok = [k for k, e in enumerate(r.estimates) if e is not None]
        idx = [mesh.index(r.target_ids[k]) for k in ok]
        eval_grid([r.estimates[k] for k in ok], mesh.lat_deg[idx], mesh.lon_deg[idx], args.map,
                  names=[f"{mesh.ids[i]} {mesh.labels[i]}" if mesh.labels else mesh.ids[i]
                         for i in idx],
                  title=f"{r.method}: worst and best targets ({mesh.name})")
        print(f"wrote {args.map}")
    return 0


def _write_summary(path: Path, summaries: list[Any]) -> None:
    rows = [s.as_dict() for s in summaries]
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps(rows, indent=2) + "\n")
        return
    import csv

    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _write_per_target(path: Path, results: list[Any]) -> None:
    import csv

    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["method", "target", "error_km", "covered", "area_km2", "consistent",
                    "fit_ms", "locate_ms"])
        for r in results:
            for k, t in enumerate(r.target_ids):
                w.writerow([r.method, t, f"{r.error_km[k]:.3f}", int(r.covered[k]),
                            "" if math.isnan(r.area_km2[k]) else f"{r.area_km2[k]:.0f}",
                            int(r.consistent[k]), f"{r.fit_ms[k]:.2f}", f"{r.locate_ms[k]:.2f}"])


# -- estimate --------------------------------------------------------------------------------------
def cmd_estimate(args: argparse.Namespace) -> int:
    import numpy as np

    from rttgeo.catalog import resolve_catalog
    from rttgeo.estimate import make_estimator
    from rttgeo.estimate.describe import describe
    from rttgeo.models import Mesh
    from rttgeo.store import align_rtts, read_rtts

    cat_path, landmarks = resolve_catalog(args.landmarks)
    rtts = align_rtts(read_rtts(args.rtts, args.target), landmarks, str(args.rtts))
    measured = np.isfinite(rtts)
    if not measured.any():
        raise InputError("every probe in the file was lost: nothing to estimate from",
                         where=str(args.rtts))
    mesh = Mesh.from_landmarks(landmarks, name=str(cat_path))
    if args.calibrate:
        mesh = _calibration_mesh(args.calibrate, landmarks)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = make_estimator(args.method).fit(mesh)
        e = est.locate(rtts)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    print(describe(e, landmarks))
    _write_outputs(args, e, landmarks)
    return 0


def _calibration_mesh(dataset: str, landmarks: list[Any]) -> Any:
    import numpy as np

    from rttgeo.datasets import load
    from rttgeo.models import Mesh

    data = load(dataset)
    ids = [lm.id for lm in landmarks]
    missing = [i for i in ids if i not in data.ids]
    if missing:
        raise InputError(f"{len(missing)} catalog landmark(s) are not in {dataset}: "
                         f"{', '.join(missing[:8])}")
    sub = data.subset([data.index(i) for i in ids])
    return Mesh(sub.ids, np.array([lm.lat_deg for lm in landmarks]),
                np.array([lm.lon_deg for lm in landmarks]), sub.rtt_ms, sub.bad, dataset)


def _write_outputs(args: argparse.Namespace, e: Any, landmarks: list[Any],
                   truth: tuple[float, float] | None = None, summary: dict | None = None) -> None:
    if args.out:
        args.out.write_text(json.dumps(e.to_json(), indent=2) + "\n")
        print(f"wrote {args.out}")
    if args.geojson:
        from rttgeo.geo.polygon import feature_collection

        props = {"method": e.method, "area_km2": e.area_km2, "level": e.level,
                 "point": [e.lon_deg, e.lat_deg]}
        feat = feature_collection(
            [(e.region.to_geojson() if e.region is not None else None, props)]
        )
        args.geojson.write_text(json.dumps(feat) + "\n")
        print(f"wrote {args.geojson}")
    if args.map:
        from rttgeo.plot import map_estimate

        map_estimate(e, args.map, landmarks=landmarks,
                     true_lat_deg=truth[0] if truth else None,
                     true_lon_deg=truth[1] if truth else None)
        print(f"wrote {args.map}")
    if args.report:
        from rttgeo.plot import write_report

        write_report(e, args.report, true_location=truth, summary=summary, landmarks=landmarks)
        print(f"wrote {args.report}")


# -- demo ------------------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    import numpy as np

    from rttgeo.datasets import load_wonderproxy
    from rttgeo.estimate import DEFAULT_METHOD, make_estimator
    from rttgeo.estimate.delay import symmetric_rtt_ms
    from rttgeo.estimate.describe import describe
    from rttgeo.geo.sphere import distance_km

    mesh = load_wonderproxy()
    t = _pick_target(mesh, args.target or "Frankfurt")
    others = np.array([j for j in range(len(mesh)) if j != t])
    sub = mesh.subset(others)
    rtts = symmetric_rtt_ms(mesh.rtt_ms)[t, others]
    landmarks = sub.landmarks()
    truth = (float(mesh.lat_deg[t]), float(mesh.lon_deg[t]))
    order = np.argsort(np.where(np.isfinite(rtts), rtts, np.inf))[:3]
    print(
        f"rttgeo demo: where is host {mesh.ids[t]} ({mesh.labels[t]})?  Offline, with the real "
        f"WonderProxy 2020 RTTs\nfrom it to the other {len(others)} servers (their positions are "
        "known: they are the landmarks).\n"
        "Nearest by RTT: " + ", ".join(
            f"{mesh.labels[others[j]]} {rtts[j]:.1f} ms" for j in order) + ".\n"
        f"Light in fibre covers about 100 km per ms of RTT, so the {rtts[order[0]]:.1f} ms to "
        f"{mesh.labels[others[order[0]]]} already puts the host within "
        f"{rtts[order[0]] * 100:.0f} km of it.\n"
        "Each method is calibrated on the landmark-to-landmark RTTs only (never on the host's).\n"
    )
    methods = _methods(args.method)
    rows, chosen = [], None
    for m in methods:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            e = make_estimator(m).fit(sub).locate(rtts)
            ms = (time.perf_counter() - t0) * 1e3
        err = float(distance_km(e.lat_deg, e.lon_deg, *truth))
        inside = "-" if e.region is None else ("yes" if e.region.contains(*truth) else "no")
        area = "-" if math.isnan(e.area_km2) else f"{e.area_km2:,.0f}"
        rows.append((m, e.lat_deg, e.lon_deg, err, area, inside, ms))
        if m == DEFAULT_METHOD or chosen is None:
            chosen = e
    print(f"{'method':<16}{'lat':>9}{'lon':>10}{'error km':>10}{'region km2':>13}"
          f"{'truth inside':>14}{'ms':>8}")
    for m, la, lo, err, area, inside, ms in rows:
        print(f"{m:<16}{la:>9.3f}{lo:>10.3f}{err:>10,.0f}{area:>13}{inside:>14}{ms:>8.0f}")
    print(f"\ntrue location: {truth[0]:.3f}, {truth[1]:.3f} ({mesh.labels[t]})\n")
    assert chosen is not None
    print(describe(chosen, landmarks, max_landmarks=5))
    print(
        "\nRead it as: the region is every place consistent with the RTTs under the method's "
        "model;\nits area says how precise the answer is. Try `rttgeo eval` for all hosts, or "
        "`rttgeo locate`\nto measure your own machine."
    )
    _write_outputs(args, chosen, landmarks, truth=truth,
                   summary={"target": f"{mesh.ids[t]} {mesh.labels[t]}"})
    return 0


def _pick_target(mesh: Any, key: str) -> int:
    if key in mesh.ids:
        i = mesh.index(key)
    else:
        hits = [i for i, lab in enumerate(mesh.labels) if key.lower() in lab.lower()]
        if not hits:
            raise InputError(f"no host with id or city {key!r} in {mesh.name}")
        i = hits[0]
    if mesh.bad[i]:
        raise InputError(f"host {mesh.ids[i]} has known-wrong coordinates; pick another")
    return i
