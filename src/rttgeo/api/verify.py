"""``verify``: is a host where it claims to be? (the api room's verb over :mod:`rttgeo.verify`)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from rttgeo import __version__
from rttgeo.api._catalog import ResolvedCatalog, resolve_landmarks
from rttgeo.api._results import Provenance, source_sha256
from rttgeo.errors import InputError
from rttgeo.models import Landmark
from rttgeo.verify import DEFAULT_POSITION_UNCERTAINTY_KM, Claim, Decision, decide
from rttgeo.verify.decide import DEFAULT_END_LEVEL
from rttgeo.verify.describe import describe_decision

__all__ = ["VerifyResult", "verify"]


@dataclass(frozen=True, eq=False, slots=True)
class VerifyResult:
    """What ``verify`` found: the :class:`~rttgeo.verify.Decision`, the landmarks and the RTTs it was
    made from (``source`` says where they came from: ``evidence``, a file, or ``values``), the
    host's public key when the RTTs came from checked evidence, and ``provenance``: the rttgeo
    version, the input file read (the samples file or store, or the receipts or bundle) and its
    SHA-256, the catalog and its SHA-256."""

    decision: Decision
    landmarks: tuple[Landmark, ...]
    rtt_ms: np.ndarray
    source: str
    host_key: bytes | None = None
    provenance: Provenance | None = None

    @property
    def outcome(self) -> str:
        return self.decision.outcome

    @property
    def mode(self) -> str:
        return self.decision.mode

    def describe(self) -> str:
        """The text ``rttgeo verify`` prints."""
        text = describe_decision(self.decision)
        if self.host_key is not None:
            text += f"\nhost key:  {self.host_key.hex()}"
        return text + f"\nRTTs from: {self.source}"

    def _drawing(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The arguments of :func:`rttgeo.plot.draw_verification` (but the path) for this result:
        the claim as GeoJSON, the consistent region (None when empty), up to 12 deciding
        landmarks with their outer radii and RTTs, the verdict label, and the keywords."""
        from rttgeo.verify import RadiusClaim

        d = self.decision
        claim: dict[str, Any]
        radius = None
        if isinstance(d.claim, RadiusClaim):
            claim = {"type": "Point", "coordinates": [d.claim.lon_deg, d.claim.lat_deg]}
            radius = d.claim.radius_km
        else:
            claim = dict(d.claim.geometry)  # type: ignore[attr-defined]
        if isinstance(d.claim, RadiusClaim):
            label = f"{d.outcome}: {d.claim.describe()}"
        else:
            where = ", ".join(getattr(d.claim, "codes", ())) or getattr(d.claim, "name", "the polygon")
            negate = getattr(d.claim, "negate", False)
            label = f"{d.outcome}: {'not in' if negate else 'in'} {where}"
            if negate:
                label += " (the claim is the outside of the outline)"
        rtt = {lm.id: float(r) for lm, r in zip(self.landmarks, self.rtt_ms.tolist(), strict=True)}
        landmarks = [
            {"id": lm.id, "lat_deg": lm.lat_deg, "lon_deg": lm.lon_deg, "radius_km": r,
             "rtt_ms": rtt.get(lm.id, math.nan)}
            for lm, r in zip(d.deciding, d.deciding_radius_km, strict=True)
        ]
        args = (claim, None if d.region.empty else d.region_geojson(), landmarks[:12], label)
        kw = {
            "claim_radius_km": radius,
            "claim_label": f"claim: {d.claim.describe()}",
            "region_label": f"region consistent with the RTTs ({d.mode} mode)",
            "note": "NOT sound against a lying host" if d.mode == "calibrated" else "",
        }
        return args, kw

    def draw(self, path: str | os.PathLike[str] | None = None) -> Any:
        """A map of the claim, the consistent region and the deciding landmarks with their discs
        (:func:`rttgeo.plot.draw_verification`; the plot extra): saved to ``path`` (PNG, SVG or PDF)
        and returned, or a matplotlib Figure when ``path`` is None."""
        from rttgeo.plot import draw_verification

        args, kw = self._drawing()
        return draw_verification(*args, path, **kw)

    def write_report(self, path: str | os.PathLike[str]) -> Path:
        """One self-contained HTML page (``.html``; the plot extra): the verdict, a summary (claim,
        mode, reasons, region, landmarks, host key, where the RTTs came from, the provenance), the
        map of :meth:`draw` inline, every measured landmark with its RTT (and, when deciding, its
        radius), and the decision as JSON. Returns the path."""
        from rttgeo.plot import write_verification_report
        from rttgeo.verify.describe import mode_label, outcome_text

        d = self.decision
        args, kw = self._drawing()
        summary = [("Outcome", d.outcome), ("Claim", d.claim.describe()), ("Mode", mode_label(d)),
                   ("Reasons", ", ".join(d.reasons)),
                   ("Region", f"{d.area_km2:,.0f} km² consistent with the RTTs "
                              "(over-approximated on the grid)"),
                   ("Landmarks", f"{d.landmarks_used} measured, {len(d.deciding)} deciding"
                                 + (f"; tolerates {d.faults} faulty" if d.faults else ""))]
        if self.host_key is not None:
            summary.append(("Host key", self.host_key.hex()))
        summary.append(("RTTs from", self.source))
        summary.extend(self._provenance_rows())
        radius = dict(zip((lm.id for lm in d.deciding), d.deciding_radius_km, strict=True))
        table = sorted(
            ({"id": lm.id, "lat_deg": lm.lat_deg, "lon_deg": lm.lon_deg, "rtt_ms": r,
              "radius_km": radius.get(lm.id, math.nan), "deciding": lm.id in radius}
             for lm, r in zip(self.landmarks, self.rtt_ms.tolist(), strict=True)
             if not math.isnan(r)),
            key=lambda row: (not row["deciding"], row["rtt_ms"]),
        )
        return write_verification_report(
            *args, path, verdict=outcome_text(d), summary=summary, table=table,
            details=self.to_json(with_region=False), **kw)

    def _provenance_rows(self) -> list[tuple[str, str]]:
        """The report's rows of :attr:`provenance` (none without it)."""
        if self.provenance is None:
            return []
        from rttgeo.plot.report import provenance_rows

        prov = self.provenance.as_dict()
        labels = {"created_utc": "Decision made (UTC)"}
        if prov["source"] == self.source:
            del prov["source"]  # the "RTTs from" row already says it
        elif self.host_key is not None:
            labels.update(source="Evidence file", source_sha256="Evidence file SHA-256")
        return [("rttgeo version", self.provenance.rttgeo_version),
                *provenance_rows(prov, labels)]

    def to_json(self, *, with_region: bool = True) -> dict[str, Any]:
        out = self.decision.to_json(with_region=with_region)
        out["source"] = self.source
        out["host_key"] = None if self.host_key is None else self.host_key.hex()
        out["rtts"] = [
            {"landmark": lm.id, "rtt_ms": None if math.isnan(r) else float(r)}
            for lm, r in zip(self.landmarks, self.rtt_ms.tolist(), strict=True)
        ]
        out["provenance"] = None if self.provenance is None else self.provenance.as_dict()
        return out


