"""Strict readers of the text formats users hand to rttgeo (JSON, TOML, CSV), shared by every room.

Python's own parsers accept inputs that later blow up far from the file: a 400-digit JSON integer
(``OverflowError`` when it becomes a float), ``1e400`` (``inf``), a 5,000-digit integer
(``ValueError`` past Python's 4,300-digit limit), ``NaN`` / ``Infinity`` literals, 100,000 nested
brackets (``RecursionError``), a CSV field over 128 KiB (``_csv.Error``). These readers turn each of
them into the caller's :class:`~rttgeo.errors.InputError` subclass, naming the file and the line,
so a bad file gives one clean message and never a traceback.

Numbers accepted: integers of at most :data:`MAX_INT_DIGITS` digits, finite floats. Nesting:
at most :data:`MAX_DEPTH` levels of arrays / objects / tables. A JSON object names each key once
(Python keeps the last of two, silently).
"""

from __future__ import annotations

import csv
import json
import math
import re
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rttgeo.errors import InputError
from rttgeo.units import MAX_MEASURED_RTT_MS

__all__ = [
    "MAX_CSV_FIELD_CHARS",
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "check_values",
    "csv_errors",
    "csv_header",
    "decimal_float",
    "decimal_int",
    "loads_json",
    "loads_toml",
    "rtt_ms_field",
    "unix_ns_field",
]

#: Longest integer literal accepted, in digits (2**63 has 19; nothing rttgeo reads needs more).
MAX_INT_DIGITS = 30
#: Deepest nesting of arrays / objects / tables accepted (rttgeo's formats need at most 4).
MAX_DEPTH = 64
#: Longest CSV field, characters: the :mod:`csv` module's default limit (128 KiB).
MAX_CSV_FIELD_CHARS = 131_072
_TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels of arrays / objects"


_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTEGER = re.compile(r"[+-]?[0-9]+")


def decimal_float(text: str) -> float:
    """A finite float from plain decimal text (``12``, ``-0.5``, ``1e3``); ValueError otherwise.

    Stricter than :func:`float`, which also takes ``5_0`` (as 50), ``inf``, ``nan``, ``0x`` forms
    and Unicode digits: a CSV field must mean one thing to every reader.
    """
    t = text.strip()
    if len(t) > 64 or not _DECIMAL.fullmatch(t):
        raise ValueError(f"not a plain decimal number: {text[:40]!r}")
    x = float(t)
    if not math.isfinite(x):
        raise ValueError(f"{text[:40]!r} overflows a 64-bit float")
    return x


def decimal_int(text: str) -> int:
    """An integer from plain decimal digits (optional sign, at most MAX_INT_DIGITS digits)."""
    t = text.strip()
    if len(t) > MAX_INT_DIGITS + 1 or not _INTEGER.fullmatch(t):
        raise ValueError(f"not a plain decimal integer: {text[:40]!r}")
    return int(t)


class _Bad(Exception):
    """A number the strict parser refuses; carries the literal to find its line."""

    def __init__(self, literal: str, why: str, nth: int = 1) -> None:
        super().__init__(why)
        self.literal = literal
        self.why = why
        self.nth = nth  # the literal's occurrence that is at fault


def _line_of(text: str, literal: str, nth: int = 1) -> int | None:
    """The line of the ``nth`` occurrence of ``literal`` in ``text``; None when ``nth`` is 0 (no
    way to tell which occurrence) or there are fewer."""
    if nth < 1:
        return None
    i = -1
    for _ in range(nth):
        i = text.find(literal, i + 1)
        if i < 0:
            return None
    return text.count("\n", 0, i) + 1


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            shown = json.dumps(key)
            # Which occurrence of the key is the second in this object cannot be told from the
            # text alone (the key may name fields of other objects before): no line.
            raise _Bad(shown, f"key {shown[:60]} given twice in one object", nth=0)
        out[key] = value
    return out


