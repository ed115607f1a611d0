"""``rttgeo locate``, ``measure`` and ``landmarks`` (docs/measure.md, docs/catalog.md).

The prober seam is :func:`make_prober_for` (tests replace it with a fake prober); nothing here
probes anything until a handler runs.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rttgeo.errors import MeasurementError, RttgeoError

PROTOCOL_CHOICES = ("auto", "icmp", "icmp-raw", "icmp-dgram", "tcp", "udp")


# -- seams ---------------------------------------------------------------------------------------
def make_prober_for(protocol: str, port: int | None = None, **extra: Any) -> Any:
    """A new prober for ``protocol`` (``auto`` = best available ICMP) through rttgeo.measure.

    ``extra``: prober options, e.g. ``subtract_turnaround=True`` for UDP.
    """
    from rttgeo.measure import make_prober

    opts: dict[str, Any] = dict(extra)
    if port is not None and protocol in ("tcp", "udp"):
        opts["port"] = port
    return make_prober(protocol, **opts)


def _prober(args: argparse.Namespace) -> Any:
    extra: dict[str, Any] = {}
    if getattr(args, "subtract_turnaround", False):
        if args.protocol != "udp":
            from rttgeo.errors import InputError

            raise InputError("only UDP replies carry a turnaround", field="--subtract-turnaround")
        extra["subtract_turnaround"] = True
    return make_prober_for(args.protocol, args.port, **extra)


def fetch_landmarks(date: str) -> Any:
    """Current RIPE Atlas anchors (network); replaced in tests."""
    from rttgeo.atlas import fetch_anchor_landmarks

    return fetch_anchor_landmarks(date=date)


# -- helpers -------------------------------------------------------------------------------------
def _default_store_name() -> str:
    return dt.datetime.now(dt.UTC).strftime("campaign-%Y%m%dT%H%M%SZ.db")


def _load(path: str | None) -> tuple[Path, list[Any]]:
    from rttgeo.catalog import resolve_catalog

    return resolve_catalog(path)


def _for_protocol(landmarks: list[Any], protocol: str) -> list[Any]:
    base = protocol.split("-")[0]
    if base in ("fake", "replay"):
        return landmarks
    usable = [lm for lm in landmarks if base in lm.protocols and lm.address]
    if not usable:
        raise MeasurementError(
            f"the catalog lists no landmark (with an address) that answers {base}; pick another "
            "--protocol or a catalog whose 'protocols' column includes it"
        )
    return usable


def _params(args: argparse.Namespace) -> Any:
    from rttgeo.measure import CampaignParams

    try:
        return CampaignParams(
            k=args.k,
            concurrency=args.concurrency,
            rate_per_s=args.rate if args.rate > 0 else math.inf,
            timeout_s=args.timeout,
            retries=args.retries,
            landmark_interval_s=args.interval,
        )
    except ValueError as exc:
        from rttgeo.errors import InputError

        raise InputError(str(exc)) from None


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
        help="probe protocol (default: auto = ICMP echo, raw or datagram socket)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=None,
        help="TCP/UDP port for landmarks whose catalog entry has none",
    )
    p.add_argument("-k", type=int, default=3, help="samples per landmark (default 3)")
    p.add_argument(
        "--timeout",
        type=float,
        default=2.0,
        metavar="S",
        help="per-probe timeout in seconds (default 2)",
    )
    p.add_argument("--retries", type=int, default=1, help="retries of a lost probe (default 1)")
    p.add_argument(
        "--concurrency", type=int, default=1024, help="probes in flight at most (default 1024)"
    )
    p.add_argument(
        "--rate",
        type=float,
        default=4000.0,
        metavar="PPS",
        help="global send rate limit in probes/s (default 4000; 0 = none)",
    )
    p.add_argument(
        "--interval",
        type=float,
        default=0.1,
        metavar="S",
        help="minimum gap between two probes to the same landmark (default 0.1 s)",
    )
    p.add_argument(
        "--limit",
        type=int,
        default=None,
        metavar="N",
        help="probe only N landmarks spread over the catalog (farthest-point sample)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--subtract-turnaround",
        action="store_true",
        help="UDP: subtract the time each landmark server says it held the request (only for "
        "servers you trust, e.g. your own or a lab's: a lying server could look closer)",
    )


def register(sub: Any) -> None:
    """Add ``locate``, ``measure`` and ``landmarks`` to the ``rttgeo`` subcommands."""
    p = sub.add_parser(
        "locate",
        help="measure RTTs to landmarks and estimate where this host is",
        description="Probe landmarks from this host, then estimate its position.",
    )
    _add_common(p)
    p.add_argument(
        "--method",
        default=None,
        help="estimation method (see 'rttgeo estimate --help'; default: the best)",
    )
    p.add_argument(
        "--out", metavar="FILE", help="write the estimate as JSON (or GeoJSON for a .geojson name)"
    )
    p.add_argument("--store", metavar="FILE", help="also keep every sample in this campaign store")
    p.add_argument("--map", metavar="FILE", help="write a map of the estimate (PNG or SVG)")
    p.add_argument("--report", metavar="FILE", help="write a self-contained HTML report")
    p.add_argument(
        "--two-stage",
        action="store_true",
        help="probe a spread of landmarks first, then those nearest the coarse estimate",
    )
    p.add_argument("--first", type=int, default=30, help="two-stage: landmarks in stage 1")
    p.add_argument("--second", type=int, default=30, help="two-stage: landmarks in stage 2")
    p.add_argument(
        "--first-timeout",
        type=float,
        default=1.5,
        metavar="S",
        help="timeout of the quick first wave that detects 'nothing answers' (1.5)",
    )
    p.set_defaults(handler=cmd_locate)

    p = sub.add_parser(
        "measure",
        help="run a measurement campaign into a store (no estimate)",
        description="Probe landmarks k times each; every sample goes to --store.",
    )
    _add_common(p)
    p.add_argument(
        "--store", metavar="FILE", help="campaign store (SQLite); default campaign-<UTC time>.db"
    )
    p.add_argument("--target", default="self", help="label of the measuring host (default self)")
    p.add_argument("--csv", metavar="FILE", help="also export the samples as CSV")
    p.set_defaults(handler=cmd_measure)

    p = sub.add_parser("landmarks", help="list, show, check or refresh landmark catalogs")
    lsub = p.add_subparsers(dest="landmarks_cmd", metavar="ACTION")
    q = lsub.add_parser("list", help="list the landmarks of a catalog")
    q.add_argument("--landmarks", metavar="CATALOG", help="catalog (default: bundled)")
    q.add_argument("--country", help="only this ISO country code")
    q.add_argument("--json", action="store_true", help="JSON output")
    q.set_defaults(handler=cmd_landmarks_list)
    q = lsub.add_parser("show", help="show one landmark, or the catalog's summary without ID")
    q.add_argument("id", nargs="?")
    q.add_argument("--landmarks", metavar="CATALOG", help="catalog (default: bundled)")
    q.set_defaults(handler=cmd_landmarks_show)
    q = lsub.add_parser("check", help="validate a catalog file (errors name line and field)")
    q.add_argument("catalog")
    q.set_defaults(handler=cmd_landmarks_check)
    q = lsub.add_parser("refresh", help="fetch the current RIPE Atlas anchors into a catalog")
    q.add_argument(
        "--out", metavar="FILE", help="output catalog (default atlas-anchors-<date>.csv)"
    )
    q.set_defaults(handler=cmd_landmarks_refresh)
    p.set_defaults(handler=lambda a: (p.print_help(), 1)[1])


# -- measure -------------------------------------------------------------------------------------
def _spread(landmarks: list[Any], limit: int | None) -> list[Any]:
    if limit is None or limit >= len(landmarks):
        return landmarks
    if limit < 1:
        from rttgeo.errors import InputError

        raise InputError("--limit must be >= 1")
    from rttgeo.measure import farthest_point_indices

    idx = farthest_point_indices(
        [lm.lat_deg for lm in landmarks], [lm.lon_deg for lm in landmarks], limit
    )
    return [landmarks[i] for i in sorted(idx)]


def cmd_measure(args: argparse.Namespace) -> int:
    from rttgeo.catalog import file_sha256
    from rttgeo.measure import Campaign, probe_wave
    from rttgeo.measure.progress import make_progress
    from rttgeo.store import CampaignStore

    cat_path, catalog = _load(args.landmarks)
    params = _params(args)
    prober = _prober(args)
    landmarks = _spread(_for_protocol(catalog, prober.protocol), args.limit)
    store_path = Path(args.store or _default_store_name())
    store = CampaignStore(store_path)
    cid = store.begin_campaign(
        target=args.target,
        protocol=prober.protocol,
        catalog_path=cat_path,
        catalog_sha256=file_sha256(cat_path),
        params={**params.as_dict(), "n_landmarks": len(landmarks), "command": "measure"},
    )
    progress = make_progress(len(landmarks) * params.k, quiet=args.quiet)
    camp = Campaign(
        prober, params, store=store, campaign_id=cid, target=args.target, progress=progress
    )
    print(
        f"probing {len(landmarks)} landmarks x {params.k} ({prober.protocol}) "
        f"into {store_path} (campaign {cid})",
        file=sys.stderr,
    )

    async def go() -> None:
        async with prober:
            from rttgeo.measure import farthest_point_indices

            wave_idx = farthest_point_indices(
                [lm.lat_deg for lm in landmarks], [lm.lon_deg for lm in landmarks], 30
            )
            await probe_wave(
                camp, [landmarks[i] for i in wave_idx], timeout_s=min(params.timeout_s, 1.5)
            )
            await camp.run(landmarks)

    status = "failed"
    t0 = time.monotonic()
    try:
        asyncio.run(go())
        status = "complete"
    except KeyboardInterrupt:
        status = "interrupted"
        print(f"interrupted: {len(camp.samples)} samples kept in {store_path}", file=sys.stderr)
        raise
    finally:
        progress.close()
        store.end_campaign(cid, status)
        store.close()
    res = camp.result([lm.id for lm in landmarks], status, time.monotonic() - t0)
    answered = len(res.answered)
    print(
        f"{res.n_sent} samples, {res.n_lost} lost, {answered}/{len(landmarks)} landmarks "
        f"answered in {res.elapsed_s:.1f} s; store {store_path} campaign {cid}"
    )
    for detail, n in res.errors.most_common(3):
        print(f"  {n} probe error(s): {detail}", file=sys.stderr)
    if args.csv:
        with CampaignStore(store_path) as s:
            n = s.export_csv(args.csv, cid)
        print(f"wrote {n} samples to {args.csv}")
    return 0


# -- locate --------------------------------------------------------------------------------------
def confidence(est: Any, n_answered: int, best_rtt_ms: float) -> dict[str, Any]:
    """A plain-words grade of an estimate: ``high`` / ``medium`` / ``low`` and why.

    Grade from the region's area (<= 50,000 km²: high; <= 1,000,000 km²: medium; else low),
    lowered to low when the constraints are inconsistent or fewer than 3 landmarks answered. The
    nearest landmark bounds the distance to it by the speed of light in fibre (about 100 km per ms
    of RTT) and in vacuum (149.9 km per ms; the sound bound).
    """
    from rttgeo.units import rtt_ms_to_max_distance_km

    area = est.area_km2
    reasons = []
    if not math.isfinite(area):
        grade = "low"
        reasons.append("the method gives no region")
    elif area <= 5e4:
        grade = "high"
    elif area <= 1e6:
        grade = "medium"
    else:
        grade = "low"
    if math.isfinite(area):
        reasons.append(f"region of {area:,.0f} km²")
    if not est.consistent:
        grade = "low"
        reasons.append("the landmarks' constraints do not agree (" + (est.note or "") + ")")
    if n_answered < 3:
        grade = "low"
        reasons.append(f"only {n_answered} landmark(s) answered")
    out: dict[str, Any] = {"grade": grade, "reasons": reasons}
    if math.isfinite(best_rtt_ms):
        out["nearest_rtt_ms"] = best_rtt_ms
        out["nearest_within_km_fibre"] = rtt_ms_to_max_distance_km(best_rtt_ms, 2.0 / 3.0)
        out["nearest_within_km_vacuum"] = rtt_ms_to_max_distance_km(best_rtt_ms, 1.0)
    return out


def _fmt_lat_lon(lat: float, lon: float) -> str:
    return f"{abs(lat):.3f}°{'N' if lat >= 0 else 'S'} {abs(lon):.3f}°{'E' if lon >= 0 else 'W'}"


def cmd_locate(args: argparse.Namespace) -> int:
    import numpy as np

    from rttgeo.catalog import file_sha256
    from rttgeo.estimate import DEFAULT_METHOD, METHODS, make_estimator
    from rttgeo.measure import Campaign, probe_wave, two_stage
    from rttgeo.measure.progress import make_progress
    from rttgeo.measure.selection import farthest_point_indices, rtt_vector
    from rttgeo.models import Mesh
    from rttgeo.store import CampaignStore

    method = args.method or DEFAULT_METHOD
    if method not in METHODS:
        from rttgeo.errors import InputError

        raise InputError(
            f"unknown method {method!r}; choose from {', '.join(METHODS)}", field="--method"
        )
    cat_path, catalog = _load(args.landmarks)
    params = _params(args)
    prober = _prober(args)
    landmarks = _spread(_for_protocol(catalog, prober.protocol), args.limit)
    estimator = make_estimator(method).fit(Mesh.from_landmarks(landmarks))

    store = CampaignStore(args.store) if args.store else None
    cid = None
    if store is not None:
        cid = store.begin_campaign(
            protocol=prober.protocol,
            catalog_path=cat_path,
            catalog_sha256=file_sha256(cat_path),
            params={
                **params.as_dict(),
                "n_landmarks": len(landmarks),
                "command": "locate",
                "method": method,
                "two_stage": args.two_stage,
            },
        )
    progress = make_progress(0, quiet=args.quiet)
    camp = Campaign(prober, params, store=store, campaign_id=cid, progress=progress)
    state: dict[str, Any] = {}

    async def go() -> np.ndarray:
        async with prober:
            if args.two_stage:
                res = await two_stage(
                    camp,
                    landmarks,
                    estimator,
                    first_n=args.first,
                    second_n=args.second,
                    first_timeout_s=args.first_timeout,
                )
                state["two_stage"] = {
                    "first": [landmarks[i].id for i in res.first_idx],
                    "second": [landmarks[i].id for i in res.second_idx],
                    "coarse_point": {
                        "lat_deg": float(res.coarse.lat_deg),
                        "lon_deg": float(res.coarse.lon_deg),
                    },
                }
                return res.rtts_ms
            wave = farthest_point_indices(
                [lm.lat_deg for lm in landmarks], [lm.lon_deg for lm in landmarks], args.first
            )
            progress.add_total(len(wave) + len(landmarks) * params.k)
            await probe_wave(camp, [landmarks[i] for i in wave], timeout_s=args.first_timeout)
            await camp.run(landmarks)
            return rtt_vector(landmarks, camp)

    status = "failed"
    t0 = time.monotonic()
    try:
        rtts = asyncio.run(go())
        status = "complete"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        progress.close()
        if store is not None and cid is not None:
            store.end_campaign(cid, status)
            store.close()
    elapsed = time.monotonic() - t0
    n_probed = len({s.landmark for s in camp.samples})
    answered = np.isfinite(rtts)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = estimator.locate(rtts)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    best = int(np.nanargmin(rtts))
    conf = confidence(est, int(answered.sum()), float(rtts[best]))
    used = [d for d in est.landmarks if d.used]

    print(
        f"rttgeo locate: {method}, {prober.protocol}, {int(answered.sum())} of {n_probed} "
        f"probed landmarks answered ({len(camp.samples)} probes, {elapsed:.1f} s)"
    )
    print(f"  point       {_fmt_lat_lon(est.lat_deg, est.lon_deg)}")
    if est.region is not None and math.isfinite(est.area_km2):
        kind = "feasible region" if est.level is None else f"{est.level:.0%} region"
        print(f"  region      {est.area_km2:,.0f} km² ({kind})")
    nearest = landmarks[best]
    where = _fmt_lat_lon(nearest.lat_deg, nearest.lon_deg)
    print(
        f"  nearest     {nearest.id} {nearest.country} at {where}: {rtts[best]:.2f} ms, so within "
        f"{conf['nearest_within_km_fibre']:,.0f} km (fibre) / "
        f"{conf['nearest_within_km_vacuum']:,.0f} km (vacuum)"
    )
    print(
        f"  landmarks   {len(used)} used: "
        + ", ".join(f"{d.id} {d.rtt_ms:.1f} ms" for d in sorted(used, key=lambda d: d.rtt_ms)[:8])
        + (" ..." if len(used) > 8 else "")
    )
    print(f"  confidence  {conf['grade']}: {'; '.join(conf['reasons'])}")
    if not est.consistent and est.note:
        print(f"  note        {est.note}")
    if args.out:
        _write_out(
            Path(args.out),
            est,
            conf,
            {
                "protocol": prober.protocol,
                "k": params.k,
                "probes": len(camp.samples),
                "landmarks_probed": n_probed,
                "landmarks_answered": int(answered.sum()),
                "catalog": str(cat_path),
                "store": args.store,
                "campaign_id": cid,
                "elapsed_s": round(elapsed, 3),
                **state,
            },
        )
        print(f"wrote {args.out}")
    if args.map:
        from rttgeo.plot import map_estimate

        map_estimate(est, args.map, landmarks=landmarks, title=f"rttgeo locate ({method})")
        print(f"wrote {args.map}")
    if args.report:
        from rttgeo.plot import write_report

        write_report(est, args.report, landmarks=landmarks,
                     summary={"confidence": conf["grade"], "protocol": prober.protocol,
                              "landmarks answered": int(answered.sum()), "catalog": str(cat_path)})
        print(f"wrote {args.report}")
    return 0


def _write_out(path: Path, est: Any, conf: dict[str, Any], meas: dict[str, Any]) -> None:
    doc = est.to_json()
    if path.suffix.lower() == ".geojson":
        region = doc.pop("region", None)
        feats = [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [est.lon_deg, est.lat_deg]},
                "properties": {
                    "kind": "point",
                    **{k: v for k, v in doc.items() if k != "landmarks"},
                    "confidence": conf,
                    "measurement": meas,
                },
            }
        ]
        if region is not None:
            feats.append(
                {
                    "type": "Feature",
                    "geometry": region,
                    "properties": {"kind": "region", "area_km2": doc["area_km2"]},
                }
            )
        out: dict[str, Any] = {"type": "FeatureCollection", "features": feats}
    else:
        out = {"estimate": doc, "confidence": conf, "measurement": meas}
    try:
        path.write_text(json.dumps(out, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise RttgeoError(f"cannot write {path}: {exc.strerror}") from None


# -- landmarks -----------------------------------------------------------------------------------
def cmd_landmarks_list(args: argparse.Namespace) -> int:
    path, landmarks = _load(args.landmarks)
    if args.country:
        landmarks = [lm for lm in landmarks if lm.country.upper() == args.country.upper()]
    if args.json:
        from rttgeo.catalog import landmark_record

        print(json.dumps([landmark_record(lm) for lm in landmarks], indent=1))
        return 0
    print(f"# {len(landmarks)} landmarks from {path}")
    for lm in landmarks:
        print(
            f"{lm.id:<16} {lm.lat_deg:9.4f} {lm.lon_deg:10.4f}  {lm.country:<3} "
            f"{lm.address}{'' if lm.port is None else ':' + str(lm.port)}  "
            f"{','.join(lm.protocols)}"
        )
    return 0


def cmd_landmarks_show(args: argparse.Namespace) -> int:
    from collections import Counter

    from rttgeo.catalog import file_sha256

    path, landmarks = _load(args.landmarks)
    if args.id is None:
        countries = Counter(lm.country for lm in landmarks)
        sources = Counter(lm.source for lm in landmarks)
        print(f"catalog    {path}")
        print(f"sha256     {file_sha256(path)}")
        print(
            f"landmarks  {len(landmarks)} in {len(countries)} countries "
            f"(most: {', '.join(f'{c} {n}' for c, n in countries.most_common(5))})"
        )
        protos = Counter(p for lm in landmarks for p in lm.protocols)
        print(f"protocols  {', '.join(f'{p} {n}' for p, n in protos.most_common())}")
        for s, n in sources.most_common(3):
            print(f"source     {s or '(none)'} ({n})")
        return 0
    for lm in landmarks:
        if lm.id == args.id:
            for k in (
                "id",
                "lat_deg",
                "lon_deg",
                "address",
                "port",
                "protocols",
                "country",
                "source",
            ):
                v = getattr(lm, k)
                text = ",".join(v) if isinstance(v, tuple) else ("-" if v in (None, "") else v)
                print(f"{k:<10} {text}")
            return 0
    from rttgeo.errors import CatalogError

    raise CatalogError(f"no landmark with id {args.id!r}", where=str(path), field="id")


def cmd_landmarks_check(args: argparse.Namespace) -> int:
    from rttgeo.catalog import load_catalog

    landmarks = load_catalog(args.catalog)
    print(f"{args.catalog}: {len(landmarks)} landmarks, valid")
    return 0


def cmd_landmarks_refresh(args: argparse.Namespace) -> int:
    from rttgeo.catalog import load_catalog, save_catalog

    date = dt.datetime.now(dt.UTC).date().isoformat()
    landmarks = fetch_landmarks(date)
    out = Path(args.out or f"atlas-anchors-{date}.csv")
    save_catalog(landmarks, out)
    n = len(load_catalog(out))
    print(f"wrote {n} RIPE Atlas anchors (fetched {date}) to {out}; use it with --landmarks {out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - convenience
    from rttgeo.cli import main as cli_main

    return cli_main(argv)
