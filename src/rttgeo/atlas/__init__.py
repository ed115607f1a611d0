"""RIPE Atlas as a source of landmarks (anchors), via ripe-atlas-cousteau (``atlas`` extra)."""

from rttgeo.atlas.anchors import (
    anchors_to_landmarks,
    check_reachable,
    fetch_anchor_landmarks,
    fetch_anchor_records,
)

__all__ = [
    "anchors_to_landmarks",
    "check_reachable",
    "fetch_anchor_landmarks",
    "fetch_anchor_records",
]
