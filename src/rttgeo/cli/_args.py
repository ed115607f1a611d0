"""Argument types and options shared by the ``rttgeo`` commands.

Every numeric option is checked at parse time (finite, in range), so a bad value is a usage error
(exit 2) naming the option before anything runs. Output paths are checked at parse time too: the
parent directory must exist (rttgeo never creates directories), the path must not be a directory,
and ``-`` means standard output where a command allows it. So nothing is probed, computed or
written when an output could not be written.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "STDOUT",
    "OutputPath",
    "add_convention",
    "check_outputs",
    "finite_float",
    "int_range",
    "ip_address",
    "lab_id",
    "name_text",
    "output_path",
    "same_file",
    "store_path",
    "utf8_text",
]

#: The output path that means standard output.
STDOUT = "-"


class OutputPath(str):
    """A file name that :func:`output_path` accepted: a file the command will write."""

    __slots__ = ()


def check_outputs(args: argparse.Namespace) -> None:
    """No command writes over a file it reads, or two of its outputs over each other: every
    :class:`OutputPath` of ``args`` must differ from the others and from every existing file that
    another argument names (its inputs). InputError naming the option, before anything runs."""
    from rttgeo.errors import InputError

    outputs = [(k, v) for k, v in vars(args).items() if isinstance(v, OutputPath)]
    if not outputs:
        return
    inputs: list[str] = []
    for v in vars(args).values():
        for item in v if isinstance(v, list | tuple) else [v]:
            if isinstance(item, str | os.PathLike) and not isinstance(item, OutputPath):
                text = os.fspath(item)
                if text and text != STDOUT and os.path.isfile(text):
                    inputs.append(text)
    seen: list[tuple[str, str]] = []
    for k, v in outputs:
        opt = "--" + k.replace("_", "-")
        if any(same_file(v, text) for text in inputs):
            raise InputError(f"{v} is a file this command reads: name another file", field=opt)
        for k2, v2 in seen:
            if same_file(v, v2):
                raise InputError(f"{v} is also given to --{k2.replace('_', '-')}: name another "
                                 "file", field=opt)
        seen.append((k, v))


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether two names are one file: the same path once links are resolved, or (both existing)
    the same inode, as a hard link is."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):  # one does not exist (yet)
        return False


#: Image files the figures can be written to (by suffix): raster PNG, or vector SVG / PDF.
FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


_INFINITY = ("inf", "+inf", "infinity", "+infinity")


def _number(text: str, kind: Callable[[str], Any]) -> Any:
    """Plain decimal digits only (``rttgeo.textformats``): ``5_0``, ``0x10``, Unicode digits and
    ``nan`` are refused; ``inf`` passes as a float for the caller to judge."""
    from rttgeo.textformats import decimal_float, decimal_int

    try:
        if kind is int:
            return decimal_int(text)
        if text.strip().lower() in _INFINITY:
            return math.inf
        return decimal_float(text)
    except (TypeError, ValueError):
        what = "an integer" if kind is int else "a finite number"
        raise argparse.ArgumentTypeError(f"expected {what}, got {text[:40]!r}") from None


def finite_float(
    lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, allow_inf: bool = False
) -> Callable[[str], float]:
    """An argparse type: a finite float in [lo, hi] (``lo_open``: > lo); ``allow_inf`` admits inf."""

    def parse(text: str) -> float:
        x = _number(text, float)
        if math.isnan(x) or (math.isinf(x) and not (allow_inf and x > 0)):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if lo is not None and (x <= lo if lo_open else x < lo):
            raise argparse.ArgumentTypeError(f"must be {'>' if lo_open else '>='} {lo:g}, got {text}")
        if hi is not None and x > hi:
            raise argparse.ArgumentTypeError(f"must be <= {hi:g}, got {text}")
        return x

    parse.__name__ = "number"
    return parse


def int_range(lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in [lo, hi]."""

    def parse(text: str) -> int:
        x = _number(text, int)
        if lo is not None and x < lo:
            raise argparse.ArgumentTypeError(f"must be >= {lo}, got {text}")
        if hi is not None and x > hi:
            raise argparse.ArgumentTypeError(f"must be <= {hi}, got {text}")
        return x

    parse.__name__ = "integer"
    return parse


def utf8_text(*, max_bytes: int, allow_empty: bool = True) -> Callable[[str], str]:
    """An argparse type: printable text that is valid UTF-8 (argv bytes that are not arrive as
    surrogate escapes and are refused) of at most ``max_bytes`` bytes."""

    def parse(text: str) -> str:
        try:
            raw = text.encode("utf-8")
        except UnicodeEncodeError:
            raise argparse.ArgumentTypeError(
                f"not valid UTF-8: {os.fsencode(text)[:40]!r}"
            ) from None
        if not text and not allow_empty:
            raise argparse.ArgumentTypeError("must not be empty")
        if not text.isprintable():
            raise argparse.ArgumentTypeError(f"control characters are not allowed: {text[:40]!r}")
        if len(raw) > max_bytes:
            raise argparse.ArgumentTypeError(f"at most {max_bytes} bytes of UTF-8, got {len(raw)}")
        return text

    parse.__name__ = "text"
    return parse


