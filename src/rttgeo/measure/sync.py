"""Synchronous wrappers of the async campaign code, for scripts and notebooks without an event loop.

Ctrl-C during :func:`run_campaign_sync` cancels the campaign cleanly (samples so far stay in the
store, the campaign is marked ``interrupted``) and then raises :class:`KeyboardInterrupt`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from rttgeo.errors import MeasurementError
from rttgeo.measure.base import Prober
from rttgeo.measure.campaign import CampaignParams, CampaignResult, run_campaign
from rttgeo.models import Landmark

__all__ = ["run_campaign_sync", "run_sync"]

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion in a new event loop; MeasurementError inside a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    coro.close()
    raise MeasurementError(
        "run_campaign_sync() was called inside a running event loop (e.g. Jupyter): "
        "use 'await rttgeo.measure.run_campaign(...)' there instead"
    )


def run_campaign_sync(
    prober: Prober,
    landmarks: Sequence[Landmark],
    params: CampaignParams = CampaignParams(),  # noqa: B008 - frozen value
    **kwargs: Any,
) -> CampaignResult:
    """:func:`rttgeo.measure.campaign.run_campaign` for sync callers (same arguments)."""
    return run_sync(run_campaign(prober, landmarks, params, **kwargs))
