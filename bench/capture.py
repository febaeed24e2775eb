"""Capture the SQL the real app runs for each benchmarked request.

``python -m bench capture [--engine postgres|sqlite] [--floor]`` builds a bench site,
drives one browse of each kind, one whole gig order flow and one withdrawal through the
app in-process (httpx's ASGITransport), then on a second site a prepaid request's lock
(won, then lost) and two pages of the prepaid feed, on a third three pages of the leads
feed, and prints every statement Piccolo sent, per request, with ``T<n>`` marking the
statements of one transaction; with
``--floor``, the statements the floor (``bench/floor/``) runs for the same requests.
``tests/test_bench_statements.py`` compares the two counts request by request.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bench.seed import (
    FILTER_CATEGORY,
    RARE_TERM,
    SEARCH_TERM,
    Raw,
    fund,
    headers_for,
    seed_categories,
    seed_flow_parties,
    seed_listings,
    seed_members,
)
from bench.sites import bench_site, quiet_logs


@dataclass
class Statement:
    sql: str
    transaction: int  # 0 outside a transaction


@dataclass
class Capture:
    statements: list[Statement] = field(default_factory=list)
    active: bool = False
    #: every transaction object seen, kept alive so that no two share an ``id()`` (a
    #: transaction's object is freed after it commits, and the next may get its address)
    transactions: list[Any] = field(default_factory=list)


def _normalise(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


@contextlib.contextmanager
def recording(engine: Any) -> Iterator[Capture]:
    """Record every query the engine runs (patched on its class for the duration)."""
    capture = Capture()
    cls = type(engine)
    original = cls.run_querystring

    async def run_querystring(self: Any, querystring: Any, in_pool: bool = True) -> Any:
        if capture.active:
            sql, _ = querystring.compile_string(engine_type=self.engine_type)
            current = self.current_transaction.get()
            if current is not None:
                capture.transactions.append(current)
            capture.statements.append(Statement(_normalise(sql), id(current) if current else 0))
        return await original(self, querystring, in_pool=in_pool)

    cls.run_querystring = run_querystring
    try:
        yield capture
    finally:
        cls.run_querystring = original


def render(statements: list[Statement]) -> list[str]:
    names: dict[int, str] = {}
    lines = []
    for statement in statements:
        tag = "  "
        if statement.transaction:
            tag = names.setdefault(statement.transaction, f"T{len(names) + 1}")
        lines.append(f"  {tag:>3} {statement.sql}")
    return lines


@contextlib.asynccontextmanager
async def in_process_client(site: Any) -> AsyncIterator[tuple[Any, Any]]:
    import httpx

    from agorakit.app import app_for_runtime
    from agorakit.runtime import Runtime
    from agorakit.settings import load_settings

    runtime = Runtime(load_settings(site.config_path))
    await runtime.db.start()
    app = app_for_runtime(runtime)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            yield client, runtime
    finally:
        await runtime.db.close()


@contextlib.contextmanager
def recording_floor() -> Iterator[Capture]:
    """Record every statement the floor runs (its two session classes patched for the duration)."""
    from bench import floor

    capture = Capture()
    originals = [
        (cls, name, getattr(cls, name))
        for cls in (floor.PgSession, floor.SqliteSession)
        for name in ("fetch", "row")
    ]

    def recorder(cls: type, original: Any) -> Any:
        async def run(self: Any, sql: str, *args: Any) -> Any:
            if capture.active:
                if cls is floor.SqliteSession:
                    text, open_ = floor.sqlite_sql(sql), self.connection.in_transaction
                else:
                    text, open_ = sql, self.connection.is_in_transaction()
                capture.statements.append(Statement(_normalise(text), id(self.connection) if open_ else 0))
            return await original(self, sql, *args)

        return run

    for cls, name, original in originals:
        setattr(cls, name, recorder(cls, original))
    try:
        yield capture
    finally:
        for cls, name, original in originals:
            setattr(cls, name, original)


@contextlib.asynccontextmanager
async def floor_client(site: Any, *, lean: bool = False) -> AsyncIterator[Any]:
    """The floor app (``lean``: the lean floor's, ``bench.floor.lean``) in-process on
    ``site``'s database (its module globals swapped for the duration)."""
    import httpx

    from bench import floor
    from bench.floor import lean as lean_floor
    from bench.sites import JWT_SECRET

    database = floor.Database(site.floor_url)
    saved = floor.configure(database, JWT_SECRET)
    await database.start()
    app = lean_floor.app if lean else floor.app
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            yield client
    finally:
        await database.close()
        floor.configure(*saved)


#: the benchmarked requests, in the order :func:`capture` sends them (the browse pages:
#: each variant of the bench's browse case, its searches ranked by the database)
REQUESTS = (
    "GET /listings",
    "GET /listings?category",
    "GET /listings?q",
    "GET /listings?q (rare)",
    "GET /listings?q&sort=newest (rare)",
    "GET /listings?sort=rating",
    "POST /gigs/{id}/orders",
    "POST /orders/{id}/payments",
    "POST /gigs/orders/{id}/delivery",
    "POST /gigs/orders/{id}/accept",
    "POST /withdrawals",
)
#: the browse pages among them
BROWSE_REQUESTS = tuple(name for name in REQUESTS if name.startswith("GET /listings"))


#: the rows a request writes, per table, as the app and the floor must both leave them
#: (ids that both sides assign the same way included; texts of rendered templates left out)
STATE = {
    "ledger accounts": (
        "SELECT name, currency, kind, balance, allow_negative, member_id, buyer_id, seller_id "
        "FROM core_ledger_account ORDER BY name"
    ),
    "ledger transactions": (
        "SELECT idempotency_key, kind, description, refs, actor_id FROM core_ledger_transaction "
        "ORDER BY idempotency_key"
    ),
    "ledger entries": (
        "SELECT t.idempotency_key, a.name, e.amount, e.currency, e.balance_after FROM core_ledger_entry e "
        'JOIN core_ledger_transaction t ON t.id = e."transaction" JOIN core_ledger_account a ON a.id = e.account '
        "ORDER BY t.idempotency_key, a.name"
    ),
    "orders": (
        "SELECT id, process, process_version, state, version, buyer_id, seller_id, listing_id, currency, "
        "amount, data FROM core_order ORDER BY id"
    ),
    "order items": (
        'SELECT "order", position, kind, description, unit_price, quantity, amount FROM core_order_item '
        'ORDER BY "order", position'
    ),
    "order history": (
        'SELECT "order", seq, transition, from_state, to_state, actor_role, actor_id, data FROM core_order_event '
        'ORDER BY "order", seq'
    ),
    "order timers": (
        'SELECT "order", state, transition, status, attempts FROM core_order_timer ORDER BY "order", id'
    ),
    "payments": (
        "SELECT id, payer_id, method, amount, currency, purpose, escrow_ref, status, details, failure_reason "
        "FROM core_payment ORDER BY id"
    ),
    "proofs": 'SELECT id, "order", submitted_by, text, status, reviewed_by FROM core_proof ORDER BY id',
    "domain events": "SELECT name, subject, actor_id, data, status FROM core_domain_event ORDER BY id",
    "notifications": (
        "SELECT n.member_id, d.name AS event, n.category, n.template, n.link, n.read_at FROM core_notification n "
        "JOIN core_domain_event d ON d.id = n.event_id ORDER BY n.id"
    ),
    "emails": (
        "SELECT o.member_id, d.name AS event, o.to_address, o.status, o.attempts FROM core_email_outbox o "
        "JOIN core_notification n ON n.id = o.notification_id JOIN core_domain_event d ON d.id = n.event_id "
        "ORDER BY o.id"
    ),
    "conversations": (
        'SELECT c."key", c.kind, c.subject, m.body AS last_message FROM core_conversation c '
        'LEFT JOIN core_message m ON m.id = c.last_message_id ORDER BY c."key"'
    ),
    "participants": (
        'SELECT c."key", p.member_id, p.last_read_message_id FROM core_conversation_participant p '
        'JOIN core_conversation c ON c.id = p.conversation ORDER BY c."key", p.member_id'
    ),
    "messages": (
        'SELECT c."key", m.sender_id, m.kind, m.body, m.attachments, m.flags, m.flagged, d.name AS event '
        "FROM core_message m JOIN core_conversation c ON c.id = m.conversation "
        "LEFT JOIN core_domain_event d ON d.id = m.event_id ORDER BY m.id"
    ),
    "withdrawals": (
        "SELECT id, member_id, method, amount, fee, currency, destination, status, batch_ref, provider_ref "
        "FROM core_withdrawal ORDER BY id"
    ),
    "cancellations": "SELECT order_id, status FROM gigs_cancellation ORDER BY id",
}


_REFERENCE = re.compile(r"PAY-[0-9A-F]{10}")


def _is_time(value: str) -> bool:
    if len(value) < 19 or not value[:4].isdigit() or value[4] != "-":
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def comparable(value: Any) -> Any:
    """``value`` with what differs between two runs of the same work masked: times, JSON
    texts decoded, payment references (random)."""
    if isinstance(value, dict):
        return {k: "<reference>" if k == "reference" else comparable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [comparable(v) for v in value]
    if isinstance(value, datetime):
        return "<time>"
    if isinstance(value, str):
        if _is_time(value):
            return "<time>"
        value = _REFERENCE.sub("PAY-<reference>", value)
        if value[:1] in "{[":
            try:
                return comparable(json.loads(value))
            except ValueError:
                return value
    if isinstance(value, bool):
        return int(value)
    return value


async def state_of(site: Any) -> dict[str, list[Any]]:
    """The rows of :data:`STATE`, comparable across sides and engines."""
    async with Raw(site) as raw:
        return {name: comparable(await raw.fetch(sql)) for name, sql in STATE.items()}


@dataclass
class Run:
    """One pass of the benchmarked requests: per request, its statements and its response
    body; then the rows every table holds."""

    statements: dict[str, list[Statement]]
    responses: dict[str, Any]
    state: dict[str, list[Any]]


async def capture(engine: str, side: str = "app") -> dict[str, list[Statement]]:
    """Statements per benchmarked request on ``engine``, by the real app or (``side="floor"``) the floor."""
    return (await run(engine, side)).statements


async def run(engine: str, side: str = "app") -> Run:
    """The benchmarked requests on ``engine``, by the real app, the floor (``side="floor"``)
    or the lean floor (``side="lean"``: ``bench/floor/lean.py``, browse, and
    ``bench/floor/lean_orders.py``, the order flow and a withdrawal).

    Each call builds its own site with the same seed, so the app and the floor start from
    the same rows (the first posting to an account creates it, on both sides)."""
    out: dict[str, list[Statement]] = {}
    responses: dict[str, Any] = {}
    async with bench_site(engine) as site:
        async with Raw(site) as raw:
            categories = await seed_categories(raw)
            owners = await seed_members(raw, 5, prefix="owner")
            await seed_listings(raw, 200, owner_ids=owners, categories=categories)
            (withdrawer,) = await seed_members(raw, 1, prefix="withdrawer")
        parties = await seed_flow_parties(site, 1)
        await fund(site, [f"member:{withdrawer}:available"], 10_000)
        buyer, seller, gig = parties.buyers[0], parties.sellers[0], parties.gigs[0]
        async with contextlib.AsyncExitStack() as stack:
            if side == "app":
                client, runtime = await stack.enter_async_context(in_process_client(site))
                cap = stack.enter_context(recording(runtime.db.engine))
            elif side in ("floor", "lean"):
                client = await stack.enter_async_context(floor_client(site, lean=side == "lean"))
                cap = stack.enter_context(recording_floor())
            else:
                raise ValueError(f"unknown side {side!r}")

            async def call(name: str, method: str, url: str, member: int | None, **kw: Any) -> Any:
                cap.statements = []
                cap.active = True
                headers = headers_for(member) if member else {}
                response = await client.request(method, url, headers=headers, **kw)
                cap.active = False
                assert response.status_code < 300, (side, name, response.status_code, response.text)
                out[f"{method} {name}"] = cap.statements
                responses[f"{method} {name}"] = response.json()
                return response.json()

            await call("/listings", "GET", "/listings?limit=20", None)
            await call("/listings?category", "GET", f"/listings?limit=20&category={FILTER_CATEGORY}", None)
            await call("/listings?q", "GET", f"/listings?limit=20&q={SEARCH_TERM}", None)
            await call("/listings?q (rare)", "GET", f"/listings?limit=20&q={RARE_TERM}", None)
            await call(
                "/listings?q&sort=newest (rare)", "GET", f"/listings?limit=20&q={RARE_TERM}&sort=newest", None
            )
            await call("/listings?sort=rating", "GET", "/listings?limit=20&sort=rating", None)
            order = await call("/gigs/{id}/orders", "POST", f"/gigs/{gig}/orders", buyer, json={})
            order_id = order["id"]
            await call(
                "/orders/{id}/payments",
                "POST",
                f"/orders/{order_id}/payments",
                buyer,
                json={"method": "balance"},
            )
            await call(
                "/gigs/orders/{id}/delivery",
                "POST",
                f"/gigs/orders/{order_id}/delivery",
                seller,
                json={"message": "Here you are."},
            )
            await call("/gigs/orders/{id}/accept", "POST", f"/gigs/orders/{order_id}/accept", buyer)
            await call(
                "/withdrawals",
                "POST",
                "/withdrawals",
                withdrawer,
                json={
                    "method": "bank_transfer",
                    "amount": {"amount": "100.00", "currency": "USD"},
                    "destination": {
                        "account_holder": "Ada Lovelace",
                        "iban": "DE89370400440532013000",
                        "bic": "DEUTDEFF",
                    },
                },
            )
        state = await state_of(site)
    assert tuple(out) == REQUESTS, list(out)
    return Run(out, comparable(responses), state)


#: the prepaid plugin's benchmarked requests, in the order :func:`run_prepaid` sends them
PREPAID_REQUESTS = (
    "POST /prepaid/requests/{id}/lock",
    "POST /prepaid/requests/{id}/lock (taken)",
    "GET /prepaid/feed",
    "GET /prepaid/feed?service_type",
)
#: the rows of the prepaid plugin's tables the requests write (with :data:`STATE`)
PREPAID_STATE = {
    "prepaid requests": (
        "SELECT id, listing_id, buyer_id, category_id, mode, status, price, order_id, seller_id, "
        "due_at IS NOT NULL AS due FROM prepaid_request ORDER BY id"
    ),
    "seller locks": "SELECT member_id, open_locks FROM prepaid_seller_locks ORDER BY member_id",
    "listings": "SELECT id, kind, owner_id, status FROM core_listing ORDER BY id",
}


async def run_prepaid(engine: str, side: str = "app") -> Run:
    """The prepaid requests on ``engine``, by the real app or (``side="floor"``) the floor: a
    seller locks a request paid through the app, a second seller finds it taken, then the
    second seller's feed, its first page and a page of one service type.  A refusal's body
    is kept as its status and detail (the floor's problem bodies are not the app's)."""
    from bench.prepaid_cases import FEED_TYPE, configure, grant, request_body, seed_open_requests

    out: dict[str, list[Statement]] = {}
    responses: dict[str, Any] = {}
    async with bench_site(engine) as site:
        configure(site)
        async with Raw(site) as raw:
            categories = await seed_categories(raw)
            (buyer,) = await seed_members(raw, 1, prefix="buyer")
            sellers = await seed_members(raw, 2, prefix="seller")
            await grant(raw, sellers, [categories["logo-design"], categories["articles"]])
            await seed_open_requests(raw, 600, buyers=[buyer], categories=categories)
        await fund(site, [f"member:{buyer}:credit"], 100_000)
        async with in_process_client(site) as (client, _):
            posted = await client.post("/prepaid/requests", json=request_body(0), headers=headers_for(buyer))
            assert posted.status_code == 201, posted.text
            request_id = posted.json()["id"]
        async with contextlib.AsyncExitStack() as stack:
            if side == "app":
                client, runtime = await stack.enter_async_context(in_process_client(site))
                cap = stack.enter_context(recording(runtime.db.engine))
            elif side == "floor":
                client = await stack.enter_async_context(floor_client(site))
                cap = stack.enter_context(recording_floor())
            else:
                raise ValueError(f"unknown side {side!r}")
            lock = f"/prepaid/requests/{request_id}/lock"
            for name, url, member, status in (
                (PREPAID_REQUESTS[0], lock, sellers[0], 200),
                (PREPAID_REQUESTS[1], lock, sellers[1], 409),
                (PREPAID_REQUESTS[2], "/prepaid/feed?limit=20", sellers[1], 200),
                (PREPAID_REQUESTS[3], f"/prepaid/feed?limit=5&service_type={FEED_TYPE}", sellers[1], 200),
            ):
                cap.statements = []
                cap.active = True
                response = await client.request(name.split()[0], url, headers=headers_for(member))
                cap.active = False
                assert response.status_code == status, (side, name, response.status_code, response.text)
                out[name] = cap.statements
                body = response.json()
                responses[name] = body if status < 300 else {"status": status, "detail": body["detail"]}
        state = await state_of(site)
        async with Raw(site) as raw:
            state |= {name: comparable(await raw.fetch(sql)) for name, sql in PREPAID_STATE.items()}
    assert tuple(out) == PREPAID_REQUESTS, list(out)
    return Run(out, comparable(responses), state)


#: the browse pages :func:`run_browse_more` sends: the searches the bench's browse case
#: has the search_tantivy plugin rank (its index built), the next page of one, and a
#: category page once the process keeps the category tree (and after the tree changed)
MORE_BROWSE_REQUESTS = (
    "GET /listings?q (search_tantivy)",
    "GET /listings?q (search_tantivy, rare)",
    "GET /listings?q&cursor (search_tantivy)",
    "GET /listings?category (the tree kept)",
    "GET /listings?category&cursor (the tree kept)",
    "GET /listings?category (the tree changed)",
)


async def run_browse_more(engine: str) -> dict[str, list[Statement]]:
    """The app's statements for :data:`MORE_BROWSE_REQUESTS` on ``engine``, on a site
    seeded as :func:`run`'s, with the search_tantivy plugin's index built as the bench's
    browse case builds it.  Every page must hold listings."""
    from bench.cases import rebuild_search_index

    out: dict[str, list[Statement]] = {}
    async with bench_site(engine) as site:
        if "search_tantivy" not in site.plugins:
            raise RuntimeError("the search_tantivy plugin is not installed")
        async with Raw(site) as raw:
            categories = await seed_categories(raw)
            owners = await seed_members(raw, 5, prefix="owner")
            await seed_listings(raw, 200, owner_ids=owners, categories=categories)
        await rebuild_search_index(site)
        async with in_process_client(site) as (client, runtime):
            # the process reads the tree with its first category page
            first = await client.get(f"/listings?limit=20&category={FILTER_CATEGORY}")
            assert first.status_code == 200, first.text
            with recording(runtime.db.engine) as cap:
                cursors: dict[str, str] = {}

                async def call(name: str, url: str) -> None:
                    cap.statements = []
                    cap.active = True
                    response = await client.get(url)
                    cap.active = False
                    assert response.status_code == 200, (name, response.status_code, response.text)
                    assert response.json()["items"], (name, "an empty page")
                    out[name] = cap.statements
                    cursors[name] = response.json()["next_cursor"]

                await call(MORE_BROWSE_REQUESTS[0], f"/listings?limit=20&q={SEARCH_TERM}")
                await call(MORE_BROWSE_REQUESTS[1], f"/listings?limit=20&q={RARE_TERM}")
                cursor = cursors[MORE_BROWSE_REQUESTS[1]]
                await call(MORE_BROWSE_REQUESTS[2], f"/listings?limit=20&q={RARE_TERM}&cursor={cursor}")
                await call(MORE_BROWSE_REQUESTS[3], f"/listings?limit=5&category={FILTER_CATEGORY}")
                cursor = cursors[MORE_BROWSE_REQUESTS[3]]
                await call(
                    MORE_BROWSE_REQUESTS[4], f"/listings?limit=5&category={FILTER_CATEGORY}&cursor={cursor}"
                )
                async with Raw(site) as raw:  # another process renames a category
                    await raw.execute(
                        "UPDATE core_category SET name = {} WHERE slug = {}", "Design!", FILTER_CATEGORY
                    )
                await call(MORE_BROWSE_REQUESTS[5], f"/listings?limit=5&category={FILTER_CATEGORY}")
    assert tuple(out) == MORE_BROWSE_REQUESTS, list(out)
    return out


#: the leads plugin's benchmarked requests, in the order :func:`run_leads` sends them
LEADS_REQUESTS = ("GET /leads/feed", "GET /leads/feed?cursor", "GET /leads/feed (tail)")


async def run_leads(engine: str, side: str = "app") -> Run:
    """The leads feed on ``engine``, by the real app or (``side="floor"``) the floor: the
    metro business (which unlocked its newest match through the app first, so that the
    page shows its unlock and the customer) reads its first page and the next, the tail
    business its first page."""
    from bench.leads_cases import (
        METRO,
        TAIL,
        configure,
        matches,
        seed_lead_categories,
        seed_leads,
        seed_profiles,
    )

    out: dict[str, list[Statement]] = {}
    responses: dict[str, Any] = {}
    async with bench_site(engine) as site:
        configure(site)
        async with Raw(site) as raw:
            categories = await seed_lead_categories(raw)
            customers = await seed_members(raw, 20, prefix="customer")
            metro, tail = await seed_members(raw, 2, prefix="business")
            await seed_profiles(raw, [metro], METRO, categories)
            await seed_profiles(raw, [tail], TAIL, categories)
            await seed_leads(raw, 3_000, customers=customers, categories=categories)
            newest = (await matches(raw, METRO, categories))[0]
        await fund(site, [f"member:{metro}:credit"], 10_000)
        async with in_process_client(site) as (client, _):
            unlocked = await client.post(
                f"/leads/{newest}/unlock", json={"method": "balance"}, headers=headers_for(metro)
            )
            assert unlocked.status_code == 201, unlocked.text
        async with contextlib.AsyncExitStack() as stack:
            if side == "app":
                client, runtime = await stack.enter_async_context(in_process_client(site))
                cap = stack.enter_context(recording(runtime.db.engine))
            elif side == "floor":
                client = await stack.enter_async_context(floor_client(site))
                cap = stack.enter_context(recording_floor())
            else:
                raise ValueError(f"unknown side {side!r}")
            url = "/leads/feed?limit=20"
            for name, member in zip(LEADS_REQUESTS, (metro, metro, tail), strict=True):
                if name == LEADS_REQUESTS[1]:
                    url = f"/leads/feed?limit=20&cursor={responses[LEADS_REQUESTS[0]]['next_cursor']}"
                cap.statements = []
                cap.active = True
                response = await client.get(url, headers=headers_for(member))
                cap.active = False
                assert response.status_code == 200, (side, name, response.status_code, response.text)
                out[name] = cap.statements
                responses[name] = response.json()
                url = "/leads/feed?limit=20"
    assert tuple(out) == LEADS_REQUESTS, list(out)
    return Run(out, comparable(responses), {})


def repeated_reads(statements: list[Statement]) -> dict[str, int]:
    """Tables read more than once by the same kind of lookup: ``{"core_order by id": 9}``."""
    found: Counter = Counter()
    for statement in statements:
        match = re.match(r'SELECT .*? FROM "(\w+)" WHERE (?:\()?"\w+"\."(\w+)" = \$?\??\d*', statement.sql)
        if match:
            found[f"{match.group(1)} by {match.group(2)}"] += 1
    return {key: n for key, n in found.most_common() if n > 1}


async def main(engine: str, side: str = "app") -> None:
    quiet_logs()
    found = await capture(engine, side)
    totals: Counter = Counter()
    for name, statements in found.items():
        transactions = len({s.transaction for s in statements if s.transaction})
        reads = sum(s.sql.startswith("SELECT") for s in statements)
        repeated = ", ".join(f"{key} x{n}" for key, n in repeated_reads(statements).items())
        print(f"{name}: {len(statements)} statements ({reads} SELECT), {transactions} transactions")
        if repeated:
            print(f"  repeated reads: {repeated}")
        print("\n".join(render(statements)))
        print()
        if "/orders" in name or "/gigs" in name:
            totals.update(repeated_reads(statements) | {"statements": len(statements)})
    print(f"the order flow (4 requests): {dict(totals)}")
    print()
    if side == "lean":  # the lean floor serves browse, the order flow and a withdrawal
        return
    prepaid, leads = await run_prepaid(engine, side), await run_leads(engine, side)
    for name, statements in [*prepaid.statements.items(), *leads.statements.items()]:
        reads = sum(s.sql.startswith("SELECT") for s in statements)
        print(f"{name}: {len(statements)} statements ({reads} SELECT)")
        print("\n".join(render(statements)))
        print()
