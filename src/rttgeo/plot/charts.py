"""Charts: error CDFs of estimators, the reliability diagram of their regions, and RTT against
distance on a mesh with the delay-distance models (matplotlib, lazily).

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

__all__ = ["LINE_STYLES", "error_cdf", "reliability", "rtt_vs_distance"]

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
    """Empirical CDF of location errors (km), one line per method, each median marked on its curve
    (the series' marker, larger, at 50 %; a dotted drop to the axis; the value in the legend).

    ``errors_km_by_method``: method name -> errors of its targets in km (NaN or inf = no estimate,
    counted as a failure: the curve then stays below 1). On the log axis (``log_x``) the axis starts
    a decade below the smallest non-zero error, at most 1 km and at least 0.01 km, so that errors
    under 1 km show; errors left of the axis (0 km: the estimate is the host's own listed point;
    under 0.01 km) are drawn at its left edge and counted in the legend. Saves to ``path`` (PNG,
    SVG or PDF) and returns it; without ``path`` returns the Figure, or draws on ``ax`` and
    returns it.
    """
    plt = _mpl.pyplot()
    if not errors_km_by_method:
        raise InputError("error_cdf: no methods given")
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(7.5, 4.8), layout="constrained")
    else:
        fig = ax.figure
    series = {name: np.asarray(e, dtype=float).ravel() for name, e in errors_km_by_method.items()}
    positive = np.concatenate([e[np.isfinite(e) & (e > 0)] for e in series.values()] or [np.zeros(0)])
    left = 1.0
    if log_x and positive.size:
        left = float(np.clip(10.0 ** np.floor(np.log10(positive.min())), 0.01, 1.0))
    xmax = 1.0
    for k, (name, e) in enumerate(series.items()):
        n = e.size
        if n == 0:
            continue
        ok = np.sort(e[np.isfinite(e)])
        under = int(np.sum(ok < left)) if log_x else 0
        if log_x:
            ok = np.maximum(ok, left)
        y = np.arange(1, ok.size + 1) / n
        colour, dash, marker = LINE_STYLES[k % len(LINE_STYLES)]
        med = float(np.median(np.where(np.isfinite(e), e, np.inf)))
        label = f"{name}: median {_fmt_err(med)} (n={n})" if np.isfinite(med) else f"{name} (n={n})"
        if ok.size < n:
            label += f", {n - ok.size} without estimate"
        if under:
            label += f", {under} under {left:g} km (at the left edge)"
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
        if np.isfinite(med):
            mx = max(med, left) if log_x else med
            ax.plot([mx, mx], [0.0, 0.5], color=colour, lw=0.9, ls=":", zorder=1)
            # The median in the series' own marker, larger and edged: told apart in grey too.
            ax.plot([mx], [0.5], marker=marker, ms=8.5, color=colour, mec="black", mew=0.9, ls="", zorder=5,
                    gid=f"median-{k}")
        if ok.size:
            xmax = max(xmax, float(ok.max()))
    ax.axhline(0.5, color="#999999", lw=0.6, zorder=0)
    if log_x:
        from matplotlib.ticker import FuncFormatter, LogLocator

        ax.set_xscale("log")
        ax.set_xlim(left=left, right=max(xmax * 1.3, left * 10))
        ax.xaxis.set_major_locator(LogLocator(base=10.0))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    else:
        ax.set_xlim(0.0, xmax * 1.02)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel("error: distance from estimate to true location (km" + (", log)" if log_x else ")"))
    ax.set_ylabel("fraction of targets with error ≤ x")
    ax.grid(True, which="major", color="#cccccc", lw=0.6)
    ax.grid(True, which="minor", color="#eeeeee", lw=0.4)
    ax.legend(loc="upper left", fontsize=8.5, frameon=True, framealpha=0.9,
              title="large mark at 50 %: the median", title_fontsize=8)
    ax.set_title(title or "Location error of each method", fontsize=11)
    if not own:
        return ax
    if path is None:
        return fig
    return _mpl.save(fig, path, dpi=dpi)


def _fmt_err(km: float) -> str:
    return f"{km:,.0f} km" if km >= 10 else f"{km:.2g} km"


def reliability(
    credible_levels_by_method: Mapping[str, ArrayLike],
    path: str | Path | None = None,
    *,
    feasible_coverage: Mapping[str, tuple[float, int]] | None = None,
    stated_levels: Sequence[float] = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99),
    title: str | None = None,
    ax: Any = None,
    dpi: int = 150,
) -> Any:
    """Reliability diagram of region coverage: stated level against measured coverage, per method.

    ``credible_levels_by_method``: method -> per target, the posterior mass denser than the truth
    (``LooResult.credible_level``: the truth is in the p-region exactly when p > it; 1.0 for a
    failed target); methods whose levels are all NaN (no posterior) are skipped. Coverage at p is
    the share of targets with level < p; a calibrated method follows the diagonal. The grey band is
    where 95 % of the coverages of a calibrated method with as many targets would fall (binomial),
    so that a reader can tell a real departure from noise. ``feasible_coverage``: method ->
    (coverage, n) of regions that claim certainty (CBG's feasible region), drawn at a stated 100 %.
    Saves to ``path`` (PNG, SVG or PDF) and returns it, returns the Figure, or draws on ``ax``.
    """
    plt = _mpl.pyplot()
    from scipy.stats import binom

    series = {m: np.asarray(v, dtype=float).ravel() for m, v in credible_levels_by_method.items()}
    series = {m: v for m, v in series.items() if v.size and not np.isnan(v).all()}
    if not series and not feasible_coverage:
        raise InputError("reliability: no method with a posterior or a feasible region to draw")
    p = np.asarray(sorted(stated_levels), dtype=float)
    if p.size == 0 or p.min() <= 0 or p.max() >= 1:
        raise InputError("reliability: stated levels must lie strictly between 0 and 1")
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(6.4, 6.4), layout="constrained")
    else:
        fig = ax.figure
    fine = np.linspace(min(p.min(), 0.5), 1.0, 101)
    n_band = max([v.size for v in series.values()] + [n for _, n in (feasible_coverage or {}).values()])
    lo = binom.ppf(0.025, n_band, fine) / n_band
    hi = binom.ppf(0.975, n_band, fine) / n_band
    ax.fill_between(fine, lo, hi, color="#e3e3e3", lw=0, zorder=0,
                    label=f"95 % of a calibrated method's coverage (n={n_band})")
    ax.plot([0, 1], [0, 1], color="black", lw=1.0, zorder=1, label="calibrated: coverage = stated level")
    lowest = float(p.min())
    for k, (name, levels) in enumerate(series.items()):
        colour, dash, marker = LINE_STYLES[k % len(LINE_STYLES)]
        lv = np.where(np.isnan(levels), 1.0, levels)
        cov = np.array([np.mean(lv < q) for q in p])
        lowest = min(lowest, float(cov.min()))
        at90 = float(np.mean(lv < 0.9))
        ax.plot(p, cov, color=colour, ls=dash, lw=1.6, marker=marker, ms=6, mfc="white" if k % 2 else colour,
                label=f"{name} (n={levels.size}; 90 % region holds {at90:.0%})", zorder=3)
    for k, (name, (cov, n)) in enumerate((feasible_coverage or {}).items()):
        colour, _dash, marker = LINE_STYLES[(k + len(series)) % len(LINE_STYLES)]
        lowest = min(lowest, cov)
        ax.plot([1.0], [cov], ls="", marker=marker, ms=9, color=colour, mec="black", zorder=4, clip_on=False,
                label=f"{name}: feasible region (stated certain) holds {cov:.0%} (n={n})")
    bottom = max(0.0, min(lowest, float(p.min())) - 0.05)
    ax.set_xlim(min(p.min(), 0.5) - 0.02, 1.0)
    ax.set_ylim(bottom, 1.0)
    ax.set_xlabel("stated level of the region (its probability)")
    ax.set_ylabel("measured coverage: share of targets inside their region")
    ax.grid(True, color="#dddddd", lw=0.5)
    if own:  # below the axes, so that no point hides behind it
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=1, fontsize=8, frameon=False)
    else:
        ax.legend(loc="lower right", fontsize=8, framealpha=0.92)
    ax.set_title(title or "Do the regions hold what they state?", fontsize=11)
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
    landmark_bestlines: ArrayLike | None = None,
    delay_median: tuple[ArrayLike, ArrayLike] | None = None,
    delay_intervals: Mapping[float, tuple[ArrayLike, ArrayLike, ArrayLike]] | None = None,
    rtt_median: tuple[ArrayLike, ArrayLike] | None = None,
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
    intercept ms) lines to overlay (e.g. the pooled CBG bestline); ``landmark_bestlines``: (N, 2)
    (slope, intercept) of each landmark's bestline, drawn thin; ``delay_median`` = (rtt_ms,
    distance_km) and ``delay_intervals`` = {p: (rtt_ms, low_km, high_km)}: a delay-distance model's
    median distance and central p intervals at each RTT, drawn as a line and shaded bands;
    ``rtt_median`` = (distance_km, rtt_ms): a forward model's median RTT at each distance, drawn as
    a line (:func:`rttgeo.estimate.calibration.calibration_curves` makes all four). Saves to ``path``
    (PNG, SVG or PDF) or returns the Figure; with ``ax`` draws on it and returns a dict of counts.
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
        fig, ax = plt.subplots(figsize=(8.0, 7.2), layout="constrained")
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
    # The delay-distance model under everything else: bands, then its median.
    band_greys = {0.9: "#d9e6f2", 0.5: "#a9c6e2"}
    for p_level, (rr, dlo, dhi) in sorted((delay_intervals or {}).items(), reverse=True):
        ax.fill_betweenx(
            np.asarray(rr, dtype=float), np.asarray(dlo, dtype=float), np.asarray(dhi, dtype=float),
            color=band_greys.get(p_level, "#c6d9ec"), lw=0, zorder=0.5,
            label=f"delay-distance model: central {p_level:.0%} of distances at each RTT",
        )
    if delay_median is not None:
        ax.plot(np.asarray(delay_median[1], dtype=float), np.asarray(delay_median[0], dtype=float),
                color="#08519c", lw=1.4, ls=(0, (1, 1.2)), zorder=3, label="delay-distance model: median")
    if rtt_median is not None:
        ax.plot(np.asarray(rtt_median[0], dtype=float), np.asarray(rtt_median[1], dtype=float),
                color="#1b7837", lw=1.6, zorder=3.1,
                label="forward model (rttgeo's): median RTT at each distance")
    if landmark_bestlines is not None:
        lb = np.asarray(landmark_bestlines, dtype=float).reshape(-1, 2)
        if len(lb):
            # The spread of the landmarks' own bestlines: at each distance, the central 80 % of
            # the RTTs their lines give (hundreds of single lines would hide the data).
            xd = np.linspace(0.0, xmax, 64)
            vals = lb[:, 1][:, None] + lb[:, 0][:, None] * xd[None, :]
            lo10, hi90 = np.percentile(vals, [10, 90], axis=0)
            ax.fill_between(xd, lo10, hi90, facecolor="none", edgecolor="#b35806", hatch="////", lw=0.0,
                            zorder=1.5, label=f"CBG bestlines of the {len(lb)} landmarks: central 80 %")
            ax.plot(xd, lo10, color="#b35806", lw=0.6, zorder=1.6)
            ax.plot(xd, hi90, color="#b35806", lw=0.6, zorder=1.6)
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
    if own:  # below the axes: the data fill the plot
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize=7.5, markerscale=1.5,
                  frameon=False)
    else:
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
