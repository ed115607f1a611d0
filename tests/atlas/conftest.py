"""The fake RIPE Atlas API world used by the atlas tests (see fakeapi.py)."""

from __future__ import annotations

import numpy as np
import pytest

from .fakeapi import FakeAtlas, FakeProbe

KEY = "0f3c2b1a-9d8e-4c7b-a6f5-e4d3c2b1a098"

#: The anchor that lies: truly in Frankfurt, declared on Tahiti.
LIAR_ID = 990001


def build_world(n_targets: int = 20) -> tuple[FakeAtlas, dict[str, tuple[float, float]]]:
    """Probes at the bundled RIPE anchors' positions (+ probes, a liar, a disconnected one);
    targets at real WonderProxy server positions (IPv4 and two IPv6)."""
    from rttgeo.catalog import load_default_catalog
    from rttgeo.datasets import load_wonderproxy

    anchors = load_default_catalog()
    probes = [
        FakeProbe(int(lm.id.split("-")[1]), lm.lat_deg, lm.lon_deg, True, lm.address,
                  f"2001:db8:a::{int(lm.id.split('-')[1]):x}", lm.country or "XX")
        for lm in anchors
    ]
    rng = np.random.default_rng(7)
    for k in range(40):  # ordinary probes near anchors
        a = anchors[int(rng.integers(len(anchors)))]
        probes.append(FakeProbe(800000 + k, a.lat_deg + rng.normal(0, 0.3),
                                a.lon_deg + rng.normal(0, 0.3), False, f"203.0.113.{k + 1}",
                                None, a.country or "XX", ipv6_works=False))
    probes.append(FakeProbe(LIAR_ID, 50.11, 8.68, True, "203.0.113.250", "2001:db8:a::ffff", "PF",
                            declared=(-17.535, -149.569)))
    probes.append(FakeProbe(990002, 48.85, 2.35, True, "203.0.113.251", None, "FR", status_id=2))
    wp = load_wonderproxy(bundled=True)
    good = [i for i in range(len(wp)) if not wp.bad[i]]
    # a Frankfurt target first (so the liar, truly in Frankfurt, answers it impossibly fast)
    fra = next(i for i in good if "Frankfurt" in wp.labels[i])
    order = [fra] + [i for i in good[::7] if i != fra]
    targets = {}
    for k, i in enumerate(order[:n_targets]):
        addr = f"2001:db8:f::{k + 1:x}" if k in (5, 11) else f"198.51.100.{k + 1}"
        targets[addr] = (float(wp.lat_deg[i]), float(wp.lon_deg[i]))
    return FakeAtlas(probes=probes, targets=dict(targets), keys={KEY}), targets


@pytest.fixture
def fake_atlas(tmp_path):
    fake, truth = build_world()
    fake.start(tmp_path / "tls")
    fake.truth = truth
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def atlas_env(fake_atlas, monkeypatch):
    """The environment a user would set: key, server and CA bundle (here the fake's)."""
    monkeypatch.setenv("RTTGEO_ATLAS_KEY", KEY)
    monkeypatch.setenv("RTTGEO_ATLAS_SERVER", fake_atlas.host)
    monkeypatch.setenv("RTTGEO_ATLAS_CA_BUNDLE", fake_atlas.ca_file)
    return fake_atlas