def _parse_int(s: str) -> int:
    digits = len(s.lstrip("+-"))
    if digits > MAX_INT_DIGITS:
        raise _Bad(s, f"a {digits}-digit integer is out of range (at most {MAX_INT_DIGITS} digits)")
    return int(s)


def _parse_float(s: str) -> float:
    x = float(s)
    if not math.isfinite(x):
        if not any(c.isdigit() for c in s):  # TOML's inf / nan
            raise _Bad(s, f"{s} is not a finite number")
        shown = s if len(s) <= 40 else s[:20] + "..." + s[-10:]
        raise _Bad(s, f"the number {shown} overflows a 64-bit float")
    return x


def _parse_constant(s: str) -> float:
    raise _Bad(s, f"{s} is not a JSON number (only finite numbers are accepted)")


def _text(text: str | bytes, where: str, error: type[InputError]) -> str:
    """Decoded text without a UTF-8 byte-order mark."""
    if isinstance(text, bytes | bytearray):
        try:
            return bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise error(f"not UTF-8 text ({exc.reason} at byte {exc.start})", where=where) from None
    return text[1:] if text.startswith("\ufeff") else text


def loads_json(
    text: str | bytes, *, where: str, error: type[InputError] = InputError, one_line: bool = False
) -> Any:
    """Parse JSON strictly (see the module doc); any fault raises ``error(where=file:line)``.

    ``one_line``: ``text`` is one line of a JSON-lines file and ``where`` already names that line
    (``file:12``), so no line number is added.
    """
    text = _text(text, where, error)

    def at(line: int | None) -> str:
        return where if one_line or not line else f"{where}:{line}"

    try:
        data = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
            object_pairs_hook=_unique_keys,
        )
    except _Bad as exc:
        raise error(exc.why, where=at(_line_of(text, exc.literal, exc.nth))) from None
    except json.JSONDecodeError as exc:
        raise error(f"not JSON: {exc.msg} (column {exc.colno})", where=at(exc.lineno)) from None
    except RecursionError:
        raise error(_TOO_DEEP, where=where) from None
    check_values(data, where=where, error=error)
    return data


def loads_toml(text: str | bytes, *, where: str, error: type[InputError] = InputError) -> Any:
    """Parse TOML strictly: as :func:`loads_json` (TOML's ``inf``/``nan`` and huge integers too)."""
    text = _text(text, where, error)
    try:
        data = tomllib.loads(text, parse_float=_parse_float)
    except _Bad as exc:
        line = _line_of(text, exc.literal)
        raise error(exc.why, where=f"{where}:{line}" if line else where) from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"not valid TOML: {exc}", where=where) from None
    except RecursionError:
        raise error(_TOO_DEEP, where=where) from None
    except ValueError as exc:  # e.g. an integer past Python's 4,300-digit limit
        raise error(f"not valid TOML: {exc}", where=where) from None
    check_values(data, where=where, error=error)
    return data


