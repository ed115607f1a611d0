#!/usr/bin/env python3
"""Build the notebooks (``*.ipynb``, outputs empty) from their sources in ``notebooks/src/*.py``.

Sources use the "percent" format that jupytext and editors understand: a line ``# %%`` starts a
code cell, ``# %% [markdown]`` a markdown cell whose lines are comments (``# `` stripped).
Run after editing a source, and commit both::

    .venv/bin/python notebooks/build.py            # all
    .venv/bin/python notebooks/build.py --check    # fail if an .ipynb is out of date (CI)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent


def parse(source: str) -> list[tuple[str, str]]:
    """(kind, text) cells of a percent-format source."""
    cells: list[tuple[str, list[str]]] = []
    for line in source.splitlines():
        if line.startswith("# %%"):
            kind = "markdown" if "[markdown]" in line else "code"
            cells.append((kind, []))
            continue
        if not cells:
            continue  # module header before the first cell (not part of the notebook)
        kind, lines = cells[-1]
        if kind == "markdown":
            lines.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
        else:
            lines.append(line)
    return [(k, "\n".join(lines).strip("\n")) for k, lines in cells if "\n".join(lines).strip()]


def build(src: Path) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for kind, text in parse(src.read_text(encoding="utf-8")):
        cell = nbformat.v4.new_markdown_cell(text) if kind == "markdown" else nbformat.v4.new_code_cell(text)
        nb.cells.append(cell)
    return nb


def dumps(nb: nbformat.NotebookNode) -> str:
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"  # stable ids: clean diffs
    return nbformat.writes(nb) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only check that the .ipynb are current")
    args = ap.parse_args()
    stale = []
    for src in sorted((HERE / "src").glob("*.py")):
        out = HERE / f"{src.stem}.ipynb"
        text = dumps(build(src))
        if args.check:
            if not out.exists() or out.read_text(encoding="utf-8") != text:
                stale.append(out.name)
        else:
            out.write_text(text, encoding="utf-8")
            print(f"wrote {out.relative_to(HERE.parent)}")
    if stale:
        print("out of date (run notebooks/build.py):", ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
