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

from rttgeo.datasets.bundle import BUNDLED, sha256_of, write_npz
from rttgeo.errors import DatasetError, InputError
from rttgeo.models import Mesh

__all__ = ["WONDERPROXY_BAD_IDS", "dataset_dir", "dataset_files", "load", "load_ripe_atlas",
           "load_wonderproxy"]

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
        source=str(folder),
        sha256=sha256_of([servers, pings]),
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
        ids = tuple(str(x) for x in z["ids"])
        return Mesh(
            ids=ids,
            lat_deg=z["lat_deg"].astype(float),
            lon_deg=z["lon_deg"].astype(float),
            rtt_ms=z["rtt_ms"].astype(float),
            bad=np.array([h in WONDERPROXY_BAD_IDS for h in ids]),
            name=WONDERPROXY,
            labels=tuple(str(x) for x in z["labels"]),
            source=BUNDLED,
            sha256=sha256_of(data),
        )


def write_bundled_wonderproxy(mesh: Mesh, path: str | os.PathLike[str]) -> int:
    """Write the bundled copy: every array exactly as read from the raw files (RTTs as float64, so
    the bundled copy gives the same figures to the last bit), reproducibly; returns its size."""
    return write_npz(
        path,
        {
            "ids": np.array(mesh.ids),
            "lat_deg": mesh.lat_deg.astype(np.float64),
            "lon_deg": mesh.lon_deg.astype(np.float64),
            "labels": np.array(mesh.labels),
            "rtt_ms": mesh.rtt_ms.astype(np.float64),
        },
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
        source=str(file),
        sha256=sha256_of([file]),
    )


def dataset_files(name: str | os.PathLike[str]) -> list[Path]:
    """The files :func:`load` reads for a path: the file itself, or a folder's mesh files (the
    generic format's or WonderProxy's) that exist; none for a dataset name or an unreadable path.
    So that a command never writes its output over its own data."""
    from rttgeo.datasets.meshdir import HOSTS_FILE, PAIRS_CSV, PAIRS_PARQUET

    path = Path(name)
    try:
        if path.is_file():
            return [path]
        if path.is_dir():
            names = (HOSTS_FILE, PAIRS_CSV, PAIRS_PARQUET, _SERVERS, _PINGS)
            return [path / n for n in names if (path / n).is_file()]
    except OSError:  # a folder that may not be searched: the loader says so
        pass
    return []


def load(name: str | os.PathLike[str]) -> Mesh:
    """Load a dataset by name or path.

    - ``wonderproxy-2020`` (alias ``wonderproxy``): the raw files when found (see
      :func:`dataset_dir`), else the copy bundled with the package; ``wonderproxy-2020-bundled``:
      always the bundled copy (it equals the raw files exactly). ``mesh.source`` says which.
    - ``ripe-atlas-2023``: RIPE Atlas anchors (coordinates only).
    - a folder in the generic mesh format (``hosts.csv`` and ``pairs.csv`` or ``pairs.parquet``,
      :mod:`rttgeo.datasets.meshdir`), or a folder holding the WonderProxy files;
    - a ``.parquet`` mesh written by ``rttgeo atlas mesh`` (:mod:`rttgeo.datasets.meshfile`).

    An unknown name or a path that holds none of these raises InputError saying what is accepted.
    """
    from rttgeo.datasets.meshdir import is_mesh_dir, load_mesh_dir

    text = os.fspath(name)
    key = text.lower()
    if key in ("wonderproxy", WONDERPROXY):
        return load_wonderproxy()
    if key in (f"{WONDERPROXY}-bundled", "wonderproxy-bundled"):
        return load_wonderproxy(bundled=True)
    if key in ("ripe-atlas", RIPE_ATLAS, "ripe-atlas-2023-anchors"):
        return load_ripe_atlas()
    path = Path(text)
    try:
        is_dir = path.is_dir()
    except OSError as exc:  # Python 3.11 raises when a folder on the way may not be searched
        raise InputError(f"cannot read: {exc.strerror}", where=text, field="dataset") from None
    if is_dir:
        if is_mesh_dir(path):
            return load_mesh_dir(path)
        if (path / _SERVERS).is_file() and (path / _PINGS).is_file():
            return load_wonderproxy(path)
        raise InputError(
            "this folder holds no mesh: expected hosts.csv with pairs.csv or pairs.parquet (the "
            "generic format, docs/estimation.md), or the WonderProxy 2020 files",
            where=text, field="dataset",
        )
    if key.endswith(".parquet") and path.is_file():
        from rttgeo.datasets.meshfile import load_mesh_parquet

        return load_mesh_parquet(path)
    raise InputError(
        f"unknown dataset {text!r}: use wonderproxy-2020 (or wonderproxy-2020-bundled), "
        "ripe-atlas-2023, a mesh folder (hosts.csv + pairs.csv or pairs.parquet), a WonderProxy "
        "folder, or an rttgeo .parquet mesh",
        field="dataset",
    )