def check_values(data: Any, *, where: str, error: type[InputError] = InputError) -> None:
    """Walk parsed data (no recursion) and refuse nesting deeper than :data:`MAX_DEPTH`,
    non-finite floats and integers over :data:`MAX_INT_DIGITS` digits."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict | list) and depth >= MAX_DEPTH:
            raise error(_TOO_DEEP, where=where, field=path or None)
        if isinstance(value, dict):
            stack.extend((v, f"{path}.{k}" if path else str(k), depth + 1)
                         for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value))
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int):
            if abs(value) >= 10**MAX_INT_DIGITS:
                raise error(f"integer out of range (at most {MAX_INT_DIGITS} digits)",
                            where=where, field=path or None)
        elif isinstance(value, float) and not math.isfinite(value):
            raise error(f"{value} is not a finite number", where=where, field=path or None)


@contextmanager
def csv_errors(
    reader: Any, *, where: str, error: type[InputError] = InputError
) -> Iterator[None]:
    """Turn :class:`csv.Error` (a field over 128 KiB; a stray quote, for a ``strict`` reader) raised
    while reading ``reader`` into ``error`` naming ``where`` and the reader's current line. Since
    Python 3.11 the reader takes a NUL byte as any other character: readers refuse it with
    :func:`nul_free` (samples, catalogs, long-form files) or by checking the fields (meshes)."""
    try:
        yield
    except csv.Error as exc:
        # A DictReader's own line_num lags; its inner reader counts the line being read.
        line = getattr(getattr(reader, "reader", reader), "line_num", 0)
        msg = str(exc)
        if "field larger than field limit" in msg:
            msg = f"a field longer than {MAX_CSV_FIELD_CHARS} characters (the CSV field limit)"
        else:
            msg = f"malformed CSV: {msg}"
        raise error(msg, where=f"{where}:{line}" if line > 0 else where) from None


# -- samples files: the rules every reader of RTT samples shares ----------------------------------
def csv_header(
    raw: Sequence[str], *, where: str, required: Sequence[str], error: type[InputError] = InputError
) -> list[str]:
    """The stripped column names of a CSV header line, each named once, none empty, every one of
    ``required`` present; ``error`` naming ``where`` (the file's line 1) and the column."""
    header = [h.strip() for h in raw]
    for k, col in enumerate(header):
        if not col:
            raise error(f"column {k + 1} of the header has no name", where=where)
        if header.index(col) != k:
            raise error(f"column named twice (columns {header.index(col) + 1} and {k + 1})",
                        where=where, field=col)
    for need in required:
        if need not in header:
            raise error(f"missing column {need!r} (header: {', '.join(header) or 'none'})",
                        where=where)
    return header


#: What a NUL byte in a text file means.
NUL_MESSAGE = "a NUL byte: the file is corrupt (or not UTF-8 text)"


def nul_free(lines: Iterable[str], *, where: str, error: type[InputError] = InputError) -> Iterator[str]:
    """``lines`` (a text file's), refusing a NUL byte with ``error`` naming ``where:line``: since
    Python 3.11 the csv module reads one as any other character."""
    for n, line in enumerate(lines, start=1):
        if "\x00" in line:
            raise error(NUL_MESSAGE, where=f"{where}:{n}")
        yield line


def rtt_ms_field(text: str, *, where: str, error: type[InputError] = InputError) -> float | None:
    """An RTT field: None for a lost probe (empty), else a plain decimal in (0,
    :data:`~rttgeo.units.MAX_MEASURED_RTT_MS`] ms; ``error`` naming ``where`` and ``rtt_ms``."""
    text = text.strip()
    if text == "":
        return None
    try:
        v = decimal_float(text)
    except ValueError as exc:
        if "overflows" in str(exc):
            v = math.inf
        elif text.lower().lstrip("+-") in ("nan", "inf", "infinity"):
            v = math.nan
        else:
            raise error(f"not a number: {text[:40]!r} (plain decimal digits, e.g. 12.5)",
                        where=where, field="rtt_ms") from None
    if not 0 < v <= MAX_MEASURED_RTT_MS:
        raise error(
            f"{text[:40]!r} is not an RTT in (0, {MAX_MEASURED_RTT_MS:g}] ms (a lost probe is an "
            "empty field, never 0, negative or NaN)",
            where=where,
            field="rtt_ms",
        )
    return v


def unix_ns_field(
    text: str, *, where: str, field: str = "sent_unix_ns", error: type[InputError] = InputError
) -> int | None:
    """A time in Unix ns: None when empty, else a non-negative plain decimal integer."""
    text = text.strip()
    if text == "":
        return None
    try:
        value = decimal_int(text)
    except ValueError as exc:
        raise error(str(exc), where=where, field=field) from None
    if value < 0:
        raise error("must be >= 0", where=where, field=field)
    return value
