"""Pure numpy geometry on a sphere: unit vectors, distances, equal-area grids, regions, polygons."""

from rttgeo.geo.grid import CellRegion, cell_area_km2, level_for_resolution, refine
from rttgeo.geo.sphere import (
    destination,
    distance_km,
    from_unit_vectors,
    pairwise_distance_km,
    to_unit_vectors,
    unit_distance_km,
)

__all__ = [
    "CellRegion",
    "cell_area_km2",
    "destination",
    "distance_km",
    "from_unit_vectors",
    "level_for_resolution",
    "pairwise_distance_km",
    "refine",
    "to_unit_vectors",
    "unit_distance_km",
]
