"""pytest fixtures for agorakit sites and plugins: ``docs/testing.md``.

A site's or a plugin's tests get the fixtures the project's tests use by naming this
module in their ``conftest.py``: ``pytest_plugins = ["agorakit.testing"]`` (nothing is
loaded into a pytest run that does not ask).  They need pytest-asyncio
(``asyncio_mode = "auto"`` and a session-scoped loop, see docs/testing.md).

Every test that uses ``runtime``, ``app`` or ``client`` runs twice: on SQLite and on
PostgreSQL (``db_kind``).  PostgreSQL comes from ``AGORAKIT_TEST_POSTGRES_DSN`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``); a fresh database is created per test
session and dropped afterwards.  Without a reachable server the PostgreSQL half skips
with a reason, except when ``CI`` is set, where it fails.

Fixtures:

- ``db_kind``: ``"sqlite"`` or ``"postgres"``.
- ``database_url``: a migrated-on-demand database of that kind for this session.
- ``clock``: a :class:`~agorakit.clock.FrozenClock` the runtime reads.
- ``site_config``: a dict of config overrides; override it to enable plugins or change
  settings (merged over fast test defaults).
- ``extra_plugins``: ``[(name, plugin_object)]`` registered without an entry point.
- ``site_settings``, ``runtime``, ``app``, ``client``: the site, migrated, with empty tables.
- ``make_member``: ``await make_member(role="member", **fields)`` → :class:`MemberLogin`
  with ``.member``, ``.token``, ``.headers`` and ``.password``.
- ``make_operator``, ``fund_member``, ``run_worker``, ``make_listing``, ``make_order``:
  the factories of :mod:`agorakit.testing_kit`, loaded with this module.

Each test has a runtime of its own (a fresh clock, empty tables), but building the app
is most of a test's set-up, so a test process builds one per site configuration and
serves each test's runtime from it: the app reaches its runtime through
``app.state.runtime`` only (dependency injection, the lifespan hooks, the test clock's
middleware), which the ``app`` fixture points at the test's runtime.  A plugin's routes
therefore take the runtime as a dependency and never keep one.  Tests whose settings
differ at most in ``[attachments]`` and ``[database]`` (a folder of their own, SQLite or
PostgreSQL) share a plugin manager and an app.  The objects in ``extra_plugins`` count
by identity: one a test makes for itself gets it a plugin manager of its own, and an app
of its own when it has routes.  Each test database is migrated once per test process.
"""

from __future__ import annotations

import itertools
import json
import os
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

#: the factory fixtures (operators, money, the worker, listings, orders), loaded with these
pytest_plugins = ["agorakit.testing_kit"]

DEFAULT_POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
#: A fixed instant every test starts at (the runtime clock), so dates are reproducible.
TEST_EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

TEST_DEFAULTS: dict[str, Any] = {
    "site": {"name": "test market"},
    "auth": {
        "jwt_secret": "test-secret-0123456789abcdef0123456789",
        # Cheap hashing keeps the suite fast; production keeps argon2's defaults.
        "argon2_time_cost": 1,
        "argon2_memory_kib": 64,
        "argon2_parallelism": 1,
    },
    # No test sends real email unless it asks for SMTP (and its own local server).
    "email": {"mailer": "log"},
}


def postgres_admin_dsn() -> str:
    return os.environ.get("AGORAKIT_TEST_POSTGRES_DSN", DEFAULT_POSTGRES_DSN)


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


async def postgres_unreachable_reason(dsn: str) -> str | None:
    """Why PostgreSQL at ``dsn`` cannot be used (None when it can)."""
    try:
        import asyncpg
    except ImportError:
        return "asyncpg is not installed (pip install 'agorakit[postgres]')"
    try:
        connection = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"PostgreSQL at {dsn} is unreachable: {exc!r}"
    await connection.close()
    return None


async def create_postgres_database(admin_dsn: str, name: str) -> str:
    import asyncpg

    connection = await asyncpg.connect(admin_dsn)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return admin_dsn.rsplit("/", 1)[0] + f"/{name}"


