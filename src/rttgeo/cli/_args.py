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
    "add_convention",
    "finite_float",
    "int_range",
    "output_path",
]

#: The output path that means standard output.
STDOUT = "-"
#: Image files the figures can be written to (by suffix): raster PNG, or vector SVG / PDF.
FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


def _number(text: str, kind: Callable[[str], Any]) -> Any:
    try:
        return kind(text)
    except (TypeError, ValueError):
        what = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


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
            raise argparse.ArgumentTypeError(
                f"{text}: expected a {' or '.join(suffixes)} file name"
            )
        if p.is_dir():
            raise argparse.ArgumentTypeError(f"{text} is a directory: name a file")
        parent = p.parent if str(p.parent) else Path(".")
        if not parent.is_dir():
            raise argparse.ArgumentTypeError(
                f"{text}: directory {parent} does not exist (rttgeo does not create directories)"
            )
        if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
            raise argparse.ArgumentTypeError(f"{text}: not writable (permission denied)")
        return text

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
