"""Values shared by every room: landmarks, samples, meshes and estimates.

Frozen, slotted dataclasses. Arrays follow one shape convention: N hosts or landmarks, ``(N,)`` for
per-host values and ``(N, N)`` for matrices, ``rtt_ms[i, j]`` measured from host i to host j.
NaN means "not measured"; a lost probe is never 0 ms.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from rttgeo.geo.density import CellDensity
    from rttgeo.geo.grid import CellRegion

__all__ = ["Candidate", "Estimate", "Landmark", "LandmarkDiagnostic", "Mesh", "Sample"]

PROTOCOLS = ("icmp", "tcp", "udp")


@dataclass(frozen=True, slots=True)
class Landmark:
    """A server with a known position that answers probes.

    ``protocols`` lists what it answers (``icmp``, ``tcp``, ``udp``); ``port`` is the TCP / UDP port.
    """

    id: str
    lat_deg: float
    lon_deg: float
    address: str = ""
    port: int | None = None
    protocols: tuple[str, ...] = ("icmp",)
    country: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lat_deg) and -90.0 <= self.lat_deg <= 90.0):
            raise ValueError(f"landmark {self.id!r}: lat_deg {self.lat_deg} outside [-90, 90]")
        if not (math.isfinite(self.lon_deg) and -180.0 <= self.lon_deg <= 180.0):
            raise ValueError(f"landmark {self.id!r}: lon_deg {self.lon_deg} outside [-180, 180]")


@dataclass(frozen=True, slots=True)
class Sample:
    """One probe: ``rtt_ms`` is None when the probe was lost (never 0).

    ``sent_unix_ns`` is the wall-clock send time, a label only; the RTT itself comes from a monotonic
    or kernel clock, named in ``timing`` (e.g. ``monotonic``, ``so_timestampns``, ``tcp_info``,
    ``connect``).
    """

    target: str
    landmark: str
    protocol: str
    sent_unix_ns: int
    rtt_ms: float | None
    timing: str = ""

    @property
    def lost(self) -> bool:
        return self.rtt_ms is None


@dataclass(frozen=True, eq=False, slots=True)
class Mesh:
    """Hosts with coordinates and their pairwise minimum RTTs.

    ``rtt_ms`` has shape (N, N); NaN where not measured and on the diagonal. ``bad`` marks hosts whose
    ground-truth coordinates are known to be wrong (they must not be used as evaluation targets).
    ``source`` says where the data were read from (a path, or ``bundled`` for the copy inside the
    package) and ``sha256`` fingerprints those files (``rttgeo.datasets.bundle.sha256_of``); both
    are empty for a mesh made in memory.
    """

    ids: tuple[str, ...]
    lat_deg: np.ndarray
    lon_deg: np.ndarray
    rtt_ms: np.ndarray
    bad: np.ndarray
    name: str = ""
    labels: tuple[str, ...] = ()
    source: str = ""
    sha256: str = ""

    def __post_init__(self) -> None:
        n = len(self.ids)
        if self.lat_deg.shape != (n,) or self.lon_deg.shape != (n,) or self.bad.shape != (n,):
            raise ValueError("Mesh: per-host arrays must have shape (N,)")
        if self.rtt_ms.shape != (n, n):
            raise ValueError(f"Mesh: rtt_ms must have shape ({n}, {n}), got {self.rtt_ms.shape}")
        if len(set(self.ids)) != n:
            raise ValueError("Mesh: duplicate host ids")
        if self.labels and len(self.labels) != n:
            raise ValueError("Mesh: labels must match ids")

    def __len__(self) -> int:
        return len(self.ids)

    def index(self, host_id: str) -> int:
        """Position of ``host_id``; raises KeyError naming it."""
        try:
            return self.ids.index(host_id)
        except ValueError:
            raise KeyError(f"host {host_id!r} is not in mesh {self.name!r}") from None

    def subset(self, idx: Sequence[int] | np.ndarray) -> Mesh:
        """The mesh restricted to hosts ``idx`` (in that order)."""
        idx = np.asarray(idx, dtype=int)
        return Mesh(
            ids=tuple(self.ids[i] for i in idx),
            lat_deg=self.lat_deg[idx].copy(),
            lon_deg=self.lon_deg[idx].copy(),
            rtt_ms=self.rtt_ms[np.ix_(idx, idx)].copy(),
            bad=self.bad[idx].copy(),
            name=self.name,
            labels=tuple(self.labels[i] for i in idx) if self.labels else (),
            source=self.source,
            sha256=self.sha256,
        )

    @staticmethod
    def from_landmarks(landmarks: Sequence[Landmark], name: str = "catalog") -> Mesh:
        """A mesh of ``landmarks`` with no RTT measured between them (all NaN).

        Estimators fitted on such a mesh fall back to pooled calibration (see rttgeo.estimate).
        """
        n = len(landmarks)
        return Mesh(
            ids=tuple(lm.id for lm in landmarks),
            lat_deg=np.array([lm.lat_deg for lm in landmarks], dtype=float),
            lon_deg=np.array([lm.lon_deg for lm in landmarks], dtype=float),
            rtt_ms=np.full((n, n), np.nan),
            bad=np.zeros(n, dtype=bool),
            name=name,
        )

    def landmarks(self) -> list[Landmark]:
        """Hosts as :class:`Landmark` values (no address)."""
        return [
            Landmark(
                h,
                float(a),
                float(o),
                source=self.name,
                country=self.labels[i] if self.labels else "",
            )
            for i, (h, a, o) in enumerate(zip(self.ids, self.lat_deg, self.lon_deg, strict=True))
        ]


@dataclass(frozen=True, slots=True)
class LandmarkDiagnostic:
    """How one landmark constrained an estimate.

    ``max_distance_km`` is the radius its RTT allows under the method's model (NaN if the method has
    none); ``distance_km`` the distance from the point estimate; ``slack_km`` = max - distance
    (negative: the estimate violates this landmark's constraint).
    """

    id: str
    lat_deg: float
    lon_deg: float
    rtt_ms: float
    max_distance_km: float
    distance_km: float
    slack_km: float
    used: bool
    note: str = ""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A candidate place for the host (RIPE IPmap's answer shape): a city, or an area with no city.

    ``probability`` is the posterior mass within ``radius_km`` of the place, under the posterior
    that chose the estimate's point (the candidates of one estimate are disjoint events: their
    probabilities sum to at most 1); ``distance_km`` how far the place is from the estimate's
    point.
    """

    name: str
    country: str
    lat_deg: float
    lon_deg: float
    probability: float
    radius_km: float
    distance_km: float

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "country": self.country,
            "lat_deg": self.lat_deg,
            "lon_deg": self.lon_deg,
            "probability": self.probability,
            "radius_km": self.radius_km,
            "distance_km": self.distance_km,
        }


