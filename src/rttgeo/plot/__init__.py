"""Maps, charts and HTML reports of estimates (the ``plot`` extra: matplotlib, imported lazily).

Importing this package does not import matplotlib; each function imports it (Agg backend) when
called and raises :class:`rttgeo.errors.MissingExtra` naming ``rttgeo[plot]`` if it is absent.

- :func:`map_estimate` — map of one estimate (PNG, SVG or PDF by suffix).
- :func:`eval_grid` — maps of the worst and best targets of an evaluation.
- :func:`error_cdf` — CDFs of location errors, one line per method.
- :func:`reliability` — reliability diagram: stated level of the regions against their coverage.
- :func:`rtt_vs_distance` — RTT against great-circle distance on a mesh, with physical bounds,
  bestlines and a delay-distance model's bands.
- :func:`write_report` — one self-contained HTML file: map, summary, per-landmark table.
- :func:`draw_verification` — the claim, the region the RTTs allow and the deciding landmarks.
- :func:`write_verification_report` — one self-contained HTML file of a verification.
- :func:`estimate_from_json` — read a saved estimate (``rttgeo locate --out``) to draw it.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DecidingLandmark",
    "draw_estimate",
    "draw_verification",
    "error_cdf",
    "estimate_from_json",
    "eval_grid",
    "map_estimate",
    "reliability",
    "rtt_vs_distance",
    "verification_report_html",
    "write_report",
    "write_verification_report",
]

_WHERE = {
    "DecidingLandmark": "rttgeo.plot.verification",
    "draw_verification": "rttgeo.plot.verification",
    "verification_report_html": "rttgeo.plot.verification",
    "write_verification_report": "rttgeo.plot.verification",
    "draw_estimate": "rttgeo.plot.layers",
    "map_estimate": "rttgeo.plot.maps",
    "eval_grid": "rttgeo.plot.evalgrid",
    "error_cdf": "rttgeo.plot.charts",
    "rtt_vs_distance": "rttgeo.plot.charts",
    "reliability": "rttgeo.plot.charts",
    "write_report": "rttgeo.plot.report",
    "estimate_from_json": "rttgeo.plot.io",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'rttgeo.plot' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
