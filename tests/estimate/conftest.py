from __future__ import annotations

import pytest

from rttgeo.datasets import load_wonderproxy
from rttgeo.models import Mesh


@pytest.fixture(scope="session")
def wonderproxy() -> Mesh:
    """The real WonderProxy 2020 mesh (raw files if found, else the bundled copy)."""
    return load_wonderproxy()
