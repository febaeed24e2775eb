"""Case 7: start-up time and the share of a request's CPU spent in pluggy's dispatch.

The dispatch share is measured in-process: the app is called through httpx's
ASGITransport (no network, no server), first without a profiler (CPU per request, from
which the client's own cost, measured against a do-nothing ASGI app, is subtracted),
then under cProfile.  Two figures:

- **cProfile**: the time cProfile attributes to the dispatch's own frames (the hook facade
  ``runtime.hooks`` in ``agorakit/hooks.py`` and everything in the ``pluggy`` package),
  over the cumulative time of the Litestar app's ``__call__``.  cProfile inflates small
  functions, so this is an upper bound;
- **estimate**: the number of hook calls per request times the cost of one call through
  the facade (one no-op implementation, timed here), over the CPU per request without a profiler.
"""

from __future__ import annotations

import cProfile
import json
import pstats
import subprocess
import sys
import time
import timeit
from typing import Any

import httpx

from bench.capture import in_process_client
from bench.seed import (
    FILTER_CATEGORY,
    Raw,
    headers_for,
    seed_categories,
    seed_flow_parties,
    seed_listings,
    seed_members,
)
from bench.sites import BenchSite, subprocess_env

STARTUP_SCRIPT = """
import json, sys, time
started = time.perf_counter()
import agorakit.app
from agorakit.settings import load_settings
imported = time.perf_counter()
app = agorakit.app.create_app(load_settings(sys.argv[1]))
created = time.perf_counter()
print(json.dumps({"import": imported - started, "create": created - imported}))
"""


def startup_times(site: BenchSite, repeats: int) -> tuple[list[float], list[float]]:
    """Seconds to import ``agorakit.app`` and to run ``create_app`` (fresh processes).

    A first, unmeasured run fills the bytecode cache (see :func:`bench.sites.subprocess_env`).
    """
    imports, creates = [], []
    for index in range(repeats + 1):
        out = subprocess.run(
            [sys.executable, "-c", STARTUP_SCRIPT, str(site.config_path)],
            check=True,
            capture_output=True,
            text=True,
            env=subprocess_env(),
        )
        if index == 0:
            continue
        found = json.loads(out.stdout.strip().splitlines()[-1])
        imports.append(found["import"])
        creates.append(found["create"])
    return imports, creates


def pluggy_call_cost() -> float:
    """Seconds per call of a hook with one no-op implementation."""
    import pluggy

    spec, impl = pluggy.HookspecMarker("bench"), pluggy.HookimplMarker("bench")

    class Specs:
        @spec
        def bench_hook(self, runtime: Any, value: Any) -> Any:  # pragma: no cover - a spec
            ...

    class Plugin:
        @impl
        def bench_hook(self, runtime: Any, value: Any) -> Any:
            return None

    pm = pluggy.PluginManager("bench")
    pm.add_hookspecs(Specs)
    pm.register(Plugin())
    from agorakit.hooks import Hooks

    hooks = Hooks(pm)  # how the app calls hooks (``runtime.hooks``)
    runs = 20_000
    return (
        min(
            timeit.repeat(
                lambda: hooks.first_sync("bench_hook", runtime=None, value=1), number=runs, repeat=3
            )
        )
        / runs
    )


async def _null_app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": b"{}"})


