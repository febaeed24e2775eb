"""Throttles for logins, registrations, account emails and voucher redemptions, on the
runtime's wall clock (the real time, also on a site that runs on a test clock).

Every throttle follows :class:`Throttle`: ask ``await retry_after(key)`` before the work,
``await hit(key)`` when an attempt counts, ``await reset(key)`` when it should be
forgotten (a successful login).  Two kinds ship:

- :class:`Window`: at most ``limit`` hits per key in a window that starts at the first
  hit (per client address: logins per minute, registrations per hour);
- :class:`Backoff`: after ``threshold`` consecutive failures a key waits ``delay``, and
  each further failure doubles the wait up to ``max_delay`` (per account and client
  address for logins, so a stranger's guesses never lock the owner out from elsewhere).

Both count in a :class:`ThrottleStore` that every process and host of the site shares:
the site's database (:class:`DatabaseStore`, the default) or Redis
(:class:`RedisStore`, with ``[cache] url``).  :class:`MemoryStore` counts in one
process's memory, for tests that want it.  A store keeps, per key, when the count
started, the count and when it is forgotten; a key is kept as a SHA-256 of what it
counts (an email, a client address), never the value itself.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from agorakit.accounts.tables import ThrottleCount
from agorakit.clock import Clock
from agorakit.db import Database
from agorakit.runtime import Runtime
from agorakit.settings import AuthSection, CacheSection

#: keys kept at most by a :class:`MemoryStore` before the stale ones are dropped (a spray
#: of addresses or emails must not grow memory without bound)
MAX_KEYS = 100_000

#: how often a :class:`DatabaseStore` deletes the rows past their expiry
SWEEP_EVERY = timedelta(minutes=5)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _us(at: datetime) -> int:
    """Microseconds since the epoch (what the stores keep)."""
    return (at - _EPOCH) // timedelta(microseconds=1)


def _at(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(us))


class ThrottleStore(Protocol):
    """Where throttles count: per key, ``(started, hits)`` and when the key is forgotten.

    ``bump`` is atomic: concurrent bumps of a key from any process each count once.
    """

    async def read(self, key: str, now: datetime) -> tuple[datetime, int] | None:
        """``key``'s start and hits, or None if it has none or they are forgotten at ``now``."""
        ...

    async def bump(
        self, key: str, now: datetime, *, keep_start: bool, lifetimes: Sequence[timedelta]
    ) -> tuple[datetime, int]:
        """Count one hit of ``key`` at ``now`` and return its start and hits.

        A key with no live count starts at ``now`` with one hit; otherwise its hits grow by
        one and its start stays (``keep_start``) or moves to ``now``.  It is forgotten at
        its start plus ``lifetimes[hits - 1]`` (the last one for more hits)."""
        ...

    async def forget(self, key: str) -> None:
        """Drop ``key``'s count."""
        ...


def _lifetime(lifetimes: Sequence[timedelta], hits: int) -> timedelta:
    return lifetimes[min(hits, len(lifetimes)) - 1]


class MemoryStore:
    """Counts in this process's memory: each process counts on its own (tests only)."""

    def __init__(self) -> None:
        self._keys: dict[str, tuple[datetime, int, datetime]] = {}

    async def read(self, key: str, now: datetime) -> tuple[datetime, int] | None:
        entry = self._keys.get(key)
        if entry is None or entry[2] <= now:
            return None
        return entry[0], entry[1]

    async def bump(
        self, key: str, now: datetime, *, keep_start: bool, lifetimes: Sequence[timedelta]
    ) -> tuple[datetime, int]:
        current = await self.read(key, now)
        start, hits = (current[0] if keep_start else now, current[1] + 1) if current else (now, 1)
        self._keys[key] = (start, hits, start + _lifetime(lifetimes, hits))
        if len(self._keys) > MAX_KEYS:
            self._keys = {k: v for k, v in self._keys.items() if v[2] > now}
        return start, hits

    async def forget(self, key: str) -> None:
        self._keys.pop(key, None)


# One statement counts a hit atomically on both engines: PostgreSQL locks the row (or the
# key, for two first hits) until the transaction ends, SQLite's writer lock is taken at
# BEGIN.  The new row's expiry is the first lifetime; the caller sets the right one for
# the count it gets back, in the same transaction.
_BUMP = """
INSERT INTO core_throttle ("key", started_us, hits, expires_us) VALUES ({{}}, {{}}, 1, {{}})
ON CONFLICT ("key") DO UPDATE SET
    hits = CASE WHEN core_throttle.expires_us <= excluded.started_us THEN 1
        ELSE core_throttle.hits + 1 END,
    started_us = CASE WHEN core_throttle.expires_us <= excluded.started_us THEN excluded.started_us
        ELSE {start} END,
    expires_us = CASE WHEN core_throttle.expires_us <= excluded.started_us THEN excluded.expires_us
        ELSE core_throttle.expires_us END
RETURNING started_us, hits
"""
_BUMP_KEEP = _BUMP.format(start="core_throttle.started_us")
_BUMP_MOVE = _BUMP.format(start="excluded.started_us")


