"""``rttgeo.evaluate``: leave-one-out evaluation of estimators on a mesh of measured RTTs.

>>> import rttgeo
>>> r = rttgeo.evaluate("wonderproxy-2020", methods=["cbg", "rttgeo"])   # doctest: +SKIP
>>> print(r.table())                                                       # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rttgeo import __version__
from rttgeo.errors import EstimationError, InputError
from rttgeo.models import Estimate, Mesh

__all__ = ["EvaluationResult", "evaluate", "parse_methods"]

#: Fewest hosts a mesh needs for a leave-one-out: a target and two landmarks.
MIN_HOSTS = 3

#: Columns of :meth:`EvaluationResult.per_target` rows, in order.
PER_TARGET_COLUMNS = (
    "method", "target", "label", "true_lat_deg", "true_lon_deg", "est_lat_deg", "est_lon_deg",
    "error_km", "covered", "area_km2", "consistent", "fit_ms", "locate_ms",
    "min_rtt_ms", "min_rtt_possible", "data", "data_sha256", "rttgeo_version",
)


def parse_methods(methods: str | Sequence[str] | None) -> tuple[str, ...]:
    """Method names from ``"all"`` / None (every method), ``"a,b"`` or a list; InputError if
    empty or unknown."""
    from rttgeo.estimate import METHODS

    if methods is None or methods == "all":
        return METHODS
    items = methods.split(",") if isinstance(methods, str) else list(methods)
    out = [m.strip() for m in items if m.strip()]
    if not out:
        raise InputError(f"no method named; choose from {', '.join(METHODS)} or 'all'",
                         field="method")
    for m in out:
        if m not in METHODS:
            raise InputError(f"unknown method {m!r}; choose from {', '.join(METHODS)} or 'all'",
                             field="method")
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True, slots=True, eq=False)
class EvaluationResult:
    """Leave-one-out outcome of every method on one mesh.

    ``results`` / ``summaries`` / ``seconds``: one per method, in ``methods`` order (per-target
    errors, the figures of :func:`rttgeo.estimate.evaluate.summarize`, wall time). ``mesh`` is the
    data evaluated; ``excluded``: hosts never used as targets (known-wrong coordinates).
    """

    dataset: str
    mesh: Mesh
    methods: tuple[str, ...]
    excluded: tuple[str, ...]
    results: tuple[Any, ...]
    summaries: tuple[Any, ...]
    seconds: tuple[float, ...]
    rttgeo_version: str = __version__

    @property
    def n_targets(self) -> int:
        return len(self.results[0].target_ids) if self.results else 0

    def unplaced(self) -> dict[str, int]:
        """Per method, the targets it gave no estimate for (counted as infinite errors): their
        RTTs contradict the stated positions, or the method cannot use them."""
        return {r.method: int(np.sum(~np.isfinite(r.error_km))) for r in self.results}

    def header(self) -> str:
        """Two lines: the data (path or bundled, sha256, rttgeo version), then its hosts and
        targets and what was excluded."""
        from rttgeo.estimate.evaluate import provenance_line

        return provenance_line(self.mesh) + "\n" + (
            f"{self.mesh.name}: {len(self.mesh)} hosts, {self.n_targets} targets (excluded as "
            f"targets, known-bad coordinates: {', '.join(self.excluded) or 'none'}); "
            "leave-one-out, calibration refitted per target"
        )

    def table(self) -> str:
        """The plain-text table ``rttgeo eval`` prints (one row per method)."""
        from rttgeo.estimate.evaluate import format_table

        return format_table(list(self.summaries))

    def intervals(self, level: float = 0.95, n_resamples: int = 10_000,
                  seed: int = 0) -> tuple[dict[str, tuple[float, float]], ...]:
        """Per method, in ``methods`` order: the bootstrap interval over the targets of each
        figure (:func:`rttgeo.estimate.evaluate.bootstrap_intervals`; about 1 s per method on
        244 targets)."""
        from rttgeo.estimate.evaluate import bootstrap_intervals

        return tuple(bootstrap_intervals(r, level=level, n_resamples=n_resamples, seed=seed)
                     for r in self.results)

    def intervals_table(self, intervals: Sequence[dict[str, tuple[float, float]]],
                        level: float = 0.95, n_resamples: int = 10_000, seed: int = 0) -> str:
        """The text ``rttgeo eval --intervals`` prints: a heading saying how the ``intervals``
        were drawn, then one row per method with each figure's low-high."""
        def cell(k: str, lo: float, hi: float) -> str:
            if math.isnan(lo):
                return "-"
            if k.startswith(("within", "coverage")):
                return f"{100 * lo:.0f}-{100 * hi:.0f}%"
            return f"{lo:,.0f}-{hi:,.0f}"

        head = (f"{'method':<16}{'median km':>12}{'p80 km':>14}{'p90 km':>14}{'<100km':>10}"
                f"{'<500km':>10}{'coverage':>10}{'area km2':>22}")
        widths = (12, 14, 14, 10, 10, 10, 22)
        lines = [f"{100 * level:g} % bootstrap intervals over the {self.n_targets} targets "
                 f"(percentile method, {n_resamples:,} resamples, seed {seed}):", head,
                 "-" * len(head)]
        for r, iv in zip(self.results, intervals, strict=True):
            lines.append(f"{r.method:<16}" + "".join(
                f"{cell(k, *iv[k]):>{w}}" for k, w in zip(iv, widths, strict=True)))
        return "\n".join(lines)

    def to_json(self, intervals: Sequence[dict[str, tuple[float, float]]] | None = None) -> dict[str, Any]:
        """``{"dataset", "n_hosts", "n_targets", "excluded", "summaries", "provenance"}``; each
        summary also carries the data's provenance (``data``, ``data_sha256``, ``rttgeo_version``)
        so that its CSV rows do, and with ``intervals`` (:meth:`intervals`) each figure's
        ``<figure>_low`` and ``<figure>_high``."""
        from rttgeo.estimate.evaluate import data_provenance

        prov = data_provenance(self.mesh)
        bounds: list[dict[str, float | None]] = [
            {f"{k}_{end}": None if math.isnan(v) else v
             for k, (lo, hi) in iv.items() for end, v in (("low", lo), ("high", hi))}
            for iv in intervals
        ] if intervals is not None else [{} for _ in self.summaries]
        return {
            "dataset": self.dataset,
            "n_hosts": len(self.mesh),
            "n_targets": self.n_targets,
            "excluded": list(self.excluded),
            "summaries": [
                {**s.as_dict(), **b, "seconds": round(t, 3), **prov}
                for s, b, t in zip(self.summaries, bounds, self.seconds, strict=True)
            ],
            "provenance": {"rttgeo_version": self.rttgeo_version, "dataset": self.dataset,
                           "mesh": self.mesh.name, **prov},
        }

    def per_target(self) -> list[dict[str, Any]]:
        """One row per (method, target): true and estimated lat/lon (1e-6 deg), error, region."""
        from rttgeo.estimate.evaluate import data_provenance

        prov = data_provenance(self.mesh)
        rows = []
        for r in self.results:
            for k, t in enumerate(r.target_ids):
                i = self.mesh.index(t)
                rows.append({
                    "method": r.method,
                    "target": t,
                    "label": self.mesh.labels[i] if self.mesh.labels else "",
                    "true_lat_deg": round(float(self.mesh.lat_deg[i]), 6),
                    "true_lon_deg": round(float(self.mesh.lon_deg[i]), 6),
                    "est_lat_deg": _r6(r.lat_deg[k]),
                    "est_lon_deg": _r6(r.lon_deg[k]),
                    "error_km": _r3(r.error_km[k]),
                    "covered": bool(r.covered[k]) if r.has_region else None,
                    "area_km2": _r3(r.area_km2[k]),
                    "consistent": bool(r.consistent[k]),
                    "fit_ms": _r3(r.fit_ms[k]),
                    "locate_ms": _r3(r.locate_ms[k]),
                    "min_rtt_ms": _r3(r.min_rtt_ms[k]),
                    "min_rtt_possible": int(r.min_rtt_possible[k]),
                    **prov,
                })
        return rows

    def estimates(self, method: str) -> tuple[list[Estimate], np.ndarray, np.ndarray, list[str]]:
        """Kept estimates of ``method`` with the true lat/lon and names of their targets (for
        maps); InputError if ``method``'s estimates were not kept (``keep_estimates``)."""
        for r in self.results:
            if r.method == method and r.estimates:
                ok = [k for k, e in enumerate(r.estimates) if e is not None]
                idx = [self.mesh.index(r.target_ids[k]) for k in ok]
                names = [f"{self.mesh.ids[i]} {self.mesh.labels[i]}" if self.mesh.labels
                         else self.mesh.ids[i] for i in idx]
                return ([r.estimates[k] for k in ok], self.mesh.lat_deg[idx],
                        self.mesh.lon_deg[idx], names)
        raise InputError(f"no kept estimates of method {method!r}: evaluate it with "
                         "keep_estimates", field="method")


