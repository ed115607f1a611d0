"""Read, validate and write landmark catalogs (CSV or JSON).

Format (DESIGN.md): columns ``id, lat_deg, lon_deg, address`` are required; ``port, protocols,
country, source`` are optional. ``protocols`` lists ``icmp``, ``tcp``, ``udp`` separated by ``;``,
``|``, ``,`` or spaces in CSV (a list in JSON); a catalog without the column (or an empty cell)
states no restriction, so the landmark may be probed with every protocol (TCP and UDP then use
the prober's port, or ``--port``, where the entry has none). A JSON catalog is a list of objects,
or an object with a ``landmarks`` list. Every problem raises :class:`rttgeo.errors.CatalogError`
naming the file, the line (CSV: physical line number, header = line 1; JSON: 1-based entry
number) and the field; :func:`check_catalog` collects every one instead of stopping at the first.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rttgeo.errors import CatalogError
from rttgeo.models import PROTOCOLS, Landmark
from rttgeo.textformats import csv_errors, decimal_float, decimal_int, loads_json, nul_free

__all__ = [
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "catalog_text",
    "check_catalog",
    "file_sha256",
    "landmark_record",
    "load_catalog",
    "parse_catalog_rows",
    "save_catalog",
]

REQUIRED_COLUMNS = ("id", "lat_deg", "lon_deg", "address")
OPTIONAL_COLUMNS = ("port", "protocols", "country", "source")
_SPLIT = re.compile(r"[;|,\s]+")


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of the file's bytes (recorded with each campaign)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def _float(value: Any, where: str, name: str, lo: float, hi: float) -> float:
    if isinstance(value, bool):
        raise CatalogError(f"expected a number, got {value!r}", where=where, field=name)
    try:
        x = decimal_float(value) if isinstance(value, str) else float(value)
    except (TypeError, ValueError, OverflowError):
        raise CatalogError(
            f"expected a finite decimal number, got {str(value)[:40]!r}", where=where, field=name
        ) from None
    if not math.isfinite(x):
        raise CatalogError(f"must be a finite number, got {value!r}", where=where, field=name)
    if not lo <= x <= hi:
        raise CatalogError(f"{x} is outside [{lo:g}, {hi:g}]", where=where, field=name)
    return x


def _port(value: Any, where: str) -> int | None:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if isinstance(value, bool):
        raise CatalogError(f"expected an integer port, got {value!r}", where=where, field="port")
    try:
        port = decimal_int(value) if isinstance(value, str) else int(value)
        if isinstance(value, float) and value != port:
            raise ValueError
    except (TypeError, ValueError):
        raise CatalogError(
            f"expected an integer port, got {value!r}", where=where, field="port"
        ) from None
    if not 1 <= port <= 65535:
        raise CatalogError(f"port {port} is outside [1, 65535]", where=where, field="port")
    return port


def _protocols(value: Any, where: str) -> tuple[str, ...] | None:
    """The listed protocols, or None when the entry states none (every protocol allowed)."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if isinstance(value, str):
        items = [p for p in _SPLIT.split(value.strip().lower()) if p]
    elif isinstance(value, Sequence):
        items = [str(p).strip().lower() for p in value]
    else:
        raise CatalogError(
            f"expected a list of protocols, got {value!r}", where=where, field="protocols"
        )
    bad = [p for p in items if p not in PROTOCOLS]
    if bad:
        raise CatalogError(
            f"unknown protocol(s) {', '.join(map(repr, bad))}; expected some of {PROTOCOLS}",
            where=where,
            field="protocols",
        )
    return tuple(dict.fromkeys(items))


def parse_catalog_rows(
    rows: Iterable[tuple[int, Mapping[str, Any] | CatalogError]],
    *,
    name: str,
    raw: list[tuple[str, Mapping[str, Any]]] | None = None,
    errors: list[CatalogError] | None = None,
) -> list[Landmark]:
    """Validate ``(line_number, row)`` pairs of file ``name`` into landmarks (see module doc).

    ``raw``, if given, receives ``(file:line, row)`` of each landmark, in order, so callers can
    read columns of their own (e.g. the signed catalog's ``public_key``). ``errors``, if given,
    receives the error of every bad row (which is skipped) instead of raising the first; a row may
    also be given as the CatalogError its reader found.
    """
    out: list[Landmark] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        try:
            if isinstance(row, CatalogError):
                raise row
            if raw is not None:
                raw.append((f"{name}:{line}", row))
            out.append(_landmark(row, f"{name}:{line}", line, seen))
        except CatalogError as exc:
            if errors is None:
                raise
            errors.append(exc)
    if not out and not errors:
        exc = CatalogError("the catalog has no landmark", where=name)
        if errors is None:
            raise exc
        errors.append(exc)
    return out


def _landmark(row: Mapping[str, Any], where: str, line: int, seen: dict[str, int]) -> Landmark:
    """One validated landmark; ``seen`` maps ids already defined to their line."""
    for col in REQUIRED_COLUMNS:
        if col not in row or row[col] is None:
            raise CatalogError("missing required field", where=where, field=col)
    lm_id = str(row["id"]).strip()
    if not lm_id:
        raise CatalogError("empty id", where=where, field="id")
    if lm_id in seen:
        raise CatalogError(
            f"duplicate id {lm_id!r} (first defined on line {seen[lm_id]})",
            where=where,
            field="id",
        )
    seen[lm_id] = line
    lat = _float(row["lat_deg"], where, "lat_deg", -90.0, 90.0)
    lon = _float(row["lon_deg"], where, "lon_deg", -180.0, 180.0)
    address = str(row["address"]).strip()
    if any(c.isspace() for c in address):
        raise CatalogError(f"address {address!r} contains spaces", where=where, field="address")
    port = _port(row.get("port"), where)
    protocols = _protocols(row.get("protocols"), where)
    if protocols is None:
        protocols = PROTOCOLS
    elif port is None and any(p in ("tcp", "udp") for p in protocols):
        raise CatalogError(f"protocols {protocols} need a port", where=where, field="port")
    return Landmark(
        id=lm_id,
        lat_deg=lat,
        lon_deg=lon,
        address=address,
        port=port,
        protocols=protocols,
        country=str(row.get("country") or "").strip(),
        source=str(row.get("source") or "").strip(),
    )


