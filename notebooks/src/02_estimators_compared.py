"""Source of notebooks/02_estimators_compared.ipynb (build with notebooks/build.py)."""
# %% [markdown]
# # 2. Estimators compared, leave-one-out on WonderProxy
#
# Each WonderProxy server in turn plays the *target*: the estimators are fitted on the other 245
# (calibration never sees an RTT of the target) and locate it from its RTTs to them. The error is
# the great-circle distance from the point estimate to the server's listed position. Hosts 204 and
# 220 are never targets: their listed positions are wrong (notebook 1).
#
# Methods (`rttgeo.estimate.METHODS`):
# - **shortest-ping**: the position of the landmark with the smallest RTT;
# - **geoping**: nearest neighbour in RTT-vector space among the landmarks;
# - **cbg**: intersection of circles of radius RTT × (speed of light in fibre, 2/3 c) / 2 (a
#   region that holds the host unless a path is faster than fibre or the data are wrong);
# - **cbg-bestline**: CBG with circles from per-landmark bestlines (tighter, learnt);
# - **spotter**: a probabilistic delay-distance model; the region holds 90 % of the posterior.
#
# The slower methods take about a second per target on a small machine, so by default this
# notebook uses an evenly spread sample of targets; set `RTTGEO_NB_TARGETS=0` to use them all.

# %%
import io
import os
import time
import warnings

import numpy as np
from IPython.display import Image, display

from rttgeo import plot
from rttgeo.datasets import load_wonderproxy
from rttgeo.errors import RttgeoWarning
from rttgeo.estimate import DEFAULT_METHOD, METHODS
from rttgeo.estimate.evaluate import format_table, leave_one_out, summarize

warnings.simplefilter("ignore", RttgeoWarning)


def show(fig, dpi=90):
    """A matplotlib figure as an inline PNG (rttgeo draws with the Agg backend)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return Image(buf.getvalue())


mesh = load_wonderproxy()
candidates = [i for i in range(len(mesh)) if not mesh.bad[i]]
n_wanted = int(os.environ.get("RTTGEO_NB_TARGETS", "12"))
if 0 < n_wanted < len(candidates):
    pick = np.linspace(0, len(candidates) - 1, n_wanted).round().astype(int)
    targets = [candidates[k] for k in pick]
else:
    targets = candidates
print(f"{len(targets)} targets of {len(candidates)} usable hosts; methods: {', '.join(METHODS)}")

# %%
results = {}
for method in METHODS:
    t0 = time.perf_counter()
    results[method] = leave_one_out(mesh, method, targets=targets, keep_estimates=True)
    print(f"{method:<14} {time.perf_counter() - t0:5.1f} s")
print()
print(format_table([summarize(r) for r in results.values()]))

# %% [markdown]
# **Reading the table.** *median / p80 / p90*: error percentiles in km. *coverage*: the share of
# targets whose true position lies inside the method's region (for CBG this should be close to
# 100 %; a miss means a landmark's RTT was faster than the model allows). *area*: the median size
# of that region, the price of the coverage. *incons*: targets whose constraints had no common
# point, so the method had to relax them.
#
# ## Error distributions

# %%
show(plot.error_cdf({m: r.error_km for m, r in results.items()},
                    title=f"Leave-one-out error on WonderProxy 2020 ({len(targets)} targets)"))

# %% [markdown]
# ## Regions: how big, and do they hold the truth?
#
# A point estimate alone hides how sure a method is. The region methods trade area against
# coverage: a small region that misses the host is worse than a big one that holds it.

# %%
for m, r in results.items():
    if not r.has_region:
        continue
    area = r.area_km2[np.isfinite(r.area_km2)]
    print(f"{m:<14} truth inside region for {r.covered.mean():5.0%} of targets; region area"
          f" median {np.median(area):>12,.0f} km², 90th percentile {np.percentile(area, 90):>12,.0f} km²")

# %% [markdown]
# ## The worst and best targets of the default method
#
# Maps of the targets where the default method does worst (top row) and best (bottom row). Worst
# cases usually have no landmark nearby, or a landmark whose RTT is unusually fast or slow.

# %%
r = results[DEFAULT_METHOD]
idx = [mesh.index(t) for t in r.target_ids]
assert len(r.estimates) == len(idx), "some targets had no estimate"
names = [f"{mesh.ids[i]} {mesh.labels[i].split(',')[0]}" for i in idx]
show(plot.eval_grid(list(r.estimates), mesh.lat_deg[idx], mesh.lon_deg[idx], names=names,
                    n_worst=3, n_best=3), dpi=70)

# %% [markdown]
# ## One target, two methods
#
# The same target located by sound CBG and by the probabilistic Spotter model, drawn with the
# lower-level `rttgeo.plot.draw_estimate` on axes of our own.

# %%
import matplotlib.pyplot as plt

from rttgeo.estimate import make_estimator
from rttgeo.estimate.delay import symmetric_rtt_ms
from rttgeo.plot.maps import draw_estimate

k = int(np.argsort(results[DEFAULT_METHOD].error_km)[len(targets) // 2])  # a median case
tid = results[DEFAULT_METHOD].target_ids[k]
i = mesh.index(tid)
others = [j for j in range(len(mesh)) if j != i]
rtt_ms = symmetric_rtt_ms(mesh.rtt_ms)[i, others]  # the target's RTTs to the 245 others
pair = [m for m in ("cbg", "spotter") if m in METHODS]
fig, axes = plt.subplots(1, len(pair), figsize=(6.5 * len(pair), 6.0))
fig.subplots_adjust(left=0.05, right=0.98, top=0.93, bottom=0.3, wspace=0.15)
for ax, m in zip(np.atleast_1d(axes), pair, strict=True):
    e = make_estimator(m).fit(mesh.subset(others)).locate(rtt_ms)
    layers = draw_estimate(ax, e, true_lat_deg=float(mesh.lat_deg[i]),
                           true_lon_deg=float(mesh.lon_deg[i]), max_labels=3)
    ax.set_title(f"{m}: host {tid} {mesh.labels[i]}, error {layers.error_km:,.0f} km", fontsize=9)
    handles, labels = zip(*layers.legend, strict=True)
    ax.legend(handles, labels, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.07),
              frameon=False)
display(show(fig))

# %% [markdown]
# ## All targets, fast methods
#
# The point methods and CBG take milliseconds per target, so they can run on every usable host.

# %%
fast = [m for m in ("shortest-ping", "geoping", "cbg") if m in METHODS]
full = {m: leave_one_out(mesh, m) for m in fast}
print(format_table([summarize(r) for r in full.values()]))
show(plot.error_cdf({m: r.error_km for m, r in full.items()},
                    title=f"Leave-one-out error, all {len(candidates)} usable WonderProxy hosts"))
