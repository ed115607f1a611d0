"""Readable in grey-scale: every distinction a map or chart makes by colour is also one of
lightness, dash pattern or marker shape (issue #14: keep the grey-scale test)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")

import itertools

from matplotlib.colors import to_rgb

from rttgeo.plot import _mpl
from rttgeo.plot.charts import LINE_STYLES


def grey(colour: object) -> float:
    """Luma (ITU-R BT.601), what a grey-scale print keeps of a colour."""
    r, g, b = to_rgb(colour)  # type: ignore[arg-type]
    return 0.299 * r + 0.587 * g + 0.114 * b


def over(colour: str, alpha: float, ground: str) -> tuple[float, float, float]:
    c, g = np.array(to_rgb(colour)), np.array(to_rgb(ground))
    return tuple(alpha * c + (1 - alpha) * g)


def test_density_bands_darken_with_probability_in_grey() -> None:
    shades = [grey(c) for c in _mpl.density_colours(4)]  # densest first
    assert all(a < b - 0.05 for a, b in itertools.pairwise(shades)), shades
    # The lightest band still stands out from land and sea.
    assert abs(shades[-1] - grey(_mpl.LAND_COLOUR)) > 0.06
    assert abs(shades[-1] - grey(_mpl.SEA_COLOUR)) > 0.05


def test_feasible_region_stands_out_from_land_in_grey() -> None:
    fill = over(_mpl.REGION_FACE, 0.45, _mpl.LAND_COLOUR)
    assert abs(grey(fill) - grey(_mpl.LAND_COLOUR)) > 0.05
    assert grey(_mpl.REGION_EDGE) < 0.35  # the outline is dark on any ground


def test_rtt_colours_grow_lighter_with_rtt() -> None:
    cmap = _mpl.rtt_cmap()
    g = [grey(cmap(v)) for v in np.linspace(0.0, 1.0, 32)]
    assert all(b > a for a, b in itertools.pairwise(g))
    assert g[-1] - g[0] > 0.5


def test_lines_differ_without_colour() -> None:
    dashes = [str(d) for _, d, _ in LINE_STYLES]
    markers = [m for _, _, m in LINE_STYLES]
    assert len(set(zip(dashes, markers, strict=True))) == len(LINE_STYLES)
    assert len(set(markers)) == len(LINE_STYLES)
    styles = _mpl.contour_styles([0.5, 0.9])
    assert styles[0.5] != styles[0.9]
    assert styles[0.5][1] > styles[0.9][1]  # the core region's line is the heavier


def test_rendered_map_keeps_its_marks_in_grey(europe, tmp_path) -> None:
    """The rendered map in grey: the point estimate (black star), the truth (X) and the region's
    outline remain dark marks on light ground, and nothing is lost by dropping hue."""
    import matplotlib.image as mpimg

    from rttgeo.plot import map_estimate

    out = map_estimate(europe, tmp_path / "m.png", true_lat_deg=47.0, true_lon_deg=4.0, dpi=80)
    img = mpimg.imread(out)[..., :3]
    g = img @ np.array([0.299, 0.587, 0.114])
    # Distinct grey levels: ground (land, sea, region fill) and marks (outline, star, text).
    levels = np.histogram(g, bins=20, range=(0, 1))[0] / g.size
    assert levels[:5].sum() > 0.005  # dark marks are there
    assert levels[15:].sum() > 0.5  # on light ground
    assert (levels > 0.002).sum() >= 6  # and several greys between, not two flat tones
