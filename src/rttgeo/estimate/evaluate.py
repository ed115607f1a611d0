"""Leave-one-out evaluation of estimators on a mesh, through the estimator contract only.

Each host in turn is the target and all others are landmarks; the calibration is fitted on the mesh
WITHOUT any RTT that involves the target (the target's row and column are removed before ``fit``).
The target's RTT to each landmark is the smaller of the two directed minima (the best estimate of the
propagation delay). Hosts marked ``mesh.bad`` (known-wrong coordinates) are never targets; as
landmarks they are subject to the estimators' own physics checks like any other.
"""

from __future__ import annotations

import inspect
import itertools
import math
import os
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from rttgeo.errors import EstimationError, RttgeoWarning
from rttgeo.estimate import make_estimator
from rttgeo.estimate.delay import symmetric_rtt_ms
from rttgeo.estimate.meshcheck import allowed_km
from rttgeo.geo.sphere import destination, distance_km
from rttgeo.models import Estimate, Mesh
from rttgeo.units import MAX_KM_PER_RTT_MS

__all__ = [
    "INTERVAL_FIGURES",
    "CoLocatedTwins",
    "LooResult",
    "MethodSummary",
    "bootstrap_interval",
    "bootstrap_intervals",
    "candidate_reliability",
    "co_located_twins",
    "data_provenance",
    "format_markdown",
    "format_table",
    "leave_one_out",
    "provenance_line",
    "summarize",
]


def data_provenance(mesh: Mesh) -> dict[str, str]:
    """Where the evaluated data came from, for every output file: ``data`` (the path read, or
    ``bundled`` for the copy inside the package), ``data_sha256`` (:func:`rttgeo.datasets.sha256_of`
    of those files) and ``rttgeo_version``."""
    from rttgeo import __version__

    return {"data": mesh.source or "in memory", "data_sha256": mesh.sha256 or "",
            "rttgeo_version": __version__}


def provenance_line(mesh: Mesh) -> str:
    """The line ``rttgeo eval`` prints about its data."""
    p = data_provenance(mesh)
    where = "the copy bundled with rttgeo" if p["data"] == "bundled" else p["data"]
    return (f"data: {mesh.name or 'mesh'} from {where} (sha256 {p['data_sha256'] or '-'}); "
            f"rttgeo {p['rttgeo_version']}")


@dataclass(frozen=True, slots=True)
class LooResult:
    """Per-target outcome of one method: errors in km, coverage of its region, timing in ms."""

    method: str
    target_ids: tuple[str, ...]
    error_km: NDArray[np.float64]
    covered: NDArray[np.bool_]  # true location inside the method's region (False if no region)
    area_km2: NDArray[np.float64]  # NaN without region
    consistent: NDArray[np.bool_]
    fit_ms: NDArray[np.float64]
    locate_ms: NDArray[np.float64]
    has_region: bool
    #: Estimated point of each target (NaN where the method raised EstimationError).
    lat_deg: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    lon_deg: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    #: Per target, the probability mass of the posterior denser than the truth's cell: the truth
    #: is in the method's p-region exactly when p > this (1.0 when the method failed); NaN for
    #: methods without a posterior (``Estimate.posterior``). Coverage at any level p is
    #: ``mean(credible_level < p)``: the reliability diagram (``rttgeo.plot.reliability``).
    credible_level: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    #: With ``keep_estimates``: one per target, None where the method raised EstimationError.
    estimates: tuple[Estimate | None, ...] = field(default=(), repr=False)
    #: Per target, its lowest RTT to any landmark (ms): below 1 ms it shares a city with one.
    min_rtt_ms: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    #: Per target, whether the point lies outside the speed-of-light disc (RTT x 149.9 km/ms) of a
    #: landmark that answered and that the physics checks kept.
    outside_c: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    #: Per target, whether the landmark with its lowest RTT is as close to its stated position as
    #: that RTT allows at c, with the physics slack of ``rttgeo mesh check`` (0.05 ms, 2 x 10 km).
    #: False: the RTT and the stated positions cannot both be right (no method can be judged on
    #: that target's error).
    min_rtt_possible: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))