def ip_address(*, allow_empty: bool = True) -> Callable[[str], str]:
    """An argparse type: an IPv4 or IPv6 address, returned normalised (``""`` if allowed)."""
    import ipaddress

    def parse(text: str) -> str:
        if not text and allow_empty:
            return text
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"not an IP address: {text[:60]!r} (e.g. 0.0.0.0, ::, 192.0.2.7)"
            ) from None

    parse.__name__ = "address"
    return parse


def name_text(*, max_len: int = 64, allow_empty: bool = True) -> Callable[[str], str]:
    """An argparse type: a plain name (letters, digits, ``_.-``; not ``.`` or ``..``), such as a
    network namespace, safe to use as a file name (``""`` if allowed: "none")."""
    import re

    pattern = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")

    def parse(text: str) -> str:
        if not text and allow_empty:
            return text
        if len(text) > max_len or not pattern.fullmatch(text):
            raise argparse.ArgumentTypeError(
                f"expected a name of letters, digits, '_', '.', '-' (at most {max_len}), "
                f"got {text[:40]!r}"
            )
        return text

    parse.__name__ = "name"
    return parse


def _cannot_write(p: Path) -> str | None:
    """Why ``p`` cannot be written, found by trying, or None. ``os.access`` answers yes to root
    everywhere and knows nothing of read-only mounts or of /proc and /sys, where the write would
    fail only after the whole run. An existing file is opened for appending (not changed); a new
    one is created and removed at once, so nothing is left behind."""
    flags = os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY
    try:  # ValueError: a NUL byte in the name
        if p.exists():
            os.close(os.open(p, flags | os.O_APPEND))
        else:
            os.close(os.open(p, flags | os.O_CREAT | os.O_EXCL, 0o644))
            os.unlink(p)
    except (OSError, ValueError) as exc:
        return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
    return None


def output_path(*, allow_stdout: bool = False, suffixes: tuple[str, ...] = ()) -> Callable[[str], str]:
    """An argparse type for a file to write: its directory must exist and be writable, it must not
    be a directory, its suffix one of ``suffixes`` (when given); ``-`` = stdout if allowed.

    Never creates anything: the check runs at parse time, before any probe or computation.
    """

    def parse(text: str) -> str:
        if text == STDOUT:
            if allow_stdout:
                return text
            raise argparse.ArgumentTypeError("this output cannot go to stdout ('-'): name a file")
        if not text:
            raise argparse.ArgumentTypeError("empty file name")
        p = Path(text)
        if suffixes and p.suffix.lower() not in suffixes:
            named = text if text.isprintable() and len(text) <= 80 else repr(text[:60])
            raise argparse.ArgumentTypeError(
                f"{named}: expected a {' or '.join(suffixes)} file name"
            )
        shown = text if len(text) <= 80 else text[:60] + "..."
        try:
            os.stat(p.parent if str(p.parent) else ".")  # ENAMETOOLONG, ELOOP, a NUL byte, ...
            p.exists()
        except (OSError, ValueError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            if not (isinstance(exc, FileNotFoundError)):
                raise argparse.ArgumentTypeError(f"{shown}: not a usable file name ({why})") from None
        if p.is_dir():
            raise argparse.ArgumentTypeError(f"{text} is a directory: name a file")
        parent = p.parent if str(p.parent) else Path(".")
        if not parent.is_dir():
            raise argparse.ArgumentTypeError(
                f"{text}: directory {parent} does not exist (rttgeo does not create directories)"
            )
        if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
            raise argparse.ArgumentTypeError(f"{text}: not writable (permission denied)")
        why = _cannot_write(p)
        if why:
            raise argparse.ArgumentTypeError(f"{shown}: cannot be written ({why})")
        return OutputPath(text)

    parse.__name__ = "output path"
    return parse


def add_convention(p: argparse.ArgumentParser, *, json_help: str | None = None) -> None:
    """``-q/--quiet`` and ``--json``, the options every command takes."""
    p.add_argument(
        "-q", "--quiet", action="store_true",
        help="no progress bar and no narration on stderr (results and errors still print)",
    )
    p.add_argument(
        "--json", action="store_true",
        help=json_help or "print the result as JSON on stdout instead of text",
    )


def store_path() -> Callable[[str], str]:
    """An argparse type for a campaign store to write: as :func:`output_path`, and an existing file
    must already be a campaign store (checked read-only, so a foreign SQLite file or any other file
    is refused before anything runs, and left as it was)."""
    check_output = output_path()

    def parse(text: str) -> str:
        text = check_output(text)
        p = Path(text)
        if p.exists() and p.stat().st_size > 0:
            from rttgeo.errors import StoreError
            from rttgeo.store.sqlite import check_store_file

            try:
                check_store_file(p)
            except StoreError as exc:
                raise argparse.ArgumentTypeError(str(exc)) from None
        return text

    parse.__name__ = "campaign store"
    return parse


def lab_id(text: str) -> str:
    """An argparse type: a lab id, 4 hex digits (what ``rttgeo lab up`` printed)."""
    if len(text) != 4 or any(c not in "0123456789abcdef" for c in text):
        raise argparse.ArgumentTypeError(
            f"{text[:40]!r} is not a lab id (4 hex digits; see 'rttgeo lab status')"
        )
    return text


lab_id.__name__ = "lab id"
