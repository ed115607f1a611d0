"""Progress display of a campaign: a tqdm bar on stderr when it is a terminal, else nothing."""

from __future__ import annotations

import sys
from typing import Any, TextIO

__all__ = ["Progress", "make_progress"]


class Progress:
    """Counts finished samples; draws a tqdm bar when enabled. ``close()`` is idempotent."""

    def __init__(
        self,
        total: int,
        *,
        desc: str = "probing",
        enabled: bool = True,
        stream: TextIO | None = None,
    ) -> None:
        self.total = total
        self.done = 0
        self.lost = 0
        self._bar: Any = None
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:  # pragma: no cover - tqdm is in the measure extra
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(
                    total=total,
                    desc=desc,
                    unit="probe",
                    file=stream or sys.stderr,
                    leave=False,
                    dynamic_ncols=True,
                )

    @property
    def enabled(self) -> bool:
        return self._bar is not None

    def add_total(self, n: int) -> None:
        """Expect ``n`` more samples (a later phase of the same campaign)."""
        self.total += n
        if self._bar is not None:
            self._bar.total = self.total
            self._bar.refresh()

    def update(self, *, lost: bool) -> None:
        self.done += 1
        self.lost += int(lost)
        if self._bar is not None:
            self._bar.update(1)
            if self.done % 16 == 0 or self.done == self.total:
                self._bar.set_postfix(lost=self.lost, refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def make_progress(
    total: int, *, quiet: bool | None = None, desc: str = "probing", stream: TextIO | None = None
) -> Progress:
    """A bar on ``stream`` (stderr) unless ``quiet`` or the stream is not a terminal."""
    s = stream or sys.stderr
    enabled = not quiet and bool(getattr(s, "isatty", lambda: False)())
    return Progress(total, desc=desc, enabled=enabled, stream=s)
