"""The benchmark cases; each returns result tables.

Every case builds its own bench site (:func:`bench.sites.bench_site`), seeds it with SQL,
starts the real app (``agorakit run``) and the floor (``uvicorn bench.floor:app``) one
after the other on the same database, and drives both with the same load client.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.leads_cases import case_leads_feed, case_leads_unlocks
from bench.load import LoadResult, Session, Stats, burst, percentile, run_load
from bench.microjobs_cases import case_microjobs
from bench.prepaid_cases import case_prepaid_feed, case_prepaid_locks
from bench.report import Table
from bench.scale_cases import case_metrics, case_scaling
from bench.seed import (
    FILTER_CATEGORY,
    RARE_TERM,
    SEARCH_TERM,
    FlowParties,
    Raw,
    check_search_index,
    count_in_category,
    fund,
    headers_for,
    seed_categories,
    seed_delivered_orders,
    seed_flow_parties,
    seed_listings,
    seed_members,
)
from bench.sites import (
    LEAN_APP,
    BenchSite,
    Server,
    agorakit_command,
    app_server,
    bench_site,
    floor_server,
    installed_plugins,
    postgres_cpu_seconds,
    running,
    subprocess_env,
)

SIDES = ("agorakit", "floor")
#: browse also runs the lean floor: each page in one query (bench/floor/lean.py)
BROWSE_SIDES = (*SIDES, "lean")
#: the order flow also runs the lean floor: the fewest statements by hand (bench/floor/lean_orders.py)
FLOW_SIDES = (*SIDES, "lean")
IBAN = {"account_holder": "Ada Lovelace", "iban": "DE89370400440532013000", "bic": "DEUTDEFF"}


@dataclass
class Config:
    engines: list[str] = field(default_factory=lambda: ["sqlite", "postgres"])
    #: published listings for the browse case, smallest first
    sizes: list[int] = field(default_factory=lambda: [10_000, 100_000])
    browse_clients: int = 16
    duration: float = 5.0
    warmup: float = 1.0
    flow_clients: int = 32
    sqlite_clients: list[int] = field(default_factory=lambda: [1, 4, 8, 16, 32])
    contention_clients: int = 100
    withdrawal_clients: int = 50
    contention_rounds: int = 5
    worker_timers: int = 2_000
    worker_processes: list[int] = field(default_factory=lambda: [1, 2, 4])
    #: ``[worker] timer_concurrency`` values also measured with one worker process (the
    #: process counts above run with the default)
    worker_concurrency: list[int] = field(default_factory=lambda: [1])
    worker_interval: float = 0.01
    startup_repeats: int = 5
    profile_requests: int = 200
    #: the microjobs race: workers, positions of each campaign, rounds (one campaign each)
    microjobs_clients: int = 400
    microjobs_positions: int = 100
    microjobs_rounds: int = 2
    #: the prepaid lock race: qualified sellers, and paid requests raced for (one race each) per side
    prepaid_sellers: int = 100
    prepaid_locks: int = 200
    #: open requests in the prepaid feed, smallest first
    prepaid_sizes: list[int] = field(default_factory=lambda: [10_000, 100_000])
    #: open jobs in the leads feed, smallest first
    leads_sizes: list[int] = field(default_factory=lambda: [10_000, 100_000])
    #: the leads unlock race: matching businesses, and leads raced for (one race each)
    leads_businesses: int = 100
    leads_races: int = 10
    #: the scaling case: app process counts, and how several run ("hosts": separate
    #: ``agorakit run`` processes; "workers": one ``agorakit run --workers N``)
    scaling_processes: list[int] = field(default_factory=lambda: [1, 2, 4])
    scaling_modes: list[str] = field(default_factory=lambda: ["hosts", "workers"])
    #: the metrics case: alternating off/on rounds, seconds between two scrapes, and the
    #: in-process requests of each batch measuring the middleware alone
    metrics_rounds: int = 2
    metrics_scrape_interval: float = 2.0
    metrics_requests: int = 2_000
    #: print progress lines
    verbose: bool = True

    def log(self, message: str) -> None:
        if self.verbose:
            print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def ms(seconds: float) -> float:
    return seconds * 1000.0


def server_for(side: str, site: BenchSite) -> Server:
    if side == "lean":
        return floor_server(site, app=LEAN_APP)
    return app_server(site) if side == "agorakit" else floor_server(site)


def probe_for(server: Server, site: BenchSite) -> Callable[[], tuple[float, float]]:
    return lambda: (server.cpu_seconds(), postgres_cpu_seconds(site.db_name))


def cpu_per_op(result: LoadResult) -> float:
    """Server + database CPU milliseconds per operation over the measured window."""
    count = result.operations.count
    return ms(sum(result.probed)) / count if count and result.probed else 0.0


def client_per_op(result: LoadResult) -> float:
    """The load client's own CPU milliseconds per operation (it shares the machine)."""
    count = result.operations.count
    return ms(result.client_cpu) / count if count else 0.0


def ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def side_cells(result: LoadResult, stats: Stats | None = None) -> list[Any]:
    stats = stats or result.requests
    rate = result.ops_per_second if stats is result.operations else result.requests_per_second
    return [rate, ms(stats.p(0.50)), ms(stats.p(0.99)), stats.errors]


def check_status(table: Table, label: str, response: httpx.Response | None, expected: int) -> Any:
    if response is None or response.status_code != expected:
        got = "no response" if response is None else f"{response.status_code} {response.text[:300]}"
        table.failures.append(f"{label}: expected {expected}, got {got}")
        return None
    return response.json()


# --------------------------------------------------------------------------------------
# 1 and 5: browse and search
# --------------------------------------------------------------------------------------

BROWSE_VARIANTS = {
    "newest": "/listings?limit=20",
    "category": f"/listings?limit=20&category={FILTER_CATEGORY}",
    "search": f"/listings?limit=20&q={SEARCH_TERM}",
    "rare search": f"/listings?limit=20&q={RARE_TERM}",
    # a search sorted by newest: its matches first, whatever the planner guesses of them
    "rare, newest": f"/listings?limit=20&q={RARE_TERM}&sort=newest",
    # the seller's rating, stored on each listing
    "rating": "/listings?limit=20&sort=rating",
}


def get_operation(step: str, url: str) -> Callable[[Session], Awaitable[bool]]:
    async def op(session: Session) -> bool:
        response = await session.request(step, "GET", url)
        return response is not None and response.status_code == 200

    return op


async def browse_engine(cfg: Config, engine: str, table: Table, raw_results: dict) -> None:
    async with bench_site(engine) as site:
        async with Raw(site) as raw:
            categories = await seed_categories(raw)
            owners = await seed_members(raw, 1_000, prefix="owner")
        seeded = 0
        for size in cfg.sizes:
            started = time.perf_counter()
            async with Raw(site) as raw:
                await seed_listings(raw, size - seeded, owner_ids=owners, categories=categories, start=seeded)
                matches = await check_search_index(raw)
                rare = await check_search_index(raw, RARE_TERM)
                in_category = await count_in_category(raw, FILTER_CATEGORY)
            cfg.log(f"browse/{engine}: {size:,} listings seeded in {time.perf_counter() - started:.1f} s")
            if "search_tantivy" in site.plugins:
                started = time.perf_counter()
                indexed = await rebuild_search_index(site)
                cfg.log(
                    f"browse/{engine}: {indexed:,} listings indexed in {time.perf_counter() - started:.1f} s"
                )
            seeded = size
            results: dict[str, dict[str, LoadResult]] = {}
            for side in BROWSE_SIDES:
                with running(server_for(side, site)) as server:
                    for variant, url in BROWSE_VARIANTS.items():
                        async with httpx.AsyncClient(base_url=server.base_url) as client:
                            body = check_status(
                                table, f"{engine} {side} {variant}", await client.get(url), 200
                            )
                        found = {
                            "search": matches,
                            "rare search": rare,
                            "rare, newest": rare,
                            "category": in_category,
                        }.get(variant, size)
                        wanted = min(20, found)
                        if body is not None and len(body["items"]) != wanted:
                            table.failures.append(
                                f"{engine} {side} {variant}: {len(body['items'])} items, not {wanted}"
                            )
                        results.setdefault(variant, {})[side] = await run_load(
                            server.base_url,
                            get_operation(variant, url),
                            clients=cfg.browse_clients,
                            duration=cfg.duration,
                            warmup=cfg.warmup,
                            probe=probe_for(server, site),
                        )
                        cfg.log(
                            f"browse/{engine}/{size}/{side}/{variant}: {results[variant][side].requests_per_second:.0f} req/s"
                        )
            for variant, by_side in results.items():
                app, floor, lean = by_side["agorakit"], by_side["floor"], by_side["lean"]
                table.add(
                    engine,
                    f"{size:,}",
                    variant,
                    *side_cells(app),
                    *side_cells(floor),
                    *side_cells(lean),
                    ratio(app.requests_per_second, floor.requests_per_second),
                    f"{cpu_per_op(app):.2f} / {cpu_per_op(floor):.2f} / {cpu_per_op(lean):.2f}",
                    ratio(cpu_per_op(app), cpu_per_op(floor)),
                    ratio(cpu_per_op(app), cpu_per_op(lean)),
                    f"{client_per_op(app):.2f} / {client_per_op(floor):.2f} / {client_per_op(lean):.2f}",
                )
                raw_results[(engine, size, variant)] = by_side
            table.notes.append(
                f"{engine} {size:,}: q={SEARCH_TERM!r} matches {matches:,} listings, q={RARE_TERM!r} {rare}"
            )


