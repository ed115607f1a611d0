"""RIPE Atlas verbs: locate addresses from many vantage points, import public results, build the
anchor mesh (``rttgeo atlas locate|fetch|mesh``; docs/atlas.md).

- :func:`plan_locate` / :func:`atlas_locate`: the two-stage choice of vantage points (a first wave
  spread over the world, then the ones nearest the first estimate; IMC 2023 replication of CBG on
  RIPE Atlas), one-off pings created through the API, results awaited, stored as samples (vantage
  point = landmark ``atlas-<probe id>``, address = target) and estimated with any method. Every
  measurement id is committed to the store before its results are awaited: an interrupted run
  resumes from those ids instead of paying again.
- :func:`atlas_fetch`: results of existing public measurements (no key), e.g. the anchoring mesh.
- :func:`atlas_mesh`: a Mesh of anchor-to-anchor minimum RTTs from fetched anchoring-mesh samples,
  saved as Parquet, for per-landmark calibration.

Vantage points whose RTTs contradict their declared positions are found by the estimate room's own
speed-of-light checks (at fit time on a calibration mesh, and per target at locate time); they are
reported, and left out of every later choice of the run.
"""

from __future__ import annotations

import ipaddress
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rttgeo.errors import EstimationError, InputError, RttgeoWarning, StoreError
from rttgeo.models import Estimate, Mesh

__all__ = [
    "AtlasPlan",
    "FetchResult",
    "LocateOutcome",
    "LocateResult",
    "MeshResult",
    "TargetPlan",
    "atlas_fetch",
    "atlas_locate",
    "atlas_mesh",
    "plan_locate",
]

SERVICE = "ripe-atlas"


# -- values --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TargetPlan:
    """One target's share of a plan: its first-wave vantage points (landmark ids) and what is due."""

    target: str
    af: int
    first_wave: tuple[str, ...]
    second_n: int
    resumed_msm_ids: tuple[int, ...] = ()
    done: bool = False


@dataclass(frozen=True, slots=True)
class AtlasPlan:
    """What a run will do and cost (credits as documented in :mod:`rttgeo.atlas.plan`)."""

    targets: tuple[TargetPlan, ...]
    packets: int
    n_vantage_points: dict[int, int]
    new_measurements: int
    new_results: int
    credits: int
    waves: int
    max_concurrent: int
    balance: int | None
    ok: bool
    problems: tuple[str, ...]
    rejected: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, eq=False)
class LocateOutcome:
    """One target: its campaign, measurements, samples and estimate (or why there is none)."""

    target: str
    campaign_id: int
    msm_ids: tuple[int, ...]
    n_samples: int
    n_lost: int
    n_vantage_points: int
    estimate: Estimate | None
    error: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class LocateResult:
    """Everything ``rttgeo atlas locate`` shows."""

    plan: AtlasPlan
    outcomes: tuple[LocateOutcome, ...]
    created: int
    resumed: int
    flagged: dict[str, str]
    store: str


@dataclass(frozen=True, slots=True)
class FetchResult:
    """Measurements fetched (``msm_id -> samples``), skipped as already stored, and lines skipped."""

    store: str
    fetched: dict[int, int]
    already: tuple[int, ...]
    skipped: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True, eq=False)
class MeshResult:
    """The mesh written, and the anchors the speed-of-light check flagged (id -> why)."""

    mesh: Mesh
    path: str
    n_samples: int
    n_pairs: int
    flagged: dict[str, str]
    unknown_targets: tuple[str, ...]


# -- helpers -------------------------------------------------------------------------------------
def _sleep(seconds: float) -> None:
    """The wait between status polls (a module-level seam the tests replace)."""
    time.sleep(seconds)


def _af(target: str) -> int:
    try:
        return ipaddress.ip_address(target).version
    except ValueError:
        raise InputError(f"{target!r} is not an IPv4 or IPv6 address", field="ADDRESS") from None


def _open_store(path: str | Path) -> Any:
    from rttgeo.store import CampaignStore

    p = Path(path)
    if p.exists() and not p.is_file():
        raise StoreError(f"{p}: not a file")
    return CampaignStore(p)


def _locate_campaigns(store: Any) -> dict[str, Any]:
    """Latest atlas-locate campaign per target."""
    out: dict[str, Any] = {}
    for info in store.campaigns():
        if info.params.get("kind") == "atlas-locate":
            out[info.target] = info
    return out


