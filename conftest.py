"""Rules for the whole test run (tests/ and, with --nbmake, notebooks/).

No silent skips in CI: when the environment variable ``CI`` is ``true`` (``.ci/run`` sets it), a
test or a module that skips fails instead, with its skip reason. CI is meant to have every facility
the tests use: root, network namespaces and /dev/net/tun, IPv6 on loopback, a C compiler, Chromium
and chromedriver, the raw datasets (``RTTGEO_DATASETS`` or ``shared/datasets`` found walking up) and
every extra. Outside CI a skip still says why and passes. A test whose skip CI may legitimately
hit carries ``@pytest.mark.ci_may_skip("why")`` (there is one: docs/testing.md).
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

IN_CI = os.environ.get("CI", "").strip().lower() == "true"


def _reason(longrepr: Any) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _fail_if_skipped(report: pytest.TestReport | pytest.CollectReport) -> None:
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = (
            f"CI=true and this skipped ({_reason(report.longrepr)}): CI is meant to have what it "
            "needs, so a skip there hides a failure (docs/testing.md)"
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator:
    outcome = yield
    if item.get_closest_marker("ci_may_skip") is None:
        _fail_if_skipped(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator:
    outcome = yield
    _fail_if_skipped(outcome.get_result())
