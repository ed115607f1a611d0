"""Loaders for public measurement data (see ../shared/datasets/README.md) into :class:`~rttgeo.models.Mesh`.

- :func:`load_wonderproxy`: WonderProxy 2020 ping mesh (246 servers, pairwise min RTT). Falls back to
  the compact copy bundled with the package when the raw files are not found.
- :func:`load_mesh_parquet` / :func:`save_mesh_parquet`: any mesh as Parquet (e.g. the RIPE Atlas
  anchoring mesh made by ``rttgeo atlas mesh``).
- :func:`load_ripe_atlas`: RIPE Atlas anchors (or probes) April 2023: coordinates only, no RTTs.
"""

from rttgeo.datasets.loaders import (
    WONDERPROXY_BAD_IDS,
    dataset_dir,
    load,
    load_ripe_atlas,
    load_wonderproxy,
)
from rttgeo.datasets.meshfile import load_mesh_parquet, save_mesh_parquet

__all__ = [
    "WONDERPROXY_BAD_IDS",
    "dataset_dir",
    "load",
    "load_mesh_parquet",
    "load_ripe_atlas",
    "load_wonderproxy",
    "save_mesh_parquet",
]