async def rebuild_search_index(site: BenchSite) -> int:
    """What ``agorakit search-index rebuild`` does, in-process: the listings seeded by SQL
    reach the search plugin's index (no events were written for them)."""
    from agorakit.plugins.search_tantivy.service import rebuild
    from agorakit.runtime import Runtime
    from agorakit.settings import load_settings

    runtime = Runtime(load_settings(site.config_path))
    await runtime.db.start()
    try:
        return await rebuild(runtime)
    finally:
        await runtime.db.close()


async def case_browse(cfg: Config) -> list[Table]:
    """1. GET /listings (newest, a category, a full-text query) at each size."""
    columns = [
        "engine", "listings", "query",
        "agorakit req/s", "p50 ms", "p99 ms", "err",
        "floor req/s", "p50 ms", "p99 ms", "err",
        "lean req/s", "p50 ms", "p99 ms", "err",
        "ratio", "server CPU ms/req app / floor / lean", "CPU x floor", "CPU x lean", "client CPU ms/req",
    ]  # fmt: skip
    table = Table("browse", f"1. Browse/search, {cfg.browse_clients} clients", columns)
    raw_results: dict = {}
    for engine in cfg.engines:
        await browse_engine(cfg, engine, table, raw_results)
    if "search_tantivy" in installed_plugins():
        table.notes.append(
            "search and rare search (sorted by relevance) are ranked by the search_tantivy plugin's index "
            "on agorakit (the database checks the ranked listings); the floor ranks in SQL (ts_rank / bm25)"
        )
    scaling = Table(
        "browse",
        "1. Browse/search: p50 at the largest size vs the smallest (goal <= 2x)",
        [
            "engine",
            "query",
            f"p50 ms at {cfg.sizes[0]:,}",
            f"p50 ms at {cfg.sizes[-1]:,}",
            "growth",
            "goal met",
        ],
    )
    for engine in cfg.engines:
        for variant in BROWSE_VARIANTS:
            small = raw_results.get((engine, cfg.sizes[0], variant))
            large = raw_results.get((engine, cfg.sizes[-1], variant))
            if small and large:
                a, b = small["agorakit"].requests.p(0.5), large["agorakit"].requests.p(0.5)
                growth = b / a if a else None
                scaling.add(engine, variant, ms(a), ms(b), growth, "yes" if growth and growth <= 2 else "no")
    table.notes.append(
        "floor = the app's own statements through the raw driver (what the framework adds); lean = each page in "
        "one query (bench/floor/lean.py: how far the app is from the limit); ratio = agorakit req/s / floor "
        "req/s; CPU x floor, CPU x lean = agorakit's server CPU per request / that floor's; server CPU = the "
        "server process + its PostgreSQL backends; client CPU = the load client's own"
    )
    case_browse.raw = raw_results  # type: ignore[attr-defined]
    return [table, scaling]


async def case_sqlite_reads(cfg: Config) -> list[Table]:
    """5. Browse on SQLite against the stdlib-sqlite3 floor (reuses case 1's run if there was one)."""
    raw_results: dict = getattr(case_browse, "raw", {})
    size = cfg.sizes[0]
    if not any(key[0] == "sqlite" for key in raw_results):
        columns = ["engine", "listings", "query", "a", "b", "c", "d", "e", "f", "g", "h", "r", "cpu"]
        scratch = Table("sqlite-reads", "scratch", columns)
        small = Config(**{**cfg.__dict__, "sizes": [size]})
        await browse_engine(small, "sqlite", scratch, raw_results)
        if scratch.failures:
            raise RuntimeError("; ".join(scratch.failures))
    table = Table(
        "sqlite-reads",
        f"5. SQLite reads: browse at {size:,} listings vs the stdlib sqlite3 floor (goal >= 50%)",
        ["query", "agorakit SQLite req/s", "floor SQLite req/s", "ratio", "CPU ratio", "agorakit PostgreSQL req/s",
         "SQLite / PostgreSQL"],
    )  # fmt: skip
    for variant in BROWSE_VARIANTS:
        by_side = raw_results.get(("sqlite", size, variant))
        if not by_side:
            continue
        app, floor = by_side["agorakit"], by_side["floor"]
        pg = raw_results.get(("postgres", size, variant), {}).get("agorakit")
        table.add(
            variant,
            app.requests_per_second,
            floor.requests_per_second,
            ratio(app.requests_per_second, floor.requests_per_second),
            ratio(cpu_per_op(floor), cpu_per_op(app)),
            pg.requests_per_second if pg else None,
            ratio(app.requests_per_second, pg.requests_per_second) if pg else None,
        )
    table.notes.append("CPU ratio = floor server CPU per request / agorakit's (1.0 = as cheap as the floor)")
    from bench.profiling import read_layers

    layers = Table(
        "sqlite-reads",
        f"5. One page of GET /listings?category={FILTER_CATEGORY} ({size:,} listings), layer by layer, "
        "one request at a time in-process",
        ["engine", "layer", "CPU µs/page", "wall µs/page", "x the raw driver (CPU)"],
    )
    for engine in cfg.engines:
        found = await read_layers(engine, size, cfg.profile_requests)
        base = found[0][2]
        for row in found:
            layers.add(*row, ratio(row[2], base))
    layers.notes.append(
        "the same statements at every layer (6 per page); CPU is the whole process's, threads included "
        "(aiosqlite's); the floor's raw-driver row is the reference; agorakit's SQLite engine runs statements "
        "through stdlib sqlite3 on the event loop's thread (the aiosqlite row shows what that replaced)"
    )
    return [table, layers]


