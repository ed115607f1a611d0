"""The HTML report: self-contained, and rendered by a real headless Chromium."""

from __future__ import annotations

import io
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from rttgeo.errors import InputError
from rttgeo.models import Estimate

pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")

from rttgeo.plot import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None


@pytest.fixture(scope="module")
def report(europe: Estimate, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    return write_report(
        europe,
        path,
        true_location=(47.0, 4.0),
        summary={"command": "rttgeo estimate --report report.html", "probes per landmark": 5},
        provenance={"rttgeo_version": "x", "method": "m", "source": "samples.csv", "catalog": "cat.csv",
                    "catalog_sha256": "abc123", "calibration": "pooled", "campaign": None},
    )


def test_report_is_self_contained(report: Path, europe: Estimate) -> None:
    text = report.read_text(encoding="utf-8")
    assert "<script" not in text.lower()
    # Nothing is fetched: no src= at all, no stylesheet link; hrefs only to fragments of the page
    # or inline data (the rasterised world overview).
    assert not re.search(r"\ssrc\s*=", text)
    assert "<link" not in text.lower()
    hrefs = re.findall(r'href="([^"]*)"', text)
    outside = [h[:40] for h in hrefs if not h.startswith(("#", "data:image/png;base64,"))]
    assert outside == []
    assert "url(http" not in text and "@import" not in text
    assert text.count('<tr class="') == len(europe.landmarks)
    for needle in ("Truth inside region", "probes per landmark", "km_per_rtt_ms", '<svg id="map"'):
        assert needle in text
    # Landmark names beside ids (nearest GeoNames city: the synthetic catalog has none), the
    # version and the provenance given.
    from rttgeo import __version__

    assert '<td class="id">paris</td><td class="id">Paris, FR</td>' in text
    assert '<td class="id">new-york</td><td class="id">New York City, US</td>' in text
    assert f"<dt>rttgeo version</dt><dd>{__version__}</dd>" in text
    assert "<dt>Landmark catalog</dt><dd>cat.csv</dd>" in text
    assert "<dt>Catalog SHA-256</dt><dd>abc123</dd>" in text
    assert "Natural Earth" in text and "GeoNames" in text


def test_report_rejects_other_suffix(europe: Estimate, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="html"):
        write_report(europe, tmp_path / "r.txt")


@pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="Chromium / chromedriver absent (Debian: apt-get install chromium chromium-driver)",
)
def test_report_renders_in_headless_chromium(
    report: Path, europe: Estimate, tmp_path: Path
) -> None:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    opts = webdriver.ChromeOptions()
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1400",
    ):
        opts.add_argument(arg)
    profile = tempfile.mkdtemp(prefix="rttgeo-chromium-", dir=tmp_path)
    opts.add_argument(f"--user-data-dir={profile}")
    opts.binary_location = CHROMIUM
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        driver.set_page_load_timeout(30)
        driver.get(report.as_uri())
        assert "synthetic-cbg" in driver.title
        svg = driver.find_element(By.ID, "map")
        assert svg.size["width"] > 600 and svg.size["height"] > 300
        rows = driver.find_elements(By.CSS_SELECTOR, "#landmark-table tbody tr")
        assert len(rows) == len(europe.landmarks)
        cells = rows[0].find_elements(By.TAG_NAME, "td")
        nearest = min(europe.landmarks, key=lambda d: d.rtt_ms)
        assert cells[0].text == nearest.id
        assert cells[1].text  # its place
        assert cells[4].text == f"{nearest.rtt_ms:,.2f}"
        assert driver.find_element(By.ID, "provenance").is_displayed()
        shot = driver.get_screenshot_as_png()
        (tmp_path / "report.png").write_bytes(shot)
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
        assert errors == [], errors
    finally:
        driver.quit()
    import matplotlib.image as mpimg

    img = mpimg.imread(io.BytesIO(shot), format="png")
    assert img.shape[0] >= 1000 and img.shape[1] >= 1000
    # The map drew: the land grey, the region orange and the black text are all on the page.
    rgb = img[..., :3].reshape(-1, 3)
    from matplotlib.colors import to_rgb

    from rttgeo.plot import _mpl

    grey_land = ((abs(rgb - np.array(to_rgb(_mpl.LAND_COLOUR))) < 0.02).all(axis=1)).mean()
    assert grey_land > 0.02, "no land colour on the screenshot: the map did not render"
    assert img[..., :3].std() > 0.1


@pytest.fixture(scope="module")
def wonderproxy_row():
    """The RTTs of WonderProxy host 29 (Frankfurt) to the other servers, and those servers."""
    from rttgeo.datasets import load_wonderproxy
    from rttgeo.estimate.delay import symmetric_rtt_ms

    mesh = load_wonderproxy(bundled=True)
    t = mesh.index("29")
    others = np.array([j for j in range(len(mesh)) if j != t])
    sub = mesh.subset(others)
    return symmetric_rtt_ms(mesh.rtt_ms)[t, others], sub


def test_report_lists_the_candidates_of_an_rttgeo_estimate(wonderproxy_row) -> None:
    import html

    import rttgeo
    from rttgeo.plot.report import report_html

    rtts, sub = wonderproxy_row
    res = rttgeo.estimate(rtts, landmarks=sub.landmarks(), method="rttgeo", calibration=sub)
    cands = res.estimate.candidates
    assert len(cands) >= 2
    text = report_html(res.estimate, landmarks=res.landmarks, provenance=res.provenance.as_dict())
    assert '<section id="candidates">' in text and 'id="candidate-table"' in text
    assert ("Candidates (probability the host is within 25 km; the first is the point's place)"
            in text)
    section = text[text.index('<section id="candidates">'):text.index('<section id="map-section">')]
    assert section.count("<tr><td") == len(cands)
    for c in cands:
        where = html.escape(f"{c.name}, {c.country}" if c.country else c.name)
        assert (f'<tr><td class="id">{where}</td><td>{c.probability:.1%}</td>'
                f"<td>{c.lat_deg:.4f}</td><td>{c.lon_deg:.4f}</td>") in section
    # a method without candidates has no candidates table
    cbg = rttgeo.estimate(rtts, landmarks=sub.landmarks(), method="cbg", calibration=sub)
    assert not cbg.estimate.candidates
    text = report_html(cbg.estimate, landmarks=cbg.landmarks)
    assert 'id="candidates"' not in text and "candidate-table" not in text


def test_report_escapes_candidate_names(europe: Estimate) -> None:
    import dataclasses

    from rttgeo.models import Candidate
    from rttgeo.plot.report import report_html

    odd = Candidate("<b>Saint & Co</b>", "FR", 47.0, 4.0, 0.42, 25.0, 3.0)
    text = report_html(dataclasses.replace(europe, candidates=(odd,)))
    assert ('<tr><td class="id">&lt;b&gt;Saint &amp; Co&lt;/b&gt;, FR</td><td>42.0%</td>'
            "<td>47.0000</td><td>4.0000</td><td>3</td></tr>") in text
    assert "<b>Saint" not in text


def test_report_shows_the_sha256_of_the_rtts_file(europe: Estimate) -> None:
    from rttgeo.plot.report import report_html

    text = report_html(europe, provenance={"source": "s.csv", "source_sha256": "ab" * 32})
    assert "<dt>RTTs from</dt><dd>s.csv</dd>" in text
    assert f"<dt>RTTs file SHA-256</dt><dd>{'ab' * 32}</dd>" in text
