"""Charts: error CDFs of estimators and RTT against distance on a mesh (matplotlib, lazily).

Lines differ by dash pattern, marker and lightness as well as hue, so the charts survive grey-scale
printing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from rttgeo.errors import InputError
from rttgeo.geo.sphere import pairwise_distance_km, to_unit_vectors
from rttgeo.models import Mesh
from rttgeo.plot import _mpl
from rttgeo.units import FIBRE_KM_PER_RTT_MS, MAX_KM_PER_RTT_MS

__all__ = ["LINE_STYLES", "error_cdf", "rtt_vs_distance"]

#: (colour, dash pattern, marker) per series: lightness, dashes and markers all differ.
LINE_STYLES: tuple[tuple[str, Any, str], ...] = (
    ("#000000", "-", "o"),
    ("#1f5fa8", (0, (6, 2)), "s"),
    ("#d9731a", (0, (2, 1.5)), "^"),
    ("#6a6a6a", (0, (6, 2, 1.5, 2)), "D"),
    ("#7fbf3f", "-", "v"),
    ("#9c3fa0", (0, (1, 1)), "P"),
    ("#c0392b", (0, (8, 3, 2, 3, 2, 3)), "X"),
    ("#40b0c0", (0, (4, 4)), "*"),
)


def error_cdf(
    errors_km_by_method: Mapping[str, ArrayLike],
    path: str | Path | None = None,
    *,
    title: str | None = None,
    log_x: bool = True,
    ax: Any = None,
    dpi: int = 150,
) -> Any:
    """Empirical CDF of location errors (km), one line per method, medians in the legend.

    ``errors_km_by_method``: method name -> errors of its targets in km (NaN = no estimate, counted
    as a failure: the curve then stays below 1). Saves to ``path`` (PNG or SVG) and returns it;
    without ``path`` returns the Figure, or draws on ``ax`` and returns it.
    """
    plt = _mpl.pyplot()
    if not errors_km_by_method:
        raise InputError("error_cdf: no methods given")
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(7.5, 4.8), layout="constrained")
    else:
        fig = ax.figure
    xmax = 1.0
    for k, (name, errs) in enumerate(errors_km_by_method.items()):
        e = np.asarray(errs, dtype=float).ravel()
        n = e.size
        if n == 0:
            continue
        ok = np.sort(e[np.isfinite(e)])
        if log_x:
            ok = np.maximum(ok, 0.1)
        y = np.arange(1, ok.size + 1) / n
        colour, dash, marker = LINE_STYLES[k % len(LINE_STYLES)]
        med = float(np.median(np.where(np.isfinite(e), e, np.inf)))
        label = f"{name}: median {med:,.0f} km (n={n})" if np.isfinite(med) else f"{name} (n={n})"
        if ok.size < n:
            label += f", {n - ok.size} without estimate"
        x = np.concatenate([[ok[0]], ok]) if ok.size else ok
        yy = np.concatenate([[0.0], y]) if ok.size else y
        ax.step(
            x,
            yy,
            where="post",
            color=colour,
            ls=dash,
            lw=1.6,
            marker=marker,
            markevery=max(1, ok.size // 8),
            ms=5,
            mfc="white" if k % 2 else colour,
            label=label,
        )
        if ok.size:
            xmax = max(xmax, float(ok.max()))
    if log_x:
        from matplotlib.ticker import FuncFormatter

        ax.set_xscale("log")
        ax.set_xlim(left=1.0)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}"))
    else:
        ax.set_xlim(0.0, xmax * 1.02)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel("error: distance from estimate to true location (km" + (", log)" if log_x else ")"))
    ax.set_ylabel("fraction of targets with error ≤ x")
    ax.grid(True, which="major", color="#cccccc", lw=0.6)
    ax.grid(True, which="minor", color="#eeeeee", lw=0.4)
    ax.legend(loc="upper left", fontsize=8.5, frameon=True, framealpha=0.9)
    ax.set_title(title or "Location error of each method", fontsize=11)
    if not own:
        return ax
    if path is None:
        return fig
    return _mpl.save(fig, path, dpi=dpi)


def rtt_vs_distance(
    mesh: Mesh,
    path: str | Path | None = None,
    *,
    bestlines: Mapping[str, tuple[float, float]] | None = None,
    highlight_ids: Sequence[str] | None = None,
    max_distance_km: float | None = None,
    title: str | None = None,
    ax: Any = None,
    dpi: int = 150,
) -> Any:
    """Scatter of the minimum RTT (ms) of every measured ordered pair against its great-circle
    distance (km), with the speed-of-light (149.9 km/ms) and fibre (99.9 km/ms) bounds.

    Points below the fibre line violate physics for light in fibre: bad coordinates, or a path
    faster than fibre. Pairs involving ``highlight_ids`` (default: the hosts ``mesh.bad`` marks)
    are drawn apart so the two causes can be told apart. ``bestlines``: label -> (slope ms/km,
    intercept ms) lines to overlay (e.g. CBG bestlines). Saves to ``path`` or returns the Figure;
    with ``ax`` draws on it and returns a dict of counts.
    """
    plt = _mpl.pyplot()
    n = len(mesh)
    if n < 2:
        raise InputError("rtt_vs_distance: the mesh needs at least 2 hosts")
    u = to_unit_vectors(mesh.lat_deg, mesh.lon_deg)
    dist = pairwise_distance_km(u, u)
    rtt = np.asarray(mesh.rtt_ms, dtype=float)
    ok = np.isfinite(rtt)
    np.fill_diagonal(ok, False)
    if highlight_ids is None:
        hl = np.asarray(mesh.bad, dtype=bool)
    else:
        hl = np.isin(np.asarray(mesh.ids), list(highlight_ids))
    pair_hl = hl[:, None] | hl[None, :]
    d, r, phl = dist[ok], rtt[ok], pair_hl[ok]
    fibre_violation = r < d / FIBRE_KM_PER_RTT_MS
    light_violation = r < d / MAX_KM_PER_RTT_MS

    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(8.0, 5.4), layout="constrained")
    else:
        fig = ax.figure
    normal = ~fibre_violation & ~phl
    ax.scatter(
        d[normal],
        r[normal],
        s=2,
        c="#9a9a9a",
        lw=0,
        alpha=0.5,
        rasterized=True,
        label=f"host pairs ({int(normal.sum()):,})",
    )
    hl_ok = phl & ~fibre_violation
    if hl_ok.any():
        ax.scatter(
            d[hl_ok],
            r[hl_ok],
            s=6,
            marker="+",
            c="#e08a2c",
            lw=0.6,
            alpha=0.7,
            rasterized=True,
            label=f"pairs with a suspect host, within bounds ({int(hl_ok.sum())})",
        )
    v_other = fibre_violation & ~phl
    v_hl = fibre_violation & phl
    if v_other.any():
        ax.scatter(
            d[v_other],
            r[v_other],
            s=22,
            marker="o",
            facecolors="none",
            edgecolors="#1f5fa8",
            lw=1.0,
            label=f"faster than fibre, hosts not suspect ({int(v_other.sum())})",
        )
    if v_hl.any():
        names = ", ".join(
            f"{mesh.ids[i]}" + (f" {mesh.labels[i].split(',')[0]}" if mesh.labels else "")
            for i in np.flatnonzero(hl)
        )
        ax.scatter(
            d[v_hl],
            r[v_hl],
            s=26,
            marker="x",
            c="#c0392b",
            lw=1.2,
            label=f"faster than fibre, involving {names} ({int(v_hl.sum())})",
        )
    xmax = max_distance_km or float(np.nanmax(d)) * 1.02
    xs = np.array([0.0, xmax])
    ax.plot(
        xs,
        xs / MAX_KM_PER_RTT_MS,
        color="black",
        lw=1.6,
        label=f"speed of light in vacuum: {MAX_KM_PER_RTT_MS:.1f} km per ms of RTT",
    )
    ax.plot(
        xs,
        xs / FIBRE_KM_PER_RTT_MS,
        color="black",
        lw=1.6,
        ls=(0, (6, 2)),
        label=f"light in fibre (2/3 c): {FIBRE_KM_PER_RTT_MS:.1f} km per ms",
    )
    for k, (label, (slope, intercept)) in enumerate((bestlines or {}).items()):
        colour, dash, _ = LINE_STYLES[(k + 1) % len(LINE_STYLES)]
        ax.plot(
            xs,
            intercept + slope * xs,
            color=colour,
            ls=dash,
            lw=1.3,
            label=f"bestline {label}: {1 / slope:.0f} km/ms, +{intercept:.1f} ms",
        )
    ax.set_xlim(0.0, xmax)
    top = float(np.nanpercentile(r, 99.5)) if r.size else 1.0
    ax.set_ylim(0.0, top * 1.05)
    ax.set_xlabel("great-circle distance between the hosts (km)")
    ax.set_ylabel("minimum RTT (ms)")
    ax.grid(True, color="#dddddd", lw=0.5)
    ax.legend(loc="upper left", fontsize=8, markerscale=1.5, framealpha=0.92)
    ax.set_title(title or f"RTT against distance: {mesh.name or 'mesh'} ({n} hosts)", fontsize=11)
    counts = {
        "pairs": int(d.size),
        "faster_than_fibre": int(fibre_violation.sum()),
        "faster_than_light": int(light_violation.sum()),
        "faster_than_fibre_with_highlighted_host": int(v_hl.sum()),
    }
    if not own:
        return counts
    if path is None:
        return fig
    return _mpl.save(fig, path, dpi=dpi)