_Raw = list[tuple[str, Mapping[str, Any]]]
_Errors = list[CatalogError]


def _read_csv(
    text: str, name: str, raw: _Raw | None = None, errors: _Errors | None = None
) -> list[Landmark]:
    reader = csv.DictReader(nul_free(io.StringIO(text), where=name, error=CatalogError))
    with csv_errors(reader, where=name, error=CatalogError):
        return _read_csv_rows(reader, name, raw, errors)


def _read_csv_rows(
    reader: csv.DictReader[str], name: str, raw: _Raw | None, errors: _Errors | None
) -> list[Landmark]:
    header = reader.fieldnames
    if not header:
        raise CatalogError("empty file: expected a header line", where=f"{name}:1")
    header = [h.strip() for h in header]
    reader.fieldnames = header
    for col in REQUIRED_COLUMNS:
        if col not in header:
            raise CatalogError(
                f"missing column (header has {', '.join(header)})", where=f"{name}:1", field=col
            )
    if len(set(header)) != len(header):
        raise CatalogError("duplicate column name in header", where=f"{name}:1")

    def rows() -> Iterable[tuple[int, Mapping[str, Any] | CatalogError]]:
        for row in reader:
            line = reader.line_num
            if None in row:
                yield line, CatalogError("more fields than the header has", where=f"{name}:{line}")
                continue
            if all((v or "").strip() == "" for v in row.values()):
                continue  # blank line
            missing = [c for c in REQUIRED_COLUMNS if row.get(c) is None]
            if missing:
                yield line, CatalogError(
                    "fewer fields than the header has", where=f"{name}:{line}", field=missing[0]
                )
                continue
            yield line, row

    return parse_catalog_rows(rows(), name=name, raw=raw, errors=errors)


def _read_json(
    text: str, name: str, raw: _Raw | None = None, errors: _Errors | None = None
) -> list[Landmark]:
    data = loads_json(text, where=name, error=CatalogError)
    if isinstance(data, Mapping):
        data = data.get("landmarks")
    if not isinstance(data, list):
        raise CatalogError("expected a list of landmarks (or {'landmarks': [...]})", where=name)

    def rows() -> Iterable[tuple[int, Mapping[str, Any] | CatalogError]]:
        for i, entry in enumerate(data, start=1):
            if not isinstance(entry, Mapping):
                yield i, CatalogError(f"entry {i} is not an object", where=f"{name}:{i}")
            else:
                yield i, entry

    return parse_catalog_rows(rows(), name=name, raw=raw, errors=errors)


def load_catalog(
    path: str | Path, *, raw: _Raw | None = None, errors: _Errors | None = None
) -> list[Landmark]:
    """Landmarks of the CSV or JSON (by ``.json`` suffix) catalog at ``path``, validated.

    Raises :class:`CatalogError` (file, line, field) for a malformed or unreadable file. ``raw``
    and ``errors`` (collect bad rows instead of raising) as in :func:`parse_catalog_rows`.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CatalogError("no such file", where=str(p)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"cannot read the catalog: {exc}", where=str(p)) from None
    if p.suffix.lower() == ".json":
        return _read_json(text, str(p), raw, errors)
    return _read_csv(text, str(p), raw, errors)


def check_catalog(path: str | Path) -> tuple[list[Landmark], list[CatalogError]]:
    """Every problem of a catalog file, not only the first: ``(valid landmarks, errors)``.

    Each bad row gives one error (its first problem) and is left out; a problem of the whole file
    (unreadable, no header, a missing column, invalid JSON) is the only error.
    """
    errors: list[CatalogError] = []
    try:
        landmarks = load_catalog(path, errors=errors)
    except CatalogError as exc:
        return [], [exc]
    return landmarks, errors


def landmark_record(lm: Landmark) -> dict[str, Any]:
    """One landmark as a JSON catalog record (the catalog's columns, protocols as a list)."""
    return {
        "id": lm.id,
        "lat_deg": lm.lat_deg,
        "lon_deg": lm.lon_deg,
        "address": lm.address,
        "port": lm.port,
        "protocols": list(lm.protocols),
        "country": lm.country,
        "source": lm.source,
    }


def catalog_text(landmarks: Sequence[Landmark], *, json_format: bool = False) -> str:
    """``landmarks`` as the text of a CSV (or JSON) catalog that :func:`load_catalog` reads."""
    records = [landmark_record(lm) for lm in landmarks]
    if json_format:
        return json.dumps({"landmarks": records}, indent=1) + "\n"
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=REQUIRED_COLUMNS + OPTIONAL_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in records:
        r["port"] = "" if r["port"] is None else r["port"]
        r["protocols"] = ";".join(r["protocols"])
        w.writerow(r)
    return buf.getvalue()


def save_catalog(landmarks: Sequence[Landmark], path: str | Path) -> Path:
    """Write ``landmarks`` as a CSV (or JSON, by suffix) catalog that :func:`load_catalog` reads."""
    p = Path(path)
    with open(p, "w", newline="", encoding="utf-8") as fh:
        fh.write(catalog_text(landmarks, json_format=p.suffix.lower() == ".json"))
    return p
