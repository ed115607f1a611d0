"""rttgeo: find where a host is from round-trip times (RTTs) to landmarks with known positions.

Light in fibre covers about 100 km per millisecond of RTT (at most 149.9 km at the speed of light
in vacuum), so every RTT to a landmark bounds the host's distance from it; many landmarks together
pin the host down. Three verbs cover the work, each returning a frozen result that holds everything
the ``rttgeo`` command prints (``.describe()`` for people, ``.to_json()`` / ``.to_geojson()`` for
files):

    rttgeo.estimate(rtts, landmarks=None, method=None)   RTTs already measured -> EstimateResult
        rtts: {landmark_id: rtt_ms}, a list of Sample, an array in catalog order, or the path of
        a samples CSV or campaign store; landmarks: a catalog file, Landmark values, or None for
        the bundled RIPE Atlas anchors (April 2023).
    rttgeo.locate(landmarks=None, protocol="auto", prober=None)   probe, then estimate -> LocateResult
        (real ICMP/TCP/UDP probes; pass prober=rttgeo.measure.FakeProber(...) to run offline)
    rttgeo.evaluate("wonderproxy-2020", methods=None)     leave-one-out on real data -> EvaluationResult
    rttgeo.verify(claim, rtts_or_evidence, landmarks=None, mode="sound", faults=0) -> VerifyResult
        is the host where it claims? proven / refuted / undecided (claims: rttgeo.verify.RadiusClaim,
        country_claim, read_geojson_claim; docs/verify.md)

    >>> import rttgeo
    >>> r = rttgeo.estimate({"atlas-6025": 4.1, "atlas-6031": 9.8})   # doctest: +SKIP
    >>> r.estimate.lat_deg, r.estimate.lon_deg, r.confidence.grade    # doctest: +SKIP

Methods (``method=``): rttgeo (default), cbg, cbg-bestline, spotter, shortest-ping, geoping; see
docs/estimation.md. Value types: Landmark, Sample, Mesh, Estimate, LandmarkDiagnostic. Errors all
derive from rttgeo.errors.RttgeoError (bad input: InputError). The rooms below the verbs are
importable for finer work: rttgeo.measure (probers, campaigns), rttgeo.catalog, rttgeo.store,
rttgeo.geo, rttgeo.plot (maps; the plot extra), rttgeo.lab (an emulated Internet), and the
estimators with ``from rttgeo.estimate import make_estimator`` (``rttgeo.estimate`` itself is the
verb above). The command line: ``rttgeo --help``; README.md has a quick start.
"""

from __future__ import annotations

__version__ = "0.1.0"

# The estimate and verify rooms are imported before the verbs of the same names are bound, so that
# the import system never replaces a verb (``rttgeo.estimate`` is the verb; ``from rttgeo.estimate
# import X`` and ``sys.modules["rttgeo.estimate"]`` reach the room; the same for verify).
from rttgeo import estimate as _room
from rttgeo import verify as _verify_room
from rttgeo.api import (
    Confidence,
    EstimateResult,
    EvaluationResult,
    LocateResult,
    Measurement,
    Provenance,
    VerifyResult,
    estimate,
    evaluate,
    locate,
    verify,
)
from rttgeo.models import Estimate, Landmark, LandmarkDiagnostic, Mesh, Sample

del _room, _verify_room

__all__ = [
    "Confidence",
    "Estimate",
    "EstimateResult",
    "EvaluationResult",
    "Landmark",
    "LandmarkDiagnostic",
    "LocateResult",
    "Measurement",
    "Mesh",
    "Provenance",
    "Sample",
    "VerifyResult",
    "__version__",
    "estimate",
    "evaluate",
    "locate",
    "verify",
]
