"""Strict readers of the text formats users hand to rttgeo (JSON, TOML, CSV), shared by every room.

Python's own parsers accept inputs that later blow up far from the file: a 400-digit JSON integer
(``OverflowError`` when it becomes a float), ``1e400`` (``inf``), a 5,000-digit integer
(``ValueError`` past Python's 4,300-digit limit), ``NaN`` / ``Infinity`` literals, 100,000 nested
brackets (``RecursionError``), a CSV field over 128 KiB (``_csv.Error``). These readers turn each of
them into the caller's :class:`~rttgeo.errors.InputError` subclass, naming the file and the line,
so a bad file gives one clean message and never a traceback.

Numbers accepted: integers of at most :data:`MAX_INT_DIGITS` digits, finite floats. Nesting:
at most :data:`MAX_DEPTH` levels of arrays / objects / tables.
"""

from __future__ import annotations

import csv
import json
import math
import re
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rttgeo.errors import InputError

__all__ = [
    "MAX_CSV_FIELD_CHARS",
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "check_values",
    "csv_errors",
    "decimal_float",
    "decimal_int",
    "loads_json",
    "loads_toml",
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

    def __init__(self, literal: str, why: str) -> None:
        super().__init__(why)
        self.literal = literal
        self.why = why


def _line_of(text: str, literal: str) -> int | None:
    i = text.find(literal)
    return None if i < 0 else text.count("\n", 0, i) + 1


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
    text: str | bytes, *, where: str, error: type[InputError] = InputError
) -> Any:
    """Parse JSON strictly (see the module doc); any fault raises ``error(where=file:line)``."""
    text = _text(text, where, error)
    try:
        data = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except _Bad as exc:
        line = _line_of(text, exc.literal)
        raise error(exc.why, where=f"{where}:{line}" if line else where) from None
    except json.JSONDecodeError as exc:
        raise error(f"invalid JSON: {exc.msg} (column {exc.colno})",
                    where=f"{where}:{exc.lineno}") from None
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
    """Turn :class:`csv.Error` (a field over 128 KiB, a NUL byte, a stray quote) raised while
    reading ``reader`` into ``error`` naming ``where`` and the reader's current line."""
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
