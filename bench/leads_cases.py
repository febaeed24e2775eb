"""11 and 12. Leads (the leads plugin): a business's feed of matching jobs as the open
jobs grow, and the race of businesses unlocking one lead.

11. ``leads-feed``: open jobs in 200 categories (20 groups of 10) across 1,000 US postal
prefixes (three-digit ZIP prefixes), seeded by SQL at each size (``leads_sizes``: a
``lead`` listing and its ``leads_lead`` row, as an approved job leaves them).  Jobs
are spread the way demand is: both the category and the prefix of a job are drawn from a
Zipf distribution (weight 1/rank), so that popular services in big cities hold many jobs
and the long tail few.  Two businesses read ``GET /leads/feed``:

- a *metro* business serving the 3 most popular categories in the 5 busiest prefixes
  (about 9% of the jobs): its first page, and a deep page (the cursor after its
  :data:`DEEP` newest matches);
- a *tail* business serving 3 categories of rank 40-42 in 5 prefixes of rank 100-104
  (under 0.01% of the jobs: a page is never full, so every job of its categories is
  looked at).

Both sides must answer the same page, and that page must be the one a query of the
bench's own computes (the newest matches of the profile).

12. ``leads-unlocks``: ``leads_businesses`` businesses whose profiles match one open lead,
each with credit, are released at the same instant on warm connections, each unlocking
it (``POST /leads/{id}/unlock``, paid from balance, an Idempotency-Key each); one race
per lead, ``leads_races`` leads.  Each race must end with exactly ``max_unlocks`` (5)
unlocks answered 201 and every other one 409 ``lead_full``; afterwards the bench counts
what the database holds: per lead, exactly 5 ``leads_unlock`` rows ``charged`` (each with
its order ``charged``), the lead's place counter at 5, the site's fees up by exactly
5 times the lead price per lead, the businesses' credit down by the same, and
``check-ledger`` passes.  The app only: the floor serves the feed.

The floor (``bench/floor/leads.py``) serves the feed with the same rows on the same
database.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import TYPE_CHECKING, Any

import httpx

from bench.load import LoadResult, make_client, percentile, run_load
from bench.report import Table
from bench.seed import Raw, _bump_sequence, _max_id, epoch_us, fund, headers_for, seed_members
from bench.sites import BenchSite, bench_site, running

if TYPE_CHECKING:  # pragma: no cover
    from bench.cases import Config

GROUPS, PER_GROUP = 20, 10
#: the leaf categories, most popular first (rank = index)
CATEGORIES = [f"service-{n:03d}" for n in range(GROUPS * PER_GROUP)]
PREFIXES_N = 1_000
COUNTRY = "US"
#: the lead price of the bench site (the plugin's default), and its places
PRICE_CENTS, MAX_UNLOCKS = 1_500, 5
#: the deep page starts after this many of the metro business's newest matches
DEEP = 200
#: growth of the app's p50 from the smallest size to the largest that still counts as flat
FLAT = 1.25


def prefix_of(rank: int) -> str:
    """The three-digit ZIP prefix of popularity ``rank`` (a fixed permutation of 000-999)."""
    return f"{(rank * 337 + 100) % PREFIXES_N:03d}"


@dataclass(frozen=True)
class Business:
    label: str
    category_ranks: tuple[int, ...]
    prefix_ranks: tuple[int, ...]

    @property
    def categories(self) -> list[str]:
        return [CATEGORIES[r] for r in self.category_ranks]

    @property
    def prefixes(self) -> list[str]:
        return [prefix_of(r) for r in self.prefix_ranks]


METRO = Business("metro", (0, 1, 2), (0, 1, 2, 3, 4))
TAIL = Business("tail", (40, 41, 42), (100, 101, 102, 103, 104))
#: the race's lead: a popular category in the busiest prefix
RACE = Business("race", (0,), (0,))


def site_settings() -> str:
    return f"\n[plugins.leads]\nmax_unlocks = {MAX_UNLOCKS}\n"


def configure(site: BenchSite) -> None:
    with site.config_path.open("a", encoding="utf-8") as config:
        config.write(site_settings())


def ms(seconds: float) -> float:
    return seconds * 1000.0


def cursor_after(lead_id: int) -> str:
    """The feed's cursor to the page after ``lead_id`` (``agorakit.pagination``'s format)."""
    return (
        base64.urlsafe_b64encode(json.dumps({"id": lead_id}, separators=(",", ":")).encode())
        .decode()
        .rstrip("=")
    )


# --------------------------------------------------------------------------------------
# Seeding
# --------------------------------------------------------------------------------------


async def seed_lead_categories(raw: Raw) -> dict[str, int]:
    """20 groups of 10 leaf categories; slug -> id (the groups' slugs too)."""
    first = await _max_id(raw, "core_category") + 1
    rows, ids, next_id = [], {}, first
    now = datetime.now(UTC)
    for group in range(GROUPS):
        top = f"group-{group:02d}"
        ids[top] = next_id
        rows.append((next_id, top, f"Group {group}", None, group, now))
        next_id += 1
        for position in range(PER_GROUP):
            slug = CATEGORIES[position * GROUPS + group]  # each group holds popular and rare ones
            ids[slug] = next_id
            rows.append((next_id, slug, slug.replace("-", " ").title(), ids[top], position, now))
            next_id += 1
    await raw.insert_many("core_category", "id slug name parent_id position created_at".split(), rows)
    await _bump_sequence(raw, "core_category")
    return ids


def _zipf(n: int) -> list[float]:
    return list(accumulate(1.0 / (rank + 1) for rank in range(n)))


async def seed_leads(
    raw: Raw,
    count: int,
    *,
    customers: list[int],
    categories: dict[str, int],
    start: int = 0,
    place: tuple[str, str] | None = None,
    batch: int = 20_000,
) -> list[int]:
    """``count`` open jobs (a published ``lead`` listing and its ``leads_lead`` row each),
    newest last; category and prefix drawn by popularity (see the module), or all in
    ``place`` (a category slug and a postal code).  Returns their lead ids."""
    rng = random.Random(11 + start)
    category_weights, prefix_weights = _zipf(len(CATEGORIES)), _zipf(PREFIXES_N)
    base = datetime.now(UTC) - timedelta(days=3)
    expires = datetime.now(UTC) + timedelta(days=30)
    listing_columns = (
        "id kind owner_id category_id title description price currency attributes countries status "
        "rejection_reason screening_flags created_at updated_at submitted_at published_at published_us"
    ).split()
    lead_columns = (
        "id listing_id customer_id category_id category title country postal_code city details text status "
        "price currency unlocks max_unlocks reason created_at opened_at expires_at closed_at updated_at"
    ).split()
    first_listing = await _max_id(raw, "core_listing") + 1
    first_lead = await _max_id(raw, "leads_lead") + 1
    done = 0
    while done < count:
        listings, leads = [], []
        for n in range(done, min(count, done + batch)):
            i = start + n
            if place is None:
                [slug] = rng.choices(CATEGORIES, cum_weights=category_weights)
                [rank] = rng.choices(range(PREFIXES_N), cum_weights=prefix_weights)
                postal_code = f"{prefix_of(rank)}{i % 100:02d}"
            else:
                slug, postal_code = place
            details = {"when": "Within a week"}
            text = f"Job {i}: we need help with {slug.replace('-', ' ')} at our place, soon please."
            title = f"{slug.replace('-', ' ').title()} in {postal_code}, {COUNTRY}"
            at = base + timedelta(milliseconds=100 * i)
            attributes = {"country": COUNTRY, "postal_code": postal_code, "city": "", "details": details}
            listing_id, customer = first_listing + n, customers[i % len(customers)]
            listings.append(
                (listing_id, "lead", customer, categories[slug], title, f"{text}\n\nWhen: Within a week",
                 PRICE_CENTS, "USD", json.dumps(attributes), "", "published", None, "[]", at, at, at, at,
                 epoch_us(at))
            )  # fmt: skip
            leads.append(
                (first_lead + n, listing_id, customer, categories[slug], slug, title, COUNTRY, postal_code, "",
                 json.dumps(details), text, "open", PRICE_CENTS, "USD", 0, MAX_UNLOCKS, None, at, at, expires,
                 None, at)
            )  # fmt: skip
        await raw.insert_many("core_listing", listing_columns, listings)
        await raw.insert_many("leads_lead", lead_columns, leads)
        done += len(leads)
    await _bump_sequence(raw, "core_listing")
    await _bump_sequence(raw, "leads_lead")
    if raw.pg is not None:
        await raw.execute("VACUUM ANALYZE core_listing")
        await raw.execute("VACUUM ANALYZE leads_lead")
    else:
        await raw.execute("ANALYZE")
    return list(range(first_lead, first_lead + count))


async def seed_profiles(raw: Raw, members: list[int], business: Business, categories: dict[str, int]) -> None:
    """Each member's active service profile: the business's categories and prefixes."""
    now = datetime.now(UTC)
    await raw.insert_many(
        "leads_profile",
        "member_id headline description active notify created_at updated_at".split(),
        [(m, f"Pro {m}", "", True, False, now, now) for m in members],
    )
    await raw.insert_many(
        "leads_profile_category",
        ["member_id", "category_id"],
        [(m, categories[slug]) for m in members for slug in business.categories],
    )
    await raw.insert_many(
        "leads_profile_area",
        ["member_id", "country", "postal_prefix", "city"],
        [(m, COUNTRY, prefix, "") for m in members for prefix in business.prefixes],
    )


async def matches(raw: Raw, business: Business, categories: dict[str, int], *, offset: int = 0) -> list[int]:
    """The business's open matches, newest first, from ``offset`` (a query of the bench's own)."""
    marks = ", ".join("{}" for _ in business.categories)
    places = " OR ".join("postal_code LIKE {}" for _ in business.prefixes)
    rows = await raw.fetch(
        f"SELECT id FROM leads_lead WHERE status = 'open' AND category_id IN ({marks}) AND country = {{}} "
        f"AND ({places}) ORDER BY id DESC LIMIT 1000000 OFFSET {offset}",
        *[categories[s] for s in business.categories],
        COUNTRY,
        *[p + "%" for p in business.prefixes],
    )
    return [r["id"] for r in rows]


# --------------------------------------------------------------------------------------
# 11: the feed
# --------------------------------------------------------------------------------------


def feed_operation(url: str, headers: dict[str, str]) -> Any:
    async def op(session: Any) -> bool:
        response = await session.request("feed", "GET", url, headers=headers)
        return response is not None and response.status_code == 200

    return op


@dataclass
class FeedVariant:
    name: str
    member: int
    url: str
    wanted: list[int]


async def feed_variants(raw: Raw, members: dict[str, int], categories: dict[str, int], deep: int) -> list:
    metro = await matches(raw, METRO, categories)
    tail = await matches(raw, TAIL, categories)
    variants = [FeedVariant("metro, first page", members["metro"], "/leads/feed?limit=20", metro[:20])]
    if len(metro) > deep:
        variants.append(
            FeedVariant(
                f"metro, after {deep}",
                members["metro"],
                f"/leads/feed?limit=20&cursor={cursor_after(metro[deep - 1])}",
                metro[deep : deep + 20],
            )
        )
    variants.append(FeedVariant("tail, first page", members["tail"], "/leads/feed?limit=20", tail[:20]))
    return variants


async def feed_engine(cfg: Config, engine: str, table: Table, found: dict, notes: list[str]) -> None:
    from bench.cases import SIDES, cpu_per_op, probe_for, server_for, side_cells

    async with bench_site(engine) as site:
        configure(site)
        async with Raw(site) as raw:
            categories = await seed_lead_categories(raw)
            customers = await seed_members(raw, 1_000, prefix="customer")
            metro, tail = await seed_members(raw, 2, prefix="business")
            await seed_profiles(raw, [metro], METRO, categories)
            await seed_profiles(raw, [tail], TAIL, categories)
        members = {"metro": metro, "tail": tail}
        seeded, deep = 0, DEEP
        for size in cfg.leads_sizes:
            started = time.perf_counter()
            async with Raw(site) as raw:
                await seed_leads(raw, size - seeded, customers=customers, categories=categories, start=seeded)
                if seeded == 0:  # the same depth at every size (less when the smallest has fewer)
                    deep = max(1, min(DEEP, len(await matches(raw, METRO, categories)) - 20))
                variants = await feed_variants(raw, members, categories, deep)
                counts = [len(await matches(raw, b, categories)) for b in (METRO, TAIL)]
            seeded = size
            cfg.log(
                f"leads-feed/{engine}: {size:,} open jobs seeded in {time.perf_counter() - started:.1f} s"
            )
            notes.append(
                f"{engine} {size:,}: the metro business matches {counts[0]:,} jobs, the tail one {counts[1]}"
            )
            results: dict[str, dict[str, LoadResult]] = {}
            bodies: dict[str, dict[str, Any]] = {}
            for side in SIDES:
                with running(server_for(side, site)) as server:
                    for variant in variants:
                        headers = headers_for(variant.member)
                        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
                            response = await client.get(variant.url, headers=headers)
                        label = f"{engine} {size:,} {side} {variant.name}"
                        if response.status_code != 200:
                            table.failures.append(f"{label}: {response.status_code} {response.text[:300]}")
                        else:
                            body = bodies.setdefault(variant.name, {})[side] = response.json()
                            ids = [item["id"] for item in body["items"]]
                            if ids != variant.wanted:
                                table.failures.append(
                                    f"{label}: the page shows {ids[:5]}..., not {variant.wanted[:5]}..."
                                )
                        results.setdefault(variant.name, {})[side] = await run_load(
                            server.base_url,
                            feed_operation(variant.url, headers),
                            clients=cfg.browse_clients,
                            duration=cfg.duration,
                            warmup=cfg.warmup,
                            probe=probe_for(server, site),
                        )
                        cfg.log(
                            f"leads-feed/{engine}/{size}/{side}/{variant.name}: "
                            f"{results[variant.name][side].requests_per_second:.0f} req/s"
                        )
            for name, by_side in results.items():
                sides = bodies.get(name, {})
                if len(sides) == len(SIDES) and sides[SIDES[0]] != sides[SIDES[1]]:
                    table.failures.append(f"{engine} {size:,} {name}: the app's and the floor's pages differ")
                app, floor = by_side[SIDES[0]], by_side[SIDES[1]]
                table.add(
                    engine,
                    f"{size:,}",
                    name,
                    *side_cells(app),
                    *side_cells(floor),
                    app.requests_per_second / floor.requests_per_second
                    if floor.requests_per_second
                    else None,
                    f"{cpu_per_op(app):.2f} / {cpu_per_op(floor):.2f}",
                )
                found[(engine, size, name)] = (app, floor)


async def case_leads_feed(cfg: Config) -> list[Table]:
    """11. Leads: a business's feed of matching open jobs at each size."""
    from bench.cases import cpu_per_op

    table = Table(
        "leads-feed",
        f"11. Leads feed: GET /leads/feed of a business serving 3 of 200 categories in 5 of 1,000 postal "
        f"prefixes, {cfg.browse_clients} clients",
        ["engine", "open jobs", "page", "agorakit req/s", "p50 ms", "p99 ms", "err", "floor req/s", "p50 ms",
         "p99 ms", "err", "ratio", "server CPU ms/req app / floor"],
    )  # fmt: skip
    found: dict = {}
    notes: list[str] = []
    for engine in cfg.engines:
        await feed_engine(cfg, engine, table, found, notes)
    table.notes += notes
    table.notes.append(
        "jobs drawn by popularity (Zipf, weight 1/rank) over 200 categories and 1,000 US ZIP prefixes; metro = "
        "the 3 most popular categories in the 5 busiest prefixes, tail = categories of rank 40-42 in prefixes of "
        "rank 100-104; ratio = agorakit req/s / floor req/s; server CPU = the server process + its PostgreSQL "
        "backends"
    )
    small, large = cfg.leads_sizes[0], cfg.leads_sizes[-1]
    flat = Table(
        "leads-feed",
        f"11. Leads feed: agorakit at {large:,} open jobs vs {small:,} (goal: flat, p50 growth <= {FLAT}x)",
        ["engine", "page", f"p50 ms at {small:,}", f"p50 ms at {large:,}", "growth", f"p99 ms at {small:,}",
         f"p99 ms at {large:,}", "CPU ms/req growth", "flat"],
    )  # fmt: skip
    names = list(dict.fromkeys(name for (_, _, name) in found))
    for engine in cfg.engines:
        for name in names:
            a, b = found.get((engine, small, name)), found.get((engine, large, name))
            if not a or not b:
                continue
            before, after = a[0].requests.p(0.5), b[0].requests.p(0.5)
            growth = after / before if before else None
            cpu = cpu_per_op(b[0]) / cpu_per_op(a[0]) if cpu_per_op(a[0]) else None
            flat.add(
                engine,
                name,
                ms(before),
                ms(after),
                growth,
                ms(a[0].requests.p(0.99)),
                ms(b[0].requests.p(0.99)),
                cpu,
                "yes" if growth is not None and growth <= FLAT else "no",
            )
    return [table, flat]


# --------------------------------------------------------------------------------------
# 12: the unlock race
# --------------------------------------------------------------------------------------


@dataclass
class UnlockRace:
    statuses: Counter = field(default_factory=Counter)
    codes: Counter = field(default_factory=Counter)
    wins: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    #: seconds from the release of a race to its last answer
    rounds: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    cpu: float = 0.0


async def race(base_url: str, leads: list[int], businesses: list[int], result: UnlockRace) -> None:
    """Every business unlocks each lead at the same instant, one lead after the other."""
    headers = [headers_for(b) for b in businesses]
    async with contextlib.AsyncExitStack() as stack:
        connections = [await stack.enter_async_context(make_client(base_url)) for _ in businesses]
        for lead_id in leads:
            await asyncio.gather(*(client.get("/health") for client in connections))
            gate = asyncio.Event()

            async def one(index: int, lead_id: int = lead_id, gate: asyncio.Event = gate) -> tuple:
                await gate.wait()
                started = time.perf_counter()
                try:
                    response = await connections[index].post(
                        f"/leads/{lead_id}/unlock",
                        json={"method": "balance"},
                        headers={**headers[index], "Idempotency-Key": f"race-{lead_id}-{index}"},
                    )
                except httpx.HTTPError as exc:
                    return index, None, time.perf_counter() - started, type(exc).__name__
                return index, response, time.perf_counter() - started, None

            tasks = [asyncio.create_task(one(i)) for i in range(len(businesses))]
            await asyncio.sleep(0.02)
            started = time.perf_counter()
            gate.set()
            outcomes = await asyncio.gather(*tasks)
            result.rounds.append(time.perf_counter() - started)
            won = 0
            for index, response, seconds, error in outcomes:
                status = response.status_code if response is not None else 0
                result.statuses[status] += 1
                if status == 201:
                    won += 1
                    result.wins.append(seconds)
                    body = response.json()
                    if body["status"] != "charged" or body["business_id"] != businesses[index]:
                        result.failures.append(f"lead {lead_id}: a winner's answer {response.text[:200]}")
                elif status == 409:
                    result.losses.append(seconds)
                    code = response.json().get("code") or response.json()["type"].rsplit("/", 1)[-1]
                    result.codes[code] += 1
                    if code != "lead_full":
                        result.failures.append(f"lead {lead_id}: a loser got 409 {response.text[:200]}")
                else:
                    detail = error or f"{status} {response.text[:200]}"  # type: ignore[union-attr]
                    result.failures.append(f"lead {lead_id}: an unlock got {detail}")
            if won != MAX_UNLOCKS:
                result.failures.append(f"lead {lead_id}: {won} unlocks answered 201, not {MAX_UNLOCKS}")


async def fees_balance(raw: Raw) -> int:
    rows = await raw.fetch(
        "SELECT COALESCE(SUM(balance), 0) AS n FROM core_ledger_account WHERE kind = 'fees'"
    )
    return int(rows[0]["n"])


async def credit_balance(raw: Raw, members: list[int]) -> int:
    marks = ", ".join("{}" for _ in members)
    rows = await raw.fetch(
        f"SELECT COALESCE(SUM(balance), 0) AS n FROM core_ledger_account WHERE kind = 'credit' "
        f"AND member_id IN ({marks})",
        *members,
    )
    return int(rows[0]["n"])


async def charged_counts(raw: Raw, leads: list[int]) -> dict[str, Any]:
    """What the races left, counted in the database."""
    marks = ", ".join("{}" for _ in leads)
    unlocks = await raw.fetch(
        f"SELECT u.lead_id, u.status, o.state FROM leads_unlock u LEFT JOIN core_order o ON o.id = u.order_id "
        f"WHERE u.lead_id IN ({marks})",
        *leads,
    )
    places = await raw.fetch(f"SELECT id, unlocks FROM leads_lead WHERE id IN ({marks})", *leads)
    return {
        "charged": Counter(
            r["lead_id"] for r in unlocks if r["status"] == "charged" and r["state"] == "charged"
        ),
        "rows": Counter(r["lead_id"] for r in unlocks),
        "places": {r["id"]: r["unlocks"] for r in places},
    }


async def case_leads_unlocks(cfg: Config) -> list[Table]:
    """12. Leads: businesses race to unlock each lead; exactly ``max_unlocks`` are charged."""
    from bench.cases import check_ledger, probe_for, server_for

    n, rounds = cfg.leads_businesses, cfg.leads_races
    table = Table(
        "leads-unlocks",
        f"12. Leads unlock race: {n} matching businesses unlock each of {rounds} leads at once "
        f"(max_unlocks = {MAX_UNLOCKS}, price {PRICE_CENTS / 100:.2f} from balance)",
        ["engine", "unlocks 201 / 409", "charged rows per lead", "fees charged (expected)",
         f"exactly {MAX_UNLOCKS} charged", "winner p50 ms", "winner p99 ms", "409 p50 ms", "409 p99 ms",
         "race ms p50", "races/s", "err", "server CPU ms/race"],
    )  # fmt: skip
    for engine in cfg.engines:
        async with bench_site(engine) as site:
            configure(site)
            async with Raw(site) as raw:
                categories = await seed_lead_categories(raw)
                (customer,) = await seed_members(raw, 1, prefix="customer")
                businesses = await seed_members(raw, n, prefix="business")
                await seed_profiles(raw, businesses, RACE, categories)
                place = (RACE.categories[0], RACE.prefixes[0] + "01")
                leads = await seed_leads(
                    raw, rounds, customers=[customer], categories=categories, place=place
                )
            await fund(site, [f"member:{b}:credit" for b in businesses], PRICE_CENTS * rounds)
            async with Raw(site) as raw:
                fees_before, credit_before = await fees_balance(raw), await credit_balance(raw, businesses)
            result = UnlockRace()
            with running(server_for("agorakit", site)) as server:
                probe = probe_for(server, site)
                before = probe()
                await race(server.base_url, leads, businesses, result)
                result.cpu = sum(probe()) - sum(before)
            cfg.log(f"leads-unlocks/{engine}: {len(leads) / sum(result.rounds):.2f} races/s")
            async with Raw(site) as raw:
                counts = await charged_counts(raw, leads)
                fees = await fees_balance(raw) - fees_before
                spent = credit_before - await credit_balance(raw, businesses)
            expected = MAX_UNLOCKS * PRICE_CENTS * len(leads)
            for lead_id in leads:
                found = (counts["charged"][lead_id], counts["rows"][lead_id], counts["places"].get(lead_id))
                if found != (MAX_UNLOCKS, MAX_UNLOCKS, MAX_UNLOCKS):
                    result.failures.append(
                        f"lead {lead_id}: {found[0]} unlocks charged, {found[1]} unlock rows, {found[2]} places taken"
                    )
            if fees != expected or spent != expected:
                result.failures.append(f"fees up {fees}, credit down {spent}; expected {expected} cents each")
            problem = await check_ledger(site)
            if problem:
                result.failures.append(problem)
            table.failures += [f"{engine}: {problem}" for problem in result.failures[:10]]
            wins, losses = sorted(result.wins), sorted(result.losses)
            errors = sum(k for status, k in result.statuses.items() if status not in (201, 409))
            per_lead = sorted(set(counts["charged"][lead] for lead in leads))
            table.add(
                engine,
                f"{result.statuses[201]} / {result.statuses[409]}",
                ", ".join(str(k) for k in per_lead),
                f"{fees / 100:,.2f} ({expected / 100:,.2f})",
                "no" if result.failures else "yes",
                ms(percentile(wins, 0.5)),
                ms(percentile(wins, 0.99)),
                ms(percentile(losses, 0.5)),
                ms(percentile(losses, 0.99)),
                ms(percentile(sorted(result.rounds), 0.5)),
                len(result.rounds) / sum(result.rounds) if result.rounds else None,
                errors,
                ms(result.cpu) / len(result.rounds) if result.rounds else None,
            )
            print(
                f"leads-unlocks {engine}: {len(leads)} races of {n}: "
                f"{result.statuses[201]} unlocks charged, {result.statuses[409]} refused 409 "
                f"{dict(result.codes)}; leads_unlock rows charged per lead {per_lead}; fees +{fees / 100:.2f} "
                f"(expected {expected / 100:.2f}); {'OK' if not result.failures else 'FAILED'}",
                flush=True,
            )
    table.notes.append(
        "a race: every business's unlock released at once on warm keep-alive connections, each with its own "
        "Idempotency-Key; charged rows per lead = leads_unlock rows 'charged' whose order is 'charged' (every "
        "lead must have exactly max_unlocks); fees charged = the rise of the site's fee accounts, which must be "
        "max_unlocks x the price per lead, as must the fall of the businesses' credit; race ms = from the release "
        "to the last answer; server CPU = the server process + its PostgreSQL backends over the races"
    )
    return [table]
