"""Which hosts of a mesh have RTTs that break the speed of light for their stated positions.

A pair of hosts a distance d apart whose RTT r is below d / 149.9 km/ms cannot be: light in vacuum
covers at most 149.9 km per ms of RTT. The check allows the same slack as the estimators' physics
checks (:mod:`rttgeo.estimate.base`): a timing floor on the RTT and a position uncertainty per host
(allowed: (RTT + floor) x 149.9 km/ms + 2 x uncertainty). Such a
pair says that one of the two positions is wrong; the host in most such pairs is the suspect, and
the rest are judged again without it (greedy, :func:`~rttgeo.estimate.base.greedy_outliers`). On
WonderProxy 2020 this names 220 (La Ceiba) and 204 (Belfast), the two hosts its README warns of.

Pairs faster than light in fibre (2/3 c) are counted too: not impossible (microwave links exist),
but where the estimators' fit leaves a landmark out (3 such pairs or more).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rttgeo.estimate.base import (
    POSITION_UNCERTAINTY_KM,
    RTT_FLOOR_MS,
    Estimator,
    greedy_outliers,
    physics_outliers,
)
from rttgeo.estimate.delay import symmetric_rtt_ms
from rttgeo.geo.sphere import pairwise_distance_km, to_unit_vectors
from rttgeo.models import Mesh
from rttgeo.units import FIBRE_KM_PER_RTT_MS, MAX_KM_PER_RTT_MS

__all__ = ["FastPair", "MeshCheck", "Suspect", "check_mesh"]


@dataclass(frozen=True, slots=True)
class FastPair:
    """Two hosts whose (smaller directed) RTT is too short for their stated distance."""

    a: str
    b: str
    rtt_ms: float
    distance_km: float
    allowed_km: float  # at the speed of light in vacuum, with the slack

    def as_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "rtt_ms": self.rtt_ms,
                "distance_km": round(self.distance_km, 3), "allowed_km": round(self.allowed_km, 3)}


@dataclass(frozen=True, slots=True)
class Suspect:
    """A host whose stated position the RTTs contradict: in ``pairs`` pairs faster than light
    (counted before any host was set aside), the worst of them ``worst``."""

    id: str
    label: str
    pairs: int
    worst: FastPair

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "pairs": self.pairs,
                "worst": self.worst.as_dict()}


@dataclass(frozen=True, slots=True)
class MeshCheck:
    """What :func:`check_mesh` found. ``ok`` when no pair is faster than light."""

    name: str
    source: str
    sha256: str
    n_hosts: int
    n_pairs: int
    faster_than_light: tuple[FastPair, ...]
    suspects: tuple[Suspect, ...]
    faster_than_fibre: int
    left_out_at_fit: tuple[str, ...]
    rtt_floor_ms: float
    position_uncertainty_km: float

    @property
    def ok(self) -> bool:
        return not self.faster_than_light

    def to_json(self) -> dict[str, Any]:
        return {
            "mesh": self.name,
            "source": self.source,
            "sha256": self.sha256,
            "hosts": self.n_hosts,
            "pairs": self.n_pairs,
            "ok": self.ok,
            "faster_than_light": [p.as_dict() for p in self.faster_than_light],
            "suspects": [s.as_dict() for s in self.suspects],
            "faster_than_fibre": self.faster_than_fibre,
            "left_out_at_fit": list(self.left_out_at_fit),
            "slack": {"rtt_floor_ms": self.rtt_floor_ms,
                      "position_uncertainty_km": self.position_uncertainty_km},
        }

    def describe(self) -> str:
        """The report ``rttgeo mesh check`` prints."""
        lines = [
            f"{self.name or 'mesh'}: {self.n_hosts} hosts, {self.n_pairs} measured pairs "
            f"({self.source or 'in memory'}, sha256 {self.sha256[:16] or '-'})",
            f"speed of light: a pair d km apart needs an RTT of at least d / 149.9 ms (allowing "
            f"{self.rtt_floor_ms:g} ms of timing floor and {self.position_uncertainty_km:g} km of "
            "position uncertainty per host)",
        ]
        if self.ok:
            lines.append("no pair is faster than light: every stated position is possible")
        else:
            lines.append(f"{len(self.faster_than_light)} pair(s) faster than light; the hosts that "
                         "explain them (most pairs first):")
            lines.append(f"  {'host':<12}{'label':<30}{'pairs':>6}  worst pair")
            for s in self.suspects:
                w = s.worst
                other = w.b if w.a == s.id else w.a
                lines.append(
                    f"  {s.id:<12}{s.label[:29]:<30}{s.pairs:>6}  with {other}: {w.rtt_ms:.3f} ms "
                    f"allows {w.allowed_km:,.0f} km, stated {w.distance_km:,.0f} km apart"
                )
        lines.append(f"{self.faster_than_fibre} pair(s) faster than light in fibre (2/3 c); the "
                     "estimators leave out at fit a landmark in 3 or more: "
                     + (", ".join(self.left_out_at_fit) or "none"))
        return "\n".join(lines)


def check_mesh(
    mesh: Mesh,
    *,
    rtt_floor_ms: float = RTT_FLOOR_MS,
    position_uncertainty_km: float = POSITION_UNCERTAINTY_KM,
) -> MeshCheck:
    """Pairs of ``mesh`` faster than light for their stated positions, and the hosts to blame."""
    n = len(mesh)
    u = to_unit_vectors(mesh.lat_deg, mesh.lon_deg)
    dist = pairwise_distance_km(u, u)
    rtt = symmetric_rtt_ms(mesh.rtt_ms)
    measured = np.isfinite(rtt)
    allowed = (np.where(measured, rtt, 0.0) + rtt_floor_ms) * MAX_KM_PER_RTT_MS + (
        2 * position_uncertainty_km
    )
    fast = measured & (dist > allowed)
    np.fill_diagonal(fast, False)
    iu = np.triu_indices(n, 1)
    pairs = [
        FastPair(mesh.ids[i], mesh.ids[j], float(rtt[i, j]), float(dist[i, j]), float(allowed[i, j]))
        for i, j in zip(*iu, strict=True)
        if fast[i, j]
    ]
    pairs.sort(key=lambda p: p.allowed_km - p.distance_km)
    removed = greedy_outliers(fast)
    counts = fast.sum(axis=1)
    suspects = []
    for i in sorted(np.flatnonzero(removed), key=lambda k: (-counts[k], k)):
        j = int(np.argmax(np.where(fast[i], dist[i] - allowed[i], -np.inf)))
        a, b = sorted((i, j))
        suspects.append(Suspect(
            id=mesh.ids[i],
            label=mesh.labels[i] if mesh.labels else "",
            pairs=int(counts[i]),
            worst=FastPair(mesh.ids[a], mesh.ids[b], float(rtt[i, j]), float(dist[i, j]),
                           float(allowed[i, j])),
        ))
    fibre_slack = 2.0 * position_uncertainty_km + rtt_floor_ms * FIBRE_KM_PER_RTT_MS
    out_at_fit, _ = physics_outliers(dist, rtt, FIBRE_KM_PER_RTT_MS, Estimator.min_violations,
                                     slack_km=fibre_slack)
    fibre = measured & (dist > np.where(measured, rtt, 0.0) * FIBRE_KM_PER_RTT_MS + fibre_slack)
    return MeshCheck(
        name=mesh.name,
        source=mesh.source,
        sha256=mesh.sha256,
        n_hosts=n,
        n_pairs=int(measured[iu].sum()),
        faster_than_light=tuple(pairs),
        suspects=tuple(suspects),
        faster_than_fibre=int(fibre[iu].sum()),
        left_out_at_fit=tuple(mesh.ids[i] for i in np.flatnonzero(out_at_fit)),
        rtt_floor_ms=rtt_floor_ms,
        position_uncertainty_km=position_uncertainty_km,
    )
