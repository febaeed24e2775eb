"""8. The microjobs race: many workers take the positions of one campaign at once, the
winners submit proof and the employer rates each one satisfied; and paid-to-click
confirmations per second.

Each round is one funded, published campaign of ``microjobs_positions`` positions and
``microjobs_clients`` workers released at the same instant on warm connections, each
one taking a position and, when it got one, submitting proof and having it rated (the
employer's request, on the worker's connection).  The floor (``bench/floor/microjobs.py``)
serves the same three requests with the same rows on the same database.  After every
round: exactly ``positions`` takes succeed and the rest get 409 ``no_free_position``,
every position is paid once, and the campaign's escrow is 0.00.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from bench.load import make_client, percentile
from bench.report import Table
from bench.seed import Raw, fund, headers_for, seed_categories, seed_members
from bench.sites import BenchSite, bench_site, running

if TYPE_CHECKING:  # pragma: no cover
    from bench.cases import Config

CATEGORY = "logo-design"
REWARD = {"amount": "0.50", "currency": "USD"}
#: what a satisfied task pays its worker, and one position costs (10% fee on top)
EARNS, PER_POSITION = 50, 55
#: the bench site's microjobs settings: no review, paid-to-click confirmable at once
SETTINGS = "\n[plugins.microjobs]\nreview_required = false\nptc_min_seconds = 0\n"


def campaign_body(positions: int, **changes: Any) -> dict[str, Any]:
    body = {
        "title": "Follow our page and like the pinned post",
        "description": "A small bakery growing its community.",
        "category": CATEGORY,
        "reward": REWARD,
        "positions": positions,
        "mode": "international",
        "instructions": ["Open our page", "Follow it", "Like the pinned post"],
        "proof": [{"name": "username", "label": "Your username", "type": "text"}],
    }
    return body | changes


@dataclass
class Race:
    """Outcomes of the rounds of one side."""

    takes: Counter = field(default_factory=Counter)
    codes: Counter = field(default_factory=Counter)
    take_latencies: list[float] = field(default_factory=list)
    follow_latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0
    paid: int = 0


async def create_campaigns(
    base_url: str, employer: int, count: int, positions: int, **changes: Any
) -> list[int]:
    ids = []
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        for _ in range(count):
            response = await client.post(
                "/microjobs/campaigns",
                json=campaign_body(positions, **changes),
                headers=headers_for(employer),
            )
            if response.status_code != 201 or response.json()["state"] != "active":
                raise RuntimeError(
                    f"could not create a campaign: {response.status_code} {response.text[:300]}"
                )
            ids.append(response.json()["id"])
    return ids


async def race_round(base_url: str, campaign_id: int, workers: list[int], employer: int, race: Race) -> None:
    """Every worker takes at once; the winners submit, the employer rates them satisfied."""
    employer_headers = headers_for(employer)
    async with contextlib.AsyncExitStack() as stack:
        connections = [await stack.enter_async_context(make_client(base_url)) for _ in workers]
        await asyncio.gather(*(client.get("/health") for client in connections))
        gate = asyncio.Event()

        async def one(index: int) -> None:
            client, worker = connections[index], headers_for(workers[index])
            await gate.wait()
            started = time.perf_counter()
            try:
                taken = await client.post(f"/microjobs/jobs/{campaign_id}/take", headers=worker)
            except httpx.HTTPError:
                race.errors += 1
                return
            race.take_latencies.append(time.perf_counter() - started)
            race.takes[taken.status_code] += 1
            if taken.status_code != 201:
                if taken.status_code == 409:
                    body = taken.json()  # the floor's problem names its code in its type only
                    race.codes[body.get("code") or body["type"].rsplit("/", 1)[-1]] += 1
                return
            order_id = taken.json()["order_id"]
            for path, body, headers in (
                ("proof", {"answers": [{"field": "username", "value": f"worker{index}"}]}, worker),
                ("rating", {"satisfied": True, "feedback": "Thanks"}, employer_headers),
            ):
                started = time.perf_counter()
                try:
                    response = await client.post(
                        f"/microjobs/tasks/{order_id}/{path}", json=body, headers=headers
                    )
                except httpx.HTTPError:
                    race.errors += 1
                    return
                race.follow_latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    race.errors += 1
                    return
            race.paid += 1

        tasks = [asyncio.create_task(one(i)) for i in range(len(workers))]
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        gate.set()
        await asyncio.gather(*tasks)
        race.elapsed += time.perf_counter() - started


async def check_round(site: BenchSite, campaign_id: int, positions: int) -> str | None:
    """None when exactly ``positions`` tasks were paid once and the campaign's escrow is empty."""
    async with Raw(site) as raw:
        escrow = await raw.fetch(
            "SELECT balance FROM core_ledger_account WHERE name = {}", f"campaign:{campaign_id}:escrow"
        )
        paid = await raw.fetch(
            "SELECT COUNT(*) AS n FROM core_ledger_transaction t JOIN core_order o "
            "ON t.idempotency_key = 'order:' || o.id || ':release' "
            "JOIN microjobs_task k ON k.order_id = o.id WHERE k.campaign_id = {} AND k.status = 'satisfied'",
            campaign_id,
        )
    balance, count = escrow[0]["balance"] if escrow else None, paid[0]["n"]
    if balance != 0 or count != positions:
        return f"campaign {campaign_id}: {count} tasks paid (not {positions}), escrow {balance} (not 0)"
    return None


