"""Vantage points: RIPE Atlas anchors and probes with positions worth trusting, and their choice.

:func:`vantage_points` keeps, from the API's probe records, those that can serve as landmarks for an
address family: connected (status 1), public, with a position, and (when the record has tags) the
``system-ipv4-works`` / ``system-ipv6-works`` tag. Positions are operator-declared and some are wrong
(about 1.5 % of probes, 2024): the api room checks them against their own RTTs with the estimate
room's speed-of-light check and reports the ones it drops.

:func:`first_wave` and :func:`second_wave` are the two-stage choice of the IMC 2023 replication of
CBG on RIPE Atlas (Darwich et al.): a first wave spread over the world (farthest-point sampling,
anchors first), then the vantage points nearest the first estimate (inside its region first).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rttgeo.atlas.results import landmark_id
from rttgeo.geo.spread import farthest_point_indices, nearest_indices
from rttgeo.models import Landmark

__all__ = ["VantagePoint", "first_wave", "second_wave", "to_landmarks", "vantage_points"]

CONNECTED = 1


@dataclass(frozen=True, slots=True)
class VantagePoint:
    """A RIPE Atlas probe usable as a landmark (``landmark_id`` ``atlas-<probe_id>``)."""

    probe_id: int
    lat_deg: float
    lon_deg: float
    is_anchor: bool
    address: str = ""
    country: str = ""

    @property
    def landmark_id(self) -> str:
        return landmark_id(self.probe_id)


def _tag_slugs(rec: Mapping[str, Any]) -> set[str] | None:
    tags = rec.get("tags")
    if tags is None:
        return None
    out = set()
    for t in tags:
        out.add(str(t.get("slug", "")) if isinstance(t, Mapping) else str(t))
    return out


def vantage_points(records: Iterable[Mapping[str, Any]], *, af: int = 4
                   ) -> tuple[list[VantagePoint], dict[str, int]]:
    """Usable vantage points for address family ``af`` (4 or 6), and counts of why others were not.

    Sorted anchors first, then by probe id.
    """
    if af not in (4, 6):
        raise ValueError("af must be 4 or 6")
    out: list[VantagePoint] = []
    why: dict[str, int] = {}

    def reject(reason: str) -> None:
        why[reason] = why.get(reason, 0) + 1

    for rec in records:
        st = rec.get("status")
        status_id = st.get("id") if isinstance(st, Mapping) else st
        if status_id != CONNECTED:
            reject("not connected")
            continue
        if rec.get("is_public") is False:
            reject("not public")
            continue
        geom = rec.get("geometry") or {}
        coords = geom.get("coordinates") if isinstance(geom, Mapping) else None
        if not coords or len(coords) < 2 or coords[0] is None or coords[1] is None:
            reject("no position")
            continue
        slugs = _tag_slugs(rec)
        if slugs is not None and f"system-ipv{af}-works" not in slugs:
            reject(f"IPv{af} not working")
            continue
        try:
            vp = VantagePoint(int(rec["id"]), float(coords[1]), float(coords[0]),
                              bool(rec.get("is_anchor")),
                              str(rec.get(f"address_v{af}") or ""), str(rec.get("country_code") or ""))
        except (KeyError, TypeError, ValueError):
            reject("malformed record")
            continue
        if not (-90 <= vp.lat_deg <= 90 and -180 <= vp.lon_deg <= 180):
            reject("position out of range")
            continue
        out.append(vp)
    out.sort(key=lambda v: (not v.is_anchor, v.probe_id))
    return out, why


def to_landmarks(vps: Sequence[VantagePoint], source: str = "RIPE Atlas probe") -> list[Landmark]:
    """The vantage points as landmarks (ids ``atlas-<probe id>``, ICMP)."""
    return [
        Landmark(v.landmark_id, v.lat_deg, v.lon_deg, v.address, protocols=("icmp",),
                 country=v.country, source=f"{source}{' (anchor)' if v.is_anchor else ''}")
        for v in vps
    ]


def first_wave(vps: Sequence[VantagePoint], n: int) -> NDArray[np.int64]:
    """``n`` indices spread over the world: farthest-point sampling over anchors, then probes."""
    anchors = np.array([i for i, v in enumerate(vps) if v.is_anchor], dtype=np.int64)
    others = np.array([i for i, v in enumerate(vps) if not v.is_anchor], dtype=np.int64)
    picked: list[int] = []
    for group in (anchors, others):
        if len(picked) >= n or len(group) == 0:
            continue
        lat = np.array([vps[i].lat_deg for i in group])
        lon = np.array([vps[i].lon_deg for i in group])
        picked.extend(group[farthest_point_indices(lat, lon, n - len(picked))].tolist())
    return np.asarray(picked, dtype=np.int64)


def second_wave(vps: Sequence[VantagePoint], at_lat_deg: float, at_lon_deg: float, n: int, *,
                exclude: Sequence[int] = (), region: Any = None) -> NDArray[np.int64]:
    """Up to ``n`` indices nearest (at_lat, at_lon), not in ``exclude``; inside ``region`` first."""
    lat = np.array([v.lat_deg for v in vps])
    lon = np.array([v.lon_deg for v in vps])
    return nearest_indices(lat, lon, at_lat_deg, at_lon_deg, n, exclude=exclude, region=region)
