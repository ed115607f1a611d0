"""Any mesh, in a simple documented format: a folder with a hosts CSV and a long-form pairs file.

::

    mymesh/hosts.csv        id,lat_deg,lon_deg[,label][,bad]
    mymesh/pairs.csv        a,b,rtt_ms           (or pairs.parquet with the same three columns)

- ``hosts.csv``: one row per host, at least :data:`MIN_HOSTS` (3: leave-one-out then keeps two
  landmarks and their pair). ``id`` any non-empty text, unique; ``lat_deg`` in [-90, 90] and
  ``lon_deg`` in [-180, 180], plain decimal numbers; ``label`` optional free text (a city, say);
  ``bad`` optional, ``true`` for a host whose stated position is known to be wrong (it is then
  never an evaluation target; ``rttgeo mesh check`` finds such hosts). Nothing else. Every host
  is in at least one pair (a host with no RTT to any other can be neither target nor landmark).
- ``pairs.csv`` (or ``pairs.parquet``): one row per measurement, at least one, the minimum RTT in
  ms from host ``a`` to host ``b``, in (0, :data:`~rttgeo.units.MAX_MEASURED_RTT_MS`] ms (60,000,
  as in samples files). Several rows of one ordered pair keep the smallest; both directions may be
  given (estimators use the smaller of the two). A pair not listed is not measured. ``a`` and
  ``b`` must be hosts of ``hosts.csv``, and differ. In Parquet, ``rtt_ms`` is an integer,
  floating-point or decimal column (not text, boolean, a list or a time).

Every problem is an :class:`~rttgeo.errors.InputError` (exit code 2) naming the file and line (the
row, for Parquet) and the field: a UTF-8 byte-order mark is accepted, a column named twice, a row
with too few or too many fields, a NUL byte, a number written any other way than plain decimal
digits are not; nor is a ``hosts.csv`` or pairs file that is not a regular file (a directory, a
FIFO). A file or folder the operating system will not let rttgeo read is an InputError too
(``cannot read: Permission denied``), as for samples files and catalogs.
"""

from __future__ import annotations

import csv
import math
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rttgeo.datasets.bundle import sha256_of
from rttgeo.errors import InputError, require
from rttgeo.models import Mesh
from rttgeo.textformats import NUL_MESSAGE, csv_errors, decimal_float
from rttgeo.units import MAX_MEASURED_RTT_MS

__all__ = ["HOSTS_FILE", "MIN_HOSTS", "PAIRS_CSV", "PAIRS_PARQUET", "is_mesh_dir", "load_mesh_dir",
           "save_mesh_dir"]

HOSTS_FILE = "hosts.csv"
PAIRS_CSV = "pairs.csv"
PAIRS_PARQUET = "pairs.parquet"
#: Fewest hosts of a mesh: leave-one-out evaluation then keeps two landmarks and their pair.
MIN_HOSTS = 3

_HOST_COLUMNS = ("id", "lat_deg", "lon_deg", "label", "bad")
_PAIR_COLUMNS = ("a", "b", "rtt_ms")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no", ""}


def _unreadable(exc: OSError, where: Path) -> InputError:
    """The error for a file or folder the operating system will not let us read (exit code 2, as
    the samples and catalog readers)."""
    return InputError(f"cannot read: {exc.strerror or exc}", where=str(where))


def _mode(path: Path) -> int | None:
    """``st_mode`` of ``path`` (through symlinks), None when nothing is there."""
    try:
        return path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except PermissionError as exc:  # stat needs only search permission on the folders above
        raise _unreadable(exc, path.parent) from None
    except OSError as exc:  # a symlink loop, a name too long
        raise _unreadable(exc, path) from None


def _require_file(path: Path, mode: int | None) -> None:
    if mode is not None and not stat.S_ISREG(mode):
        what = ("a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
                else "a socket or device")
        raise InputError(f"not a regular file ({what})", where=str(path))


