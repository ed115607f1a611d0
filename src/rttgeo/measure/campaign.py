"""Campaigns: many landmarks, k samples each, bounded concurrency, a polite rate, every sample kept.

Scheduling: one task per landmark sends its k samples one after the other, never more than one
probe of ours in flight to a landmark and at least ``landmark_interval_s`` (default 0.1 s, so at
most 10 probes/s per landmark) between two sends to it. Overall, up to ``concurrency`` probes are
in flight and a token bucket caps the global send rate at ``rate_per_s`` (default 4000 probes/s,
about 2.7 Mbit/s of 84-byte ICMP echoes; bursts of ``burst``). With the defaults, N <= 1024
landmarks x k samples take about ``k x max RTT + N x k / rate_per_s`` seconds when everything
answers (benchmarks/bench_campaign_throughput.py: 800 x 3 within ``3 x max RTT + 2 s``).

A lost probe (timeout, or an ``error`` result) is retried up to ``retries`` times; every attempt is
recorded as a sample, a lost one with ``rtt_ms=None`` (never 0). ``unreachable`` / ``refused``
answers are recorded and not retried. A prober that raises an :class:`rttgeo.errors.RttgeoError`
(e.g. :class:`~rttgeo.errors.PermissionDenied`) aborts the campaign (status ``failed``); any other
exception becomes an ``error`` sample whose detail is counted in :attr:`CampaignResult.errors`,
as is the detail of every ``mismatch`` (a reply that is not this landmark's: it announces another
position), so that a landmark that answered yet gave no sample is never silent.

Each sample goes to the store (committed) and to ``on_sample`` the moment it is known. On
cancellation (Ctrl-C under ``asyncio.run``) the in-flight probes are cancelled, the campaign is
marked ``interrupted`` and the cancellation propagates; samples recorded so far stay in the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from rttgeo.errors import MeasurementError, NoLandmarkAnswered, RttgeoError
from rttgeo.measure.base import Prober, ProbeResult, ProberStats
from rttgeo.measure.progress import Progress, make_progress
from rttgeo.models import Landmark, Sample

__all__ = [
    "Campaign",
    "CampaignParams",
    "CampaignResult",
    "TokenBucket",
    "probe_wave",
    "run_campaign",
]

#: Statuses after which a probe is retried.
RETRY_STATUSES = frozenset({"timeout", "error"})


@dataclass(frozen=True, slots=True)
class CampaignParams:
    """Knobs of a campaign (units in names). Validated on creation (ValueError)."""

    k: int = 3
    concurrency: int = 1024
    rate_per_s: float = 4000.0
    burst: int = 100
    timeout_s: float = 2.0
    retries: int = 1
    landmark_interval_s: float = 0.1

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError("k (samples per landmark) must be >= 1")
        if self.concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if not self.rate_per_s > 0:
            raise ValueError("rate_per_s must be > 0 (use math.inf for no limit)")
        if self.burst < 1:
            raise ValueError("burst must be >= 1")
        if not (math.isfinite(self.timeout_s) and self.timeout_s > 0):
            raise ValueError("timeout_s must be a finite number > 0")
        if self.retries < 0:
            raise ValueError("retries must be >= 0")
        if self.landmark_interval_s < 0:
            raise ValueError("landmark_interval_s must be >= 0")

    def as_dict(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "concurrency": self.concurrency,
            "rate_per_s": self.rate_per_s,
            "burst": self.burst,
            "timeout_s": self.timeout_s,
            "retries": self.retries,
            "landmark_interval_s": self.landmark_interval_s,
        }


class TokenBucket:
    """Global send-rate limit (GCRA): at most ``burst`` sends at once, then ``rate_per_s`` per s."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.interval_s = 0.0 if math.isinf(rate_per_s) else 1.0 / rate_per_s
        self._tolerance_s = (burst - 1) * self.interval_s
        self._tat = -math.inf  # theoretical arrival time of the next send (clock s)
        self._clock = clock
        self._sleep = sleep

    async def acquire(self) -> None:
        """Wait for the next send slot (slots are reserved in call order)."""
        if self.interval_s == 0.0:
            return
        now = self._clock()
        tat = max(self._tat, now)
        send_at = max(now, tat - self._tolerance_s)
        self._tat = tat + self.interval_s
        if send_at > now + 1e-9:  # ignore float dust
            await self._sleep(send_at - now)


