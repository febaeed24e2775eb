"""Throttles for logins, registrations and account emails, on the runtime's wall clock
(the real time, also on a site that runs on a test clock).

Every throttle follows :class:`Throttle`: ask ``retry_after(key)`` before the work, call
``hit(key)`` when an attempt counts, ``reset(key)`` when it should be forgotten (a
successful login).  Two kinds ship:

- :class:`Window`: at most ``limit`` hits per key in a window that starts at the first
  hit (per client address: logins per minute, registrations per hour);
- :class:`Backoff`: after ``threshold`` consecutive failures a key waits ``delay``, and
  each further failure doubles the wait up to ``max_delay`` (per account and client
  address for logins, so a stranger's guesses never lock the owner out from elsewhere).

Counters live in the process's memory: with several app processes each keeps its own,
so an effective limit is per process.  A shared store (Redis, the database) is another
class with the same three methods, handed to :class:`AccountThrottles`.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Protocol

from agorakit.clock import Clock
from agorakit.settings import AuthSection

#: keys kept at most by one throttle before the stale ones are dropped (a spray of
#: addresses or emails must not grow memory without bound)
MAX_KEYS = 100_000


class Throttle(Protocol):
    def retry_after(self, key: str) -> int | None:
        """Seconds until ``key`` may try again, or None if it may go ahead now."""

    def hit(self, key: str) -> None:
        """Count one attempt (or failure) of ``key``."""

    def reset(self, key: str) -> None:
        """Forget ``key``'s attempts."""


class Window:
    """Counts hits per key inside a fixed window that starts at the first hit."""

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
        entry = self._current(key)
        if entry is None or entry[1] < self.limit:
            return None
        remaining = (entry[0] + self.period - self.clock.now()).total_seconds()
        return max(1, math.ceil(remaining))

    def hit(self, key: str) -> None:
        entry = self._current(key)
        start, count = entry if entry else (self.clock.now(), 0)
        self._hits[key] = (start, count + 1)
        if len(self._hits) > MAX_KEYS:
            now = self.clock.now()
            self._hits = {k: v for k, v in self._hits.items() if now - v[0] < self.period}

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)


class Backoff:
    """Consecutive failures per key; from ``threshold`` on, a wait that doubles.

    The ``threshold``-th failure makes the key wait ``delay``; the next one (after that
    wait) ``2 * delay``, then ``4 * delay``, ..., at most ``max_delay``.  A key with no
    failure for ``forget_after`` starts again from zero.
    """

    def __init__(
        self, clock: Clock, *, threshold: int, delay: timedelta, max_delay: timedelta, forget_after: timedelta
    ) -> None:
        self.clock = clock
        self.threshold = threshold
        self.delay = delay
        self.max_delay = max_delay
        self.forget_after = forget_after
        self._failures: dict[str, tuple[datetime, int]] = {}

    def wait(self, failures: int) -> timedelta:
        """The wait after ``failures`` consecutive failures (zero below the threshold)."""
        if failures < self.threshold:
            return timedelta(0)
        doublings = min(failures - self.threshold, 32)  # 2**32 * delay is past any cap
        return min(self.delay * 2**doublings, self.max_delay)

    def _current(self, key: str) -> tuple[datetime, int] | None:
        entry = self._failures.get(key)
        if entry and self.clock.now() - entry[0] >= self.wait(entry[1]) + self.forget_after:
            del self._failures[key]
            return None
        return entry

    def retry_after(self, key: str) -> int | None:
        entry = self._current(key)
        if entry is None:
            return None
        last, failures = entry
        remaining = (last + self.wait(failures) - self.clock.now()).total_seconds()
        return max(1, math.ceil(remaining)) if remaining > 0 else None

    def hit(self, key: str) -> None:
        entry = self._current(key)
        failures = entry[1] if entry else 0
        self._failures[key] = (self.clock.now(), failures + 1)
        if len(self._failures) > MAX_KEYS:
            self._failures = {k: v for k, v in self._failures.items() if self._current(k) is not None}

    def reset(self, key: str) -> None:
        self._failures.pop(key, None)


class AccountThrottles:
    """The throttles of the accounts area, by what they protect."""

    def __init__(
        self,
        *,
        login_per_address: Throttle,
        login_per_account_address: Throttle,
        register_per_address: Throttle,
        emails_per_address: Throttle,
        emails_per_recipient: Throttle,
    ) -> None:
        self.login_per_address = login_per_address
        self.login_per_account_address = login_per_account_address
        self.register_per_address = register_per_address
        self.emails_per_address = emails_per_address
        self.emails_per_recipient = emails_per_recipient


def memory_throttles(clock: Clock, auth: AuthSection) -> AccountThrottles:
    """The in-memory throttles for the ``[auth]`` settings ``auth`` (per process)."""
    hour = timedelta(hours=1)
    return AccountThrottles(
        login_per_address=Window(clock, auth.login_attempts_per_minute, timedelta(minutes=1)),
        login_per_account_address=Backoff(
            clock,
            threshold=auth.login_max_failures,
            delay=timedelta(seconds=auth.login_delay_seconds),
            max_delay=timedelta(seconds=auth.login_delay_max_seconds),
            forget_after=timedelta(minutes=auth.login_failures_forgotten_minutes),
        ),
        register_per_address=Window(clock, auth.registrations_per_hour, hour),
        emails_per_address=Window(clock, auth.account_emails_per_hour, hour),
        emails_per_recipient=Window(clock, auth.account_emails_per_address_per_hour, hour),
    )
