"""scripts/mutation.py's rule for mutants that only reword prose (counted apart from the score).

Counting a mutant of data as "message text only" would raise a module's mutation score without
any test killing it: the SQL of the store's commit path once was (issue #15).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def mutation():
    spec = importlib.util.spec_from_file_location("rttgeo_mutation_script", ROOT / "scripts" / "mutation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


SOURCE = '''
def f(db, x):
    db.execute(
        "INSERT INTO t (a, b)"
        " VALUES (?, ?)",
        (x, x),
    )
    why = (
        "the landmark is "
        "probably wrong"
    )
    why += "; see the docs"
    if x:
        raise ValueError("bad_x", "x must be positive")
    return {"outcome": why}
'''


RAISE = 'raise ValueError("bad_x", "x must be positive")'


def _diff(old: str, new: str) -> str:
    return f"--- a.py\n+++ a.py\n@@ -1,1 +1,1 @@\n-{old}\n+{new}\n"


@pytest.mark.parametrize(
    ("old", "new", "prose"),
    [
        ('"the landmark is "', '"XXthe landmark is XX"', True),
        ('why += "; see the docs"', 'why += "XX; see the docs"', False),  # starts with a name
        ('"probably wrong"', '"PROBABLY WRONG"', True),
        ('"INSERT INTO t (a, b)"', '"insert into t (a, b)"', False),
        ('" VALUES (?, ?)",', '"XX VALUES (?, ?)XX",', False),
        ('return {"outcome": why}', 'return {"XXoutcomeXX": why}', False),
        (RAISE, 'raise ValueError("bad_x", "XXx must be positiveXX")', True),
        (RAISE, 'raise ValueError("XXbad_xXX", "x must be positive")', False),  # the reason code
    ],
)
def test_only_prose_lines_count_as_message_text(mutation, old, new, prose):
    assert mutation.message_only(_diff(old, new), mutation.prose_lines(SOURCE)) is prose


def test_without_the_module_no_continuation_line_counts(mutation):
    assert not mutation.message_only(_diff('"the landmark is "', '"XX"'))


def test_a_line_that_is_also_data_elsewhere_is_not_prose(mutation):
    src = 'why = (\n    "running"\n)\nstatus = (\n    "running"\n)\n'
    assert '"running"' not in mutation.prose_lines(src)


def test_the_real_modules(mutation):
    store = mutation.prose_lines((ROOT / "src/rttgeo/store/sqlite.py").read_text(encoding="utf-8"))
    assert not any("INSERT INTO" in line or "UPDATE campaign" in line for line in store)
    base = mutation.prose_lines((ROOT / "src/rttgeo/estimate/base.py").read_text(encoding="utf-8"))
    assert '"is probably wrong"' in base