# --------------------------------------------------------------------------------------
# 2 and 4: the gig order flow
# --------------------------------------------------------------------------------------

FLOW_STEPS = ("order", "pay", "deliver", "accept")


async def run_flow(
    session: Session, buyer: dict, seller: dict, gig: int, *, accept: bool = True
) -> int | None:
    """One whole gig order flow; the order id, or None when a step failed."""
    response = await session.request("order", "POST", f"/gigs/{gig}/orders", json={}, headers=buyer)
    if response is None or response.status_code != 201:
        return None
    order_id = response.json()["id"]
    response = await session.request(
        "pay", "POST", f"/orders/{order_id}/payments", json={"method": "balance"}, headers=buyer
    )
    if response is None or response.status_code != 201:
        return None
    response = await session.request(
        "deliver",
        "POST",
        f"/gigs/orders/{order_id}/delivery",
        json={"message": "Here you are."},
        headers=seller,
    )
    if response is None or response.status_code != 200:
        return None
    if accept:
        response = await session.request("accept", "POST", f"/gigs/orders/{order_id}/accept", headers=buyer)
        if response is None or response.status_code != 200:
            return None
    return order_id


def flow_factory(
    parties: FlowParties, *, accept: bool = True
) -> Callable[[int], Callable[[Session], Awaitable[bool]]]:
    def make(index: int) -> Callable[[Session], Awaitable[bool]]:
        buyer, seller = headers_for(parties.buyers[index]), headers_for(parties.sellers[index])
        gig = parties.gigs[index]

        async def op(session: Session) -> bool:
            return await run_flow(session, buyer, seller, gig, accept=accept) is not None

        return op

    return make


async def flow_runs(
    cfg: Config, site: BenchSite, parties: FlowParties, clients: list[int], sides: tuple[str, ...] = SIDES
) -> dict[tuple[str, int], LoadResult]:
    out = {}
    for side in sides:
        with running(server_for(side, site)) as server:
            for n in clients:
                out[(side, n)] = await run_load(
                    server.base_url,
                    flow_factory(parties),
                    clients=n,
                    duration=cfg.duration,
                    warmup=cfg.warmup,
                    per_worker=True,
                    probe=probe_for(server, site),
                )
                result = out[(side, n)]
                cfg.log(f"flow/{site.engine}/{side}/{n} clients: {result.ops_per_second:.1f} flows/s")
    return out


