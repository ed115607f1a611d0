"""Simulated adversaries on real landmark geometry (fixed seeds): sound mode never accepts a false
claim; honest WonderProxy hosts are never refuted. The full measurement (>= 10,000 attacks of each
kind) is benchmarks/bench_verify_adversary.py."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from rttgeo.catalog import load_default_catalog
from rttgeo.datasets import load_wonderproxy
from rttgeo.estimate.defaults import default_delay_distance
from rttgeo.estimate.delay import symmetric_rtt_ms
from rttgeo.geo.sphere import destination, pairwise_distance_km, to_unit_vectors
from rttgeo.models import Landmark
from rttgeo.units import MAX_KM_PER_RTT_MS
from rttgeo.verify import RadiusClaim, country_claim, decide
from rttgeo.verify.simulate import ATTACKS, Inflation, attack_rtts, model_rtt_ms, trusted_hosts


@pytest.fixture(scope="module")
def world():
    mesh = load_wonderproxy()
    ok, _ = trusted_hosts(mesh)
    return mesh, ok, symmetric_rtt_ms(mesh.rtt_ms), Inflation.from_mesh(mesh, ok)


def test_inflation_draws_real_looking_rtts_never_faster_than_light(world):
    mesh, _ok, sym, inflation = world
    rng = np.random.default_rng(0)
    d = np.array([0.0, 10.0, 150.0, 1000.0, 5000.0, 15000.0])
    r = np.array([inflation.sample_rtt_ms(d, rng) for _ in range(300)])
    assert np.all(r > d / MAX_KM_PER_RTT_MS)
    # The median inflation over light in vacuum at 1,000 km matches the mesh's pairs of that range.
    u = to_unit_vectors(mesh.lat_deg, mesh.lon_deg)
    dd = pairwise_distance_km(u, u)
    near = (dd > 800) & (dd < 1600) & np.isfinite(sym)
    ratio_mesh = np.median(sym[near] / (dd[near] / MAX_KM_PER_RTT_MS))
    assert np.median(r[:, 3]) / (1000 / MAX_KM_PER_RTT_MS) == pytest.approx(ratio_mesh, rel=0.25)


def test_model_rtt_inverts_the_median_distance():
    model = default_delay_distance()
    d = np.array([50.0, 500.0, 3000.0])
    r = model_rtt_ms(model, d)
    mu, _ = model.params(r)
    assert model.D0_KM * np.expm1(mu) == pytest.approx(d, rel=0.02)


def test_attacks_only_ever_add_delay_or_take_real_paths(world):
    mesh, ok, _sym, inflation = world
    rng = np.random.default_rng(1)
    lms_unit = to_unit_vectors(mesh.lat_deg[ok], mesh.lon_deg[ok])
    host = to_unit_vectors(mesh.lat_deg[0], mesh.lon_deg[0])
    honest = inflation.sample_rtt_ms(pairwise_distance_km(host[None, :], lms_unit)[0], rng)
    vac = pairwise_distance_km(host[None, :], lms_unit)[0] / MAX_KM_PER_RTT_MS
    for kind in ATTACKS:
        r = attack_rtts(kind, host, (35.0, 139.0), lms_unit, honest, inflation, rng)
        assert np.all(r >= vac), kind  # no attack beats light from where the host really is
        if kind.startswith("delay"):
            assert np.all(r >= honest), kind
    with pytest.raises(ValueError, match="unknown attack"):
        attack_rtts("teleport", host, (0.0, 0.0), lms_unit, honest, inflation, rng)


@pytest.mark.parametrize("kind", [*ATTACKS, "lying-landmarks", "misplaced-landmarks"])
def test_sound_mode_accepts_no_false_claim_on_fixed_seeds(world, kind):
    mesh, ok, sym, inflation = world
    rng = np.random.default_rng(zlib.crc32(kind.encode()))
    hosts = np.flatnonzero(ok)
    anchors = load_default_catalog()
    a_unit = to_unit_vectors([a.lat_deg for a in anchors], [a.lon_deg for a in anchors])
    lms_all = mesh.landmarks()
    for _ in range(40):
        t = int(rng.choice(hosts))
        lat, lon = float(mesh.lat_deg[t]), float(mesh.lon_deg[t])
        radius = float(rng.choice([100.0, 500.0, 1000.0]))
        plat, plon = destination(lat, lon, rng.uniform(0, 360), radius + 50.0 + rng.uniform(0, 3000))
        if rng.random() < 0.5:
            idx = [j for j in hosts if j != t]
            lms, honest = [lms_all[j] for j in idx], sym[t, idx]
            l_unit = to_unit_vectors(mesh.lat_deg[idx], mesh.lon_deg[idx])
        else:
            pick = rng.choice(len(anchors), 60, replace=False)
            lms, l_unit = [anchors[i] for i in pick], a_unit[pick]
            honest = inflation.sample_rtt_ms(
                pairwise_distance_km(to_unit_vectors(lat, lon)[None, :], l_unit)[0], rng
            )
        faults = 0
        if kind == "lying-landmarks":
            faults = 2
            d_p = pairwise_distance_km(to_unit_vectors(float(plat), float(plon))[None, :], l_unit)[0]
            rtt = honest.copy()
            liars = np.argsort(d_p)[:faults]
            rtt[liars] = np.maximum(d_p[liars] / MAX_KM_PER_RTT_MS, 0.05)
        elif kind == "misplaced-landmarks":
            # The 2 landmarks nearest the host are listed at the claimed place; their RTTs are real.
            faults = 2
            d_h = pairwise_distance_km(to_unit_vectors(lat, lon)[None, :], l_unit)[0]
            lms = list(lms)
            for i in np.argsort(d_h)[:faults]:
                lms[i] = Landmark(lms[i].id, float(plat), float(plon))
            rtt = honest
        else:
            host_unit = to_unit_vectors(lat, lon)
            rtt = attack_rtts(kind, host_unit, (float(plat), float(plon)), l_unit, honest, inflation, rng)
        claim = RadiusClaim(float(plat), float(plon), radius)
        d = decide(claim, lms, rtt, faults=faults, end_level=4, refine_region=False)
        assert d.outcome != "proven", (kind, t, radius)


@pytest.mark.slow
def test_no_honest_wonderproxy_host_is_refuted(world):
    """Every trusted host as the prover, the others as landmarks, real RTTs: sound mode never
    refutes its true 250 km neighbourhood nor "not in CN" for hosts outside China."""
    mesh, ok, sym, _ = world
    hosts = np.flatnonzero(ok)
    not_cn = country_claim("CN", negate=True)
    for t in hosts:
        idx = [j for j in hosts if j != t]
        lms = lms_cache(mesh, idx)
        claim = RadiusClaim(float(mesh.lat_deg[t]), float(mesh.lon_deg[t]), 250.0)
        assert decide(claim, lms, sym[t, idx], end_level=5, refine_region=False).outcome != "refuted"
        if "China" not in mesh.labels[t]:
            assert decide(not_cn, lms, sym[t, idx], end_level=5, refine_region=False).outcome != "refuted"


_LMS: dict[int, list] = {}


def lms_cache(mesh, idx):
    all_lms = _LMS.setdefault(id(mesh), mesh.landmarks())
    return [all_lms[j] for j in idx]
