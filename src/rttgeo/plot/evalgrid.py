"""Small maps of the worst and best targets of an evaluation, side by side."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rttgeo.errors import InputError
from rttgeo.geo.sphere import distance_km
from rttgeo.models import Estimate
from rttgeo.plot import _mpl
from rttgeo.plot._text import fmt_km
from rttgeo.plot.basemap import basemap_legend
from rttgeo.plot.layers import draw_estimate, rtt_colorbar, rtt_norm

__all__ = ["eval_grid"]


def eval_grid(
    estimates: Sequence[Estimate],
    true_lat_deg: Sequence[float] | np.ndarray,
    true_lon_deg: Sequence[float] | np.ndarray,
    path: str | Path | None = None,
    *,
    names: Sequence[str] | None = None,
    n_worst: int = 3,
    n_best: int = 3,
    title: str | None = None,
    dpi: int = 130,
) -> Any:
    """Grid of small maps: the ``n_worst`` targets with the largest error (top row) and the
    ``n_best`` with the smallest (bottom row). ``names``: target ids for the panel titles.

    Saves to ``path`` (PNG or SVG) and returns it, or returns the Figure when ``path`` is None.
    Errors are great-circle distances between point estimate and truth (km).
    """
    plt = _mpl.pyplot()
    n = len(estimates)
    tlat = np.asarray(true_lat_deg, dtype=float)
    tlon = np.asarray(true_lon_deg, dtype=float)
    if tlat.shape != (n,) or tlon.shape != (n,):
        raise InputError(f"eval_grid: need {n} true latitudes and longitudes")
    if names is not None and len(names) != n:
        raise InputError(f"eval_grid: need {n} names, got {len(names)}")
    if n == 0:
        raise InputError("eval_grid: no estimates to draw")
    names = list(names) if names is not None else [f"target {i}" for i in range(n)]
    elat = np.array([e.lat_deg for e in estimates])
    elon = np.array([e.lon_deg for e in estimates])
    err = np.asarray(distance_km(elat, elon, tlat, tlon), dtype=float)
    order = np.argsort(np.where(np.isfinite(err), err, np.inf))
    worst = [int(i) for i in order[::-1][: min(n_worst, n)]]
    best = [int(i) for i in order[: min(n_best, n)]]
    rows = [("worst", worst), ("best", best)]
    rows = [(k, idx) for k, idx in rows if idx]
    ncols = max(len(idx) for _, idx in rows)
    all_rtt = np.array([d.rtt_ms for i in worst + best for d in estimates[i].landmarks])
    norm = rtt_norm(all_rtt)
    fig = plt.figure(figsize=(4.2 * ncols, 3.6 * len(rows) + 1.6))
    gs = fig.add_gridspec(
        len(rows) + 1,
        ncols,
        height_ratios=[1.0] * len(rows) + [0.42],
        left=0.05,
        right=0.98,
        top=0.9,
        bottom=0.04,
        hspace=0.35,
        wspace=0.18,
    )
    legend: dict[str, Any] = {}
    mappable = None
    for r, (kind, idx) in enumerate(rows):
        for c, i in enumerate(idx):
            ax = fig.add_subplot(gs[r, c])
            layers = draw_estimate(
                ax,
                estimates[i],
                true_lat_deg=float(tlat[i]),
                true_lon_deg=float(tlon[i]),
                max_circles=6,
                max_labels=0,
                norm=norm,
            )
            mappable = layers.mappable
            for h, lbl in layers.legend:
                key = lbl.split(" (")[0].split(",")[0]
                legend.setdefault(key, h)
            ax.set_title(f"{kind} {c + 1}: {names[i]}\nerror {fmt_km(float(err[i]))}", fontsize=9)
    bottom = gs[len(rows), :].subgridspec(1, 2, width_ratios=[2.2, 1.0], wspace=0.15)
    lax = fig.add_subplot(bottom[0, 0])
    lax.axis("off")
    entries = list(legend.items()) + [(lbl, h) for h, lbl in basemap_legend()]
    lax.legend(
        [h for _, h in entries],
        [k for k, _ in entries],
        loc="center left",
        ncol=2,
        fontsize=8,
        frameon=False,
    )
    cax = fig.add_subplot(bottom[0, 1])
    pos = cax.get_position()
    cax.set_position([pos.x0, pos.y0 + pos.height * 0.45, pos.width, pos.height * 0.2])
    rtt_colorbar(fig, mappable, cax, beyond=bool(np.nanmax(all_rtt) > norm.vmax * 1.0001))
    method = estimates[0].method
    med = float(np.nanmedian(err))
    fig.suptitle(
        title or f"{method}: worst and best targets (median error {fmt_km(med)}, {n} targets)",
        fontsize=12,
    )
    if path is None:
        return fig
    return _mpl.save(fig, path, dpi=dpi)
