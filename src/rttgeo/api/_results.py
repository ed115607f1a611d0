"""Values the verbs return, and what every verb shares: confidence grading, provenance, GeoJSON.

Everything here is plain data over the rooms below (no probing, no file reading): a script gets
from a result exactly what ``rttgeo`` prints. Coordinates written out (JSON, GeoJSON) are rounded
to :data:`COORD_DECIMALS` decimals of a degree (1e-6 deg, about 0.11 m), far below any latency
geolocation error, so files carry no float32 noise such as 48.85340881347656.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rttgeo.errors import RttgeoWarning
from rttgeo.geo.polygon import COORD_DECIMALS, feature, feature_collection, round_geometry
from rttgeo.models import Estimate, Landmark, Sample
from rttgeo.units import FIBRE_FRACTION_OF_C, rtt_ms_to_max_distance_km

__all__ = [
    "COORD_DECIMALS",
    "Confidence",
    "EstimateResult",
    "Measurement",
    "Provenance",
    "grade_confidence",
    "source_sha256",
]

#: Region areas (km²) at or below which the grade is ``high`` / ``medium``.
HIGH_AREA_KM2 = 5e4
MEDIUM_AREA_KM2 = 1e6


def _round(x: float | None, ndigits: int = COORD_DECIMALS) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), ndigits)


def _finite_or_none(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def fmt_lat_lon(lat_deg: float, lon_deg: float) -> str:
    """``48.857°N 2.331°E`` (three decimals, about 100 m)."""
    ns = "N" if lat_deg >= 0 else "S"
    ew = "E" if lon_deg >= 0 else "W"
    return f"{abs(lat_deg):.3f}°{ns} {abs(lon_deg):.3f}°{ew}"


# -- confidence ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Confidence:
    """A plain-words grade of an estimate (``high`` / ``medium`` / ``low``) and its reasons.

    ``nearest_*``: the landmark with the lowest RTT among those the estimate used (one left out
    for contradicting the others bounds nothing), and how far from it the host can be: at the
    speed of light in fibre (2/3 c, about 100 km per ms of RTT) and in vacuum (c, 149.9 km per ms,
    the bound no path beats). NaN / None when no landmark answered.
    """

    grade: str
    reasons: tuple[str, ...]
    n_answered: int
    nearest_id: str | None = None
    nearest_rtt_ms: float = math.nan
    nearest_within_km_fibre: float = math.nan
    nearest_within_km_vacuum: float = math.nan

    def as_dict(self) -> dict[str, Any]:
        return {
            "grade": self.grade,
            "reasons": list(self.reasons),
            "n_answered": self.n_answered,
            "nearest_id": self.nearest_id,
            "nearest_rtt_ms": _finite_or_none(self.nearest_rtt_ms),
            "nearest_within_km_fibre": _finite_or_none(self.nearest_within_km_fibre),
            "nearest_within_km_vacuum": _finite_or_none(self.nearest_within_km_vacuum),
        }

    def radius_text(self) -> str:
        """``within 245 km (fibre, 2/3 c) / 367 km (vacuum, c)`` of the nearest landmark."""
        return (
            f"within {self.nearest_within_km_fibre:,.0f} km (fibre, 2/3 c) / "
            f"{self.nearest_within_km_vacuum:,.0f} km (vacuum, c)"
        )


def grade_confidence(
    est: Estimate, rtts_ms: np.ndarray, landmark_ids: Sequence[str]
) -> Confidence:
    """Grade ``est`` from its region's area, consistency and how many landmarks answered.

    Area <= 50,000 km²: high; <= 1,000,000 km²: medium; else (or no region) low. Lowered to low
    when the constraints are inconsistent or fewer than 3 landmarks answered. ``rtts_ms`` follows
    ``landmark_ids`` (NaN = no reply).
    """
    rtts = np.asarray(rtts_ms, dtype=float)
    answered = np.isfinite(rtts)
    n = int(answered.sum())
    area = est.area_km2
    reasons: list[str] = []
    if not math.isfinite(area):
        grade = "low"
        reasons.append("the method gives no region")
    else:
        grade = "high" if area <= HIGH_AREA_KM2 else "medium" if area <= MEDIUM_AREA_KM2 else "low"
        reasons.append(f"region of {area:,.0f} km²")
    if not est.consistent:
        grade = "low"
        reasons.append("the landmarks' constraints do not agree" + (f" ({est.note})" if est.note else ""))
    if n < 3:
        grade = "low"
        reasons.append(f"only {n} landmark(s) answered")
    if not n:
        return Confidence(grade, tuple(reasons), 0)
    # the nearest landmark the estimate kept: one left out (its position contradicts the others'
    # RTTs) bounds nothing; the methods keep the lowest RTTs, so this is the lowest trusted one
    used = [d for d in est.landmarks if d.used and math.isfinite(d.rtt_ms)]
    if used:
        d = min(used, key=lambda d: d.rtt_ms)
        nearest, r = d.id, float(d.rtt_ms)
    else:
        best = int(np.nanargmin(np.where(answered, rtts, np.inf)))
        nearest, r = landmark_ids[best], float(rtts[best])
    return Confidence(
        grade,
        tuple(reasons),
        n,
        nearest_id=nearest,
        nearest_rtt_ms=r,
        nearest_within_km_fibre=rtt_ms_to_max_distance_km(r, FIBRE_FRACTION_OF_C),
        nearest_within_km_vacuum=rtt_ms_to_max_distance_km(r, 1.0),
    )


# -- provenance and measurement ------------------------------------------------------------------
def source_sha256(rtts: Any) -> str | None:
    """SHA-256 of the file the RTTs were read from (a samples CSV, a campaign store, a receipts
    file), for the provenance; None for RTTs given in memory (no such file)."""
    if not isinstance(rtts, str | os.PathLike) or not Path(rtts).is_file():
        return None
    from rttgeo.datasets.bundle import sha256_of

    return sha256_of([rtts])


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a result came from, so that a file can be traced and reproduced.

    ``source``: what the RTTs came from (a file path as given, ``probes``, ``mapping``,
    ``samples``, ``array``) and ``source_sha256`` the hash of that file (of the store file for a
    campaign store; None when the RTTs were not read from a file); ``campaign``: the stored
    campaign read or written (id, target, protocol, status, started), if any; ``catalog``: the
    catalog's path (``given`` for Landmark objects) and ``catalog_sha256`` its hash;
    ``calibration``: what the estimator was fitted on.
    """

    rttgeo_version: str
    method: str
    source: str
    catalog: str
    catalog_sha256: str | None
    calibration: str
    campaign: Mapping[str, Any] | None = None
    source_sha256: str | None = None
    created_utc: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )

    def as_dict(self) -> dict[str, Any]:
        return {
            "rttgeo_version": self.rttgeo_version,
            "method": self.method,
            "source": self.source,
            "source_sha256": self.source_sha256,
            "campaign": None if self.campaign is None else dict(self.campaign),
            "catalog": self.catalog,
            "catalog_sha256": self.catalog_sha256,
            "calibration": self.calibration,
            "created_utc": self.created_utc,
        }