def flow_tables(title: str, case: str, engine: str, results: dict, clients: list[int]) -> list[Table]:
    summary = Table(
        case,
        title,
        ["engine", "clients", "agorakit flows/s", "req/s", "p50 ms", "p99 ms", "err", "locked",
         "floor flows/s", "req/s", "p50 ms", "p99 ms", "err", "locked", "ratio", "server CPU ms/flow app / floor", "client CPU ms/flow"],
    )  # fmt: skip
    steps = Table(
        case,
        f"{title}: latency per step (ms)",
        ["engine", "clients", "step", "agorakit p50", "p99", "floor p50", "p99"],
    )
    leans = Table(
        case,
        f"{title}: against both floors",
        ["engine", "clients", "lean flows/s", "p50 ms", "p99 ms", "err",
         "server CPU ms/flow app / floor / lean", "CPU x floor", "CPU x lean"],
    )  # fmt: skip
    leans.notes.append(
        "floor = the app's own statements through the raw driver (bench/floor/orders.py: what the framework "
        "adds); lean = the fewest statements by hand, one transaction per request (bench/floor/lean_orders.py: "
        "how far the app's statements are from the limit); CPU x floor, CPU x lean = agorakit's server CPU per "
        "flow / that floor's"
    )
    for n in clients:
        app, floor = results[("agorakit", n)], results[("floor", n)]
        cells = []
        for result in (app, floor):
            r = result.requests
            cells += [
                result.ops_per_second,
                result.requests_per_second,
                ms(r.p(0.5)),
                ms(r.p(0.99)),
                r.errors,
                r.locked,
            ]
        summary.add(engine, n, *cells, ratio(app.ops_per_second, floor.ops_per_second),
                    f"{cpu_per_op(app):.1f} / {cpu_per_op(floor):.1f}",
                    f"{client_per_op(app):.1f} / {client_per_op(floor):.1f}")  # fmt: skip
        lean = results.get(("lean", n))
        if lean is not None:  # the flow case runs the lean floor too
            leans.add(engine, n, lean.ops_per_second, ms(lean.requests.p(0.5)), ms(lean.requests.p(0.99)),
                      lean.requests.errors, f"{cpu_per_op(app):.1f} / {cpu_per_op(floor):.1f} / {cpu_per_op(lean):.1f}",
                      ratio(cpu_per_op(app), cpu_per_op(floor)), ratio(cpu_per_op(app), cpu_per_op(lean)))  # fmt: skip
        for step in FLOW_STEPS:
            a, f = app.steps.get(step, Stats()), floor.steps.get(step, Stats())
            steps.add(engine, n, step, ms(a.p(0.5)), ms(a.p(0.99)), ms(f.p(0.5)), ms(f.p(0.99)))
    summary.notes.append(
        "a flow = 4 requests (order, pay from balance, deliver, accept) on its own order; p50/p99 per request; "
        "locked = 5xx answers saying 'database is locked'"
    )
    return [summary, steps, *([leans] if leans.rows else [])]


async def case_flow(cfg: Config) -> list[Table]:
    """2. The gig order flow with 32 concurrent clients (PostgreSQL)."""
    tables: list[Table] = []
    for engine in [e for e in cfg.engines if e == "postgres"]:
        async with bench_site(engine) as site:
            parties = await seed_flow_parties(site, cfg.flow_clients)
            results = await flow_runs(cfg, site, parties, [cfg.flow_clients], FLOW_SIDES)
            ledger = await check_ledger(site)
        found = flow_tables(
            f"2. Order flow on {engine}, {cfg.flow_clients} clients (goal >= 50% of the floor)",
            "flow",
            engine,
            results,
            [cfg.flow_clients],
        )
        if ledger:
            found[0].failures.append(ledger)
        tables += found
    return tables


async def case_sqlite_writes(cfg: Config) -> list[Table]:
    """4. The order flow on SQLite with 1..32 concurrent clients."""
    if "sqlite" not in cfg.engines:
        return []
    async with bench_site("sqlite") as site:
        parties = await seed_flow_parties(site, max(cfg.sqlite_clients))
        results = await flow_runs(cfg, site, parties, cfg.sqlite_clients)
        ledger = await check_ledger(site)
    tables = flow_tables(
        "4. SQLite under concurrent writes: the order flow (goal at 32 clients: p99 <= 100 ms, no locked errors)",
        "sqlite-writes",
        "sqlite",
        results,
        cfg.sqlite_clients,
    )
    if ledger:
        tables[0].failures.append(ledger)
    top = results[("agorakit", max(cfg.sqlite_clients))].requests
    tables[0].notes.append(
        f"at {max(cfg.sqlite_clients)} clients agorakit's p99 is {ms(top.p(0.99)):.0f} ms with {top.locked} "
        "'database is locked' answers"
    )
    return tables


# --------------------------------------------------------------------------------------
# 3: contention
# --------------------------------------------------------------------------------------


async def delivered_orders(base_url: str, parties: FlowParties, count: int) -> list[int]:
    """``count`` orders of client 0's buyer, delivered and waiting for acceptance."""
    result = LoadResult(clients=1, elapsed=0, operations=Stats(), requests=Stats(), steps={})
    buyer, seller = headers_for(parties.buyers[0]), headers_for(parties.sellers[0])
    orders = []
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        session = Session(client, result, 0)
        for _ in range(count):
            order_id = await run_flow(session, buyer, seller, parties.gigs[0], accept=False)
            if order_id is None:
                raise RuntimeError(f"could not prepare a delivered order on {base_url}")
            orders.append(order_id)
    return orders


