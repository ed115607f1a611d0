"""The layout of a map figure: the map, a world inset, the RTT colour bar, the legend and titles.

The map's layers are drawn by :mod:`rttgeo.plot.layers`, its basemap by :mod:`rttgeo.plot.basemap`,
its view chosen by :mod:`rttgeo.plot.view`; the grid of worst and best targets of an evaluation is
:mod:`rttgeo.plot.evalgrid`. Names of those modules are re-exported here for older imports.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rttgeo.errors import InputError
from rttgeo.models import Estimate, Landmark
from rttgeo.plot import _mpl
from rttgeo.plot._text import fmt_area, fmt_km, wrap
from rttgeo.plot.basemap import basemap_legend, draw_basemap, lat_label, lon_label
from rttgeo.plot.evalgrid import eval_grid
from rttgeo.plot.layers import MapLayers, draw_estimate, rtt_colorbar
from rttgeo.plot.view import map_window

__all__ = [
    "MapLayers",
    "draw_basemap",
    "draw_estimate",
    "eval_grid",
    "map_estimate",
    "map_window",
]


def _draw_inset(ax: Any, estimate: Estimate, window: tuple[float, float, float, float]) -> None:
    """World overview with the zoom window as a rectangle."""
    from matplotlib.patches import Rectangle

    lon0, lon1, lat0, lat1 = window
    # Centre the world on the map extent, so a window across 180 shows as one box.
    centre = 0.0 if lon1 - lon0 >= 359.0 else round((lon0 + lon1) / 2.0 / 10.0) * 10.0
    world = (centre - 180.0, centre + 180.0, -90.0, 90.0)
    draw_basemap(ax, world, ticks=False, coarse=True)
    ax.set_aspect("equal")
    ax.add_patch(
        Rectangle((lon0, lat0), lon1 - lon0, lat1 - lat0, fill=False, edgecolor="black", lw=1.3, zorder=5)
    )
    used = [d for d in estimate.landmarks if d.used]
    if used:
        ax.scatter(
            [world[0] + (d.lon_deg - world[0]) % 360.0 for d in used],
            [d.lat_deg for d in used],
            s=5,
            marker="^",
            c="#333333",
            lw=0,
            zorder=4,
        )
    ax.scatter(
        [world[0] + (estimate.lon_deg - world[0]) % 360.0],
        [estimate.lat_deg],
        s=70,
        marker="*",
        c="black",
        edgecolors="white",
        linewidths=0.8,
        zorder=6,
    )
    ax.set_title("world (box: map extent)", fontsize=8)


def _summary_line(estimate: Estimate, layers: MapLayers) -> str:
    n_used = sum(1 for d in estimate.landmarks if d.used)
    lat, lon = estimate.lat_deg, estimate.lon_deg
    parts = [
        f"estimate {lat_label(round(lat, 2))} {lon_label(round(lon, 2))}",
        f"{n_used} of {len(estimate.landmarks)} landmarks used",
    ]
    if np.isfinite(estimate.area_km2):
        parts.append(f"region {fmt_area(estimate.area_km2)}")
    if np.isfinite(layers.error_km):
        parts.append(f"error {fmt_km(layers.error_km)}")
    if not estimate.consistent:
        parts.append("constraints inconsistent")
    return "  ·  ".join(parts)


def map_estimate(
    estimate: Estimate,
    path: str | Path | None = None,
    *,
    true_lat_deg: float | None = None,
    true_lon_deg: float | None = None,
    landmarks: Sequence[Landmark] | None = None,
    title: str | None = None,
    dpi: int = 150,
    truth_label: str = "true location",
) -> Any:
    """A map of ``estimate`` saved to ``path`` (PNG or SVG by suffix); returns the path.

    With ``path`` None returns the matplotlib Figure instead (for notebooks). ``true_lat_deg`` /
    ``true_lon_deg``: the true location when known (drawn with the error distance). ``landmarks``:
    the whole catalogue, to show the landmarks the estimate did not include. ``truth_label``:
    legend name of the true-location mark. Raises
    :class:`rttgeo.errors.MissingExtra` without matplotlib and InputError for another suffix.
    """
    if (true_lat_deg is None) != (true_lon_deg is None):
        raise InputError("give both true_lat_deg and true_lon_deg, or neither")
    plt = _mpl.pyplot()
    window = map_window(estimate, true_lat_deg=true_lat_deg, true_lon_deg=true_lon_deg)
    # Figure height from the map's shape: the map column is about 7.2 in wide and the axes span
    # 81 % of the height; clamp so the legend column always fits.
    lon0, lon1, lat0, lat1 = window
    stretch = 1.0 / max(np.cos(np.radians((lat0 + lat1) / 2.0)), 0.25)
    map_h_in = 7.2 * (lat1 - lat0) * stretch / (lon1 - lon0)
    fig = plt.figure(figsize=(11.0, float(np.clip(map_h_in / 0.81, 6.2, 9.5))))
    gs = fig.add_gridspec(
        3,
        2,
        width_ratios=[3.1, 1.0],
        height_ratios=[1.0, 0.09, 2.0],
        left=0.06,
        right=0.98,
        bottom=0.07,
        top=0.88,
        wspace=0.12,
        hspace=0.45,
    )
    ax = fig.add_subplot(gs[:, 0])
    layers = draw_estimate(
        ax,
        estimate,
        true_lat_deg=true_lat_deg,
        true_lon_deg=true_lon_deg,
        landmarks=landmarks,
        truth_label=truth_label,
        window=window,
    )
    _draw_inset(fig.add_subplot(gs[0, 1]), estimate, layers.window)
    cax = fig.add_subplot(gs[1, 1])
    rtt_colorbar(fig, layers.mappable, cax, beyond=layers.rtt_beyond_scale)
    lax = fig.add_subplot(gs[2, 1])
    lax.axis("off")
    entries = layers.legend + basemap_legend()
    lax.legend(
        [h for h, _ in entries],
        [wrap(lbl, 34) for _, lbl in entries],
        loc="upper left",
        fontsize=8,
        frameon=False,
        borderaxespad=0.0,
        handlelength=2.4,
        labelspacing=0.9,
        title="Legend",
        title_fontproperties={"weight": "bold", "size": 9},
        alignment="left",
    )
    fig.suptitle(title or f"Where is the host? ({estimate.method})", fontsize=13, x=0.06, ha="left", y=0.975)
    fig.text(0.06, 0.915, _summary_line(estimate, layers), fontsize=9, ha="left", color="#222222")
    if estimate.note:
        fig.text(0.06, 0.015, wrap(f"note: {estimate.note}", 160), fontsize=8, ha="left")
    if path is None:
        return fig
    return _mpl.save(fig, path, dpi=dpi)
