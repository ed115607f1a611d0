"""Where hosts can be: a population prior from GeoNames cities (bundled, CC BY 4.0).

Servers sit where people are: in and around cities. :class:`PopulationPrior` holds every city of at
least 15,000 inhabitants (34,006 cities) and answers, per grid level, which cities fall in which cell.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rttgeo.errors import DatasetError
from rttgeo.geo.grid import cell_index, level_shape
from rttgeo.geo.sphere import to_unit_vectors
from rttgeo.units import EARTH_RADIUS_KM

__all__ = ["PopulationPrior", "population_prior"]

CITIES_FILE = "cities-15000.npz"


@dataclass(frozen=True, eq=False, slots=True)
class PopulationPrior:
    """Cities: ``lat_deg``, ``lon_deg``, ``population``, ``name``, ``country`` (N,), ``unit`` (N, 3)."""

    lat_deg: NDArray[np.float64]
    lon_deg: NDArray[np.float64]
    population: NDArray[np.float64]
    name: NDArray[np.str_]
    country: NDArray[np.str_]
    unit: NDArray[np.float64]

    def cities_in_cells(
        self, level: int, rows: NDArray[np.int64], cols: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """(city indices, index of their cell in ``rows``/``cols``) for cities inside the cells.

        The cells must be row-major sorted (as :class:`~rttgeo.geo.grid.CellRegion` keeps them).
        """
        keys, order = _sorted_city_keys(self, level)
        nc = level_shape(level)[1]
        cell_keys = rows * nc + cols
        lo = np.searchsorted(keys, cell_keys, side="left")
        hi = np.searchsorted(keys, cell_keys, side="right")
        counts = hi - lo
        if counts.sum() == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        cell_of = np.repeat(np.arange(len(cell_keys)), counts)
        starts = np.repeat(lo - np.cumsum(counts) + counts, counts)
        pos = starts + np.arange(counts.sum())
        return order[pos], cell_of

    def places(self, radius_km: float) -> NDArray[np.int64]:
        """Per city, the index of the city that names its place: the most populous city within
        ``radius_km``, followed until it names itself (so a suburb counts for its metropolis, and
        a chain of towns for its largest). Depends on the prior's geography only; cached."""
        return _places(self, float(radius_km))

    def near(self, unit: NDArray[np.float64], radius_km: float) -> NDArray[np.bool_]:
        """Per city, whether it lies within ``radius_km`` of any of the points ``unit`` (N, 3)."""
        out = np.zeros(len(self.population), dtype=bool)
        chord = 2.0 * np.sin(radius_km / (2.0 * EARTH_RADIUS_KM))
        for hits in _tree(self).query_ball_point(np.asarray(unit, dtype=float).reshape(-1, 3), chord):
            out[hits] = True
        return out

    def nearest_within(self, unit: NDArray[np.float64], radius_km: float) -> NDArray[np.int64]:
        """Per point of ``unit`` (N, 3), the index of the nearest city within ``radius_km``, or
        -1 where there is none."""
        chord = 2.0 * np.sin(radius_km / (2.0 * EARTH_RADIUS_KM))
        dist, k = _tree(self).query(np.asarray(unit, dtype=float).reshape(-1, 3), k=1,
                                    distance_upper_bound=chord)
        return np.where(np.isfinite(dist), k, -1).astype(np.int64)

    def nearest(self, lat_deg: float, lon_deg: float, min_population: int = 100_000) -> int:
        """Index of the city nearest to a point among those of at least ``min_population``."""
        big = np.flatnonzero(self.population >= min_population)
        k = int(np.argmax(self.unit[big] @ to_unit_vectors(lat_deg, lon_deg)))
        return int(big[k])


_KEY_CACHE: dict[tuple[int, int], tuple[NDArray[np.int64], NDArray[np.int64]]] = {}
_PLACE_CACHE: dict[tuple[int, float], NDArray[np.int64]] = {}


_TREE_CACHE: dict[int, object] = {}


def _tree(prior: PopulationPrior) -> Any:
    """A k-d tree of the cities' unit vectors (cached)."""
    if id(prior) not in _TREE_CACHE:
        from scipy.spatial import cKDTree

        _TREE_CACHE[id(prior)] = cKDTree(prior.unit)
    return _TREE_CACHE[id(prior)]


def _places(prior: PopulationPrior, radius_km: float) -> NDArray[np.int64]:
    k = (id(prior), radius_km)
    if k not in _PLACE_CACHE:
        chord = 2.0 * np.sin(radius_km / (2.0 * EARTH_RADIUS_KM))
        tree = _tree(prior)
        # The most populous city within the radius; ties by the lower index (the file is sorted
        # by population, largest first).
        rank = np.lexsort((np.arange(len(prior.population)), -prior.population))
        pos = np.empty_like(rank)
        pos[rank] = np.arange(len(rank))
        pairs = tree.query_pairs(chord, output_type="ndarray")
        best = pos.copy()
        np.minimum.at(best, pairs[:, 0], pos[pairs[:, 1]])
        np.minimum.at(best, pairs[:, 1], pos[pairs[:, 0]])
        head = rank[best]
        while True:
            nxt = head[head]
            if np.array_equal(nxt, head):
                break
            head = nxt
        _PLACE_CACHE[k] = head
    return _PLACE_CACHE[k]


def _sorted_city_keys(prior: PopulationPrior, level: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    k = (id(prior), level)
    if k not in _KEY_CACHE:
        r, c = cell_index(level, prior.lat_deg, prior.lon_deg)
        keys = r * level_shape(level)[1] + c
        order = np.argsort(keys, kind="stable")
        _KEY_CACHE[k] = (keys[order], order)
    return _KEY_CACHE[k]


@lru_cache(maxsize=1)
def population_prior() -> PopulationPrior:
    """The bundled GeoNames cities (loaded once)."""
    try:
        data = resources.files("rttgeo.data").joinpath(CITIES_FILE).read_bytes()
    except FileNotFoundError as exc:  # pragma: no cover - broken installation
        raise DatasetError(f"the bundled {CITIES_FILE} is missing from this installation") from exc
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        lat = z["lat_deg"].astype(float)
        lon = z["lon_deg"].astype(float)
        return PopulationPrior(lat, lon, z["population"].astype(float), z["name"], z["country"],
                               to_unit_vectors(lat, lon))
