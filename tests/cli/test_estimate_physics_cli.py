"""``rttgeo estimate`` on the teaching path: loopback landmarks (issues #12 and #13 item 5)."""

from __future__ import annotations

import json

from rttgeo.cli import main
from rttgeo.cli.exitcodes import ExitCode


def _files(tmp_path, places: list[tuple[str, float, float]], rtt_ms: float):
    cat = tmp_path / "mycat.csv"
    cat.write_text("id,lat_deg,lon_deg,address\n" + "".join(
        f"{name},{lat},{lon},127.0.0.{k + 1}\n" for k, (name, lat, lon) in enumerate(places)))
    samples = tmp_path / "s.csv"
    samples.write_text("target,landmark,protocol,sent_unix_ns,rtt_ms\n" + "".join(
        f"me,{name},icmp,{k},{rtt_ms + 0.001 * k}\n" for k, (name, _, _) in enumerate(places)))
    return cat, samples


def test_loopback_landmarks_in_one_place_give_an_estimate(tmp_path, capsys) -> None:
    # Regression (#12): sub-millisecond RTTs between landmarks a hundred metres apart were called
    # faster than light, every landmark was dropped, and the user read "every RTT is missing".
    places = [("lab-a", 48.0, 2.0), ("lab-b", 48.0009, 2.0), ("lab-c", 48.0, 2.00134)]
    cat, samples = _files(tmp_path, places, 0.04)
    out = tmp_path / "e.json"
    for method in ("rttgeo", "cbg"):
        assert main(["estimate", str(samples), "--landmarks", str(cat), "--method", method,
                     "--out", str(out)]) == 0
        captured = capsys.readouterr()
        assert "left out" not in captured.out + captured.err
        e = json.loads(out.read_text())["estimate"]
        assert all(d["used"] for d in e["landmarks"])
        assert all(d["distance_km"] <= d["rtt_ms"] * 149.896229 for d in e["landmarks"])


def test_loopback_landmarks_placed_in_three_capitals_fail_saying_why(tmp_path, capsys) -> None:
    # Regression (#13 item 5): the reason every landmark was left out was recorded and thrown away.
    places = [("paris", 48.85, 2.35), ("berlin", 52.52, 13.40), ("madrid", 40.42, -3.70)]
    cat, samples = _files(tmp_path, places, 0.05)
    out = tmp_path / "e.json"
    rc = main(["estimate", str(samples), "--landmarks", str(cat), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == ExitCode.RUNTIME  # EstimationError: no estimate can be made (cli.exit_code)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "every RTT is missing" not in err
    for want in ("'paris'", "speed of light", "loopback"):
        assert want in err
    assert not out.exists()
