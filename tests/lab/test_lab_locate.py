"""``rttgeo lab locate HOST`` (root): locate a lab host from inside it and print the error against
the true position the lab gave it; the teaching path of issue #12."""

from __future__ import annotations

import json

import pytest

from rttgeo.cli import main
from rttgeo.geo.sphere import distance_km
from rttgeo.lab import parse_world

pytestmark = [pytest.mark.root, pytest.mark.timeout(180)]

#: Delays from geography at 2/3 c (the lab's geography model), so CBG's model is exact here.
WORLD = {
    "name": "teach",
    "delay": {"model": "geography", "fraction_of_c": 2.0 / 3.0},
    "network": {"prefix_len": 28},
    "hosts": [
        {"name": "paris", "lat_deg": 48.8566, "lon_deg": 2.3522},
        {"name": "london", "lat_deg": 51.5074, "lon_deg": -0.1278},
        {"name": "berlin", "lat_deg": 52.52, "lon_deg": 13.405},
        {"name": "madrid", "lat_deg": 40.4168, "lon_deg": -3.7038},
        {"name": "rome", "lat_deg": 41.9028, "lon_deg": 12.4964},
        {"name": "lyon", "lat_deg": 45.764, "lon_deg": 4.8357, "role": "target",
         "access_ms": 0.5},
    ],
}


def test_lab_locate_prints_the_error_against_the_truth(make_lab, capsys) -> None:  # type: ignore[no-untyped-def]
    lab = make_lab(parse_world(WORLD), serve=False)
    code = main(["lab", "locate", "lyon", "--lab", lab.id, "--method", "cbg", "--json", "-q",
                 "-k", "2", "--timeout", "1"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    truth = doc["truth"]
    assert truth["host"] == "lyon" and truth["lat_deg"] == 45.764
    pt = doc["estimate"]["point"]
    assert truth["error_km"] == pytest.approx(
        float(distance_km(pt["lat_deg"], pt["lon_deg"], 45.764, 4.8357)), abs=0.01)
    # the delays are CBG's own model (2/3 c on great circles, plus access and the engine's
    # microseconds), so every constraint is sound: the feasible region holds the truth
    assert truth["truth_in_region"] is True
    assert doc["measurement"]["landmarks_answered"] == 5
    assert truth["error_km"] < 400.0

    code = main(["lab", "locate", "berlin", "--lab", lab.id, "--method", "cbg", "-q", "-k", "1",
                 "--timeout", "1"])
    text = capsys.readouterr().out
    assert code == 0
    assert "4 of 4 probed landmarks answered" in text  # berlin itself is left out
    assert "km from the true position" in text and "(berlin, lab " in text


def test_lab_locate_an_unknown_host_is_a_usage_error(make_lab, capsys) -> None:  # type: ignore[no-untyped-def]
    lab = make_lab(parse_world(WORLD), serve=False)
    assert main(["lab", "locate", "atlantis", "--lab", lab.id]) == 2
    err = capsys.readouterr().err
    assert "has no host 'atlantis'" in err and "lyon" in err and "Traceback" not in err
