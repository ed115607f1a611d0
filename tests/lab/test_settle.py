"""The lab tests' settling check (lab_helpers.settle_min_rtt) can fail, and stops in time."""

from __future__ import annotations

import itertools

import pytest

from .lab_helpers import settle_min_rtt

WANT = {"a": 12.0, "b": 30.0}


def test_a_late_round_is_washed_out_by_a_later_one() -> None:
    rounds = iter([{"a": 14.8, "b": 30.05}, {"a": 12.2, "b": 33.0}])
    s = settle_min_rtt(lambda: next(rounds), WANT, 0.3)
    assert s.rounds == 2 and s.best == {"a": 12.2, "b": 30.05}
    assert s.excess == pytest.approx({"a": 0.2, "b": 0.05})


def test_a_lab_that_delays_too_much_fails_after_the_round_budget() -> None:
    calls = itertools.count(1)

    def measure() -> dict[str, float | None]:
        next(calls)
        return {"a": 12.5, "b": 30.0}

    with pytest.raises(AssertionError, match=r"a: minimum RTT 0\.500 ms above .* after 3 rounds"):
        settle_min_rtt(measure, WANT, 0.3, max_rounds=3)
    assert next(calls) == 4  # three rounds, not one more


def test_a_sample_faster_than_configured_fails_at_once() -> None:
    rounds = iter([{"a": 11.9, "b": 30.0}])
    with pytest.raises(AssertionError, match=r"faster than 12\.000"):
        settle_min_rtt(lambda: next(rounds), WANT, 0.3)


def test_a_key_never_answered_fails() -> None:
    with pytest.raises(AssertionError, match="b: minimum RTT inf"):
        settle_min_rtt(lambda: {"a": 12.0, "b": None}, WANT, 0.3, max_rounds=2)
