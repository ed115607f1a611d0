"""Loaders for public measurement data (see ../shared/datasets/README.md) into :class:`~rttgeo.models.Mesh`.

- :func:`load_wonderproxy`: WonderProxy 2020 ping mesh (246 servers, pairwise min RTT). Falls back to
  the compact copy bundled with the package when the raw files are not found.
- :func:`load_ripe_atlas`: RIPE Atlas anchors (or probes) April 2023: coordinates only, no RTTs.
"""

from rttgeo.datasets.loaders import (
    WONDERPROXY_BAD_IDS,
    dataset_dir,
    load,
    load_ripe_atlas,
    load_wonderproxy,
)

__all__ = ["WONDERPROXY_BAD_IDS", "dataset_dir", "load", "load_ripe_atlas", "load_wonderproxy"]
