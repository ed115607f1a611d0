"""The view of a map: which part of the Earth it shows (a lon/lat window), chosen from the estimate.

A window is (lon0, lon1, lat0, lat1) in degrees; ``lon1`` may exceed 180 for a view across the
antimeridian (see :mod:`rttgeo.plot.geometry`).
"""

from __future__ import annotations

import numpy as np

from rttgeo.models import Estimate
from rttgeo.plot.geometry import geojson_rings, lon_window, region_cell_runs

__all__ = ["map_window", "region_rings", "shift_near"]


def region_rings(estimate: Estimate) -> tuple[list[list[np.ndarray]], np.ndarray | None]:
    """Region as GeoJSON polygons if rttgeo.geo.polygon exists, else as merged cell rectangles."""
    region = estimate.region
    if region is None or region.empty:
        return [], None
    try:
        return geojson_rings(region.to_geojson()), None
    except ImportError:
        return [], region_cell_runs(region.level, region.rows, region.cols)


def shift_near(lon: float, ref: float) -> float:
    """``lon`` moved by a multiple of 360 to within 180 degrees of ``ref``."""
    return ref + ((lon - ref + 180.0) % 360.0 - 180.0)


def map_window(
    estimate: Estimate,
    *,
    true_lat_deg: float | None = None,
    true_lon_deg: float | None = None,
    aspect: float = 1.45,
    min_span_deg: float = 6.0,
) -> tuple[float, float, float, float]:
    """View (lon0, lon1, lat0, lat1) holding the region, the point estimate and the truth, padded.

    With no region, the two landmarks with the smallest RTT are included instead. The longitude
    window is the shortest arc holding the points (it may pass 180); the window is widened to
    about ``aspect`` (width / height, in local km) and at least ``min_span_deg`` tall.
    """
    lons: list[float] = [estimate.lon_deg]
    lats: list[float] = [estimate.lat_deg]
    if true_lat_deg is not None and true_lon_deg is not None:
        lons.append(true_lon_deg)
        lats.append(true_lat_deg)
    polys, runs = region_rings(estimate)
    for poly in polys:
        lons.extend(poly[0][:, 0])
        lats.extend(poly[0][:, 1])
    if runs is not None:
        lons.extend(runs[:, 0])
        lons.extend(runs[:, 1])
        lats.extend(runs[:, 2])
        lats.extend(runs[:, 3])
    if not polys and runs is None:
        near = sorted((d for d in estimate.landmarks if np.isfinite(d.rtt_ms)), key=lambda d: d.rtt_ms)[:2]
        lons.extend(d.lon_deg for d in near)
        lats.extend(d.lat_deg for d in near)
    lon_arr = np.asarray(lons, dtype=float)
    lat_arr = np.asarray(lats, dtype=float)
    ok = np.isfinite(lon_arr) & np.isfinite(lat_arr)
    lon_arr, lat_arr = lon_arr[ok], lat_arr[ok]
    if lon_arr.size == 0:
        return -180.0, 180.0, -90.0, 90.0
    lon0, lon1 = lon_window(lon_arr)
    lat0, lat1 = float(lat_arr.min()), float(lat_arr.max())
    pad_lat = max(0.12 * (lat1 - lat0), 1.0)
    lat0, lat1 = lat0 - pad_lat, lat1 + pad_lat
    if lat1 - lat0 < min_span_deg:
        mid = (lat0 + lat1) / 2.0
        lat0, lat1 = mid - min_span_deg / 2.0, mid + min_span_deg / 2.0
    pad_lon = max(0.12 * (lon1 - lon0), 1.0)
    lon0, lon1 = lon0 - pad_lon, lon1 + pad_lon
    # Widen the narrower dimension towards the wanted aspect (in local km).
    coslat = max(np.cos(np.radians(np.clip((lat0 + lat1) / 2.0, -89.0, 89.0))), 0.25)
    width, height = (lon1 - lon0) * coslat, lat1 - lat0
    if width < aspect * height:
        extra = (aspect * height / coslat - (lon1 - lon0)) / 2.0
        lon0, lon1 = lon0 - extra, lon1 + extra
    elif width > aspect * height:
        extra = (width / aspect - height) / 2.0
        lat0, lat1 = lat0 - extra, lat1 + extra
    if lat0 < -90.0:
        lat1 = min(lat1 + (-90.0 - lat0), 90.0)
        lat0 = -90.0
    if lat1 > 90.0:
        lat0 = max(lat0 - (lat1 - 90.0), -90.0)
        lat1 = 90.0
    if lon1 - lon0 >= 360.0:
        lon0, lon1 = -180.0, 180.0
    else:
        shift = 360.0 * np.floor((lon0 + 180.0) / 360.0)
        lon0, lon1 = lon0 - shift, lon1 - shift
    return float(lon0), float(lon1), float(lat0), float(lat1)
