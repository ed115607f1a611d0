"""``rttgeo estimate STORE``: which campaign it reads, ``--campaign`` and ``--target`` (issue #13
item 1: ``--target B`` silently used the latest campaign, whatever its target)."""

from __future__ import annotations

import json

import pytest

from rttgeo.cli import main
from rttgeo.models import Sample
from rttgeo.store import CampaignStore

CATALOG = "id,lat_deg,lon_deg,address\nparis,48.86,2.35,x\nberlin,52.52,13.40,y\nmadrid,40.42,-3.70,z\n"


@pytest.fixture
def store(tmp_path):
    """Three campaigns: target a near Paris, target b near Madrid, target a near Berlin (latest)."""
    cat = tmp_path / "cat.csv"
    cat.write_text(CATALOG)
    path = tmp_path / "s.db"
    near = {"paris": {"paris": 1.0, "berlin": 9.5, "madrid": 11.0},
            "madrid": {"paris": 11.0, "berlin": 21.0, "madrid": 1.0},
            "berlin": {"paris": 9.5, "berlin": 1.0, "madrid": 21.0}}
    with CampaignStore(path) as s:
        for target, where in (("a", "paris"), ("b", "madrid"), ("a", "berlin")):
            cid = s.begin_campaign(target=target, protocol="icmp")
            for lm, rtt in near[where].items():
                s.add_sample(cid, Sample(target, lm, "icmp", 0, rtt))
            s.end_campaign(cid, "complete")
    return cat, path


def _nearest(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)["confidence"]["nearest_id"], err


def test_default_is_the_latest_campaign_and_says_so(store, capsys) -> None:
    cat, path = store
    nearest, err = _nearest(capsys, ["estimate", str(path), "--landmarks", str(cat), "--json",
                                     "--method", "shortest-ping"])
    assert nearest == "berlin"
    assert "read campaign 3 of" in err and "target 'a'" in err and "holds 3 campaigns" in err


@pytest.mark.parametrize(
    ("extra", "nearest"),
    [
        (["--campaign", "1"], "paris"),
        (["--campaign", "2"], "madrid"),
        (["--target", "b"], "madrid"),
        (["--target", "a"], "berlin"),  # the latest campaign of a
        (["--target", "a", "--campaign", "1"], "paris"),
    ],
)
def test_campaign_and_target_select_the_right_samples(store, capsys, extra, nearest) -> None:
    cat, path = store
    got, _ = _nearest(capsys, ["estimate", str(path), "--landmarks", str(cat), "--json", "-q",
                               "--method", "shortest-ping", *extra])
    assert got == nearest


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--target", "nosuchtarget"], "no campaign of target 'nosuchtarget'"),
        (["--campaign", "7"], "no campaign 7"),
        (["--target", "b", "--campaign", "1"], "measured target 'a', not 'b'"),
        (["--campaign", "0"], "--campaign: must be >= 1"),
    ],
)
def test_a_wrong_selection_is_a_usage_error_not_another_campaign(store, capsys, extra, message):
    cat, path = store
    code = main(["estimate", str(path), "--landmarks", str(cat), *extra])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) <= 3