def _wait_and_fetch(client: Any, store: Any, recs: Sequence[Any], *, poll_s: float,
                    timeout_s: float, sleep: Callable[[float], None]) -> None:
    """Wait until every measurement of ``recs`` is final (or the time is up), store its results."""
    from rttgeo.atlas.results import result_samples
    from rttgeo.store import add_samples, mark_fetched

    pending = {r.msm_id: r for r in recs if not r.fetched}
    # poll_s = 0 (tests, replays): no sleeping, at most 10,000 status rounds
    max_rounds = max(1, math.ceil(timeout_s / poll_s)) if poll_s > 0 else 10_000
    rounds = 0
    while pending:
        done = [m for m in pending if client.status(m).final]
        if len(done) < len(pending) and rounds + 1 < max_rounds:
            rounds += 1
            sleep(poll_s)
            if not done:
                continue
        else:
            done = list(pending)  # time is up: take what has come
        for m in done:
            rec = pending.pop(m)
            samples = []
            for k, raw in enumerate(client.results(m)):
                samples.extend(result_samples(raw, f"measurement {m} result {k + 1}",
                                              lambda w, why: None))
            add_samples(store, rec.campaign_id, samples)
            mark_fetched(store, SERVICE, m)


def _calibration_mesh(landmarks: Sequence[Any], calibration: Mesh | None) -> Mesh:
    mesh = Mesh.from_landmarks(landmarks, name="ripe-atlas vantage points")
    if calibration is None:
        return mesh
    idx = {h: k for k, h in enumerate(calibration.ids)}
    pos = [idx.get(lm.id, -1) for lm in landmarks]
    have = np.array([p >= 0 for p in pos])
    p = np.array([max(q, 0) for q in pos])
    rtt = calibration.rtt_ms[np.ix_(p, p)].copy()
    rtt[~have, :] = np.nan
    rtt[:, ~have] = np.nan
    return Mesh(mesh.ids, mesh.lat_deg, mesh.lon_deg, rtt, mesh.bad, calibration.name)


# -- plan ----------------------------------------------------------------------------------------
def _vantage(client: Any, include_probes: bool) -> tuple[dict[int, list[Any]], dict[str, int]]:
    from rttgeo.atlas.vantage import vantage_points

    filters: dict[str, Any] = {"status": 1}
    if not include_probes:
        filters["is_anchor"] = True
    records = client.probes(**filters)
    out: dict[int, list[Any]] = {}
    rejected: dict[str, int] = {}
    for af in (4, 6):
        vps, why = vantage_points(records, af=af)
        out[af] = vps
        for k, v in why.items():
            rejected[f"IPv{af}: {k}"] = v
    return out, rejected