def _landmarks(landmarks: Sequence[Landmark] | str | os.PathLike[str] | None) -> ResolvedCatalog:
    """The landmarks with the catalog's path and SHA-256 (``given`` and None for Landmark values)."""
    if landmarks is None or isinstance(landmarks, (str, os.PathLike)):
        return resolve_landmarks(landmarks)
    return ResolvedCatalog(tuple(landmarks), "given", None)


def _calibration(mode: str) -> str:
    """What the decision's radii rest on, for the provenance."""
    if mode != "calibrated":
        return "none: sound mode bounds every RTT by the speed of light in vacuum"
    from rttgeo.estimate.defaults import default_calibration_source

    return f"delay-distance model, {default_calibration_source()}"


def verify(
    claim: Claim,
    rtts_or_evidence: Any,
    *,
    landmarks: Sequence[Landmark] | str | os.PathLike[str] | None = None,
    mode: str = "sound",
    faults: int = 0,
    position_uncertainty_km: float | ArrayLike | None = None,
    target: str | None = None,
    end_level: int = DEFAULT_END_LEVEL,
) -> VerifyResult:
    """Decide ``claim`` from RTTs measured by trusted landmarks.

    ``rtts_or_evidence`` is one of:
    - checked evidence (anything with ``landmarks`` and ``rtt_ms``, such as
      ``rttgeo.verify.evidence.Evidence`` from ``check_bundle``): its landmarks and landmark-timed
      RTTs are used (``landmarks`` must then be None) and its ``host_key`` is reported;
    - a samples CSV or campaign store path (``target`` picks one host of several);
    - a mapping landmark id -> RTT in ms, or an array aligned with ``landmarks``.
    ``landmarks`` is a sequence of :class:`~rttgeo.models.Landmark`, a catalog path, or None for the
    bundled catalog. ``position_uncertainty_km`` defaults to the evidence's per-landmark values (from
    the signed catalog) when it has them, else to DEFAULT_POSITION_UNCERTAINTY_KM (10 km).
    Mode and faults: see :func:`rttgeo.verify.decide`. The result's ``provenance`` names the file
    the RTTs were read from (the samples file or store, the receipts or bundle) with its SHA-256,
    and the catalog (the signed one of evidence) with its SHA-256.
    Raises :class:`~rttgeo.errors.InputError` on bad input (naming the file or field).
    """
    host_key = None
    if hasattr(rtts_or_evidence, "rtt_ms") and hasattr(rtts_or_evidence, "landmarks"):
        if landmarks is not None:
            raise InputError("evidence carries its own landmarks: pass landmarks=None", field="landmarks")
        lms = tuple(rtts_or_evidence.landmarks)
        rtt = np.asarray(rtts_or_evidence.rtt_ms, dtype=float)
        key = getattr(rtts_or_evidence, "host_key", None)
        host_key = bytes(key) if key is not None else None
        source = "evidence (landmark-timed RTTs of verified receipts)"
        pinned = getattr(rtts_or_evidence, "uncertainty_km", None)
        if position_uncertainty_km is None and pinned is not None:
            position_uncertainty_km = np.asarray(pinned, dtype=float)
        # the signed catalog the receipts were checked against, and the receipts file or bundle
        cat = ResolvedCatalog(lms, getattr(rtts_or_evidence, "catalog_path", "") or "given",
                              getattr(rtts_or_evidence, "catalog_sha256", "") or None)
        evidence_file = getattr(rtts_or_evidence, "source", "")
        read, read_sha256 = evidence_file or "evidence", source_sha256(evidence_file)
    elif isinstance(rtts_or_evidence, (str, os.PathLike)):
        from rttgeo.store import align_rtts, read_rtts

        cat = _landmarks(landmarks)
        lms = cat.landmarks
        path = Path(rtts_or_evidence)
        rtt = align_rtts(read_rtts(path, target), list(lms), str(path))
        source = read = str(path)
        read_sha256 = source_sha256(path)
    elif isinstance(rtts_or_evidence, Mapping):
        cat = _landmarks(landmarks)
        lms = cat.landmarks
        index = {lm.id: i for i, lm in enumerate(lms)}
        unknown = sorted(set(rtts_or_evidence) - set(index))
        if unknown:
            raise InputError(f"landmark id(s) not in the catalog: {', '.join(unknown[:10])}", field="rtts")
        rtt = np.full(len(lms), np.nan)
        for k, v in rtts_or_evidence.items():
            rtt[index[k]] = float(v)
        source = read = "values"
        read_sha256 = None
    else:
        cat = _landmarks(landmarks)
        lms = cat.landmarks
        rtt = np.asarray(rtts_or_evidence, dtype=float)
        source = read = "values"
        read_sha256 = None
    if position_uncertainty_km is None:
        position_uncertainty_km = DEFAULT_POSITION_UNCERTAINTY_KM
    decision = decide(
        claim,
        lms,
        rtt,
        mode=mode,
        faults=faults,
        position_uncertainty_km=position_uncertainty_km,
        end_level=end_level,
    )
    provenance = Provenance(
        rttgeo_version=__version__,
        method=mode,
        source=read,
        source_sha256=read_sha256,
        catalog=cat.label,
        catalog_sha256=cat.sha256,
        calibration=_calibration(mode),
    )
    return VerifyResult(decision, lms, rtt, source, host_key, provenance)
