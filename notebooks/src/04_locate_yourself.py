"""Source of notebooks/04_locate_yourself.ipynb (build with notebooks/build.py)."""
# %% [markdown]
# # 4. Locate your own machine, and read the result
#
# `rttgeo locate` probes landmark servers whose positions are known (by default the RIPE Atlas
# anchors bundled with rttgeo, a snapshot of April 2023), takes the minimum RTT to each, and
# estimates where this machine is. Run it from a shell on the machine you want to locate:
#
# ```
# rttgeo locate --two-stage --out me.json          # about 200 landmarks, a few seconds
# rttgeo locate --limit 100 --protocol tcp --port 443 --out me.json   # when ICMP is blocked
# ```
#
# - `--two-stage` first probes a spread of landmarks, then more of those near the coarse estimate.
# - ICMP needs either root (raw sockets) or the kernel's unprivileged ICMP sockets
#   (`sysctl net.ipv4.ping_group_range`); rttgeo tells you which when it is refused.
# - `--out me.json` keeps the estimate: the point, the region as GeoJSON, its area, the method and
#   every landmark's RTT and constraint. `--out me.geojson` writes a GeoJSON FeatureCollection
#   instead, for any map tool.
#
# This notebook contacts the Internet **only** if you set the environment variable
# `RTTGEO_ONLINE=1` before starting Jupyter; otherwise (and in CI) it sends nothing and reads a
# result made offline from real measured data instead.

# %%
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
from IPython.display import Image, display

from rttgeo import plot
from rttgeo.errors import RttgeoWarning
from rttgeo.units import MAX_KM_PER_RTT_MS

warnings.simplefilter("ignore", RttgeoWarning)


