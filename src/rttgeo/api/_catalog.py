"""Landmarks and method as the verbs take them: a catalog path, Landmark objects, or the bundled one."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rttgeo.errors import InputError
from rttgeo.models import Landmark

__all__ = ["LandmarksLike", "ResolvedCatalog", "check_method", "load_dataset", "resolve_landmarks"]

#: What ``landmarks=`` accepts: None (the bundled RIPE Atlas anchors), a catalog file, or Landmarks.
LandmarksLike = str | os.PathLike[str] | Sequence[Landmark] | None


@dataclass(frozen=True, slots=True)
class ResolvedCatalog:
    """Landmarks with where they came from (``label``: a path, or ``given``) and the file's hash."""

    landmarks: tuple[Landmark, ...]
    label: str
    sha256: str | None


def resolve_landmarks(landmarks: LandmarksLike) -> ResolvedCatalog:
    """Load and validate the landmarks (CatalogError names file, line and field)."""
    from rttgeo.catalog import file_sha256, resolve_catalog

    if landmarks is None or isinstance(landmarks, str | os.PathLike):
        path, lms = resolve_catalog(None if landmarks is None else os.fspath(landmarks))
        return ResolvedCatalog(tuple(lms), str(path), file_sha256(path))
    lms = tuple(landmarks)
    if not lms:
        raise InputError("no landmark given", field="landmarks")
    bad = [type(x).__name__ for x in lms if not isinstance(x, Landmark)]
    if bad:
        raise InputError(
            f"landmarks must be Landmark values, a catalog path or None; got {bad[0]}",
            field="landmarks",
        )
    ids = [lm.id for lm in lms]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InputError(f"landmark id {dup!r} appears twice", field="landmarks")
    return ResolvedCatalog(lms, "given", None)


def check_method(method: str | None) -> str:
    """``method`` (default: the library's best) if it is one of rttgeo.estimate.METHODS."""
    from rttgeo.estimate import DEFAULT_METHOD, METHODS

    m = DEFAULT_METHOD if method is None else method
    if m not in METHODS:
        raise InputError(f"unknown method {m!r}; choose from {', '.join(METHODS)}", field="method")
    return m


def load_dataset(name: str, field: str) -> Any:
    """:func:`rttgeo.datasets.load` of ``name``; a name that is neither a known dataset nor an
    existing path is bad input (InputError naming ``field``), not a missing dataset."""
    from pathlib import Path

    from rttgeo.datasets import load
    from rttgeo.errors import DatasetError

    try:
        return load(name)
    except DatasetError as exc:
        if not Path(name).exists() and str(exc).startswith("unknown dataset"):
            raise InputError(str(exc).removeprefix("unknown dataset "), field=field) from None
        if Path(name).exists():  # a folder the user named that is not a dataset: their input
            raise InputError(str(exc), field=field) from None
        raise