@dataclass(frozen=True, slots=True)
class Measurement:
    """What a probing verb measured: protocol, samples, landmarks probed and answered, timing.

    ``samples`` are every probe in arrival order (lost ones with ``rtt_ms`` None); ``errors`` the
    most common prober error details with their counts; ``two_stage`` the landmark ids of each
    stage and the coarse point, when two-stage selection ran.
    """

    protocol: str
    k: int
    samples: tuple[Sample, ...]
    landmarks_probed: int
    landmarks_answered: int
    elapsed_s: float
    status: str
    store: str | None = None
    campaign_id: int | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    errors: tuple[tuple[str, int], ...] = ()
    two_stage: Mapping[str, Any] | None = None

    @property
    def n_probes(self) -> int:
        return len(self.samples)

    @property
    def n_lost(self) -> int:
        return sum(s.rtt_ms is None for s in self.samples)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "protocol": self.protocol,
            "k": self.k,
            "probes": self.n_probes,
            "lost": self.n_lost,
            "landmarks_probed": self.landmarks_probed,
            "landmarks_answered": self.landmarks_answered,
            "elapsed_s": round(self.elapsed_s, 3),
            "status": self.status,
            "store": self.store,
            "campaign_id": self.campaign_id,
            "params": {k: _finite_or_none(v) if isinstance(v, float) else v
                       for k, v in self.params.items()},
            "errors": [{"detail": d, "count": n} for d, n in self.errors],
        }
        if self.two_stage is not None:
            out["two_stage"] = dict(self.two_stage)
        return out


# -- warnings ------------------------------------------------------------------------------------
_LANDMARK = re.compile(r"landmark '([^']*)'")


