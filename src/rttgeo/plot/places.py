"""Names of places for people: the nearest GeoNames city to a landmark (bundled, CC BY 4.0).

Catalogs name their landmarks by id and, at best, a country code (RIPE Atlas anchors: ``FR``); a
reader of a report wants "Strasbourg, FR". The bundled cities of at least 15,000 inhabitants (the
same file as the population prior of the ``rttgeo`` estimator) give the most populous one within
``max_km``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources

import numpy as np

from rttgeo.errors import DatasetError
from rttgeo.geo.sphere import to_unit_vectors
from rttgeo.units import EARTH_RADIUS_KM

__all__ = ["nearest_city_names"]


@lru_cache(maxsize=1)
def _cities() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    try:
        data = resources.files("rttgeo.data").joinpath("cities-15000.npz").read_bytes()
    except FileNotFoundError as exc:  # pragma: no cover - broken installation
        raise DatasetError("the bundled cities-15000.npz is missing from this installation") from exc
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        unit = to_unit_vectors(z["lat_deg"].astype(float), z["lon_deg"].astype(float))
        return unit, z["name"], z["country"], z["population"].astype(float)


def nearest_city_names(
    lat_deg: Sequence[float], lon_deg: Sequence[float], *, max_km: float = 40.0
) -> list[str]:
    """For each point, ``"City, CC"`` of the most populous city (of at least 15,000 inhabitants)
    within ``max_km``, or "" when there is none: a landmark in a district of Paris is in "Paris",
    not in "Paris 04 Hôtel-de-Ville"."""
    if len(lat_deg) == 0:
        return []
    unit, name, country, population = _cities()
    u = to_unit_vectors(np.asarray(lat_deg, dtype=float), np.asarray(lon_deg, dtype=float)).reshape(-1, 3)
    near = u @ unit.T >= np.cos(max_km / EARTH_RADIUS_KM)
    out = []
    for row in near:
        idx = np.flatnonzero(row)
        if idx.size == 0:
            out.append("")
            continue
        j = int(idx[np.argmax(population[idx])])
        out.append(f"{name[j]}, {country[j]}")
    return out
