"""Campaign paths driven by the scripted FakeProber: loss, timeout, duplicates, late replies,
reordering, retries, failures, concurrency and rate limits, cancellation, store writes."""

from __future__ import annotations

import asyncio
import functools
import io
import math
import time

import numpy as np
import pytest

from rttgeo.errors import MeasurementError, NoLandmarkAnswered, PermissionDenied
from rttgeo.measure import (
    Campaign,
    CampaignParams,
    FakeProber,
    Prober,
    ProbeResult,
    TokenBucket,
    probe_wave,
    run_campaign,
    run_campaign_sync,
)
from rttgeo.measure.fake import Fail, Late, Loss, Raise, ReplayProber, Reply
from rttgeo.models import Landmark
from rttgeo.store import CampaignStore


def arun(fn):
    """Run an async test function in a fresh event loop (no pytest-asyncio needed)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


def lms(n: int) -> list[Landmark]:
    return [Landmark(f"L{i}", -60 + i, -170 + 3 * i, f"127.0.0.{i + 1}") for i in range(n)]


FAST = CampaignParams(k=3, timeout_s=0.2, retries=1, rate_per_s=math.inf)


def by_landmark(result, lid):
    return [(s, st) for s, st in zip(result.samples, result.statuses, strict=True) if s.landmark == lid]


def test_all_answer_min_rtt_and_sample_count():
    prober = FakeProber({"L0": [12, 10, 11], "L1": [5, 7, 6], "L2": [30]})
    res = run_campaign_sync(prober, lms(3), FAST, quiet=True)
    assert res.status == "complete"
    assert res.n_sent == 9 and res.n_lost == 0
    np.testing.assert_array_equal(res.min_rtt_ms, [10.0, 5.0, 30.0])
    assert [s.rtt_ms for s, _ in by_landmark(res, "L0")] == [12.0, 10.0, 11.0]
    assert all(s.protocol == "fake" and s.timing == "fake" and s.target == "self" for s in res.samples)
    assert prober.opened and prober.closed


def test_loss_is_retried_and_every_attempt_recorded_never_zero():
    # sample 0: lost then answered on retry; sample 1: lost twice (retries exhausted); sample 2: ok
    prober = FakeProber({"L0": [Loss(), 8, Loss(), Loss(), 9]})
    res = run_campaign_sync(prober, lms(1), FAST, quiet=True)
    got = [(s.rtt_ms, st) for s, st in by_landmark(res, "L0")]
    assert got == [
        (None, "timeout"),
        (8.0, "ok"),
        (None, "timeout"),
        (None, "timeout"),
        (9.0, "ok"),
    ]
    assert res.n_lost == 3
    assert res.min_rtt_ms[0] == 8.0
    assert all(s.rtt_ms is None or s.rtt_ms > 0 for s in res.samples)


def test_no_retry_when_retries_zero():
    prober = FakeProber({"L0": [Loss()]})
    res = run_campaign_sync(prober, lms(1), CampaignParams(k=2, timeout_s=0.05, retries=0), quiet=True)
    assert [st for _, st in by_landmark(res, "L0")] == ["timeout", "timeout"]
    assert math.isnan(res.min_rtt_ms[0])


def test_late_reply_counts_as_lost_and_late():
    prober = FakeProber({"L0": [Late(500), 4, 4]})
    res = run_campaign_sync(prober, lms(1), CampaignParams(k=2, timeout_s=0.05, retries=1), quiet=True)
    assert [(s.rtt_ms, st) for s, st in by_landmark(res, "L0")] == [
        (None, "timeout"),
        (4.0, "ok"),
        (4.0, "ok"),
    ]
    assert prober.stats.late == 1


def test_duplicates_do_not_add_samples():
    prober = FakeProber({"L0": [Reply(3, duplicates=2)]})
    res = run_campaign_sync(prober, lms(1), CampaignParams(k=3, timeout_s=0.1), quiet=True)
    assert res.n_sent == 3 and res.n_lost == 0
    assert prober.stats.duplicate == 6
    assert res.prober_stats.duplicate == 6


def test_unreachable_and_refused_recorded_not_retried():
    prober = FakeProber({"L0": [Fail("unreachable")], "L1": [Fail("refused", 1.0)]})
    res = run_campaign_sync(prober, lms(2), CampaignParams(k=2, timeout_s=0.1, retries=3), quiet=True)
    assert [st for _, st in by_landmark(res, "L0")] == ["unreachable"] * 2
    assert [st for _, st in by_landmark(res, "L1")] == ["refused"] * 2
    assert res.n_lost == 4


def test_prober_exception_is_an_error_sample_counted_and_retried():
    prober = FakeProber({"L0": [Raise(OSError("boom")), 5]})
    res = run_campaign_sync(prober, lms(1), CampaignParams(k=1, timeout_s=0.1, retries=1), quiet=True)
    assert [(s.rtt_ms, st) for s, st in by_landmark(res, "L0")] == [(None, "error"), (5.0, "ok")]
    assert res.errors == {"OSError: boom": 1}


def test_rttgeo_error_from_prober_fails_the_campaign(tmp_path):
    prober = FakeProber({"L0": [5], "L1": [Raise(PermissionDenied("no raw socket: do X"))]})
    with CampaignStore(tmp_path / "s.db") as store, pytest.raises(PermissionDenied):
        run_campaign_sync(prober, lms(2), CampaignParams(k=1), store=store, quiet=True)
    with CampaignStore(tmp_path / "s.db") as store:
        assert store.campaign().status == "failed"


class ZeroProber(FakeProber):
    async def probe(self, landmark, timeout_s):
        from rttgeo.measure.base import ProbeResult

        return ProbeResult("ok", 0.0, time.time_ns(), "bad")


def test_zero_rtt_from_a_buggy_prober_is_an_error_not_a_sample_of_zero():
    # Regression guard for "never report a lost probe as 0 ms".
    res = run_campaign_sync(ZeroProber(), lms(1), CampaignParams(k=1, retries=0), quiet=True)
    assert res.samples[0].rtt_ms is None and res.statuses[0] == "error"
    assert "invalid RTT" in next(iter(res.errors))


class GatedProber(Prober):
    """Replies in a scripted global order, whatever the wall clock (no sleeps).

    ``order`` lists landmark ids, one per reply; the probe that owns position i returns only once
    the samples of positions 0..i-1 are recorded (:meth:`recorded` is the campaign's on_sample), so
    arrival order is the script's even on a machine too loaded for 5/25/60 ms sleeps to keep theirs.
    """

    protocol = "fake"

    def __init__(self, order: list[str], rtt_ms: dict[str, float]) -> None:
        super().__init__()
        self.order, self.rtt_ms = order, rtt_ms
        self.claimed: set[int] = set()
        self.turns = [asyncio.Event() for _ in order]
        self.turns[0].set()
        self.done = 0
        self.sent: list[str] = []

    async def probe(self, landmark: Landmark, timeout_s: float) -> ProbeResult:
        i = next(k for k, x in enumerate(self.order) if x == landmark.id and k not in self.claimed)
        self.claimed.add(i)
        self.sent.append(landmark.id)
        await self.turns[i].wait()
        return ProbeResult("ok", self.rtt_ms[landmark.id], time.time_ns(), "fake")

    def recorded(self, sample, status) -> None:
        self.done += 1
        if self.done < len(self.turns):
            self.turns[self.done].set()


def test_reordering_samples_stored_in_arrival_order_matched_to_their_landmark(tmp_path):
    # Regression (issue #12): this test relied on 5/25/60 ms sleeps arriving in order and failed on
    # a loaded machine. Now the replies are released in a scripted order: L0 is probed first (it is
    # first in the list) but answers last, L1 first, as a slow and a fast landmark would.
    prober = GatedProber(["L1", "L1", "L2", "L2", "L0", "L0"], {"L0": 60.0, "L1": 5.0, "L2": 25.0})
    with CampaignStore(tmp_path / "s.db") as store:
        res = run_campaign_sync(
            prober,
            lms(3),
            CampaignParams(k=2, timeout_s=30.0, landmark_interval_s=0.0),
            store=store,
            quiet=True,
            on_sample=prober.recorded,
        )
        rows = list(store.iter_rows())
    assert prober.sent[:3] == ["L0", "L1", "L2"]  # scheduled in catalog order
    order = [s.landmark for s in res.samples]
    assert order == ["L1", "L1", "L2", "L2", "L0", "L0"]  # stored as they arrived
    assert [r["landmark"] for r in rows] == order
    assert [r["rtt_ms"] for r in rows] == [5.0, 5.0, 25.0, 25.0, 60.0, 60.0]


def test_concurrency_is_bounded_and_one_probe_per_landmark_at_a_time():
    prober = FakeProber(default=Reply(20))
    res = run_campaign_sync(
        prober, lms(40), CampaignParams(k=2, concurrency=7, rate_per_s=math.inf), quiet=True
    )
    assert res.n_sent == 80
    assert prober.max_in_flight == 7
    # per landmark, the second probe starts after the first reply (>= 20 ms later)
    for lid in ("L0", "L17", "L39"):
        t = [c[1] for c in prober.calls if c[0] == lid]
        assert len(t) == 2 and t[1] - t[0] >= 0.019


def test_rate_limit_spaces_sends():
    prober = FakeProber(default=Reply(1))
    run_campaign_sync(prober, lms(30), CampaignParams(k=1, rate_per_s=200.0, burst=1), quiet=True)
    t = sorted(c[1] for c in prober.calls)
    # 30 sends at 200/s: the last one no earlier than 29 intervals of 5 ms after the first
    assert t[-1] - t[0] >= 29 * 0.005 * 0.8


@arun
async def test_token_bucket_allows_burst_then_rate():
    now = [100.0]
    slept = []

    async def fake_sleep(dt):
        slept.append(round(dt, 9))

    bucket = TokenBucket(100.0, burst=5, clock=lambda: now[0], sleep=fake_sleep)
    for _ in range(8):  # 8 callers at the same instant
        await bucket.acquire()
    # the first 5 go at once, then one every 10 ms
    assert slept == [0.01, 0.02, 0.03]
    now[0] += 1.0  # after a long pause the burst is available again
    for _ in range(5):
        await bucket.acquire()
    assert slept == [0.01, 0.02, 0.03]


def test_landmark_interval_spaces_probes_to_the_same_landmark():
    prober = FakeProber(default=Reply(1))
    run_campaign_sync(prober, lms(1), CampaignParams(k=3, landmark_interval_s=0.3), quiet=True)
    t = [c[1] for c in prober.calls]
    # The campaign spaces its sends by the interval; the prober is entered a scheduling delay
    # after each send decision, and on a busy machine two such delays differ by up to tens of ms.
    assert t[1] - t[0] >= 0.25 and t[2] - t[1] >= 0.25


def test_store_receives_every_sample_as_it_arrives(tmp_path):
    prober = FakeProber({"L0": [Loss(), 3], "L1": [4]})
    seen_in_store = []
    store = CampaignStore(tmp_path / "s.db")

    def on_sample(sample, status):
        # the sample is committed before the callback: a second connection sees it
        with CampaignStore(tmp_path / "s.db") as other:
            seen_in_store.append(len(list(other.iter_rows())))

    res = run_campaign_sync(
        prober,
        lms(2),
        CampaignParams(k=1, timeout_s=0.05),
        store=store,
        on_sample=on_sample,
        quiet=True,
        catalog_path="cat.csv",
        catalog_sha256="ab" * 32,
    )
    store.close()
    assert seen_in_store == list(range(1, res.n_sent + 1))
    with CampaignStore(tmp_path / "s.db") as store:
        info = store.campaign()
        assert info.status == "complete" and info.n_samples == 3 and info.n_lost == 1
        assert info.params["k"] == 1 and info.catalog_sha256 == "ab" * 32
        assert info.protocol == "fake" and info.ended_unix_ns >= info.started_unix_ns


@arun
async def test_cancel_marks_interrupted_and_keeps_samples(tmp_path):
    prober = FakeProber({"L0": [1], "L1": [Reply(5000)]})
    store = CampaignStore(tmp_path / "s.db")
    task = asyncio.create_task(
        run_campaign(prober, lms(2), CampaignParams(k=2, timeout_s=10), store=store, quiet=True)
    )
    for _ in range(2000):  # until L0's two samples are stored (L1 answers only after 5 s)
        if store.campaigns() and store.campaign().n_samples == 2:
            break
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert prober.closed
    info = store.campaign()
    assert info.status == "interrupted"
    assert [r["landmark"] for r in store.iter_rows()] == ["L0", "L0"]
    store.close()


def test_duplicate_landmark_ids_rejected():
    lm = lms(1)
    with pytest.raises(MeasurementError, match="twice"):
        run_campaign_sync(FakeProber(), lm + lm, quiet=True)


def test_params_validated():
    with pytest.raises(ValueError):
        CampaignParams(k=0)
    with pytest.raises(ValueError):
        CampaignParams(timeout_s=0)
    with pytest.raises(ValueError):
        CampaignParams(rate_per_s=0)


@arun
async def test_probe_wave_raises_when_nothing_answers_within_one_timeout():
    prober = FakeProber(default=Loss())
    camp = Campaign(prober, CampaignParams(retries=3, timeout_s=5.0))
    with pytest.raises(NoLandmarkAnswered, match="rttgeo demo"):
        await probe_wave(camp, lms(25), timeout_s=0.1)
    assert len(camp.samples) == 25  # one concurrent wave, no retries despite retries=3
    assert prober.timeouts_s == [0.1] * 25  # the short wave timeout, not the campaign's 5 s
    assert prober.max_in_flight == 25


@arun
async def test_probe_wave_returns_answering_ids():
    camp = Campaign(FakeProber({"L3": [2]}, default=Loss()), CampaignParams())
    assert await probe_wave(camp, lms(5), timeout_s=0.05) == ("L3",)


def test_sync_wrapper_refuses_inside_running_loop():
    async def inner():
        with pytest.raises(MeasurementError, match="running event loop"):
            run_campaign_sync(FakeProber(), lms(1), quiet=True)

    asyncio.run(inner())


def test_replay_prober_answers_from_a_row():
    p = ReplayProber.from_row(["L0", "L1"], [7.5, float("nan")])
    res = run_campaign_sync(p, lms(2), CampaignParams(k=1, retries=0), quiet=True)
    np.testing.assert_array_equal(res.min_rtt_ms, [7.5, np.nan])


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_on_a_terminal_and_not_when_quiet():
    from rttgeo.measure.progress import make_progress

    tty = Tty()
    bar = make_progress(4, stream=tty)
    assert bar.enabled
    for lost in (False, True, False, False):
        bar.update(lost=lost)
    assert bar._bar.n == 4 and bar._bar.total == 4
    bar.close()
    assert "0/4" in tty.getvalue() and (bar.done, bar.lost) == (4, 1)  # drawn on the stream
    assert not make_progress(4, stream=io.StringIO()).enabled  # a pipe or file: no bar
    assert not make_progress(4, quiet=True, stream=Tty()).enabled
