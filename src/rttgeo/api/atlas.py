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
    "FetchedMeasurement",
    "LocateOutcome",
    "LocateResult",
    "MeshResult",
    "TargetPlan",
    "atlas_fetch",
    "atlas_locate",
    "atlas_mesh",
    "discover_anchor_mesh",
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

    def to_json(self) -> dict[str, Any]:
        """The plan as JSON (``rttgeo atlas locate --dry-run --json``)."""
        return {
            "targets": [
                {"target": t.target, "af": t.af, "first_wave": list(t.first_wave),
                 "second_n": t.second_n, "resumed_msm_ids": list(t.resumed_msm_ids),
                 "done": t.done}
                for t in self.targets
            ],
            "packets": self.packets,
            "n_vantage_points": {f"ipv{af}": n for af, n in sorted(self.n_vantage_points.items())},
            "new_measurements": self.new_measurements,
            "new_results": self.new_results,
            "credits": self.credits,
            "waves": self.waves,
            "max_concurrent": self.max_concurrent,
            "balance": self.balance,
            "ok": self.ok,
            "problems": list(self.problems),
            "rejected": dict(self.rejected),
        }


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
    left_out: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """One target as JSON (``rttgeo atlas locate --json`` prints one line per target):
        its measurements, samples, the vantage points left out of its estimate (id -> why) and
        the estimate (None with ``error`` when there is none)."""
        from rttgeo.api._results import estimate_json

        return {
            "target": self.target,
            "campaign_id": self.campaign_id,
            "msm_ids": list(self.msm_ids),
            "n_samples": self.n_samples,
            "n_lost": self.n_lost,
            "n_vantage_points": self.n_vantage_points,
            "left_out": dict(self.left_out),
            "estimate": None if self.estimate is None else estimate_json(self.estimate),
            "error": self.error,
        }


@dataclass(frozen=True, slots=True, eq=False)
class LocateResult:
    """Everything ``rttgeo atlas locate`` shows."""

    plan: AtlasPlan
    outcomes: tuple[LocateOutcome, ...]
    created: int
    resumed: int
    flagged: dict[str, str]
    store: str

    def to_json(self) -> dict[str, Any]:
        """``{"store", "created", "resumed", "plan", "flagged", "targets": [...]}``."""
        return {"store": self.store, "created": self.created, "resumed": self.resumed,
                "plan": self.plan.to_json(), "flagged": dict(self.flagged),
                "targets": [o.to_json() for o in self.outcomes]}

    def estimates_json(self) -> dict[str, Any]:
        """``{target: estimate JSON or {"error": why}}`` (the file ``--out`` writes)."""
        from rttgeo.api._results import estimate_json

        return {o.target: (estimate_json(o.estimate) if o.estimate is not None
                           else {"error": o.error}) for o in self.outcomes}


@dataclass(frozen=True, slots=True)
class FetchedMeasurement:
    """One measurement of :func:`atlas_fetch`: samples stored (0 when ``already`` in the store),
    results skipped (not ping, errors), its target address(es), and the anchor it targets when
    it was found by anchoring-mesh discovery (landmark id, else "")."""

    msm_id: int
    n_samples: int
    already: bool = False
    n_skipped: int = 0
    target: str = ""
    anchor: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"msm_id": self.msm_id, "status": "already stored" if self.already else "fetched",
                "n_samples": self.n_samples, "n_skipped": self.n_skipped, "target": self.target,
                "anchor": self.anchor or None}


@dataclass(frozen=True, slots=True)
class FetchResult:
    """Each measurement fetched or found already stored, and every result line skipped."""

    store: str
    measurements: tuple[FetchedMeasurement, ...]
    skipped: tuple[tuple[str, str], ...]

    @property
    def fetched(self) -> dict[int, int]:
        """``msm_id -> samples stored`` of the measurements fetched now."""
        return {m.msm_id: m.n_samples for m in self.measurements if not m.already}

    @property
    def already(self) -> tuple[int, ...]:
        """Measurements already in the store (not fetched again)."""
        return tuple(m.msm_id for m in self.measurements if m.already)

    def to_json(self) -> dict[str, Any]:
        """``{"store", "measurements": [...], "skipped": [{"where", "why"}]}``."""
        return {"store": self.store, "measurements": [m.to_json() for m in self.measurements],
                "skipped": [{"where": w, "why": why} for w, why in self.skipped]}