def contention_row(
    table: Table, label: str, outcomes: list[list[tuple[int, float]]], winner: int, loser: int
) -> list[Any]:
    """Cells for one race; a round without exactly one winner and only losers is a failure."""
    statuses: Counter = Counter()
    losing: list[float] = []
    exact = True
    for index, round_outcomes in enumerate(outcomes, start=1):
        counted = Counter(status for status, _ in round_outcomes)
        statuses += counted
        if counted[winner] != 1 or counted[winner] + counted[loser] != len(round_outcomes):
            exact = False
            table.failures.append(
                f"{label}, round {index}: expected one {winner} and the rest {loser}, got {dict(counted)}"
            )
        losing += [seconds for status, seconds in round_outcomes if status == loser]
    losing.sort()
    others = "".join(f" {n}x{s}" for s, n in statuses.items() if s not in (winner, loser))
    return [
        f"{statuses[winner]}x{winner} {statuses[loser]}x{loser}{others}",
        "yes" if exact else "NO",
        ms(percentile(losing, 0.5)),
        ms(percentile(losing, 0.99)),
        len(outcomes),
    ]


async def case_contention(cfg: Config) -> list[Table]:
    """3. 100 clients fire the same transition at once; 50 concurrent full-balance withdrawals."""
    table = Table(
        "contention",
        f"3. Contention: {cfg.contention_clients} concurrent accepts of one order; "
        f"{cfg.withdrawal_clients} concurrent full-balance withdrawals",
        ["engine", "side", "race", "outcomes (all rounds)", "exactly one winner", "p50 ms of losers",
         "p99 ms of losers", "rounds"],
    )  # fmt: skip
    rounds = cfg.contention_rounds
    for engine in cfg.engines:
        async with bench_site(engine) as site:
            parties = await seed_flow_parties(site, 1)
            async with Raw(site) as raw:
                withdrawers = await seed_members(raw, 2 * rounds, prefix="withdrawer")
            await fund(site, [f"member:{m}:available" for m in withdrawers], 10_000)
            for side_index, side in enumerate(SIDES):
                with running(server_for(side, site)) as server:
                    orders = await delivered_orders(server.base_url, parties, rounds)
                    buyer = headers_for(parties.buyers[0])
                    accepts = []
                    for order_id in orders:

                        async def send(
                            client: httpx.AsyncClient, _: int, order_id: int = order_id, buyer: dict = buyer
                        ) -> httpx.Response:
                            return await client.post(f"/gigs/orders/{order_id}/accept", headers=buyer)

                        accepts.append(await burst(server.base_url, send, clients=cfg.contention_clients))
                    table.add(
                        engine,
                        side,
                        "accept",
                        *contention_row(table, f"{engine} {side} accept", accepts, 200, 409),
                    )
                    withdrawals = []
                    for member in withdrawers[side_index * rounds : (side_index + 1) * rounds]:
                        headers = headers_for(member)
                        body = {"method": "bank_transfer", "amount": {"amount": "100.00", "currency": "USD"},
                                "destination": IBAN}  # fmt: skip

                        async def send(
                            client: httpx.AsyncClient, _: int, headers: dict = headers, body: dict = body
                        ) -> httpx.Response:
                            return await client.post("/withdrawals", json=body, headers=headers)

                        withdrawals.append(await burst(server.base_url, send, clients=cfg.withdrawal_clients))
                    table.add(
                        engine,
                        side,
                        "withdraw",
                        *contention_row(table, f"{engine} {side} withdraw", withdrawals, 201, 409),
                    )
                    cfg.log(f"contention/{engine}/{side} done")
            ledger = await check_ledger(site)
            if ledger:
                table.failures.append(f"{engine}: {ledger}")
    table.notes.append(
        "losers must get 409 (transition_not_allowed / insufficient_funds); connections are opened before each burst"
    )
    return [table]


# --------------------------------------------------------------------------------------
# 6: the worker
# --------------------------------------------------------------------------------------