#: A target whose lowest RTT is below this shares a city with a landmark (issue #11), ms.
COLOCATED_RTT_MS = 1.0


@dataclass(frozen=True, slots=True)
class MethodSummary:
    """The figures of one method over all targets (km, km^2, ms)."""

    method: str
    n_targets: int
    median_km: float
    p80_km: float
    p90_km: float
    within_100km: float
    within_500km: float
    coverage: float  # NaN for methods without region
    median_area_km2: float
    inconsistent: int
    locate_ms_per_target: float
    fit_ms_per_target: float
    #: Targets whose lowest RTT is below COLOCATED_RTT_MS, and their median error (NaN if none).
    colocated: int = 0
    colocated_median_km: float = math.nan
    #: The same over the co-located targets whose stated position that lowest RTT allows
    #: (``LooResult.min_rtt_possible``): the others' "truth" is wrong by the physics.
    colocated_possible: int = 0
    colocated_possible_median_km: float = math.nan
    #: Targets whose point lies outside a kept landmark's speed-of-light disc.
    outside_c: int = 0

    def as_dict(self) -> dict[str, float | int | str | None]:
        return {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in (
                (name, getattr(self, name)) for name in self.__dataclass_fields__  # type: ignore[attr-defined]
            )
        }


def leave_one_out(
    mesh: Mesh,
    method: str,
    *,
    params: dict | None = None,
    targets: Iterable[int] | None = None,
    keep_estimates: bool = False,
    progress: Callable[[int, int], None] | None = None,
    jobs: int | None = 1,
) -> LooResult:
    """Leave-one-out of ``method`` over ``targets`` (default: every host not marked bad).

    ``jobs`` > 1 (None: every core) spreads targets over worker processes; results are identical
    and in the same order. Times per target are measured inside the workers. ``progress(done,
    total)`` is called after each target (with workers: after each of about 4 chunks per worker).
    """
    tgt = [i for i in (targets if targets is not None else range(len(mesh))) if not mesh.bad[i]]
    jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    if jobs > 1 and len(tgt) > 1:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        n_chunks = min(len(tgt), 4 * jobs)
        chunks = [tgt[k::n_chunks] for k in range(n_chunks) if tgt[k::n_chunks]]
        with ProcessPoolExecutor(min(jobs, len(chunks))) as pool:
            futs = {
                pool.submit(leave_one_out, mesh, method, params=params, targets=c,
                            keep_estimates=keep_estimates, jobs=1): len(c)
                for c in chunks
            }
            done = 0
            for f in as_completed(futs):
                done += futs[f]
                if progress:
                    progress(done, len(tgt))
            parts = [f.result() for f in futs]
        return _merge(parts, tgt, mesh)
    # One BLAS thread: the estimators' matrix products are (cells, 3) x (3, landmarks), too small
    # for threads, and OpenBLAS's idle threads spin. With its default (a thread per core) every
    # method took up to twice the CPU time for the same wall time on 2 cores, and worker processes
    # competed with each other's threads (issue #11). The results are the same to the last bit.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _leave_one_out(mesh, method, params, tgt, keep_estimates, progress)


