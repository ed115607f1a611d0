"""The course exercise on one machine (issue #12's teaching path): landmark servers on loopback
in one city, 'rttgeo measure' into a store, 'rttgeo estimate STORE'; a landmark whose stated
position contradicts its RTT is named once, with the reason, and the estimate still comes out."""

from __future__ import annotations

import json

from rttgeo.cli import main

from .test_locate import ServerThread

#: Four landmarks in Paris and one that claims to be in Sydney: all answer in microseconds.
PLACES = [(48.860, 2.350), (48.870, 2.360), (48.850, 2.340), (48.865, 2.335), (-33.87, 151.21)]


def test_loopback_exercise_measure_then_estimate(tmp_path, capsys) -> None:
    store = tmp_path / "camp.db"
    with ServerThread(PLACES) as st:
        lines = ["id,lat_deg,lon_deg,address,port,protocols"]
        for i, ((la, lo), s) in enumerate(zip(PLACES, st.servers, strict=True)):
            name = "sydney" if i == 4 else f"paris{i}"
            lines.append(f"{name},{la},{lo},127.0.0.{i + 1},{s.port},udp")
        cat = tmp_path / "mycat.csv"
        cat.write_text("\n".join(lines) + "\n")
        assert main(["measure", "--landmarks", str(cat), "--protocol", "udp", "--store",
                     str(store), "-q", "-k", "3", "--timeout", "1"]) == 0
    capsys.readouterr()
    code = main(["estimate", str(store), "--landmarks", str(cat), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    warned = [w for w in err.splitlines() if w.startswith("warning:")]
    assert len([w for w in warned if "'sydney'" in w]) == 1, err  # once, naming it
    assert len(warned) == len(set(warned))
    assert doc["warnings"] == [w.removeprefix("warning: ") for w in warned]
    sydney = next(d for d in doc["estimate"]["landmarks"] if d["id"] == "sydney")
    assert not sydney["used"] and sydney["note"]  # left out, and why
    pt = doc["estimate"]["point"]
    assert 48.0 < pt["lat_deg"] < 49.7 and 1.3 < pt["lon_deg"] < 3.4  # in Paris, not Sydney
    assert "read campaign 1 of" in err
    # the nearest landmark quoted is one the estimate kept, never the one it left out
    assert doc["confidence"]["nearest_id"].startswith("paris")