def plan_locate(
    targets: Sequence[str],
    *,
    client: Any,
    store: str | Path | None = None,
    first_n: int = 30,
    second_n: int = 30,
    packets: int = 3,
    include_probes: bool = True,
    limits: Any = None,
    exclude: Sequence[str] = (),
    _vps: tuple[dict[int, list[Any]], dict[str, int]] | None = None,
) -> AtlasPlan:
    """The plan of :func:`atlas_locate` (nothing is created or written): vantage points, packets,
    credits, and the check against RIPE Atlas's limits (and the key owner's balance with a key)."""
    from rttgeo.atlas.plan import AtlasLimits, LimitCheck, run_credits
    from rttgeo.atlas.vantage import first_wave
    from rttgeo.store import remote_measurements

    limits = limits or AtlasLimits()
    if not targets:
        raise InputError("no target address given", field="ADDRESS")
    if first_n < 1 or second_n < 0 or packets < 1:
        raise InputError("--first must be >= 1, --second >= 0, --packets >= 1")
    afs = {t: _af(t) for t in targets}
    if len(set(targets)) != len(targets):
        raise InputError("a target address is given twice", field="ADDRESS")
    vps, rejected = _vps or _vantage(client, include_probes)
    resumed: dict[str, list[Any]] = {}
    done: set[str] = set()
    if store is not None and Path(store).is_file():
        from rttgeo.store import open_readonly

        with open_readonly(store) as st:  # a plan never writes
            camps = _locate_campaigns(st)
            for t, info in camps.items():
                resumed[t] = remote_measurements(st, service=SERVICE, campaign_id=info.id)
                if info.status == "complete":
                    done.add(t)
    plans = []
    new_msm = new_results = 0
    for t in targets:
        pool = [v for v in vps[afs[t]] if v.landmark_id not in set(exclude)]
        if not pool:
            raise InputError(f"no usable IPv{afs[t]} vantage point for {t}")
        recs = resumed.get(t, [])
        stages = {r.stage for r in recs}
        first = tuple(pool[i].landmark_id for i in first_wave(pool, first_n))
        if 1 in stages:
            first = next(r.vantage_points for r in recs if r.stage == 1)
        due_first = 0 if 1 in stages else len(first)
        due_second = 0 if (2 in stages or second_n == 0) else min(second_n, len(pool) - len(first))
        new_msm += (due_first > 0) + (due_second > 0)
        new_results += due_first + due_second
        plans.append(TargetPlan(t, afs[t], first, due_second,
                                tuple(r.msm_id for r in recs), t in done))
    credits = run_credits(new_results, packets)
    balance = None
    if client.has_key:
        balance = int(client.credits().get("current_balance", 0))
    check = LimitCheck.of(credits=credits, probes_per_measurement=max(first_n, second_n),
                          limits=limits, balance=balance)
    per_wave = max(1, limits.max_concurrent)
    waves = math.ceil(len(targets) / per_wave) * (1 + (second_n > 0))
    return AtlasPlan(tuple(plans), packets, {af: len(v) for af, v in vps.items()}, new_msm,
                     new_results, credits, waves, per_wave, balance, check.ok, check.problems,
                     rejected)


