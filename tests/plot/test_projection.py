"""Projections, views and the scale bar, against geographiclib (nobody here wrote it)."""

from __future__ import annotations

import io

import numpy as np
import pytest

from rttgeo.plot.projection import Azimuthal, EqualEarth
from rttgeo.plot.scalebar import nice_length_km, scale_bar, solve_bar_end_km
from rttgeo.plot.view import view_of_points

geodesic = pytest.importorskip("geographiclib.geodesic")
SPHERE = geodesic.Geodesic(6371.0088e3, 0.0)  # the sphere rttgeo measures on
WGS84 = geodesic.Geodesic.WGS84

rng = np.random.default_rng(14)
LAT = rng.uniform(-80.0, 80.0, 300)
LON = rng.uniform(-180.0, 180.0, 300)


@pytest.mark.parametrize("centre", [(50.0, 8.0), (-17.5, 179.0), (89.0, 0.0), (0.0, -120.0)])
def test_aeqd_is_exact_in_distance_and_direction_from_its_centre(centre: tuple[float, float]) -> None:
    p = Azimuthal(*centre, "aeqd")
    x, y = p.forward(LAT, LON)
    for a, o, xx, yy in zip(LAT, LON, x, y, strict=True):
        g = SPHERE.Inverse(centre[0], centre[1], a, o)
        assert np.hypot(xx, yy) == pytest.approx(g["s12"] / 1000.0, abs=1e-6)
        if 1.0 < g["s12"] / 1000.0 < 19000.0:
            az = np.degrees(np.arctan2(xx, yy))
            assert (az - g["azi1"] + 180.0) % 360.0 - 180.0 == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize(
    "proj", [Azimuthal(50.0, 8.0, "aeqd"), Azimuthal(-30.0, 150.0, "laea"), EqualEarth(150.0)]
)
def test_inverse_undoes_forward(proj: object) -> None:
    x, y = proj.forward(LAT, LON)  # type: ignore[attr-defined]
    lat, lon = proj.inverse(x, y)  # type: ignore[attr-defined]
    np.testing.assert_allclose(lat, LAT, atol=1e-9)
    np.testing.assert_allclose((lon - LON + 180.0) % 360.0 - 180.0, 0.0, atol=1e-9)


def _sphere_area_km2(lat: np.ndarray, lon: np.ndarray) -> float:
    poly = SPHERE.Polygon()
    for a, o in zip(lat, lon, strict=True):
        poly.AddPoint(float(a), float(o))
    return abs(poly.Compute(False, True)[2]) / 1e6


@pytest.mark.parametrize("proj", [Azimuthal(40.0, -100.0, "laea"), EqualEarth(0.0), EqualEarth(-160.0)])
@pytest.mark.parametrize("where", [(45.0, -95.0), (-60.0, 20.0), (5.0, 170.0), (75.0, -40.0)])
def test_equal_area_projections_keep_area(proj: object, where: tuple[float, float]) -> None:
    """A small geodesic quadrilateral (about 80 km across, densified so that its projected edges
    follow the geodesics) has the same area on the map as on the sphere, to 1e-5."""
    la, lo = where
    corners = [(la, lo), (la, lo + 1.0), (la + 0.7, lo + 1.0), (la + 0.7, lo)]
    lat, lon = [], []
    for (a0, o0), (a1, o1) in zip(corners, corners[1:] + corners[:1], strict=True):
        line = SPHERE.InverseLine(a0, o0, a1, o1)
        for s in np.linspace(0.0, line.s13, 50, endpoint=False):
            g = line.Position(s)
            lat.append(g["lat2"])
            lon.append(g["lon2"])
    x, y = proj.forward(np.array(lat), np.array(lon))  # type: ignore[attr-defined]
    plane = 0.5 * abs(float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)))
    assert plane == pytest.approx(_sphere_area_km2(np.array(lat), np.array(lon)), rel=1e-5)


def test_aeqd_area_scale_is_its_jacobian() -> None:
    p = Azimuthal(10.0, 10.0, "aeqd")
    for la, lo in ((12.0, 11.0), (30.0, 40.0), (-20.0, 60.0)):
        h = 1e-4
        x, y = p.forward(np.array([la, la + h, la]), np.array([lo, lo, lo + h]))
        jac = abs((x[1] - x[0]) * (y[2] - y[0]) - (x[2] - x[0]) * (y[1] - y[0]))
        # True area of the small lat/lon cell: R^2 cos(lat) dlat dlon.
        true = (6371.0088 * np.radians(h)) ** 2 * np.cos(np.radians(la))
        assert jac / true == pytest.approx(float(p.area_scale(x[0], y[0])), rel=1e-4)


