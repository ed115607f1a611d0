"""Dataset loaders. Paths: ``$RTTGEO_DATASETS``, else a ``shared/datasets`` folder found walking up
from the working directory and from this package, else (WonderProxy only) the bundled copy."""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import numpy as np

from rttgeo.errors import DatasetError
from rttgeo.models import Mesh

__all__ = ["WONDERPROXY_BAD_IDS", "dataset_dir", "load", "load_ripe_atlas", "load_wonderproxy"]

#: Servers whose coordinates are known to be wrong (many pairs faster than light in fibre):
#: 220 La Ceiba, Honduras (127 such pairs) and 204 Belfast (26). See the datasets README.
WONDERPROXY_BAD_IDS = ("204", "220")

WONDERPROXY = "wonderproxy-2020"
RIPE_ATLAS = "ripe-atlas-2023"
BUNDLED_WONDERPROXY = "wonderproxy-2020.npz"

_SERVERS = "servers-2020-07-19.csv"
_PINGS = "pings-2020-07-19-2020-07-20-grouped.csv"


def _candidates() -> Iterator[Path]:
    env = os.environ.get("RTTGEO_DATASETS")
    if env:
        yield Path(env)
    for start in (Path.cwd(), Path(__file__).resolve()):
        for parent in (start, *start.parents):
            yield parent / "shared" / "datasets"
            yield parent.parent / "shared" / "datasets"


def dataset_dir(name: str) -> Path | None:
    """Folder of dataset ``name`` (e.g. ``wonderproxy-2020``), or None when not found."""
    for base in _candidates():
        if (base / name).is_dir():
            return base / name
    return None