@dataclass(slots=True)
class CampaignResult:
    """What a campaign measured. ``min_rtt_ms`` follows ``landmark_ids`` (NaN: no reply)."""

    landmark_ids: tuple[str, ...]
    samples: list[Sample]
    statuses: list[str]
    status: str
    campaign_id: int | None
    elapsed_s: float
    protocol: str
    prober_stats: ProberStats
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def n_sent(self) -> int:
        return len(self.samples)

    @property
    def n_lost(self) -> int:
        return sum(s.rtt_ms is None for s in self.samples)

    @property
    def min_rtt_ms(self) -> np.ndarray:
        best = {i: math.inf for i in self.landmark_ids}
        for s in self.samples:
            if s.rtt_ms is not None and s.landmark in best:
                best[s.landmark] = min(best[s.landmark], s.rtt_ms)
        return np.array([v if math.isfinite(v) else np.nan for v in best.values()], dtype=float)

    @property
    def answered(self) -> tuple[str, ...]:
        """Ids of landmarks with at least one reply."""
        return tuple(
            i for i, v in zip(self.landmark_ids, self.min_rtt_ms, strict=True) if math.isfinite(v)
        )


SampleCallback = Callable[[Sample, str], None]


class Campaign:
    """One campaign over an opened prober; run one or more phases with :meth:`run`.

    ``store`` is a :class:`rttgeo.store.CampaignStore` (or None); samples are written under
    ``campaign_id`` (begun by the caller or by :func:`run_campaign`).
    """

    def __init__(
        self,
        prober: Prober,
        params: CampaignParams = CampaignParams(),
        *,
        store: Any = None,
        campaign_id: int | None = None,
        target: str = "self",
        on_sample: SampleCallback | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.prober = prober
        self.params = params
        self.store = store
        self.campaign_id = campaign_id
        self.target = target
        self.on_sample = on_sample
        self.progress = progress
        self.samples: list[Sample] = []
        self.statuses: list[str] = []
        self.errors: Counter[str] = Counter()
        self._sem = asyncio.Semaphore(params.concurrency)
        self._bucket = TokenBucket(params.rate_per_s, params.burst)
        self._last_send: dict[str, float] = {}

    def _record(self, sample: Sample, status: str, attempt: int, seq: int, final: bool) -> None:
        if self.store is not None and self.campaign_id is not None:
            self.store.add_sample(self.campaign_id, sample, status=status, attempt=attempt, seq=seq)
        self.samples.append(sample)
        self.statuses.append(status)
        if self.on_sample is not None:
            self.on_sample(sample, status)
        if final and self.progress is not None:
            self.progress.update(lost=sample.rtt_ms is None)

    async def _probe_once(self, lm: Landmark, timeout_s: float) -> ProbeResult:
        interval = self.params.landmark_interval_s
        if interval > 0 and lm.id in self._last_send:
            wait = self._last_send[lm.id] + interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        async with self._sem:
            await self._bucket.acquire()
            self._last_send[lm.id] = time.monotonic()
            sent_ns = time.time_ns()
            try:
                # The prober owns its timeout; this outer one guards against a prober that hangs.
                res = await asyncio.wait_for(self.prober.probe(lm, timeout_s), timeout_s + 1.0)
            except TimeoutError:
                return ProbeResult("timeout", None, sent_ns, "", "prober overran its timeout")
            except RttgeoError:
                raise
            except Exception as exc:  # recorded and counted, never dropped
                return ProbeResult("error", None, sent_ns, "", f"{type(exc).__name__}: {exc}")
        if res.status == "ok":
            rtt = res.rtt_ms
            if rtt is None or not (math.isfinite(rtt) and rtt > 0):
                return ProbeResult(
                    "error",
                    None,
                    res.sent_unix_ns or sent_ns,
                    res.timing,
                    f"prober returned an invalid RTT {rtt!r}",
                )
        elif res.rtt_ms is not None:
            res = replace(res, rtt_ms=None)
        if not res.sent_unix_ns:
            res = replace(res, sent_unix_ns=sent_ns)
        return res

    async def _landmark(self, lm: Landmark, k: int, timeout_s: float, retries: int) -> None:
        for seq in range(k):
            for attempt in range(retries + 1):
                res = await self._probe_once(lm, timeout_s)
                ok = res.status == "ok"
                if res.status in ("error", "mismatch"):
                    self.errors[res.detail or res.status] += 1
                final = ok or attempt == retries or res.status not in RETRY_STATUSES
                sample = Sample(
                    self.target,
                    lm.id,
                    self.prober.protocol,
                    int(res.sent_unix_ns),
                    res.rtt_ms if ok else None,
                    res.timing,
                )
                self._record(sample, res.status, attempt, seq, final)
                if final:
                    break

    async def run(
        self,
        landmarks: Sequence[Landmark],
        *,
        k: int | None = None,
        timeout_s: float | None = None,
        retries: int | None = None,
    ) -> None:
        """Probe ``landmarks`` (k samples each; defaults from params). Samples accumulate."""
        k = self.params.k if k is None else k
        timeout_s = self.params.timeout_s if timeout_s is None else timeout_s
        retries = self.params.retries if retries is None else retries
        tasks = [asyncio.create_task(self._landmark(lm, k, timeout_s, retries)) for lm in landmarks]
        if not tasks:
            return
        try:
            done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            failed = [t for t in done if not t.cancelled() and t.exception() is not None]
            if failed:
                raise failed[0].exception()  # type: ignore[misc]
        finally:
            for t in tasks:
                t.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*tasks, return_exceptions=True)

    def result(self, landmark_ids: Sequence[str], status: str, elapsed_s: float) -> CampaignResult:
        return CampaignResult(
            landmark_ids=tuple(landmark_ids),
            samples=list(self.samples),
            statuses=list(self.statuses),
            status=status,
            campaign_id=self.campaign_id,
            elapsed_s=elapsed_s,
            protocol=self.prober.protocol,
            prober_stats=self.prober.stats,
            errors=Counter(self.errors),
        )


