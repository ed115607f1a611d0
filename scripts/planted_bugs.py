#!/usr/bin/env python3
"""Plant issue #15's bugs one at a time and show that the tests catch each of them.

    .venv/bin/python scripts/planted_bugs.py            # every bug
    .venv/bin/python scripts/planted_bugs.py --list     # the bugs and the tests expected to fail

Each bug is a textual change to one source file, applied to a scratch copy of ``src`` in
``build/planted/<bug>/`` (the worktree is never touched) that shadows the installed package through
PYTHONPATH; the bug's tests then run against the copy. A bug is caught when pytest fails, and every
test named for it must be among the failures; the same tests must pass on the code as it is
(a control run, once per set of tests). Exit status 1 when a bug is not caught or a change no
longer applies (the code moved: update the table). Runs under ``nice -n 19``. Results are recorded
in docs/testing.md.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "planted"


@dataclass(frozen=True)
class Bug:
    """``old`` -> ``new`` in ``path`` (under src/rttgeo/), judged by ``tests``; ``expect`` are test
    ids (substrings of pytest's FAILED lines) that must fail."""

    path: str
    old: str
    new: str
    tests: tuple[str, ...]
    expect: tuple[str, ...]
    why: str


BUGS: dict[str, Bug] = {
    "disc-dropped-by-centres": Bug(
        "geo/feasible.py",
        "inside = np.all(d[ok] + pad[ok, None] <= radius[None, :], axis=0)",
        "inside = np.all(d[ok] <= radius[None, :], axis=0)",
        ("tests/geo",),
        ("test_a_disc_is_not_dropped_while_a_cell_reaches_outside_it",),
        "a disc is dropped from the finer levels when the cell centres lie inside it, ignoring "
        "the cells' extent",
    ),
    "light-check-reach-1.5x": Bug(
        "estimate/base.py",
        "conflict = dist > reach[:, None] + reach[None, :]",
        "conflict = dist > 1.5 * (reach[:, None] + reach[None, :])",
        ("tests/estimate/test_physics.py", "tests/estimate/test_estimators.py"),
        ("test_an_rtt_just_below_the_light_limit_is_left_out_and_named",),
        "the locate-time speed-of-light check with its reach widened 1.5x",
    ),
    "light-check-reach-5x": Bug(
        "estimate/base.py",
        "conflict = dist > reach[:, None] + reach[None, :]",
        "conflict = dist > 5.0 * (reach[:, None] + reach[None, :])",
        ("tests/estimate/test_physics.py", "tests/estimate/test_estimators.py"),
        ("test_an_rtt_just_below_the_light_limit_is_left_out_and_named",),
        "the locate-time speed-of-light check with its reach widened 5x (faster than light)",
    ),
    "wire-no-position-range-check": Bug(
        "wire.py",
        "if not (-90 * _E7 <= lat_e7 <= 90 * _E7 and -180 * _E7 <= lon_e7 <= 180 * _E7):",
        "if False:",
        ("tests/serve", "tests/measure/test_probers_parsers.py"),
        ("test_a_reply_claiming_a_position_off_the_earth_is_refused",),
        "wire.decode without the position range check",
    ),
    "wire-duplicate-turnaround": Bug(
        "wire.py",
        "if turnaround_ns is not None or kind != MsgType.ECHO_REPLY or length != 4:",
        "if kind != MsgType.ECHO_REPLY or length != 4:",
        ("tests/serve", "tests/measure/test_probers_parsers.py"),
        ("test_a_duplicate_turnaround_is_refused",),
        "wire.decode accepting a duplicate TURNAROUND TLV",
    ),
    "udp-parser-rejects-everything": Bug(
        "measure/udp.py",
        "        try:\n            msg = wire.decode(data)\n        except wire.WireFormatError as exc:\n"
        "            raise Malformed(str(exc)) from None",
        "        raise Malformed('rejects everything')",
        ("tests/measure/test_probers_parsers.py", "tests/measure/test_parsers_accept.py"),
        ("test_udp_accepts_every_echo_reply",),
        "a UDP reply parser that rejects everything (the fuzz tests alone passed it)",
    ),
    "icmp-parsers-reject-everything": Bug(
        "measure/icmp.py",
        "    def _parse(self, data: bytes, addr: tuple) -> Parsed | None:\n",
        "    def _parse(self, data: bytes, addr: tuple) -> Parsed | None:\n"
        "        raise Malformed('rejects everything')\n",
        ("tests/measure/test_probers_parsers.py", "tests/measure/test_parsers_accept.py"),
        ("test_raw_icmp_accepts_our_echo_reply", "test_dgram_icmp_accepts_every_echo_reply",
         "test_icmp6_parsers_accept_our_echo_reply"),
        "ICMP reply parsers (raw, datagram, v4 and v6) that reject everything",
    ),
}


def plant(name: str, bug: Bug) -> Path:
    work = WORK / name
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(ROOT / "src", work / "src")
    target = work / "src" / "rttgeo" / bug.path
    text = target.read_text(encoding="utf-8")
    count = text.count(bug.old)
    if count == 0:
        raise SystemExit(f"{name}: the code to change is no longer in src/rttgeo/{bug.path}")
    target.write_text(text.replace(bug.old, bug.new), encoding="utf-8")
    return work


def pytest(tests: tuple[str, ...], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["nice", "-n", "19", sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-o", "addopts=", "-rf", *tests],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )


_CONTROL: dict[tuple[str, ...], bool] = {}


def control(tests: tuple[str, ...]) -> bool:
    """The same tests on the unplanted code must pass, or a "caught" would prove nothing."""
    if tests not in _CONTROL:
        out = pytest(tests, dict(os.environ))
        _CONTROL[tests] = out.returncode == 0
        if out.returncode != 0:
            print(f"control run of {' '.join(tests)} FAILED without any bug planted:")
            print("    " + "\n    ".join(out.stdout.strip().splitlines()[-8:]))
    return _CONTROL[tests]


def run(name: str, bug: Bug) -> bool:
    if not control(bug.tests):
        print(f"{name}: not judged (its tests fail on the code as it is)")
        return False
    work = plant(name, bug)
    env = {**os.environ, "PYTHONPATH": str(work / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
    where = subprocess.run([sys.executable, "-c", "import rttgeo; print(rttgeo.__file__)"],
                           env=env, capture_output=True, text=True, check=True).stdout.strip()
    if not where.startswith(str(work)):
        raise SystemExit(f"{name}: the planted copy is not what Python imports ({where})")
    out = pytest(bug.tests, env)
    failed = sorted(set(re.findall(r"^FAILED (\S+?)(?: - |$)", out.stdout, re.M)))
    missing = [e for e in bug.expect if not any(e in f for f in failed)]
    caught = out.returncode != 0 and bool(failed) and not missing
    print(f"{name}: {'CAUGHT' if caught else 'NOT CAUGHT'} ({bug.why})")
    for f in failed:
        print(f"    failed {f}")
    for e in missing:
        print(f"    expected to fail but did not: {e}")
    if not failed:
        print("    " + "\n    ".join(out.stdout.strip().splitlines()[-5:]))
    shutil.rmtree(work, ignore_errors=True)
    return caught


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bugs", nargs="*", help=f"bugs to plant (default all): {', '.join(BUGS)}")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    if args.list:
        for name, b in BUGS.items():
            print(f"{name}: {b.why}\n    src/rttgeo/{b.path}; tests {' '.join(b.tests)}")
        return 0
    unknown = [b for b in args.bugs if b not in BUGS]
    if unknown:
        ap.error(f"unknown bug(s) {', '.join(unknown)}")
    results = [run(n, BUGS[n]) for n in (args.bugs or BUGS)]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
