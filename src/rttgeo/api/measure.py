"""``rttgeo.api.measure``: a measurement campaign into a store, no estimate (``rttgeo measure``).

Not re-exported as ``rttgeo.measure``, which is the measuring room itself.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from rttgeo.api._catalog import LandmarksLike
from rttgeo.api._probing import Log, plan, run_campaign_once
from rttgeo.api._results import Measurement
from rttgeo.errors import StoreError
from rttgeo.models import Landmark

__all__ = ["MeasureResult", "default_store_name", "measure"]

#: Landmarks in the quick first wave that detects "nothing answers".
FIRST_WAVE = 30


def default_store_name() -> str:
    """``campaign-<UTC time>.db`` in the working directory."""
    return dt.datetime.now(dt.UTC).strftime("campaign-%Y%m%dT%H%M%SZ.db")


@dataclass(frozen=True, slots=True, eq=False)
class MeasureResult:
    """A finished campaign: where it is stored, what was measured (``measurement``), the
    landmarks probed (``landmarks``) and the minimum RTT of each (``rtts_ms``, NaN = no reply)."""

    store: Path
    campaign_id: int
    catalog: str
    landmarks: tuple[Landmark, ...]
    rtts_ms: np.ndarray
    measurement: Measurement

    def describe(self) -> str:
        """The line ``rttgeo measure`` prints."""
        m = self.measurement
        return (
            f"{m.n_probes} samples, {m.n_lost} lost, {m.landmarks_answered}/{len(self.landmarks)} "
            f"landmarks answered in {m.elapsed_s:.1f} s; store {self.store} campaign "
            f"{self.campaign_id}"
        )

    def to_json(self) -> dict[str, Any]:
        """The campaign as JSON: store, campaign id, catalog, measurement, RTT per landmark."""
        return {
            "store": str(self.store),
            "campaign_id": self.campaign_id,
            "catalog": self.catalog,
            "measurement": self.measurement.as_dict(),
            "min_rtt_ms": {lm.id: (None if math.isnan(r) else float(r))
                           for lm, r in zip(self.landmarks, self.rtts_ms, strict=True)},
        }

    def write_csv(self, out: str | Path | TextIO) -> int:
        """Write this campaign's samples as CSV (DESIGN.md columns, arrival order, an empty
        ``rtt_ms`` for a lost probe) to a path or an open text stream; returns the row count."""
        import csv

        from rttgeo.store import SAMPLE_COLUMNS

        def write(fh: TextIO) -> int:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(SAMPLE_COLUMNS)
            for s in self.measurement.samples:
                w.writerow([s.target, s.landmark, s.protocol, s.sent_unix_ns,
                            "" if s.rtt_ms is None else repr(float(s.rtt_ms))])
            return len(self.measurement.samples)

        if not isinstance(out, str | Path):
            return write(out)
        try:
            with open(out, "w", newline="", encoding="utf-8") as fh:
                return write(fh)
        except OSError as exc:
            raise StoreError(f"cannot write {out}: {exc.strerror or exc}") from None


def measure(
    *,
    landmarks: LandmarksLike = None,
    protocol: str = "auto",
    port: int | None = None,
    prober: Any = None,
    campaign: Any = None,
    limit: int | None = None,
    store: str | Path | None = None,
    target: str = "self",
    subtract_turnaround: bool = False,
    progress: bool = False,
    log: Log = None,
) -> MeasureResult:
    """Probe every landmark k times into the campaign ``store`` (default
    ``campaign-<UTC time>.db``); returns a :class:`MeasureResult`.

    Arguments as :func:`rttgeo.locate`. A first wave of one probe to 30 landmarks spread over the
    catalog raises :class:`~rttgeo.errors.NoLandmarkAnswered` within seconds when nothing answers.
    """
    p = plan(landmarks, prober=prober, protocol=protocol, port=port,
             subtract_turnaround=subtract_turnaround, params=campaign, limit=limit)
    from rttgeo.measure import farthest_point_indices, probe_wave
    from rttgeo.measure.selection import rtt_vector

    path = Path(store) if store is not None else Path(default_store_name())
    lms = list(p.landmarks)

    async def body(camp: Any) -> np.ndarray:
        wave = farthest_point_indices([lm.lat_deg for lm in lms], [lm.lon_deg for lm in lms],
                                      FIRST_WAVE)
        if camp.progress is not None:
            camp.progress.add_total(len(wave) + len(lms) * p.params.k)
        await probe_wave(camp, [lms[i] for i in wave], timeout_s=min(p.params.timeout_s, 1.5))
        await camp.run(lms)
        return rtt_vector(lms, camp)

    rtts, meas = run_campaign_once(
        p, body, store=path, target=target, command="measure", progress=progress, log=log,
        start_line=lambda cid: (f"probing {len(lms)} landmarks x {p.params.k} "
                                f"({p.prober.protocol}) into {path} (campaign {cid})"),
    )
    assert meas.campaign_id is not None
    return MeasureResult(path, meas.campaign_id, p.catalog.label, tuple(lms), rtts, meas)
