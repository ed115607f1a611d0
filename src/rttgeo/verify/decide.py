"""Decide a location claim from RTTs measured by trusted landmarks: proven, refuted or undecided.

Each landmark i with RTT r_i allows the host within an annulus lo_i <= d <= hi_i of it:

- **sound** mode: lo = 0, hi = r x 149.896229 km/ms (light in vacuum, half the round trip) x
  (1 + 0.562 %, the sphere's worst error against WGS84 geodesics) + the landmark's position
  uncertainty. A host can add delay but never remove it, so its true position always satisfies
  every correct landmark's disc: no delay it adds can make a false claim proven.
- **calibrated** mode: the annulus of the estimator's delay-distance model
  (:mod:`rttgeo.verify.calibrated`): far tighter, and NOT sound against a lying host. Its
  false-accept rate is measured by ``benchmarks/bench_verify_adversary.py`` and carried with every
  calibrated decision.

With ``faults`` = f, a point is consistent when it violates at most f annuli: the union over every
subset of landmarks missing f of them, so a decision holds whichever f landmarks are faulty
(lying, misplaced, or timed wrong). Counting violations per cell makes this linear in the number
of landmarks instead of a sum over subsets.

Discretisation never breaks soundness: the consistent region is over-approximated on the
equal-area grid (a cell is kept when any point of it may be consistent; a cell's annulus test is
padded by its circumradius), and a cell counts as inside (outside) the claim only when every point
of it certainly is, the claim's border margin included. Cells that are neither are refined
coarse-to-fine down to ``end_level``. The decision is:

- **proven** when every kept cell is certainly inside the claim;
- **refuted** when every kept cell is certainly outside;
- **landmark-fault** when no cell is kept: the landmarks contradict each other (more than f of
  them are wrong), which is no verdict about the host;
- **undecided** otherwise, with the reason ``consistent-inside-and-outside`` when cells wholly
  consistent lie certainly inside and certainly outside the claim (a fact, at any resolution), or
  ``boundary-unresolved`` when the claim's border passes through the consistent region's edge
  closer than the grid resolves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rttgeo.errors import InputError
from rttgeo.geo.feasible import HALF_CIRCUMFERENCE_KM, annulus_tests
from rttgeo.geo.grid import (
    MAX_LEVEL,
    CellRegion,
    cell_unit_vectors,
    children,
    circumradius_km,
    global_cells,
)
from rttgeo.geo.sphere import pairwise_distance_km, to_unit_vectors
from rttgeo.models import Landmark
from rttgeo.units import MAX_KM_PER_RTT_MS

if TYPE_CHECKING:
    from rttgeo.verify.calibrated import CalibratedModel, FalseAcceptRate
    from rttgeo.verify.claims import Claim

__all__ = [
    "DEFAULT_END_LEVEL",
    "DEFAULT_POSITION_UNCERTAINTY_KM",
    "OUTCOMES",
    "SPHERE_ERROR",
    "Decision",
    "decide",
    "sound_radius_km",
]

Outcome = Literal["proven", "refuted", "undecided", "landmark-fault"]
OUTCOMES: tuple[str, ...] = ("proven", "refuted", "undecided", "landmark-fault")

#: Largest relative excess of a great-circle distance on the sphere over the WGS84 geodesic
#: (0.5614 %, tested against geographiclib in tests/geo), rounded up.
SPHERE_ERROR = 0.00562

#: Default position uncertainty of a landmark, km: RIPE Atlas anchors' coordinates are rounded to
#: 0.001 deg (0.1 km) but operator-reported; WonderProxy's are city-level. A landmark placed farther
#: off is a fault: tolerate it with ``faults``.
DEFAULT_POSITION_UNCERTAINTY_KM = 10.0

#: Finest grid level of the decision: cells of about 5 km (24 km^2).
DEFAULT_END_LEVEL = 6

#: The region returned is brought to one level holding at most this many cells.
MAX_REGION_CELLS = 400_000

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def sound_radius_km(rtt_ms: ArrayLike, position_uncertainty_km: ArrayLike = 0.0) -> FloatArray:
    """Sound radius of each RTT: r x 149.896229 x (1 + SPHERE_ERROR) + position uncertainty, km."""
    r = np.asarray(rtt_ms, dtype=float)
    return r * MAX_KM_PER_RTT_MS * (1.0 + SPHERE_ERROR) + np.asarray(position_uncertainty_km, dtype=float)


@dataclass(frozen=True, eq=False, slots=True)
class Decision:
    """The verdict on a claim, with everything needed to show or check it.

    ``outcome`` is one of :data:`OUTCOMES`; ``reasons`` are machine-readable codes (docs/verify.md);
    ``deciding`` the landmarks whose annulus borders the consistent region (those whose RTTs shaped
    it), tightest first, and ``deciding_radius_km`` their outer radii; ``region`` the
    over-approximated consistent region (``area_km2`` its area, ``region_geojson()`` its GeoJSON),
    empty on a landmark fault; ``faults`` the number of faulty
    landmarks tolerated and ``faults_needed`` how many the RTTs force out (> 0: some landmarks
    contradict the others; the decision still holds whichever they are, as long as at most
    ``faults`` are). ``false_accept`` is set in calibrated mode: the measured rate of that mode.
    ``conflicts`` lists pairs of landmarks no point can satisfy together (on a landmark fault).
    """

    outcome: Outcome
    mode: str
    claim: Claim
    reasons: tuple[str, ...]
    deciding: tuple[Landmark, ...]
    region: CellRegion
    area_km2: float
    faults: int
    faults_needed: int
    landmarks_used: int
    end_level: int
    false_accept: FalseAcceptRate | None = None
    conflicts: tuple[tuple[str, str], ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    deciding_radius_km: tuple[float, ...] = ()

    @property
    def sound(self) -> bool:
        return self.mode == "sound"

    def region_geojson(self) -> dict[str, Any]:
        """The consistent region as an RFC 7946 geometry, coordinates to 1e-6 degree."""
        from rttgeo.geo.polygon import round_geometry

        return round_geometry(self.region.to_geojson())

    def to_json(self, *, with_region: bool = True) -> dict[str, Any]:
        """JSON-ready dict of the decision (docs/verify.md describes the fields)."""
        out: dict[str, Any] = {
            "outcome": self.outcome,
            "mode": self.mode,
            "sound": self.sound,
            "claim": self.claim.to_json(),
            "reasons": list(self.reasons),
            "deciding_landmarks": [
                {"id": lm.id, "lat_deg": lm.lat_deg, "lon_deg": lm.lon_deg, "radius_km": r}
                for lm, r in zip(self.deciding, self.deciding_radius_km, strict=True)
            ],
            "area_km2": self.area_km2,
            "faults": self.faults,
            "faults_needed": self.faults_needed,
            "landmarks_used": self.landmarks_used,
            "end_level": self.end_level,
            "conflicts": [list(c) for c in self.conflicts],
            "params": dict(self.params),
        }
        out["false_accept"] = None if self.false_accept is None else self.false_accept.to_json()
        if with_region:
            out["region"] = self.region_geojson()
        return out


def _at_level(cells: list[tuple[int, IntArray, IntArray]], level: int) -> CellRegion:
    """Union of cells of several levels as one level's cells (coarser: split; finer: parent)."""
    rows_all, cols_all = [], []
    for lv, r, c in cells:
        if len(r) == 0:
            continue
        while lv < level:
            r, c = children(r, c)
            lv += 1
        if lv > level:
            shift = lv - level
            r, c = r >> shift, c >> shift
        rows_all.append(r)
        cols_all.append(c)
    if not rows_all:
        return CellRegion.from_cells(level, np.zeros(0, np.int64), np.zeros(0, np.int64))
    return CellRegion.from_cells(level, np.concatenate(rows_all), np.concatenate(cols_all))


