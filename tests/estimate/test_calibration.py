"""The calibration curves drawn by ``eval --plot-model``: they are the fitted models, evaluated."""

from __future__ import annotations

import numpy as np
import pytest

from rttgeo.estimate import make_estimator
from rttgeo.estimate.calibration import calibration_curves


@pytest.mark.filterwarnings("ignore::rttgeo.errors.RttgeoWarning")
def test_curves_are_the_fitted_models(wonderproxy) -> None:
    c = calibration_curves(wonderproxy)
    assert np.all(np.diff(c.rtt_ms) > 0)
    spotter = make_estimator("spotter").fit(wonderproxy)
    mu, sigma = spotter.model_.params(c.rtt_ms)
    np.testing.assert_allclose(c.median_km, 50.0 * np.expm1(mu))
    np.testing.assert_allclose(c.intervals_km[0.9][1], 50.0 * np.expm1(mu + 1.6448536 * sigma), rtol=1e-6)
    lo50, hi50 = c.intervals_km[0.5]
    lo90, hi90 = c.intervals_km[0.9]
    assert np.all(lo90 <= lo50) and np.all(lo50 <= c.median_km) and np.all(c.median_km <= hi50)
    assert np.all(hi50 <= hi90)
    cbg = make_estimator("cbg-bestline").fit(wonderproxy)
    assert len(c.landmark_bestlines) == int(cbg.usable_.sum())
    assert set(c.excluded) == set(cbg.excluded_) == {"220", "204"}
    # The forward model's median RTT: rttgeo's pooled model, rising with distance from the floor.
    rttgeo = make_estimator("rttgeo", per_landmark=False).fit(wonderproxy)
    assert np.all(np.diff(c.forward_km) > 0)
    np.testing.assert_allclose(c.forward_median_ms, rttgeo.model_.rtt_quantile_ms(c.forward_km))
    assert np.all(np.diff(c.forward_median_ms) >= 0)
    at_1000 = float(np.interp(1000.0, c.forward_km, c.forward_median_ms))
    assert 10.0 < at_1000 < 40.0  # 1,000 km: light in fibre alone is 10 ms
    slope, icpt = c.pooled_bestline
    assert 1.0 / slope == pytest.approx(98.0, abs=3.0)  # near light in fibre: the lower envelope
    assert 0.0 <= icpt < 5.0
