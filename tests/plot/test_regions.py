"""Regions as smooth closed shapes: posterior contours (also read off the rendered image), the
exact outline of a disc intersection, and what the map says about their areas."""

from __future__ import annotations

import io

import numpy as np
import pytest
from synth import posterior_estimate, synthetic_posterior

from rttgeo.models import Estimate

pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")

from rttgeo.plot import _mpl
from rttgeo.plot.layers import draw_estimate
from rttgeo.plot.regions import credible_contours, disc_intersection_outline
from rttgeo.plot.view import view_of_points


@pytest.fixture(scope="module")
def unimodal() -> Estimate:
    return posterior_estimate(synthetic_posterior([(48.0, 8.0, 120.0, 1.0)]), 48.0, 8.0)


def _png(fig: object) -> np.ndarray:
    import matplotlib.image as mpimg

    buf = io.BytesIO()
    fig.savefig(buf, format="png")  # type: ignore[attr-defined]
    _mpl.pyplot().close(fig)
    return mpimg.imread(io.BytesIO(buf.getvalue()), format="png")[..., :3]


def _render_region(est: Estimate) -> tuple[np.ndarray, object]:
    """The region's shaded density alone (no basemap, landmarks, labels, contour lines or scale
    bar) as an RGB image."""
    plt = _mpl.pyplot()
    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    ax.set_axis_off()
    fig.subplots_adjust(0, 0, 1, 1)
    layers = draw_estimate(ax, est, basemap=False, max_labels=0, max_circles=0, scale=False)
    for c in list(ax.collections):  # the star and the contour lines go: the fills stay
        if c.get_gid() == "estimate" or str(c.get_gid()).startswith("contour"):
            c.remove()
    for t in list(ax.texts):
        t.remove()
    return _png(fig), layers


def _render_outline(rings: list[np.ndarray], view: object) -> np.ndarray:
    """Rings drawn as plain solid lines on the view's extent."""
    plt = _mpl.pyplot()
    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    ax.set_axis_off()
    fig.subplots_adjust(0, 0, 1, 1)
    for r in rings:
        ax.plot(r[:, 0], r[:, 1], color="black", lw=1.5, antialiased=False)
    ax.set_xlim(view.x0_km, view.x1_km)  # type: ignore[attr-defined]
    ax.set_ylim(view.y0_km, view.y1_km)  # type: ignore[attr-defined]
    ax.set_aspect("equal")
    return _png(fig)


def _components(mask: np.ndarray) -> int:
    from scipy.ndimage import label

    return int(label(mask)[1])


def test_unimodal_posterior_is_one_closed_shape_on_the_image(unimodal: Estimate) -> None:
    """Issue #14's check: the region of a unimodal posterior is one closed shape without holes.
    Read off the rendered pixels: the non-white pixels form one connected component, and the
    white ones too (a hole would be a second white component)."""
    img, layers = _render_region(unimodal)
    region = (img < 0.97).any(axis=2)
    assert region.mean() > 0.02, "the region was not drawn"
    assert _components(region) == 1
    assert _components(~region) == 1, "the region has a hole"
    # Its outline, drawn alone, cuts the picture in two: inside and outside (a closed curve).
    line = (_render_outline(layers.contours[0.9], layers.view) < 0.5).any(axis=2)
    assert _components(line) == 1 and _components(~line) == 2
    # And in the geometry: one ring per level, closed, the 50 % inside the 90 %.
    for level in (0.5, 0.9):
        (ring,) = layers.contours[level]
        np.testing.assert_allclose(ring[0], ring[-1])
    assert layers.region_area_km2[0.5] < layers.region_area_km2[0.9]


def test_credible_levels_hold_their_mass(unimodal: Estimate) -> None:
    """A Gaussian bump of sigma 120 km in distance: its p-region is a disc of radius
    sigma sqrt(-2 ln(1 - p)) (Rayleigh), area pi r^2 on this scale. The contours' areas match it
    (smoothing at half a cell, 10 km, widens sigma by 0.3 %)."""
    view = view_of_points([44.0, 52.0], [2.0, 14.0])
    shape = credible_contours(view, unimodal.posterior, (0.5, 0.9))
    for p in (0.5, 0.9):
        r = 120.0 * np.sqrt(-2.0 * np.log(1.0 - p))
        assert shape.area_km2[p] == pytest.approx(np.pi * r * r, rel=0.04)


def test_two_modes_give_two_shapes_and_an_annulus_keeps_its_hole() -> None:
    two = posterior_estimate(
        synthetic_posterior([(48.0, 2.0, 60.0, 1.0), (48.0, 12.0, 60.0, 1.0)]), 48.0, 2.0
    )
    img, layers = _render_region(two)
    assert len(layers.contours[0.9]) == 2
    assert _components((img < 0.97).any(axis=2)) == 2
    ring = posterior_estimate(synthetic_posterior([(48.0, 8.0, 40.0, 1.0)], ring_km=300.0), 48.0, 8.0)
    img, layers = _render_region(ring)
    region = (img < 0.97).any(axis=2)
    assert _components(region) == 1
    assert _components(~region) == 2, "the annulus's hole must show"


def test_disc_outline_is_exact_against_geographiclib() -> None:
    """Vertices of the outline lie on one circle and inside all, measured by geographiclib on the
    same sphere; the ring closes and turns counter-clockwise (GeoJSON's exterior)."""
    geodesic = pytest.importorskip("geographiclib.geodesic")
    sphere = geodesic.Geodesic(6371.0088e3, 0.0)
    lat = [48.86, 51.51, 50.11, 45.46]
    lon = [2.35, -0.13, 8.68, 9.19]
    radius = [400.0, 650.0, 520.0, 560.0]
    ring = disc_intersection_outline(lat, lon, radius)
    assert ring is not None and len(ring) > 100
    np.testing.assert_allclose(ring[0], ring[-1])
    d = np.array(
        [[sphere.Inverse(a, o, y, x)["s12"] / 1000.0 for x, y in ring] for a, o in zip(lat, lon, strict=True)]
    )
    slack = np.array(radius)[:, None] - d
    assert slack.min() > -1e-3  # inside every disc (1 m)
    assert np.abs(slack).min(axis=0).max() < 1e-3  # on one of the circles
    from rttgeo.geo.polygon import ring_signed_area_km2

    assert ring_signed_area_km2(ring) > 0


def test_disc_outline_of_discs_that_miss_each_other_is_none() -> None:
    assert disc_intersection_outline([0.0, 0.0], [0.0, 20.0], [500.0, 500.0]) is None
    assert disc_intersection_outline([], [], []) is None
    # One disc: its own circle.
    ring = disc_intersection_outline([10.0], [20.0], [300.0])
    assert ring is not None
    from rttgeo.geo.sphere import distance_km

    np.testing.assert_allclose(distance_km(10.0, 20.0, ring[:, 1], ring[:, 0]), 300.0, rtol=1e-9)
    # A disc larger than a hemisphere that cuts the small ones: not convex, left to the caller.
    assert disc_intersection_outline([0.0, 0.0], [0.0, 180.0], [2000.0, 19000.0]) is None
