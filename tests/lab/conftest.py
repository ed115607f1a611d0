"""Fixtures of the lab tests: a lab that is always torn down.

Lab tests need root, network namespaces, /dev/net/tun and iproute2; they are skipped (saying
which is missing) only where that facility is truly absent. CI runs as root.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .lab_helpers import lab_unavailable, leftover


@pytest.fixture
def lab_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Root-only: a private run root for the labs of one test (skips where labs cannot exist)."""
    why = lab_unavailable()
    if why:
        pytest.skip(why)
    root = tmp_path / "run"
    monkeypatch.setenv("RTTGEO_LAB_RUN", str(root))
    return root


@pytest.fixture
def make_lab(lab_env: Path) -> Iterator:  # type: ignore[type-arg]
    """``make_lab(world, **kw)`` brings a lab up; every lab it made is taken down, even on error."""
    from rttgeo.lab import down, up

    made: list[str] = []

    def factory(world, **kw):  # type: ignore[no-untyped-def]
        lab = up(world, **kw)
        made.append(lab.id)
        return lab

    try:
        yield factory
    finally:
        for lab_id in made:
            if (lab_env / lab_id).exists() or leftover(lab_id):
                down(lab_id, force=True)