def _check_landmarks(landmarks: Sequence[Landmark]) -> None:
    ids = [lm.id for lm in landmarks]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise MeasurementError(f"landmark id {dup!r} appears twice in the campaign")


def raise_fd_limit(needed: int) -> None:
    """Raise the soft open-file limit towards ``needed`` + headroom (capped by the hard limit)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = needed + 256
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))


async def run_campaign(
    prober: Prober,
    landmarks: Sequence[Landmark],
    params: CampaignParams = CampaignParams(),
    *,
    store: Any = None,
    target: str = "self",
    catalog_path: str | Path | None = None,
    catalog_sha256: str | None = None,
    on_sample: SampleCallback | None = None,
    quiet: bool | None = None,
    progress: Progress | None = None,
) -> CampaignResult:
    """Open ``prober``, probe every landmark ``params.k`` times, close it; see module doc.

    With a ``store``, a campaign row is begun (status ``running``) and ended ``complete``,
    ``interrupted`` (cancelled) or ``failed`` (a RttgeoError from the prober); the store itself is
    left open for the caller to close. Raises what the prober raises for a failed campaign.
    """
    _check_landmarks(landmarks)
    raise_fd_limit(min(params.concurrency, len(landmarks)))
    cid = None
    if store is not None:
        cid = store.begin_campaign(
            target=target,
            protocol=prober.protocol,
            catalog_path=catalog_path,
            catalog_sha256=catalog_sha256,
            params={**params.as_dict(), "n_landmarks": len(landmarks)},
        )
    own_progress = progress is None
    if progress is None:
        progress = make_progress(len(landmarks) * params.k, quiet=quiet)
    camp = Campaign(
        prober,
        params,
        store=store,
        campaign_id=cid,
        target=target,
        on_sample=on_sample,
        progress=progress,
    )
    t0 = time.monotonic()
    status = "failed"
    try:
        async with prober:
            await camp.run(landmarks)
        status = "complete"
    except asyncio.CancelledError:
        status = "interrupted"
        raise
    finally:
        if own_progress:
            progress.close()
        if store is not None and cid is not None and not getattr(store, "closed", False):
            store.end_campaign(cid, status)
    return camp.result([lm.id for lm in landmarks], status, time.monotonic() - t0)


async def probe_wave(
    camp: Campaign,
    landmarks: Sequence[Landmark],
    *,
    k: int = 1,
    timeout_s: float = 1.5,
) -> tuple[str, ...]:
    """A quick first wave: ``k`` samples to each landmark, short timeout, no retry.

    Returns the ids that answered; raises :class:`NoLandmarkAnswered` (saying the host looks offline
    or firewalled and suggesting ``rttgeo demo``) when none did. Takes about ``k x timeout_s``.
    """
    start = len(camp.samples)
    await camp.run(landmarks, k=k, timeout_s=timeout_s, retries=0)
    new = camp.samples[start:]
    answered = tuple(dict.fromkeys(s.landmark for s in new if s.rtt_ms is not None))
    if not answered:
        statuses = Counter(camp.statuses[start:])
        detail = ", ".join(f"{n} {st}" for st, n in statuses.most_common())
        raise NoLandmarkAnswered(
            f"none of {len(landmarks)} landmarks answered {camp.prober.protocol} probes within "
            f"{timeout_s:g} s ({detail}): this host looks offline or firewalled for this protocol. "
            "Try another --protocol, check the network, or run 'rttgeo demo' to see rttgeo work "
            "offline on recorded data."
        )
    return answered
