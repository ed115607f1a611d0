"""Measurement campaigns on disk (SQLite, WAL mode): every sample committed as it arrives.

``open_readonly(path)`` opens a store for every read command (SQLite ``mode=ro``, schema checked
first, never modified). ``load_rtts(path)`` gives ``(landmark_ids, min_rtt_ms)`` of the latest
campaign of a store, ready for ``rttgeo estimate`` and the estimators (NaN = every probe to that
landmark was lost).
``read_rtts(path)`` reads either a samples CSV or a store into ``{landmark_id: min_rtt_ms}``, and
``align_rtts`` puts such a mapping in catalog order.
"""

from rttgeo.store.bulk import (
    RemoteMeasurement,
    add_samples,
    iter_min_rtt_rows,
    mark_fetched,
    record_remote_measurement,
    remote_measurements,
)
from rttgeo.store.samples_csv import align_rtts, read_rtts
from rttgeo.store.sqlite import (
    CAMPAIGN_STATUSES,
    SAMPLE_COLUMNS,
    CampaignInfo,
    CampaignStore,
    load_rtts,
    open_readonly,
)

__all__ = [
    "CAMPAIGN_STATUSES",
    "SAMPLE_COLUMNS",
    "CampaignInfo",
    "CampaignStore",
    "RemoteMeasurement",
    "add_samples",
    "align_rtts",
    "iter_min_rtt_rows",
    "load_rtts",
    "mark_fetched",
    "open_readonly",
    "read_rtts",
    "record_remote_measurement",
    "remote_measurements",
]