async def ptc_confirms(
    base_url: str, workers: list[int], campaign_id: int, clients: int
) -> tuple[int, float, list]:
    """Every worker visits the paid-to-click job, opens the page and confirms, ``clients``
    at a time: (confirms paid, seconds, confirm latencies)."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for worker in workers:
        queue.put_nowait(worker)
    latencies: list[float] = []
    paid = 0

    async def client_loop() -> None:
        nonlocal paid
        async with make_client(base_url) as client:
            while not queue.empty():
                headers = headers_for(queue.get_nowait())
                visit = await client.post(f"/microjobs/jobs/{campaign_id}/visit", headers=headers)
                if visit.status_code not in (200, 201):
                    continue
                await client.get(visit.json()["go_url"])
                order_id = visit.json()["task"]["order_id"]
                started = time.perf_counter()
                confirmed = await client.post(f"/microjobs/tasks/{order_id}/confirm", headers=headers)
                latencies.append(time.perf_counter() - started)
                paid += confirmed.status_code == 200

    started = time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(clients)))
    return paid, time.perf_counter() - started, latencies


async def serves_ptc(base_url: str) -> bool:
    """Whether this build of the plugin has the paid-to-click routes (its OpenAPI document)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        response = await client.get("/docs/openapi.json")
    return response.status_code == 200 and "/microjobs/tasks/{order_id}/confirm" in response.json()["paths"]


def ms(seconds: float) -> float:
    return seconds * 1000.0


