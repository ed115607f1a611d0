"""``rttgeo.api.mesh.check_mesh``: which hosts of a mesh break the speed of light.

>>> from rttgeo.api.mesh import check_mesh
>>> print(check_mesh("wonderproxy-2020").describe())        # doctest: +SKIP
"""

from __future__ import annotations

import os

from rttgeo.estimate.meshcheck import MeshCheck
from rttgeo.models import Mesh

__all__ = ["MeshCheck", "check_mesh"]


def check_mesh(mesh_or_path: Mesh | str | os.PathLike[str]) -> MeshCheck:
    """Load a mesh (any name or path :func:`rttgeo.datasets.load` takes: the generic folder format
    ``hosts.csv`` + ``pairs.csv``/``pairs.parquet``, a WonderProxy folder, a ``.parquet`` mesh) and
    report the pairs faster than light for their stated positions, the hosts to blame, and for
    each tied pair which stated position the rest of the mesh contradicts
    (:func:`rttgeo.estimate.meshcheck.check_mesh`). InputError names the file, line and field of a
    malformed file."""
    from rttgeo.datasets import load
    from rttgeo.estimate.meshcheck import check_mesh as check

    mesh = mesh_or_path if isinstance(mesh_or_path, Mesh) else load(mesh_or_path)
    return check(mesh)