class WarningLog:
    """Collects :class:`RttgeoWarning` messages, once per landmark (or per distinct message).

    Estimators warn for each landmark they leave out, every time they run (a two-stage locate runs
    one twice); a person needs each reason once.
    """

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}

    def add(self, message: str) -> None:
        m = _LANDMARK.search(message)
        key = f"landmark:{m.group(1)}" if m else message
        self._seen.setdefault(key, message)

    @contextmanager
    def capture(self) -> Iterator[None]:
        """Record RttgeoWarnings raised inside the block instead of showing them."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RttgeoWarning)
            try:
                yield
            finally:
                for w in caught:
                    if issubclass(w.category, RttgeoWarning):
                        self.add(str(w.message))
                    else:  # not ours: show it as Python would have
                        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)

    @property
    def messages(self) -> tuple[str, ...]:
        return tuple(self._seen.values())


# -- results -------------------------------------------------------------------------------------
def estimate_json(est: Estimate) -> dict[str, Any]:
    """DESIGN.md's estimate JSON with coordinates rounded to 1e-6 degree."""
    doc = est.to_json()
    pt = doc["point"]
    doc["point"] = {"lat_deg": _round(pt["lat_deg"]), "lon_deg": _round(pt["lon_deg"])}
    if doc.get("region") is not None:
        doc["region"] = round_geometry(doc["region"])
    for d in doc["landmarks"]:
        d["lat_deg"], d["lon_deg"] = _round(d["lat_deg"]), _round(d["lon_deg"])
    return doc


@dataclass(frozen=True, slots=True, eq=False)
class EstimateResult:
    """Where a host is, with everything ``rttgeo estimate`` prints.

    ``estimate`` is the method's :class:`~rttgeo.models.Estimate` (point, region, area,
    per-landmark diagnostics); ``confidence`` its plain-words grade; ``landmarks`` the catalog the
    RTTs were aligned to and ``rtts_ms`` the minimum RTT per landmark in that order (NaN = not
    measured or lost); ``warnings`` what the estimator left out and why, once per landmark;
    ``provenance`` where the inputs came from.
    """

    estimate: Estimate
    confidence: Confidence
    landmarks: tuple[Landmark, ...]
    rtts_ms: np.ndarray
    warnings: tuple[str, ...]
    provenance: Provenance

    @property
    def lat_deg(self) -> float:
        return self.estimate.lat_deg

    @property
    def lon_deg(self) -> float:
        return self.estimate.lon_deg

    def to_json(self) -> dict[str, Any]:
        """``{"estimate", "confidence", "warnings", "provenance"}``, JSON-ready (no NaN)."""
        return {
            "estimate": estimate_json(self.estimate),
            "confidence": self.confidence.as_dict(),
            "warnings": list(self.warnings),
            "provenance": self.provenance.as_dict(),
        }

    def to_geojson(self) -> dict[str, Any]:
        """An RFC 7946 FeatureCollection: the point (every other field in its properties) and
        the region (when the method gives one); lon/lat order, coordinates to 1e-6 degree."""
        doc = self.to_json()
        est = doc.pop("estimate")
        region = est.pop("region", None)
        point = est.pop("point")
        props = {"kind": "point", **est, **doc}
        feats = [
            feature({"type": "Point", "coordinates": [point["lon_deg"], point["lat_deg"]]}, props)
        ]
        if region is not None:
            feats.append(
                feature(
                    region,
                    {"kind": "region", "method": est["method"], "area_km2": est["area_km2"],
                     "level": est["level"]},
                )
            )
        return feature_collection(feats)

    def describe(self, max_landmarks: int = 8) -> str:
        """The text ``rttgeo estimate`` prints: point, region, landmarks, confidence."""
        from rttgeo.estimate.describe import describe

        text = describe(self.estimate, self.landmarks, max_landmarks=max_landmarks)
        c = self.confidence
        lines = [text, f"confidence: {c.grade}: {'; '.join(c.reasons)}"]
        if c.nearest_id is not None:
            lines.append(
                f"nearest:  {c.nearest_id} at {c.nearest_rtt_ms:.2f} ms, so {c.radius_text()}"
            )
        return "\n".join(lines)




def jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars and arrays as Python values and NaN / inf as None (RFC 8259
    has no NaN), so that ``json.dumps(..., allow_nan=False)`` always succeeds."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def dumps(doc: Any, *, indent: int | None = 1) -> str:
    """Strict JSON text of ``doc`` (see :func:`jsonable`)."""
    import json

    return json.dumps(jsonable(doc), indent=indent, allow_nan=False, ensure_ascii=False)
