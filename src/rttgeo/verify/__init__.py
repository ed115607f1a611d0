"""Verify where a host claims to be, from RTTs measured by trusted landmarks (see docs/verify.md).

>>> from rttgeo.verify import RadiusClaim, decide
>>> d = decide(RadiusClaim(50.11, 8.68, 500), landmarks, rtt_ms)   # doctest: +SKIP
>>> d.outcome                                                       # doctest: +SKIP
'proven'

Depends on estimate, geo, models and errors only.
"""

from __future__ import annotations

from rttgeo.verify.claims import (
    Claim,
    PolygonClaim,
    RadiusClaim,
    country_claim,
    parse_geojson_polygons,
    read_geojson_claim,
)
from rttgeo.verify.decide import (
    DEFAULT_POSITION_UNCERTAINTY_KM,
    OUTCOMES,
    Decision,
    decide,
    sound_radius_km,
)

__all__ = [
    "DEFAULT_POSITION_UNCERTAINTY_KM",
    "OUTCOMES",
    "Claim",
    "Decision",
    "PolygonClaim",
    "RadiusClaim",
    "country_claim",
    "decide",
    "parse_geojson_polygons",
    "read_geojson_claim",
    "sound_radius_km",
]
