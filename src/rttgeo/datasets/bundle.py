"""Data files bundled with the package: written byte for byte reproducibly, and fingerprinted.

:func:`write_npz` writes what ``numpy.savez_compressed`` writes (a zip of ``.npy`` members that
``numpy.load`` reads), but with every member dated 1980-01-01 and in the order given, so that the
same arrays always give the same bytes; ``savez_compressed`` stamps the time of writing, so two
builds never matched. Every ``scripts/build_*.py`` writes through it.

:func:`sha256_of` fingerprints the files a mesh was read from; ``rttgeo eval`` prints it, and every
output file of eval and estimate carries it (:func:`data_provenance`).
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from rttgeo.errors import DatasetError

__all__ = ["BUNDLED", "sha256_of", "write_npz"]

#: The ``source`` of a mesh read from the copy bundled with the package.
BUNDLED = "bundled"

_EPOCH = (1980, 1, 1, 0, 0, 0)


def write_npz(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray]) -> int:
    """Write ``arrays`` (name -> array, no object arrays) as a compressed ``.npz``, reproducibly;
    returns the size in bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue(), compresslevel=9)
    data = buf.getvalue()
    Path(path).write_bytes(data)
    return len(data)


def sha256_of(paths: Sequence[str | os.PathLike[str]] | bytes) -> str:
    """SHA-256 (hex) of one file's bytes (or of ``bytes``); of several files, the SHA-256 of the
    ``sha256sum``-style listing ``<hex>  <file name>\\n`` of each, in the order given."""
    if isinstance(paths, bytes):
        return hashlib.sha256(paths).hexdigest()
    digests = []
    for p in paths:
        h = hashlib.sha256()
        try:
            with Path(p).open("rb") as fh:  # in blocks: a campaign store can be gigabytes
                for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                    h.update(block)
        except OSError as exc:
            raise DatasetError(f"cannot read {p}: {exc.strerror}") from None
        digests.append((h.hexdigest(), Path(p).name))
    if len(digests) == 1:
        return digests[0][0]
    listing = "".join(f"{h}  {name}\n" for h, name in digests)
    return hashlib.sha256(listing.encode()).hexdigest()
