"""Physical constants and unit conversions used everywhere in rttgeo.

Every quantity carries its unit in its name (``rtt_ms``, ``distance_km``, ``lat_deg``).
"""

from __future__ import annotations

#: Mean Earth radius R1 = (2a + b) / 3 of WGS84, in km (IUGG). Distances on this sphere differ from
#: WGS84 geodesics by at most 0.5614 % (tested against geographiclib).
EARTH_RADIUS_KM: float = 6371.0088

#: Speed of light in vacuum, km per ms (exact by definition of the metre).
C_KM_PER_MS: float = 299.792458

#: Largest one-way distance per ms of round-trip time at the speed of light: c / 2 = 149.9 km/ms.
#: The only bound sound against every medium (microwave, hollow-core fibre).
MAX_KM_PER_RTT_MS: float = C_KM_PER_MS / 2.0

#: Usual propagation speed in fibre as a fraction of c (refractive index about 1.5).
FIBRE_FRACTION_OF_C: float = 2.0 / 3.0

#: One-way km per ms of RTT in fibre: about 99.93 km/ms.
FIBRE_KM_PER_RTT_MS: float = MAX_KM_PER_RTT_MS * FIBRE_FRACTION_OF_C

#: Largest RTT accepted as a measurement in a samples file, ms (one minute; a geostationary hop is
#: 600 ms and the worst bufferbloat a few seconds). Larger values are typing or unit errors, and
#: would overflow the estimators' arithmetic (an RTT of 1e300 ms did).
MAX_MEASURED_RTT_MS: float = 60_000.0

#: Surface of the sphere of radius EARTH_RADIUS_KM, km^2.
EARTH_AREA_KM2: float = 4.0 * 3.141592653589793 * EARTH_RADIUS_KM**2


def rtt_ms_to_max_distance_km(rtt_ms: float, fraction_of_c: float = 1.0) -> float:
    """Largest one-way distance in km a signal at ``fraction_of_c`` of c can cover in ``rtt_ms``."""
    return rtt_ms * MAX_KM_PER_RTT_MS * fraction_of_c


def distance_km_to_min_rtt_ms(distance_km: float, fraction_of_c: float = 1.0) -> float:
    """Smallest possible RTT in ms over ``distance_km`` at ``fraction_of_c`` of c."""
    return distance_km / (MAX_KM_PER_RTT_MS * fraction_of_c)
