"""Measurement campaigns on disk (SQLite, WAL mode): every sample committed as it arrives.

``load_rtts(path)`` gives ``(landmark_ids, min_rtt_ms)`` of the latest campaign of a store,
ready for ``rttgeo estimate`` and the estimators (NaN = every probe to that landmark was lost).
"""

from rttgeo.store.sqlite import (
    CAMPAIGN_STATUSES,
    SAMPLE_COLUMNS,
    CampaignInfo,
    CampaignStore,
    load_rtts,
)

__all__ = ["CAMPAIGN_STATUSES", "SAMPLE_COLUMNS", "CampaignInfo", "CampaignStore", "load_rtts"]
