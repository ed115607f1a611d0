"""Current RIPE Atlas anchors as landmarks, through ripe-atlas-cousteau (the ``atlas`` extra).

The network seam is :func:`fetch_anchor_records` (API calls) preceded by :func:`check_reachable`
(one TCP connect with a short timeout, so an offline machine fails in seconds, not after the HTTP
library's retries). Tests replace both; nothing here runs at import time.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from rttgeo.errors import DatasetError, require
from rttgeo.models import Landmark

__all__ = [
    "ATLAS_HOST",
    "anchors_to_landmarks",
    "check_reachable",
    "fetch_anchor_landmarks",
    "fetch_anchor_records",
]

ATLAS_HOST = "atlas.ripe.net"


def check_reachable(host: str = ATLAS_HOST, port: int = 443, timeout_s: float = 4.0) -> None:
    """Open and close one TCP connection to ``host:port``; else :class:`DatasetError`."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        raise DatasetError(
            f"cannot reach the RIPE Atlas API at {host}:{port} ({exc}); this machine looks offline "
            "or firewalled. The bundled catalog (RIPE Atlas anchors, April 2023) stays usable; "
            "run 'rttgeo landmarks refresh' again from a machine with Internet access."
        ) from None


def fetch_anchor_records() -> tuple[list[dict[str, Any]], dict[int, int]]:
    """Anchor records from ``AnchorRequest`` and ``{probe_id: status_id}`` from ``ProbeRequest``.

    Network calls to the RIPE Atlas API; raises :class:`DatasetError` when the API refuses.
    """
    cousteau = require("ripe.atlas.cousteau", "atlas")
    try:
        anchors = [dict(a) for a in cousteau.AnchorRequest()]
        status: dict[int, int] = {}
        for p in cousteau.ProbeRequest(is_anchor=True, fields="id,status"):
            st = p.get("status")
            if isinstance(st, Mapping) and "id" in st:
                status[int(p["id"])] = int(st["id"])
    except Exception as exc:  # cousteau raises requests / APIResponseError types
        raise DatasetError(f"the RIPE Atlas API request failed: {exc}") from exc
    return anchors, status


def anchors_to_landmarks(
    records: Iterable[Mapping[str, Any]],
    probe_status: Mapping[int, int] | None = None,
    *,
    date: str,
    family: int = 4,
) -> list[Landmark]:
    """Landmarks (id ``atlas-<probe id>``) of anchors with an address of ``family`` and a position.

    ``family`` 4: the anchor's ``ip_v4``; 6: its ``ip_v6`` (anchors without one, ``is_ipv4_only``,
    are left out), probed with ``--protocol icmp6`` (catalogs list ICMP of either family as
    ``icmp``). Same ids in both, so an IPv6 catalog
    pairs with the IPv4 one and with calibration meshes. Disabled anchors are left out, and so are
    anchors whose probe is not connected (status id 1) when ``probe_status`` knows it. ``date``
    (e.g. ``2026-11-29``) goes into ``source``.
    """
    if family not in (4, 6):
        raise ValueError(f"family must be 4 or 6, not {family!r}")
    keys = ("ip_v4", "address_v4") if family == 4 else ("ip_v6", "address_v6")
    out: list[Landmark] = []
    seen: set[str] = set()
    for a in records:
        if a.get("is_disabled"):
            continue
        addr = a.get(keys[0]) or a.get(keys[1])
        geom = a.get("geometry") or {}
        coords = geom.get("coordinates") if isinstance(geom, Mapping) else None
        probe = a.get("probe")
        if isinstance(probe, Mapping):
            probe = probe.get("id")
        if not addr or not coords or probe is None:
            continue
        if probe_status and int(probe) in probe_status and probe_status[int(probe)] != 1:
            continue
        lm_id = f"atlas-{int(probe)}"
        if lm_id in seen:
            continue
        try:
            lm = Landmark(
                id=lm_id,
                lat_deg=float(coords[1]),
                lon_deg=float(coords[0]),
                address=str(addr),
                protocols=("icmp",),
                country=str(a.get("country") or ""),
                source=f"RIPE Atlas anchor, fetched {date} (atlas.ripe.net API)",
            )
        except (ValueError, TypeError, IndexError):
            continue
        seen.add(lm_id)
        out.append(lm)
    out.sort(key=lambda lm: int(lm.id.split("-", 1)[1]))
    return out


def fetch_anchor_landmarks(
    *,
    date: str,
    reachable: Callable[[], None] = check_reachable,
    fetch: Callable[[], tuple[list[dict[str, Any]], dict[int, int]]] = fetch_anchor_records,
    family: int = 4,
) -> list[Landmark]:
    """The current RIPE Atlas anchors as landmarks with their IPv``family`` addresses (4 or 6).

    Fails in seconds when offline (DatasetError).
    """
    reachable()
    records, status = fetch()
    landmarks = anchors_to_landmarks(records, status, date=date, family=family)
    if not landmarks:
        raise DatasetError(f"the RIPE Atlas API returned no usable anchor (IPv{family} address "
                           "+ position)")
    return landmarks