def is_mesh_dir(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder holding a mesh in this format (a ``hosts.csv`` of any kind, at
    least: :func:`load_mesh_dir` says what is wrong with it); InputError when the OS refuses to
    look into the folder."""
    return _mode(Path(path) / HOSTS_FILE) is not None


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
                    if "\x00" in "".join(raw):
                        raise InputError(_NUL, where=f"{path}:1")
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
                        where = f"{path}:{reader.line_num}"
                        if "\x00" in "".join(fields):
                            k = next(k for k, f in enumerate(fields) if "\x00" in f)
                            raise InputError(_NUL, where=where,
                                             field=header[k] if k < len(header) else None)
                        if not fields or all(not f.strip() for f in fields):
                            continue
                        if len(fields) != len(header):
                            raise InputError(f"{len(fields)} fields where the header has "
                                             f"{len(header)}", where=where)
                        yield where, {c: f.strip() for c, f in zip(header, fields, strict=True)}
                except UnicodeDecodeError as exc:
                    raise InputError(f"not UTF-8 text ({exc.reason})",
                                     where=f"{path}:{reader.line_num + 1}") from None
    except OSError as exc:
        raise _unreadable(exc, path) from None


_NUL = NUL_MESSAGE


def _number(text: str, where: str, field: str, lo: float, hi: float) -> float:
    try:
        v = decimal_float(text)
    except ValueError as exc:
        raise InputError(f"{exc} (plain decimal digits, e.g. 48.8566)", where=where,
                         field=field) from None
    if not lo <= v <= hi:
        raise InputError(f"{text[:40]!r} is outside [{lo:g}, {hi:g}]", where=where, field=field)
    return v


def _read_hosts(
    path: Path,
) -> tuple[list[str], list[float], list[float], list[str], list[bool], list[str]]:
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
    n = len(ids)
    if n < MIN_HOSTS:
        raise InputError(f"{n} host{'' if n == 1 else 's'}: a mesh needs at least {MIN_HOSTS}",
                         where=str(path))
    return ids, lat, lon, labels, bad, list(seen.values())


def _rtt(value: Any, where: str) -> float:
    """An RTT in (0, MAX_MEASURED_RTT_MS] ms, the bound of samples files (``rtt_ms_field``):
    ``value`` is the text of a CSV field or a number (or None) from a Parquet number column."""
    if isinstance(value, str):
        shown = repr(value[:40])
        try:
            v = decimal_float(value)
        except ValueError as exc:
            if "overflows" not in str(exc):
                raise InputError(f"{exc} (plain decimal digits, e.g. 12.5)", where=where,
                                 field="rtt_ms") from None
            v = math.inf
    else:
        shown = "null" if value is None else str(value)
        v = math.nan if value is None else float(value)
    if not 0 < v <= MAX_MEASURED_RTT_MS:  # NaN too
        raise InputError(f"{shown} is not an RTT in (0, {MAX_MEASURED_RTT_MS:g}] ms (an unmeasured "
                         "pair is left out, never 0, negative or NaN)", where=where, field="rtt_ms")
    return v


def _pair(index: dict[str, int], a: Any, b: Any, rtt: Any, where: str) -> tuple[int, int, float]:
    for field, h in (("a", a), ("b", b)):
        if h not in index:
            raise InputError(f"host {str(h)[:40]!r} is not in {HOSTS_FILE}", where=where, field=field)
    if a == b:
        raise InputError(f"a pair of host {a!r} with itself", where=where, field="b")
    return index[a], index[b], _rtt(rtt, where)


def _read_pairs_csv(path: Path, index: dict[str, int], rtt: np.ndarray) -> None:
    for where, row in _rows(path, _PAIR_COLUMNS, _PAIR_COLUMNS):
        i, j, v = _pair(index, row["a"], row["b"], row["rtt_ms"], where)
        rtt[i, j] = np.fmin(rtt[i, j], v)


def _read_pairs_parquet(path: Path, index: dict[str, int], rtt: np.ndarray) -> None:
    pa = require("pyarrow", "measure")
    pq = require("pyarrow.parquet", "measure")
    try:
        path.open("rb").close()  # the OS's refusal in its own words (pyarrow's wraps it)
    except OSError as exc:
        raise _unreadable(exc, path) from None
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
    kind = table.schema.field("rtt_ms").type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)):
        raise InputError(f"rtt_ms must be a number column: integer, floating point or decimal "
                         f"(got {kind})", where=str(path), field="rtt_ms")
    cols = [table.column(c).to_pylist() for c in _PAIR_COLUMNS]
    for k, (a, b, v) in enumerate(zip(*cols, strict=True), start=1):
        i, j, x = _pair(index, str(a) if a is not None else a, str(b) if b is not None else b, v,
                        f"{path}: row {k}")
        rtt[i, j] = np.fmin(rtt[i, j], x)


def load_mesh_dir(path: str | os.PathLike[str], *, name: str | None = None) -> Mesh:
    """The mesh in folder ``path`` (module docstring); InputError naming file, line and field."""
    folder = Path(path)
    hosts = folder / HOSTS_FILE
    hosts_mode = _mode(hosts)
    if hosts_mode is None:
        raise InputError(f"no {HOSTS_FILE} in this folder (a mesh folder holds {HOSTS_FILE} and "
                         f"{PAIRS_CSV} or {PAIRS_PARQUET})", where=str(folder))
    _require_file(hosts, hosts_mode)
    pairs_csv, pairs_pq = folder / PAIRS_CSV, folder / PAIRS_PARQUET
    csv_mode, pq_mode = _mode(pairs_csv), _mode(pairs_pq)
    if csv_mode is not None and pq_mode is not None:
        raise InputError(f"both {PAIRS_CSV} and {PAIRS_PARQUET}: keep one", where=str(folder))
    if csv_mode is None and pq_mode is None:
        raise InputError(f"no {PAIRS_CSV} or {PAIRS_PARQUET} beside {HOSTS_FILE}", where=str(folder))
    pairs = pairs_csv if csv_mode is not None else pairs_pq
    _require_file(pairs, csv_mode if csv_mode is not None else pq_mode)
    ids, lat, lon, labels, bad, lines = _read_hosts(hosts)
    index = {h: k for k, h in enumerate(ids)}
    n = len(ids)
    rtt = np.full((n, n), np.nan)
    if pairs is pairs_csv:
        _read_pairs_csv(pairs, index, rtt)
    else:
        _read_pairs_parquet(pairs, index, rtt)
    measured = np.isfinite(rtt)
    if not measured.any():
        raise InputError("no pair: a mesh needs RTTs between its hosts", where=str(pairs))
    alone = np.flatnonzero(~(measured.any(axis=0) | measured.any(axis=1)))
    if alone.size:
        k = int(alone[0])
        more = f" ({alone.size} hosts have none; this is the first)" if alone.size > 1 else ""
        raise InputError(f"host {ids[k]!r} has no RTT to any other host in {pairs.name}{more}: "
                         "measure it or leave it out", where=lines[k], field="id")
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