@dataclass(frozen=True, eq=False, slots=True)
class Estimate:
    """Where a host is, per one method.

    ``region`` is the feasible set (hard-constraint methods, ``level`` None) or the highest-posterior
    region holding probability ``level``; ``area_km2`` its area (NaN without region). ``consistent``
    says whether the constraints had a common solution; if not, ``note`` says what the method did.
    ``region_kind`` says what the region is and whether its coverage is calibrated (measured
    figures in docs/estimation.md). ``candidates``: the most probable places, best first (methods
    with a population prior). ``low_confidence``: the evidence cannot single out a place (the region
    is too large); the point is then the posterior's centre, not a city, and ``note`` says so.
    """

    lat_deg: float
    lon_deg: float
    method: str
    params: Mapping[str, Any]
    region: CellRegion | None
    area_km2: float
    level: float | None
    consistent: bool
    note: str = ""
    landmarks: tuple[LandmarkDiagnostic, ...] = field(default_factory=tuple)
    posterior: CellDensity | None = field(default=None, repr=False)
    region_kind: str = ""
    candidates: tuple[Candidate, ...] = ()
    low_confidence: bool = False

    def to_json(self, *, with_region: bool = True) -> dict[str, Any]:
        """The estimate as JSON-ready dict (DESIGN.md format): point, region GeoJSON, area, method."""
        out: dict[str, Any] = {
            "point": {"lat_deg": self.lat_deg, "lon_deg": self.lon_deg},
            "method": self.method,
            "params": dict(self.params),
            "area_km2": None if math.isnan(self.area_km2) else self.area_km2,
            "level": self.level,
            "region_kind": self.region_kind,
            "consistent": self.consistent,
            "low_confidence": self.low_confidence,
            "note": self.note,
            "candidates": [c.to_json() for c in self.candidates],
            "landmarks": [
                {
                    k: (None if isinstance(v, float) and math.isnan(v) else v)
                    for k, v in (
                        ("id", d.id),
                        ("lat_deg", d.lat_deg),
                        ("lon_deg", d.lon_deg),
                        ("rtt_ms", d.rtt_ms),
                        ("max_distance_km", d.max_distance_km),
                        ("distance_km", d.distance_km),
                        ("slack_km", d.slack_km),
                        ("used", d.used),
                        ("note", d.note),
                    )
                }
                for d in self.landmarks
            ],
        }
        if with_region:
            out["region"] = self.region.to_geojson() if self.region is not None else None
        return out