# -- locate --------------------------------------------------------------------------------------
def atlas_locate(
    targets: Sequence[str],
    *,
    client: Any,
    store: str | Path,
    method: str = "rttgeo",
    first_n: int = 30,
    second_n: int = 30,
    packets: int = 3,
    include_probes: bool = True,
    calibration: Mesh | None = None,
    limits: Any = None,
    poll_s: float = 30.0,
    timeout_s: float = 900.0,
    sleep: Callable[[float], None] | None = None,
    description: str = "rttgeo atlas locate",
) -> LocateResult:
    """Locate ``targets`` (IPv4 / IPv6 addresses) from RIPE Atlas vantage points (module doc).

    ``client``: an :class:`rttgeo.atlas.AtlasClient` (a key is needed to create measurements).
    ``calibration``: an anchor mesh (``rttgeo atlas mesh``) to fit the estimator per landmark;
    default: pooled calibration. Raises InputError when the plan breaks RIPE Atlas's limits.
    """
    from rttgeo.atlas.plan import AtlasLimits
    from rttgeo.atlas.vantage import second_wave, to_landmarks
    from rttgeo.estimate import make_estimator
    from rttgeo.store import record_remote_measurement, remote_measurements

    limits = limits or AtlasLimits()
    sleep = sleep or _sleep
    try:
        make_estimator(method)
    except ValueError as exc:
        raise InputError(str(exc), field="--method") from None
    vps_all = _vantage(client, include_probes)
    plan = plan_locate(targets, client=client, store=store, first_n=first_n, second_n=second_n,
                       packets=packets, include_probes=include_probes, limits=limits,
                       _vps=vps_all)
    if not plan.ok:
        raise InputError("the plan breaks RIPE Atlas's limits: " + "; ".join(plan.problems))
    vps = vps_all[0]
    flagged: dict[str, str] = {}
    fitted: dict[int, tuple[Any, list[Any], Mesh]] = {}

    def estimator(af: int) -> tuple[Any, list[Any], Mesh]:
        if af not in fitted:
            lms = to_landmarks(vps[af])
            mesh = _calibration_mesh(lms, calibration)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RttgeoWarning)  # reported through ``flagged``
                est = make_estimator(method).fit(mesh)
            for lid, why in getattr(est, "excluded_", {}).items():
                flagged.setdefault(lid, "calibration mesh: " + why)
            fitted[af] = (est, lms, mesh)
        return fitted[af]

    def locate(cid: int, af: int, st: Any) -> tuple[Estimate, int]:
        est, lms, _ = estimator(af)
        ids, rtts = st.min_rtts(cid, [lm.id for lm in lms])
        for k, lid in enumerate(ids):
            if lid in flagged:
                rtts[k] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RttgeoWarning)  # reported through ``flagged``
            e = est.locate(rtts)
        for d in e.landmarks:  # the estimate room's speed-of-light check, as it reported it
            if not d.used and d.note.startswith("left out: "):
                flagged.setdefault(d.id, f"RTT {d.rtt_ms:.1f} ms: "
                                   + d.note.removeprefix("left out: "))
        return e, int(np.isfinite(rtts).sum())

    created = 0
    with _open_store(store) as st:
        camps = _locate_campaigns(st)
        cid_of: dict[str, int] = {}
        for tp in plan.targets:
            info = camps.get(tp.target)
            if info is not None:
                cid_of[tp.target] = info.id
            else:
                cid_of[tp.target] = st.begin_campaign(
                    target=tp.target, protocol="icmp",
                    params={"kind": "atlas-locate", "method": method, "first": first_n,
                            "second": second_n, "packets": packets, "service": SERVICE},
                    host=f"RIPE Atlas ({client.server})")

        def recs_of(t: str) -> dict[int, Any]:
            return {r.stage: r for r in remote_measurements(st, service=SERVICE,
                                                            campaign_id=cid_of[t])}

        def run_stage(stage: int, choose: Callable[[TargetPlan], tuple[str, ...]]) -> None:
            nonlocal created
            todo = [tp for tp in plan.targets if stage not in recs_of(tp.target) and not tp.done]
            for start in range(0, len(todo), limits.max_concurrent):
                wave = todo[start:start + limits.max_concurrent]
                for tp in wave:
                    chosen = choose(tp)
                    if not chosen:
                        continue
                    msm = client.create_ping(
                        target=tp.target, af=tp.af,
                        probe_ids=[int(v.split("-", 1)[1]) for v in chosen], packets=packets,
                        description=f"{description} (stage {stage})")
                    record_remote_measurement(st, cid_of[tp.target], service=SERVICE, msm_id=msm,
                                              target=tp.target, stage=stage, vantage_points=chosen,
                                              packets=packets)
                    created += 1
                pending = [r for tp in plan.targets for r in recs_of(tp.target).values()
                           if not r.fetched]
                _wait_and_fetch(client, st, pending, poll_s=poll_s, timeout_s=timeout_s,
                                sleep=sleep)
            # measurements created by an interrupted run and never fetched
            pending = [r for tp in plan.targets for r in recs_of(tp.target).values()
                       if not r.fetched]
            if pending:
                _wait_and_fetch(client, st, pending, poll_s=poll_s, timeout_s=timeout_s,
                                sleep=sleep)

        run_stage(1, lambda tp: tuple(v for v in tp.first_wave if v not in flagged))

        def second(tp: TargetPlan) -> tuple[str, ...]:
            if second_n == 0:
                return ()
            try:
                coarse, _ = locate(cid_of[tp.target], tp.af, st)
            except EstimationError:
                return ()  # nothing answered the first wave: no second wave to aim
            pool = vps[tp.af]
            taken = set(recs_of(tp.target)[1].vantage_points) | set(flagged)
            excl = [k for k, v in enumerate(pool) if v.landmark_id in taken]
            idx = second_wave(pool, coarse.lat_deg, coarse.lon_deg, second_n, exclude=excl,
                              region=coarse.region)
            return tuple(pool[k].landmark_id for k in idx)

        run_stage(2, second)
        outcomes = []
        for tp in plan.targets:
            cid = cid_of[tp.target]
            rows = list(st.iter_rows(cid))
            n_lost = sum(r["rtt_ms"] is None for r in rows)
            msm_ids = tuple(r.msm_id for r in sorted(recs_of(tp.target).values(),
                                                     key=lambda r: r.stage))
            try:
                e, n_vp = locate(cid, tp.af, st)
                outcomes.append(LocateOutcome(tp.target, cid, msm_ids, len(rows), n_lost, n_vp, e))
            except EstimationError as exc:
                outcomes.append(LocateOutcome(tp.target, cid, msm_ids, len(rows), n_lost, 0, None,
                                              str(exc)))
            st.end_campaign(cid, "complete")
    resumed = sum(len(tp.resumed_msm_ids) for tp in plan.targets)
    return LocateResult(plan, tuple(outcomes), created, resumed, flagged, str(store))


