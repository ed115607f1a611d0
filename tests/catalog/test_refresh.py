"""Refreshing the anchor list: the RIPE Atlas API is mocked at the seam (no network in tests)."""

from __future__ import annotations

import pytest

from rttgeo.atlas import anchors_to_landmarks, fetch_anchor_landmarks
from rttgeo.errors import DatasetError


def rec(probe, ip="192.0.2.1", lon=4.9, lat=52.4, **kw):
    return {
        "probe": probe,
        "ip_v4": ip,
        "country": "NL",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        **kw,
    }


def test_records_filtered_and_converted():
    records = [
        rec(7),
        rec(3, lon=-74.0, lat=40.7),
        rec(5, ip=None),
        rec(6, is_disabled=True),
        rec(8),
        rec(9, lat=95.0),
        rec({"id": 11}),
        rec(3),
    ]
    lms = anchors_to_landmarks(records, {8: 2, 7: 1}, date="2026-11-29")
    # sorted by probe id; no address / disabled / disconnected (8) / bad position / repeat: out
    assert [lm.id for lm in lms] == ["atlas-3", "atlas-7", "atlas-11"]
    assert (lms[0].lat_deg, lms[0].lon_deg) == (40.7, -74.0)  # GeoJSON order is lon, lat
    assert lms[0].source == "RIPE Atlas anchor, fetched 2026-11-29 (atlas.ripe.net API)"


def test_ipv6_family_takes_ip_v6_and_leaves_ipv4_only_anchors_out():
    records = [
        rec(7, ip_v6="2001:db8::7"),
        rec(3, ip_v6=None, is_ipv4_only=True),
        rec(5, ip=None, ip_v6="2001:db8::5"),
    ]
    lms = anchors_to_landmarks(records, date="2026-11-29", family=6)
    assert [(lm.id, lm.address, lm.protocols) for lm in lms] == [
        ("atlas-5", "2001:db8::5", ("icmp",)), ("atlas-7", "2001:db8::7", ("icmp",))]
    # what --protocol icmp6 probes, and --protocol icmp does not
    from rttgeo.api._probing import for_protocol
    from rttgeo.errors import InputError

    assert for_protocol(lms, "icmp6") == lms
    with pytest.raises(InputError, match="use --protocol icmp6"):
        for_protocol(lms, "icmp")
    v4 = anchors_to_landmarks(records, date="2026-11-29")
    assert [(lm.id, lm.protocols) for lm in v4] == [("atlas-3", ("icmp",)), ("atlas-7", ("icmp",))]
    with pytest.raises(ValueError):
        anchors_to_landmarks(records, date="2026-11-29", family=5)


def test_offline_fails_before_any_api_call():
    fetched = []

    def offline():
        raise DatasetError("cannot reach the RIPE Atlas API")

    with pytest.raises(DatasetError, match="cannot reach"):
        fetch_anchor_landmarks(
            date="d", reachable=offline, fetch=lambda: fetched.append(1) or ([], {})
        )
    assert fetched == []


def test_empty_answer_is_an_error():
    with pytest.raises(DatasetError, match="no usable anchor"):
        fetch_anchor_landmarks(
            date="d", reachable=lambda: None, fetch=lambda: ([rec(1, ip="")], {})
        )
