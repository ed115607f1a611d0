"""Helpers of the lab tests: lab availability, probing from inside a host."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

import pytest

from rttgeo.errors import LabError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "worlds"


def lab_unavailable() -> str | None:
    """Why this machine cannot run a lab, or None."""
    from rttgeo.lab.netns import check_capable

    try:
        check_capable()
    except LabError as exc:
        return str(exc)
    return None


def leftover(lab_id: str) -> bool:
    from rttgeo.lab.netns import list_links, list_netns

    return any(n.startswith(f"rttgeo-{lab_id}-") for n in list_netns()) or bool(
        list_links(f"rg{lab_id}-")
    )


_SUMMARY_RE = re.compile(r"= ([0-9.]+)/([0-9.]+)/([0-9.]+)/([0-9.]+) ms")
_RECEIVED_RE = re.compile(r"(\d+) received")


def ping_min_ms(lab, src: str, dst_addr: str, count: int = 10, interval_s: float = 0.01):  # type: ignore[no-untyped-def]
    """(min RTT in ms or None if all lost, replies received) of iputils ping from ``src``.

    Taken from ping's summary line (µs resolution; its per-reply lines drop decimals >= 100 ms).
    """
    if shutil.which("ping") is None:
        pytest.fail("iputils ping is missing: .ci/run installs iputils-ping")
    r = lab.exec(src, ["ping", "-n", "-q", "-c", str(count), "-i", str(interval_s), "-W", "2",
                       dst_addr], timeout_s=60)
    got = _RECEIVED_RE.search(r.stdout)
    received = int(got.group(1)) if got else 0
    summary = _SUMMARY_RE.search(r.stdout)
    return (float(summary.group(1)) if summary else None), received


_PING_RE = re.compile(r"time=([0-9.]+) ms")


def ping_rtts_ms(lab, src: str, dst_addr: str, count: int = 10, interval_s: float = 0.01):  # type: ignore[no-untyped-def]
    """Every reply's RTT (ms, ping's printed precision: 3 significant digits) from ``src``."""
    if shutil.which("ping") is None:
        pytest.fail("iputils ping is missing: .ci/run installs iputils-ping")
    r = lab.exec(src, ["ping", "-n", "-c", str(count), "-i", str(interval_s), "-W", "2",
                       dst_addr], timeout_s=60)
    return [float(x) for x in _PING_RE.findall(r.stdout)]


def prober_rtts_ms(lab, src: str, landmark, protocol: str, count: int = 8):  # type: ignore[no-untyped-def]
    """RTTs (ms) rttgeo's prober of ``protocol`` measures from inside ``src`` (None = lost)."""
    from rttgeo.measure.auto import make_prober

    async def go() -> list[float | None]:
        opts: dict = {"port": landmark.port} if protocol in ("tcp", "udp", "udp-t") else {}
        if protocol == "udp-t":  # UDP minus the server's reported turnaround
            opts["subtract_turnaround"] = True
        out: list[float | None] = []
        async with make_prober(protocol.removesuffix("-t"), **opts) as prober:
            for _ in range(count):
                res = await prober.probe(landmark, 2.0)
                out.append(res.rtt_ms)
                await asyncio.sleep(0.01)
        return out

    return lab.in_host(src, lambda: asyncio.run(go()))