async def case_microjobs(cfg: Config) -> list[Table]:
    """8. Microjobs: the race for a campaign's positions, and paid-to-click confirmations."""
    from bench.cases import SIDES, check_ledger, server_for

    clients, positions, rounds = cfg.microjobs_clients, cfg.microjobs_positions, cfg.microjobs_rounds
    table = Table(
        "microjobs",
        f"8. Microjobs: {clients} workers race for the {positions} positions of a campaign, submit proof and "
        f"are rated ({rounds} rounds; goal >= 0.7 of the floor's tasks/s)",
        ["engine", "side", "takes 201 / 409", "paid", "tasks/s", "req/s", "take p50 ms", "take p99 ms",
         "submit+rate p99 ms", "err", "ratio"],
    )  # fmt: skip
    ptc = Table(
        "microjobs",
        f"8. Microjobs: paid-to-click visits confirmed per second ({cfg.flow_clients} clients, "
        f"{clients} workers, visit + open + confirm each)",
        ["engine", "confirms paid", "confirms/s", "confirm p50 ms", "confirm p99 ms"],
    )
    for engine in cfg.engines:
        async with bench_site(engine) as site:
            with site.config_path.open("a", encoding="utf-8") as config:
                config.write(SETTINGS)
            async with Raw(site) as raw:
                await seed_categories(raw)
                (employer,) = await seed_members(raw, 1, prefix="employer")
                workers = await seed_members(raw, clients, prefix="worker")
            await fund(site, [f"member:{employer}:credit"], 10**10)
            results: dict[str, Race] = {}
            campaigns: list[int] = []
            for side in SIDES:
                with running(server_for(side, site)) as server:
                    if side == SIDES[0]:  # the campaigns are made by the app, before any race
                        campaigns = await create_campaigns(
                            server.base_url, employer, len(SIDES) * rounds, positions
                        )
                    race = results[side] = Race()
                    mine = campaigns[SIDES.index(side) * rounds : (SIDES.index(side) + 1) * rounds]
                    for campaign_id in mine:
                        await race_round(server.base_url, campaign_id, workers, employer, race)
                        problem = await check_round(site, campaign_id, positions)
                        if problem:
                            table.failures.append(f"{engine} {side}: {problem}")
                    wanted = Counter({201: positions * rounds, 409: (clients - positions) * rounds})
                    if race.takes != wanted or set(race.codes) - {"no_free_position"} or race.errors:
                        table.failures.append(
                            f"{engine} {side}: takes {dict(race.takes)}, codes {dict(race.codes)}, "
                            f"{race.errors} errors"
                        )
                    cfg.log(f"microjobs/{engine}/{side}: {race.paid / race.elapsed:.1f} tasks/s")
                    if side == SIDES[0]:
                        await ptc_row(cfg, site, server.base_url, engine, employer, workers, ptc)
            app, floor = results[SIDES[0]], results[SIDES[1]]
            for side, race in results.items():
                requests = sum(race.takes.values()) + len(race.follow_latencies)
                takes = sorted(race.take_latencies)
                table.add(
                    engine,
                    side,
                    f"{race.takes[201]} / {race.takes[409]}",
                    race.paid,
                    race.paid / race.elapsed if race.elapsed else None,
                    requests / race.elapsed if race.elapsed else None,
                    ms(percentile(takes, 0.5)),
                    ms(percentile(takes, 0.99)),
                    ms(percentile(sorted(race.follow_latencies), 0.99)),
                    race.errors,
                    (app.paid / app.elapsed) / (floor.paid / floor.elapsed)
                    if side == SIDES[0] and floor.elapsed and app.elapsed
                    else None,
                )
            problem = await check_ledger(site)
            if problem:
                table.failures.append(f"{engine}: {problem}")
    table.notes.append(
        "tasks/s = paid tasks / seconds from the release of the takes to the last rating; req/s counts every take, "
        "submit and rating; losers must get 409 no_free_position; after each round exactly the positions are paid "
        "and the campaign's escrow is 0.00; ratio = agorakit tasks/s / floor tasks/s"
    )
    if not ptc.rows:  # a build without paid-to-click: its note goes with the race
        table.notes += ptc.notes
        table.failures += ptc.failures
        return [table]
    return [table, ptc]


async def ptc_row(
    cfg: Config, site: BenchSite, base_url: str, engine: str, employer: int, workers: list[int], table: Table
) -> None:
    if not await serves_ptc(base_url):
        table.notes.append(f"{engine}: this build has no paid-to-click routes; skipped")
        return
    (campaign_id,) = await create_campaigns(
        base_url, employer, 1, len(workers), mode="ptc", proof=[], url="https://bakery.example/page"
    )
    paid, seconds, latencies = await ptc_confirms(base_url, workers, campaign_id, cfg.flow_clients)
    if paid != len(workers):
        table.failures.append(f"{engine}: {paid} of {len(workers)} paid-to-click confirms paid")
    latencies.sort()
    table.add(
        engine,
        paid,
        paid / seconds if seconds else None,
        ms(percentile(latencies, 0.5)),
        ms(percentile(latencies, 0.99)),
    )
