"""Printing and writing results: results on stdout, narration and warnings on stderr.

``-q`` silences narration (``wrote FILE``, ``probing ...``) and progress bars, never results,
warnings or errors. ``--json`` prints the result as one JSON document on stdout (JSON lines when a
command has many results) instead of text.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rttgeo.cli._args import STDOUT
from rttgeo.errors import RttgeoError

__all__ = ["narrate", "print_warnings", "write_json_lines", "write_result", "write_text"]


def narrate(args: argparse.Namespace, message: str) -> None:
    """One line for a person on stderr, unless ``-q``."""
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr)


def print_warnings(messages: Iterable[str]) -> None:
    """Each warning once, on stderr (``-q`` does not hide them)."""
    for m in messages:
        print(f"warning: {m}", file=sys.stderr)


def write_text(args: argparse.Namespace, path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` (``-``: stdout) and narrate it; OS errors become RttgeoError."""
    if str(path) == STDOUT:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
        return
    try:
        Path(path).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    except OSError as exc:
        raise RttgeoError(f"cannot write {path}: {exc.strerror or exc}") from None
    narrate(args, f"wrote {path}")


def write_result(args: argparse.Namespace, path: str | Path, result: Any) -> None:
    """A result as JSON (``.to_json()``), or as GeoJSON (``.to_geojson()``) for a ``.geojson``
    name; ``-`` writes JSON to stdout."""
    from rttgeo.api._results import dumps

    geo = str(path).lower().endswith(".geojson") and hasattr(result, "to_geojson")
    write_text(args, path, dumps(result.to_geojson() if geo else result.to_json()))


def write_json_lines(docs: Iterable[Any]) -> None:
    """One compact JSON document per line on stdout."""
    from rttgeo.api._results import dumps

    for d in docs:
        sys.stdout.write(dumps(d, indent=None) + "\n")
    sys.stdout.flush()
