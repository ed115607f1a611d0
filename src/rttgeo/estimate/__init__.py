"""Delay-to-distance models, estimators behind one contract, and their evaluation.

>>> from rttgeo.estimate import make_estimator
>>> est = make_estimator("cbg").fit(mesh)          # doctest: +SKIP
>>> estimate = est.locate(rtts_ms)                 # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from rttgeo.estimate.base import Estimator
from rttgeo.estimate.estimators import CBG, GeoPing, PopulationPosterior, ShortestPing, Spotter

__all__ = ["DEFAULT_METHOD", "METHODS", "Estimator", "make_estimator"]

#: Method name -> (class, fixed keyword arguments).
_REGISTRY: dict[str, tuple[type[Estimator], dict[str, Any]]] = {
    "shortest-ping": (ShortestPing, {}),
    "geoping": (GeoPing, {}),
    "cbg": (CBG, {"model": "speed"}),
    "cbg-bestline": (CBG, {"model": "bestline"}),
    "spotter": (Spotter, {}),
    "rttgeo": (PopulationPosterior, {}),
}

METHODS: tuple[str, ...] = tuple(_REGISTRY)
DEFAULT_METHOD = "rttgeo"


def make_estimator(method: str, **params: Any) -> Estimator:
    """A new, unfitted estimator for ``method`` (one of :data:`METHODS`) with hyper-parameters."""
    try:
        cls, fixed = _REGISTRY[method]
    except KeyError:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}") from None
    return cls(**{**fixed, **params})