# -- fetch / mesh --------------------------------------------------------------------------------
def atlas_fetch(msm_ids: Sequence[int], *, client: Any, store: str | Path) -> FetchResult:
    """Store the results of public measurements ``msm_ids`` (one campaign each; no key needed).

    A measurement already fetched into this store is not fetched again.
    """
    from rttgeo.atlas.results import result_samples
    from rttgeo.store import (
        add_samples,
        mark_fetched,
        record_remote_measurement,
        remote_measurements,
    )

    if not msm_ids:
        raise InputError("no measurement id given", field="MSM_ID")
    fetched: dict[int, int] = {}
    already: list[int] = []
    skipped: list[tuple[str, str]] = []
    with _open_store(store) as st:
        have = {r.msm_id for r in remote_measurements(st, service=SERVICE) if r.fetched}
        for m in msm_ids:
            if m in have:
                already.append(m)
                continue
            raw = client.results(m)
            samples = []
            vps: set[str] = set()
            targets: set[str] = set()
            for k, r in enumerate(raw):
                for s in result_samples(r, f"measurement {m} result {k + 1}",
                                        lambda w, why: skipped.append((w, why))):
                    samples.append(s)
                    vps.add(s.landmark)
                    targets.add(s.target)
            cid = st.begin_campaign(
                target=next(iter(targets)) if len(targets) == 1 else f"{len(targets)} targets",
                protocol="icmp", host=f"RIPE Atlas ({client.server})",
                params={"kind": "atlas-fetch", "msm_id": m, "service": SERVICE})
            record_remote_measurement(st, cid, service=SERVICE, msm_id=m,
                                      target=",".join(sorted(targets)), stage=0,
                                      vantage_points=sorted(vps), packets=0)
            fetched[m] = add_samples(st, cid, samples)
            mark_fetched(st, SERVICE, m)
            st.end_campaign(cid, "complete")
    return FetchResult(str(store), fetched, tuple(already), tuple(skipped))


def atlas_mesh(store: str | Path, out: str | Path, *, catalog: str | Path | None = None
               ) -> MeshResult:
    """Build the anchor mesh from the store's fetched samples; flag anchors that physics rejects.

    Anchors (positions and addresses) come from ``catalog`` (default: the bundled RIPE anchors).
    The flags come from the estimate room's fit-time check (a host with at least 3 mesh RTTs faster
    than light in fibre for its declared position); flagged anchors are marked ``bad`` in the file.
    """
    from rttgeo.atlas.mesh import anchor_mesh
    from rttgeo.catalog import resolve_catalog
    from rttgeo.datasets import save_mesh_parquet
    from rttgeo.estimate import make_estimator
    from rttgeo.store import open_readonly

    p = Path(store)
    if not p.is_file():
        raise StoreError(f"{p}: no such campaign store")
    _, anchors = resolve_catalog(catalog)
    with open_readonly(p) as st:
        samples = [s for info in st.campaigns() if info.params.get("kind") == "atlas-fetch"
                   for s in st.samples(info.id)]
    if not samples:
        raise InputError("the store holds no fetched RIPE Atlas results: run 'rttgeo atlas fetch' "
                         "with the anchoring-mesh measurement ids first", where=str(p))
    built = anchor_mesh(samples, anchors)
    measured = np.isfinite(built.mesh.rtt_ms).any(axis=0) | np.isfinite(built.mesh.rtt_ms).any(axis=1)
    mesh = built.mesh.subset(np.flatnonzero(measured))
    if len(mesh) < 2:
        raise InputError(f"only {len(mesh)} catalog anchor(s) have mesh RTTs: the fetched results "
                         "do not match the catalog's anchors (--landmarks)", where=str(p))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RttgeoWarning)
        est = make_estimator("cbg").fit(mesh)
    flagged = dict(est.excluded_)
    bad = np.array([h in flagged for h in mesh.ids])
    mesh = Mesh(mesh.ids, mesh.lat_deg, mesh.lon_deg, mesh.rtt_ms, bad, mesh.name, mesh.labels)
    save_mesh_parquet(mesh, out)
    return MeshResult(mesh, str(out), built.n_samples, int(np.isfinite(mesh.rtt_ms).sum()),
                      flagged, built.unknown_targets)
