"""Goals a benchmark prints, and the exit status they give it (issue #15: a script can rely on it).

    goals = Goals()
    print(f"median {ms:.1f} ms (goal <= 20 ms): {goals.check('median locate', ms <= 20.0)}")
    ...
    return goals.exit_status()   # 1 when any goal printed as MISSED, else 0

Import from a benchmark run as ``python benchmarks/bench_x.py`` (its folder is on sys.path).
"""

from __future__ import annotations

import sys

__all__ = ["Goals"]


class Goals:
    """Collects goal verdicts; ``check`` returns the word to print ("met" or "MISSED")."""

    def __init__(self) -> None:
        self.missed: list[str] = []
        self.met: list[str] = []

    def check(self, name: str, ok: bool) -> str:
        (self.met if ok else self.missed).append(name)
        return "met" if ok else "MISSED"

    def exit_status(self) -> int:
        """Print a one-line summary (stderr when something was missed) and return 0 or 1."""
        if self.missed:
            print(f"goals MISSED ({len(self.missed)} of {len(self.missed) + len(self.met)}): "
                  + "; ".join(self.missed), file=sys.stderr)
            return 1
        print(f"all {len(self.met)} goals met")
        return 0