def _leave_one_out(
    mesh: Mesh,
    method: str,
    params: dict | None,
    tgt: list[int],
    keep_estimates: bool,
    progress: Callable[[int, int], None] | None,
) -> LooResult:
    """:func:`leave_one_out` over ``tgt`` in this process."""
    sym = symmetric_rtt_ms(mesh.rtt_ms)
    errs, cov, area, cons, fit_ms, loc_ms, ests = [], [], [], [], [], [], []
    lat: list[float] = []
    lon: list[float] = []
    levels: list[float] = []
    min_rtt: list[float] = []
    possible: list[bool] = []
    outside: list[bool] = []
    has_region = True
    for k, t in enumerate(tgt):
        others = np.array([j for j in range(len(mesh)) if j != t])
        sub = mesh.subset(others)
        rtt = sym[t, others]
        est = make_estimator(method, **(params or {}))
        has_region = type(est).has_region
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RttgeoWarning)
            t0 = time.perf_counter_ns()
            est.fit(sub)
            t1 = time.perf_counter_ns()
            try:
                e = est.locate(rtt)
            except EstimationError:
                e = None
            t2 = time.perf_counter_ns()
        fit_ms.append((t1 - t0) / 1e6)
        loc_ms.append((t2 - t1) / 1e6)
        if keep_estimates:
            ests.append(e)
        lat.append(math.nan if e is None else e.lat_deg)
        lon.append(math.nan if e is None else e.lon_deg)
        levels.append(_credible_level(e, mesh.lat_deg[t], mesh.lon_deg[t]))
        if np.isfinite(rtt).any():
            j = int(np.nanargmin(rtt))
            min_rtt.append(float(rtt[j]))
            possible.append(_possible(mesh, t, int(others[j]), float(rtt[j])))
        else:
            min_rtt.append(math.nan)
            possible.append(True)
        outside.append(e is not None and _outside_c(e))
        if e is None:
            errs.append(math.inf)
            cov.append(False)
            area.append(math.nan)
            cons.append(False)
        else:
            assert isinstance(e, Estimate)
            errs.append(float(distance_km(e.lat_deg, e.lon_deg, mesh.lat_deg[t], mesh.lon_deg[t])))
            cov.append(
                bool(e.region.contains(mesh.lat_deg[t], mesh.lon_deg[t]))
                if e.region is not None
                else False
            )
            area.append(e.area_km2)
            cons.append(e.consistent)
        if progress:
            progress(k + 1, len(tgt))
    return LooResult(
        method=method,
        target_ids=tuple(mesh.ids[t] for t in tgt),
        error_km=np.array(errs),
        covered=np.array(cov),
        area_km2=np.array(area),
        consistent=np.array(cons),
        fit_ms=np.array(fit_ms),
        locate_ms=np.array(loc_ms),
        has_region=has_region,
        lat_deg=np.array(lat, dtype=float),
        lon_deg=np.array(lon, dtype=float),
        credible_level=np.array(levels, dtype=float),
        estimates=tuple(ests),
        min_rtt_ms=np.array(min_rtt, dtype=float),
        outside_c=np.array(outside, dtype=bool),
        min_rtt_possible=np.array(possible, dtype=bool),
    )


@dataclass(frozen=True, slots=True)
class CoLocatedTwins:
    """Synthetic targets beside landmarks (:func:`co_located_twins`): twin k is ``km[k]`` from
    host ``host[k]`` of the mesh, at (``lat_deg[k]``, ``lon_deg[k]``), with RTTs ``rtt_ms[k]`` (ms)
    to every host."""

    host: NDArray[np.int64]
    lat_deg: NDArray[np.float64]
    lon_deg: NDArray[np.float64]
    km: NDArray[np.float64]
    rtt_ms: NDArray[np.float64]


