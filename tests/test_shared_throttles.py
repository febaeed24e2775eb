"""Throttles shared by every process of a site: counted in the database (the default) or
in Redis (``[cache] url``), on the runtime's wall clock.

Two ``agorakit run`` processes of one site, hit in turn, hold one limit between them;
the stores count concurrent hits without losing one, forget a key on the test clock and
delete what they forgot.  Redis runs at 127.0.0.1:6379 on the machines that run the
suite; without it the Redis cases are skipped with the reason, except in CI.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from agorakit.accounts.tables import ThrottleCount
from agorakit.accounts.throttle import (
    SWEEP_EVERY,
    Backoff,
    DatabaseStore,
    RedisStore,
    Window,
    close_throttle_store,
    throttle_store,
)
from agorakit.settings import CacheSection, ConfigError, settings_from_dict
from agorakit.testing import TEST_DEFAULTS, deep_merge
from tests.test_faults import OPERATOR_EMAIL, OPERATOR_PASSWORD, Server, Site, site  # noqa: F401

REDIS_URL = os.environ.get("AGORAKIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def redis_or_skip() -> None:
    """Skip the test when Redis does not answer; in CI, fail it (CI runs Redis)."""
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except (OSError, redis.RedisError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI requires Redis at {REDIS_URL}: {exc!r}", pytrace=False)
        pytest.skip(f"Redis at {REDIS_URL} is unreachable: {exc!r}")
    finally:
        await client.aclose()


async def drop_prefix(prefix: str) -> None:
    """Delete every Redis key of this test."""
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(params=["database", "redis"])
async def store(request, runtime) -> AsyncIterator[Any]:
    """Each shared store: the test database's, and Redis under a prefix of this test's."""
    if request.param == "database":
        yield DatabaseStore(runtime.db)
        return
    await redis_or_skip()
    prefix = f"agorakit-test-{uuid.uuid4().hex[:12]}:"
    redis_store = RedisStore(CacheSection(url=REDIS_URL, key_prefix=prefix))
    try:
        yield redis_store
    finally:
        await redis_store.close()
        await drop_prefix(prefix)


# --------------------------------------------------------------------------------------
# The stores
# --------------------------------------------------------------------------------------


async def test_a_window_opens_again_when_its_period_is_over_on_the_test_clock(store, clock):
    window = Window(store, "login", clock, 2, timedelta(minutes=1))
    await window.hit("203.0.113.5")
    assert await window.retry_after("203.0.113.5") is None
    clock.advance(seconds=20)
    await window.hit("203.0.113.5")
    assert await window.retry_after("203.0.113.5") == 40  # the window started at the first hit
    assert await window.retry_after("203.0.113.6") is None
    clock.advance(seconds=39)
    assert await window.retry_after("203.0.113.5") == 1
    clock.advance(seconds=1)
    assert await window.retry_after("203.0.113.5") is None
    await window.hit("203.0.113.5")  # a new window, one hit in it
    assert await window.retry_after("203.0.113.5") is None
    await window.hit("203.0.113.5")
    assert await window.retry_after("203.0.113.5") == 60


async def test_a_backoff_waits_longer_after_each_failure_and_forgets_on_the_test_clock(store, clock):
    backoff = Backoff(
        store,
        "login_failures",
        clock,
        threshold=2,
        delay=timedelta(seconds=5),
        max_delay=timedelta(seconds=12),
        forget_after=timedelta(minutes=1),
    )
    key = "ada@example.com|203.0.113.5"
    await backoff.hit(key)
    assert await backoff.retry_after(key) is None
    waits = []
    for _ in range(4):
        await backoff.hit(key)
        waits.append(await backoff.retry_after(key))
        clock.advance(seconds=waits[-1])
        assert await backoff.retry_after(key) is None
    assert waits == [5, 10, 12, 12]
    clock.advance(seconds=59)  # 12 s of wait + 59 s: still remembered
    await backoff.hit(key)
    assert await backoff.retry_after(key) == 12
    clock.advance(seconds=12 + 60)  # the wait and forget_after: forgotten, one failure again
    await backoff.hit(key)
    assert await backoff.retry_after(key) is None
    await backoff.hit(key)
    assert await backoff.retry_after(key) == 5
    await backoff.reset(key)  # a successful login
    assert await backoff.retry_after(key) is None


async def test_concurrent_hits_each_count_once(store, clock):
    window = Window(store, "register", clock, 40, timedelta(hours=1))
    await asyncio.gather(*(window.hit("198.51.100.7") for _ in range(40)))
    assert await window.retry_after("198.51.100.7") == 3600
    counted = await store.read(window._key("198.51.100.7"), clock.now())
    assert counted == (clock.now(), 40)


async def test_the_throttles_other_than_login_share_no_counts(store, clock):
    login = Window(store, "login", clock, 1, timedelta(minutes=1))
    register = Window(store, "register", clock, 1, timedelta(minutes=1))
    await login.hit("203.0.113.5")
    assert await login.retry_after("203.0.113.5") == 60
    assert await register.retry_after("203.0.113.5") is None


async def test_the_database_store_deletes_forgotten_counts(runtime, clock):
    store = DatabaseStore(runtime.db)
    window = Window(store, "emails", clock, 3, timedelta(hours=1))
    await window.hit("a@example.com")
    await window.hit("b@example.com")
    rows = await ThrottleCount.select(ThrottleCount.key, ThrottleCount.hits)
    assert sorted(row["hits"] for row in rows) == [1, 1]
    assert not any("example.com" in row["key"] for row in rows)  # hashed, never the address
    clock.advance(SWEEP_EVERY + timedelta(hours=1))
    await window.hit("c@example.com")  # past the sweep interval: the forgotten ones go
    assert await ThrottleCount.count() == 1


async def test_the_site_counts_in_its_database_unless_it_names_a_redis(runtime, tmp_path):
    from agorakit.runtime import Runtime

    assert isinstance(throttle_store(runtime), DatabaseStore)
    await redis_or_skip()
    prefix = f"agorakit-test-{uuid.uuid4().hex[:12]}:"
    config = {
        "database": {"url": f"sqlite:///{tmp_path / 'site.sqlite3'}"},
        "cache": {"url": REDIS_URL, "key_prefix": prefix},
    }
    other = Runtime(settings_from_dict(deep_merge(TEST_DEFAULTS, config), environ={}))
    try:
        store = throttle_store(other)
        assert isinstance(store, RedisStore)
        assert await store.bump("k", runtime.wall_clock.now(), keep_start=True, lifetimes=[SWEEP_EVERY]) == (
            runtime.wall_clock.now(),
            1,
        )
    finally:
        await close_throttle_store(other)
        await drop_prefix(prefix)


def test_a_cache_url_that_is_not_redis_is_refused():
    with pytest.raises(ConfigError, match=r"cache.url: unsupported scheme 'memcached'"):
        settings_from_dict(
            deep_merge(TEST_DEFAULTS, {"cache": {"url": "memcached://cache:11211"}}), environ={}
        )


# --------------------------------------------------------------------------------------
# Two app processes of one site
# --------------------------------------------------------------------------------------


@pytest.fixture(params=["database", "redis"])
async def shared_site(request, site: Site) -> AsyncIterator[Site]:  # noqa: F811
    """The site with 4 logins a minute per address and a wait after 3 failures, its
    throttles in its database or in Redis."""
    site.env["AGORAKIT_AUTH__LOGIN_ATTEMPTS_PER_MINUTE"] = "4"
    site.env["AGORAKIT_AUTH__LOGIN_MAX_FAILURES"] = "3"
    site.env["AGORAKIT_AUTH__LOGIN_DELAY_SECONDS"] = "30"
    if request.param == "database":
        yield site
        return
    await redis_or_skip()
    prefix = f"agorakit-test-{uuid.uuid4().hex[:12]}:"
    site.env["AGORAKIT_CACHE__URL"] = REDIS_URL
    site.env["AGORAKIT_CACHE__KEY_PREFIX"] = prefix
    try:
        yield site
    finally:
        await drop_prefix(prefix)


async def login(base_url: str, email: str, password: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        return await http.post("/auth/login", json={"email": email, "password": password})


async def test_two_app_processes_hold_one_login_limit(shared_site, problem):
    servers = [Server(shared_site), Server(shared_site)]
    try:
        for server in servers:
            server.launch()
        for server in servers:
            server.wait_ready()
        urls = [server.base_url for server in servers]

        # 4 logins a minute from one address, whichever process answers: the 5th is refused
        # by either one
        for attempt in range(4):
            answer = await login(urls[attempt % 2], OPERATOR_EMAIL, OPERATOR_PASSWORD)
            assert answer.status_code == 200, answer.text
        for url in urls:
            refused = problem(await login(url, OPERATOR_EMAIL, OPERATOR_PASSWORD), 429, "too_many_requests")
            assert "too many login attempts from your address" in refused["detail"]
            assert (
                1 <= int((await login(url, OPERATOR_EMAIL, OPERATOR_PASSWORD)).headers["retry-after"]) <= 60
            )
    finally:
        for server in servers:
            server.stop()


async def test_two_app_processes_hold_one_account_backoff(shared_site, problem):
    shared_site.env["AGORAKIT_AUTH__LOGIN_ATTEMPTS_PER_MINUTE"] = "100"
    servers = [Server(shared_site), Server(shared_site)]
    try:
        for server in servers:
            server.launch()
        for server in servers:
            server.wait_ready()
        urls = [server.base_url for server in servers]

        # 3 failures on one account, alternately on both processes: the account waits
        for attempt in range(3):
            problem(
                await login(urls[attempt % 2], OPERATOR_EMAIL, "wrong-guess-1"), 401, "invalid_credentials"
            )
        for url in urls:  # even with the right password, on either process
            answer = await login(url, OPERATOR_EMAIL, OPERATOR_PASSWORD)
            refused = problem(answer, 429, "too_many_requests")
            assert "too many failed logins for this account" in refused["detail"]
            assert 25 <= int(answer.headers["retry-after"]) <= 30
    finally:
        for server in servers:
            server.stop()
