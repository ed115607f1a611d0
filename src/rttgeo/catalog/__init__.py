"""Landmark catalogs: the bundled RIPE Atlas anchor snapshot, user files, refreshed lists.

The bundled default (:func:`default_catalog_path`) holds the 784 RIPE Atlas anchors of April 2023
(they answer ICMP echo). A snapshot ages: ``rttgeo landmarks refresh`` writes a current one.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from rttgeo.catalog.io import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    catalog_text,
    check_catalog,
    file_sha256,
    landmark_record,
    load_catalog,
    parse_catalog_rows,
    save_catalog,
)
from rttgeo.models import Landmark

__all__ = [
    "DEFAULT_CATALOG_DATE",
    "DEFAULT_CATALOG_NAME",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "catalog_text",
    "check_catalog",
    "default_catalog_path",
    "file_sha256",
    "landmark_record",
    "load_catalog",
    "load_default_catalog",
    "parse_catalog_rows",
    "resolve_catalog",
    "save_catalog",
]

#: File name of the bundled catalog inside ``rttgeo/data``.
DEFAULT_CATALOG_NAME = "catalog-ripe-atlas-anchors-2023-04.csv"
#: Date of the bundled snapshot.
DEFAULT_CATALOG_DATE = "2023-04"


def default_catalog_path() -> Path:
    """Path of the bundled catalog file."""
    return Path(str(resources.files("rttgeo") / "data" / DEFAULT_CATALOG_NAME))


def load_default_catalog() -> list[Landmark]:
    """The bundled RIPE Atlas anchors (April 2023), validated."""
    return load_catalog(default_catalog_path())


def resolve_catalog(path: str | Path | None) -> tuple[Path, list[Landmark]]:
    """``(path, landmarks)`` of the catalog at ``path``, or of the bundled one if None."""
    p = default_catalog_path() if path is None else Path(path)
    return p, load_catalog(p)
