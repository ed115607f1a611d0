"""A :class:`~rttgeo.models.Mesh` of RIPE Atlas anchors from anchoring-mesh ping results.

RIPE Atlas runs "anchoring mesh" measurements: every anchor is the target of a ping measurement from
the other anchors (public, no key needed; found under ``/api/v2/anchor-measurements/``, described
"Anchoring Mesh Measurement: Ping IPv4 for anchor ..."). Their samples (``rttgeo atlas fetch``:
landmark = the measuring anchor ``atlas-<probe id>``, target = the target anchor's address) give
the anchor-to-anchor minimum RTTs: ``rtt_ms[i, j]`` is the minimum over samples from anchor i to
anchor j. Estimators fitted on this mesh calibrate each landmark on its own RTTs (see
rttgeo.estimate), instead of the pooled WonderProxy calibration.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from rttgeo.models import Landmark, Mesh, Sample

__all__ = ["MeshBuild", "anchor_mesh"]


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