def test_views_pick_their_projection() -> None:
    regional = view_of_points([45.0, 55.0], [0.0, 15.0])
    assert isinstance(regional.projection, Azimuthal) and not regional.world
    assert regional.width_km / regional.height_km == pytest.approx(1.45)
    world = view_of_points([-40.0, 60.0], [-120.0, 100.0])
    assert world.world and isinstance(world.projection, EqualEarth)
    lon0, lon1, *_ = view_of_points([-17.0, -19.0], [178.0, -178.0]).lonlat_window()
    assert lon0 < 180.0 < lon1 and lon1 - lon0 < 30.0


def test_nice_lengths() -> None:
    assert [nice_length_km(v) for v in (0.7, 3.0, 499.0, 500.0, 760.0, 1999.0)] == [
        0.5,
        2.0,
        200.0,
        500.0,
        500.0,
        1000.0,
    ]
    with pytest.raises(ValueError):
        nice_length_km(0.0)


def _bar_px(img: np.ndarray, row: int, col0: int, col1: int) -> tuple[int, int]:
    """First and last dark pixel of the scale bar on ``row`` between two columns."""
    dark = np.flatnonzero((img[row, col0:col1, :3] < 0.35).all(axis=1))
    return col0 + int(dark[0]), col0 + int(dark[-1])


@pytest.mark.parametrize(
    ("lats", "lons", "length"), [([42.0, 58.0], [-5.0, 25.0], 500.0), ([20.0, 60.0], [-20.0, 50.0], 1000.0)]
)
def test_scale_bar_measures_its_length_on_the_rendered_map(
    lats: list[float], lons: list[float], length: float
) -> None:
    """Issue #14's check: the bar, read off the PNG's pixels and mapped back to the Earth, is its
    stated length within 1 % on WGS84 (geographiclib). The second view is wide enough that a bar
    drawn at the centre's scale would be more than 1 % off where the bar is."""
    pytest.importorskip("matplotlib")
    import matplotlib.image as mpimg

    from rttgeo.plot import _mpl
    from rttgeo.plot.basemap import draw_basemap
    from rttgeo.plot.layers import draw_scale_bar

    view = view_of_points(lats, lons)
    bar = scale_bar(view)
    assert bar is not None and bar[3] == length
    plt = _mpl.pyplot()
    dpi = 200
    fig, ax = plt.subplots(figsize=(6.0, 4.5), dpi=dpi)
    draw_basemap(ax, view, graticule=False)
    assert draw_scale_bar(ax, view) == bar
    fig.canvas.draw()
    to_px = ax.transData.transform
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    height = fig.canvas.get_width_height()[1]
    x0, x1, y, _ = bar
    h = 0.012 * view.height_km
    (px0, py), (px1, _py) = to_px([(x0, y + h / 2.0), (x1, y + h / 2.0)])
    plt.close(fig)
    img = mpimg.imread(io.BytesIO(buf.getvalue()), format="png")
    row = round(float(height - py))
    first, last = _bar_px(img, row, int(px0) - 20, int(px1) + 20)
    edge_px = 0.8 / 72.0 * dpi  # the bar's outline, half of it outside each end
    inv = ax.transData.inverted().transform
    (ex0, _), (ex1, _) = inv([(first - 0.5 + edge_px / 2.0, py), (last + 0.5 - edge_px / 2.0, py)])
    lat0, lon0 = view.projection.inverse(ex0, y)
    lat1, lon1 = view.projection.inverse(ex1, y)
    measured = WGS84.Inverse(float(lat0), float(lon0), float(lat1), float(lon1))["s12"] / 1000.0
    assert measured == pytest.approx(length, rel=0.01)
    # Exact on the sphere for the bar's own coordinates.
    la0, lo0 = view.projection.inverse(x0, y)
    la1, lo1 = view.projection.inverse(x1, y)
    assert SPHERE.Inverse(float(la0), float(lo0), float(la1), float(lo1))["s12"] / 1000.0 == pytest.approx(
        length, rel=1e-7
    )
    if length == 1000.0:
        projected = solve_bar_end_km(view, x0, y, length) - x0
        assert abs(projected / length - 1.0) > 0.01  # the scale there is not the centre's