def _float(text: str, where: str, field: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise DatasetError(f"{where}: field {field!r}: not a number: {text!r}") from None


def _read_csv(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            for row in reader:
                yield reader.line_num, row
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror}") from exc


def load_wonderproxy(path: str | os.PathLike[str] | None = None, *, bundled: bool = False) -> Mesh:
    """WonderProxy 2020 mesh: servers with coordinates and the min RTT of each ordered pair.

    ``rtt_ms[i, j]`` is the grouped ``min`` from i to j (a typical daily minimum, see the README).
    Servers without coordinates (292-295) are dropped; :data:`WONDERPROXY_BAD_IDS` are kept but
    marked in ``mesh.bad``. ``path`` is the dataset folder; by default it is searched for, and the
    bundled copy is used when it is absent (or when ``bundled`` is true).
    """
    folder = Path(path) if path is not None else (None if bundled else dataset_dir(WONDERPROXY))
    if folder is None:
        return _load_bundled_wonderproxy()
    servers = folder / _SERVERS
    pings = folder / _PINGS
    ids: list[str] = []
    lat: list[float] = []
    lon: list[float] = []
    labels: list[str] = []
    for line, row in _read_csv(servers):
        where = f"{servers}:{line}"
        a, o = row.get("latitude", ""), row.get("longitude", "")
        if not a or not o:
            continue
        la, lo = _float(a, where, "latitude"), _float(o, where, "longitude")
        if not (math.isfinite(la) and math.isfinite(lo) and abs(la) <= 90 and abs(lo) <= 180):
            raise DatasetError(f"{where}: coordinates out of range: {la}, {lo}")
        ids.append(row["id"].strip())
        lat.append(la)
        lon.append(lo)
        labels.append(f"{row.get('title', '').strip()}, {row.get('country', '').strip()}")
    index = {h: i for i, h in enumerate(ids)}
    n = len(ids)
    rtt = np.full((n, n), np.nan)
    for line, row in _read_csv(pings):
        i, j = index.get(row["source"].strip()), index.get(row["destination"].strip())
        if i is None or j is None or i == j:
            continue
        v = _float(row["min"], f"{pings}:{line}", "min")
        if v > 0 and math.isfinite(v):
            rtt[i, j] = v
    return Mesh(
        ids=tuple(ids),
        lat_deg=np.array(lat),
        lon_deg=np.array(lon),
        rtt_ms=rtt,
        bad=np.array([h in WONDERPROXY_BAD_IDS for h in ids]),
        name=WONDERPROXY,
        labels=tuple(labels),
    )


def _load_bundled_wonderproxy() -> Mesh:
    try:
        data = resources.files("rttgeo.data").joinpath(BUNDLED_WONDERPROXY).read_bytes()
    except (FileNotFoundError, ModuleNotFoundError) as exc:
        raise DatasetError(
            "the WonderProxy dataset was not found (set RTTGEO_DATASETS to the folder holding "
            "wonderproxy-2020/) and the bundled copy is missing from this installation"
        ) from exc
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        rtt_us = z["rtt_us"].astype(float)
        rtt = np.where(rtt_us > 0, rtt_us / 1000.0, np.nan)
        ids = tuple(str(x) for x in z["ids"])
        return Mesh(
            ids=ids,
            lat_deg=z["lat_deg"].astype(float),
            lon_deg=z["lon_deg"].astype(float),
            rtt_ms=rtt,
            bad=np.array([h in WONDERPROXY_BAD_IDS for h in ids]),
            name=WONDERPROXY,
            labels=tuple(str(x) for x in z["labels"]),
        )


def write_bundled_wonderproxy(mesh: Mesh, path: str | os.PathLike[str]) -> None:
    """Write the compact bundled copy: RTTs as integer microseconds (exact for the 3-decimal data)."""
    rtt_us = np.where(np.isfinite(mesh.rtt_ms), np.round(mesh.rtt_ms * 1000.0), 0).astype(np.uint32)
    np.savez_compressed(
        path,
        ids=np.array(mesh.ids),
        lat_deg=mesh.lat_deg,
        lon_deg=mesh.lon_deg,
        labels=np.array(mesh.labels),
        rtt_us=rtt_us,
    )


def load_ripe_atlas(path: str | os.PathLike[str] | None = None, *, kind: str = "anchors") -> Mesh:
    """RIPE Atlas anchors (``kind="anchors"``) or probes, April 2023: coordinates only, RTTs all NaN.

    Host ids are ``probe_id``; labels hold ``ip`` (the address to probe). Rows without coordinates
    are dropped.
    """
    if kind not in ("anchors", "probes"):
        raise ValueError("kind must be 'anchors' or 'probes'")
    folder = Path(path) if path is not None else dataset_dir(RIPE_ATLAS)
    if folder is None:
        raise DatasetError(
            f"dataset {RIPE_ATLAS} not found: set RTTGEO_DATASETS to the folder holding it"
        )
    file = folder / f"{kind}.csv"
    ids: list[str] = []
    lat: list[float] = []
    lon: list[float] = []
    labels: list[str] = []
    seen: set[str] = set()
    for line, row in _read_csv(file):
        where = f"{file}:{line}"
        if not row.get("latitude") or not row.get("longitude"):
            continue
        la = _float(row["latitude"], where, "latitude")
        lo = _float(row["longitude"], where, "longitude")
        pid = row["probe_id"].strip()
        if pid in seen or not (abs(la) <= 90 and abs(lo) <= 180):
            continue
        seen.add(pid)
        ids.append(pid)
        lat.append(la)
        lon.append(lo)
        labels.append(row.get("ip", "").strip())
    n = len(ids)
    return Mesh(
        ids=tuple(ids),
        lat_deg=np.array(lat),
        lon_deg=np.array(lon),
        rtt_ms=np.full((n, n), np.nan),
        bad=np.zeros(n, dtype=bool),
        name=f"{RIPE_ATLAS}-{kind}",
        labels=tuple(labels),
    )


def load(name: str) -> Mesh:
    """Load a dataset by name: ``wonderproxy-2020`` (alias ``wonderproxy``), ``ripe-atlas-2023``,
    a path to a folder holding the WonderProxy files, or a mesh saved as ``.parquet``."""
    key = name.lower()
    if key in ("wonderproxy", WONDERPROXY):
        return load_wonderproxy()
    if key in ("ripe-atlas", RIPE_ATLAS, "ripe-atlas-2023-anchors"):
        return load_ripe_atlas()
    if Path(name).is_dir():
        return load_wonderproxy(name)
    if name.lower().endswith(".parquet") and Path(name).is_file():
        from rttgeo.datasets.meshfile import load_mesh_parquet

        return load_mesh_parquet(name)
    raise DatasetError(
        f"unknown dataset {name!r}: use wonderproxy-2020, ripe-atlas-2023, or a folder path"
    )
