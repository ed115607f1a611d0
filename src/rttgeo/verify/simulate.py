"""Simulated hosts and adversaries on real landmark geometry, for tests and the adversary benchmark.

- :func:`trusted_hosts`: the hosts of a mesh whose coordinates light in vacuum does not contradict
  (greedy removal of hosts in pairs faster than c; the WonderProxy 2020 mesh loses Prague, La Ceiba,
  Rome, Auckland and Belfast: each has an RTT to another host shorter than light needs).
- :class:`Inflation`: the empirical distribution of real RTTs over great-circle distance (from a
  mesh): an additive excess over the vacuum RTT below ``SHORT_KM``, a ratio to it above, drawn from
  the pairs of the same distance bin.
- :func:`attack_rtts`: the RTTs a lying host at ``host`` produces for each attack of
  :data:`ATTACKS` when claiming to be near ``target``.
- :class:`AttackWorld` and :func:`false_claim`: one simulated false claim of a kind of
  :data:`FALSE_CLAIM_KINDS` on real landmark geometry (the adversary benchmark's and the tests'
  shared generator).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from rttgeo.estimate.base import greedy_outliers
from rttgeo.estimate.delay import DelayDistance, symmetric_rtt_ms
from rttgeo.geo.sphere import destination, pairwise_distance_km, to_unit_vectors
from rttgeo.models import Landmark, Mesh
from rttgeo.units import MAX_KM_PER_RTT_MS
from rttgeo.verify.claims import RadiusClaim

__all__ = [
    "ATTACKS",
    "FALSE_CLAIM_KINDS",
    "FALSE_CLAIM_RADII_KM",
    "SHORT_KM",
    "AttackWorld",
    "FalseClaim",
    "Inflation",
    "attack_rtts",
    "false_claim",
    "model_rtt_ms",
    "trusted_hosts",
]

FloatArray = NDArray[np.float64]

#: Attack kinds (docs/verify.md): added random delays; delays shaped to look like the claimed
#: place; a relay through an accomplice at the claimed place (the host signs, the accomplice
#: answers from there); paths near the speed of light (microwave, hollow-core fibre) with shaping.
ATTACKS = ("delay-random", "delay-shaped", "relay", "fast-path")

#: Every kind of false claim :func:`false_claim` makes: the attacks of :data:`ATTACKS`, then f
#: landmarks lying for the host (RTTs placing it at the claim) and f landmarks listed at the claimed
#: place, decided with faults = f.
FALSE_CLAIM_KINDS = (
    *ATTACKS,
    "faulty-landmarks-1",
    "faulty-landmarks-2",
    "misplaced-landmarks-1",
    "misplaced-landmarks-2",
)

#: Radii of the simulated false claims, km.
FALSE_CLAIM_RADII_KM = (100, 250, 500, 1000)

#: Below this distance the inflation is an additive excess over the vacuum RTT (ms), above a ratio.
SHORT_KM = 200.0


def trusted_hosts(mesh: Mesh) -> tuple[NDArray[np.bool_], dict[str, str]]:
    """Mask of hosts whose stated position no RTT contradicts at light in vacuum, and why the
    others are out (``mesh.bad`` hosts are out too)."""
    s = symmetric_rtt_ms(mesh.rtt_ms)
    u = to_unit_vectors(mesh.lat_deg, mesh.lon_deg)
    d = pairwise_distance_km(u, u)
    v = np.isfinite(s) & (np.nan_to_num(s, nan=np.inf) * MAX_KM_PER_RTT_MS < d)
    np.fill_diagonal(v, False)
    removed = greedy_outliers(v) | mesh.bad
    why = {}
    for i in np.flatnonzero(removed):
        why[mesh.ids[i]] = (
            "known wrong coordinates (datasets README)"
            if mesh.bad[i]
            else f"{int(v[i].sum())} RTT(s) faster than light in vacuum for its stated position"
        )
    return ~removed, why


@dataclass(frozen=True, eq=False, slots=True)
class Inflation:
    """Real RTT over distance: per distance bin, the observed excess (ms, short) or ratio (long)."""

    edges_km: FloatArray
    samples: tuple[FloatArray, ...]

    @staticmethod
    def from_mesh(mesh: Mesh, usable: NDArray[np.bool_] | None = None) -> Inflation:
        usable = np.ones(len(mesh), bool) if usable is None else usable
        s = symmetric_rtt_ms(mesh.rtt_ms)
        u = to_unit_vectors(mesh.lat_deg, mesh.lon_deg)
        d = pairwise_distance_km(u, u)
        iu = np.triu_indices(len(mesh), 1)
        ok = np.isfinite(s[iu]) & usable[iu[0]] & usable[iu[1]]
        r, dd = s[iu][ok], d[iu][ok]
        vac = dd / MAX_KM_PER_RTT_MS
        edges = np.array([0.0, 50.0, 100.0, SHORT_KM, 400.0, 800.0, 1600.0, 3200.0, 6400.0, 12800.0, 1e9])
        out = []
        for a, b in itertools.pairwise(edges):
            m = (dd >= a) & (dd < b)
            out.append(np.sort(r[m] - vac[m]) if b <= SHORT_KM else np.sort(r[m] / vac[m]))
        return Inflation(edges, tuple(out))

    def sample_rtt_ms(self, distance_km: FloatArray, rng: np.random.Generator) -> FloatArray:
        """One real-looking minimum RTT per distance (never below the vacuum RTT)."""
        d = np.asarray(distance_km, dtype=float)
        vac = d / MAX_KM_PER_RTT_MS
        b = np.clip(np.searchsorted(self.edges_km, d, side="right") - 1, 0, len(self.samples) - 1)
        out = np.empty_like(d)
        for k in np.unique(b):
            m = b == k
            pool = self.samples[k]
            draw = pool[rng.integers(0, len(pool), int(m.sum()))]
            out[m] = vac[m] + draw if self.edges_km[k + 1] <= SHORT_KM else vac[m] * draw
        return np.maximum(out, vac + 1e-3)


def model_rtt_ms(model: DelayDistance, distance_km: FloatArray) -> FloatArray:
    """The RTT whose median distance under ``model`` is ``distance_km`` (an attacker's best guess
    of what a host there would show), by interpolation over RTTs from 0.05 to 1,000 ms."""
    grid = np.geomspace(0.05, 1000.0, 2000)
    mu, _ = model.params(grid)
    med = model.D0_KM * np.expm1(mu)
    med = np.maximum.accumulate(med)
    return np.interp(np.asarray(distance_km, dtype=float), med, grid)


def attack_rtts(
    kind: str,
    host_unit: FloatArray,
    target_lat_lon: tuple[float, float],
    landmarks_unit: FloatArray,
    honest_rtt_ms: FloatArray,
    inflation: Inflation,
    rng: np.random.Generator,
    *,
    model: DelayDistance | None = None,
    accomplice_km: float = 20.0,
) -> FloatArray:
    """RTTs a lying host (at ``host_unit``) shows the landmarks when claiming the ``target`` place.

    ``honest_rtt_ms`` are its real RTTs. With ``model`` the shaping aims at what that model expects
    at the target (the calibrated verifier's), otherwise at light in vacuum (the sound one's).
    - ``delay-random``: the honest RTTs plus random non-negative delays (exponential, random
      scale up to 50 ms, a third of landmarks left alone);
    - ``delay-shaped``: each RTT raised to what the target place would show, where it can (a host
      can add delay, never remove it);
    - ``relay``: an accomplice within ``accomplice_km`` of the target answers; each challenge goes
      landmark -> accomplice -> host (to be signed) -> accomplice -> landmark: real-looking RTTs of
      both legs, added;
    - ``fast-path``: the host reaches every landmark at 1.0-1.1 x the vacuum RTT, then shapes.
    """
    t_unit = to_unit_vectors(*target_lat_lon)
    d_target = pairwise_distance_km(t_unit[None, :], landmarks_unit)[0]
    want = model_rtt_ms(model, d_target) if model is not None else d_target / MAX_KM_PER_RTT_MS
    if kind == "delay-random":
        scale = rng.uniform(0.0, 50.0)
        add = rng.exponential(max(scale, 1e-9), len(honest_rtt_ms))
        add[rng.random(len(add)) < 1 / 3] = 0.0
        return honest_rtt_ms + add
    if kind == "delay-shaped":
        return np.maximum(honest_rtt_ms, want)
    if kind == "relay":
        lat, lon = destination(*target_lat_lon, rng.uniform(0, 360), rng.uniform(0, accomplice_km))
        a_unit = to_unit_vectors(float(lat), float(lon))
        d_a = pairwise_distance_km(a_unit[None, :], landmarks_unit)[0]
        d_ah = float(pairwise_distance_km(a_unit[None, :], host_unit[None, :])[0, 0])
        leg = inflation.sample_rtt_ms(np.array([d_ah]), rng)[0]
        return inflation.sample_rtt_ms(d_a, rng) + leg
    if kind == "fast-path":
        d_host = pairwise_distance_km(host_unit[None, :], landmarks_unit)[0]
        fast = d_host / MAX_KM_PER_RTT_MS * rng.uniform(1.0, 1.1, len(d_host)) + 1e-3
        return np.maximum(fast, want)
    raise ValueError(f"unknown attack {kind!r}; choose from {', '.join(ATTACKS)}")


@dataclass(frozen=True, eq=False, slots=True)
class AttackWorld:
    """Real landmark geometry for simulated claims: a mesh's trusted hosts (as hosts, and as each
    other's landmarks with their real RTTs), its inflation, and a catalog of anchors (landmarks
    with RTTs drawn from that inflation)."""

    mesh: Mesh
    hosts: NDArray[np.int64]
    sym_rtt_ms: FloatArray
    unit: FloatArray
    landmarks: tuple[Landmark, ...]
    inflation: Inflation
    anchors: tuple[Landmark, ...]
    anchors_unit: FloatArray

    @staticmethod
    def build(mesh: Mesh, anchors: tuple[Landmark, ...] | list[Landmark]) -> AttackWorld:
        ok, _ = trusted_hosts(mesh)
        a = tuple(anchors)
        return AttackWorld(
            mesh=mesh,
            hosts=np.flatnonzero(ok),
            sym_rtt_ms=symmetric_rtt_ms(mesh.rtt_ms),
            unit=to_unit_vectors(mesh.lat_deg, mesh.lon_deg),
            landmarks=tuple(mesh.landmarks()),
            inflation=Inflation.from_mesh(mesh, ok),
            anchors=a,
            anchors_unit=to_unit_vectors([x.lat_deg for x in a], [x.lon_deg for x in a]),
        )

    def honest_case(self, t: int) -> tuple[list[Landmark], FloatArray]:
        """Host ``t``'s landmarks (every other trusted host) and its real RTTs to them (ms)."""
        idx = [j for j in self.hosts if j != t]
        return [self.landmarks[j] for j in idx], self.sym_rtt_ms[t, idx]


