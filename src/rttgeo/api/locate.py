"""``rttgeo.locate``: probe landmarks from this host, then estimate where it is.

>>> import rttgeo
>>> r = rttgeo.locate(limit=100)                       # doctest: +SKIP  (probes for real)
>>> print(r.describe())                                # doctest: +SKIP

The prober is a seam: pass ``prober=rttgeo.measure.FakeProber(...)`` (or any
:class:`rttgeo.measure.Prober`) to run the whole path offline.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rttgeo import __version__
from rttgeo.api._catalog import LandmarksLike, check_method
from rttgeo.api._probing import Log, plan, run_campaign_once
from rttgeo.api._results import (
    EstimateResult,
    Measurement,
    Provenance,
    WarningLog,
    fmt_lat_lon,
    grade_confidence,
)
from rttgeo.estimate.defaults import default_calibration_source
from rttgeo.estimate.describe import candidate_lines
from rttgeo.models import Mesh

__all__ = ["LocateResult", "locate"]


@dataclass(frozen=True, slots=True, eq=False)
class LocateResult(EstimateResult):
    """An :class:`EstimateResult` plus ``measurement``: what was probed, every sample, timing."""

    measurement: Measurement

    def to_json(self) -> dict[str, Any]:
        """``{"estimate", "confidence", "measurement", "warnings", "provenance"}``."""
        doc = EstimateResult.to_json(self)
        return {
            "estimate": doc["estimate"],
            "confidence": doc["confidence"],
            "measurement": self.measurement.as_dict(),
            "warnings": doc["warnings"],
            "provenance": doc["provenance"],
        }

    def describe(self, max_landmarks: int = 8) -> str:
        """The text ``rttgeo locate`` prints."""
        est, m, c = self.estimate, self.measurement, self.confidence
        used = sorted((d for d in est.landmarks if d.used), key=lambda d: d.rtt_ms)
        lines = [
            f"rttgeo locate: {est.method}, {m.protocol}, {m.landmarks_answered} of "
            f"{m.landmarks_probed} probed landmarks answered ({m.n_probes} probes, "
            f"{m.elapsed_s:.1f} s)",
            f"  point       {fmt_lat_lon(est.lat_deg, est.lon_deg)}",
        ]
        if est.region is not None and np.isfinite(est.area_km2):
            kind = "feasible region" if est.level is None else f"{est.level:.0%} region"
            lines.append(f"  region      {est.area_km2:,.0f} km² ({kind})")
        lines.extend(f"  {line}" for line in candidate_lines(est))
        if c.nearest_id is not None:
            lm = next(lm for lm in self.landmarks if lm.id == c.nearest_id)
            lines.append(
                f"  nearest     {lm.id} {lm.country} at {fmt_lat_lon(lm.lat_deg, lm.lon_deg)}: "
                f"{c.nearest_rtt_ms:.2f} ms, so {c.radius_text()}"
            )
        lines.append(
            f"  landmarks   {len(used)} used: "
            + ", ".join(f"{d.id} {d.rtt_ms:.1f} ms" for d in used[:max_landmarks])
            + (" ..." if len(used) > max_landmarks else "")
        )
        lines.append(f"  confidence  {c.grade}: {'; '.join(c.reasons)}")
        if not est.consistent and est.note:
            lines.append(f"  note        {est.note}")
        return "\n".join(lines)


def locate(
    *,
    landmarks: LandmarksLike = None,
    method: str | None = None,
    protocol: str = "auto",
    port: int | None = None,
    prober: Any = None,
    campaign: Any = None,
    limit: int | None = None,
    two_stage: bool = False,
    first_n: int = 30,
    second_n: int = 30,
    first_timeout_s: float = 1.5,
    store: str | Path | None = None,
    target: str = "self",
    subtract_turnaround: bool = False,
    progress: bool = False,
    log: Log = None,
) -> LocateResult:
    """Probe ``landmarks`` from this host and estimate its position; returns a :class:`LocateResult`.

    ``landmarks``: a catalog file, Landmark values, or None (the bundled RIPE Atlas anchors);
    only those whose catalog entry allows the prober's protocol are probed, at most ``limit``
    spread over the catalog. ``prober``: any :class:`rttgeo.measure.Prober` (default: a new one
    for ``protocol``, ``port``, ``subtract_turnaround``). ``campaign``: a
    :class:`rttgeo.measure.CampaignParams` (k samples per landmark, timeout, retries, rates).

    A quick first wave (``first_n`` landmarks spread over the catalog, one probe each,
    ``first_timeout_s``, no retry) raises :class:`~rttgeo.errors.NoLandmarkAnswered` within seconds
    when nothing answers. Then every landmark is probed k times, or with ``two_stage`` the
    ``second_n`` nearest to the first wave's estimate. ``store``: keep every sample in this campaign
    store. ``progress``: a tqdm bar on stderr (when it is a terminal); ``log``: narration lines.
    """
    method = check_method(method)
    p = plan(landmarks, prober=prober, protocol=protocol, port=port,
             subtract_turnaround=subtract_turnaround, params=campaign, limit=limit)
    from rttgeo.estimate import make_estimator
    from rttgeo.measure import farthest_point_indices, probe_wave
    from rttgeo.measure import two_stage as run_two_stage
    from rttgeo.measure.selection import rtt_vector

    lms = list(p.landmarks)
    log_w = WarningLog()
    with log_w.capture():
        estimator = make_estimator(method).fit(Mesh.from_landmarks(lms, name=p.catalog.label))
    chosen: dict[str, Any] = {}

    async def body(camp: Any) -> np.ndarray:
        if two_stage:
            with log_w.capture():
                res = await run_two_stage(camp, lms, estimator, first_n=first_n,
                                          second_n=second_n, first_timeout_s=first_timeout_s)
            chosen["first"] = [lms[i].id for i in res.first_idx]
            chosen["second"] = [lms[i].id for i in res.second_idx]
            chosen["coarse_point"] = {"lat_deg": round(float(res.coarse.lat_deg), 6),
                                      "lon_deg": round(float(res.coarse.lon_deg), 6)}
            return res.rtts_ms
        wave = farthest_point_indices([lm.lat_deg for lm in lms], [lm.lon_deg for lm in lms],
                                      first_n)
        if camp.progress is not None:
            camp.progress.add_total(len(wave) + len(lms) * p.params.k)
        await probe_wave(camp, [lms[i] for i in wave], timeout_s=first_timeout_s)
        await camp.run(lms)
        return rtt_vector(lms, camp)

    rtts, meas = run_campaign_once(
        p, body, store=store, target=target, command="locate", progress=progress, log=log,
        extra_params={"method": method, "two_stage": two_stage},
    )
    if chosen:
        meas = replace(meas, two_stage=chosen)
    with log_w.capture():
        est = estimator.locate(rtts)
    assert not isinstance(est, list)
    return LocateResult(
        estimate=est,
        confidence=grade_confidence(est, rtts, [lm.id for lm in lms]),
        landmarks=tuple(lms),
        rtts_ms=rtts,
        warnings=log_w.messages,
        provenance=Provenance(
            rttgeo_version=__version__,
            method=method,
            source="probes",
            catalog=p.catalog.label,
            catalog_sha256=p.catalog.sha256,
            calibration=default_calibration_source(),
            campaign=None if store is None else {"store": str(store), "id": meas.campaign_id,
                                                 "target": target, "protocol": meas.protocol,
                                                 "status": meas.status},
        ),
        measurement=meas,
    )
