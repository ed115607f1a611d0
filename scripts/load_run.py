#!/usr/bin/env python3
"""Run the test suite several times under a CPU and I/O hog (issue #15: tests must hold on a busy
2-core machine) and report how often anything failed.

    .venv/bin/python scripts/load_run.py                 # 3 runs of tests/, 2 CPU hogs, 1 I/O hog
    .venv/bin/python scripts/load_run.py --runs 5 --cpu-hogs 4 -- tests/serve tests/lab

The hogs are child processes of this script, at the default priority (not niced): each CPU hog
spins a Python loop; the I/O hog writes 64 MiB files with fsync under a scratch folder of this
run, over and over. They start before the first run and are killed (by their process ids) after
the last. Each run is ``python -m pytest -q -p no:cacheprovider ARGS``; the report gives, per run,
pytest's exit status, its summary line, the tests that failed or errored and the skips with their
reasons, then the load average seen during the runs. Exit 1 if any run failed. SIGTERM or Ctrl-C
stops the run in progress and the hogs.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CPU = "while True:\n    pass\n"
_IO = """
import os, sys
path = os.path.join(sys.argv[1], 'hog.bin')
block = os.urandom(1 << 20)
while True:
    with open(path, 'wb') as fh:
        for _ in range(64):
            fh.write(block)
        fh.flush()
        os.fsync(fh.fileno())
    os.unlink(path)
"""


def _summary(out: str) -> tuple[str, list[str]]:
    """pytest -q's last summary line and the failed/errored test ids (from -ra's short summary)."""
    lines = [x for x in out.splitlines() if x.strip()]
    summary = next((x for x in reversed(lines) if re.search(r"\b(passed|failed|error)", x)),
                   "no summary line (pytest -qq)")
    bad = [x.split(" - ")[0] for x in lines if x.startswith(("FAILED ", "ERROR "))]
    bad += [x for x in lines if x.startswith("SKIPPED ")]  # with the reason
    return summary.strip("= "), bad


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="suite runs (3)")
    ap.add_argument("--cpu-hogs", type=int, default=2, help="spinning processes (2)")
    ap.add_argument("--io-hogs", type=int, default=1, help="fsync-writing processes (1)")
    ap.add_argument("pytest_args", nargs="*", default=["tests"], help="pytest arguments (tests)")
    args = ap.parse_args()
    hogs: list[subprocess.Popen[bytes]] = []
    loads: list[float] = []
    failed_runs = 0
    # SIGTERM ends the runs like Ctrl-C: subprocess.run kills the pytest child, finally the hogs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="rttgeo-load-") as scratch:
        try:
            for _ in range(args.cpu_hogs):
                hogs.append(subprocess.Popen([sys.executable, "-c", _CPU]))
            for i in range(args.io_hogs):
                d = Path(scratch) / f"io{i}"
                d.mkdir()
                hogs.append(subprocess.Popen([sys.executable, "-c", _IO, str(d)]))
            print(f"hogs: {args.cpu_hogs} CPU, {args.io_hogs} I/O (pids "
                  f"{' '.join(str(h.pid) for h in hogs)}); {os.cpu_count()} CPUs", flush=True)
            for run in range(1, args.runs + 1):
                t0 = time.monotonic()
                p = subprocess.run(
                    [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                     *args.pytest_args],
                    cwd=ROOT, capture_output=True, text=True, check=False,
                )
                loads.append(os.getloadavg()[0])
                summary, bad = _summary(p.stdout)
                failed_runs += p.returncode != 0
                print(f"run {run}: exit {p.returncode} in {time.monotonic() - t0:.0f} s, "
                      f"load average (1 min) at the end {loads[-1]:.1f}: {summary}", flush=True)
                for test in bad:
                    print(f"  {test}", flush=True)
        finally:
            for h in hogs:
                h.send_signal(signal.SIGKILL)
                h.wait()
    print(f"{failed_runs} of {args.runs} runs failed; load average (1 min) after each run: "
          f"{', '.join(f'{x:.1f}' for x in loads)}")
    return 1 if failed_runs else 0


if __name__ == "__main__":
    sys.exit(main())
