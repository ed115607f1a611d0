"""A scale bar that is true where it is drawn (pure numpy, no matplotlib).

On an azimuthal map the scale is 1 at the centre and changes away from it (AEQD: by c / sin c across
the direction to the centre), so a bar drawn with the centre's scale would be off near the edges. The
bar's length on the map is instead solved for: its two ends, mapped back to the Earth, are exactly
``length_km`` apart on the sphere (bisection to 1e-9 of the length). The length is a round number
(1, 2 or 5 x 10^k km) close to a fifth of the view's width.
"""

from __future__ import annotations

import math

import numpy as np

from rttgeo.geo.sphere import distance_km
from rttgeo.plot.view import MapView

__all__ = ["nice_length_km", "scale_bar", "solve_bar_end_km"]


def nice_length_km(target_km: float) -> float:
    """The largest of 1, 2, 5 x 10^k km not above ``target_km`` (at least 0.001 km)."""
    if not target_km > 0:
        raise ValueError(f"a scale bar needs a positive length, not {target_km}")
    e = math.floor(math.log10(target_km))
    for m in (5.0, 2.0, 1.0):
        if m * 10.0**e <= target_km * (1 + 1e-12):
            return max(m * 10.0**e, 0.001)
    return max(10.0 ** (e - 1) * 5.0, 0.001)


def solve_bar_end_km(view: MapView, x0_km: float, y_km: float, length_km: float) -> float:
    """x (km) such that the map points (x0_km, y_km) and (x, y_km) are ``length_km`` apart on the
    sphere (their inverse projections). The map's scale is within a factor 4 of 1 on every view
    rttgeo draws, which brackets the answer."""
    lat0, lon0 = view.projection.inverse(x0_km, y_km)

    def gap(dx: float) -> float:
        lat1, lon1 = view.projection.inverse(x0_km + dx, y_km)
        return float(distance_km(lat0, lon0, lat1, lon1)) - length_km

    lo, hi = 0.0, 4.0 * length_km
    if gap(hi) < 0:
        raise ValueError("the scale of this view is too far from 1 for a scale bar")
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if gap(mid) < 0:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-9 * length_km:
            break
    return x0_km + (lo + hi) / 2.0


def scale_bar(view: MapView, *, fraction: float = 0.2) -> tuple[float, float, float, float] | None:
    """(x0_km, x1_km, y_km, length_km) of a scale bar at the lower left of ``view``, about
    ``fraction`` of its width; None for world views (their scale varies too much for one bar)."""
    if view.world:
        return None
    x0 = view.x0_km + 0.04 * view.width_km
    y = view.y0_km + 0.045 * view.height_km
    length = nice_length_km(fraction * view.width_km)
    x1 = solve_bar_end_km(view, x0, y, length)
    if not np.isfinite(x1):
        return None
    return x0, x1, y, length
