"""Charts: error CDF and RTT against distance (checked against the dataset's documented counts)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from rttgeo.errors import InputError

pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")

from rttgeo.plot import _mpl, error_cdf, rtt_vs_distance

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
    (line,) = ax.get_lines()
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