def _region_level(cells: list[tuple[int, IntArray, IntArray]], end_level: int) -> int:
    for level in range(end_level, -1, -1):
        n = sum(len(r) * 4 ** max(level - lv, 0) for lv, r, _ in cells)
        if n <= MAX_REGION_CELLS:
            return level
    return 0


def _conflicts(unit: FloatArray, hi: FloatArray, ids: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """Pairs of landmarks whose discs cannot meet (farther apart than the sum of their radii)."""
    ok = hi < HALF_CIRCUMFERENCE_KM
    idx = np.flatnonzero(ok)
    if len(idx) < 2:
        return ()
    d = pairwise_distance_km(unit[idx], unit[idx])
    bad = np.argwhere(np.triu(d > hi[idx, None] + hi[None, idx], 1))
    return tuple((ids[idx[i]], ids[idx[j]]) for i, j in bad[:20])


def _redundant(unit: FloatArray, lo: FloatArray, hi: FloatArray, faults: int) -> NDArray[np.bool_]:
    """Annuli that every consistent point satisfies anyway, so dropping them changes nothing.

    A point consistent with all but ``faults`` annuli lies in at least one of any ``faults + 1``
    discs; take the ``faults + 1`` tightest outer discs K. An annulus j that contains every disc of K
    (d(j, k) + hi_k <= hi_j and d(j, k) - hi_k >= lo_j) holds at every consistent point, and a point
    outside it violates all of K, so it was inconsistent without j too: the consistent set is the
    same with or without j. (Exact, so the result is unchanged; it only saves time.)
    """
    n = len(hi)
    out = np.zeros(n, dtype=bool)
    if n <= faults + 1:
        return out
    k = np.argsort(hi, kind="stable")[: faults + 1]
    d = pairwise_distance_km(unit, unit[k]) + 0.5  # 0.5 km covers arccos rounding
    # A hole of radius 0 or less (a disc) excludes nothing: no distance is negative.
    clear = (lo[:, None] <= 0.0) | (d - 1.0 - hi[k][None, :] >= lo[:, None])
    holds = (d + hi[k][None, :] <= hi[:, None]) & clear
    out = np.all(holds, axis=1)
    out[k] = False
    return out


def decide(
    claim: Claim,
    landmarks: Sequence[Landmark],
    rtt_ms: ArrayLike,
    *,
    mode: str = "sound",
    faults: int = 0,
    position_uncertainty_km: float | ArrayLike = DEFAULT_POSITION_UNCERTAINTY_KM,
    end_level: int = DEFAULT_END_LEVEL,
    model: CalibratedModel | None = None,
    refine_region: bool = True,
) -> Decision:
    """Decide ``claim`` from ``rtt_ms`` (ms, aligned with ``landmarks``; NaN = not measured).

    See the module docstring. ``position_uncertainty_km`` is a scalar or one value per landmark;
    ``model`` (calibrated mode only) defaults to :func:`rttgeo.verify.calibrated.default_model`.
    ``refine_region`` False refines only what the verdict needs and returns the region at the
    coarsest level it holds (same outcome, a blockier over-approximated region; for simulations that
    run many decisions).
    Raises :class:`~rttgeo.errors.InputError` for RTTs that are not positive finite numbers or NaN,
    misaligned arrays, an unknown mode, or ``faults`` outside [0, measured landmarks).
    """
    if mode not in ("sound", "calibrated"):
        raise InputError(f"unknown mode {mode!r}: choose sound or calibrated", field="mode")
    lms = tuple(landmarks)
    rtt = np.asarray(rtt_ms, dtype=float)
    if rtt.shape != (len(lms),):
        raise InputError(
            f"{rtt.shape[0] if rtt.ndim == 1 else rtt.shape} RTTs for {len(lms)} landmarks: they must align",
            field="rtt_ms",
        )
    bad = ~np.isnan(rtt) & ~(np.isfinite(rtt) & (rtt > 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"RTT {float(rtt[i])!r} ms of landmark {lms[i].id!r} is not a positive finite number (a lost "
            "probe is NaN, never 0 or negative)",
            field="rtt_ms",
        )
    unc = np.broadcast_to(np.asarray(position_uncertainty_km, dtype=float), rtt.shape)
    if not np.all(np.isfinite(unc) & (unc >= 0)):
        raise InputError("position uncertainty must be finite and >= 0 km", field="position_uncertainty_km")
    measured = np.flatnonzero(np.isfinite(rtt))
    if not isinstance(faults, (int, np.integer)) or faults < 0 or (
        len(measured) and faults >= len(measured)
    ):
        raise InputError(
            f"faults must be an integer in [0, {max(len(measured) - 1, 0)}] (landmarks measured: "
            f"{len(measured)}), got {faults!r}",
            field="faults",
        )
    faults = int(faults)
    if not 0 <= end_level <= MAX_LEVEL:
        raise InputError(f"end_level must be in [0, {MAX_LEVEL}], got {end_level}", field="end_level")
    ids = [lms[i].id for i in measured]
    lat = np.array([lms[i].lat_deg for i in measured], dtype=float)
    lon = np.array([lms[i].lon_deg for i in measured], dtype=float)
    unit = to_unit_vectors(lat, lon).reshape(-1, 3)
    r = rtt[measured]
    false_accept = None
    params: dict[str, Any] = {"end_level": end_level}
    if mode == "sound":
        lo = np.zeros(len(r))
        hi = sound_radius_km(r, unc[measured])
        params["km_per_rtt_ms"] = MAX_KM_PER_RTT_MS * (1.0 + SPHERE_ERROR)
    else:
        from rttgeo.verify.calibrated import default_model, load_false_accept_rate

        model = model or default_model()
        lo, hi = model.annulus_km(r)
        sound_hi = sound_radius_km(r, unc[measured])
        hi = np.minimum(hi + unc[measured], sound_hi)
        lo = np.maximum(lo - unc[measured], 0.0)
        use = model.select(r)
        lo, hi = np.where(use, lo, 0.0), np.where(use, hi, sound_hi)
        false_accept = load_false_accept_rate()
        if false_accept is not None and false_accept.setting != model.setting:
            false_accept = None  # measured for another model: it does not apply
        params.update(model.params())
    params["position_uncertainty_km"] = (
        float(unc[0]) if len(unc) and np.all(unc == unc[0]) else "per landmark"
    )

    # Annuli that constrain nothing are left out (a disc past half the circumference, lo = 0).
    active = ~((lo <= 0) & (hi >= HALF_CIRCUMFERENCE_KM))
    active &= ~_redundant(unit, lo, hi, faults)
    a_unit, a_lo, a_hi = unit[active], lo[active], hi[active]
    a_idx = np.flatnonzero(active)
    kept: list[tuple[int, IntArray, IntArray]] = []
    crossing = np.zeros(len(a_lo), dtype=bool)
    inside_witness = outside_witness = False
    # Tight bounds first (as disc_intersection): the tightest annulus prunes level 0 cheaply.
    rows, cols = global_cells(0)
    # A consistent point lies in at least one of any faults + 1 discs: the tightest ones prune the
    # 5,120 cells of level 0 before the full test.
    tight = np.argsort(a_hi, kind="stable")[: faults + 1]
    if len(tight) == faults + 1:
        u0 = cell_unit_vectors(0, rows, cols)
        zero = np.zeros(len(tight))
        d0, _, _ = annulus_tests(u0, circumradius_km(0, rows), a_unit[tight], zero, a_hi[tight])
        rows, cols = rows[d0 < len(tight)], cols[d0 < len(tight)]
    all_inside = all_outside = True
    stopped_early = False
    # The fewest landmarks any kept cell definitely violates, per level, over the cells kept there
    # (a coarse cell's count is a lower bound of its points'): how many faults the RTTs force.
    fewest_violated: list[int] = []
    for level in range(0, end_level + 1):
        if level > 0:
            rows, cols = children(rows, cols)
        if len(rows) == 0:
            break
        u = cell_unit_vectors(level, rows, cols)
        pad = circumradius_km(level, rows)
        definite, possible, _ = annulus_tests(u, pad, a_unit, a_lo, a_hi)
        keep = definite <= faults
        rows, cols, possible, u, pad = rows[keep], cols[keep], possible[keep], u[keep], pad[keep]
        if len(rows) == 0:
            break
        definite = definite[keep]
        whole = possible <= faults  # every point of the cell is consistent
        cls = claim.classify(level, rows, cols)
        inside_witness |= bool(np.any(whole & (cls == 1)))
        outside_witness |= bool(np.any(whole & (cls == -1)))
        # Refine cells the claim's border crosses; cells only partly consistent when the region is
        # wanted sharp, or while they may still change the verdict.
        need = cls == 0
        if refine_region:
            need |= ~whole
        else:
            if not outside_witness:
                need |= ~whole & (cls == -1)
            if not inside_witness:
                need |= ~whole & (cls == 1)
        if level == end_level:
            need[:] = False
        done = ~need
        all_inside &= bool(np.all(cls[done] == 1))
        all_outside &= bool(np.all(cls[done] == -1))
        kept.append((level, rows[done], cols[done]))
        if done.any():
            fewest_violated.append(int(definite[done].min()))
        # Annuli crossing the kept cells that are only partly consistent shape the region's edge.
        edge = done & ~whole
        if edge.any():
            _, _, cross = annulus_tests(u[edge], pad[edge], a_unit, a_lo, a_hi)
            crossing |= cross
        rows, cols = rows[need], cols[need]
        if inside_witness and outside_witness:
            stopped_early = len(rows) > 0
            # The rest is over-approximated by the undecided cells themselves.
            kept.append((level, rows, cols))
            if need.any():
                fewest_violated.append(int(definite[need].min()))
            all_inside = all_outside = False
            break
    n_kept = sum(len(rr) for _, rr, _ in kept)
    reasons: list[str] = []
    faults_needed = 0
    conflicts: tuple[tuple[str, str], ...] = ()
    if n_kept == 0:
        outcome: Outcome = "landmark-fault"
        reasons.append("empty-intersection")
        conflicts = _conflicts(unit, hi, ids)
        if conflicts:
            reasons.append("landmark-pairs-contradict")
        faults_needed = faults + 1
    elif all_inside:
        outcome = "proven"
        reasons.append("region-inside-claim")
    elif all_outside:
        outcome = "refuted"
        reasons.append("region-outside-claim")
    else:
        outcome = "undecided"
        if inside_witness and outside_witness:
            reasons.append("consistent-inside-and-outside")
        else:
            reasons.append("boundary-unresolved")
    if len(measured) == 0:
        reasons.append("no-landmark-measured")
    if mode == "calibrated":
        reasons.append("not-sound-against-adversary")
    if faults and n_kept:
        faults_needed = min(fewest_violated)  # n_kept > 0: some level kept cells
        reasons.append(f"tolerates-{faults}-faulty-landmarks")
        if faults_needed:
            reasons.append("landmarks-disagree")
    if refine_region:
        level_out = _region_level(kept, end_level)
    else:  # the coarsest level present: finer cells become their ancestors (a cheap over-approximation)
        level_out = min((lv for lv, rr, _ in kept if len(rr)), default=0)
    region = _at_level(kept, level_out)
    order = np.argsort(a_hi[crossing])
    deciding = tuple(lms[measured[a_idx[np.flatnonzero(crossing)[k]]]] for k in order)
    deciding_radius = tuple(float(x) for x in a_hi[crossing][order])
    if stopped_early:
        params["stopped_early"] = True
    return Decision(
        outcome=outcome,
        mode=mode,
        claim=claim,
        reasons=tuple(reasons),
        deciding=deciding,
        region=region,
        area_km2=region.area_km2,
        faults=faults,
        faults_needed=faults_needed,
        landmarks_used=len(measured),
        end_level=end_level,
        false_accept=false_accept,
        conflicts=conflicts,
        params=params,
        deciding_radius_km=deciding_radius,
    )
