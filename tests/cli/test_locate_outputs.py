"""``rttgeo locate --map/--report`` and ``--subtract-turnaround`` (fake prober at the CLI's seam)."""

from __future__ import annotations

import re

import pytest

from rttgeo.cli import main, measure_cmds

from .test_locate import geo_prober, write_catalog

pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")


def test_locate_writes_map_and_report(tmp_path, monkeypatch, capsys) -> None:
    cat = tmp_path / "cat.csv"
    lat, lon = write_catalog(cat)
    prober, _ = geo_prober(lat, lon)
    monkeypatch.setattr(measure_cmds, "make_prober_for", lambda protocol, port=None: prober)
    png, html = tmp_path / "m.png", tmp_path / "r.html"
    code = main(["locate", "--landmarks", str(cat), "--method", "cbg", "-q", "-k", "1",
                 "--timeout", "0.3", "--map", str(png), "--report", str(html)])
    assert code == 0, capsys.readouterr()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = html.read_text()
    assert "<svg" in text and "lm0" in text
    assert not re.search(r"""(src|href)=["']https?://""", text), "the report must fetch nothing"


def test_subtract_turnaround_is_udp_only(tmp_path, capsys) -> None:
    cat = tmp_path / "cat.csv"
    write_catalog(cat)
    assert main(["locate", "--landmarks", str(cat), "--protocol", "icmp",
                 "--subtract-turnaround"]) == 2
    assert "only UDP replies carry a turnaround" in capsys.readouterr().err