@dataclass(frozen=True, slots=True, eq=False)
class MeshResult:
    """The mesh written, and the anchors the speed-of-light check flagged (id -> why)."""

    mesh: Mesh
    path: str
    n_samples: int
    n_pairs: int
    flagged: dict[str, str]
    unknown_targets: tuple[str, ...]
    fetched: FetchResult | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"path", "n_anchors", "n_pairs", "n_samples", "anchors", "flagged",
        "unknown_targets", "fetched"}`` (``rttgeo atlas mesh --json``; ``fetched``: what
        ``--anchor-mesh`` fetched first, else None)."""
        return {"path": self.path, "n_anchors": len(self.mesh), "n_pairs": self.n_pairs,
                "n_samples": self.n_samples, "anchors": list(self.mesh.ids),
                "flagged": dict(self.flagged), "unknown_targets": list(self.unknown_targets),
                "fetched": None if self.fetched is None else self.fetched.to_json()}


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
    spent_today = results_today = 0
    if client.has_key:
        acct = client.credits()
        balance = int(acct.get("current_balance", 0))
        # the past day's spending, when the balance answer carries it (see docs/atlas.md)
        spent_today = int(acct.get("past_day_credits_spent") or 0)
        results_today = int(acct.get("past_day_measurement_results") or 0)
    check = LimitCheck.of(credits=credits, results=new_results,
                          probes_per_measurement=max(first_n, second_n), limits=limits,
                          balance=balance, spent_today=spent_today, results_today=results_today)
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
    log: Callable[[str], None] | None = None,
) -> LocateResult:
    """Locate ``targets`` (IPv4 / IPv6 addresses) from RIPE Atlas vantage points (module doc).

    ``client``: an :class:`rttgeo.atlas.AtlasClient` (a key is needed to create measurements).
    ``calibration``: an anchor mesh (``rttgeo atlas mesh``) to fit the estimator per landmark;
    default: pooled calibration. Raises InputError when the plan breaks RIPE Atlas's limits.
    ``log``: called with one line of progress per stage (measurements created, results awaited).
    """
    from rttgeo.atlas.plan import AtlasLimits
    from rttgeo.atlas.vantage import second_wave, to_landmarks
    from rttgeo.estimate import make_estimator
    from rttgeo.store import record_remote_measurement, remote_measurements

    limits = limits or AtlasLimits()
    sleep = sleep or _sleep
    say = log or (lambda line: None)
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

    def locate(cid: int, af: int, st: Any) -> tuple[Estimate, int, dict[str, str]]:
        """The estimate of campaign ``cid``, its vantage points used, and those left out."""
        est, lms, _ = estimator(af)
        ids, rtts = st.min_rtts(cid, [lm.id for lm in lms])
        measured = [lid for k, lid in enumerate(ids) if np.isfinite(rtts[k])]
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
        left = {lid: flagged[lid] for lid in measured if lid in flagged}
        return e, int(np.isfinite(rtts).sum()), left

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
                say(f"stage {stage}: {len(pending)} measurement(s) created or resumed; waiting "
                    "for their results")
                _wait_and_fetch(client, st, pending, poll_s=poll_s, timeout_s=timeout_s,
                                sleep=sleep)
            # measurements created by an interrupted run and never fetched
            pending = [r for tp in plan.targets for r in recs_of(tp.target).values()
                       if not r.fetched]
            if pending:
                say(f"stage {stage}: waiting for {len(pending)} measurement(s) of an earlier run")
                _wait_and_fetch(client, st, pending, poll_s=poll_s, timeout_s=timeout_s,
                                sleep=sleep)

        run_stage(1, lambda tp: tuple(v for v in tp.first_wave if v not in flagged))

        def second(tp: TargetPlan) -> tuple[str, ...]:
            if second_n == 0:
                return ()
            try:
                coarse, _, _ = locate(cid_of[tp.target], tp.af, st)
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
                e, n_vp, left = locate(cid, tp.af, st)
                outcomes.append(LocateOutcome(tp.target, cid, msm_ids, len(rows), n_lost, n_vp, e,
                                              left_out=left))
            except EstimationError as exc:
                outcomes.append(LocateOutcome(tp.target, cid, msm_ids, len(rows), n_lost, 0, None,
                                              str(exc)))
            st.end_campaign(cid, "complete")
    resumed = sum(len(tp.resumed_msm_ids) for tp in plan.targets)
    return LocateResult(plan, tuple(outcomes), created, resumed, flagged, str(store))


# -- fetch / mesh --------------------------------------------------------------------------------
def discover_anchor_mesh(*, client: Any, anchors: Sequence[int] = (), limit: int | None = None,
                         af: int = 4) -> list[Any]:
    """The anchoring-mesh ping measurements (``rttgeo.atlas.MeshMeasurement``) found through the
    API's ``/api/v2/anchor-measurements/`` list, of address family ``af``, targeting the anchors
    of probe ids ``anchors`` (all when empty), the first ``limit`` of them by probe id.

    Raises InputError when none matches (e.g. ``anchors`` that are not anchors).
    """
    from rttgeo.atlas.mesh import (
        mesh_measurements,
        select_mesh_measurements,
        unresolved_measurements,
    )

    if af not in (4, 6):
        raise InputError("the address family must be 4 or 6", field="--af")
    if limit is not None and limit < 1:
        raise InputError("must be >= 1", field="--limit")
    records = client.anchor_measurements()
    # when the API ignores include=, it gives URLs: resolve them with two more listings
    anchor_records = measurement_records = None
    if any(not isinstance(r.get("target"), dict) for r in records):
        anchor_records = {int(a["id"]): a for a in client.anchors() if "id" in a}
    ids = unresolved_measurements(records)
    if ids:
        measurement_records = {int(m["id"]): m for m in client.measurements(id__in=ids)}
    found = mesh_measurements(records, af=af, anchor_records=anchor_records,
                              measurement_records=measurement_records,
                              source=f"RIPE Atlas anchor, fetched {time.strftime('%Y-%m-%d')} "
                              "(anchor-measurements API)")
    chosen = select_mesh_measurements(found, anchors=anchors, limit=limit)
    if not chosen:
        which = (f"for anchor probe id(s) {', '.join(map(str, anchors))}" if anchors
                 else "at all")
        raise InputError(f"no IPv{af} anchoring-mesh ping measurement found {which} among "
                         f"{len(records)} anchor-measurement record(s)",
                         field="--anchors" if anchors else "--anchor-mesh")
    return chosen


def atlas_fetch(
    msm_ids: Sequence[int] = (),
    *,
    client: Any,
    store: str | Path,
    anchor_mesh: bool = False,
    anchors: Sequence[int] = (),
    limit: int | None = None,
    af: int = 4,
    start: int | None = None,
    stop: int | None = None,
    log: Callable[[str], None] | None = None,
) -> FetchResult:
    """Store the results of public measurements (one campaign each; no key needed).

    Either ``msm_ids``, or ``anchor_mesh=True``: the anchoring-mesh measurements found by
    :func:`discover_anchor_mesh` (``anchors``, ``limit``, ``af``); each campaign then records the
    target anchor (id, declared position, address) in its ``params["anchor"]``, which
    :func:`atlas_mesh` uses. Results: those between ``start`` and ``stop`` (UNIX seconds) when
    either is given; else every result for ``msm_ids`` and the latest result of every anchor for
    the anchoring mesh (those measurements run for years: their whole history is gigabytes).
    A measurement already fetched into this store is not fetched again.
    """
    from rttgeo.atlas.results import result_samples
    from rttgeo.store import (
        add_samples,
        mark_fetched,
        record_remote_measurement,
        remote_measurements,
    )

    say = log or (lambda line: None)
    if anchor_mesh and msm_ids:
        raise InputError("give MSM_ID ... or --anchor-mesh, not both", field="--anchor-mesh")
    if not anchor_mesh and (anchors or limit is not None):
        raise InputError("--anchors and --limit choose anchoring-mesh measurements: add "
                         "--anchor-mesh", field="--anchors" if anchors else "--limit")
    if not anchor_mesh and not msm_ids:
        raise InputError("no measurement id given (MSM_ID ..., or --anchor-mesh)", field="MSM_ID")
    if start is not None and stop is not None and stop <= start:
        raise InputError("--stop must be after --start", field="--stop")
    window = start is not None or stop is not None
    targets_of: dict[int, Any] = {}
    if anchor_mesh:
        found = discover_anchor_mesh(client=client, anchors=anchors, limit=limit, af=af)
        targets_of = {m.msm_id: m for m in found}
        msm_ids = [m.msm_id for m in found]
        say(f"found {len(found)} anchoring-mesh measurement(s) (IPv{af}); fetching "
            + ("the results in the window" if window else "the latest result of each anchor"))
    entries: list[FetchedMeasurement] = []
    skipped: list[tuple[str, str]] = []
    with _open_store(store) as st:
        have = {r.msm_id: r for r in remote_measurements(st, service=SERVICE) if r.fetched}
        for m in msm_ids:
            mm = targets_of.get(m)
            anchor_id = (mm.landmark_id or "") if mm is not None else ""
            if m in have:
                entries.append(FetchedMeasurement(m, 0, True, 0, have[m].target, anchor_id))
                continue
            latest = mm is not None and not window
            raw = client.latest(m) if latest else client.results(m, start=start, stop=stop)
            samples = []
            vps: set[str] = set()
            targets: set[str] = set()
            n_skip = len(skipped)
            for k, r in enumerate(raw):
                for smp in result_samples(r, f"measurement {m} result {k + 1}",
                                          lambda w, why: skipped.append((w, why))):
                    samples.append(smp)
                    vps.add(smp.landmark)
                    targets.add(smp.target)
            params: dict[str, Any] = {"kind": "atlas-fetch", "msm_id": m, "service": SERVICE,
                                      "start": start, "stop": stop,
                                      "results": "latest" if latest else "all or window"}
            if mm is not None and mm.anchor is not None:
                a = mm.anchor
                params["anchor"] = {"id": a.id, "lat_deg": a.lat_deg, "lon_deg": a.lon_deg,
                                    "address": a.address, "country": a.country,
                                    "source": a.source}
            target = ",".join(sorted(targets))
            cid = st.begin_campaign(
                target=next(iter(targets)) if len(targets) == 1 else f"{len(targets)} targets",
                protocol="icmp", host=f"RIPE Atlas ({client.server})", params=params)
            record_remote_measurement(st, cid, service=SERVICE, msm_id=m, target=target, stage=0,
                                      vantage_points=sorted(vps), packets=0)
            n = add_samples(st, cid, samples)
            mark_fetched(st, SERVICE, m)
            st.end_campaign(cid, "complete")
            entries.append(FetchedMeasurement(m, n, False, len(skipped) - n_skip, target,
                                              anchor_id))
            say(f"measurement {m}: {n} samples")
    return FetchResult(str(store), tuple(entries), tuple(skipped))


def _recorded_anchors(campaigns: Sequence[Any]) -> list[Any]:
    """The target anchors that anchoring-mesh discovery recorded in the store's campaigns
    (``params["anchor"]``), as landmarks; the latest record of an id wins."""
    from rttgeo.models import Landmark

    out: dict[str, Landmark] = {}
    for info in campaigns:
        a = info.params.get("anchor")
        if not isinstance(a, dict):
            continue
        try:
            out[str(a["id"])] = Landmark(str(a["id"]), float(a["lat_deg"]), float(a["lon_deg"]),
                                         str(a.get("address") or ""), protocols=("icmp",),
                                         country=str(a.get("country") or ""),
                                         source=str(a.get("source") or ""))
        except (KeyError, TypeError, ValueError):
            continue
    return list(out.values())


def atlas_mesh(
    store: str | Path,
    out: str | Path,
    *,
    catalog: str | Path | None = None,
    client: Any = None,
    anchor_mesh: bool = False,
    anchors: Sequence[int] = (),
    limit: int | None = None,
    af: int = 4,
    log: Callable[[str], None] | None = None,
) -> MeshResult:
    """Build the anchor mesh from the store's fetched samples; flag anchors that physics rejects.

    With ``anchor_mesh=True`` the anchoring-mesh measurements are first found and fetched into
    ``store`` (:func:`atlas_fetch` with ``client``, ``anchors``, ``limit``, ``af``; measurements
    already there are not fetched again). Anchors (positions and addresses) come from ``catalog``
    (default: the bundled RIPE anchors), updated by the target anchors that discovery recorded in
    the store (their positions as the API declared them when fetched). The flags come from the
    estimate room's fit-time check (a host with at least 3 mesh RTTs faster than light in fibre
    for its declared position); flagged anchors are marked ``bad`` in the file.
    """
    from rttgeo.atlas.mesh import anchor_mesh as build_mesh
    from rttgeo.catalog import resolve_catalog
    from rttgeo.datasets import save_mesh_parquet
    from rttgeo.estimate import make_estimator
    from rttgeo.store import open_readonly

    p = Path(store)
    fetched = None
    _, anchors_cat = resolve_catalog(catalog)  # a bad --landmarks fails before any request
    if anchor_mesh:
        if client is None:
            raise InputError("--anchor-mesh needs the RIPE Atlas API (a client)")
        fetched = atlas_fetch(client=client, store=p, anchor_mesh=True, anchors=anchors,
                              limit=limit, af=af, log=log)
    elif anchors or limit is not None:
        raise InputError("--anchors and --limit choose anchoring-mesh measurements: add "
                         "--anchor-mesh", field="--anchors" if anchors else "--limit")
    if not p.is_file():
        raise StoreError(f"{p}: no such campaign store")
    with open_readonly(p) as st:
        infos = [info for info in st.campaigns() if info.params.get("kind") == "atlas-fetch"]
        samples = [s for info in infos for s in st.samples(info.id)]
        recorded = _recorded_anchors(infos)
    if not samples:
        raise InputError("the store holds no fetched RIPE Atlas results: run 'rttgeo atlas fetch' "
                         "with the anchoring-mesh measurement ids (or --anchor-mesh) first",
                         where=str(p))
    known = {lm.id for lm in recorded}
    catalog_anchors = [lm for lm in anchors_cat if lm.id not in known] + recorded
    built = build_mesh(samples, catalog_anchors)
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
                      flagged, built.unknown_targets, fetched)
