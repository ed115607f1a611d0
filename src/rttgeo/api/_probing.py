"""What the probing verbs (``locate``, ``measure``) share: the landmarks a protocol can reach, the
prober, the campaign parameters, and one run of a campaign with its store and progress bar."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from rttgeo.api._catalog import LandmarksLike, ResolvedCatalog, resolve_landmarks
from rttgeo.api._results import Measurement
from rttgeo.errors import InputError
from rttgeo.models import Landmark

__all__ = ["Plan", "campaign_params", "plan", "run_campaign_once"]

T = TypeVar("T")
#: Narration seam: one line for a person (the CLI prints it on stderr; scripts pass None).
Log = Callable[[str], None] | None


def campaign_params(
    *,
    k: int = 3,
    timeout_s: float = 2.0,
    retries: int = 1,
    concurrency: int = 1024,
    rate_per_s: float = 4000.0,
    landmark_interval_s: float = 0.1,
) -> Any:
    """A validated :class:`rttgeo.measure.CampaignParams` (``rate_per_s`` 0 or inf: no limit)."""
    from rttgeo.measure import CampaignParams

    try:
        return CampaignParams(
            k=k,
            concurrency=concurrency,
            rate_per_s=math.inf if rate_per_s == 0 else rate_per_s,
            timeout_s=timeout_s,
            retries=retries,
            landmark_interval_s=landmark_interval_s,
        )
    except (TypeError, ValueError) as exc:
        raise InputError(str(exc), field="campaign") from None


def make_prober(
    protocol: str, port: int | None = None, *, subtract_turnaround: bool = False
) -> Any:
    """A new prober for ``protocol`` (see :func:`rttgeo.measure.make_prober`)."""
    from rttgeo.measure import make_prober as _make

    opts: dict[str, Any] = {}
    if subtract_turnaround:
        if protocol != "udp":
            raise InputError("only UDP replies carry a turnaround", field="subtract_turnaround")
        opts["subtract_turnaround"] = True
    if port is not None and protocol in ("tcp", "udp"):
        opts["port"] = port
    try:
        return _make(protocol, **opts)
    except ValueError as exc:
        raise InputError(str(exc), field="protocol") from None


def _is_ip(address: str, version: int) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).version == version
    except ValueError:  # a host name: the prober resolves it in its own family
        return False


def for_protocol(landmarks: Sequence[Landmark], protocol: str) -> list[Landmark]:
    """The landmarks a prober of ``protocol`` can probe: an address, a catalog entry that allows
    the protocol (``icmp6`` is listed as ``icmp``), and the address family ICMP needs (``icmp``
    skips IPv6 literals, ``icmp6`` IPv4 ones; TCP and UDP take both)."""
    base = protocol.split("-")[0]
    if base in ("fake", "replay"):
        return list(landmarks)
    listed = "icmp" if base == "icmp6" else base
    usable = [lm for lm in landmarks if listed in lm.protocols and lm.address]
    if base == "icmp":
        usable = [lm for lm in usable if not _is_ip(lm.address, 6)]
    elif base == "icmp6":
        usable = [lm for lm in usable if not _is_ip(lm.address, 4)]
    if not usable:
        family = {"icmp": " IPv4", "icmp6": " IPv6"}.get(base, "")
        hint = {
            "icmp": "; for IPv6 addresses use --protocol icmp6",
            "icmp6": "; the bundled catalog is IPv4 only (docs/catalog.md): give a catalog with "
            "IPv6 addresses ('rttgeo landmarks refresh --family 6' writes one)",
        }.get(base, "")
        raise InputError(
            f"the catalog lists no landmark with an{family} address that answers {listed}{hint}; "
            "pick another protocol or a catalog whose 'protocols' column includes it",
            field="protocol",
        )
    return usable


def spread(landmarks: Sequence[Landmark], limit: int | None) -> list[Landmark]:
    """At most ``limit`` landmarks spread over the catalog (farthest-point sample), catalog order."""
    if limit is None or limit >= len(landmarks):
        return list(landmarks)
    if limit < 1:
        raise InputError(f"the landmark limit must be >= 1, got {limit}", field="limit")
    from rttgeo.measure import farthest_point_indices

    idx = farthest_point_indices(
        [lm.lat_deg for lm in landmarks], [lm.lon_deg for lm in landmarks], limit
    )
    return [landmarks[i] for i in sorted(idx)]


@dataclass(frozen=True, slots=True)
class Plan:
    """What a probing verb will do: which landmarks, with which prober and parameters."""

    catalog: ResolvedCatalog
    landmarks: tuple[Landmark, ...]
    prober: Any
    params: Any


def plan(
    landmarks: LandmarksLike,
    *,
    prober: Any,
    protocol: str,
    port: int | None,
    subtract_turnaround: bool,
    params: Any,
    limit: int | None,
) -> Plan:
    """Resolve the catalog, the prober (``prober`` if given, else a new one for ``protocol``),
    the landmarks it can reach (at most ``limit``) and the campaign parameters."""
    from rttgeo.measure import CampaignParams

    if params is None:
        params = CampaignParams()
    elif not isinstance(params, CampaignParams):
        raise InputError("campaign must be a rttgeo.measure.CampaignParams", field="campaign")
    cat = resolve_landmarks(landmarks)
    if prober is None:
        prober = make_prober(protocol, port, subtract_turnaround=subtract_turnaround)
    usable = spread(for_protocol(cat.landmarks, prober.protocol), limit)
    return Plan(cat, tuple(usable), prober, params)


def run_campaign_once(
    p: Plan,
    body: Callable[[Any], Awaitable[T]],
    *,
    store: str | Path | None,
    target: str,
    command: str,
    extra_params: dict[str, Any] | None = None,
    progress: bool = False,
    log: Log = None,
    start_line: Callable[[int | None], str] | None = None,
) -> tuple[T, Measurement]:
    """Run ``body(campaign)`` inside the opened prober; record every sample (and in ``store``).

    The store's campaign row is begun before probing and ended ``complete``, ``interrupted``
    (Ctrl-C: the samples so far stay, and KeyboardInterrupt propagates) or ``failed``.
    ``start_line(campaign_id)`` is narrated before the first probe.
    """
    from rttgeo.measure import Campaign
    from rttgeo.measure.progress import make_progress
    from rttgeo.measure.sync import run_sync

    db = None
    cid = None
    if store is not None:
        from rttgeo.store import CampaignStore

        db = CampaignStore(store)
        cid = db.begin_campaign(
            target=target,
            protocol=p.prober.protocol,
            catalog_path=p.catalog.label,
            catalog_sha256=p.catalog.sha256,
            params={**p.params.as_dict(), "n_landmarks": len(p.landmarks), "command": command,
                    **(extra_params or {})},
        )
    bar = make_progress(0, quiet=not progress)
    camp = Campaign(p.prober, p.params, store=db, campaign_id=cid, target=target, progress=bar)
    if log is not None and start_line is not None:
        log(start_line(cid))

    async def go() -> T:
        async with p.prober:
            return await body(camp)

    status = "failed"
    t0 = time.monotonic()
    try:
        value = run_sync(go())
        status = "complete"
    except KeyboardInterrupt:
        status = "interrupted"
        if log is not None and store is not None:
            log(f"interrupted: {len(camp.samples)} samples kept in {store}")
        raise
    finally:
        bar.close()
        if db is not None and cid is not None:
            db.end_campaign(cid, status)
            db.close()
    ids = {lm.id for lm in p.landmarks}
    probed = {s.landmark for s in camp.samples if s.landmark in ids}
    answered = {s.landmark for s in camp.samples if s.landmark in ids and s.rtt_ms is not None}
    return value, Measurement(
        protocol=p.prober.protocol,
        k=p.params.k,
        samples=tuple(camp.samples),
        landmarks_probed=len(probed),
        landmarks_answered=len(answered),
        elapsed_s=time.monotonic() - t0,
        status=status,
        store=None if store is None else str(store),
        campaign_id=cid,
        params=p.params.as_dict(),
        errors=tuple(Counter(camp.errors).most_common()),
    )
