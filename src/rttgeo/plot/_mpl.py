"""Lazy matplotlib import (Agg backend), shared style and the bundled border data."""

from __future__ import annotations

import itertools
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from rttgeo.errors import DatasetError, require

#: Colour map of RTTs: viridis grows monotonically lighter, so it also reads in grey-scale.
RTT_CMAP = "viridis"
LAND_COLOUR = "#ececec"
SEA_COLOUR = "#ffffff"
COAST_COLOUR = "#707070"
BORDER_COLOUR = "#a8a8a8"
REGION_FACE = "#f4a259"
REGION_EDGE = "#8c3b00"
ESTIMATE_COLOUR = "#000000"
TRUTH_COLOUR = "#d62728"
#: Light box behind labels on a map (a box, not a stroke: stroked text becomes paths in SVG).
LABEL_BOX = {"boxstyle": "round,pad=0.12", "facecolor": "white", "edgecolor": "none", "alpha": 0.75}
#: Sequential ramp of the posterior density (ColorBrewer Oranges, colour-blind safe; lightness
#: falls monotonically with density, so it also reads in grey-scale), lightest to darkest.
DENSITY_RAMP = ("#fdd0a2", "#fdae6b", "#fd8d3c", "#e6550d")


def density_colours(n: int) -> list[str]:
    """``n`` fill colours of the density bands, the densest (darkest) first."""
    if n <= 0:
        return []
    idx = np.linspace(len(DENSITY_RAMP) - 1, 0, n).round().astype(int) if n > 1 else [len(DENSITY_RAMP) - 1]
    return [DENSITY_RAMP[i] for i in idx]


def contour_styles(levels: Any) -> dict[float, tuple[Any, float]]:
    """(dash pattern, line width) of each credible level's contour: the smallest level solid and
    heavier, larger ones dashed, so that they differ without colour."""
    out: dict[float, tuple[Any, float]] = {}
    for k, level in enumerate(sorted(levels)):
        out[level] = ("-", 1.7) if k == 0 else ((0, (5, 2)), 1.4) if k == 1 else ((0, (1.5, 1.5)), 1.3)
    return out


def pyplot() -> Any:
    """``matplotlib.pyplot`` with the Agg backend; raises MissingExtra('plot') if absent."""
    mpl = require("matplotlib", "plot")
    if mpl.get_backend().lower() != "agg":
        mpl.use("Agg", force=True)
    mpl.rcParams["svg.fonttype"] = "none"  # keep text as text in SVG (searchable, accessible)
    mpl.rcParams["svg.hashsalt"] = "rttgeo"  # deterministic ids
    mpl.rcParams["pdf.fonttype"] = 42  # TrueType in PDF: text stays text, editable
    return require("matplotlib.pyplot", "plot")


def rtt_cmap() -> Any:
    """Colour map of RTTs: viridis without its lightest 15 % (pale yellow vanishes on grey land and
    in grey-scale); lightness still grows monotonically with RTT."""
    pyplot()
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    base = colormaps[RTT_CMAP]
    cmap = ListedColormap(base(np.linspace(0.0, 0.85, 256)), name="rttgeo-rtt")
    return cmap.with_extremes(over=base(0.85), under=base(0.0))


def save(fig: Any, path: str | Path, *, dpi: int = 150) -> Path:
    """Save ``fig`` as PNG, SVG or PDF (by suffix) and close it; returns the path.

    Vector files carry no date (the same figure gives the same bytes) and keep text as text.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".png", ".svg", ".pdf"):
        from rttgeo.errors import InputError

        raise InputError(f"unsupported image type {suffix!r}: use .png, .svg or .pdf", where=str(p))
    p.parent.mkdir(parents=True, exist_ok=True)
    meta = {"Date": None} if suffix == ".svg" else {"CreationDate": None} if suffix == ".pdf" else None
    fig.savefig(p, dpi=dpi, format=suffix[1:], metadata=meta)
    pyplot().close(fig)
    return p


@lru_cache(maxsize=1)
def borders() -> dict[str, list[np.ndarray]]:
    """Coastline rings and land-border lines, ``{"land": [...], "borders": [...]}``.

    Each item is an ``(N, 2)`` (lon, lat) float array in [-180, 180] (Natural Earth 1:50m through
    world-atlas, see data/borders_50m.txt); loaded once from package data, never downloaded.
    """
    try:
        ref = resources.files("rttgeo") / "data" / "borders_50m.npz"
        with resources.as_file(ref) as f, np.load(f) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, KeyError) as exc:
        raise DatasetError(
            f"the bundled map data rttgeo/data/borders_50m.npz cannot be read ({exc}); "
            "reinstall rttgeo or rebuild it with scripts/build_borders.py"
        ) from exc

    def lines(prefix: str) -> list[np.ndarray]:
        lon = data[f"{prefix}_lon"].astype(float)
        lat = data[f"{prefix}_lat"].astype(float)
        start = data[f"{prefix}_start"]
        return [np.column_stack([lon[a:b], lat[a:b]]) for a, b in itertools.pairwise(start)]

    return {"land": lines("land"), "borders": lines("border")}