def show(fig, dpi=90):
    """A matplotlib figure as an inline PNG (rttgeo draws with the Agg backend)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return Image(buf.getvalue())


ONLINE = os.environ.get("RTTGEO_ONLINE") == "1"
workdir = Path(tempfile.mkdtemp(prefix="rttgeo-nb4-"))
print("online: probing real landmarks on the Internet" if ONLINE else
      "offline: nothing will be sent (set RTTGEO_ONLINE=1 to locate this machine for real)")

# %% [markdown]
# ## Online: locate this machine
#
# Skipped unless `RTTGEO_ONLINE=1`. It runs the same command as above and keeps the result.

# %%
result_path = None
if ONLINE:
    result_path = workdir / "me.json"
    proc = subprocess.run(
        [sys.executable, "-m", "rttgeo", "locate", "--two-stage", "-q", "--out", str(result_path)],
        capture_output=True, text=True, timeout=300,
    )
    print(proc.stdout or proc.stderr)
    if proc.returncode != 0:
        result_path = None
        print(f"rttgeo locate failed (exit {proc.returncode}); using the offline example below")
else:
    print("offline: RTTGEO_ONLINE is not 1, so no probe was sent to the Internet")

# %% [markdown]
# ## Offline: a result from real measured data
#
# Without the Internet we make a result of the same shape from the WonderProxy 2020 mesh: one
# server plays "this machine", the other 245 are its landmarks, and its real minimum RTTs to them
# are what `rttgeo locate` would have measured. We save it as `rttgeo locate --out` does and read
# it back the way you would read your own `me.json`.

# %%
from rttgeo.datasets import load_wonderproxy
from rttgeo.estimate import DEFAULT_METHOD, make_estimator
from rttgeo.estimate.delay import symmetric_rtt_ms

mesh = load_wonderproxy()
me = mesh.index("29")  # Frankfurt, Germany
others = [j for j in range(len(mesh)) if j != me]
rtt_ms = symmetric_rtt_ms(mesh.rtt_ms)[me, others]
estimate = make_estimator(DEFAULT_METHOD).fit(mesh.subset(others)).locate(rtt_ms)
offline_path = workdir / "frankfurt.json"
offline_path.write_text(json.dumps({
    "estimate": estimate.to_json(),
    "measurement": {"source": "WonderProxy 2020 mesh, host 29 left out", "landmarks": len(others)},
}, indent=1))
truth = (float(mesh.lat_deg[me]), float(mesh.lon_deg[me]))
print(f"wrote {offline_path.name}: {offline_path.stat().st_size:,} bytes")
# What this offline example shows, checked: Frankfurt (WonderProxy host 29, 50.117 N 8.683 E) is
# located from its real RTTs to the 245 other hosts, consistently, well within the method's
# leave-one-out median error over all hosts (146 km, docs/estimation.md; 71 km here), and inside
# the method's region.
from rttgeo.geo import distance_km

assert truth == (50.1167, 8.6833) or np.allclose(truth, (50.1167, 8.6833), atol=1e-4), truth
error_km = float(distance_km(estimate.lat_deg, estimate.lon_deg, *truth))
print(f"the estimate is {error_km:.0f} km from Frankfurt")
assert estimate.consistent and error_km < 146.0, error_km
assert bool(estimate.region.contains(*truth))

# %% [markdown]
# ## Reading a result
#
# The JSON document has three parts: `estimate` (what rttgeo concluded), `confidence` (written by
# `rttgeo locate`: a plain-words grade) and `measurement` (how it was measured). In `estimate`:
#
# | field | meaning |
# | --- | --- |
# | `point` | the best single guess, `lat_deg` / `lon_deg` |
# | `region` | GeoJSON (Multi)Polygon: where the host can be (CBG: wherever every landmark's RTT allows; probabilistic methods: the most probable area holding `level` of the probability) |
# | `area_km2` | the region's area: the honest measure of precision |
# | `consistent` | false when the RTTs contradict each other (then `note` says what was relaxed) |
# | `landmarks` | per landmark: `rtt_ms`, `max_distance_km` (how far the RTT allows), `distance_km` from the point, `slack_km` = max − distance (negative: the point breaks that constraint) |

# %%
path = result_path or offline_path
doc = json.loads(path.read_text())
est = plot.estimate_from_json(doc)
print(f"method {est.method}: point ({est.lat_deg:.3f}, {est.lon_deg:.3f}),"
      f" region {est.area_km2:,.0f} km², consistent: {est.consistent}")
if "confidence" in doc:
    print("confidence:", doc["confidence"])
if path == offline_path:  # read back exactly what was written
    assert (est.lat_deg, est.lon_deg) == (estimate.lat_deg, estimate.lon_deg)
    assert est.area_km2 == estimate.area_km2 and est.consistent == estimate.consistent
    assert [d.id for d in est.landmarks] == [d.id for d in estimate.landmarks]
    assert len(est.landmarks) == len(others) == 245
    assert bool(est.region.contains(*truth))
print(f"\nthe 8 nearest landmarks by RTT (of {len(est.landmarks)}):")
print(f"{'landmark':<10}{'RTT ms':>8}{'max km':>9}{'dist km':>9}{'slack km':>10}")
for d in sorted(est.landmarks, key=lambda d: d.rtt_ms if np.isfinite(d.rtt_ms) else np.inf)[:8]:
    print(f"{d.id:<10}{d.rtt_ms:>8.2f}{d.max_distance_km:>9,.0f}{d.distance_km:>9,.0f}"
          f"{d.slack_km:>10,.0f}")
    # the table's definition: slack = max - distance; no landmark allows more than light in vacuum
    assert abs(d.slack_km - (d.max_distance_km - d.distance_km)) < 1e-6 * max(1.0, d.max_distance_km)
    assert d.max_distance_km <= d.rtt_ms * MAX_KM_PER_RTT_MS * (1 + 1e-12)

# %% [markdown]
# The nearest landmark alone already says a lot: an RTT of r ms puts the host within about
# r × 100 km of it in fibre (r × 150 km at the speed of light, a bound nothing can beat). The
# region is what all landmarks agree on together.
#
# ## On a map, and as a report to share

# %%
known = truth if path == offline_path else (None, None)
display(show(plot.map_estimate(
    est, None, true_lat_deg=known[0], true_lon_deg=known[1],
    title="offline example: WonderProxy host 29 (Frankfurt) as 'this machine'"
    if path == offline_path else "this machine",
)))
report = plot.write_report(est, workdir / "report.html",
                           true_location=truth if path == offline_path else None,
                           summary={"source": doc.get("measurement", {}).get("source", "")})
print(f"report: {report} ({report.stat().st_size / 1e3:.0f} kB, opens offline in any browser)")
# one self-contained page: no script, style sheet or image is fetched from elsewhere
html = report.read_text(encoding="utf-8")
assert not re.search(r"<(script|link|img)\b[^>]*\b(src|href)=[\"']?(https?:)?//", html, re.I)

# %% [markdown]
# From the command line the same files come from `rttgeo locate --out me.json` and, once you have
# it, `rttgeo estimate ... --map me.png --report me.html` (see the README).

# %%
import shutil

shutil.rmtree(workdir, ignore_errors=True)
