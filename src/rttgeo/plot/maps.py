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
    # Layout in inches: title and summary on top; the map (6.4 in wide, as tall as its view) with
    # the world inset and the colour bar beside it; the legend across the page below; the footer.
    # 9.5 in wide: printed across a page (7 in), 8 pt text is still 6 pt.
    width, left, map_w = 9.5, 0.6, 6.4
    map_h = float(np.clip(map_w * view.height_km / view.width_km, 3.0, 7.5))
    fig = plt.figure(figsize=(width, 10.0))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))  # placed below, once the legend's height is known
    layers = draw_estimate(
        ax,
        estimate,
        true_lat_deg=true_lat_deg,
        true_lon_deg=true_lon_deg,
        landmarks=landmarks,
        truth_label=truth_label,
        view=view,
    )
    entries = layers.legend + basemap_legend()
    labels = [wrap(lbl, 58) for _, lbl in entries]
    half = (len(entries) + 1) // 2

    def column_in(chunk: list[str]) -> float:
        return sum(0.135 * len(t.splitlines()) + 0.075 for t in chunk)

    legend_h = 0.3 + max(column_in(labels[:half]), column_in(labels[half:]))
    top_h, foot_h, gap = 0.95, 0.45 if estimate.note else 0.3, 0.45
    height = top_h + map_h + gap + legend_h + foot_h
    fig.set_size_inches(width, height)

    def box(x_in: float, y_top_in: float, w_in: float, h_in: float) -> tuple[float, float, float, float]:
        return (x_in / width, 1.0 - (y_top_in + h_in) / height, w_in / width, h_in / height)

    ax.set_position(box(left, top_h, map_w, map_h))
    used = [d for d in estimate.landmarks if d.used]
    side_x = left + map_w + 0.3
    side_w = width - side_x - 0.15
    draw_inset(
        fig.add_axes(box(side_x, top_h + 0.2, side_w, side_w * 0.5)),
        view,
        [d.lat_deg for d in used],
        [d.lon_deg for d in used],
        star=(estimate.lat_deg, estimate.lon_deg),
    )
    cax = fig.add_axes(box(side_x, top_h + 0.2 + side_w * 0.5 + 0.55, side_w, 0.16))
    rtt_colorbar(fig, layers.mappable, cax, beyond=layers.rtt_beyond_scale)
    lax = fig.add_axes(box(left, top_h + map_h + gap, width - left - 0.15, legend_h))
    lax.axis("off")
    lax.legend(
        [h for h, _ in entries],
        labels,
        loc="upper left",
        ncol=2,
        fontsize=8,
        frameon=False,
        borderaxespad=0.0,
        handlelength=2.4,
        labelspacing=0.55,
        columnspacing=1.5,
        title="Legend",
        title_fontproperties={"weight": "bold", "size": 9},
        alignment="left",
    )
    x0 = left / width
    fig.text(x0, 1.0 - 0.3 / height, title or f"Where is the host? ({estimate.method})", fontsize=13,
             ha="left", va="center")
    fig.text(x0, 1.0 - 0.62 / height, _summary_line(estimate, layers), fontsize=9, ha="left", va="center",
             color="#222222")
    foot = f"Projection: {view.projection.name}. Borders: Natural Earth."
    if estimate.note:
        foot = f"note: {estimate.note}\n{foot}"
    fig.text(x0, 0.08 / height, wrap(foot, 150), fontsize=7.5, ha="left", va="bottom", color="#333333")
    if path is None:
        return fig
    return _mpl.save(fig, path, dpi=dpi)
