"""Choosing points on the sphere: a spread (farthest-point sampling) and the nearest to a place.

Pure numpy, deterministic (ties: lowest index). Used to choose landmarks or vantage points: a first
wave spread over the world, then the ones nearest a first estimate (Hu et al. IMC 2012; the two-stage
choice of the IMC 2023 replication on RIPE Atlas).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rttgeo.geo.sphere import to_unit_vectors, unit_distance_km

__all__ = ["farthest_point_indices", "nearest_indices"]


def farthest_point_indices(lat_deg: ArrayLike, lon_deg: ArrayLike, n: int) -> NDArray[np.int64]:
    """``n`` indices spread over the points by greedy farthest-point sampling (deterministic).

    Starts from the point farthest from the points' mean direction, then repeatedly adds the point
    whose distance to the chosen set is largest (ties: lowest index). All indices if ``n`` >= N.
    """
    u = to_unit_vectors(lat_deg, lon_deg).reshape(-1, 3)
    m = len(u)
    if n >= m:
        return np.arange(m)
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    mean = u.mean(axis=0)
    if np.linalg.norm(mean) < 1e-12:
        first = 0
    else:
        first = int(np.argmax(unit_distance_km(u, mean / np.linalg.norm(mean))))
    chosen = [first]
    dmin = unit_distance_km(u, u[first])
    dmin[first] = -1.0
    for _ in range(n - 1):
        nxt = int(np.argmax(dmin))
        chosen.append(nxt)
        dmin = np.minimum(dmin, unit_distance_km(u, u[nxt]))
        dmin[chosen] = -1.0
    return np.asarray(chosen, dtype=np.int64)


def nearest_indices(
    lat_deg: ArrayLike,
    lon_deg: ArrayLike,
    at_lat_deg: float,
    at_lon_deg: float,
    n: int,
    *,
    exclude: Sequence[int] = (),
    region: Any = None,
) -> NDArray[np.int64]:
    """Up to ``n`` indices nearest to (at_lat, at_lon), skipping ``exclude``.

    With a ``region`` (``contains(lat, lon) -> bool array``), points inside it come first (nearest
    first), then the nearest outside fill the remaining places.
    """
    lat = np.asarray(lat_deg, dtype=float)
    lon = np.asarray(lon_deg, dtype=float)
    d = unit_distance_km(to_unit_vectors(lat, lon), to_unit_vectors(at_lat_deg, at_lon_deg))
    keep = np.ones(len(lat), dtype=bool)
    keep[np.asarray(list(exclude), dtype=np.int64)] = False
    inside = np.zeros(len(lat), dtype=bool)
    if region is not None and not getattr(region, "empty", False):
        inside = np.asarray(region.contains(lat, lon), dtype=bool)
    # sort key: outside-region after inside-region, then distance, then index
    order = np.lexsort((np.arange(len(lat)), d, ~inside))
    order = order[keep[order]]
    return order[: max(n, 0)].astype(np.int64)
