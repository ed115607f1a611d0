"""Any mesh, in a simple documented format: a folder with a hosts CSV and a long-form pairs file.

::

    mymesh/hosts.csv        id,lat_deg,lon_deg[,label][,bad]
    mymesh/pairs.csv        a,b,rtt_ms           (or pairs.parquet with the same three columns)

- ``hosts.csv``: one row per host. ``id`` any non-empty text, unique; ``lat_deg`` in [-90, 90] and
  ``lon_deg`` in [-180, 180], plain decimal numbers; ``label`` optional free text (a city, say);
  ``bad`` optional, ``true`` for a host whose stated position is known to be wrong (it is then
  never an evaluation target; ``rttgeo mesh check`` finds such hosts). Nothing else.
- ``pairs.csv`` (or ``pairs.parquet``): one row per measurement, the minimum RTT in ms from host
  ``a`` to host ``b`` (positive, finite). Several rows of one ordered pair keep the smallest; both
  directions may be given (estimators use the smaller of the two). A pair not listed is not
  measured. ``a`` and ``b`` must be hosts of ``hosts.csv``, and differ.

Every problem is an :class:`~rttgeo.errors.InputError` naming the file and line (the row, for
Parquet) and the field: a UTF-8 byte-order mark is accepted, a column named twice, a row with too
few or too many fields, a number written any other way than plain decimal digits are not.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rttgeo.datasets.bundle import sha256_of
from rttgeo.errors import InputError, require
from rttgeo.models import Mesh
from rttgeo.textformats import csv_errors, decimal_float

__all__ = ["HOSTS_FILE", "PAIRS_CSV", "PAIRS_PARQUET", "is_mesh_dir", "load_mesh_dir", "save_mesh_dir"]

HOSTS_FILE = "hosts.csv"
PAIRS_CSV = "pairs.csv"
PAIRS_PARQUET = "pairs.parquet"

_HOST_COLUMNS = ("id", "lat_deg", "lon_deg", "label", "bad")
_PAIR_COLUMNS = ("a", "b", "rtt_ms")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no", ""}


def is_mesh_dir(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder holding a mesh in this format (its hosts file, at least)."""
    return (Path(path) / HOSTS_FILE).is_file()