def co_located_twins(mesh: Mesh, *, every: int = 4, max_km: float = 15.0, seed: int = 11) -> CoLocatedTwins:
    """Synthetic co-located targets (issue #11): a twin of every ``every``-th trusted host, a
    uniform 0-``max_km`` km from it in a uniform direction, answering it in 0.05 ms + 1-2 times
    the distance at 100 km/ms + 0-0.3 ms, and every other host in the host's own RTT (the smaller
    directed minimum) + 0-0.3 ms. The RTTs carry no direction, so the point of least expected
    distance is the host itself (Shortest Ping's answer). Deterministic for a given ``seed``."""
    sym = symmetric_rtt_ms(mesh.rtt_ms)
    rng = np.random.default_rng(seed)
    host, lat, lon, km, rows = [], [], [], [], []
    for h in range(0, len(mesh), every):
        if mesh.bad[h]:
            continue
        delta = float(rng.uniform(0.0, max_km))
        la, lo = destination(mesh.lat_deg[h], mesh.lon_deg[h], rng.uniform(0, 360), delta)
        rtt = sym[h] + rng.uniform(0.0, 0.3, len(mesh))
        rtt[h] = 0.05 + delta / 100.0 * rng.uniform(1.0, 2.0) + rng.uniform(0.0, 0.3)
        host.append(h)
        lat.append(float(la))
        lon.append(float(lo))
        km.append(delta)
        rows.append(rtt)
    return CoLocatedTwins(np.array(host, dtype=np.int64), np.array(lat), np.array(lon), np.array(km),
                          np.array(rows).reshape(len(rows), len(mesh)))


def _possible(mesh: Mesh, a: int, b: int, rtt_ms: float) -> bool:
    """Whether hosts ``a`` and ``b``'s stated positions allow ``rtt_ms`` between them: the test of
    ``rttgeo mesh check`` (:func:`~rttgeo.estimate.meshcheck.allowed_km`, c with its slack)."""
    d = float(distance_km(mesh.lat_deg[a], mesh.lon_deg[a], mesh.lat_deg[b], mesh.lon_deg[b]))
    return d <= float(allowed_km(rtt_ms))


def _outside_c(e: Estimate) -> bool:
    """Whether the point is outside the c disc of a landmark that answered and was kept."""
    return any(
        d.distance_km > d.rtt_ms * MAX_KM_PER_RTT_MS + 1e-6
        for d in e.landmarks
        if not d.note.startswith(("left out", "excluded"))
    )


def _credible_level(e: Estimate | None, lat_deg: float, lon_deg: float) -> float:
    if e is None:
        return 1.0
    if e.posterior is None:
        return math.nan
    return float(e.posterior.credible_level(lat_deg, lon_deg))


def _merge(parts: list[LooResult], order: list[int], mesh: Mesh) -> LooResult:
    """Concatenate per-worker results back into target order."""
    pos = {t: k for k, t in enumerate(mesh.ids)}
    ids = [t for p in parts for t in p.target_ids]
    perm = np.argsort([order.index(pos[t]) for t in ids])

    def cat(name: str) -> NDArray:  # type: ignore[type-arg]
        return np.concatenate([getattr(p, name) for p in parts])[perm]

    ests = [e for p in parts for e in p.estimates]
    return LooResult(
        method=parts[0].method,
        target_ids=tuple(ids[k] for k in perm),
        error_km=cat("error_km"),
        covered=cat("covered"),
        area_km2=cat("area_km2"),
        consistent=cat("consistent"),
        fit_ms=cat("fit_ms"),
        locate_ms=cat("locate_ms"),
        has_region=parts[0].has_region,
        lat_deg=cat("lat_deg"),
        lon_deg=cat("lon_deg"),
        credible_level=cat("credible_level"),
        estimates=tuple(ests[k] for k in perm) if ests else (),
        min_rtt_ms=cat("min_rtt_ms"),
        outside_c=cat("outside_c"),
        min_rtt_possible=cat("min_rtt_possible"),
    )


