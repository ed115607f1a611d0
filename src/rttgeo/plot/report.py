"""One self-contained HTML report of an estimate: map (inline SVG), summary, candidate places,
per-landmark table.

The file needs no network to be viewed: no script, no stylesheet or font from elsewhere, the map
inlined as SVG. It holds no JavaScript at all.
"""

from __future__ import annotations

import html
import io
import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rttgeo.errors import InputError
from rttgeo.geo.sphere import distance_km
from rttgeo.models import Estimate, Landmark
from rttgeo.plot import _mpl

__all__ = ["provenance_rows", "report_html", "write_report"]

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 1.5rem auto;
       max-width: 1200px; padding: 0 1rem; color: #1a1a1a; line-height: 1.4; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.15rem; margin-top: 1.8rem; border-bottom: 1px solid #ccc;
     padding-bottom: 0.2rem; }
.sub { color: #555; margin-top: 0; }
figure { margin: 1rem 0; }
figure svg { width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 0.85rem; color: #444; }
dl.summary { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; }
dl.summary dt { font-weight: 600; }
dl.summary dd { margin: 0; }
table { border-collapse: collapse; font-size: 0.85rem; width: 100%; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: right; }
th { background: #eee; position: sticky; top: 0; }
td.id, th.id, td.note { text-align: left; }
tr.unused td { color: #777; font-style: italic; }
tr.violated td.slack { font-weight: 700; text-decoration: underline; }
code, pre { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.85rem; }
pre { background: #f5f5f5; padding: 0.6rem; overflow-x: auto; }
footer { margin-top: 2rem; font-size: 0.75rem; color: #666; }
"""


def _num(x: float, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:,.{digits}f}"


def _svg_of(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    _mpl.pyplot().close(fig)
    text = buf.getvalue()
    start = text.find("<svg")
    if start < 0:  # pragma: no cover - matplotlib always writes an <svg> element
        raise RuntimeError("matplotlib produced no <svg> element")
    svg = text[start:]
    return svg.replace("<svg ", '<svg id="map" role="img" aria-label="map of the estimate" ', 1)


def _place_names(estimate: Estimate, landmarks: Sequence[Landmark] | None) -> dict[str, str]:
    """A place for each landmark of the estimate: the catalog's own (e.g. "Frankfurt, Germany"),
    else the nearest GeoNames city (e.g. "Strasbourg, FR" for a RIPE anchor listed only as FR)."""
    from rttgeo.plot.places import nearest_city_names

    given = {lm.id: lm.country for lm in landmarks or ()}
    out: dict[str, str] = {}
    todo = []
    for d in estimate.landmarks:
        own = given.get(d.id, "")
        if "," in own or len(own) > 3:  # a place, not a bare country code
            out[d.id] = own
        else:
            todo.append(d)
    for d, city in zip(
        todo, nearest_city_names([d.lat_deg for d in todo], [d.lon_deg for d in todo]), strict=True
    ):
        code = given.get(d.id, "")
        out[d.id] = city or (f"({code})" if code else "")
    return out


#: Labels of the provenance fields (``Provenance.as_dict()`` of an api result) in a report.
_PROVENANCE_LABELS = {
    "source": "RTTs from",
    "source_sha256": "RTTs file SHA-256",
    "campaign": "Campaign",
    "catalog": "Landmark catalog",
    "catalog_sha256": "Catalog SHA-256",
    "calibration": "Calibration",
    "created_utc": "Estimate made (UTC)",
}


def provenance_rows(
    provenance: Mapping[str, Any], labels: Mapping[str, str] | None = None
) -> list[tuple[str, str]]:
    """(label, text) rows of a provenance mapping (e.g. ``Provenance.as_dict()``), in its order:
    every field but ``rttgeo_version`` and ``method`` (a report shows them elsewhere) and the
    empty ones. ``labels`` overrides the default label of a field."""
    names = {**_PROVENANCE_LABELS, **(labels or {})}
    rows = []
    for key, value in provenance.items():
        if key in ("rttgeo_version", "method") or value in (None, ""):
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
        rows.append((names.get(key, key), text))
    return rows


def _provenance_rows(
    estimate: Estimate, provenance: Mapping[str, Any] | None, generated: str
) -> list[tuple[str, str]]:
    from rttgeo import __version__

    rows = [("rttgeo version", __version__), ("Report generated", generated)]
    prov = dict(provenance or {})
    own = getattr(estimate, "provenance", None)  # an estimator may carry its own
    if own is not None and not prov:
        prov = dict(own.as_dict() if hasattr(own, "as_dict") else own)
    rows.extend(provenance_rows(prov))
    credits = ["coastlines and borders: Natural Earth (public domain) via world-atlas (ISC)"]
    if estimate.method == "rttgeo" or "place" in estimate.params:
        credits.append("population prior and place names: GeoNames cities of 15,000+ (CC BY 4.0)")
    else:
        credits.append("place names: GeoNames cities of 15,000+ (CC BY 4.0)")
    rows.append(("Data", "; ".join(credits)))
    return rows


def _candidates_section(estimate: Estimate) -> str:
    """The candidate places with their probability (as ``rttgeo estimate`` prints them), or ""
    when the method gives none."""
    if not estimate.candidates:
        return ""
    radius = estimate.candidates[0].radius_km
    trs = []
    for c in estimate.candidates:
        where = f"{c.name}, {c.country}" if c.country else c.name
        trs.append(
            f'<tr><td class="id">{html.escape(where)}</td><td>{c.probability:.1%}</td>'
            f"<td>{_num(c.lat_deg, 4)}</td><td>{_num(c.lon_deg, 4)}</td>"
            f"<td>{_num(c.distance_km, 0)}</td></tr>"
        )
    body = "\n".join(trs)
    return f"""<section id="candidates"><h2>Candidates</h2>
<p>Candidates (probability the host is within {radius:g} km; the first is the point's place).</p>
<table id="candidate-table">
<thead><tr><th class="id">place</th><th>probability</th><th>lat (°)</th><th>lon (°)</th>
<th>km from the point</th></tr></thead>
<tbody>
{body}
</tbody>
</table>
</section>
"""


def report_html(
    estimate: Estimate,
    *,
    true_location: tuple[float, float] | None = None,
    summary: Mapping[str, Any] | None = None,
    title: str | None = None,
    landmarks: Sequence[Landmark] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> str:
    """The report as an HTML string (see :func:`write_report`)."""
    tlat, tlon = (None, None) if true_location is None else map(float, true_location)
    fig = _mpl_map(estimate, tlat, tlon, landmarks, title)
    svg = _svg_of(fig)
    heading = title or f"Where is the host? — {estimate.method}"
    rows: list[tuple[str, str]] = [
        ("Method", estimate.method),
        ("Point estimate", f"{estimate.lat_deg:.4f}°, {estimate.lon_deg:.4f}° (lat, lon)"),
    ]
    if estimate.region is not None:
        kind = (
            f"{estimate.level:.0%} most probable region" if estimate.level is not None else "feasible region"
        )
        rows.append(("Region", f"{kind}: {_num(estimate.area_km2, 0)} km²"))
    else:
        rows.append(("Region", "none (this method gives a point only)"))
    rows.append(("Constraints consistent", "yes" if estimate.consistent else "no"))
    n_used = sum(1 for d in estimate.landmarks if d.used)
    rows.append(("Landmarks", f"{n_used} used of {len(estimate.landmarks)}"))
    if tlat is not None and tlon is not None:
        err = float(distance_km(estimate.lat_deg, estimate.lon_deg, tlat, tlon))
        rows.append(("True location", f"{tlat:.4f}°, {tlon:.4f}°"))
        rows.append(("Error", f"{_num(err, 1)} km"))
        if estimate.region is not None and not estimate.region.empty:
            inside = bool(estimate.region.contains(tlat, tlon))
            rows.append(("Truth inside region", "yes" if inside else "no"))
    if estimate.note:
        rows.append(("Note", estimate.note))
    for k, v in (summary or {}).items():
        rows.append((str(k), v if isinstance(v, str) else json.dumps(v, default=str)))
    dl = "\n".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in rows)

    diags = sorted(
        estimate.landmarks,
        key=lambda d: (not d.used, d.rtt_ms if math.isfinite(d.rtt_ms) else math.inf),
    )
    places = _place_names(estimate, landmarks)
    trs = []
    for d in diags:
        cls = []
        if not d.used:
            cls.append("unused")
        if math.isfinite(d.slack_km) and d.slack_km < 0:
            cls.append("violated")
        trs.append(
            f'<tr class="{" ".join(cls)}"><td class="id">{html.escape(d.id)}</td>'
            f'<td class="id">{html.escape(places.get(d.id, ""))}</td>'
            f"<td>{d.lat_deg:.3f}</td><td>{d.lon_deg:.3f}</td>"
            f"<td>{_num(d.rtt_ms, 2)}</td><td>{_num(d.max_distance_km, 0)}</td>"
            f'<td>{_num(d.distance_km, 0)}</td><td class="slack">{_num(d.slack_km, 0)}</td>'
            f'<td>{"yes" if d.used else "no"}</td><td class="note">{html.escape(d.note)}</td></tr>'
        )
    table = "\n".join(trs) if trs else '<tr><td colspan="10">no landmark diagnostics</td></tr>'
    params = html.escape(json.dumps(dict(estimate.params), indent=2, default=str, sort_keys=True))
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    prov_dl = "\n".join(
        f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>"
        for k, v in _provenance_rows(estimate, provenance, generated)
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(heading)}</title>
<style>{_CSS}</style>
</head>
<body>
<header>
<h1>{html.escape(heading)}</h1>
<p class="sub">rttgeo {html.escape(_version())} report generated {generated}.
Everything needed to view it is in this file.</p>
</header>
<main>
<section id="summary"><h2>Summary</h2>
<dl class="summary">
{dl}
</dl>
</section>
{_candidates_section(estimate)}<section id="map-section"><h2>Map</h2>
<figure>
{svg}
<figcaption>Star: point estimate. The region: for a probabilistic method, the posterior's density
(darker: more probable) with its 50 % (solid) and 90 % (dashed) credible regions; for a method of
hard constraints, the exact intersection of the landmarks' discs, hatched. Triangles: landmarks,
filled by RTT (colour bar); dashed circles: how far the RTT of each of the most binding or
tightest landmarks allows the host to be. X: true location, when known. Distances are true from
the map's centre (azimuthal equidistant projection); the scale bar is true where it is drawn.
Borders and coastlines: Natural Earth (public domain) via world-atlas (ISC).</figcaption>
</figure>
</section>
<section id="landmarks"><h2>Landmarks</h2>
<p>Max distance: the farthest the host can be from the landmark given its RTT under the method's
model. Slack = max distance − distance from the estimate; negative (bold, underlined) means the
point estimate violates that landmark's constraint. Unused landmarks are in grey italics. Place:
the catalog's, or the most populous city of at least 15,000 inhabitants within 40 km (GeoNames).</p>
<table id="landmark-table">
<thead><tr><th class="id">landmark</th><th class="id">place</th><th>lat (°)</th><th>lon (°)</th>
<th>RTT (ms)</th>
<th>max distance (km)</th><th>distance from estimate (km)</th><th>slack (km)</th><th>used</th>
<th class="id">note</th></tr></thead>
<tbody>
{table}
</tbody>
</table>
</section>
<section id="params"><h2>Method parameters</h2>
<pre>{params}</pre>
</section>
<section id="provenance"><h2>Provenance</h2>
<dl class="summary">
{prov_dl}
</dl>
</section>
</main>
<footer>Map data: Made with Natural Earth (public domain), packaged by world-atlas
(© Michael Bostock, ISC licence).</footer>
</body>
</html>
"""


def _version() -> str:
    from rttgeo import __version__

    return __version__


def _mpl_map(
    estimate: Estimate,
    tlat: float | None,
    tlon: float | None,
    landmarks: Sequence[Landmark] | None,
    title: str | None,
) -> Any:
    from rttgeo.plot.maps import map_estimate

    return map_estimate(
        estimate,
        None,
        true_lat_deg=tlat,
        true_lon_deg=tlon,
        landmarks=landmarks,
        title=title,
    )


def write_report(
    estimate: Estimate,
    path: str | Path,
    *,
    true_location: tuple[float, float] | None = None,
    summary: Mapping[str, Any] | None = None,
    title: str | None = None,
    landmarks: Sequence[Landmark] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> Path:
    """Write one self-contained HTML file about ``estimate`` to ``path``; returns the path.

    It holds the map as inline SVG, a summary (point, region and its area, error and whether the
    truth is inside the region when ``true_location`` = (lat_deg, lon_deg) is given, and every
    item of ``summary``), the candidate places with their probability (methods that give them),
    the per-landmark table (id and place, RTT, implied max distance, distance
    from the estimate, slack), the method's parameters, and the provenance: the rttgeo version,
    every item of ``provenance`` (e.g. ``Provenance.as_dict()`` of an api result: source of the
    RTTs, catalog and its hash, calibration, campaign) and the data used. No network is needed.
    """
    p = Path(path)
    if p.suffix.lower() not in (".html", ".htm"):
        raise InputError("a report must be an .html file", where=str(p))
    text = report_html(
        estimate,
        true_location=true_location,
        summary=summary,
        title=title,
        landmarks=landmarks,
        provenance=provenance,
    )
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p
