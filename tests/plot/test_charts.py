"""Charts: error CDF and RTT against distance (checked against the dataset's documented counts)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from rttgeo.errors import InputError

pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")

from rttgeo.plot import _mpl, error_cdf, rtt_vs_distance
from rttgeo.plot.charts import reliability

SVG = "{http://www.w3.org/2000/svg}"


def _texts(path: Path) -> str:
    root = ET.parse(path).getroot()
    return " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))


def test_error_cdf_labels_medians_and_failures(tmp_path: Path) -> None:
    errs = {
        "cbg": np.array([10.0, 20.0, 30.0, 40.0, 1000.0]),
        "shortest-ping": np.array([100.0, 200.0, np.nan, 400.0]),
    }
    out = error_cdf(errs, tmp_path / "cdf.svg", title="t")
    text = _texts(out)
    assert "cbg: median 30 km (n=5)" in text
    # NaN counts as a failure (infinite error): median of [100, 200, 400, inf] is 300.
    assert "shortest-ping: median 300 km (n=4), 1 without estimate" in text
    with pytest.raises(InputError):
        error_cdf({}, tmp_path / "x.png")


def test_error_cdf_curve_reaches_fraction_of_successes() -> None:
    plt = _mpl.pyplot()
    fig, ax = plt.subplots()
    error_cdf({"m": [5.0, np.nan, 50.0, 500.0]}, ax=ax)
    (line,) = [ln for ln in ax.get_lines() if ln.get_label().startswith("m: median")]
    assert line.get_ydata()[-1] == pytest.approx(0.75)  # 3 of 4 targets located
    plt.close(fig)


def test_rtt_vs_distance_counts_physics_violations_of_wonderproxy(tmp_path: Path) -> None:
    """The dataset README counts 164 ordered pairs faster than light in fibre, 127 of them with
    server 220 (La Ceiba) and 26 with 204 (Belfast); 2 pairs join both, so 151 involve either."""
    from rttgeo.datasets import load_wonderproxy

    mesh = load_wonderproxy()
    plt = _mpl.pyplot()
    fig, ax = plt.subplots()
    counts = rtt_vs_distance(mesh, ax=ax)
    plt.close(fig)
    assert counts["faster_than_fibre"] == 164
    assert counts["faster_than_fibre_with_highlighted_host"] == 151
    assert counts["pairs"] == int(np.isfinite(mesh.rtt_ms).sum())
    out = rtt_vs_distance(mesh, tmp_path / "r.svg", bestlines={"1": (0.012, 2.0)})
    text = _texts(out)
    assert "speed of light in vacuum: 149.9 km per ms of RTT" in text
    assert "involving 220 La Ceiba, 204 Belfast (151)" in text
    assert "bestline 1: 83 km/ms, +2.0 ms" in text


def test_error_cdf_shows_errors_below_1_km_and_marks_medians() -> None:
    """Issue #14: the log axis started at 1 km and hid 14 % of rttgeo's targets."""
    plt = _mpl.pyplot()
    fig, ax = plt.subplots()
    errs = {"a": [0.03, 0.4, 2.0, 30.0, 800.0], "b": [0.0, 5.0, 50.0, 500.0]}
    error_cdf(errs, ax=ax)
    left, _ = ax.get_xlim()
    assert left <= 0.03  # the smallest error is on the axis
    assert left == pytest.approx(0.01)
    dots = {c.get_gid(): c.get_xydata()[0] for c in ax.get_lines() if str(c.get_gid()).startswith("median")}
    assert dots["median-0"] == pytest.approx([2.0, 0.5])
    assert dots["median-1"] == pytest.approx([27.5, 0.5])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "a: median 2 km (n=5)" in labels
    assert "b: median 28 km (n=4), 1 under 0.01 km (at the left edge)" in labels
    plt.close(fig)


def test_reliability_plots_the_coverage_at_each_stated_level() -> None:
    plt = _mpl.pyplot()
    fig, ax = plt.subplots()
    levels = np.array([0.0, 0.1, 0.45, 0.55, 0.85, 0.92, 0.97, 1.0, np.nan])  # NaN: failed target
    reliability(
        {"m": levels, "points": np.full(5, np.nan)},
        ax=ax,
        feasible_coverage={"cbg": (0.8, 10)},
        stated_levels=(0.5, 0.9, 0.95),
    )
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    (m,) = [ln for lbl, ln in lines.items() if lbl.startswith("m (n=9")]
    np.testing.assert_allclose(m.get_xdata(), [0.5, 0.9, 0.95])
    np.testing.assert_allclose(m.get_ydata(), [3 / 9, 5 / 9, 6 / 9])
    assert not any(lbl.startswith("points") for lbl in lines)  # no posterior: not drawn
    (cbg,) = [ln for lbl, ln in lines.items() if lbl.startswith("cbg: feasible region")]
    assert cbg.get_xydata()[0] == pytest.approx([1.0, 0.8])
    plt.close(fig)
    with pytest.raises(InputError, match="no method"):
        reliability({"points": [np.nan]})
    with pytest.raises(InputError, match="strictly between"):
        reliability({"m": levels}, stated_levels=(0.5, 1.0))


def test_model_figure_draws_bands_and_bestlines(tmp_path: Path) -> None:
    from rttgeo.datasets import load_wonderproxy
    from rttgeo.estimate.calibration import calibration_curves

    mesh = load_wonderproxy()
    c = calibration_curves(mesh)
    out = rtt_vs_distance(
        mesh,
        tmp_path / "m.svg",
        bestlines={"pooled": c.pooled_bestline},
        landmark_bestlines=c.landmark_bestlines,
        delay_median=(c.rtt_ms, c.median_km),
        delay_intervals={p: (c.rtt_ms, lo, hi) for p, (lo, hi) in c.intervals_km.items()},
        rtt_median=(c.forward_km, c.forward_median_ms),
    )
    text = _texts(out)
    for needle in (
        "delay-distance model: central 90% of distances at each RTT",
        "delay-distance model: central 50% of distances at each RTT",
        "delay-distance model: median",
        "forward model (rttgeo's): median RTT at each distance",
        f"CBG bestlines of the {len(c.landmark_bestlines)} landmarks: central 80 %",
        "light in fibre (2/3 c)",
        "speed of light in vacuum",
    ):
        assert needle in text, needle
    assert out.stat().st_size < 1_500_000
