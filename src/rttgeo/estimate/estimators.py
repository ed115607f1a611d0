"""The estimators: Shortest Ping, GeoPing, CBG (fixed speed and bestline), and (from
:mod:`rttgeo.estimate.posterior`) Spotter-like and rttgeo's own (:class:`PopulationPosterior`).

All follow the contract of :mod:`rttgeo.estimate.base`. Regions live on the equal-area grid at
``end_level`` (default 4: cells of about 20 km; region boundaries resolved to one cell).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from rttgeo.errors import EstimationError
from rttgeo.estimate.base import Estimator
from rttgeo.estimate.defaults import default_bestline
from rttgeo.estimate.delay import Bestline, SpeedOfLight
from rttgeo.estimate.posterior import PopulationPosterior, Spotter, hpd_region
from rttgeo.geo.caps import nearest_point_in_discs
from rttgeo.geo.feasible import disc_intersection, smallest_common_scale
from rttgeo.geo.grid import CellRegion, cell_index, circumradius_km
from rttgeo.geo.sphere import from_unit_vectors, to_unit_vectors
from rttgeo.models import Estimate

__all__ = [
    "CBG",
    "GeoPing",
    "PopulationPosterior",
    "ShortestPing",
    "Spotter",
    "hpd_region",
    "point_in_region",
]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]


def point_in_region(region: CellRegion, lat_deg: float, lon_deg: float) -> tuple[float, float]:
    """(lat, lon) itself if inside ``region``, else the centre of the region's nearest cell."""
    if region.empty or bool(region.contains(lat_deg, lon_deg)):
        return lat_deg, lon_deg
    u = region.unit_vectors()
    k = int(np.argmax(u @ to_unit_vectors(lat_deg, lon_deg)))
    lat, lon = from_unit_vectors(u[k])
    return float(lat), float(lon)


class ShortestPing(Estimator):
    """The landmark with the smallest RTT is where the host is (Hu et al. IMC 2012). No region."""

    name = "shortest-ping"
    has_region = False
    point_in_c_discs = False  # the point is a landmark's position, by definition

    def _locate_one(self, rtt_ms: FloatArray, use: BoolArray) -> Estimate:
        idx = np.flatnonzero(use)
        j = int(idx[np.argmin(rtt_ms[idx])])
        return self._estimate(
            self.mesh_.lat_deg[j], self.mesh_.lon_deg[j], nearest_landmark=self.mesh_.ids[j]
        )


class GeoPing(Estimator):
    """Nearest neighbour in delay space (Padmanabhan & Subramanian 2001), against the fitted mesh.

    The host's RTT vector is compared with each landmark's RTT vector to the other landmarks by the
    root-mean-square difference over landmarks measured by both; the closest landmark's position is
    the estimate. Needs a mesh with inter-landmark RTTs. No region.
    """

    name = "geoping"
    has_region = False
    point_in_c_discs = False  # the point is a landmark's position, by definition

    def __init__(self, min_common: int = 5) -> None:
        self.min_common = min_common

    def _fit(self) -> None:
        if np.isfinite(self.rtt_sym_ms_).sum() == 0:
            raise EstimationError("GeoPing needs a mesh with landmark-to-landmark RTTs")

    def _locate_one(self, rtt_ms: FloatArray, use: BoolArray) -> Estimate:
        idx = np.flatnonzero(use)
        vec = self.rtt_sym_ms_[np.ix_(self.usable_, idx)]
        cand = np.flatnonzero(self.usable_)
        diff = vec - rtt_ms[idx][None, :]  # NaN where the landmark pair was not measured
        common = np.isfinite(diff).sum(axis=1)
        rms = np.sqrt(np.nansum(diff**2, axis=1) / np.maximum(common, 1))
        rms[common < self.min_common] = np.inf
        if not np.isfinite(rms).any():
            raise EstimationError(
                f"GeoPing: no landmark shares {self.min_common} measured landmarks with the host"
            )
        j = int(cand[np.argmin(rms)])
        return self._estimate(
            self.mesh_.lat_deg[j], self.mesh_.lon_deg[j], nearest_landmark=self.mesh_.ids[j]
        )


class CBG(Estimator):
    """Constraint-Based Geolocation (Gueye et al. 2006): intersect one disc per landmark.

    ``model="speed"``: radius = RTT x c/2 x ``fraction_of_c``; ``model="bestline"``: each landmark's
    CBG bestline fitted on the mesh. The point estimate is the centroid of the region (moved to the
    region's nearest cell if the centroid falls outside). When the discs have no common point the
    radii are all widened by the smallest common factor that gives one, and the estimate says so.
    """

    name = "cbg"

    def __init__(
        self,
        model: str = "speed",
        fraction_of_c: float = 2.0 / 3.0,
        end_level: int = 4,
        max_cells: int = 20000,
    ) -> None:
        self.model = model
        self.fraction_of_c = fraction_of_c
        self.end_level = end_level
        self.max_cells = max_cells

    def _fit(self) -> None:
        if self.model == "speed":
            self.model_: SpeedOfLight | Bestline = SpeedOfLight(self.fraction_of_c)
        elif self.model == "bestline":
            self.model_ = Bestline.fit(
                self.rtt_sym_ms_, self.distance_km_, self.usable_, pooled=default_bestline()
            )
        else:
            raise ValueError(f"CBG model must be 'speed' or 'bestline', not {self.model!r}")

    @property
    def method_name(self) -> str:
        return "cbg-bestline" if self.model == "bestline" else "cbg"

    def max_distance_km(self, rtt_ms: FloatArray, idx: IntArray) -> FloatArray:
        return self.model_.max_distance_km(rtt_ms, idx)

    def _locate_one(self, rtt_ms: FloatArray, use: BoolArray) -> Estimate:
        idx = np.flatnonzero(use)
        radius = self.max_distance_km(rtt_ms[idx], idx)
        centres = self.unit_[idx]
        region = disc_intersection(centres, radius, self.end_level, max_cells=self.max_cells)
        consistent, note, scale = True, "", 1.0
        exact: tuple[float, float] | None = None
        if region.empty:
            # No cell centre lies in every disc; the discs may still share a point smaller than a
            # cell (sub-millisecond RTTs): decide that exactly before calling them inconsistent.
            j = int(np.argmin(radius))
            exact = nearest_point_in_discs(
                float(self.mesh_.lat_deg[idx[j]]), float(self.mesh_.lon_deg[idx[j]]), centres, radius
            )
        if region.empty and exact is not None:
            row = np.atleast_1d(cell_index(self.end_level, *exact)[0])
            pad = float(circumradius_km(self.end_level, row)[0])
            region = disc_intersection(centres, radius + pad, self.end_level, max_cells=self.max_cells)
            note = (
                f"the feasible region (the smallest disc has a radius of {radius.min():,.1f} km) is "
                f"smaller than the grid's cells: the region shows the {len(region)} cells of about "
                f"{2 * pad:,.0f} km that touch it, and the point is inside every disc"
            )
            return self._estimate(
                exact[0], exact[1], region=region, note=note, method=self.method_name,
                radius_scale=1.0,
            )
        if region.empty:
            scale, region = smallest_common_scale(
                centres, radius, self.end_level, max_cells=self.max_cells
            )
            consistent = False
            note = (
                f"the {len(idx)} constraints have no common point; every radius was widened by "
                f"x{scale:.3f}, the smallest factor that gives one"
            )
        lat, lon = point_in_region(region, *region.centroid())
        return self._estimate(
            lat,
            lon,
            region=region,
            consistent=consistent,
            note=note,
            method=self.method_name,
            radius_scale=scale,
        )
