"""Two-stage landmark selection: a geographic spread first, then the landmarks nearest the estimate.

Hu et al. (IMC 2012, million-scale geolocation) found that the landmarks closest to the target
constrain it most. Stage 1 probes ``first_n`` landmarks chosen by farthest-point sampling (a spread
over the catalog) and makes a coarse estimate; stage 2 probes the ``second_n`` not-yet-probed
landmarks nearest to that estimate, preferring those inside the coarse feasible region. The final
RTT vector covers the whole catalog with NaN for landmarks never probed.

The estimator is anything with ``locate(rtts_ms) -> obj`` where ``obj`` has ``lat_deg``,
``lon_deg`` and optionally ``region`` (with ``contains(lat_deg, lon_deg)``): the measure room does
not import the estimate room.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from rttgeo.errors import NoLandmarkAnswered
from rttgeo.geo.spread import farthest_point_indices, nearest_indices
from rttgeo.measure.campaign import Campaign, probe_wave
from rttgeo.models import Landmark

__all__ = [
    "Locator",
    "TwoStageResult",
    "farthest_point_indices",
    "nearest_indices",
    "rtt_vector",
    "two_stage",
]


class Locator(Protocol):
    def locate(self, rtts_ms: np.ndarray) -> Any: ...


def rtt_vector(landmarks: Sequence[Landmark], camp: Campaign) -> np.ndarray:
    """Minimum RTT per landmark (catalog order) over the campaign's samples so far; NaN if none."""
    pos = {lm.id: i for i, lm in enumerate(landmarks)}
    out = np.full(len(landmarks), np.inf)
    for s in camp.samples:
        if s.rtt_ms is not None and s.landmark in pos:
            i = pos[s.landmark]
            out[i] = min(out[i], s.rtt_ms)
    out[~np.isfinite(out)] = np.nan
    return out


@dataclass(frozen=True, slots=True)
class TwoStageResult:
    """Outcome of :func:`two_stage`: RTTs over the whole catalog (NaN = not probed or no reply)."""

    rtts_ms: np.ndarray
    first_idx: NDArray[np.int64]
    second_idx: NDArray[np.int64]
    coarse: Any

    @property
    def probed_idx(self) -> NDArray[np.int64]:
        return np.concatenate([self.first_idx, self.second_idx])


async def two_stage(
    camp: Campaign,
    landmarks: Sequence[Landmark],
    locator: Locator,
    *,
    first_n: int = 30,
    second_n: int = 30,
    k: int | None = None,
    first_timeout_s: float | None = None,
) -> TwoStageResult:
    """Probe a spread of ``first_n`` landmarks, estimate, then the ``second_n`` nearest (see doc).

    Stage 1 doubles as the quick first wave: if nothing answers it raises
    :class:`rttgeo.errors.NoLandmarkAnswered` after one timeout. ``k`` samples per landmark in both
    stages (default ``camp.params.k``).
    """
    k = camp.params.k if k is None else k
    lat = np.array([lm.lat_deg for lm in landmarks])
    lon = np.array([lm.lon_deg for lm in landmarks])
    first = farthest_point_indices(lat, lon, first_n)
    if camp.progress is not None:
        camp.progress.add_total(len(first) * k)
    await probe_wave(
        camp, [landmarks[i] for i in first], k=k, timeout_s=first_timeout_s or camp.params.timeout_s
    )
    rtts = rtt_vector(landmarks, camp)
    coarse = locator.locate(rtts)
    c_lat, c_lon = float(coarse.lat_deg), float(coarse.lon_deg)
    if not (math.isfinite(c_lat) and math.isfinite(c_lon)):
        raise NoLandmarkAnswered("the first stage gave no usable estimate")  # pragma: no cover
    second = nearest_indices(
        lat, lon, c_lat, c_lon, second_n, exclude=first, region=getattr(coarse, "region", None)
    )
    if camp.progress is not None:
        camp.progress.add_total(len(second) * k)
    await camp.run([landmarks[i] for i in second], k=k)
    return TwoStageResult(rtt_vector(landmarks, camp), first, second, coarse)
