"""A :class:`~rttgeo.models.Mesh` saved as Parquet (needs pyarrow, the ``measure`` extra).

One row per measured ordered pair ``src, dst, rtt_ms`` (the minimum RTT from src to dst); the hosts
(``id, lat_deg, lon_deg, bad``, in mesh order) and the mesh name sit in the file's key-value metadata
under ``rttgeo.hosts`` / ``rttgeo.name`` as JSON. Unmeasured pairs are absent (NaN when loaded).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from rttgeo.datasets.bundle import sha256_of
from rttgeo.errors import DatasetError, require
from rttgeo.models import Mesh

__all__ = ["load_mesh_parquet", "save_mesh_parquet"]


def save_mesh_parquet(mesh: Mesh, path: str | os.PathLike[str]) -> int:
    """Write ``mesh``; returns the number of measured pairs written."""
    pa = require("pyarrow", "measure")
    pq = require("pyarrow.parquet", "measure")
    i, j = np.nonzero(np.isfinite(mesh.rtt_ms))
    hosts = [
        {"id": h, "lat_deg": float(a), "lon_deg": float(o), "bad": bool(b)}
        for h, a, o, b in zip(mesh.ids, mesh.lat_deg, mesh.lon_deg, mesh.bad, strict=True)
    ]
    table = pa.table(
        {
            "src": pa.array([mesh.ids[k] for k in i], pa.string()),
            "dst": pa.array([mesh.ids[k] for k in j], pa.string()),
            "rtt_ms": pa.array(mesh.rtt_ms[i, j], pa.float64()),
        }
    ).replace_schema_metadata({"rttgeo.hosts": json.dumps(hosts), "rttgeo.name": mesh.name})
    pq.write_table(table, str(path))
    return len(i)


def load_mesh_parquet(path: str | os.PathLike[str]) -> Mesh:
    """The mesh written by :func:`save_mesh_parquet`; DatasetError naming the file if malformed."""
    pq = require("pyarrow.parquet", "measure")
    p = Path(path)
    try:
        table = pq.read_table(str(p))
    except Exception as exc:  # OSError, ArrowInvalid
        raise DatasetError(f"{p}: not a readable Parquet mesh ({exc})") from None
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    if "rttgeo.hosts" not in meta or not {"src", "dst", "rtt_ms"} <= set(table.column_names):
        raise DatasetError(f"{p}: not an rttgeo mesh (no rttgeo.hosts metadata or src/dst/rtt_ms "
                           "columns); make one with 'rttgeo atlas mesh'")
    hosts = json.loads(meta["rttgeo.hosts"])
    ids = tuple(str(h["id"]) for h in hosts)
    index = {h: k for k, h in enumerate(ids)}
    n = len(ids)
    rtt = np.full((n, n), np.nan)
    src = table.column("src").to_pylist()
    dst = table.column("dst").to_pylist()
    val = table.column("rtt_ms").to_pylist()
    for row, (a, b, v) in enumerate(zip(src, dst, val, strict=True), start=1):
        if a not in index or b not in index:
            raise DatasetError(f"{p}: row {row}: host {a if a not in index else b!r} not in the "
                               "hosts metadata")
        if v is None or not (math.isfinite(v) and v > 0):
            raise DatasetError(f"{p}: row {row}: rtt_ms {v!r} is not a positive finite RTT")
        rtt[index[a], index[b]] = v
    return Mesh(
        ids=ids,
        lat_deg=np.array([float(h["lat_deg"]) for h in hosts]),
        lon_deg=np.array([float(h["lon_deg"]) for h in hosts]),
        rtt_ms=rtt,
        bad=np.array([bool(h.get("bad", False)) for h in hosts]),
        name=meta.get("rttgeo.name", p.name),
        source=str(p),
        sha256=sha256_of([p]),
    )