async def case_worker(cfg: Config) -> list[Table]:
    """6. Due timers fired per second by 1, 2 and 4 worker processes (PostgreSQL)."""
    columns = [
        "engine",
        "workers",
        "batches at once",
        "timers",
        "seconds",
        "timers/s",
        "fired exactly once",
        "worker CPU s",
        "db CPU s",
    ]
    table = Table(
        "worker",
        f"6. Worker: {cfg.worker_timers:,} due auto-completion timers (goal >= 1,000/s with one worker, and scaling)",
        columns,
    )
    if "postgres" not in cfg.engines:
        table.notes.append("PostgreSQL only (several workers need FOR UPDATE SKIP LOCKED); skipped")
        return [table]
    async with bench_site("postgres") as site:
        parties = await seed_flow_parties(site, 16)
        started = time.perf_counter()
        from agorakit.settings import WorkerSection

        default = WorkerSection().timer_concurrency
        runs = [(workers, default) for workers in cfg.worker_processes]
        runs += [(1, concurrency) for concurrency in cfg.worker_concurrency if concurrency != default]
        total = cfg.worker_timers * len(runs)
        orders = await seed_delivered_orders(site, parties, total, due_in=timedelta(days=3))
        cfg.log(f"worker: {total} delivered orders in {time.perf_counter() - started:.1f} s")
        for run, (workers, concurrency) in enumerate(runs):
            batch = orders[run * cfg.worker_timers : (run + 1) * cfg.worker_timers]
            async with Raw(site) as raw:  # the previous run's emails are not this run's work
                await raw.execute("UPDATE core_email_outbox SET status = 'sent' WHERE status = 'pending'")
            seconds, worker_cpu, db_cpu = await run_workers(
                cfg, site, workers, batch, concurrency=concurrency
            )
            problem = await check_fired_once(site, batch)
            if problem:
                table.failures.append(f"{workers} workers x {concurrency}: {problem}")
            rate = len(batch) / seconds if seconds else None
            table.add(
                "postgres",
                workers,
                concurrency,
                len(batch),
                seconds,
                rate,
                "no" if problem else "yes",
                worker_cpu,
                db_cpu,
            )
            cfg.log(f"worker: {workers} processes x {concurrency} batches: {rate or 0:.0f} timers/s")
        problem = await check_ledger(site)
        if problem:
            table.failures.append(problem)
    table.notes.append(
        f"workers run `agorakit worker --interval {cfg.worker_interval}`; the clock starts when the timers are made "
        "due (all workers already sweeping) and stops when none of them is pending; batches at once = "
        "[worker] timer_concurrency (batches of up to [worker] timer_batch timers, each in its own transaction)"
    )
    return [table]


async def check_fired_once(site: BenchSite, orders: list[int]) -> str | None:
    """None when each order's timer fired exactly once and the order completed."""
    marks = ", ".join("{}" for _ in orders)
    async with Raw(site) as raw:
        fired = await raw.fetch(
            f"SELECT \"order\", COUNT(*) AS n FROM core_order_event WHERE transition = 'auto_complete' "
            f'AND "order" IN ({marks}) GROUP BY "order"',
            *orders,
        )
        timers = await raw.fetch(
            f"SELECT status, COUNT(*) AS n FROM core_order_timer WHERE transition = 'auto_complete' "
            f'AND "order" IN ({marks}) GROUP BY status',
            *orders,
        )
        states = await raw.fetch(
            f"SELECT state, COUNT(*) AS n FROM core_order WHERE id IN ({marks}) GROUP BY state", *orders
        )
    twice = [r["order"] for r in fired if r["n"] != 1]
    by_status = {r["status"]: r["n"] for r in timers}
    by_state = {r["state"]: r["n"] for r in states}
    if (
        twice
        or len(fired) != len(orders)
        or by_status != {"fired": len(orders)}
        or by_state != {"completed": len(orders)}
    ):
        return (
            f"{len(fired)} of {len(orders)} orders auto-completed, {len(twice)} more than once; "
            f"timers {by_status}; orders {by_state}"
        )
    return None


async def check_ledger(site: BenchSite) -> str | None:
    """What ``agorakit check-ledger`` checks, in-process: None when the ledger is sound."""
    from agorakit.money.ledger import check_ledger as recompute
    from agorakit.orders.escrow import escrow_problem_lines
    from agorakit.runtime import Runtime
    from agorakit.settings import load_settings

    runtime = Runtime(load_settings(site.config_path))
    await runtime.db.start()
    try:
        problems = await recompute() + await escrow_problem_lines(runtime)
    finally:
        await runtime.db.close()
    return f"check-ledger: {'; '.join(problems)[:500]}" if problems else None


def start_process(argv: list[str], log: Path, *, env: dict[str, str] | None = None) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=subprocess_env(**(env or {})))