async def client_cost(requests: int) -> float:
    """CPU seconds the in-process client itself spends per request."""
    transport = httpx.ASGITransport(app=_null_app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for _ in range(20):
            await client.get("/listings")
        started = time.process_time()
        for _ in range(requests):
            await client.get("/listings?limit=20", headers={"Authorization": "Bearer x"})
        return (time.process_time() - started) / requests


#: (package, how to recognise its frames by file name), first match wins
PACKAGES = [
    ("pluggy", "/pluggy/"),
    ("piccolo (query building, results)", "/piccolo/"),
    ("aiosqlite", "/aiosqlite/"),
    ("asyncpg", "/asyncpg/"),
    ("litestar", "/litestar/"),
    ("msgspec", "/msgspec/"),
    ("jinja2 (notification templates)", "/jinja2/"),
    ("httpx/httpcore (the in-process client)", "/httpx/"),
    ("httpx/httpcore (the in-process client)", "/httpcore/"),
    ("agorakit core", "/core/"),
    ("agorakit plugins", "/plugins/"),
    ("asyncio event loop", "/asyncio/"),
]


def package_shares(stats: pstats.Stats) -> dict[str, float]:
    """Self time by package, as fractions of everything profiled; a builtin (C function) counts for
    the package of its first caller, standard-library modules are named one by one."""
    totals: dict[str, float] = {}
    for (filename, _, _), (_, _, tottime, _, callers) in stats.stats.items():  # type: ignore[attr-defined]
        if filename == "~" and callers:  # a builtin: charge it to its first caller's package
            filename = next(iter(callers))[0]
        package = next((name for name, marker in PACKAGES if marker in filename), None)
        if package is None:
            parts = filename.removesuffix(".py").split("/")
            stem = parts[-2] if parts[-1] == "__init__" and len(parts) > 1 else parts[-1]
            if "/lib/python3" in filename:
                package = f"stdlib: {stem}"
            elif filename.startswith("<frozen "):
                package = f"stdlib: {filename[8:-1]}"
            else:
                package = "other"
        totals[package] = totals.get(package, 0.0) + tottime
    whole = sum(totals.values()) or 1.0
    return {name: value / whole for name, value in sorted(totals.items(), key=lambda kv: -kv[1])}


#: the hook facade's entry points (one per hook call)
_FACADE_CALLS = {"collect", "first", "each", "collect_sync", "first_sync"}


def _profile_figures(stats: pstats.Stats) -> tuple[float, float, int]:
    """(app cumulative seconds, dispatch self seconds, hook calls) from a profile: the
    dispatch is pluggy's frames and the hook facade's (``agorakit/hooks.py``)."""
    app_total, pluggy_self, hook_calls = 0.0, 0.0, 0
    for (filename, _, name), (_, calls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        facade = filename.endswith(("/agorakit/hooks.py", "/core/hooks.py"))
        if "/pluggy/" in filename or facade:
            pluggy_self += tottime
            if (name == "__call__" and not facade) or (facade and name in _FACADE_CALLS):
                hook_calls += calls
        if "/litestar/app.py" in filename and name == "__call__":
            app_total = max(app_total, cumtime)
    return app_total, pluggy_self, hook_calls


async def dispatch_share(
    site: BenchSite, requests: int
) -> tuple[list[list[Any]], dict[str, dict[str, float]]]:
    """Rows (request, CPU ms/req, hook calls/req, pluggy µs/req, share, estimate µs, estimate share)
    and, per request, the profiled self time by package."""
    async with Raw(site) as raw:
        categories = await seed_categories(raw)
        owners = await seed_members(raw, 50, prefix="owner")
        await seed_listings(raw, 2_000, owner_ids=owners, categories=categories)
    parties = await seed_flow_parties(site, 1)
    buyer, seller = headers_for(parties.buyers[0]), headers_for(parties.sellers[0])
    gig = parties.gigs[0]
    per_call = pluggy_call_cost()
    overhead = await client_cost(requests)
    rows = []
    shares: dict[str, dict[str, float]] = {}
    async with in_process_client(site) as (client, _runtime):

        async def browse() -> int:
            response = await client.get(f"/listings?limit=20&category={FILTER_CATEGORY}")
            assert response.status_code == 200, response.text
            return 1

        async def flow() -> int:
            placed = await client.post(f"/gigs/{gig}/orders", json={}, headers=buyer)
            assert placed.status_code == 201, placed.text
            order_id = placed.json()["id"]
            paid = await client.post(
                f"/orders/{order_id}/payments", json={"method": "balance"}, headers=buyer
            )
            assert paid.status_code == 201, paid.text
            delivered = await client.post(
                f"/gigs/orders/{order_id}/delivery", json={"message": "Here you are."}, headers=seller
            )
            assert delivered.status_code == 200, delivered.text
            accepted = await client.post(f"/gigs/orders/{order_id}/accept", headers=buyer)
            assert accepted.status_code == 200, accepted.text
            return 4

        for label, action, count in (
            ("GET /listings?category", browse, requests),
            ("order flow (4 POSTs)", flow, max(2, requests // 8)),
        ):
            for _ in range(min(5, count)):
                await action()
            started, done = time.process_time(), 0
            for _ in range(count):
                done += await action()
            cpu = (time.process_time() - started) / done - overhead
            profiler = cProfile.Profile(time.thread_time)  # CPU of this thread: waits do not count
            profiled = 0
            profiler.enable()
            for _ in range(count):
                profiled += await action()
            profiler.disable()
            stats = pstats.Stats(profiler)
            app_total, pluggy_self, hook_calls = _profile_figures(stats)
            shares[label] = package_shares(stats)
            calls = hook_calls / profiled
            rows.append(
                [
                    label,
                    cpu * 1000,
                    calls,
                    pluggy_self / profiled * 1e6,
                    f"{100 * pluggy_self / app_total:.1f}%" if app_total else "-",
                    calls * per_call * 1e6,
                    f"{100 * calls * per_call / cpu:.2f}%" if cpu > 0 else "-",
                ]
            )
    return rows, shares


# --------------------------------------------------------------------------------------
# Case 5: one browse page, layer by layer
# --------------------------------------------------------------------------------------


class AiosqliteSession:
    """The floor's statements through one persistent aiosqlite connection."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        from bench.floor import SqliteSession, sqlite_sql

        async with self.connection.execute(sqlite_sql(sql), [SqliteSession._arg(a) for a in args]) as cursor:
            return await cursor.fetchall()

    async def row(self, sql: str, *args: Any) -> Any:
        from bench.floor import SqliteSession, sqlite_sql

        async with self.connection.execute(sqlite_sql(sql), [SqliteSession._arg(a) for a in args]) as cursor:
            return await cursor.fetchone()


async def _timed(action: Any, count: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds) per call of ``action``, after a warm-up."""
    for _ in range(min(20, count)):
        await action()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        await action()
    return (time.process_time() - cpu) / count, (time.perf_counter() - wall) / count


async def read_layers(engine: str, listings: int, requests: int) -> list[list[Any]]:
    """Rows: engine, layer, CPU µs per page, wall µs per page, for GET /listings?category=...

    The same statements (the app's, see ``python -m bench capture``) through: the raw
    driver as the floor uses it; on SQLite also one persistent aiosqlite connection; the
    app's service function (Piccolo on the site's engine); the whole HTTP request in-process.
    """
    from bench.floor import SqliteSession, browse_page
    from bench.sites import bench_site

    rows: list[list[Any]] = []
    async with bench_site(engine) as site:
        async with Raw(site) as raw:
            categories = await seed_categories(raw)
            owners = await seed_members(raw, 1_000, prefix="owner")
            await seed_listings(raw, listings, owner_ids=owners, categories=categories)
        sqlite = engine == "sqlite"

        def page(session: Any) -> Any:
            return lambda: browse_page(session, q=None, category=FILTER_CATEGORY, sqlite=sqlite)

        if sqlite:
            import sqlite3

            import aiosqlite

            connection = sqlite3.connect(site.db_path, isolation_level=None, check_same_thread=False)
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA journal_mode = WAL")
            rows.append([engine, "stdlib sqlite3, one connection (the floor)",
                         *await _timed(page(SqliteSession(connection)), requests)])  # fmt: skip
            connection.close()
            async with aiosqlite.connect(site.db_path) as shared:
                shared.row_factory = sqlite3.Row
                rows.append([engine, "aiosqlite, one persistent connection",
                             *await _timed(page(AiosqliteSession(shared)), requests)])  # fmt: skip
        else:
            import asyncpg

            from bench.floor import PgSession

            connection = await asyncpg.connect(site.database_url)
            rows.append([engine, "asyncpg, one connection (the floor)",
                         *await _timed(page(PgSession(connection)), requests)])  # fmt: skip
            await connection.close()
        overhead = await client_cost(requests)
        async with in_process_client(site) as (client, runtime):
            from agorakit.catalog.search import browse

            rows.append([engine, "agorakit service: catalog.search.browse() (Piccolo)",
                         *await _timed(lambda: browse(runtime, category=FILTER_CATEGORY), requests)])  # fmt: skip

            async def request() -> None:
                response = await client.get(f"/listings?limit=20&category={FILTER_CATEGORY}")
                assert response.status_code == 200, response.text

            cpu, wall = await _timed(request, requests)
            rows.append([engine, "agorakit HTTP request in-process (client's own cost subtracted)",
                         cpu - overhead, wall - overhead])  # fmt: skip
    return [[e, layer, cpu * 1e6, wall * 1e6] for e, layer, cpu, wall in rows]
