"""The one exception tree of rttgeo.

::

    RttgeoError                     base of everything rttgeo raises on purpose
    ├── InputError (ValueError)     bad user input; names the file, line and field where known
    │   ├── CatalogError            a landmark catalog is malformed or inconsistent
    │   ├── SamplesError            an RTT / samples file is malformed
    │   ├── WorldError              a lab world file is malformed
    │   └── VerificationError       evidence (a receipt, bundle, signed catalog, key or signature)
    │                               fails a check; the message names what failed
    ├── DatasetError                a dataset is missing or does not have the expected shape
    ├── EstimationError             no estimate can be made (e.g. no usable landmark)
    ├── MeasurementError            probing failed as a whole
    │   ├── PermissionDenied        the OS refuses a socket; the message says what to change
    │   └── NoLandmarkAnswered      every probe was lost (offline, firewalled)
    ├── StoreError                  a campaign store cannot be read or written
    ├── LabError                    the emulated Internet cannot be built or torn down
    └── MissingExtra (ImportError)  an optional extra is not installed; says which pip extra

Operating-system errors are translated at the boundary (the room that made the call) into these, with a
message that tells the user what to do. Warnings go through :class:`RttgeoWarning`.
"""

from __future__ import annotations

import os
import sys
import warnings

__all__ = [
    "CatalogError",
    "DatasetError",
    "EstimationError",
    "InputError",
    "LabError",
    "MeasurementError",
    "MissingExtra",
    "NoLandmarkAnswered",
    "PermissionDenied",
    "RttgeoError",
    "RttgeoWarning",
    "SamplesError",
    "StoreError",
    "VerificationError",
    "WorldError",
    "require",
    "warn",
]


class RttgeoError(Exception):
    """Base class of every error rttgeo raises on purpose."""


class InputError(RttgeoError, ValueError):
    """Bad user input. ``where`` is ``file:line`` (or just file) and ``field`` the offending field."""

    def __init__(self, message: str, *, where: str | None = None, field: str | None = None) -> None:
        self.where = where
        self.field = field
        prefix = ""
        if where:
            prefix += f"{where}: "
        if field:
            prefix += f"field {field!r}: "
        super().__init__(prefix + message)


class CatalogError(InputError):
    """A landmark catalog is malformed (bad coordinates, duplicate ids, missing columns)."""


class SamplesError(InputError):
    """An RTT or samples file is malformed."""


class WorldError(InputError):
    """A lab world file is malformed."""


class VerificationError(InputError):
    """Evidence fails a check: a bad signature, a tampered or malformed receipt, bundle or signed
    catalog, an unknown landmark, a key that is not acceptable. The message names what failed."""


class DatasetError(RttgeoError):
    """A dataset is missing or malformed."""


class EstimationError(RttgeoError):
    """No estimate can be made from the given RTTs (for example no usable landmark)."""


class MeasurementError(RttgeoError):
    """Probing failed as a whole."""


class PermissionDenied(MeasurementError, PermissionError):
    """The operating system refused a socket; the message says what to change."""


class NoLandmarkAnswered(MeasurementError):
    """Every probe was lost: the host is offline or firewalled."""


class StoreError(RttgeoError):
    """A campaign store cannot be read or written."""


class LabError(RttgeoError):
    """The emulated Internet cannot be built or torn down."""


class MissingExtra(RttgeoError, ImportError):
    """An optional extra is not installed."""

    def __init__(self, extra: str, module: str) -> None:
        super().__init__(
            f"this feature needs the optional module {module!r}: "
            f"install it with  pip install 'rttgeo[{extra}]'"
        )
        self.extra = extra
        self.module = module


class RttgeoWarning(UserWarning):
    """Something was left out or adjusted; the message names what and why."""


#: This package's directory: frames of files under it are rttgeo's own.
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn(message: str) -> None:
    """Warn with :class:`RttgeoWarning`, attributed to the first caller outside the rttgeo package
    (as pandas' ``find_stack_level`` does): the warning names the user's line that led to it, and
    filters by module match the user's module, however many rttgeo calls lie between."""
    frame = sys._getframe(1)  # the caller of warn: stacklevel 2
    level = 2
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    warnings.warn(message, RttgeoWarning, stacklevel=level)


def require(module: str, extra: str):  # type: ignore[no-untyped-def]
    """Import ``module`` lazily, raising :class:`MissingExtra` naming the pip extra if absent."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingExtra(extra, module) from exc