async def run_workers(
    cfg: Config, site: BenchSite, count: int, orders: list[int], *, concurrency: int = 1
) -> tuple[float, float, float]:
    """Start ``count`` workers (each firing ``concurrency`` batches at once), make the
    timers of ``orders`` due, wait until all fired."""
    from bench.sites import process_cpu_seconds

    argv = [
        *agorakit_command(),
        "--config",
        str(site.config_path),
        "worker",
        "--interval",
        str(cfg.worker_interval),
    ]
    logs = [site.directory / f"worker-{count}-{i}.log" for i in range(count)]
    env = {"AGORAKIT_WORKER__TIMER_CONCURRENCY": str(concurrency)}
    processes = [start_process(argv, log, env=env) for log in logs]
    try:
        deadline = time.perf_counter() + 60
        while not all("worker started" in log.read_text(errors="replace") for log in logs):
            if time.perf_counter() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError(f"workers did not start; see {logs[0]}")
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # the first sweeps ran: connections are open
        cpu_before = [process_cpu_seconds(p.pid) for p in processes]
        db_before = postgres_cpu_seconds(site.db_name)
        async with Raw(site) as raw:
            due = datetime.now(UTC)
            marks = ", ".join("{}" for _ in orders)
            await raw.execute(
                "UPDATE core_order_timer SET due_at = {} WHERE status = 'pending' AND transition = 'auto_complete' "
                f'AND "order" IN ({marks})',
                due,
                *orders,
            )
            started = time.perf_counter()
            while True:
                left = await raw.fetch(
                    "SELECT COUNT(*) AS n FROM core_order_timer WHERE status = 'pending' AND due_at <= {}",
                    due,
                )
                left = left[0]["n"]
                if not left:
                    break
                if time.perf_counter() - started > 600:
                    raise RuntimeError(f"{left} timers still pending after 600 s")
                await asyncio.sleep(0.02)
            seconds = time.perf_counter() - started
        worker_cpu = sum(process_cpu_seconds(p.pid) - b for p, b in zip(processes, cpu_before, strict=True))
        return seconds, worker_cpu, postgres_cpu_seconds(site.db_name) - db_before
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)
            if process.poll() is None:
                process.kill()


# --------------------------------------------------------------------------------------
# 7: start-up and hook dispatch
# --------------------------------------------------------------------------------------


async def case_startup(cfg: Config) -> list[Table]:
    """7. create_app start-up with every shipped plugin, and pluggy's share of request CPU."""
    from bench.profiling import dispatch_share, startup_times

    startup = Table(
        "startup",
        "7. Start-up with every shipped plugin enabled (median of runs, seconds)",
        ["engine", "plugins", "import agorakit.app", "create_app()", "agorakit run -> first /health"],
    )  # fmt: skip
    dispatch = Table(
        "startup",
        "7. Hook dispatch: its share of a request's CPU (goal < 5%)",
        ["engine", "request", "CPU ms/req", "hook calls/req", "dispatch self µs/req (cProfile)", "share (cProfile)",
         "estimate µs/req", "share (estimate)"],
    )  # fmt: skip
    where = Table(
        "startup",
        "7. Where a request's CPU goes in-process: cProfile self time by package (top 8)",
        ["engine", "request", "package", "share"],
    )
    for engine in cfg.engines:
        async with bench_site(engine) as site:
            imports, creates = startup_times(site, cfg.startup_repeats)
            launches = []
            for _ in range(max(1, cfg.startup_repeats // 2)):
                server = app_server(site)
                with running(server):
                    launches.append(server.started_in)
            startup.add(engine, len(site.plugins), median(imports), median(creates), median(launches))
            found, shares = await dispatch_share(site, cfg.profile_requests)
            for row in found:
                dispatch.add(engine, *row)
            for label, by_package in shares.items():
                for package, share in list(by_package.items())[:8]:
                    where.add(engine, label, package, f"{100 * share:.1f}%")
        cfg.log(f"startup/{engine} done")
    startup.notes.append("plugins: " + ", ".join(site.plugins))
    dispatch.notes.append(
        "in-process (httpx ASGITransport); 'dispatch self' = time cProfile attributes to the hook facade "
        "(runtime.hooks: collect, first, each, ...) and pluggy's own frames; 'estimate' = hook calls x the "
        "measured cost of one call through the facade "
        "(one no-op implementation, timed here) over the request's CPU time without the profiler"
    )
    where.notes.append(
        "main-thread CPU (cProfile with time.thread_time); builtins are charged to their caller's package; the "
        "in-process httpx client and the event loop are included (they are not the app's cost); SQLite's own "
        "work runs on the main thread too (stdlib sqlite3, charged to the engine: 'agorakit core')"
    )
    return [startup, dispatch, where]


CASES: dict[str, Callable[[Config], Awaitable[list[Table]]]] = {
    "browse": case_browse,
    "flow": case_flow,
    "contention": case_contention,
    "sqlite-writes": case_sqlite_writes,
    "sqlite-reads": case_sqlite_reads,
    "worker": case_worker,
    "startup": case_startup,
    "microjobs": case_microjobs,
    "prepaid-locks": case_prepaid_locks,
    "prepaid-feed": case_prepaid_feed,
    "leads-feed": case_leads_feed,
    "leads-unlocks": case_leads_unlocks,
    "scaling": case_scaling,
    "metrics": case_metrics,
}