class DatabaseStore:
    """Counts in the site's database (table ``core_throttle``), shared by every process
    and host on it; rows past their expiry are deleted every :data:`SWEEP_EVERY`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._swept_at: datetime | None = None

    async def read(self, key: str, now: datetime) -> tuple[datetime, int] | None:
        rows = await ThrottleCount.raw(
            'SELECT started_us, hits FROM core_throttle WHERE "key" = {} AND expires_us > {}', key, _us(now)
        )
        return (_at(rows[0]["started_us"]), rows[0]["hits"]) if rows else None

    async def bump(
        self, key: str, now: datetime, *, keep_start: bool, lifetimes: Sequence[timedelta]
    ) -> tuple[datetime, int]:
        first = _us(now + lifetimes[0])
        async with self.db.transaction():
            rows = await ThrottleCount.raw(_BUMP_KEEP if keep_start else _BUMP_MOVE, key, _us(now), first)
            start, hits = _at(rows[0]["started_us"]), rows[0]["hits"]
            expires = _us(start + _lifetime(lifetimes, hits))
            if hits > 1 and expires != first:
                await ThrottleCount.raw(
                    'UPDATE core_throttle SET expires_us = {} WHERE "key" = {}', expires, key
                )
        if self._swept_at is None or not timedelta(0) <= now - self._swept_at < SWEEP_EVERY:
            self._swept_at = now
            await ThrottleCount.raw("DELETE FROM core_throttle WHERE expires_us <= {}", _us(now))
        return start, hits

    async def forget(self, key: str) -> None:
        await ThrottleCount.raw('DELETE FROM core_throttle WHERE "key" = {}', key)


# KEYS[1]: the key's hash; ARGV: now (µs), keep the start (1/0), the lifetimes (µs).
# Redis runs a script atomically.  Its own expiry (real milliseconds) only cleans up: the
# count is judged on the runtime's clock, by the "e" field.
_REDIS_BUMP = """
local now = tonumber(ARGV[1])
local start, hits = now, 1
local e = tonumber(redis.call('HGET', KEYS[1], 'e'))
if e and e > now then
  hits = tonumber(redis.call('HGET', KEYS[1], 'h')) + 1
  if ARGV[2] == '1' then start = tonumber(redis.call('HGET', KEYS[1], 's')) end
