"""9 and 10. Prepaid requests (the prepaid plugin): the race for a paid request's lock, and
the sellers' feed of open requests as the pool grows.

9. ``prepaid-locks``: ``prepaid_sellers`` sellers with approved access to the request's
category are released at the same instant on warm connections, each locking the same
paid request (``POST /prepaid/requests/{id}/lock``); one race per request,
``prepaid_locks`` requests per side.  The requests are posted and paid from the buyer's
credit through the app before any race.  Every race must end with exactly one lock
(200) and the others 409; afterwards each request, its order and its listing say who
won (the request and the order in progress with the winner as their seller, one
``lock`` in the order's history, the listing paused), the sellers' lock counters add up
and ``check-ledger`` passes.

10. ``prepaid-feed``: one seller with access to 5 of the 50 categories; open requests
spread evenly over the 50 categories and 5 service types, seeded by SQL at each size (a
classic request's listing and row, as the app leaves them); ``GET /prepaid/feed`` (the
first page) and ``GET /prepaid/feed?service_type=...`` by ``browse_clients`` clients.
Both sides must answer the same page, the newest 20 open requests of the seller's
categories.

The floor (``bench/floor/prepaid.py``) serves both routes with the same rows on the same
database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from bench.load import LoadResult, make_client, percentile, run_load
from bench.report import Table
from bench.seed import (
    CATEGORY_TREE,
    Raw,
    _bump_sequence,
    _max_id,
    epoch_us,
    fund,
    headers_for,
    seed_categories,
    seed_members,
)
from bench.sites import BenchSite, bench_site, running

if TYPE_CHECKING:  # pragma: no cover
    from bench.cases import Config

#: the category of the raced requests
RACE_CATEGORY = "logo-design"
#: the feed's seller has access to these 5 of the 50 categories (leaves of 5 trees)
SELLER_CATEGORIES = ("logo-design", "articles", "animation", "voice-over", "websites")
#: the bench site's service types (every category uses them); requests cycle through them
SERVICE_TYPES = ("custom", "boost", "coaching", "review", "setup")
FEED_TYPE = "coaching"
FEED_VARIANTS = {
    "first page": "/prepaid/feed?limit=20",
    "by type": f"/prepaid/feed?limit=20&service_type={FEED_TYPE}",
}
#: growth of the app's p50 from the smallest size to the largest that still counts as flat
FLAT = 1.25


def site_settings() -> str:
    """``[plugins.prepaid]`` of the bench site: locks without a per-seller limit that a
    race could reach, and five service types with one free-text field each."""
    lines = ["", "[plugins.prepaid]", "max_open_locks = 1000", ""]
    for name in SERVICE_TYPES:
        lines += [
            "[[plugins.prepaid.default_service_types]]",
            f'name = "{name}"',
            f'label = "{name.title()}"',
            "[[plugins.prepaid.default_service_types.fields]]",
            'name = "task"',
            'label = "What should be done"',
            "",
        ]
    return "\n".join(lines)


def configure(site: BenchSite) -> None:
    with site.config_path.open("a", encoding="utf-8") as config:
        config.write(site_settings())


def ms(seconds: float) -> float:
    return seconds * 1000.0


async def grant(raw: Raw, members: list[int], category_ids: list[int]) -> None:
    """Approved access of every member to every category (what an operator's approval leaves)."""
    now = datetime.now(UTC)
    columns = (
        "member_id category_id note status reason decided_by created_at decided_at attachments notify "
        "revoked_by revoked_at"
    ).split()
    rows = [
        (m, c, "", "approved", None, None, now, now, "[]", True, None, None)
        for m in members
        for c in category_ids
    ]
    await raw.insert_many("core_qualification", columns, rows)


# --------------------------------------------------------------------------------------
# 9: the lock race
# --------------------------------------------------------------------------------------


def request_body(index: int) -> dict[str, Any]:
    return {
        "mode": "prepaid",
        "category": RACE_CATEGORY,
        "service_type": SERVICE_TYPES[index % len(SERVICE_TYPES)],
        "details": {"task": f"A logo for bakery number {index}"},
        "price": {"amount": "40.00", "currency": "USD"},
        "timeframe_hours": 48,
        "method": "balance",
    }


async def post_requests(base_url: str, buyer: int, count: int, clients: int = 4) -> list[int]:
    """``count`` prepaid requests paid from the buyer's credit, through the app: open, in the pool."""
    ids: list[int] = []
    queue = list(range(count))

    async def client_loop() -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
            while queue:
                index = queue.pop()
                response = await client.post(
                    "/prepaid/requests", json=request_body(index), headers=headers_for(buyer)
                )
                if response.status_code != 201 or response.json()["status"] != "open":
                    raise RuntimeError(
                        f"could not post a request: {response.status_code} {response.text[:300]}"
                    )
                ids.append(response.json()["id"])

    await asyncio.gather(*(client_loop() for _ in range(min(clients, count))))
    return sorted(ids)


@dataclass
class LockRace:
    """The races of one side."""

    statuses: Counter = field(default_factory=Counter)
    #: 409s by where they were refused (:func:`refusal`)
    refusals: Counter = field(default_factory=Counter)
    wins: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    #: seconds from the release of a race to its last answer
    rounds: list[float] = field(default_factory=list)
    #: request -> the seller whose lock succeeded (None: no single winner)
    winners: dict[int, int | None] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    #: CPU seconds of the server and its PostgreSQL backends over the races
    cpu: float = 0.0


def refusal(response: httpx.Response) -> str:
    """Where a losing lock was refused: ``check`` (the request was no longer open when read),
    ``lock`` (it was, but another seller held the order's lock and took it), else the
    problem's code and detail (not a loss of the race)."""
    body = response.json()
    detail = body.get("detail", "")
    if detail.startswith("request ") and ("was taken by another seller" in detail or "is not open" in detail):
        return "check"
    if detail.startswith("order ") and "was taken by another seller" in detail:
        return "lock"
    return f"{body.get('code') or body['type'].rsplit('/', 1)[-1]}: {detail[:120]}"


async def race(base_url: str, requests: list[int], sellers: list[int], result: LockRace) -> None:
    """Every seller locks each request at the same instant, one request after the other."""
    headers = [headers_for(s) for s in sellers]
    async with contextlib.AsyncExitStack() as stack:
        connections = [await stack.enter_async_context(make_client(base_url)) for _ in sellers]
        for request_id in requests:
            # every connection open and warm, so that the race measures the locks, not TCP set-up
            await asyncio.gather(*(client.get("/health") for client in connections))
            gate = asyncio.Event()

            async def one(index: int, request_id: int = request_id, gate: asyncio.Event = gate) -> tuple:
                await gate.wait()
                started = time.perf_counter()
                try:
                    response = await connections[index].post(
                        f"/prepaid/requests/{request_id}/lock", headers=headers[index]
                    )
                except httpx.HTTPError as exc:
                    return index, None, time.perf_counter() - started, type(exc).__name__
                return index, response, time.perf_counter() - started, None

            tasks = [asyncio.create_task(one(i)) for i in range(len(sellers))]
            await asyncio.sleep(0.02)
            started = time.perf_counter()
            gate.set()
            outcomes = await asyncio.gather(*tasks)
            result.rounds.append(time.perf_counter() - started)
            winners = []
            for index, response, seconds, error in outcomes:
                status = response.status_code if response is not None else 0
                result.statuses[status] += 1
                if status == 200:
                    result.wins.append(seconds)
                    winners.append(sellers[index])
                    if (
                        response.json()["seller_id"] != sellers[index]
                        or response.json()["status"] != "in_progress"
                    ):
                        result.failures.append(
                            f"request {request_id}: the winner's answer {response.text[:200]}"
                        )
                elif status == 409:
                    result.losses.append(seconds)
                    where = refusal(response)  # type: ignore[arg-type]
                    result.refusals[where] += 1
                    if where not in ("check", "lock"):
                        result.failures.append(f"request {request_id}: a loser was refused with {where}")
                else:
                    detail = error or f"{status} {response.text[:200]}"  # type: ignore[union-attr]
                    result.failures.append(f"request {request_id}: a lock got {detail}")
            result.winners[request_id] = winners[0] if len(winners) == 1 else None
            if len(winners) != 1:
                result.failures.append(
                    f"request {request_id}: {len(winners)} locks succeeded, not exactly one"
                )


async def check_locks(site: BenchSite, winners: dict[int, int | None]) -> list[str]:
    """What the races must have left: each request, its order and its listing with the
    winner; one ``lock`` per order; every lock counted once in the sellers' counters."""
    problems = []
    marks = ", ".join("{}" for _ in winners)
    async with Raw(site) as raw:
        rows = await raw.fetch(
            "SELECT r.id, r.status, r.seller_id, o.state, o.seller_id AS order_seller, l.status AS listing, "
            "(SELECT COUNT(*) FROM core_order_event e WHERE e.\"order\" = o.id AND e.transition = 'lock') AS locks "
            "FROM prepaid_request r JOIN core_order o ON o.id = r.order_id JOIN core_listing l ON l.id = r.listing_id "
            f"WHERE r.id IN ({marks}) ORDER BY r.id",
            *winners,
        )
        counted = await raw.fetch("SELECT COALESCE(SUM(open_locks), 0) AS n FROM prepaid_seller_locks")
        locked = await raw.fetch("SELECT COUNT(*) AS n FROM prepaid_request WHERE status = 'in_progress'")
    for row in rows:
        winner = winners[row["id"]]
        found = (
            row["status"],
            row["seller_id"],
            row["state"],
            row["order_seller"],
            row["listing"],
            row["locks"],
        )
        if found != ("in_progress", winner, "in_progress", winner, "paused", 1):
            problems.append(
                f"request {row['id']} (won by {winner}): request {row['status']}/{row['seller_id']}, order "
                f"{row['state']}/{row['order_seller']}, listing {row['listing']}, {row['locks']} locks"
            )
    if len(rows) != len(winners):
        problems.append(f"{len(rows)} of {len(winners)} raced requests found")
    if counted[0]["n"] != locked[0]["n"]:
        problems.append(
            f"the sellers' counters hold {counted[0]['n']} locks; {locked[0]['n']} requests are locked"
        )
    return problems


async def case_prepaid_locks(cfg: Config) -> list[Table]:
    """9. Prepaid: sellers race to lock each paid request; exactly one wins."""
    from bench.cases import SIDES, check_ledger, probe_for, server_for

    sellers_n, rounds = cfg.prepaid_sellers, cfg.prepaid_locks
    table = Table(
        "prepaid-locks",
        f"9. Prepaid lock race: {sellers_n} qualified sellers lock each of {rounds} paid requests at once "
        "(exactly one lock per request)",
        ["engine", "side", "locks 200 / 409", "409 at the check / at the lock", "exactly one winner",
         "winner p50 ms", "winner p99 ms", "409 p50 ms", "409 p99 ms", "races/s", "err", "ratio",
         "server CPU ms/race"],
    )  # fmt: skip
    for engine in cfg.engines:
        async with bench_site(engine) as site:
            configure(site)
            async with Raw(site) as raw:
                categories = await seed_categories(raw)
                (buyer,) = await seed_members(raw, 1, prefix="buyer")
                sellers = await seed_members(raw, sellers_n, prefix="seller")
                await grant(raw, sellers, [categories[RACE_CATEGORY]])
            await fund(site, [f"member:{buyer}:credit"], 4_000 * len(SIDES) * rounds)
            results: dict[str, LockRace] = {}
            requests: list[int] = []
            for side in SIDES:
                with running(server_for(side, site)) as server:
                    if side == SIDES[0]:  # the requests are posted by the app, before any race
                        started = time.perf_counter()
                        requests = await post_requests(server.base_url, buyer, len(SIDES) * rounds)
                        cfg.log(
                            f"prepaid-locks/{engine}: {len(requests)} paid requests posted in "
                            f"{time.perf_counter() - started:.1f} s"
                        )
                    mine = requests[SIDES.index(side) * rounds : (SIDES.index(side) + 1) * rounds]
                    result = results[side] = LockRace()
                    probe = probe_for(server, site)
                    before = probe()
                    await race(server.base_url, mine, sellers, result)
                    result.cpu = sum(probe()) - sum(before)
                    result.failures += await check_locks(site, {r: result.winners.get(r) for r in mine})
                    table.failures += [f"{engine} {side}: {problem}" for problem in result.failures[:10]]
                    cfg.log(f"prepaid-locks/{engine}/{side}: {len(mine) / sum(result.rounds):.1f} races/s")
            app, floor = results[SIDES[0]], results[SIDES[1]]
            for side, result in results.items():
                wins, losses = sorted(result.wins), sorted(result.losses)
                errors = sum(n for status, n in result.statuses.items() if status not in (200, 409))
                table.add(
                    engine,
                    side,
                    f"{result.statuses[200]} / {result.statuses[409]}",
                    f"{result.refusals['check']} / {result.refusals['lock']}",
                    "no" if result.failures else "yes",
                    ms(percentile(wins, 0.5)),
                    ms(percentile(wins, 0.99)),
                    ms(percentile(losses, 0.5)),
                    ms(percentile(losses, 0.99)),
                    len(result.rounds) / sum(result.rounds) if result.rounds else None,
                    errors,
                    sum(floor.rounds) / sum(app.rounds) if side == SIDES[0] and app.rounds else None,
                    ms(result.cpu) / len(result.rounds) if result.rounds else None,
                )
            problem = await check_ledger(site)
            if problem:
                table.failures.append(f"{engine}: {problem}")
    table.notes.append(
        "a race: every seller's lock released at once on warm keep-alive connections; a loser is refused at the "
        "check (the request read before any transaction is no longer open) or at the lock (it was open, the "
        "order's row was locked by the winner and found taken); races/s = races / the seconds from each release "
        "to its last answer; ratio = agorakit races/s / floor races/s; server CPU = the server process + its "
        "PostgreSQL backends over the races (each race's warm-up GET /health on every connection included)"
    )
    return [table]


# --------------------------------------------------------------------------------------
# 10: the feed
# --------------------------------------------------------------------------------------


async def seed_open_requests(
    raw: Raw,
    count: int,
    *,
    buyers: list[int],
    categories: dict[str, int],
    start: int = 0,
    batch: int = 20_000,
) -> None:
    """``count`` open classic requests, each a published listing of kind ``request`` and
    its ``prepaid_request`` row; request ``i`` is in category ``i % 50`` (every category of
    the tree, top ones included) with service type ``i // 50 % 5``, newest last."""
    slugs = [slug for top, children in CATEGORY_TREE.items() for slug in (top, *children)]
    base = datetime.now(UTC) - timedelta(days=2)
    listing_columns = (
        "id kind owner_id category_id title description price currency attributes countries status "
        "rejection_reason screening_flags created_at updated_at submitted_at published_at published_us"
    ).split()
    request_columns = (
        "id listing_id buyer_id category_id category service_type service_label title mode status price currency "
        "timeframe_hours details order_id seller_id offer_id expires_at due_at opened_at idempotency_key "
        "created_at updated_at"
    ).split()
    first_listing = await _max_id(raw, "core_listing") + 1
    first_request = await _max_id(raw, "prepaid_request") + 1
    done = 0
    while done < count:
        listings, rows = [], []
        for n in range(done, min(count, done + batch)):
            i = start + n
            slug = slugs[i % len(slugs)]
            service = SERVICE_TYPES[i // len(slugs) % len(SERVICE_TYPES)]
            details = {"task": f"Request {i}: a {service} in {slug}"}
            title = f"{service.title()}: {slug}"
            price = 500 + (i * 37) % 20_000
            at = base + timedelta(milliseconds=100 * i)
            attributes = {
                "mode": "classic",
                "service_type": service,
                "details": details,
                "timeframe_hours": 72,
            }
            listing_id, buyer = first_listing + n, buyers[i % len(buyers)]
            listings.append(
                (listing_id, "request", buyer, categories[slug], title, f"Service: {service.title()}\nWhat should be "
                 f"done: {details['task']}", price, "USD", json.dumps(attributes), "", "published", None, "[]", at,
                 at, None, at, epoch_us(at))
            )  # fmt: skip
            rows.append(
                (first_request + n, listing_id, buyer, categories[slug], slug, service, service.title(), title,
                 "classic", "open", price, "USD", 72, json.dumps(details), None, None, None, at + timedelta(days=14),
                 None, at, None, at, at)
            )  # fmt: skip
        await raw.insert_many("core_listing", listing_columns, listings)
        await raw.insert_many("prepaid_request", request_columns, rows)
        done += len(rows)
    await _bump_sequence(raw, "core_listing")
    await _bump_sequence(raw, "prepaid_request")
    if raw.pg is not None:
        await raw.execute("VACUUM ANALYZE core_listing")
        await raw.execute("VACUUM ANALYZE prepaid_request")
    else:
        await raw.execute("ANALYZE")


async def expected_page(raw: Raw, category_ids: list[int], service_type: str | None) -> list[int]:
    """The ids the feed's first page must show (by a query of its own)."""
    marks = ", ".join("{}" for _ in category_ids)
    where = f"status = 'open' AND category_id IN ({marks})"
    args: list[Any] = list(category_ids)
    if service_type:
        where += " AND service_type = {}"
        args.append(service_type)
    rows = await raw.fetch(f"SELECT id FROM prepaid_request WHERE {where} ORDER BY id DESC LIMIT 20", *args)
    return [r["id"] for r in rows]


def feed_operation(url: str, headers: dict[str, str]) -> Any:
    async def op(session: Any) -> bool:
        response = await session.request("feed", "GET", url, headers=headers)
        return response is not None and response.status_code == 200

    return op


async def feed_engine(cfg: Config, engine: str, table: Table, found: dict) -> None:
    from bench.cases import SIDES, cpu_per_op, probe_for, server_for, side_cells

    async with bench_site(engine) as site:
        configure(site)
        async with Raw(site) as raw:
            categories = await seed_categories(raw)
            (seller,) = await seed_members(raw, 1, prefix="seller")
            buyers = await seed_members(raw, 1_000, prefix="buyer")
            allowed = [categories[slug] for slug in SELLER_CATEGORIES]
            await grant(raw, [seller], allowed)
        headers = headers_for(seller)
        seeded = 0
        for size in cfg.prepaid_sizes:
            started = time.perf_counter()
            async with Raw(site) as raw:
                await seed_open_requests(
                    raw, size - seeded, buyers=buyers, categories=categories, start=seeded
                )
                wanted = {
                    variant: await expected_page(raw, allowed, FEED_TYPE if "type" in variant else None)
                    for variant in FEED_VARIANTS
                }
            seeded = size
            cfg.log(
                f"prepaid-feed/{engine}: {size:,} open requests seeded in {time.perf_counter() - started:.1f} s"
            )
            results: dict[str, dict[str, LoadResult]] = {}
            bodies: dict[str, dict[str, Any]] = {}
            for side in SIDES:
                with running(server_for(side, site)) as server:
                    for variant, url in FEED_VARIANTS.items():
                        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
                            response = await client.get(url, headers=headers)
                        label = f"{engine} {size:,} {side} {variant}"
                        if response.status_code != 200:
                            table.failures.append(f"{label}: {response.status_code} {response.text[:300]}")
                        else:
                            body = bodies.setdefault(variant, {})[side] = response.json()
                            ids = [item["id"] for item in body["items"]]
                            if ids != wanted[variant]:
                                table.failures.append(
                                    f"{label}: the page shows {ids[:5]}..., not {wanted[variant][:5]}..."
                                )
                        results.setdefault(variant, {})[side] = await run_load(
                            server.base_url,
                            feed_operation(url, headers),
                            clients=cfg.browse_clients,
                            duration=cfg.duration,
                            warmup=cfg.warmup,
                            probe=probe_for(server, site),
                        )
                        cfg.log(
                            f"prepaid-feed/{engine}/{size}/{side}/{variant}: "
                            f"{results[variant][side].requests_per_second:.0f} req/s"
                        )
            for variant, by_side in results.items():
                sides = bodies.get(variant, {})
                if len(sides) == len(SIDES) and sides[SIDES[0]] != sides[SIDES[1]]:
                    table.failures.append(
                        f"{engine} {size:,} {variant}: the app's and the floor's pages differ"
                    )
                app, floor = by_side[SIDES[0]], by_side[SIDES[1]]
                table.add(
                    engine,
                    f"{size:,}",
                    variant,
                    *side_cells(app),
                    *side_cells(floor),
                    app.requests_per_second / floor.requests_per_second
                    if floor.requests_per_second
                    else None,
                    f"{cpu_per_op(app):.2f} / {cpu_per_op(floor):.2f}",
                )
                found[(engine, size, variant)] = (app, floor)


async def case_prepaid_feed(cfg: Config) -> list[Table]:
    """10. Prepaid: a seller's feed of open requests at each size."""
    from bench.cases import cpu_per_op

    table = Table(
        "prepaid-feed",
        f"10. Prepaid feed: GET /prepaid/feed by a seller with access to 5 of 50 categories, {cfg.browse_clients} "
        "clients",
        ["engine", "open requests", "page", "agorakit req/s", "p50 ms", "p99 ms", "err", "floor req/s", "p50 ms",
         "p99 ms", "err", "ratio", "server CPU ms/req app / floor"],
    )  # fmt: skip
    found: dict = {}
    for engine in cfg.engines:
        await feed_engine(cfg, engine, table, found)
    table.notes.append(
        f"requests spread evenly over the 50 categories and {len(SERVICE_TYPES)} service types: the seller's "
        f"categories hold 10% of them, {FEED_TYPE!r} 2%; ratio = agorakit req/s / floor req/s; server CPU = the "
        "server process + its PostgreSQL backends"
    )
    small, large = cfg.prepaid_sizes[0], cfg.prepaid_sizes[-1]
    flat = Table(
        "prepaid-feed",
        f"10. Prepaid feed: agorakit at {large:,} open requests vs {small:,} (goal: flat, p50 growth <= {FLAT}x)",
        ["engine", "page", f"p50 ms at {small:,}", f"p50 ms at {large:,}", "growth", f"p99 ms at {small:,}",
         f"p99 ms at {large:,}", "CPU ms/req growth", "flat"],
    )  # fmt: skip
    for engine in cfg.engines:
        for variant in FEED_VARIANTS:
            a, b = found.get((engine, small, variant)), found.get((engine, large, variant))
            if not a or not b:
                continue
            before, after = a[0].requests.p(0.5), b[0].requests.p(0.5)
            growth = after / before if before else None
            cpu = cpu_per_op(b[0]) / cpu_per_op(a[0]) if cpu_per_op(a[0]) else None
            flat.add(
                engine,
                variant,
                ms(before),
                ms(after),
                growth,
                ms(a[0].requests.p(0.99)),
                ms(b[0].requests.p(0.99)),
                cpu,
                "yes" if growth is not None and growth <= FLAT else "no",
            )
    return [table, flat]
