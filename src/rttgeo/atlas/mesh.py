"""A :class:`~rttgeo.models.Mesh` of RIPE Atlas anchors from anchoring-mesh ping results.

RIPE Atlas runs "anchoring mesh" measurements: every anchor is the target of a ping measurement from
the other anchors (public, no key needed; described "Anchoring Mesh Measurement: Ping IPv4 for
anchor <fqdn>"). :func:`mesh_measurements` finds them in the records of the API's
``/api/v2/anchor-measurements/`` list (each record: ``id``, ``is_mesh``, ``type``, and the
``measurement`` and ``target`` anchor, as nested objects with ``include=target,measurement`` or as
URLs without). Their samples (``rttgeo atlas fetch``:
landmark = the measuring anchor ``atlas-<probe id>``, target = the target anchor's address) give
the anchor-to-anchor minimum RTTs: ``rtt_ms[i, j]`` is the minimum over samples from anchor i to
anchor j. Estimators fitted on this mesh calibrate each landmark on its own RTTs (see
rttgeo.estimate), instead of the pooled WonderProxy calibration.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rttgeo.models import Landmark, Mesh, Sample

__all__ = ["MeshBuild", "MeshMeasurement", "anchor_mesh", "mesh_measurements",
           "select_mesh_measurements", "unresolved_measurements"]

#: How RIPE Atlas describes the anchoring-mesh measurements (the "Anchoring Probes" ones, from
#: ordinary probes to an anchor, are not anchor-to-anchor).
MESH_DESCRIPTION = "Anchoring Mesh Measurement"


@dataclass(frozen=True, slots=True)
class MeshMeasurement:
    """An anchoring-mesh ping measurement and the anchor it targets.

    ``probe_id`` is the target anchor's probe (its landmark id is ``atlas-<probe id>``, as in the
    RIPE catalogs; the anchor record's own ``id`` is another number). ``anchor`` is the target as a
    landmark with its declared position and address for ``af`` (None when the record lacks them).
    ``af`` is None when the record does not say.
    """

    msm_id: int
    af: int | None
    probe_id: int | None
    anchor: Landmark | None = None
    description: str = ""

    @property
    def landmark_id(self) -> str | None:
        return None if self.probe_id is None else f"atlas-{self.probe_id}"


def _id_in_url(value: Any, kind: str) -> int | None:
    """The id of ``.../<kind>/<id>/`` (the API's URL form), an int, or a nested ``{"id": ...}``."""
    if isinstance(value, Mapping):
        value = value.get("id")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    m = re.search(rf"/{kind}/(\d+)/?(?:\?|$)", str(value or ""))
    return int(m.group(1)) if m else None


def _anchor_landmark(rec: Mapping[str, Any], af: int, source: str) -> Landmark | None:
    probe_id = _id_in_url(rec.get("probe"), "probes")
    geom = rec.get("geometry") or {}
    coords = geom.get("coordinates") if isinstance(geom, Mapping) else None
    addr = rec.get(f"ip_v{af}") or rec.get(f"address_v{af}")
    if probe_id is None or not coords or not addr:
        return None
    try:
        return Landmark(f"atlas-{probe_id}", float(coords[1]), float(coords[0]), str(addr),
                        protocols=("icmp",), country=str(rec.get("country") or ""),
                        source=source)
    except (ValueError, TypeError, IndexError):
        return None


def mesh_measurements(
    records: Iterable[Mapping[str, Any]],
    *,
    af: int = 4,
    anchor_records: Mapping[int, Mapping[str, Any]] | None = None,
    measurement_records: Mapping[int, Mapping[str, Any]] | None = None,
    source: str = "RIPE Atlas anchor (anchor-measurements API)",
) -> list[MeshMeasurement]:
    """The anchoring-mesh ping measurements of address family ``af`` in ``records`` (the
    ``/api/v2/anchor-measurements/`` list), one per measurement id, sorted by target probe id.

    Kept: ``type`` ping, ``is_mesh`` true, and, when the measurement record says them, its ``af``
    and a description starting "Anchoring Mesh Measurement" (with ``af`` None when it does not).
    A ``measurement`` or ``target`` given as a URL (no ``include``) is resolved through
    ``measurement_records`` (id -> record of ``/api/v2/measurements/``) and ``anchor_records``
    (anchor id -> record of ``/api/v2/anchors/``) when given.
    """
    out: dict[int, MeshMeasurement] = {}
    for rec in records:
        if str(rec.get("type", "")).lower() != "ping" or rec.get("is_mesh") is not True:
            continue
        msm = rec.get("measurement")
        msm_id = _id_in_url(msm, "measurements")
        if msm_id is None:
            continue
        if not isinstance(msm, Mapping):
            msm = (measurement_records or {}).get(msm_id, msm)
        m_af: int | None = None
        desc = ""
        if isinstance(msm, Mapping):
            m_af = int(msm["af"]) if isinstance(msm.get("af"), int) else None
            desc = str(msm.get("description") or "")
            if desc and not desc.startswith(MESH_DESCRIPTION):
                continue
        if m_af is not None and m_af != af:
            continue
        target = rec.get("target")
        if not isinstance(target, Mapping):
            anchor_id = _id_in_url(target, "anchors")
            target = (anchor_records or {}).get(anchor_id) if anchor_id is not None else None
        probe_id = _id_in_url(target.get("probe"), "probes") if isinstance(target, Mapping) else None
        anchor = _anchor_landmark(target, af, source) if isinstance(target, Mapping) else None
        out.setdefault(msm_id, MeshMeasurement(msm_id, m_af, probe_id, anchor, desc))
    return sorted(out.values(), key=lambda m: (m.probe_id is None, m.probe_id or 0, m.msm_id))


def unresolved_measurements(records: Iterable[Mapping[str, Any]]) -> list[int]:
    """Ids of the mesh ping measurements that ``records`` give as URLs only (the API ignored
    ``include=measurement``): list them to learn their address family and description."""
    ids = {_id_in_url(r.get("measurement"), "measurements") for r in records
           if str(r.get("type", "")).lower() == "ping" and r.get("is_mesh") is True
           and not isinstance(r.get("measurement"), Mapping)}
    return sorted(i for i in ids if i is not None)


def select_mesh_measurements(found: Sequence[MeshMeasurement], *, anchors: Iterable[int] = (),
                             limit: int | None = None) -> list[MeshMeasurement]:
    """The measurements of ``found`` that target the anchors of probe ids ``anchors`` (all when
    empty), then the first ``limit`` of them (all when None)."""
    want = {int(a) for a in anchors}
    out = [m for m in found if not want or m.probe_id in want]
    return out if limit is None else out[:limit]


@dataclass(frozen=True, slots=True, eq=False)
class MeshBuild:
    """The mesh and what could not go into it (counts, and example ids)."""

    mesh: Mesh
    n_samples: int
    n_pairs: int
    unknown_targets: tuple[str, ...]
    unknown_sources: tuple[str, ...]


def anchor_mesh(samples: Iterable[Sample], anchors: Sequence[Landmark], *,
                name: str = "ripe-atlas-anchoring-mesh") -> MeshBuild:
    """Mesh of ``anchors`` (catalog order) from anchoring-mesh ``samples``.

    Targets are matched to anchors by address (``Landmark.address``) or id; sources by landmark id.
    Samples whose source or target is not among ``anchors`` are counted, not used.
    """
    index = {lm.id: k for k, lm in enumerate(anchors)}
    by_addr = {lm.address: k for k, lm in enumerate(anchors) if lm.address}
    n = len(anchors)
    rtt = np.full((n, n), np.inf)
    unknown_t: set[str] = set()
    unknown_s: set[str] = set()
    count = 0
    for s in samples:
        count += 1
        i = index.get(s.landmark)
        j = by_addr.get(s.target, index.get(s.target))
        if i is None:
            unknown_s.add(s.landmark)
            continue
        if j is None:
            unknown_t.add(s.target)
            continue
        if s.rtt_ms is not None and i != j and s.rtt_ms < rtt[i, j]:
            rtt[i, j] = s.rtt_ms
    rtt[~np.isfinite(rtt)] = np.nan
    mesh = Mesh(
        ids=tuple(lm.id for lm in anchors),
        lat_deg=np.array([lm.lat_deg for lm in anchors], dtype=float),
        lon_deg=np.array([lm.lon_deg for lm in anchors], dtype=float),
        rtt_ms=rtt,
        bad=np.zeros(n, dtype=bool),
        name=name,
        labels=tuple(lm.country for lm in anchors),
    )
    return MeshBuild(mesh, count, int(np.isfinite(rtt).sum()), tuple(sorted(unknown_t)),
                     tuple(sorted(unknown_s)))