end
local expires = start + tonumber(ARGV[2 + math.min(hits, #ARGV - 2)])
redis.call('HSET', KEYS[1], 's', string.format('%d', start), 'h', hits, 'e', string.format('%d', expires))
redis.call('PEXPIRE', KEYS[1], math.max(1000, math.ceil((expires - now) / 1000)))
return {string.format('%d', start), hits}
"""


class RedisStore:
    """Counts in Redis (``[cache] url``), under ``[cache] key_prefix``: one script per hit."""

    def __init__(self, cache: CacheSection) -> None:
        try:
            import redis.asyncio as redis
        except ImportError:  # pragma: no cover - the extra is not installed
            message = "[cache] url is a Redis URL: install agorakit[redis] (the redis package)"
            raise RuntimeError(message) from None
        self.prefix = cache.key_prefix
        self.client: Any = redis.Redis.from_url(cache.url)
        self._bump = self.client.register_script(_REDIS_BUMP)

    async def read(self, key: str, now: datetime) -> tuple[datetime, int] | None:
        start, hits, expires = await self.client.hmget(self.prefix + key, ["s", "h", "e"])
        if expires is None or int(expires) <= _us(now):
            return None
        return _at(int(start)), int(hits)

    async def bump(
        self, key: str, now: datetime, *, keep_start: bool, lifetimes: Sequence[timedelta]
    ) -> tuple[datetime, int]:
        args = [_us(now), 1 if keep_start else 0, *(_us(_EPOCH + life) for life in lifetimes)]
        start, hits = await self._bump(keys=[self.prefix + key], args=args)
        return _at(int(start)), int(hits)

    async def forget(self, key: str) -> None:
        await self.client.delete(self.prefix + key)

    async def close(self) -> None:
        await self.client.aclose()


class Throttle(Protocol):
    async def retry_after(self, key: str) -> int | None:
        """Seconds until ``key`` may try again, or None if it may go ahead now."""
        ...

    async def hit(self, key: str) -> None:
        """Count one attempt (or failure) of ``key``."""
        ...

    async def reset(self, key: str) -> None:
        """Forget ``key``'s attempts."""
        ...


class _Counted:
    """A throttle named ``name`` counting in ``store``."""

    def __init__(self, store: ThrottleStore, name: str, clock: Clock) -> None:
        self.store = store
        self.name = name
        self.clock = clock

    def _key(self, key: str) -> str:
        return f"{self.name}:{hashlib.sha256(key.encode()).hexdigest()}"

    async def reset(self, key: str) -> None:
        await self.store.forget(self._key(key))


class Window(_Counted):
    """Counts hits per key inside a fixed window that starts at the first hit."""

    def __init__(self, store: ThrottleStore, name: str, clock: Clock, limit: int, period: timedelta) -> None:
        super().__init__(store, name, clock)
        self.limit = limit
        self.period = period

    async def retry_after(self, key: str) -> int | None:
        now = self.clock.now()
        entry = await self.store.read(self._key(key), now)
        if entry is None or entry[1] < self.limit:
            return None
        remaining = (entry[0] + self.period - now).total_seconds()
        return max(1, math.ceil(remaining))

    async def hit(self, key: str) -> None:
        await self.store.bump(self._key(key), self.clock.now(), keep_start=True, lifetimes=[self.period])


class Backoff(_Counted):
    """Consecutive failures per key; from ``threshold`` on, a wait that doubles.

    The ``threshold``-th failure makes the key wait ``delay``; the next one (after that
    wait) ``2 * delay``, then ``4 * delay``, ..., at most ``max_delay``.  A key with no
    failure for ``forget_after`` (after its wait) starts again from zero.
    """

    def __init__(
        self,
        store: ThrottleStore,
        name: str,
        clock: Clock,
        *,
        threshold: int,
        delay: timedelta,
        max_delay: timedelta,
        forget_after: timedelta,
    ) -> None:
        super().__init__(store, name, clock)
        self.threshold = threshold
        self.delay = delay
        self.max_delay = max_delay
        self.forget_after = forget_after
        # how long a key with n failures (the n-th entry; the last one for more) is kept
        self.lifetimes: list[timedelta] = []
        for failures in range(1, threshold + 34):
            self.lifetimes.append(self.wait(failures) + forget_after)
            if failures >= threshold and self.wait(failures) >= max_delay:
                break

    def wait(self, failures: int) -> timedelta:
        """The wait after ``failures`` consecutive failures (zero below the threshold)."""
        if failures < self.threshold:
            return timedelta(0)
        doublings = min(failures - self.threshold, 32)  # 2**32 * delay is past any cap
        return min(self.delay * 2**doublings, self.max_delay)

    async def retry_after(self, key: str) -> int | None:
        now = self.clock.now()
        entry = await self.store.read(self._key(key), now)
        if entry is None:
            return None
        last, failures = entry
        remaining = (last + self.wait(failures) - now).total_seconds()
        return max(1, math.ceil(remaining)) if remaining > 0 else None

    async def hit(self, key: str) -> None:
        await self.store.bump(self._key(key), self.clock.now(), keep_start=False, lifetimes=self.lifetimes)


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


def account_throttles(store: ThrottleStore, clock: Clock, auth: AuthSection) -> AccountThrottles:
    """The throttles for the ``[auth]`` settings ``auth``, counting in ``store``."""
    hour = timedelta(hours=1)
    return AccountThrottles(
        login_per_address=Window(store, "login", clock, auth.login_attempts_per_minute, timedelta(minutes=1)),
        login_per_account_address=Backoff(
            store,
            "login_failures",
            clock,
            threshold=auth.login_max_failures,
            delay=timedelta(seconds=auth.login_delay_seconds),
            max_delay=timedelta(seconds=auth.login_delay_max_seconds),
            forget_after=timedelta(minutes=auth.login_failures_forgotten_minutes),
        ),
        register_per_address=Window(store, "register", clock, auth.registrations_per_hour, hour),
        emails_per_address=Window(store, "emails", clock, auth.account_emails_per_hour, hour),
        emails_per_recipient=Window(
            store, "emails_to", clock, auth.account_emails_per_address_per_hour, hour
        ),
    )


def memory_throttles(clock: Clock, auth: AuthSection) -> AccountThrottles:
    """The throttles in this process's memory (each process counts on its own; tests)."""
    return account_throttles(MemoryStore(), clock, auth)


def throttle_store(runtime: Runtime) -> ThrottleStore:
    """The site's shared store: Redis with ``[cache] url``, else the database (one per runtime)."""
    store = getattr(runtime, "_throttle_store", None)
    if store is None:
        cache = runtime.settings.cache
        store = RedisStore(cache) if cache.url else DatabaseStore(runtime.db)
        runtime._throttle_store = store  # type: ignore[attr-defined]
    return store


async def close_throttle_store(runtime: Runtime) -> None:
    """Close the store's connections (Redis); the database's close with the database."""
    store = getattr(runtime, "_throttle_store", None)
    if isinstance(store, RedisStore):
        runtime._throttle_store = None  # type: ignore[attr-defined]
        await store.close()