async def drop_postgres_database(admin_dsn: str, name: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(admin_dsn)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def db_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
async def database_url(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    if db_kind == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.sqlite3'}"
        return
    admin = postgres_admin_dsn()
    reason = await postgres_unreachable_reason(admin)
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI requires PostgreSQL: {reason}", pytrace=False)
        pytest.skip(reason)
    name = f"agorakit_test_{uuid.uuid4().hex[:12]}"
    url = await create_postgres_database(admin, name)
    yield url
    await drop_postgres_database(admin, name)


@pytest.fixture
def clock():
    from agorakit.clock import FrozenClock

    return FrozenClock(TEST_EPOCH)


@pytest.fixture
def site_config() -> dict[str, Any]:
    """Config overrides for this test; override the fixture to change them."""
    return {}


@pytest.fixture
def extra_plugins() -> list[tuple[str, object]]:
    return []


#: a configuration (canonical JSON) and the extra plugins (names and object ids)
_Key = tuple[str, tuple[tuple[str, int], ...]]

#: The config sections that make no difference to a plugin manager or an app: sites
#: that differ only there (a test's own attachments folder, the database) share them.
_NOT_SHARED = ("attachments", "database")
#: Plugin managers and apps by configuration, each with the extra plugins, kept alive
#: while their ids are in its key: the worker process's last few (the least recent go).
_PLUGIN_MANAGERS: OrderedDict[_Key, tuple[Any, list[tuple[str, object]]]] = OrderedDict()
_APPS: OrderedDict[_Key, tuple[Any, list[tuple[str, object]]]] = OrderedDict()
_PLUGIN_MANAGERS_KEPT = 16
_APPS_KEPT = 12


@dataclass
class _Site:
    """The settings and plugin manager ``site_settings`` made for a test, its extra
    plugins that have routes, and the key of the app it shares (None: it gets an app of
    its own)."""

    settings: Any
    pm: Any
    plugins: list[tuple[str, object]]
    app_key: _Key | None


_SITE = pytest.StashKey[_Site]()


def _cache_key(data: dict[str, Any], extra_plugins: list[tuple[str, object]]) -> _Key | None:
    """The cache key of (part of) a configuration, or None when it cannot be shared
    (values JSON cannot write down).  Extra plugins count by identity: objects a test
    makes for itself miss the cache, objects made once (a module, a module-level
    instance) share it."""
    try:
        text = json.dumps(data, sort_keys=True)
    except (TypeError, ValueError):
        return None
    return text, tuple((name, id(plugin)) for name, plugin in extra_plugins)


def _cached(
    cache: OrderedDict[_Key, tuple[Any, list[tuple[str, object]]]],
    kept: int,
    key: _Key | None,
    extra_plugins: list[tuple[str, object]],
    build: Any,
) -> Any:
    """``build()``, or what it built before for ``key`` (least recently used ones go)."""
    if key is None:
        return build()
    entry = cache.get(key)
    if entry is not None:
        cache.move_to_end(key)
        return entry[0]
    value = build()
    cache[key] = (value, list(extra_plugins))
    while len(cache) > kept:
        cache.popitem(last=False)
    return value


@pytest.fixture
def site_settings(
    request: pytest.FixtureRequest, database_url: str, site_config: dict[str, Any], extra_plugins
):
    from agorakit.hooks import get_plugin_manager, hooks_of
    from agorakit.settings import settings_from_dict

    data = deep_merge(deep_merge(TEST_DEFAULTS, {"database": {"url": database_url}}), site_config)
    enabled = data.get("site", {}).get("plugins", [])
    shared = {name: value for name, value in data.items() if name not in _NOT_SHARED}
    pm = _cached(
        _PLUGIN_MANAGERS,
        _PLUGIN_MANAGERS_KEPT,
        _cache_key(shared, extra_plugins),
        extra_plugins,
        lambda: get_plugin_manager(enabled, extra=extra_plugins, source="test settings"),
    )
    settings = settings_from_dict(data, source="test settings", environ={}, pm=pm)
    # the app has no other part of the extra plugins than their routes (and console pages)
    routes = [
        (name, plugin)
        for name, plugin in extra_plugins
        if {"agorakit_routes", "agorakit_console_pages"} & set(hooks_of(pm, name))
    ]
    app_key = _cache_key(shared, routes)
    request.node.stash[_SITE] = _Site(settings, pm, routes, app_key)
    return settings


def _site_of(request: pytest.FixtureRequest, settings: Any) -> _Site | None:
    """What ``site_settings`` made for this test (None when a test overrides that fixture
    with settings of its own)."""
    site = request.node.stash.get(_SITE, None)
    return site if site is not None and site.settings is settings else None


@pytest.fixture
def plugin_manager(request: pytest.FixtureRequest, site_settings, extra_plugins):
    site = _site_of(request, site_settings)
    if site is not None:
        return site.pm
    from agorakit.hooks import get_plugin_manager

    return get_plugin_manager(site_settings.site.plugins, extra=extra_plugins, source="test settings")


#: The databases (by URL) this worker process has migrated, with which apps: tests empty
#: the tables afterwards and never drop them, so a database is migrated once per site.
_MIGRATED: set[tuple[str, tuple[str, ...]]] = set()


@pytest.fixture
async def runtime(site_settings, plugin_manager, clock) -> AsyncIterator[Any]:
    """A migrated runtime with its database open; every table is emptied afterwards."""
    from agorakit.db.migrate import migrate
    from agorakit.runtime import Runtime

    rt = Runtime(site_settings, pm=plugin_manager, clock=clock)
    await rt.db.start()
    try:
        migrated = (site_settings.database.url, tuple(app.app_name for app in rt.apps))
        if migrated not in _MIGRATED:
            await migrate(rt.db, rt.apps)
            _MIGRATED.add(migrated)
        yield rt
    finally:
        try:
            await empty_tables(rt)
        finally:
            await rt.db.close()


async def empty_tables(runtime: Runtime) -> None:
    """Empty every table of the runtime's apps and start their ids again from 1."""
    tables = [t for app in runtime.apps for t in app.table_classes]
    if not tables:
        return
    if runtime.db.is_postgres:
        await _empty_postgres_tables(runtime, [t._meta.tablename for t in tables])
        return
    async with runtime.db.transaction():
        for table in reversed(tables):
            await runtime.db.engine.run_ddl(f'DELETE FROM "{table._meta.tablename}"')


#: Whether the role of each PostgreSQL test database (by URL) is a superuser.
_SUPERUSER: dict[str, bool] = {}


async def _empty_postgres_tables(runtime: Runtime, names: list[str]) -> None:
    """Only the tables the test wrote to: those with rows or with an id sequence that has
    moved (which starts again from 1).

    TRUNCATE costs about 7 ms a table (new files for the table and each index).  A
    superuser deletes the rows instead, with the triggers (the ledger's append-only rule)
    and foreign keys off for the transaction, and VACUUM gives the emptied files back, so
    the next test finds each table as TRUNCATE leaves it (rows in insertion order, no dead
    ones): a fifth of the time.  Another role truncates."""
    engine = runtime.db.engine
    probe = " UNION ALL ".join(
        f"SELECT '{name}' AS name, '' AS sequence WHERE EXISTS (SELECT 1 FROM \"{name}\")" for name in names
    )
    rows = await engine.run_ddl(
        f"{probe} UNION ALL SELECT left(sequencename, -7), sequencename FROM pg_sequences "
        "WHERE schemaname = current_schema() AND last_value IS NOT NULL AND sequencename LIKE '%\\_id\\_seq'"
    )
    known = set(names)
    found = [row for row in rows or [] if row["name"] in known]
    touched = sorted({row["name"] for row in found})
    if not touched:
        return
    listed = ", ".join(f'"{name}"' for name in touched)
    url = runtime.db.url
    if url not in _SUPERUSER:
        found_role = await engine.run_ddl("SELECT current_setting('is_superuser') = 'on' AS superuser")
        _SUPERUSER[url] = bool(found_role and found_role[0]["superuser"])
    if not _SUPERUSER[url]:
        await engine.run_ddl(f"TRUNCATE {listed} RESTART IDENTITY CASCADE")
        return
    filled = sorted({row["name"] for row in found if not row["sequence"]})
    deletes = ", ".join(f'"d{n}" AS (DELETE FROM "{name}")' for n, name in enumerate(filled))
    sequences = ", ".join(sorted({f"'\"{row['sequence']}\"'" for row in found if row["sequence"]}))
    async with runtime.db.transaction():
        await engine.run_ddl("SET LOCAL session_replication_role = replica")
        await engine.run_ddl(  # one statement: the deletes run whatever the select reads
            (f"WITH {deletes} " if deletes else "")
            + f"SELECT setval(s::regclass, 1, false) FROM unnest(ARRAY[{sequences}]::text[]) AS s"
        )
    if engine.current_transaction.get() is None:  # VACUUM runs outside a transaction only
        await engine.run_ddl(f"VACUUM (PROCESS_TOAST FALSE) {listed}")


@pytest.fixture
def app(request: pytest.FixtureRequest, runtime):
    """The site's app serving this test's runtime.  One app is built per worker process
    and site configuration (see :data:`_NOT_SHARED`) and serves each test's runtime in
    turn, through ``app.state.runtime``."""
    from agorakit.app import app_for_runtime

    site = _site_of(request, runtime.settings)
    if site is None or runtime.pm is not site.pm:
        return app_for_runtime(runtime)  # a test's own settings or plugin manager
    shared = _cached(_APPS, _APPS_KEPT, site.app_key, site.plugins, lambda: app_for_runtime(runtime))
    shared.state.runtime = runtime
    return shared


@pytest.fixture
async def client(app) -> AsyncIterator[Any]:
    """An httpx client calling the app in-process, on the test's event loop.

    (Litestar's AsyncTestClient runs the app on a portal loop of its own, which a
    PostgreSQL pool opened by the ``runtime`` fixture cannot be shared with.)
    The runtime fixture has opened the database, so no lifespan run is needed.
    """
    import httpx

    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as test_client:
        test_client.app = app  # pyright: ignore[reportAttributeAccessIssue]  # tests reach the app here
        yield test_client


@dataclass
class MemberLogin:
    member: Any
    token: str
    password: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return self.member.id


_counter = itertools.count(1)


@pytest.fixture
def make_member(runtime, app):
    """Factory: ``await make_member(role="operator", country="DE")``.

    The member is created directly (no registration email) with a verified email
    address, unless ``email_verified=False``.
    """
    from agorakit.accounts import service
    from agorakit.accounts.auth import issue_token
    from agorakit.accounts.schemas import RegisterMember

    async def make(role: str = "member", **fields: Any) -> MemberLogin:
        n = next(_counter)
        password = fields.pop("password", f"correct-horse-battery-{n}")
        data = {
            "email": f"member{n}@example.com",
            "display_name": f"Member {n}",
            "country": "US",
            "skills": [],
            **fields,
        }
        verified = data.pop("email_verified", True)
        member = await service.register(
            runtime, RegisterMember(password=password, **data), role=role, email_verified=verified
        )
        token = await issue_token(runtime, app.state.jwt_auth, member)
        return MemberLogin(
            member=member,
            token=token.access_token,
            password=password,
            headers={"Authorization": f"Bearer {token.access_token}"},
        )

    return make


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "postgres_only(reason): the test proves a PostgreSQL-specific behaviour (concurrency, "
        "constraints); its SQLite run is skipped with the reason",
    )


@pytest.fixture(autouse=True)
def _postgres_only(request: pytest.FixtureRequest) -> None:
    """Skip the SQLite run of a test marked ``postgres_only`` before its database is set up."""
    marker = request.node.get_closest_marker("postgres_only")
    if marker is None or "db_kind" not in request.fixturenames:
        return
    if request.getfixturevalue("db_kind") != "postgres":
        pytest.skip(marker.args[0] if marker.args else "proves a PostgreSQL-specific behaviour")


def pytest_report_header(config: pytest.Config) -> str:
    return f"agorakit: PostgreSQL tests use {postgres_admin_dsn()} (AGORAKIT_TEST_POSTGRES_DSN)"


__all__ = ["TEST_EPOCH", "MemberLogin", "Path", "deep_merge"]
