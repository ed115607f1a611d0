"""Plain-text summary of an estimate for people (used by ``rttgeo estimate`` and ``demo``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rttgeo.models import Estimate, Landmark

__all__ = ["describe"]


def describe(e: Estimate, landmarks: Sequence[Landmark] = (), max_landmarks: int = 8) -> str:
    """Point, region and area, consistency, candidate places with their probability, and the
    landmarks that constrained it most."""
    names = {lm.id: (lm.country or lm.source or "") for lm in landmarks}
    lines = [f"method:   {e.method}", f"point:    {e.lat_deg:.4f}, {e.lon_deg:.4f} (lat, lon deg)"]
    if e.low_confidence:
        lines.append("LOW CONFIDENCE: the evidence does not single out a place (see the region "
                     "and the candidates)")
    if e.region is not None:
        what = f"{e.level:.0%} highest-posterior region" if e.level else "feasible region"
        lines.append(f"region:   {what}, {e.area_km2:,.0f} km² "
                     f"(≈ a disc of radius {math.sqrt(e.area_km2 / math.pi):,.0f} km)")
        if e.region_kind:
            lines.append(f"          {e.region_kind}")
    else:
        lines.append("region:   none (this method gives a point only)")
    lines.extend(candidate_lines(e))
    used = [d for d in e.landmarks if d.used]
    lines.append(f"landmarks: {len(used)} used of {len(e.landmarks)} measured")
    if not e.consistent:
        lines.append(f"WARNING:  constraints inconsistent: {e.note}")
    elif e.note:
        lines.append(f"note:     {e.note}")
    for d in e.landmarks:
        if not d.used and d.note and not d.note.startswith("not used by this method"):
            lines.append(f"left out: {d.id}: {d.note}")
    closest = sorted(used, key=lambda d: d.rtt_ms)[:max_landmarks]
    if closest:
        lines.append(f"{'landmark':<14}{'where':<28}{'rtt ms':>8}{'max km':>9}{'dist km':>9}"
                     f"{'slack km':>10}")
        for d in closest:
            mx = "-" if math.isnan(d.max_distance_km) else f"{d.max_distance_km:,.0f}"
            sl = "-" if math.isnan(d.slack_km) else f"{d.slack_km:,.0f}"
            lines.append(f"{d.id:<14}{names.get(d.id, '')[:27]:<28}{d.rtt_ms:>8.2f}{mx:>9}"
                         f"{d.distance_km:>9,.0f}{sl:>10}")
    return "\n".join(lines)


def candidate_lines(e: Estimate) -> list[str]:
    """The candidates block of the text: a header, then one line per candidate place (its
    probability, name, lat, lon and distance from the point); none when ``e`` has no candidates."""
    if not e.candidates:
        return []
    lines = ["candidates (probability the host is within "
             f"{e.candidates[0].radius_km:g} km; the first is the point's place):"]
    for c in e.candidates:
        where = f"{c.name}, {c.country}" if c.country else c.name
        lines.append(f"  {c.probability:>6.1%}  {where[:40]:<40} {c.lat_deg:>9.4f} "
                     f"{c.lon_deg:>10.4f}  {c.distance_km:>7,.0f} km from the point")
    return lines
