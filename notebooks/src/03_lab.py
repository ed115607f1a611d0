"""Source of notebooks/03_lab.ipynb (build with notebooks/build.py)."""
# %% [markdown]
# # 3. Locate a host in the lab, with real packets
#
# `rttgeo lab` builds a small Internet on this machine: every host is a Linux network namespace,
# and a delay engine holds each packet for as long as light in fibre would take between the hosts'
# places (docs/lab.md). Real ICMP echo requests and replies cross real network stacks, so
# `rttgeo locate` runs inside the lab exactly as it would on the Internet.
#
# Here we bring up `examples/worlds/europe.toml` (five landmarks, two targets), check the RTTs
# against what the world file configures, locate both targets, tear the lab down, and map the
# results. Building namespaces needs **root** (CI runs as root); without it, the cells below say
# so and do nothing, except in CI (`CI=true`), where a missing facility is an error. No packet
# leaves the machine: all addresses are inside the lab's namespaces.

# %%
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from IPython.display import Image, display

from rttgeo import plot
from rttgeo.geo import distance_km
from rttgeo.units import C_KM_PER_MS


def show(fig, dpi=90):
    """A matplotlib figure as an inline PNG (rttgeo draws with the Agg backend)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return Image(buf.getvalue())


RTTGEO = [sys.executable, "-m", "rttgeo"]
WORLD = Path("..") / "examples" / "worlds" / "europe.toml"
missing = []
if os.geteuid() != 0:
    missing.append("root (run the notebook as root, e.g. in CI or with sudo)")
if not Path("/dev/net/tun").exists():
    missing.append("/dev/net/tun (TUN devices)")
if shutil.which("ip") is None:
    missing.append("the 'ip' command (Debian package iproute2)")
if not WORLD.exists():
    missing.append(f"the world file {WORLD}")
LAB_OK = not missing
if LAB_OK:
    print("the lab can run here: root, TUN and iproute2 are available")
elif os.environ.get("CI", "").lower() == "true":
    raise RuntimeError("CI=true but the lab cannot run here; missing: " + "; ".join(missing))
else:
    print("The lab cells of this notebook do nothing here; missing: " + "; ".join(missing))

# %% [markdown]
# ## Run the experiment
#
# One cell brings the lab up, measures, and always takes it down again (`try/finally`), so a
# failure in the middle leaves no namespaces behind. `rttgeo lab exec HOST -- CMD` runs a command
# inside a host's namespace; there we run `rttgeo locate` with the lab's landmark catalog.

# %%
def run(*args, timeout=120):
    out = subprocess.run([*args], capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} failed ({out.returncode}):\n{out.stderr}")
    return out.stdout


workdir = Path(tempfile.mkdtemp(prefix="rttgeo-nb3-"))
results = {}
if LAB_OK:
    lab = json.loads(run(*RTTGEO, "lab", "up", str(WORLD), "--json"))
    try:
        print(f"lab {lab['id']} up: world {lab['world']!r} in {lab['network']}")
        for h in lab["hosts"]:
            print(f"  {h['role']:<9}{h['name']:<11}{h['address']:<14}"
                  f"({h['lat_deg']:.3f}, {h['lon_deg']:.3f})")
        ping = run(*RTTGEO, "lab", "exec", "--lab", lab["id"], "lyon", "--",
                   "ping", "-c", "3", "-i", "0.2", lab["hosts"][0]["address"])
        print("\nlyon -> paris:", ping.strip().splitlines()[-1])
        for target in ("lyon", "milan"):
            out = workdir / f"{target}.json"
            text = run(*RTTGEO, "lab", "exec", "--lab", lab["id"], target, "--",
                       *RTTGEO, "locate", "--landmarks", lab["catalog"], "-k", "10", "-q",
                       "--out", str(out))
            print(f"\n{target}:\n{text}")
            results[target] = out
    finally:
        print(run(*RTTGEO, "lab", "down", lab["id"]).strip())
else:
    print("no lab here: it needs " + "; ".join(missing))

# %% [markdown]
# ## Measured against configured
#
# The world file says: paths are 1.4 times the great circle, light goes at 2/3 c, london adds
# 0.5 ms and milan 1 ms to every RTT to or from them (their access links). So the RTT between two
# hosts should be 2 × 1.4 × distance / (2/3 · c) + access of both ends. The engine adds a little
# (tens of microseconds of scheduling and the network stack, docs/lab.md) and never removes delay,
# so every measured minimum RTT that `locate` used must lie between the configured RTT and the
# configured RTT plus the lab's bound (`rttgeo.lab.check`, 0.5 ms): the cell fails otherwise.
# `locate` runs with `-k 10`, ten samples per landmark: on a busy machine one sample can be
# milliseconds late, the least of ten rarely is.

# %%
import tomllib

from rttgeo.lab import load_world
from rttgeo.lab.check import OVERHEAD_BOUND_MS, compare_to_configured

if results:
    world = tomllib.loads(WORLD.read_text())
    hosts = {h["name"]: h for h in world["hosts"]}
    speed = world["delay"]["fraction_of_c"] * C_KM_PER_MS
    print(f"{'target':<7}{'landmark':<11}{'configured ms':>14}{'measured ms':>13}{'diff ms':>9}")
    checks = []
    for target, path in results.items():
        est = plot.estimate_from_json(path)
        t = hosts[target]
        measured = {d.id: d.rtt_ms for d in est.landmarks}
        assert set(measured) == {h["name"] for h in world["hosts"] if h["role"] == "landmark"}
        rows = compare_to_configured(load_world(WORLD), target, measured)
        for row in rows:
            lm = hosts[row.landmark]
            km = float(distance_km(t["lat_deg"], t["lon_deg"], lm["lat_deg"], lm["lon_deg"]))
            access_ms = lm.get("access_ms", 0.0) + t.get("access_ms", 0.0)
            want = 2 * world["delay"]["inflation"] * km / speed + access_ms
            # the formula above is what the lab configured
            assert abs(want - row.configured_ms) < 1e-9, (want, row)
            print(f"{target:<7}{row.landmark:<11}{want:>14.3f}{row.measured_ms:>13.3f}"
                  f"{row.excess_ms:>+9.3f}")
        checks.extend(rows)
    bad = [str(r) for r in checks if not r.ok]
    assert not bad, "the lab is off by more than its bound:\n" + "\n".join(bad)
    print(f"\nall {len(checks)} RTTs within [configured, configured + {OVERHEAD_BOUND_MS} ms]")
else:
    print("nothing to compare: no lab results (see above)")

# %% [markdown]
# The sign of the differences is what physics demands: the engine can delay a packet, never
# hasten it.
#
# ## Where the targets were placed

# %%
if results:
    for target, path in results.items():
        est = plot.estimate_from_json(path)
        t = hosts[target]
        # what the text below says: the region is sound, the target is inside it
        assert est.region is not None and bool(est.region.contains(t["lat_deg"], t["lon_deg"])), target
        display(show(plot.map_estimate(
            est, None, true_lat_deg=t["lat_deg"], true_lon_deg=t["lon_deg"],
            title=f"lab target {target}: located with real ICMP packets",
        )))
else:
    print("nothing to map: no lab results (see above)")

# %% [markdown]
# Five landmarks and the speed-of-light-in-fibre bound give a big but sound region: both targets
# are inside it. The lab makes it cheap to ask what more landmarks, jitter (`jitter_ms`), loss, or
# a delay-adding target would do: edit the world file and run this notebook again.

# %%
shutil.rmtree(workdir, ignore_errors=True)  # the saved estimates were only needed above