def _rows(path: Path, required: tuple[str, ...], allowed: tuple[str, ...]) -> Iterator[
    tuple[str, dict[str, str]]
]:
    """(``file:line``, row) of a strict CSV: header checked, every row the header's length."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            with csv_errors(reader, where=str(path)):
                try:
                    try:
                        raw = next(reader)
                    except StopIteration:
                        raise InputError("empty file: expected a header line",
                                         where=f"{path}:1") from None
                    header = [h.strip() for h in raw]
                    for k, col in enumerate(header):
                        if header.index(col) != k:
                            raise InputError(f"column named twice (columns {header.index(col) + 1} "
                                             f"and {k + 1})", where=f"{path}:1", field=col)
                        if col not in allowed:
                            raise InputError(
                                f"unknown column {col!r}: the columns are {', '.join(allowed)}",
                                where=f"{path}:1", field=col or None)
                    for need in required:
                        if need not in header:
                            raise InputError(f"missing column {need!r} (header: "
                                             f"{', '.join(header)})", where=f"{path}:1")
                    for fields in reader:
                        if not fields or all(not f.strip() for f in fields):
                            continue
                        where = f"{path}:{reader.line_num}"
                        if len(fields) != len(header):
                            raise InputError(f"{len(fields)} fields where the header has "
                                             f"{len(header)}", where=where)
                        yield where, {c: f.strip() for c, f in zip(header, fields, strict=True)}
                except UnicodeDecodeError as exc:
                    raise InputError(f"not UTF-8 text ({exc.reason})",
                                     where=f"{path}:{reader.line_num + 1}") from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", where=str(path)) from None


def _number(text: str, where: str, field: str, lo: float, hi: float) -> float:
    try:
        v = decimal_float(text)
    except ValueError as exc:
        raise InputError(f"{exc} (plain decimal digits, e.g. 48.8566)", where=where,
                         field=field) from None
    if not lo <= v <= hi:
        raise InputError(f"{text[:40]!r} is outside [{lo:g}, {hi:g}]", where=where, field=field)
    return v


def _read_hosts(path: Path) -> tuple[list[str], list[float], list[float], list[str], list[bool]]:
    ids: list[str] = []
    lat: list[float] = []
    lon: list[float] = []
    labels: list[str] = []
    bad: list[bool] = []
    seen: dict[str, str] = {}
    for where, row in _rows(path, ("id", "lat_deg", "lon_deg"), _HOST_COLUMNS):
        hid = row["id"]
        if not hid:
            raise InputError("empty host id", where=where, field="id")
        if hid in seen:
            raise InputError(f"host {hid!r} listed twice (first at {seen[hid]})", where=where,
                             field="id")
        seen[hid] = where
        flag = row.get("bad", "").lower()
        if flag not in _TRUE | _FALSE:
            raise InputError(f"{row['bad'][:40]!r} is not true or false", where=where, field="bad")
        ids.append(hid)
        lat.append(_number(row["lat_deg"], where, "lat_deg", -90.0, 90.0))
        lon.append(_number(row["lon_deg"], where, "lon_deg", -180.0, 180.0))
        labels.append(row.get("label", ""))
        bad.append(flag in _TRUE)
    if not ids:
        raise InputError("no host", where=str(path))
    return ids, lat, lon, labels, bad


def _pair(index: dict[str, int], a: Any, b: Any, rtt: Any, where: str) -> tuple[int, int, float]:
    for field, h in (("a", a), ("b", b)):
        if h not in index:
            raise InputError(f"host {str(h)[:40]!r} is not in {HOSTS_FILE}", where=where, field=field)
    if a == b:
        raise InputError(f"a pair of host {a!r} with itself", where=where, field="b")
    if isinstance(rtt, str):
        try:
            v = decimal_float(rtt)
        except ValueError as exc:
            raise InputError(f"{exc} (plain decimal digits, e.g. 12.5)", where=where,
                             field="rtt_ms") from None
    else:
        v = float("nan") if rtt is None else float(rtt)
    if not (math.isfinite(v) and v > 0):
        raise InputError(f"{rtt!r} is not a positive RTT in ms (leave an unmeasured pair out)",
                         where=where, field="rtt_ms")
    return index[a], index[b], v


def _read_pairs_csv(path: Path, index: dict[str, int], rtt: np.ndarray) -> None:
    for where, row in _rows(path, _PAIR_COLUMNS, _PAIR_COLUMNS):
        i, j, v = _pair(index, row["a"], row["b"], row["rtt_ms"], where)
        rtt[i, j] = np.fmin(rtt[i, j], v)


def _read_pairs_parquet(path: Path, index: dict[str, int], rtt: np.ndarray) -> None:
    pq = require("pyarrow.parquet", "measure")
    try:
        table = pq.read_table(str(path))
    except OSError as exc:
        raise InputError(f"cannot read: {exc}", where=str(path)) from None
    except Exception as exc:  # pyarrow.ArrowInvalid and kin: not a Parquet file
        raise InputError(f"not a readable Parquet file ({exc})", where=str(path)) from None
    missing = [c for c in _PAIR_COLUMNS if c not in table.column_names]
    extra = [c for c in table.column_names if c not in _PAIR_COLUMNS]
    if missing or extra:
        raise InputError(f"the columns must be {', '.join(_PAIR_COLUMNS)} (missing: "
                         f"{', '.join(missing) or 'none'}; unknown: {', '.join(extra) or 'none'})",
                         where=str(path))
    cols = [table.column(c).to_pylist() for c in _PAIR_COLUMNS]
    for k, (a, b, v) in enumerate(zip(*cols, strict=True), start=1):
        if isinstance(v, str):
            raise InputError("rtt_ms must be a number column, not text", where=f"{path}: row {k}",
                             field="rtt_ms")
        i, j, x = _pair(index, str(a) if a is not None else a, str(b) if b is not None else b, v,
                        f"{path}: row {k}")
        rtt[i, j] = np.fmin(rtt[i, j], x)


def load_mesh_dir(path: str | os.PathLike[str], *, name: str | None = None) -> Mesh:
    """The mesh in folder ``path`` (module docstring); InputError naming file, line and field."""
    folder = Path(path)
    hosts = folder / HOSTS_FILE
    if not hosts.is_file():
        raise InputError(f"no {HOSTS_FILE} in this folder (a mesh folder holds {HOSTS_FILE} and "
                         f"{PAIRS_CSV} or {PAIRS_PARQUET})", where=str(folder))
    pairs_csv, pairs_pq = folder / PAIRS_CSV, folder / PAIRS_PARQUET
    if pairs_csv.is_file() and pairs_pq.is_file():
        raise InputError(f"both {PAIRS_CSV} and {PAIRS_PARQUET}: keep one", where=str(folder))
    if not (pairs_csv.is_file() or pairs_pq.is_file()):
        raise InputError(f"no {PAIRS_CSV} or {PAIRS_PARQUET} beside {HOSTS_FILE}", where=str(folder))
    ids, lat, lon, labels, bad = _read_hosts(hosts)
    index = {h: k for k, h in enumerate(ids)}
    n = len(ids)
    rtt = np.full((n, n), np.nan)
    pairs = pairs_csv if pairs_csv.is_file() else pairs_pq
    if pairs is pairs_csv:
        _read_pairs_csv(pairs, index, rtt)
    else:
        _read_pairs_parquet(pairs, index, rtt)
    return Mesh(
        ids=tuple(ids),
        lat_deg=np.array(lat),
        lon_deg=np.array(lon),
        rtt_ms=rtt,
        bad=np.array(bad, dtype=bool),
        name=name or folder.resolve().name,
        labels=tuple(labels) if any(labels) else (),
        source=str(folder),
        sha256=sha256_of([hosts, pairs]),
    )


def save_mesh_dir(mesh: Mesh, path: str | os.PathLike[str], *, parquet: bool = False) -> Path:
    """Write ``mesh`` in this format into folder ``path`` (created if needed); returns the folder.
    Coordinates and RTTs are written with ``repr`` (exact round trip)."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / HOSTS_FILE).open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["id", "lat_deg", "lon_deg", "label", "bad"])
        for k, h in enumerate(mesh.ids):
            w.writerow([h, repr(float(mesh.lat_deg[k])), repr(float(mesh.lon_deg[k])),
                        mesh.labels[k] if mesh.labels else "", "true" if mesh.bad[k] else "false"])
    i, j = np.nonzero(np.isfinite(mesh.rtt_ms))
    if parquet:
        pa = require("pyarrow", "measure")
        pq = require("pyarrow.parquet", "measure")
        pq.write_table(pa.table({
            "a": pa.array([mesh.ids[k] for k in i], pa.string()),
            "b": pa.array([mesh.ids[k] for k in j], pa.string()),
            "rtt_ms": pa.array(mesh.rtt_ms[i, j], pa.float64()),
        }), str(folder / PAIRS_PARQUET))
    else:
        with (folder / PAIRS_CSV).open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(list(_PAIR_COLUMNS))
            for a, b in zip(i, j, strict=True):
                w.writerow([mesh.ids[a], mesh.ids[b], repr(float(mesh.rtt_ms[a, b]))])
    return folder