def summarize(result: LooResult) -> MethodSummary:
    """Median, p80, p90 error, shares within 100 / 500 km, coverage, median area, timing; the
    co-located targets' median error and the points outside a kept landmark's c disc."""
    e = result.error_km
    co = result.min_rtt_ms < COLOCATED_RTT_MS if len(result.min_rtt_ms) == len(e) else np.zeros(
        len(e), dtype=bool)
    co_ok = co & result.min_rtt_possible if len(result.min_rtt_possible) == len(e) else co
    # Targets without an estimate count as infinite errors: percentiles across them are inf or
    # nan, as printed, without numpy's warnings about it.
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return MethodSummary(
            method=result.method,
            n_targets=len(e),
            median_km=float(np.median(e)),
            p80_km=float(np.percentile(e, 80)),
            p90_km=float(np.percentile(e, 90)),
            within_100km=float(np.mean(e <= 100.0)),
            within_500km=float(np.mean(e <= 500.0)),
            coverage=float(np.mean(result.covered)) if result.has_region else math.nan,
            median_area_km2=float(np.nanmedian(result.area_km2)) if result.has_region else math.nan,
            inconsistent=int(np.sum(~result.consistent)),
            locate_ms_per_target=float(np.median(result.locate_ms)),
            fit_ms_per_target=float(np.median(result.fit_ms)),
            colocated=int(np.sum(co)),
            colocated_median_km=float(np.median(e[co])) if co.any() else math.nan,
            colocated_possible=int(np.sum(co_ok)),
            colocated_possible_median_km=float(np.median(e[co_ok])) if co_ok.any() else math.nan,
            outside_c=int(np.sum(result.outside_c)),
        )


