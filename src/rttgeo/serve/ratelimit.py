"""Per-source token buckets in bounded memory.

Each source (an IP address) owns a bucket of ``burst`` tokens refilled at ``rate_per_s``; a request
spends one token or is refused. Buckets live in an LRU-ordered dict of at most ``max_sources``
entries: a bucket idle long enough to be full again (``burst / rate_per_s`` seconds) carries no
state and is evicted first; when the table is full of active sources the least recently seen one is
evicted anyway (it then restarts with a full bucket; counted in ``evicted_active``). Memory is
therefore O(max_sources) whatever the number of sources (about 330 bytes per entry, measured).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["TokenBucketLimiter"]


class TokenBucketLimiter:
    """Token buckets keyed by source; time from ``time.monotonic_ns`` unless ``now_ns`` is given."""

    def __init__(self, rate_per_s: float, burst: float, max_sources: int = 65536) -> None:
        if rate_per_s <= 0 or burst < 1 or max_sources < 1:
            raise ValueError("rate_per_s must be > 0, burst >= 1, max_sources >= 1")
        self.rate_per_ns = rate_per_s / 1e9
        self.burst = float(burst)
        self.max_sources = max_sources
        self.idle_ns = int(self.burst / self.rate_per_ns)
        self._buckets: OrderedDict[Hashable, list[float]] = OrderedDict()
        self.evicted_idle = 0
        self.evicted_active = 0

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, source: Hashable, now_ns: int | None = None) -> bool:
        """Spend one token of ``source``; False if its bucket is empty."""
        now = time.monotonic_ns() if now_ns is None else now_ns
        buckets = self._buckets
        entry = buckets.get(source)
        if entry is None:
            self._make_room(now)
            entry = [self.burst, now]
            buckets[source] = entry
        else:
            buckets.move_to_end(source)
            tokens = entry[0] + (now - entry[1]) * self.rate_per_ns
            entry[0] = tokens if tokens < self.burst else self.burst
            entry[1] = now
        if entry[0] >= 1.0:
            entry[0] -= 1.0
            return True
        return False

    def _make_room(self, now: int) -> None:
        buckets = self._buckets
        # Evict a few idle (full again, hence stateless) buckets from the LRU end on each insert.
        for _ in range(4):
            if not buckets:
                return
            key, (_tokens, last) = next(iter(buckets.items()))
            if now - last < self.idle_ns:
                break
            del buckets[key]
            self.evicted_idle += 1
        if len(buckets) >= self.max_sources:
            buckets.popitem(last=False)
            self.evicted_active += 1
