"""Two-stage landmark selection: farthest-point spread, nearest-to-estimate, the orchestration."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import numpy as np

from rttgeo.geo.sphere import distance_km
from rttgeo.measure import Campaign, CampaignParams, ReplayProber, two_stage
from rttgeo.measure.selection import farthest_point_indices, nearest_indices, rtt_vector
from rttgeo.models import Landmark


def grid_points():
    lat, lon = np.meshgrid(np.arange(-60, 61, 30.0), np.arange(-150, 181, 30.0))
    return lat.ravel(), lon.ravel()


def test_farthest_point_spread_beats_the_first_n():
    rng = np.random.default_rng(1)
    # 200 points crowded in Europe + 20 elsewhere
    lat = np.concatenate([rng.uniform(40, 55, 200), rng.uniform(-50, 60, 20)])
    lon = np.concatenate([rng.uniform(-5, 20, 200), rng.uniform(-170, 170, 20)])
    idx = farthest_point_indices(lat, lon, 15)
    assert len(set(idx.tolist())) == 15
    d = distance_km(lat[idx][:, None], lon[idx][:, None], lat[idx][None], lon[idx][None])
    d_first = distance_km(lat[:15, None], lon[:15, None], lat[None, :15], lon[None, :15])
    np.fill_diagonal(d, np.inf)
    np.fill_diagonal(d_first, np.inf)
    assert d.min() > 5 * d_first.min()
    # most of the spread comes from the 20 far-away points, not the European crowd
    assert np.sum(idx >= 200) >= 10
    np.testing.assert_array_equal(idx, farthest_point_indices(lat, lon, 15))  # deterministic


def test_farthest_point_edge_cases():
    lat, lon = grid_points()
    assert len(farthest_point_indices(lat, lon, 0)) == 0
    np.testing.assert_array_equal(farthest_point_indices(lat, lon, 10_000), np.arange(len(lat)))


def test_nearest_indices_order_exclude_and_region_preference():
    lat = np.array([0.0, 0.0, 0.0, 0.0])
    lon = np.array([1.0, 2.0, 3.0, 10.0])
    np.testing.assert_array_equal(nearest_indices(lat, lon, 0.0, 0.0, 3), [0, 1, 2])
    np.testing.assert_array_equal(nearest_indices(lat, lon, 0.0, 0.0, 3, exclude=[1]), [0, 2, 3])
    region = SimpleNamespace(empty=False, contains=lambda la, lo: np.asarray(lo) > 2.5)
    np.testing.assert_array_equal(nearest_indices(lat, lon, 0.0, 0.0, 3, region=region), [2, 3, 0])


class NearestLocator:
    """A stand-in estimator: the position of the landmark with the smallest RTT."""

    def __init__(self, landmarks):
        self.lms = landmarks
        self.calls = []

    def locate(self, rtts):
        self.calls.append(np.array(rtts))
        i = int(np.nanargmin(rtts))
        return SimpleNamespace(
            lat_deg=self.lms[i].lat_deg, lon_deg=self.lms[i].lon_deg, region=None
        )


def test_two_stage_probes_spread_then_nearest_to_coarse_estimate():
    rng = np.random.default_rng(3)
    lat = rng.uniform(-60, 70, 300)
    lon = rng.uniform(-180, 180, 300)
    lms = [
        Landmark(f"L{i}", float(a), float(o), "h")
        for i, (a, o) in enumerate(zip(lat, lon, strict=True))
    ]
    t_lat, t_lon = 48.0, 11.0
    rtt = 2 * distance_km(t_lat, t_lon, lat, lon) / 100.0 + 1.0
    prober = ReplayProber.from_row([lm.id for lm in lms], rtt)
    loc = NearestLocator(lms)

    async def go():
        camp = Campaign(prober, CampaignParams(k=2))
        async with prober:
            return camp, await two_stage(camp, lms, loc, first_n=20, second_n=12)

    camp, res = asyncio.run(go())
    assert len(res.first_idx) == 20 and len(res.second_idx) == 12
    assert not set(res.first_idx.tolist()) & set(res.second_idx.tolist())
    assert len(prober.probed) == 2 * 32
    assert np.isfinite(res.rtts_ms).sum() == 32
    np.testing.assert_array_equal(res.rtts_ms, rtt_vector(lms, camp))
    # stage 2 took the 12 landmarks nearest the coarse estimate (outside stage 1)
    c = res.coarse
    d = distance_km(c.lat_deg, c.lon_deg, lat, lon)
    d[res.first_idx] = np.inf
    np.testing.assert_array_equal(np.sort(res.second_idx), np.sort(np.argsort(d)[:12]))
    # and the nearest landmark overall to the target was found
    assert int(np.argmin(rtt)) in res.probed_idx
