"""The suite's CI rule (conftest.py at the top): with CI=true a skip fails, naming its reason."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SKIPPING = '''
import pytest

def test_skips_in_the_body():
    pytest.skip("no facility X here")

@pytest.mark.skipif(True, reason="no facility Y here")
def test_skips_by_mark():
    pass

@pytest.mark.xfail(strict=True, reason="a documented limit")
def test_expected_failure():
    assert False

def test_passes():
    pass

@pytest.mark.ci_may_skip("a facility CI may lack, said why")
def test_may_skip_in_ci():
    pytest.skip("no facility W here")
'''

MODULE_SKIP = '''
import pytest
pytest.skip("no facility Z here", allow_module_level=True)

def test_never_collected():
    pass
'''


def run_pytest(tmp_path: Path, ci: str | None, body: str) -> subprocess.CompletedProcess[str]:
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    ci_may_skip(why): allowed\n")
    (tmp_path / "test_sample.py").write_text(body)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", str(tmp_path)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )


def test_in_ci_a_skip_fails_with_its_reason(tmp_path: Path) -> None:
    out = run_pytest(tmp_path, "true", SKIPPING)
    assert out.returncode == 1, out.stdout
    assert "1 failed, 1 passed, 1 skipped, 1 xfailed, 1 error" in out.stdout
    assert "CI=true and this skipped (no facility X here)" in out.stdout
    assert "CI=true and this skipped (no facility Y here)" in out.stdout


def test_in_ci_a_module_that_skips_fails(tmp_path: Path) -> None:
    out = run_pytest(tmp_path, "TRUE", MODULE_SKIP)
    assert out.returncode != 0
    assert "CI=true and this skipped (no facility Z here)" in out.stdout


def test_outside_ci_a_skip_passes_saying_why(tmp_path: Path) -> None:
    for ci in (None, "false", ""):
        out = run_pytest(tmp_path, ci, SKIPPING)
        assert out.returncode == 0, out.stdout
        assert "1 passed, 3 skipped, 1 xfailed" in out.stdout
        assert "no facility X here" in out.stdout


def test_ci_run_sets_ci_and_runs_the_readme_command() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert "export CI=true" in script
    assert script.rstrip().splitlines()[-1] == "make test"
    assert "make test" in (ROOT / "README.md").read_text()