def _r6(x: float) -> float | None:
    return round(float(x), 6) if math.isfinite(x) else None


def _r3(x: float) -> float | None:
    return round(float(x), 3) if math.isfinite(x) else None


def evaluate(
    mesh_or_path: Mesh | str | os.PathLike[str] = "wonderproxy-2020",
    *,
    methods: str | Sequence[str] | None = None,
    limit: int | None = None,
    jobs: int | None = 1,
    keep_estimates: str | Sequence[str] = (),
    progress: bool = False,
) -> EvaluationResult:
    """Leave-one-out of each method on a mesh; returns an :class:`EvaluationResult`.

    ``mesh_or_path``: a :class:`~rttgeo.models.Mesh`, or a dataset name or folder for
    :func:`rttgeo.datasets.load` (default ``wonderproxy-2020``). Each host not marked bad is the
    target in turn and the calibration is refitted without any of its RTTs. ``methods``: names,
    ``"a,b"``, or None / ``"all"``. ``limit``: only the first N targets. ``jobs``: worker processes
    (None: every core). ``keep_estimates``: methods whose every estimate is kept (for maps).
    ``progress``: a tqdm bar on stderr when it is a terminal.
    """
    from rttgeo.estimate.evaluate import leave_one_out, summarize

    names = parse_methods(methods)
    keep = {keep_estimates} if isinstance(keep_estimates, str) else set(keep_estimates)
    unknown = keep - set(names)
    if unknown:
        raise InputError(f"cannot keep estimates of {', '.join(sorted(unknown))}: not evaluated",
                         field="keep_estimates")
    if limit is not None and limit < 1:
        raise InputError(f"the target limit must be >= 1, got {limit}", field="limit")
    if jobs is not None and jobs < 1:
        raise InputError(f"jobs must be >= 1, got {jobs}", field="jobs")
    if isinstance(mesh_or_path, Mesh):
        mesh, dataset = mesh_or_path, mesh_or_path.name or "given mesh"
    else:
        from rttgeo.api._catalog import load_dataset

        dataset = os.fspath(mesh_or_path)
        mesh = load_dataset(dataset, "dataset")
    if len(mesh) < MIN_HOSTS:
        raise InputError(f"{dataset} has {len(mesh)} host(s): a leave-one-out needs at least "
                         f"{MIN_HOSTS} (a target and two landmarks)", field="dataset")
    targets = [i for i in range(len(mesh)) if not mesh.bad[i]]
    if limit is not None:
        targets = targets[:limit]
    if not targets:
        raise InputError(f"{dataset} has no host usable as a target", field="dataset")
    bar = _bar(len(targets) * len(names), progress)
    results, summaries, seconds = [], [], []
    try:
        for m in names:
            if bar is not None:
                bar.set_description(m)
            base = bar.n if bar is not None else 0

            def tick(done: int, _total: int, base: int = base) -> None:
                if bar is not None:
                    bar.update(base + done - bar.n)

            t0 = time.perf_counter()
            try:
                r = leave_one_out(mesh, m, targets=targets, progress=tick, jobs=jobs,
                                  keep_estimates=m in keep)
            except EstimationError as exc:  # the method cannot be fitted on this mesh at all
                raise InputError(f"{dataset}: {m} cannot use this mesh: {exc}",
                                 field="dataset") from None
            seconds.append(time.perf_counter() - t0)
            results.append(r)
            summaries.append(summarize(r))
    finally:
        if bar is not None:
            bar.close()
    if all(not np.isfinite(r.error_km).any() for r in results):
        raise InputError(
            f"{dataset}: no method placed any of the {len(targets)} targets (the RTTs contradict "
            f"the stated positions: `rttgeo mesh check {dataset}` names the hosts)", field="dataset")
    return EvaluationResult(
        dataset=dataset,
        mesh=mesh,
        methods=names,
        excluded=tuple(mesh.ids[i] for i in range(len(mesh)) if mesh.bad[i]),
        results=tuple(results),
        summaries=tuple(summaries),
        seconds=tuple(seconds),
    )


def _bar(total: int, enabled: bool) -> Any:
    if not enabled or not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm comes with the measure extra
        return None
    return tqdm(total=total, unit="target", file=sys.stderr, leave=False, dynamic_ncols=True)
