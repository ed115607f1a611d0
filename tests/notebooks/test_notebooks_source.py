"""The committed notebooks are built from notebooks/src and carry no outputs.

(Running them is ``pytest --nbmake notebooks``, as ``make test`` does.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

NB_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("*.ipynb"))


def test_every_source_has_its_notebook() -> None:
    sources = {p.stem for p in (NB_DIR / "src").glob("*.py")}
    assert sources, "no notebook sources found"
    assert sources == {p.stem for p in NOTEBOOKS}


def test_notebooks_are_up_to_date_with_their_sources() -> None:
    pytest.importorskip("nbformat")
    out = subprocess.run(
        [sys.executable, str(NB_DIR / "build.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_outputs_are_stripped(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code, f"{path.name} has no code cell"
    for cell in code:
        assert cell.get("outputs") == [] and cell.get("execution_count") is None, path.name
