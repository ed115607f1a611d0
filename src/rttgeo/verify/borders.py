"""The bundled country borders: Natural Earth 4.1.0 admin-0 countries at 1:50m (public domain).

Built by ``scripts/build_countries.py`` from the npm package world-atlas@2.0.2; each country is
keyed by ISO 3166-1 alpha-2, from Natural Earth's ``ISO_N3`` field (areas whose ``ISO_N3`` is
``-99`` belong to no code: Kosovo, Somaliland, Northern Cyprus, the Siachen Glacier, the Indian
Ocean Territories). Per country, ``e_out_km`` and ``e_in_km`` are the measured border errors of the
1:50m outline against Natural Earth's 1:10m one (docs/verify.md lists the figures);
:meth:`CountryTable.margin_km` turns them into the margin a claim needs.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from rttgeo.errors import DatasetError

__all__ = ["COUNTRIES_FILE", "CountryTable", "load_countries"]

COUNTRIES_FILE = "countries_50m.npz"


@dataclass(frozen=True, eq=False, slots=True)
class CountryTable:
    """Country outlines by alpha-2 code: ``polygons(code)`` as RFC 7946 MultiPolygon coordinates."""

    codes: tuple[str, ...]
    names: tuple[str, ...]
    margins_km: np.ndarray
    e_out_km: np.ndarray
    e_in_km: np.ndarray
    index: dict[str, int]
    meta: dict[str, Any]
    _polygons: tuple[tuple[list[list[list[float]]], ...], ...]

    def polygons(self, code: str) -> list[list[list[list[float]]]]:
        return list(self._polygons[self.index[code]])

    def name(self, code: str) -> str:
        return self.names[self.index[code]]

    def margin_km(self, code: str, *, inside: bool | None = None) -> float:
        """Border margin of a country, km: for proving a host inside it (``inside=True``: the
        measured e_in, how far the bundled outline may reach past the country), outside it
        (``inside=False``: e_out, how far the country may reach past the outline), or both (None:
        the stored margin, the larger); each rounded up after adding 0.5 km (float32, rounding)."""
        i = self.index[code]
        if inside is None:
            return float(self.margins_km[i])
        e = self.e_in_km[i] if inside else self.e_out_km[i]
        return float(math.ceil(e + 0.5))


@lru_cache(maxsize=1)
def load_countries() -> CountryTable:
    """The bundled table (cached)."""
    try:
        data = resources.files("rttgeo.data").joinpath(COUNTRIES_FILE).read_bytes()
    except (FileNotFoundError, ModuleNotFoundError) as exc:
        raise DatasetError(f"the bundled country borders {COUNTRIES_FILE} are missing") from exc
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        codes = tuple(str(c) for c in z["code"])
        lon, lat = z["lon"], z["lat"]
        start = z["ring_start"]
        ring_poly = z["ring_polygon"]
        poly_country = z["polygon_country"]
        polys: list[list[list[list[list[float]]]]] = [[] for _ in codes]
        current: list[list[list[float]]] | None = None
        last_poly = -1
        for i in range(len(ring_poly)):
            ring = np.column_stack([lon[start[i] : start[i + 1]], lat[start[i] : start[i + 1]]]).tolist()
            if ring_poly[i] != last_poly:
                current = [ring]
                polys[int(poly_country[ring_poly[i]])].append(current)
                last_poly = int(ring_poly[i])
            else:
                assert current is not None
                current.append(ring)
        return CountryTable(
            codes=codes,
            names=tuple(str(n) for n in z["name"]),
            margins_km=z["margin_km"].astype(float),
            e_out_km=z["e_out_km"].astype(float),
            e_in_km=z["e_in_km"].astype(float),
            index={c: i for i, c in enumerate(codes)},
            meta=json.loads(str(z["meta"])),
            _polygons=tuple(tuple(p) for p in polys),
        )