@dataclass(frozen=True, eq=False, slots=True)
class FalseClaim:
    """A false claim to decide: ``claim`` (its centre farther than its radius + 50 km from host
    ``host``), the landmarks, the RTTs the attack shows them, and the faults to decide with."""

    kind: str
    host: int
    claim: RadiusClaim
    landmarks: tuple[Landmark, ...]
    rtt_ms: FloatArray
    faults: int


def false_claim(
    kind: str,
    world: AttackWorld,
    rng: np.random.Generator,
    *,
    model: DelayDistance | None = None,
    anchors_per_case: int = 100,
) -> FalseClaim:
    """One false claim of ``kind`` (:data:`FALSE_CLAIM_KINDS`, or ``keyless-accomplice``).

    A random trusted host claims a disc of a radius of :data:`FALSE_CLAIM_RADII_KM` whose centre lies
    50-5,050 km beyond that radius from it. Half the cases use the other hosts as landmarks with the
    host's real RTTs as its honest baseline, half ``anchors_per_case`` random anchors with RTTs
    drawn from the inflation. ``model``: what delay shaping aims at (None: light in vacuum).
    ``keyless-accomplice``: an accomplice within 20 km of the claim answers by itself (only
    signatures stop it).
    """
    mesh, unit = world.mesh, world.unit
    t = int(rng.choice(world.hosts))
    lat, lon = float(mesh.lat_deg[t]), float(mesh.lon_deg[t])
    radius_km = float(rng.choice(FALSE_CLAIM_RADII_KM))
    far = radius_km + 50.0 + rng.uniform(0, 5000)
    plat, plon = destination(lat, lon, rng.uniform(0, 360), far)
    target = (float(plat), float(plon))
    if rng.random() < 0.5:
        lms, honest = world.honest_case(t)
        l_unit = to_unit_vectors([x.lat_deg for x in lms], [x.lon_deg for x in lms])
    else:
        pick = rng.choice(len(world.anchors), anchors_per_case, replace=False)
        lms = [world.anchors[i] for i in pick]
        l_unit = world.anchors_unit[pick]
        honest = world.inflation.sample_rtt_ms(pairwise_distance_km(unit[t][None, :], l_unit)[0], rng)
    faults = int(kind[-1]) if kind[-1].isdigit() else 0
    if kind == "keyless-accomplice":
        # The accomplice near the claimed place answers by itself: its own RTTs, no relay leg.
        alat, alon = destination(*target, rng.uniform(0, 360), rng.uniform(0, 20.0))
        d_a = pairwise_distance_km(to_unit_vectors(float(alat), float(alon))[None, :], l_unit)[0]
        rtt = world.inflation.sample_rtt_ms(d_a, rng)
    elif kind.startswith("faulty-landmarks"):
        d_p = pairwise_distance_km(to_unit_vectors(*target)[None, :], l_unit)[0]
        liars = np.argsort(d_p)[:faults]
        rtt = honest.copy()
        rtt[liars] = np.maximum(d_p[liars] / MAX_KM_PER_RTT_MS, 0.05)  # "the host is at the claim"
    elif kind.startswith("misplaced-landmarks"):
        # f landmarks' catalog positions are wrong: they stand at the claimed place (within 50 km)
        # while their honest RTTs were measured from where they really are.
        d_h = pairwise_distance_km(unit[t][None, :], l_unit)[0]
        moved = np.argsort(d_h)[:faults]  # the host's nearest landmarks: the most damaging move
        lms = list(lms)
        for i in moved:
            mlat, mlon = destination(*target, rng.uniform(0, 360), rng.uniform(0, 50.0))
            lms[i] = Landmark(lms[i].id, float(mlat), float(mlon))
        rtt = honest
    else:
        rtt = attack_rtts(kind, unit[t], target, l_unit, honest, world.inflation, rng, model=model)
    return FalseClaim(kind, t, RadiusClaim(*target, radius_km), tuple(lms), np.asarray(rtt), faults)
