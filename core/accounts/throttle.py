"""Login throttling: per client address and per account, on the runtime's clock.

Counters live in the process's memory: with several app processes each keeps its own,
so the effective limit is per process (a shared store is a later option).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from agorakit.clock import Clock


class Window:
    """Counts events per key inside a fixed window that starts at the first event."""

    def __init__(self, clock: Clock, limit: int, period: timedelta) -> None:
        self.clock = clock
        self.limit = limit
        self.period = period
        self._hits: dict[str, tuple[datetime, int]] = {}

    def _current(self, key: str) -> tuple[datetime, int] | None:
        entry = self._hits.get(key)
        if entry and self.clock.now() - entry[0] >= self.period:
            del self._hits[key]
            return None
        return entry

    def retry_after(self, key: str) -> int | None:
        """Seconds until ``key`` may try again, or None if it is under the limit."""
        entry = self._current(key)
        if entry is None or entry[1] < self.limit:
            return None
        remaining = (entry[0] + self.period - self.clock.now()).total_seconds()
        return max(1, math.ceil(remaining))

    def hit(self, key: str) -> None:
        entry = self._current(key)
        start, count = entry if entry else (self.clock.now(), 0)
        self._hits[key] = (start, count + 1)
        if len(self._hits) > 100_000:  # bound memory under a spray of addresses
            self._prune()

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)

    def _prune(self) -> None:
        now = self.clock.now()
        self._hits = {k: v for k, v in self._hits.items() if now - v[0] < self.period}
