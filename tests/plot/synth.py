"""Synthetic estimates for the plot tests, made with rttgeo.geo only (no estimator needed).

RTTs are the great-circle distance inflated by ``inflate`` at fibre speed plus 1 ms; the region is
the set of grid cells inside every fibre-speed circle (CBG-like), the point its centroid.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rttgeo.geo.density import CellDensity
from rttgeo.geo.grid import CellRegion, refine
from rttgeo.geo.sphere import distance_km, to_unit_vectors
from rttgeo.models import Estimate, LandmarkDiagnostic
from rttgeo.units import FIBRE_KM_PER_RTT_MS


def synthetic_estimate(
    true_lat_deg: float,
    true_lon_deg: float,
    landmarks: Sequence[tuple[str, float, float]],
    *,
    inflate: float = 1.25,
    level: int = 4,
    unused: Sequence[str] = (),
) -> Estimate:
    ids = [lm[0] for lm in landmarks]
    lat = np.array([lm[1] for lm in landmarks], dtype=float)
    lon = np.array([lm[2] for lm in landmarks], dtype=float)
    d_true = np.asarray(distance_km(lat, lon, true_lat_deg, true_lon_deg), dtype=float)
    rtt_ms = d_true * inflate / FIBRE_KM_PER_RTT_MS + 1.0
    max_km = rtt_ms * FIBRE_KM_PER_RTT_MS
    use = np.array([i not in unused for i in ids])
    lu = to_unit_vectors(lat[use], lon[use])

    def keep(u: np.ndarray, pad: np.ndarray) -> np.ndarray:
        dots = np.clip(u @ lu.T, -1.0, 1.0)
        d = 6371.0088 * np.arccos(dots)
        return np.all(d <= max_km[use][None, :] + pad[:, None], axis=1)

    rows, cols = refine(keep, 0, level)
    region = CellRegion.from_cells(level, rows, cols)
    plat, plon = region.centroid()
    d_est = np.asarray(distance_km(lat, lon, plat, plon), dtype=float)
    diags = tuple(
        LandmarkDiagnostic(
            id=ids[i],
            lat_deg=float(lat[i]),
            lon_deg=float(lon[i]),
            rtt_ms=float(rtt_ms[i]),
            max_distance_km=float(max_km[i]),
            distance_km=float(d_est[i]),
            slack_km=float(max_km[i] - d_est[i]),
            used=bool(use[i]),
        )
        for i in range(len(ids))
    )
    return Estimate(
        lat_deg=plat,
        lon_deg=plon,
        method="synthetic-cbg",
        params={"km_per_rtt_ms": FIBRE_KM_PER_RTT_MS, "level": level},
        region=region,
        area_km2=region.area_km2,
        level=None,
        consistent=not region.empty,
        landmarks=diags,
    )


EUROPE = [
    ("paris", 48.86, 2.35),
    ("london", 51.51, -0.13),
    ("frankfurt", 50.11, 8.68),
    ("madrid", 40.42, -3.70),
    ("milan", 45.46, 9.19),
    ("amsterdam", 52.37, 4.90),
    ("warsaw", 52.23, 21.01),
    ("stockholm", 59.33, 18.07),
    ("new-york", 40.71, -74.01),
    ("tokyo", 35.68, 139.69),
]

PACIFIC = [
    ("suva", -18.14, 178.44),
    ("apia", -13.83, -171.76),
    ("nukualofa", -21.14, -175.20),
    ("auckland", -36.85, 174.76),
    ("noumea", -22.27, 166.46),
    ("funafuti", -8.52, 179.20),
]


def synthetic_posterior(
    modes: Sequence[tuple[float, float, float, float]],
    *,
    level: int = 4,
    ring_km: float = 0.0,
) -> CellDensity:
    """A posterior on grid cells: a mixture of Gaussian bumps ``(lat, lon, sigma_km, weight)`` in
    distance from each mode, or with ``ring_km`` > 0 bumps around a circle of that radius (an
    annulus: a real hole in the middle)."""
    from rttgeo.geo.grid import cell_unit_vectors

    rows, cols = refine(lambda u, pad: np.ones(len(u), dtype=bool), 0, level)
    u = cell_unit_vectors(level, rows, cols)
    mass = np.zeros(len(rows))
    for lat, lon, sigma_km, weight in modes:
        c = to_unit_vectors(lat, lon).ravel()
        d = 6371.0088 * np.arccos(np.clip(u @ c, -1.0, 1.0))
        mass += weight * np.exp(-0.5 * ((d - ring_km) / sigma_km) ** 2)
    keep = mass > mass.max() * np.exp(-12.0)
    return CellDensity.from_log(level, rows[keep], cols[keep], np.log(mass[keep]))


def posterior_estimate(posterior: CellDensity, lat_deg: float, lon_deg: float, p: float = 0.9) -> Estimate:
    """An Estimate holding ``posterior`` and its highest-posterior region at ``p`` (no landmarks)."""
    region = posterior.hpd(p)
    return Estimate(
        lat_deg=lat_deg,
        lon_deg=lon_deg,
        method="synthetic-posterior",
        params={},
        region=region,
        area_km2=region.area_km2,
        level=p,
        consistent=True,
        posterior=posterior,
    )
