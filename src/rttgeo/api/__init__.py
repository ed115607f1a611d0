"""The api room: the few verbs a script needs, each a plain function returning a frozen result.

Layout (one module per verb, so rooms can grow it independently)::

    api/estimate.py   estimate(rtts, landmarks=..., method=...) -> EstimateResult
    api/locate.py     locate(...) -> LocateResult              (probes, then estimates)
    api/measure.py    measure(...) -> MeasureResult            (probes into a store; no estimate)
    api/lab.py        lab_locate(host, lab=None) -> LabLocateResult (locate inside a lab host,
                      scored against its true position)
    api/evaluate.py   evaluate(mesh_or_path, methods=...) -> EvaluationResult
    api/prove.py      prove(catalog, key, ...) -> ProveReport  (the host's signed challenge-response;
                      prove_every(..., every_s=) runs it again and again: a standing proof)
    api/verify.py     verify(...) -> VerifyResult              (as the verify room lands)
    api/atlas.py      RIPE Atlas verbs                          (as the atlas room lands)
    api/_results.py   the values every verb shares: Confidence, Measurement, Provenance

Each verb takes its I/O seam as a keyword argument (``prober=``, ``fetch=``, ``clock=``) defaulting
to the real one. ``rttgeo/__init__.py`` re-exports the verbs; ``rttgeo.cli`` only parses arguments,
calls one verb and prints its result.
"""

from __future__ import annotations

from rttgeo.api._results import Confidence, EstimateResult, Measurement, Provenance
from rttgeo.api.estimate import estimate
from rttgeo.api.evaluate import EvaluationResult, evaluate
from rttgeo.api.lab import LabLocateResult, lab_locate
from rttgeo.api.locate import LocateResult, locate
from rttgeo.api.measure import MeasureResult, measure
from rttgeo.api.prove import ProveReport, prove, prove_every
from rttgeo.api.verify import VerifyResult, verify

__all__ = [
    "Confidence",
    "EstimateResult",
    "EvaluationResult",
    "LabLocateResult",
    "LocateResult",
    "MeasureResult",
    "Measurement",
    "ProveReport",
    "Provenance",
    "VerifyResult",
    "estimate",
    "evaluate",
    "lab_locate",
    "locate",
    "measure",
    "prove",
    "prove_every",
    "verify",
]
