"""Source of notebooks/01_rtt_vs_distance.ipynb (build with notebooks/build.py)."""
# %% [markdown]
# # 1. RTT against distance on the WonderProxy mesh
#
# Every latency-geolocation method rests on one relation: the farther apart two hosts are, the
# longer a packet takes to go and come back. This notebook looks at that relation on real data:
# the WonderProxy "day in the life of the Internet" mesh of July 2020 (246 servers, the minimum
# RTT of about 60,000 ordered pairs; see `../shared/datasets/README.md`). It runs offline: when the
# raw files are absent, `load_wonderproxy()` uses the compact copy bundled with rttgeo.
#
# What to look for:
# 1. the physical bounds (speed of light in vacuum, light in fibre) below which no point may lie;
# 2. the points that do lie below them, and what they tell about the data (hosts 204 and 220);
# 3. CBG's *bestlines*: a per-landmark line under its points that turns an RTT into a distance.

# %%
import io

import numpy as np
from IPython.display import Image, display

from rttgeo import plot
from rttgeo.datasets import load_wonderproxy
from rttgeo.geo import distance_km, pairwise_distance_km, to_unit_vectors
from rttgeo.units import FIBRE_KM_PER_RTT_MS, MAX_KM_PER_RTT_MS


def show(fig, dpi=100):
    """A matplotlib figure as an inline PNG (rttgeo draws with the Agg backend)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return Image(buf.getvalue())


mesh = load_wonderproxy()
n_pairs = int(np.isfinite(mesh.rtt_ms).sum())
print(f"{mesh.name}: {len(mesh)} hosts, {n_pairs:,} measured ordered pairs")

# %% [markdown]
# ## The physical bounds
#
# Light in vacuum covers 299,792 km/s, so a round trip of 1 ms can reach at most
# 149.9 km away: RTT ≥ distance / 149.9 km/ms. This is the only bound that holds for every medium
# (microwave links and hollow-core fibre run close to c). In glass fibre light travels at about
# 2/3 c, 99.9 km per ms of RTT; real paths are longer than great circles and add queueing and
# processing, so real points sit well above both lines.

# %%
print(f"speed of light: {MAX_KM_PER_RTT_MS:.1f} km per ms of RTT; fibre: {FIBRE_KM_PER_RTT_MS:.1f}")
show(plot.rtt_vs_distance(mesh))

# %% [markdown]
# ## Points that break physics
#
# Points under the dashed fibre line are faster than light in fibre; the few under the solid line
# are faster than light itself. A packet cannot do that, so either the path is not what we think or
# the *coordinates* are wrong. Count, for each host, the pairs it is part of that beat fibre:

# %%
u = to_unit_vectors(mesh.lat_deg, mesh.lon_deg)
dist_km = pairwise_distance_km(u, u)
with np.errstate(invalid="ignore"):
    fast = mesh.rtt_ms < dist_km / FIBRE_KM_PER_RTT_MS  # NaN (not measured) compares False
per_host = fast.sum(axis=0) + fast.sum(axis=1)
print(f"{int(fast.sum())} ordered pairs are faster than light in fibre")
for i in np.argsort(-per_host)[:6]:
    print(f"  host {mesh.ids[i]:>4}  {mesh.labels[i]:<30} {per_host[i]:4d} pairs")
top2 = {mesh.ids[i] for i in np.argsort(-per_host)[:2]}
assert top2 == {"220", "204"}, top2

# %% [markdown]
# Two hosts account for almost all of them: **220 (La Ceiba, Honduras)** and **204 (Belfast)**.
# A handful of violations spread over many hosts is measurement noise or an unusual path; hundreds
# concentrated on one host mean its listed position is wrong. Its smallest RTTs show where it
# really is:

# %%
sym = np.fmin(mesh.rtt_ms, mesh.rtt_ms.T)  # best of both directions: closest to propagation delay
for hid in ("220", "204"):
    i = mesh.index(hid)
    row = np.where(np.isnan(sym[i]), np.inf, sym[i])
    print(f"host {hid}, listed at {mesh.labels[i]} ({mesh.lat_deg[i]:.2f}, {mesh.lon_deg[i]:.2f});"
          " smallest RTTs:")
    for j in np.argsort(row)[:5]:
        print(f"  {sym[i, j]:6.2f} ms to {mesh.ids[j]:>4} {mesh.labels[j]:<28}"
              f" listed {dist_km[i, j]:>6,.0f} km away")

# %% [markdown]
# A few milliseconds to hosts thousands of kilometres from the listed city is impossible at any
# speed. Let the other 245 hosts locate each suspect host with CBG at the speed of light (a sound
# bound: the true position is inside every circle unless RTTs or landmark positions are wrong):

# %%
from rttgeo.estimate import make_estimator

for hid in ("220", "204"):
    i = mesh.index(hid)
    others = [j for j in range(len(mesh)) if j != i]
    est = make_estimator("cbg", fraction_of_c=1.0).fit(mesh.subset(others))
    e = est.locate(sym[i, others])
    moved = float(distance_km(e.lat_deg, e.lon_deg, mesh.lat_deg[i], mesh.lon_deg[i]))
    inside = e.region is not None and bool(e.region.contains(mesh.lat_deg[i], mesh.lon_deg[i]))
    print(f"host {hid}: CBG puts it at ({e.lat_deg:.2f}, {e.lon_deg:.2f}), {moved:,.0f} km from"
          f" the listed position; listed position inside the feasible region: {inside}")
    display(show(plot.map_estimate(
        e, None, true_lat_deg=float(mesh.lat_deg[i]), true_lon_deg=float(mesh.lon_deg[i]),
        truth_label="listed (suspect) location",
        title=f"Host {hid} ({mesh.labels[i]}) located from the other hosts (CBG, speed of light)",
    ), dpi=80))

# %% [markdown]
# Even with circles at the speed of light in vacuum, which no path can beat, the listed positions
# fall outside the region where the RTTs allow the hosts to be: the coordinates are wrong, not the
# packets. Host 220 answers like a machine in the New York area, host 204 like one in south-east
# England.
#
# This is why `mesh.bad` marks 204 and 220: they must never be evaluation targets (their "truth"
# is false), and estimators treat them as landmarks with suspicion.
#
# ## Bestlines
#
# CBG (Gueye et al. 2006) learns, for each landmark, the line rtt = m·d + b that lies under all of
# its (distance, RTT) points and as close to them as possible, with b ≥ 0 and a slope no faster
# than fibre. 1/m is the landmark's effective speed; b its fixed local delay. An RTT r then bounds
# the distance by (r − b)/m, a much tighter circle than the speed of light gives.

# %%
from rttgeo.estimate.delay import fit_bestline

good = ~mesh.bad
bestlines = {}
for hid in ("29", "31", "13", "175"):  # Frankfurt, Singapore, New York, Johannesburg
    i = mesh.index(hid)
    ok = good & np.isfinite(sym[i]) & (sym[i] >= dist_km[i] / FIBRE_KM_PER_RTT_MS)
    ok[i] = False
    m, b = fit_bestline(dist_km[i, ok], sym[i, ok])
    bestlines[f"{hid} {mesh.labels[i].split(',')[0]}"] = (m, b)
    print(f"{mesh.labels[i]:<28} {1 / m:6.1f} km per ms of RTT (fibre: {FIBRE_KM_PER_RTT_MS:.1f}),"
          f" intercept {b:5.2f} ms, from {int(ok.sum())} points")
show(plot.rtt_vs_distance(mesh, bestlines=bestlines, max_distance_km=20000.0,
                          title="WonderProxy 2020 with four CBG bestlines"))

# %% [markdown]
# The bestlines are steeper than the fibre line: even the best paths from these landmarks cover
# only about 60-85 km per ms of RTT, not 99.9, because cables do not follow great circles and
# routers add delay; the spread above the lines is detours and queues. An RTT of 10 ms from
# Frankfurt thus bounds the host to about (10 − b)/m ≈ 720 km, against 1,499 km at the speed of
# light. The price: a bestline is learnt from the mesh, so a host that is better connected than
# any landmark pair can fall outside its circle. Notebook 2 compares the estimators built on these
# models.
