"""Which hosts of a mesh have RTTs that break the speed of light for their stated positions.

A pair of hosts a distance d apart whose RTT r is below d / 149.9 km/ms cannot be: light in vacuum
covers at most 149.9 km per ms of RTT. The check allows the same slack as the estimators' physics
checks (:mod:`rttgeo.estimate.base`): a timing floor on the RTT and a position uncertainty per host
(allowed: (RTT + floor) x 149.9 km/ms + 2 x uncertainty). Such a
pair says that one of the two positions is wrong; the host in most such pairs is the suspect, and
the rest are judged again without it (greedy, :func:`~rttgeo.estimate.base.greedy_outliers`), as
long as some host is in two such pairs or more. On WonderProxy 2020 this names 220 (La Ceiba) and
204 (Belfast), the two hosts its README warns of, and 190 (Rome, fast with Milan and Lugano).

What is left are ties: pairs whose two hosts are each in that one impossible pair only; the pair
cannot say which of its two positions is wrong, so the rest of the mesh is asked
(:func:`judge_tie`): both hosts are located from every other host except the suspects and the
hosts of every tie (:class:`HostEvidence`). First at the speed of light with the same slack: if
one host's stated position is right, its partner lies in the intersection of the rest's c discs
for the partner's RTTs *and* within the pair's allowed distance of that position; the stated
position that leaves this empty is contradicted. In a tie each stated position lies inside every
other host's c disc (or it would be in a second impossible pair), so when the two hosts have about
the same RTTs to the rest (one place) this test cannot separate them. Then at the speed of light
in fibre: CBG (``make_estimator("cbg")``, discs of 2/3 c, fitted on the rest) locates each host; a
stated position that neither host's region holds while both hold the partner's is contradicted
(not impossible, as microwave links beat fibre, but what the estimators would conclude); otherwise
the evidence cannot tell. Regions are resolved to grid cells of about 20 km.

Pairs faster than light in fibre (2/3 c) are counted too: not impossible (microwave links exist),
but where the estimators' fit leaves a landmark out (3 such pairs or more).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rttgeo.errors import RttgeoError
from rttgeo.estimate.base import (
    POSITION_UNCERTAINTY_KM,
    RTT_FLOOR_MS,
    Estimator,
    greedy_outliers,
    physics_outliers,
)
from rttgeo.estimate.delay import symmetric_rtt_ms
from rttgeo.geo.caps import nearest_point_in_discs
from rttgeo.geo.sphere import distance_km, pairwise_distance_km, to_unit_vectors
from rttgeo.models import Mesh
from rttgeo.units import FIBRE_KM_PER_RTT_MS, MAX_KM_PER_RTT_MS

__all__ = [
    "FastPair",
    "HostEvidence",
    "MeshCheck",
    "Suspect",
    "TiedPair",
    "allowed_km",
    "check_mesh",
    "judge_tie",
]


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
class HostEvidence:
    """What the rest of the mesh says of one host of a tie (module docstring).

    ``beyond_km``: how far the host's stated position lies beyond the reach of its partner, placed
    anywhere the rest's c discs allow (with the check's slack), minus the pair's allowed distance;
    > 0 contradicts the stated position at the speed of light, NaN when the partner's discs share no
    point. ``estimate_*``: CBG's point for this host from the rest (NaN when none could be made),
    ``estimate_km`` its distance from the stated position; ``held_by``: how many of the two hosts'
    CBG regions (0, 1 or 2) hold this host's stated position.
    """

    id: str
    label: str
    beyond_km: float
    estimate_lat_deg: float
    estimate_lon_deg: float
    estimate_km: float
    held_by: int

    def as_dict(self) -> dict[str, Any]:
        def r(x: float, nd: int) -> float | None:
            return None if np.isnan(x) else round(x, nd)

        return {"id": self.id, "label": self.label, "beyond_km": r(self.beyond_km, 3),
                "estimate": None if np.isnan(self.estimate_km) else {
                    "lat_deg": r(self.estimate_lat_deg, 4), "lon_deg": r(self.estimate_lon_deg, 4),
                    "distance_km": r(self.estimate_km, 3)},
                "held_by_regions": self.held_by}


@dataclass(frozen=True, slots=True)
class TiedPair:
    """A pair faster than light whose two hosts are in no other such pair, judged by the rest.

    ``contradicted``: the ids whose stated position the rest contradicts (none: cannot tell);
    ``by``: "speed of light" (vacuum c discs with the check's slack), "cbg" (2/3 c regions) or "";
    ``n_rest``: how many hosts the rest had; ``evidence``: for ``pair.a`` then ``pair.b``.
    """

    pair: FastPair
    evidence: tuple[HostEvidence, HostEvidence]
    contradicted: tuple[str, ...]
    by: str
    n_rest: int

    @property
    def verdict(self) -> str:
        """One line: which stated position the rest contradicts, and how far."""
        ev = {e.id: e for e in self.evidence}
        a, b = self.evidence
        if not self.contradicted:
            if np.isnan(a.estimate_km) or np.isnan(b.estimate_km):
                return ("cannot tell: both within the rest's speed-of-light reach, and no CBG "
                        "estimate from the rest")
            return (f"cannot tell: both within the rest's speed-of-light reach; CBG regions "
                    f"holding {a.id}'s stated position: {a.held_by} of 2, {b.id}'s: {b.held_by} "
                    f"of 2 (CBG puts {a.id} {a.estimate_km:,.0f} km from it, {b.id} "
                    f"{b.estimate_km:,.0f} km)")
        if len(self.contradicted) == 2:
            return "both stated positions contradicted at the speed of light"
        bad = ev[self.contradicted[0]]
        good = next(e for e in self.evidence if e.id != bad.id)
        if self.by == "speed of light":
            why = (f"{good.id}, wherever the rest's speed-of-light discs allow it, is "
                   f"{bad.beyond_km:,.0f} km farther from it than their RTT allows")
        else:
            why = (f"outside both hosts' CBG regions, which hold {good.id}'s; CBG puts {bad.id} "
                   f"{bad.estimate_km:,.0f} km from its stated position, {good.id} "
                   f"{good.estimate_km:,.0f} km")
        return f"{bad.id} contradicted ({why}); {good.id} agreed with"

    def as_dict(self) -> dict[str, Any]:
        return {**self.pair.as_dict(), "contradicted": list(self.contradicted),
                "agreed": [e.id for e in self.evidence if e.id not in self.contradicted]
                if self.contradicted else [],
                "by": self.by, "verdict": self.verdict, "rest_hosts": self.n_rest,
                "hosts": [e.as_dict() for e in self.evidence]}


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
    ties: tuple[TiedPair, ...]
    faster_than_fibre: int
    left_out_at_fit: tuple[str, ...]
    rtt_floor_ms: float
    position_uncertainty_km: float

    @property
    def ok(self) -> bool:
        return not self.faster_than_light

    def blame(self) -> str:
        """One line naming the suspects, then each tie with its contradicted host if any."""
        parts = [s.id for s in self.suspects[:10]] + (["..."] if len(self.suspects) > 10 else [])
        out = ", ".join(parts)
        if self.ties:
            out += ("; " if out else "") + "ties (one host of each): " + ", ".join(
                f"{t.pair.a}/{t.pair.b} ("
                + (" and ".join(t.contradicted) + " contradicted" if t.contradicted
                   else "cannot tell") + ")"
                for t in self.ties[:10]) + (" ..." if len(self.ties) > 10 else "")
        return out or "none"

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
            "ties": [t.as_dict() for t in self.ties],
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
            if self.ties:
                lines.append(f"{len(self.ties)} tie(s): pairs whose two hosts are in no other such "
                             f"pair; the other {self.ties[0].n_rest} hosts (suspects and ties left "
                             "out) say which stated position is wrong:")
            for t in self.ties:
                p = t.pair
                a, b = t.evidence
                lines.append(f"  {a.id} ({a.label or '-'}) and {b.id} ({b.label or '-'}): "
                             f"{p.rtt_ms:.3f} ms allows {p.allowed_km:,.0f} km, stated "
                             f"{p.distance_km:,.0f} km apart")
                lines.append(f"    {t.verdict}")
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
    allowed = allowed_km(np.where(measured, rtt, 0.0), rtt_floor_ms, position_uncertainty_km)
    fast = measured & (dist > allowed)
    np.fill_diagonal(fast, False)
    iu = np.triu_indices(n, 1)
    pairs = [
        FastPair(mesh.ids[i], mesh.ids[j], float(rtt[i, j]), float(dist[i, j]), float(allowed[i, j]))
        for i, j in zip(*iu, strict=True)
        if fast[i, j]
    ]
    pairs.sort(key=lambda p: p.allowed_km - p.distance_km)
    removed = greedy_outliers(fast, min_count=2)
    counts = fast.sum(axis=1)
    left = fast & ~removed[:, None] & ~removed[None, :]
    tie_pairs = [(int(i), int(j)) for i, j in zip(*iu, strict=True) if left[i, j]]
    tied = np.zeros(n, dtype=bool)
    tied[[k for ij in tie_pairs for k in ij]] = True
    rest = np.flatnonzero(~removed & ~tied & ~np.asarray(mesh.bad, dtype=bool))
    cbg = _fit_cbg(mesh, rest) if tie_pairs else None  # every tie is judged by the same rest
    ties = tuple(judge_tie(mesh, i, j, rest, cbg=cbg, rtt_floor_ms=rtt_floor_ms,
                           position_uncertainty_km=position_uncertainty_km)
                 for i, j in tie_pairs)
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
        ties=ties,
        faster_than_fibre=int(fibre[iu].sum()),
        left_out_at_fit=tuple(mesh.ids[i] for i in np.flatnonzero(out_at_fit)),
        rtt_floor_ms=rtt_floor_ms,
        position_uncertainty_km=position_uncertainty_km,
    )


def allowed_km(
    rtt_ms: NDArray[np.float64] | float,
    rtt_floor_ms: float = RTT_FLOOR_MS,
    position_uncertainty_km: float = POSITION_UNCERTAINTY_KM,
) -> NDArray[np.float64]:
    """The farthest two hosts may be for ``rtt_ms`` at c with the check's slack, km (NaN stays):
    farther, the RTT and their stated positions cannot both be right."""
    return (rtt_ms + rtt_floor_ms) * MAX_KM_PER_RTT_MS + 2 * position_uncertainty_km


def _fit_cbg(mesh: Mesh, rest: NDArray[np.intp]) -> Estimator | None:
    """CBG fitted on the hosts ``rest`` of ``mesh`` (its notes on left-out landmarks silenced),
    or None when it cannot be fitted."""
    from rttgeo.estimate import make_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return make_estimator("cbg").fit(mesh.subset(np.asarray(rest, dtype=np.intp)))
        except RttgeoError:
            return None


def judge_tie(
    mesh: Mesh,
    i: int,
    j: int,
    rest: NDArray[np.intp],
    *,
    cbg: Estimator | None = None,
    rtt_floor_ms: float = RTT_FLOOR_MS,
    position_uncertainty_km: float = POSITION_UNCERTAINTY_KM,
) -> TiedPair:
    """Which of hosts ``i`` and ``j`` (a pair faster than light) the hosts ``rest`` contradict.

    See the module docstring: the speed-of-light test first (exact up to 1 mm,
    :func:`~rttgeo.geo.caps.nearest_point_in_discs`), then CBG's 2/3 c regions (20 km cells).
    ``cbg``: CBG fitted on ``mesh.subset(rest)``, so that ties judged by the same rest share one
    fit; None fits it here (no CBG verdict when that fails).
    """
    rtt = symmetric_rtt_ms(mesh.rtt_ms)
    rest = np.asarray(rest, dtype=np.intp)
    u_rest = to_unit_vectors(mesh.lat_deg[rest], mesh.lon_deg[rest])
    pair_allowed = float(allowed_km(rtt[i, j], rtt_floor_ms, position_uncertainty_km))

    def beyond_km(x: int, partner: int) -> float:
        r = rtt[partner, rest]
        ok = np.isfinite(r)
        q = nearest_point_in_discs(float(mesh.lat_deg[x]), float(mesh.lon_deg[x]), u_rest[ok],
                                   allowed_km(r[ok], rtt_floor_ms, position_uncertainty_km))
        if q is None:
            return float("nan")
        return float(distance_km(mesh.lat_deg[x], mesh.lon_deg[x], q[0], q[1])) - pair_allowed

    beyond = (beyond_km(i, j), beyond_km(j, i))
    points = [(float("nan"), float("nan"))] * 2
    held = [0, 0]
    est = cbg if cbg is not None else _fit_cbg(mesh, rest)
    if est is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # locate's notes on left-out landmarks
            try:
                for k, x in enumerate((i, j)):
                    e = est.locate(rtt[x, rest])
                    if e.consistent and e.region is not None and not e.region.empty:
                        points[k] = (e.lat_deg, e.lon_deg)
                        inside = e.region.contains(mesh.lat_deg[[i, j]], mesh.lon_deg[[i, j]])
                        held[0] += int(inside[0])
                        held[1] += int(inside[1])
            except RttgeoError:
                points, held = [(float("nan"), float("nan"))] * 2, [0, 0]
    if not all(np.isfinite(points[k][0]) for k in range(2)):
        held = [0, 0]  # one host could not be located: no CBG verdict
    evidence = tuple(
        HostEvidence(
            id=mesh.ids[x],
            label=mesh.labels[x] if mesh.labels else "",
            beyond_km=beyond[k],
            estimate_lat_deg=points[k][0],
            estimate_lon_deg=points[k][1],
            estimate_km=float(distance_km(mesh.lat_deg[x], mesh.lon_deg[x], *points[k]))
            if np.isfinite(points[k][0]) else float("nan"),
            held_by=held[k],
        )
        for k, x in enumerate((i, j))
    )
    physics = tuple(e.id for e in evidence if e.beyond_km > 0)
    if physics:
        contradicted, by = physics, "speed of light"
    elif sorted(held) == [0, 2]:
        contradicted, by = (evidence[held.index(0)].id,), "cbg"
    else:
        contradicted, by = (), ""
    a, b = evidence
    return TiedPair(
        pair=FastPair(a.id, b.id, float(rtt[i, j]), float(distance_km(
            mesh.lat_deg[i], mesh.lon_deg[i], mesh.lat_deg[j], mesh.lon_deg[j])), pair_allowed),
        evidence=(a, b),
        contradicted=contradicted,
        by=by,
        n_rest=len(rest),
    )