def bootstrap_interval(
    statistic: Callable[..., NDArray],  # type: ignore[type-arg]
    *samples: NDArray,  # type: ignore[type-arg]
    level: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval (scipy.stats.bootstrap) of ``statistic(*samples, axis=-1)``
    at ``level``; several samples are resampled together (paired: the same targets).
    Deterministic for a given ``seed``. (nan, nan) with fewer than two observations."""
    from scipy.stats import bootstrap

    if len(samples[0]) < 2:
        return math.nan, math.nan
    gen = np.random.default_rng(seed)
    # scipy 1.15 renamed random_state to rng; pyproject allows scipy 1.11.
    seeded = {"rng": gen} if "rng" in inspect.signature(bootstrap).parameters else {"random_state": gen}
    with warnings.catch_warnings():  # a statistic that varies little is degenerate, not wrong
        warnings.simplefilter("ignore", RuntimeWarning)
        res = bootstrap(samples, statistic, n_resamples=n_resamples, confidence_level=level,
                        method="percentile", paired=len(samples) > 1, vectorized=True, **seeded)
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


#: Figures of :class:`MethodSummary` that :func:`bootstrap_intervals` gives intervals for.
INTERVAL_FIGURES = ("median_km", "p80_km", "p90_km", "within_100km", "within_500km", "coverage",
                    "median_area_km2")


def bootstrap_intervals(
    result: LooResult, *, level: float = 0.95, n_resamples: int = 10_000, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """Sampling uncertainty of :func:`summarize`'s figures: for each of ``INTERVAL_FIGURES``, its
    percentile bootstrap interval over the targets (:func:`bootstrap_interval`); (nan, nan) for
    a figure the method does not have (coverage and area without a region)."""
    e = result.error_km
    stats: dict[str, tuple[Callable[..., NDArray], NDArray]] = {  # type: ignore[type-arg]
        "median_km": (np.median, e),
        "p80_km": (lambda x, axis: np.percentile(x, 80, axis=axis), e),
        "p90_km": (lambda x, axis: np.percentile(x, 90, axis=axis), e),
        "within_100km": (lambda x, axis: np.mean(x <= 100.0, axis=axis), e),
        "within_500km": (lambda x, axis: np.mean(x <= 500.0, axis=axis), e),
    }
    if result.has_region:
        stats["coverage"] = (np.mean, np.asarray(result.covered, dtype=float))
        area = result.area_km2[np.isfinite(result.area_km2)]
        stats["median_area_km2"] = (np.median, area)
    out = {k: (math.nan, math.nan) for k in INTERVAL_FIGURES}
    for k, (stat, x) in stats.items():
        out[k] = bootstrap_interval(stat, x, level=level, n_resamples=n_resamples, seed=seed)
    return out


def candidate_reliability(
    mesh: Mesh, result: LooResult, edges: Sequence[float] = (0.0, 0.05, 0.2, 0.5, 0.8, 1.0)
) -> list[tuple[float, float, int, float, int]]:
    """How often the candidates of kept estimates (``leave_one_out(..., keep_estimates=True)``)
    held the truth: per bin of stated probability [``edges[i]``, ``edges[i + 1]``), (low edge,
    high edge, candidates, mean stated probability, candidates whose ``radius_km`` held the
    target's true position). Calibrated: the mean probability times the count equals the hits."""
    p, hit = [], []
    for t, e in zip(result.target_ids, result.estimates, strict=True):
        if e is None:
            continue
        i = mesh.index(t)
        for c in e.candidates:
            p.append(c.probability)
            hit.append(float(distance_km(c.lat_deg, c.lon_deg, mesh.lat_deg[i], mesh.lon_deg[i]))
                       <= c.radius_km)
    pa, ha = np.array(p), np.array(hit, dtype=bool)
    out = []
    for k, (lo, hi) in enumerate(itertools.pairwise(edges)):
        sel = (pa >= lo) & ((pa < hi) if k < len(edges) - 2 else (pa <= hi))
        out.append((lo, hi, int(sel.sum()), float(pa[sel].mean()) if sel.any() else math.nan,
                    int(ha[sel].sum())))
    return out


def format_table(summaries: Sequence[MethodSummary]) -> str:
    """A plain-text table of summaries, one row per method."""
    head = (
        f"{'method':<16}{'n':>5}{'median km':>11}{'p80 km':>9}{'p90 km':>9}{'<100km':>8}"
        f"{'<500km':>8}{'coverage':>10}{'area km2':>12}{'incons':>8}{'ms/target':>11}"
    )
    lines = [head, "-" * len(head)]
    for s in summaries:
        cov = "-" if math.isnan(s.coverage) else f"{s.coverage:.0%}"
        area = "-" if math.isnan(s.median_area_km2) else f"{s.median_area_km2:,.0f}"
        lines.append(
            f"{s.method:<16}{s.n_targets:>5}{s.median_km:>11,.0f}{s.p80_km:>9,.0f}"
            f"{s.p90_km:>9,.0f}{s.within_100km:>8.0%}{s.within_500km:>8.0%}{cov:>10}{area:>12}"
            f"{s.inconsistent:>8}{s.locate_ms_per_target + s.fit_ms_per_target:>11.1f}"
        )
    return "\n".join(lines)


def format_markdown(summaries: Sequence[MethodSummary]) -> str:
    """The figures as the Markdown table of README.md and docs/estimation.md (``rttgeo eval
    --markdown``), so that the documents hold exactly what the command prints."""
    lines = [
        "| method | median km | p80 km | p90 km | within 100 km | within 500 km | 90 % region "
        "holds the truth | median region km² | co-located median km | ... whose positions the "
        "RTT allows | outside a c disc |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    def pct(x: float) -> str:
        return "-" if math.isnan(x) else f"{100 * x:.1f} %"

    for s in summaries:
        area = "-" if math.isnan(s.median_area_km2) else f"{s.median_area_km2:,.0f}"
        co = "-" if math.isnan(s.colocated_median_km) else (
            f"{s.colocated_median_km:,.1f} ({s.colocated})")
        co_ok = "-" if math.isnan(s.colocated_possible_median_km) else (
            f"{s.colocated_possible_median_km:,.1f} ({s.colocated_possible})")
        lines.append(
            f"| {s.method} | {s.median_km:,.0f} | {s.p80_km:,.0f} | {s.p90_km:,.0f} | "
            f"{pct(s.within_100km)} | {pct(s.within_500km)} | {pct(s.coverage)} | {area} | {co} | "
            f"{co_ok} | {s.outside_c} |"
        )
    return "\n".join(lines)
