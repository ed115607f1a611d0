"""Loaders for measurement data into :class:`~rttgeo.models.Mesh` (public data: see
../shared/datasets/README.md). Every mesh loaded says where it came from (``mesh.source``: a path, or
``bundled``) and fingerprints those files (``mesh.sha256``).

- :func:`load`: by name or path (the one entry point of ``rttgeo eval`` and ``rttgeo mesh check``).
- :func:`load_wonderproxy`: WonderProxy 2020 ping mesh (246 servers, pairwise min RTT). Falls back to
  the copy bundled with the package when the raw files are not found; the copy equals them exactly
  (rebuilt byte for byte by ``scripts/build_wonderproxy.py``).
- :func:`load_mesh_dir` / :func:`save_mesh_dir`: any mesh in the generic format, a folder with
  ``hosts.csv`` (``id,lat_deg,lon_deg[,label][,bad]``) and ``pairs.csv`` or ``pairs.parquet``
  (``a,b,rtt_ms``), validated with file, line and field.
- :func:`load_mesh_parquet` / :func:`save_mesh_parquet`: a mesh as one Parquet file (e.g. the RIPE
  Atlas anchoring mesh made by ``rttgeo atlas mesh``).
- :func:`load_ripe_atlas`: RIPE Atlas anchors (or probes) April 2023: coordinates only, no RTTs.
"""

from rttgeo.datasets.bundle import BUNDLED, sha256_of
from rttgeo.datasets.loaders import (
    WONDERPROXY_BAD_IDS,
    dataset_dir,
    load,
    load_ripe_atlas,
    load_wonderproxy,
)
from rttgeo.datasets.meshdir import load_mesh_dir, save_mesh_dir
from rttgeo.datasets.meshfile import load_mesh_parquet, save_mesh_parquet

__all__ = [
    "BUNDLED",
    "WONDERPROXY_BAD_IDS",
    "dataset_dir",
    "load",
    "load_mesh_dir",
    "load_mesh_parquet",
    "load_ripe_atlas",
    "load_wonderproxy",
    "save_mesh_dir",
    "save_mesh_parquet",
    "sha256_of",
]
