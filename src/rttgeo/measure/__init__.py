"""rttgeo.measure: the only room that sends probes (see DESIGN.md).

One async :class:`Prober` interface (ICMP, TCP, UDP, fakes); campaigns with bounded concurrency, a
polite rate, retries and a store that keeps every sample; two-stage landmark selection.
"""

from __future__ import annotations

from typing import Any

from rttgeo.measure.base import Prober, ProbeResult, ProberStats
from rttgeo.measure.campaign import (
    Campaign,
    CampaignParams,
    CampaignResult,
    TokenBucket,
    probe_wave,
    run_campaign,
)
from rttgeo.measure.fake import FakeProber, ReplayProber
from rttgeo.measure.selection import (
    TwoStageResult,
    farthest_point_indices,
    nearest_indices,
    two_stage,
)
from rttgeo.measure.sync import run_campaign_sync, run_sync

__all__ = [
    "Campaign",
    "CampaignParams",
    "CampaignResult",
    "FakeProber",
    "ProbeResult",
    "Prober",
    "ProberStats",
    "ReplayProber",
    "TokenBucket",
    "TwoStageResult",
    "available_protocols",
    "farthest_point_indices",
    "make_prober",
    "nearest_indices",
    "probe_wave",
    "run_campaign",
    "run_campaign_sync",
    "run_sync",
    "two_stage",
]

_LAZY = {"make_prober": "rttgeo.measure.auto", "available_protocols": "rttgeo.measure.auto"}


def __getattr__(name: str) -> Any:
    """Real probers load on first use (they import sockets / scapy)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rttgeo.measure' has no attribute {name!r}")
