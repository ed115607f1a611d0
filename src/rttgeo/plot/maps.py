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
from rttgeo.plot.view import MapView, map_view, map_window, world_view

__all__ = [
    "MapLayers",
    "draw_basemap",
    "draw_estimate",
    "draw_inset",
    "eval_grid",
    "map_estimate",
    "map_view",
    "map_window",
]


def draw_inset(ax: Any, view: MapView, lat_deg: Sequence[float] = (), lon_deg: Sequence[float] = (),
               star: tuple[float, float] | None = None) -> None:
    """World overview (Equal Earth, coarse) with the outline of ``view`` and optional points
    (small triangles) and a star at ``star`` = (lat_deg, lon_deg)."""
    centre = view.projection.lon0_deg
    world = world_view(centre)
    draw_basemap(ax, world, coarse=True)
    blat, blon = view.boundary_lonlat(64)
    blat, blon = np.append(blat, blat[0]), np.append(blon, blon[0])
    if view.world:
        pieces: list[np.ndarray] = []
    else:
        pieces = world.project_lines(blat, blon)
    for pc in pieces:
        ax.plot(pc[:, 0], pc[:, 1], color="black", lw=1.3, zorder=5)
    if len(lat_deg):
        x, y = world.project_points(lat_deg, lon_deg)
        ax.scatter(x, y, s=5, marker="^", c="#333333", lw=0, zorder=4)
    if star is not None:
        x, y = world.project_points(*star)
        ax.scatter([x], [y], s=70, marker="*", c="black", edgecolors="white", linewidths=0.8, zorder=6)
    ax.set_title("world (outline: map extent)" if not view.world else "world", fontsize=8)


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
    projection: str = "aeqd",
) -> Any:
    """A map of ``estimate`` saved to ``path`` (PNG, SVG or PDF by suffix); returns the path.

    With ``path`` None returns the matplotlib Figure instead (for notebooks). ``true_lat_deg`` /
    ``true_lon_deg``: the true location when known (drawn with the error distance). ``landmarks``:
    the whole catalogue, to show the landmarks the estimate did not include. ``truth_label``:
    legend name of the true-location mark. ``projection``: "aeqd" (azimuthal equidistant, true
    distances from the centre) or "laea" (Lambert azimuthal equal-area, true areas) for regional
    maps; a region spread over the world is drawn in Equal Earth whatever this says. Raises
    :class:`rttgeo.errors.MissingExtra` without matplotlib and InputError for another suffix.
    """
    if (true_lat_deg is None) != (true_lon_deg is None):
        raise InputError("give both true_lat_deg and true_lon_deg, or neither")
    plt = _mpl.pyplot()
    view = map_view(
        estimate, true_lat_deg=true_lat_deg, true_lon_deg=true_lon_deg, kind=projection
    )
    # Figure height from the map's shape: the map column is about 7.2 in wide and the axes span
    # 81 % of the height; clamp so the legend column always fits.
    map_h_in = 7.2 * view.height_km / view.width_km
    fig = plt.figure(figsize=(11.0, float(np.clip(map_h_in / 0.81, 7.0, 9.5))))
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
        view=view,
    )
    used = [d for d in estimate.landmarks if d.used]
    draw_inset(
        fig.add_subplot(gs[0, 1]),
        view,
        [d.lat_deg for d in used],
        [d.lon_deg for d in used],
        star=(estimate.lat_deg, estimate.lon_deg),
    )
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
        labelspacing=0.7,
        title="Legend",
        title_fontproperties={"weight": "bold", "size": 9},
        alignment="left",
    )
    fig.suptitle(title or f"Where is the host? ({estimate.method})", fontsize=13, x=0.06, ha="left", y=0.975)
    fig.text(0.06, 0.915, _summary_line(estimate, layers), fontsize=9, ha="left", color="#222222")
    foot = f"Projection: {view.projection.name}. Borders: Natural Earth."
    if estimate.note:
        foot = f"note: {estimate.note}\n{foot}"
    fig.text(0.06, 0.012, wrap(foot, 170), fontsize=7.5, ha="left", va="bottom", color="#333333")
    if path is None:
        return fig
    return _mpl.save(fig, path, dpi=dpi)
