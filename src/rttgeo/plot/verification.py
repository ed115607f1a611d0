"""A map of a verification: the claim, the region the RTTs prove (or allow), and the landmarks that
decided it with their speed-of-light discs, in one figure.

The verify room decides; this module only draws what it is given, as GeoJSON and plain values, so
that the verify room needs nothing of matplotlib and a saved verdict can be drawn on another
machine:

>>> draw_verification(claim, region, landmarks, "proven: the host is inside the claim", "v.png")
... # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rttgeo.errors import InputError
from rttgeo.plot import _mpl
from rttgeo.plot._text import fmt_area, fmt_km, wrap
from rttgeo.plot.basemap import basemap_legend, draw_basemap
from rttgeo.plot.geometry import circle_lonlat, geojson_rings
from rttgeo.plot.view import MapView, view_of_points

__all__ = ["DecidingLandmark", "draw_verification", "verification_report_html", "write_verification_report"]

#: Colours of the verification map (colour-blind safe: blue against black and grey; the claim is
#: also told apart by its dashes and hatching, the region by its fill).
REGION_FILL = "#9ecae1"
REGION_LINE = "#08519c"
CLAIM_LINE = "#000000"
DISC_LINE = "#525252"


@dataclass(frozen=True, slots=True)
class DecidingLandmark:
    """A landmark that decided a verification: where it is, and the radius (km) its round trip
    allows at the speed of light (``radius_km``); optionally its RTT and a name."""

    id: str
    lat_deg: float
    lon_deg: float
    radius_km: float
    rtt_ms: float = math.nan
    name: str = ""


def _landmark(item: DecidingLandmark | Mapping[str, Any] | Any, k: int) -> DecidingLandmark:
    if isinstance(item, DecidingLandmark):
        return item
    get = item.get if isinstance(item, Mapping) else lambda key, default=None: getattr(item, key, default)
    try:
        lm = DecidingLandmark(
            id=str(get("id", f"#{k}")),
            lat_deg=float(get("lat_deg")),
            lon_deg=float(get("lon_deg")),
            radius_km=float(get("radius_km")),
            rtt_ms=float(get("rtt_ms", math.nan) if get("rtt_ms", None) is not None else math.nan),
            name=str(get("name", "") or ""),
        )
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"landmark #{k} needs id, lat_deg, lon_deg and radius_km ({exc})", field="landmarks"
        ) from None
    if not (-90.0 <= lm.lat_deg <= 90.0 and math.isfinite(lm.lon_deg)):
        raise InputError(
            f"landmark {lm.id!r}: position {lm.lat_deg}, {lm.lon_deg} is not on the Earth", field="landmarks"
        )
    if not lm.radius_km >= 0:
        raise InputError(f"landmark {lm.id!r}: radius_km must be >= 0, got {lm.radius_km}", field="landmarks")
    return lm


def _geometry(obj: Mapping[str, Any] | None, what: str) -> dict[str, Any] | None:
    """The geometry of a GeoJSON geometry, Feature or FeatureCollection (merged to a
    GeometryCollection); None stays None."""
    if obj is None:
        return None
    if not isinstance(obj, Mapping) or "type" not in obj:
        raise InputError(f"the {what} must be GeoJSON (a geometry, Feature or FeatureCollection)", field=what)
    kind = obj["type"]
    if kind == "Feature":
        return _geometry(obj.get("geometry"), what)
    if kind == "FeatureCollection":
        geoms = [g for f in obj.get("features", []) if (g := _geometry(f, what)) is not None]
        return {"type": "GeometryCollection", "geometries": geoms}
    if kind not in ("Polygon", "MultiPolygon", "Point", "GeometryCollection"):
        raise InputError(f"the {what} must be a Polygon, MultiPolygon or Point, not {kind!r}", field=what)
    return dict(obj)


def _claim_rings(claim: Mapping[str, Any], radius_km: float | None) -> tuple[list[list[np.ndarray]], str]:
    """The claim as polygons of lon/lat rings, and how to describe it."""
    geom = _geometry(claim, "claim")
    assert geom is not None
    if geom["type"] == "Point":
        props = claim.get("properties") or {} if claim.get("type") == "Feature" else {}
        r = radius_km if radius_km is not None else props.get("radius_km")
        if r is None or not float(r) > 0:
            raise InputError(
                "a claimed point needs a radius: claim_radius_km=, or properties.radius_km of its Feature",
                field="claim",
            )
        lon, lat = (float(v) for v in geom["coordinates"][:2])
        clon, clat = circle_lonlat(lat, lon, float(r), n=361)
        return [
            [np.column_stack([clon, clat])[:-1]]
        ], f"claim: within {fmt_km(float(r))} of {lat:.3f}°, {lon:.3f}°"
    polys = geojson_rings(geom)
    if not polys:
        raise InputError("the claim has no polygon with at least three positions", field="claim")
    return polys, "claim (polygon)"


def draw_verification(
    claim: Mapping[str, Any],
    region: Mapping[str, Any] | None,
    landmarks: Sequence[DecidingLandmark | Mapping[str, Any] | Any],
    decision_label: str,
    path: str | Path | None = None,
    *,
    claim_radius_km: float | None = None,
    region_label: str = "region the RTTs allow",
    claim_label: str | None = None,
    title: str | None = None,
    note: str = "",
    dpi: int = 150,
) -> Any:
    """One map of a verification, saved to ``path`` (PNG, SVG or PDF by suffix; returns the path)
    or returned as a Figure when ``path`` is None.

    ``claim``: GeoJSON (geometry or Feature) of what the host claims: a Polygon / MultiPolygon, or
    a Point with a radius (``claim_radius_km``, or ``properties.radius_km`` of the Feature).
    ``region``: GeoJSON (Multi)Polygon of the region the verifier derived (e.g. the intersection
    of the landmarks' speed-of-light discs: where the host can be), or None. ``landmarks``: the
    deciding landmarks, :class:`DecidingLandmark` or mappings / objects with ``id``, ``lat_deg``,
    ``lon_deg``, ``radius_km`` (optional ``rtt_ms``, ``name``); each is drawn with its disc.
    ``decision_label``: the verdict as the reader should see it (e.g. "proven", "refuted: the
    host is at least 840 km from the claim"), written in a box on the map and in the title.
    ``region_label``: the legend's name of ``region``; ``claim_label`` that of the claim
    (default: "claim: within R km of ..." or "claim (polygon)"; say "claim: not in CN" when the
    drawn polygon is what the host claims to be outside). Bad input raises InputError naming it.
    """
    plt = _mpl.pyplot()
    from matplotlib import patheffects
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, PathPatch

    from rttgeo.plot.layers import _place_labels, _ring_path, draw_scale_bar

    lms = [_landmark(x, k) for k, x in enumerate(landmarks)]
    claim_polys, claim_text = _claim_rings(claim, claim_radius_km)
    claim_text = claim_label or claim_text
    region_geom = _geometry(region, "region")
    region_polys = geojson_rings(region_geom) if region_geom else []
    lat: list[float] = []
    lon: list[float] = []
    for poly in claim_polys + region_polys:
        lon.extend(poly[0][:, 0].tolist())
        lat.extend(poly[0][:, 1].tolist())
    for lm in lms:
        lat.append(lm.lat_deg)
        lon.append(lm.lon_deg)
    view: MapView = view_of_points(lat, lon, min_height_km=400.0)

    # Figure height from the map's shape (the map column is about 7.2 in wide).
    fig = plt.figure(figsize=(10.5, float(np.clip(7.2 * view.height_km / view.width_km / 0.8, 5.5, 9.0))))
    gs = fig.add_gridspec(
        1, 2, width_ratios=[3.0, 1.05], left=0.04, right=0.98, bottom=0.08, top=0.86, wspace=0.06
    )
    ax = fig.add_subplot(gs[0, 0])
    draw_basemap(ax, view)
    legend: list[tuple[Any, str]] = []

    # The region the verifier derived.
    if region_polys:
        rings = [r for poly in region_polys for r in view.project_polygon(poly)]
        if rings:
            ax.add_artist(
                PathPatch(
                    _ring_path(rings),
                    facecolor=REGION_FILL,
                    edgecolor=REGION_LINE,
                    lw=1.6,
                    alpha=0.75,
                    zorder=2,
                    gid="verified-region",
                )
            )
        from rttgeo.geo.polygon import geojson_area_km2

        area = geojson_area_km2(region_geom) if region_geom and region_geom["type"] != "Point" else math.nan
        legend.append(
            (Patch(facecolor=REGION_FILL, edgecolor=REGION_LINE, lw=1.4), f"{region_label}, {fmt_area(area)}")
        )
    else:
        legend.append((Line2D([], [], ls="", marker=""), f"{region_label}: none"))

    # The landmarks' discs, then the claim on top.
    segs = []
    for lm in lms:
        clon, clat = circle_lonlat(lm.lat_deg, lm.lon_deg, lm.radius_km, n=721)
        segs.extend(view.project_lines(clat, clon))
    if segs:
        ax.add_collection(
            LineCollection(
                segs, colors=DISC_LINE, linewidths=1.1, linestyles=(0, (6, 2, 1.5, 2)), zorder=3, gid="discs"
            ),
            autolim=False,
        )
        legend.append(
            (
                Line2D([], [], color=DISC_LINE, lw=1.1, ls=(0, (6, 2, 1.5, 2))),
                "landmark's disc: how far its round trip allows the host to be at the speed of light",
            )
        )
    claim_rings = [r for poly in claim_polys for r in view.project_polygon(poly)]
    if claim_rings:
        halo = [patheffects.Stroke(linewidth=3.6, foreground="white"), patheffects.Normal()]
        patch = PathPatch(
            _ring_path(claim_rings),
            facecolor="none",
            edgecolor=CLAIM_LINE,
            lw=2.0,
            ls=(0, (5, 2.5)),
            hatch="\\\\\\\\",
            zorder=4,
            gid="claim",
        )
        patch.set_path_effects(halo)
        ax.add_artist(patch)
    legend.append(
        (
            Patch(facecolor="none", edgecolor=CLAIM_LINE, hatch="\\\\\\\\", lw=1.8, ls=(0, (5, 2.5))),
            claim_text,
        )
    )

    # Landmarks, labelled with their radius.
    if lms:
        x, y = view.project_points([lm.lat_deg for lm in lms], [lm.lon_deg for lm in lms])
        ax.scatter(
            x, y, s=70, marker="^", c="#000000", edgecolors="white", linewidths=0.9, zorder=6, gid="landmarks"
        )
        items = []
        for lm, xx, yy in zip(lms, x, y, strict=True):
            if np.isfinite(xx) and bool(view.contains_xy(xx, yy)):
                who = f"{lm.id} {lm.name}".strip()
                rtt = f", {lm.rtt_ms:.3g} ms" if math.isfinite(lm.rtt_ms) else ""
                items.append((float(xx), float(yy), f"{who}: {fmt_km(lm.radius_km)}{rtt}"))
        _place_labels(ax, items, [], len(items))
        legend.append(
            (
                Line2D([], [], ls="", marker="^", ms=8, mfc="black", mec="white"),
                f"deciding landmark ({len(lms)}): id, disc radius, RTT",
            )
        )
    ax.text(
        0.015,
        0.985,
        wrap(decision_label, 60),
        transform=ax.transAxes,
        ha="left",
        va="top",
        fontsize=10,
        fontweight="bold",
        zorder=12,
        bbox={"boxstyle": "round,pad=0.4", "facecolor": "white", "edgecolor": "black", "lw": 1.2},
        gid="decision",
    )
    draw_scale_bar(ax, view)
    ax.set_xlim(view.x0_km, view.x1_km)
    ax.set_ylim(view.y0_km, view.y1_km)

    lax = fig.add_subplot(gs[0, 1])
    lax.axis("off")
    entries = legend + basemap_legend()
    lax.legend(
        [h for h, _ in entries],
        [wrap(t, 34) for _, t in entries],
        loc="upper left",
        fontsize=8,
        frameon=False,
        borderaxespad=0.0,
        handlelength=2.6,
        labelspacing=0.8,
        title="Legend",
        title_fontproperties={"weight": "bold", "size": 9},
        alignment="left",
    )
    fig.suptitle(title or f"Verification: {decision_label}", fontsize=13, x=0.04, ha="left", y=0.965)
    foot = f"Projection: {view.projection.name}. Borders: Natural Earth."
    if note:
        foot = f"{note}\n{foot}"
    fig.text(0.04, 0.012, wrap(foot, 170), fontsize=7.5, ha="left", va="bottom", color="#333333")
    if path is None:
        return fig
    return _mpl.save(fig, path, dpi=dpi)


_REPORT_CSS_EXTRA = """
.verdict { font-size: 1.2rem; font-weight: 700; border: 2px solid #000; padding: 0.5rem 0.8rem;
           display: inline-block; }
tr.deciding td { font-weight: 600; }
"""


def verification_report_html(
    claim: Mapping[str, Any],
    region: Mapping[str, Any] | None,
    landmarks: Sequence[DecidingLandmark | Mapping[str, Any] | Any],
    decision_label: str,
    *,
    summary: Sequence[tuple[str, str]] = (),
    table: Sequence[Mapping[str, Any]] = (),
    details: Mapping[str, Any] | None = None,
    claim_radius_km: float | None = None,
    region_label: str = "region the RTTs allow",
    claim_label: str | None = None,
    verdict: str | None = None,
    title: str | None = None,
    note: str = "",
) -> str:
    """One self-contained HTML page of a verification (see :func:`write_verification_report`);
    ``verdict`` is the line in the box at its top (default ``decision_label``)."""
    import html
    import json

    from rttgeo.plot.report import _CSS, _svg_of

    fig = draw_verification(claim, region, landmarks, decision_label, None,
                            claim_radius_km=claim_radius_km, region_label=region_label,
                            claim_label=claim_label, title=title, note=note)
    svg = _svg_of(fig).replace('aria-label="map of the estimate"',
                               'aria-label="map of the verification"', 1)
    heading = title or f"Verification: {decision_label}"
    dl = "\n".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in summary)
    drawn = {_landmark(x, k).id for k, x in enumerate(landmarks)}

    def num(x: Any, digits: int) -> str:
        try:
            v = float(x)
        except (TypeError, ValueError):
            return "–"
        return f"{v:,.{digits}f}" if math.isfinite(v) else "–"

    trs = []
    for row in table:
        rid = str(row.get("id", ""))
        cls = ' class="deciding"' if row.get("deciding") else ""
        trs.append(
            f'<tr{cls}><td class="id">{html.escape(rid)}</td><td>{num(row.get("lat_deg"), 3)}</td>'
            f'<td>{num(row.get("lon_deg"), 3)}</td><td>{num(row.get("rtt_ms"), 3)}</td>'
            f'<td>{num(row.get("radius_km"), 0)}</td><td>{"yes" if row.get("deciding") else "no"}</td>'
            f'<td>{"yes" if rid in drawn else "no"}</td></tr>'
        )
    body = "\n".join(trs) if trs else '<tr><td colspan="7">no landmark measured</td></tr>'
    pre = html.escape(json.dumps(dict(details or {}), indent=2, default=str))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(heading)}</title>
<style>{_CSS}{_REPORT_CSS_EXTRA}</style>
</head>
<body>
<header>
<h1>{html.escape(heading)}</h1>
<p class="verdict" id="verdict">{html.escape(verdict or decision_label)}</p>
<p class="sub">rttgeo verification report. Everything needed to view it is in this file.</p>
</header>
<main>
<section id="summary"><h2>Summary</h2>
<dl class="summary">
{dl}
</dl>
</section>
<section id="map-section"><h2>Map</h2>
<figure>
{svg}
<figcaption>Hatched, dashed black: the claim. Blue: {html.escape(region_label)}. Triangles: the
deciding landmarks, each with its disc (dash-dot): how far its round trip allows the host to be.
Borders and coastlines: Natural Earth (public domain) via world-atlas (ISC).</figcaption>
</figure>
</section>
<section id="landmarks"><h2>Landmarks</h2>
<p>Deciding (bold): the landmark's constraint borders the region the RTTs allow; its disc radius
is the farthest the host can be from it given its RTT (sound mode: light in vacuum plus the
landmark's position uncertainty).</p>
<table id="landmark-table">
<thead><tr><th class="id">landmark</th><th>lat (°)</th><th>lon (°)</th><th>RTT (ms)</th>
<th>disc radius (km)</th><th>deciding</th><th>on the map</th></tr></thead>
<tbody>
{body}
</tbody>
</table>
</section>
<section id="decision"><h2>Decision</h2>
<pre>{pre}</pre>
</section>
</main>
<footer>Map data: Made with Natural Earth (public domain), packaged by world-atlas
(© Michael Bostock, ISC licence).</footer>
</body>
</html>
"""


def write_verification_report(
    claim: Mapping[str, Any],
    region: Mapping[str, Any] | None,
    landmarks: Sequence[DecidingLandmark | Mapping[str, Any] | Any],
    decision_label: str,
    path: str | Path,
    **kw: Any,
) -> Path:
    """Write one self-contained HTML file of a verification to ``path`` (``.html``); returns it.

    It holds the verdict, ``summary`` (label, text) rows, the map of :func:`draw_verification`
    as inline SVG, the ``table`` of landmarks (mappings with ``id``, ``lat_deg``, ``lon_deg``,
    ``rtt_ms``, ``radius_km``, ``deciding``) and ``details`` (the decision as JSON). No script,
    nothing fetched. The other keywords are :func:`verification_report_html`'s. Raises
    InputError for another suffix; never creates a directory.
    """
    p = Path(path)
    if p.suffix.lower() not in (".html", ".htm"):
        raise InputError("a report must be an .html file", where=str(p))
    text = verification_report_html(claim, region, landmarks, decision_label, **kw)
    try:
        p.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror}", where=str(p)) from None
    return p
