"""rttgeo: latency geolocation from round-trip times to landmarks with known positions."""

from __future__ import annotations

__version__ = "0.1.0"

from rttgeo.models import Estimate, Landmark, LandmarkDiagnostic, Mesh, Sample

__all__ = ["Estimate", "Landmark", "LandmarkDiagnostic", "Mesh", "Sample", "__version__"]
