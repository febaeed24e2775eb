"""The floor: a minimal Litestar + msgspec app running the app's SQL through the raw driver.

It serves the benchmarked routes with the statement sequences ``python -m bench capture``
records from the real app (same statements, same order, same tables and indexes, on the
same database), and nothing else: no ORM, no plugin manager, no dependency injection, no
middleware, no templates.  What the real app costs above these figures is the
framework's own overhead.

Faithfulness (see docs/performance.md):

- every statement the app runs for a request is run here, including its redundant
  re-reads (the same order row read three times, the payment row four times) and the
  work of the after-commit event handlers (notification, email outbox, the order
  conversation's system message, marking events published);
- each request is **one** transaction here, with its own ``COMMIT``; the app uses 2-4
  (the unit of work, one per event handler) plus autocommit statements between them, and
  on SQLite commits the units that finish together with one ``COMMIT`` (group commit:
  one disk sync for several requests, which the floor does not do);
- bodies (notification texts, emails) are fixed strings of similar size instead of
  rendered Jinja2 templates; responses have the app's shape;
- the bearer token is checked like the app does (HS256 JWT, then the member row and its
  security stamp).

Drivers: PostgreSQL through an asyncpg pool of ``BENCH_FLOOR_POOL_SIZE`` connections
(the app's pool size); SQLite through **one stdlib sqlite3 connection** used
synchronously on the event loop (WAL, ``synchronous = FULL``, like the app), so a
transaction never interleaves with another and never waits for a lock.

Run: ``BENCH_FLOOR_DATABASE=<dsn or sqlite:///file> BENCH_FLOOR_JWT_SECRET=... \
python -m uvicorn bench.floor:app --port 8001 --no-access-log`` (bench/sites.py does it).
"""

from __future__ import annotations

import functools
import json
import os
import re
import secrets
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import jwt
import msgspec
from litestar import Litestar, Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody

DATABASE = os.environ.get("BENCH_FLOOR_DATABASE", "sqlite:///bench.sqlite3")
JWT_SECRET = os.environ.get("BENCH_FLOOR_JWT_SECRET", "")
POOL_SIZE = int(os.environ.get("BENCH_FLOOR_POOL_SIZE", "10"))
COMMISSION_PERCENT = Decimal("20")
GIG_PROCESS = "gig_order"
UNPAID_EXPIRY = timedelta(hours=72)
AUTO_COMPLETE = timedelta(days=3)
BANK_MINIMUM = 5000

# --------------------------------------------------------------------------------------
# Errors and response bodies
# --------------------------------------------------------------------------------------


class Problem(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def problem_response(_: Request, exc: Problem) -> Response:
    body = {"type": f"https://agorakit.dev/problems/{exc.code}", "title": exc.code, "status": exc.status}
    body["detail"] = exc.detail
    return Response(body, status_code=exc.status, media_type="application/problem+json")


class Money(msgspec.Struct):
    amount: str
    currency: str


class Rating(msgspec.Struct):
    average: str | None
    count: int


class Seller(msgspec.Struct):
    id: int
    display_name: str
    country: str
    rating: Rating


class ListingOut(msgspec.Struct):
    id: int
    kind: str
    status: str
    title: str
    description: str
    price: Money
    category: str
    attributes: dict[str, Any]
    seller: Seller
    rating: Rating
    created_at: Any
    updated_at: Any
    submitted_at: Any
    published_at: Any
    rejection_reason: str | None


class ListingPage(msgspec.Struct):
    items: list[ListingOut]
    next_cursor: str | None


class ItemOut(msgspec.Struct):
    position: int
    kind: str
    description: str
    unit_price: Money
    quantity: int
    amount: Money


class OrderOut(msgspec.Struct):
    id: int
    process: str
    process_version: int
    state: str
    version: int
    buyer_id: int
    seller_id: int | None
    listing_id: int | None
    amount: Money
    items: list[ItemOut]
    data: dict[str, Any]
    state_entered_at: Any
    created_at: Any
    updated_at: Any
    allowed_transitions: list[str]


class PaymentOut(msgspec.Struct):
    id: int
    payer_id: int
    method: str
    amount: Money
    purpose: str
    escrow_ref: str | None
    status: str
    reference: str
    details: dict[str, Any]
    failure_reason: str | None
    expires_at: Any
    completed_at: Any
    created_at: Any


class WithdrawalOut(msgspec.Struct):
    id: int
    member_id: int
    method: str
    amount: Money
    fee: Money
    net: Money
    destination: dict[str, Any]
    status: str
    batch_ref: str | None
    provider_ref: str | None
    failure_reason: str | None
    completed_at: Any
    created_at: Any
    updated_at: Any


class OrderGig(msgspec.Struct, forbid_unknown_fields=True):
    extras: list[str] = []
    quantity: int = 1
    requirements: str = ""


class PayOrder(msgspec.Struct):
    method: str


class Delivery(msgspec.Struct, forbid_unknown_fields=True):
    message: str = ""
    attachments: list[int] = []


class Amount(msgspec.Struct):
    amount: str
    currency: str


class CreateWithdrawal(msgspec.Struct):
    method: str
    amount: Amount
    destination: dict[str, Any]


def money(minor: int, currency: str) -> Money:
    units, cents = divmod(abs(minor), 100)
    return Money(f"{'-' if minor < 0 else ''}{units}.{cents:02d}", currency)


def parse_cents(text: str) -> int:
    units, _, fraction = text.partition(".")
    return int(units) * 100 + int((fraction + "00")[:2])


def loads(value: Any) -> Any:
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


def dumps(value: Any) -> str:
    return msgspec.json.encode(value).decode()


# --------------------------------------------------------------------------------------
# The raw driver: asyncpg or stdlib sqlite3, SQL written once with $n placeholders
# --------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def sqlite_sql(sql: str) -> str:
    """The PostgreSQL statement in SQLite's dialect (what Piccolo and ``any_of`` write there)."""
    sql = re.sub(r"(\S+) = ANY\(\$\d+\)", r"\1 IN (SELECT value FROM json_each($0))", sql)
    sql = re.sub(r"\$\d+", "?", sql)
    return sql.replace(" FOR NO KEY UPDATE", "").replace(" FOR UPDATE", "")


class PgSession:
    def __init__(self, connection: Any) -> None:
        self.connection = connection

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        return await self.connection.fetch(sql, *args)

    async def row(self, sql: str, *args: Any) -> Any:
        return await self.connection.fetchrow(sql, *args)


class SqliteSession:
    """Statements run synchronously: a transaction never yields to another request."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    @staticmethod
    def _arg(value: Any) -> Any:
        if isinstance(value, list):  # an = ANY($n) list: json_each reads it
            return json.dumps(value)
        return str(value.astimezone(UTC)) if isinstance(value, datetime) else value

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        return self.connection.execute(sqlite_sql(sql), [self._arg(a) for a in args]).fetchall()

    async def row(self, sql: str, *args: Any) -> Any:
        return self.connection.execute(sqlite_sql(sql), [self._arg(a) for a in args]).fetchone()


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = url.startswith("sqlite:")
        self.pool: Any = None
        self.connection: sqlite3.Connection | None = None

    async def start(self) -> None:
        if self.sqlite:
            path = self.url.removeprefix("sqlite://").removeprefix("/")
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
            connection.row_factory = sqlite3.Row
            for pragma in (
                "journal_mode = WAL",
                "foreign_keys = ON",
                "busy_timeout = 30000",
                "synchronous = FULL",
            ):
                connection.execute(f"PRAGMA {pragma}")
            self.connection = connection
        else:
            import asyncpg

            # The server settings the app's connections use ([database] postgres_parallel_workers):
            # the floor compares code, not PostgreSQL configurations.
            self.pool = await asyncpg.create_pool(
                self.url,
                min_size=POOL_SIZE,
                max_size=POOL_SIZE,
                server_settings={"max_parallel_workers_per_gather": "0"},
            )

    async def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
        if self.pool is not None:
            await self.pool.close()

    @asynccontextmanager
    async def reads(self) -> AsyncIterator[Any]:
        """Statements outside a transaction (browse)."""
        if self.connection is not None:
            yield SqliteSession(self.connection)
            return
        async with self.pool.acquire() as connection:
            yield PgSession(connection)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        """One transaction (``BEGIN IMMEDIATE`` on SQLite, like the app's writer)."""
        if self.connection is not None:
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteSession(self.connection)
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
            self.connection.execute("COMMIT")
            return
        async with self.pool.acquire() as connection, connection.transaction():
            yield PgSession(connection)


db = Database(DATABASE)


def in_list(start: int, count: int) -> str:
    return ", ".join(f"${i}" for i in range(start, start + count))


# --------------------------------------------------------------------------------------
# Authentication: the token, then the member row (what the app's JWT middleware does)
# --------------------------------------------------------------------------------------

MEMBER = (
    "SELECT id, email, display_name, country, skills, role, status, created_at, suspended_reason, "
    "security_stamp FROM core_member WHERE id = $1 LIMIT 1"
)


async def member_of(request: Request, s: Any) -> Any:
    header = request.headers.get("authorization", "")
    try:
        claims = jwt.decode(header.removeprefix("Bearer "), JWT_SECRET, algorithms=["HS256"])
        member_id = int(claims["sub"])
    except (jwt.PyJWTError, KeyError, ValueError):
        raise Problem(401, "not_authenticated", "send a valid bearer token") from None
    row = await s.row(MEMBER, member_id)
    if row is None or row["security_stamp"] != claims.get("extras", {}).get("ss"):
        raise Problem(401, "not_authenticated", "the token is no longer valid")
    return row


# --------------------------------------------------------------------------------------
# Browse: the statements of agorakit.catalog.search.browse and listings.to_listings
# --------------------------------------------------------------------------------------

BROWSE_SORTED = (
    "SELECT id, sort_key FROM (SELECT l.id AS id, l.{key} AS sort_key FROM core_listing l "
    "WHERE {where}) AS found ORDER BY sort_key DESC, id DESC LIMIT 21"
)
#: a search sorted by newest: its matches first (``OFFSET 0`` keeps PostgreSQL's planner
#: from walking the published index instead), then their order
SEARCH_NEWEST_PG = (
    "SELECT id, sort_key FROM (SELECT l.id AS id, l.published_us AS sort_key FROM core_listing l "
    "WHERE l.status = 'published' AND l.search_vector @@ plainto_tsquery('english', $1) OFFSET 0) AS found "
    "ORDER BY sort_key DESC, id DESC LIMIT 21"
)
SEARCH_NEWEST_SQLITE = (
    "SELECT id, sort_key FROM (SELECT l.id AS id, l.published_us AS sort_key FROM core_listing l "
    "JOIN core_listing_fts ON core_listing_fts.rowid = l.id WHERE l.status = 'published' AND core_listing_fts "
    "MATCH $1) AS found ORDER BY sort_key DESC, id DESC LIMIT 21"
)
#: a filtered browse reads at most 1,000 listings in the sort's order first (agorakit.catalog.search.WALK)
WALK = (
    "SELECT id, sort_key FROM (SELECT l.id AS id, l.{key} AS sort_key, l.category_id AS category_id "
    "FROM core_listing l WHERE l.status = 'published' ORDER BY l.{key} DESC, l.id DESC LIMIT 1000) AS l "
    "WHERE {filters} LIMIT 21"
)
#: sort -> the listing column of its key (descending)
SORT_KEYS = {"newest": "published_us", "rating": "seller_rating"}
SEARCH_PG = (
    "SELECT id, sort_key FROM (SELECT l.id AS id, CAST(ts_rank(l.search_vector, plainto_tsquery('english', $1)) "
    "* 1000000 AS BIGINT) AS sort_key FROM core_listing l WHERE l.status = 'published' AND l.search_vector @@ "
    "plainto_tsquery('english', $2)) AS found ORDER BY sort_key DESC, id DESC LIMIT 21"
)
SEARCH_SQLITE = (
    "SELECT id, sort_key FROM (SELECT l.id AS id, CAST(-bm25(core_listing_fts, 5.0, 1.0) * 1000000 AS INTEGER) "
    "AS sort_key FROM core_listing l JOIN core_listing_fts ON core_listing_fts.rowid = l.id "
    "WHERE l.status = 'published' AND core_listing_fts MATCH $1) AS found ORDER BY sort_key DESC, id DESC LIMIT 21"
)
WORD = re.compile(r"\w+", re.UNICODE)


def _summary(rows: Sequence[Any], ids: Sequence[int]) -> dict[int, Rating]:
    totals: dict[int, list[int]] = {i: [0, 0] for i in ids}
    for row in rows:
        totals[row["key"]][0] += row["rating"] * row["n"]
        totals[row["key"]][1] += row["n"]
    out = {}
    for key, (total, count) in totals.items():
        average = None
        if count:
            average = f"{(Decimal(total) / count).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):.2f}"
        out[key] = Rating(average, count)
    return out


async def to_listings(s: Any, rows: Sequence[Any], slugs: dict[int, str] | None = None) -> list[ListingOut]:
    owners = sorted({r["owner_id"] for r in rows})
    members = {
        m["id"]: m
        for m in await s.fetch(
            "SELECT id, display_name, country FROM core_member WHERE id = ANY($1)",
            owners,
        )
    }
    seller_rows = await s.fetch(
        "SELECT subject_id AS key, rating, COUNT(*) AS n FROM core_review WHERE ((subject_id = ANY($1) "
        "AND hidden = $2) AND author_role = $3) GROUP BY subject_id, rating",
        owners,
        False,
        "buyer",
    )
    listing_ids = sorted({r["id"] for r in rows})
    listing_rows = await s.fetch(
        "SELECT listing_id AS key, rating, COUNT(*) AS n FROM core_review WHERE ((listing_id = ANY($1) "
        "AND hidden = $2) AND author_role = $3) GROUP BY listing_id, rating",
        listing_ids,
        False,
        "buyer",
    )
    sellers, listings = _summary(seller_rows, owners), _summary(listing_rows, listing_ids)
    if slugs is None:
        slugs = {r["id"]: r["slug"] for r in await s.fetch("SELECT id, slug FROM core_category")}
    out = []
    for row in rows:
        owner = members[row["owner_id"]]
        out.append(
            ListingOut(
                id=row["id"],
                kind=row["kind"],
                status=row["status"],
                title=row["title"],
                description=row["description"],
                price=money(row["price"], row["currency"]),
                category=slugs.get(row["category_id"], ""),
                attributes=loads(row["attributes"]),
                seller=Seller(owner["id"], owner["display_name"], owner["country"], sellers[owner["id"]]),
                rating=listings[row["id"]],
                created_at=row["created_at"],
                updated_at=row["updated_at"],
                submitted_at=row["submitted_at"],
                published_at=row["published_at"],
                rejection_reason=row["rejection_reason"],
            )
        )
    return out


async def browse_page(
    s: Any, *, q: str | None, category: str | None, sort: str | None = None, limit: int = 20, sqlite: bool
) -> ListingPage:
    """One page of GET /listings: the statements of agorakit.catalog.search.browse."""
    where, args = ["l.status = 'published'"], []
    categories = await s.fetch("SELECT id, slug, parent_id FROM core_category")
    slugs = {r["id"]: r["slug"] for r in categories}
    if category:
        found_id = next((r["id"] for r in categories if r["slug"] == category), None)
        if found_id is None:
            raise Problem(422, "validation_error", f"there is no category {category!r}")
        children: dict[Any, list[int]] = {}
        for r in categories:
            children.setdefault(r["parent_id"], []).append(r["id"])
        ids, todo = [], [found_id]
        while todo:
            current = todo.pop()
            ids.append(current)
            todo += children.get(current, [])
        where.append(f"l.category_id IN ({', '.join(str(int(i)) for i in ids)})")
    if sort not in (None, *SORT_KEYS) or (sort == "rating" and q):
        raise Problem(422, "validation_error", f"the floor does not serve sort={sort!r} here")
    if q:
        words = WORD.findall(q.lower())[:20]
        if sort == "newest":
            sql = SEARCH_NEWEST_SQLITE if sqlite else SEARCH_NEWEST_PG
            found = await s.fetch(sql, " ".join(f'"{w}"' for w in words) if sqlite else " ".join(words))
        elif sqlite:
            found = await s.fetch(SEARCH_SQLITE, " ".join(f'"{w}"' for w in words))
        else:
            found = await s.fetch(SEARCH_PG, " ".join(words), " ".join(words))
    else:
        key = SORT_KEYS[sort or "newest"]
        found = []
        if len(where) > 1:  # a filtered browse: the walk first, as agorakit's
            filters = " AND ".join(where[1:])
            found = await s.fetch(WALK.format(key=key, filters=filters), *args)
        if len(found) <= limit:
            found = await s.fetch(BROWSE_SORTED.format(key=key, where=" AND ".join(where)), *args)
    page = found[:limit]
    if not page:
        return ListingPage([], None)
    ids = [r["id"] for r in page]
    rows = await s.fetch("SELECT * FROM core_listing WHERE id = ANY($1)", ids)
    by_id = {r["id"]: r for r in rows}
    items = await to_listings(s, [by_id[i] for i in ids if i in by_id], slugs)
    cursor = f"{page[-1]['sort_key']}:{page[-1]['id']}" if len(found) > limit else None
    return ListingPage(items, cursor)


@get("/listings")
async def browse(
    q: FromQuery[str | None] = None,
    category: FromQuery[str | None] = None,
    sort: FromQuery[str | None] = None,
    limit: FromQuery[int] = 20,
) -> ListingPage:
    async with db.reads() as s:
        return await browse_page(s, q=q, category=category, sort=sort, limit=limit, sqlite=db.sqlite)


# --------------------------------------------------------------------------------------
# Orders, the ledger, events: the statements of agorakit.orders / money / events
# --------------------------------------------------------------------------------------

ORDER = "SELECT * FROM core_order WHERE id = $1 LIMIT 1"
ORDER_LOCKED = "SELECT * FROM core_order WHERE id = $1 LIMIT 1 FOR UPDATE"
ITEMS = 'SELECT * FROM core_order_item WHERE "order" = $1 ORDER BY position ASC'
ACCOUNT = (
    "SELECT id, name, kind, balance FROM core_ledger_account WHERE (name = $1 AND currency = $2) LIMIT 1"
)
PAYMENT = "SELECT * FROM core_payment WHERE id = $1 LIMIT 1"
TRANSITIONS = {
    "awaiting_payment": ["cancel_unpaid"],
    "in_progress": [],
    "delivered": ["accept"],
    "completed": [],
}


async def order_and_items(s: Any, order_id: int, *, lock: bool = False) -> tuple[Any, list[Any]]:
    row = await s.row(ORDER_LOCKED if lock else ORDER, order_id)
    if row is None:
        raise Problem(404, "not_found", f"there is no order {order_id}")
    return row, await s.fetch(ITEMS, order_id)


def to_order(row: Any, items: Sequence[Any], caller_id: int | None) -> OrderOut:
    currency = row["currency"]
    allowed = TRANSITIONS.get(row["state"], []) if caller_id == row["buyer_id"] else []
    return OrderOut(
        id=row["id"],
        process=row["process"],
        process_version=row["process_version"],
        state=row["state"],
        version=row["version"],
        buyer_id=row["buyer_id"],
        seller_id=row["seller_id"],
        listing_id=row["listing_id"],
        amount=money(row["amount"], currency),
        items=[
            ItemOut(
                i["position"],
                i["kind"],
                i["description"],
                money(i["unit_price"], currency),
                i["quantity"],
                money(i["amount"], currency),
            )
            for i in items
        ],
        data=loads(row["data"]) or {},
        state_entered_at=row["state_entered_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        allowed_transitions=allowed,
    )


def party(row: Any, member_id: int) -> None:
    if member_id not in (row["buyer_id"], row["seller_id"]):
        raise Problem(404, "not_found", f"there is no order {row['id']}")


async def insert_returning(s: Any, table: str, values: dict[str, Any]) -> int:
    columns = ", ".join(f'"{c}"' for c in values)
    found = await s.row(
        f'INSERT INTO "{table}" ({columns}) VALUES ({in_list(1, len(values))}) RETURNING "id"',
        *values.values(),
    )
    return found["id"]


def account_kind(name: str) -> tuple[str, int | None]:
    parts = name.split(":")
    if parts[0] == "member":
        return parts[2], int(parts[1])
    if name.endswith(":escrow"):
        return "escrow", None
    return {"platform": "fees", "payouts": "clearing", "external": "external"}[parts[0]], None


async def ensure_account(s: Any, name: str, now: datetime) -> Any:
    row = await s.row(ACCOUNT, name, "USD")
    if row is not None:
        return row
    kind, member_id = account_kind(name)
    await s.row(
        "INSERT INTO core_ledger_account (name, currency, kind, balance, allow_negative, member_id, buyer_id, "
        "seller_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (name, currency) "
        "DO NOTHING RETURNING id",
        name,
        "USD",
        kind,
        0,
        kind == "external",
        member_id,
        None,
        None,
        now,
    )
    return await s.row(ACCOUNT, name, "USD")


async def ledger_post(
    s: Any,
    *,
    key: str,
    kind: str,
    description: str,
    moves: dict[str, int],
    refs: dict,
    actor: Any,
    now: datetime,
) -> None:
    """The statements of agorakit.money.ledger.post (balances updated in account id order)."""
    existing = await s.row(
        "SELECT id, kind FROM core_ledger_transaction WHERE idempotency_key = $1 LIMIT 1", key
    )
    if existing is not None:
        return
    transaction_id = await insert_returning(
        s,
        "core_ledger_transaction",
        {
            "idempotency_key": key,
            "kind": kind,
            "description": description,
            "refs": dumps(refs),
            "actor_id": actor,
            "created_at": now,
        },
    )
    accounts = {name: await ensure_account(s, name, now) for name in moves}
    entries: list[Any] = []
    for name in sorted(moves, key=lambda n: accounts[n]["id"]):
        amount, account = moves[name], accounts[name]
        updated = await s.row(
            "UPDATE core_ledger_account SET balance = balance + $1 WHERE id = $2 AND "
            "(allow_negative OR balance + $3 >= 0) RETURNING balance",
            amount,
            account["id"],
            amount,
        )
        if updated is None:
            row = await s.row(ACCOUNT, name, "USD")
            raise Problem(409, "insufficient_funds", f"{name} holds {row['balance'] if row else 0}")
        entries += [transaction_id, account["id"], amount, "USD", updated["balance"], now]
    values = ", ".join(f"({in_list(1 + 6 * i, 6)})" for i in range(len(entries) // 6))
    await s.fetch(
        'INSERT INTO core_ledger_entry ("transaction", account, amount, currency, balance_after, created_at) '
        f"VALUES {values} RETURNING id",
        *entries,
    )


async def store_events(s: Any, events: list[tuple[str, str, int | None, dict]], now: datetime) -> list[int]:
    args: list[Any] = []
    for name, subject, actor, data in events:
        args += [name, subject, actor, dumps(data), now, "pending", 0, None, None]
    values = ", ".join(f"({in_list(1 + 9 * i, 9)})" for i in range(len(events)))
    rows = await s.fetch(
        "INSERT INTO core_domain_event (name, subject, actor_id, data, at, status, attempts, last_error, "
        f"published_at) VALUES {values} RETURNING id",
        *args,
    )
    return [r["id"] for r in rows]


async def mark_published(s: Any, ids: list[int], now: datetime) -> None:
    await s.fetch(
        f"UPDATE core_domain_event SET status = $1, published_at = $2, last_error = $3 WHERE id IN "
        f"({in_list(4, len(ids))})",
        "published",
        now,
        None,
        *ids,
    )


async def enter(
    s: Any, row: Any, target: str, name: str, role: str, actor: Any, data: dict, now: datetime
) -> None:
    """agorakit.orders.engine._enter_all: version check, history, timers of the old state."""
    moved = await s.row(
        "UPDATE core_order SET state = $1, version = $2, seller_id = $3, state_entered_at = $4, updated_at = $5 "
        "WHERE (id = $6 AND version = $7) RETURNING id",
        target,
        row["version"] + 1,
        row["seller_id"],
        now,
        now,
        row["id"],
        row["version"],
    )
    if moved is None:
        raise Problem(409, "conflict", f"order {row['id']} changed while {name} was being fired")
    await insert_returning(
        s,
        "core_order_event",
        {
            "order": row["id"],
            "seq": row["version"] + 1,
            "transition": name,
            "from_state": row["state"],
            "to_state": target,
            "actor_role": role,
            "actor_id": actor,
            "data": dumps(data),
            "at": now,
        },
    )
    await s.fetch(
        'UPDATE core_order_timer SET status = $1 WHERE ("order" = $2 AND status = $3)',
        "cancelled",
        row["id"],
        "pending",
    )


async def set_timer(s: Any, order_id: int, state: str, transition: str, due: datetime, now: datetime) -> None:
    await insert_returning(
        s,
        "core_order_timer",
        {
            "order": order_id,
            "state": state,
            "transition": transition,
            "due_at": due,
            "status": "pending",
            "attempts": 0,
            "last_error": None,
            "fired_at": None,
            "created_at": now,
        },
    )


async def notify(s: Any, event_id: int, member_id: int, template: str, title: str, now: datetime) -> None:
    """agorakit.notifications.service._store for one notice: recipient, opt-outs, rows."""
    members = await s.fetch(
        "SELECT id, email, display_name, status FROM core_member WHERE id = ANY($1)", [member_id]
    )
    await s.fetch(
        "SELECT member_id, category FROM core_notification_preference WHERE (member_id = ANY($1) AND email = $2)",
        [member_id],
        False,
    )
    member = members[0]
    body = (
        f"Hello {member['display_name']}, {title.lower()}. " + "Open the order to see what happens next. " * 3
    )
    notification = await s.row(
        "INSERT INTO core_notification (member_id, event_id, category, template, title, body, link, read_at, "
        "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING RETURNING id",
        member_id,
        event_id,
        "orders",
        template,
        title,
        body,
        "/orders",
        None,
        now,
    )
    await insert_returning(
        s,
        "core_email_outbox",
        {
            "member_id": member_id,
            "notification_id": notification["id"],
            "to_address": member["email"],
            "subject": title,
            "text_body": body * 2,
            "html_body": f"<html><body><p>{body}</p><p>{body}</p></body></html>",
            "message_id": f"<{secrets.token_hex(16)}@bench>",
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "last_error": None,
            "claimed_at": None,
            "sent_at": None,
            "created_at": now,
        },
    )


async def transition_notice_facts(s: Any, order_id: int, transition: str, now: datetime) -> None:
    """core_notices.order_transitioned reads the order and its history row."""
    await s.row(ORDER, order_id)
    await s.row(
        'SELECT data FROM core_order_event WHERE (("order" = $1 AND transition = $2) AND at <= $3) '
        "ORDER BY seq DESC LIMIT 1",
        order_id,
        transition,
        now,
    )


async def system_message(s: Any, order_id: int, event_id: int, body: str, now: datetime) -> None:
    """agorakit.messaging.service.post_system_message for an order transition."""
    await s.row('SELECT EXISTS(SELECT id FROM core_message WHERE event_id = $1) AS "exists"', event_id)
    row = await s.row("SELECT buyer_id, seller_id FROM core_order WHERE id = $1 LIMIT 1", order_id)
    key = f"order:{order_id}"
    await s.row(
        'INSERT INTO core_conversation ("key", kind, subject, last_message_id, last_message_at, created_at) '
        'VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT ("key") DO NOTHING RETURNING id',
        key,
        "order",
        key,
        0,
        None,
        now,
    )
    conversation = (await s.row('SELECT id FROM core_conversation WHERE "key" = $1 LIMIT 1', key))["id"]
    parties = [row["buyer_id"], row["seller_id"]]
    await s.fetch(
        "INSERT INTO core_conversation_participant (conversation, member_id, last_read_message_id, joined_at) "
        "VALUES ($1, $2, $3, $4), ($5, $6, $7, $8) ON CONFLICT (conversation, member_id) DO NOTHING RETURNING id",
        conversation,
        parties[0],
        0,
        now,
        conversation,
        parties[1],
        0,
        now,
    )
    await s.fetch(
        "DELETE FROM core_conversation_participant WHERE (conversation = $1 AND member_id NOT IN ($2, $3))",
        conversation,
        *parties,
    )
    message = await s.row(
        "INSERT INTO core_message (conversation, sender_id, kind, body, attachments, flags, flagged, event_id, "
        "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (event_id) DO NOTHING RETURNING id",
        conversation,
        None,
        "system",
        body,
        "[]",
        "[]",
        False,
        event_id,
        now,
    )
    await s.fetch(
        "UPDATE core_conversation SET last_message_id = $1, last_message_at = $2 WHERE (id = $3 AND "
        "last_message_id < $4)",
        message["id"],
        now,
        conversation,
        message["id"],
    )


def quote(amount: int) -> dict[str, Any]:
    fee = int((Decimal(amount) * COMMISSION_PERCENT / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    line = {
        "payer": "seller",
        "amount": fee,
        "label": f"Site fee ({COMMISSION_PERCENT}%)",
        "code": "commission",
    }
    return {"buyer_total": amount, "seller_net": amount - fee, "platform_total": fee, "lines": [line]}


@post("/gigs/{listing_id:int}/orders", status_code=201)
async def order_gig(request: Request, listing_id: FromPath[int], data: JSONBody[OrderGig]) -> OrderOut:
    async with db.transaction() as s:
        buyer = await member_of(request, s)
        listing = await s.row("SELECT * FROM core_listing WHERE id = $1 LIMIT 1", listing_id)
        if listing is None or listing["kind"] != "gig":
            raise Problem(404, "not_found", f"there is no gig {listing_id}")
        await to_listings(s, [listing])
        if listing["owner_id"] == buyer["id"]:
            raise Problem(403, "forbidden", "you cannot order your own gig")
        if listing["status"] != "published":
            raise Problem(409, "gig_not_available", f"gig {listing_id} is {listing['status']}")
        now = datetime.now(UTC)
        amount = listing["price"] * data.quantity
        attributes = loads(listing["attributes"])
        order_data = {
            "fee_kind": "gig",
            "gig": {"title": listing["title"], "extras": [], "quantity": data.quantity},
            "delivery_days": attributes["delivery_days"],
            "requirements": data.requirements.strip(),
            "quote": quote(amount),
        }
        order_id = await insert_returning(
            s,
            "core_order",
            {
                "process": GIG_PROCESS,
                "process_version": 1,
                "state": "awaiting_payment",
                "version": 1,
                "buyer_id": buyer["id"],
                "seller_id": listing["owner_id"],
                "listing_id": listing_id,
                "currency": listing["currency"],
                "amount": amount,
                "data": dumps(order_data),
                "state_entered_at": now,
                "created_at": now,
                "updated_at": now,
            },
        )
        await insert_returning(
            s,
            "core_order_item",
            {
                "order": order_id,
                "position": 1,
                "kind": "base",
                "description": listing["title"][:200],
                "unit_price": listing["price"],
                "quantity": data.quantity,
                "amount": amount,
            },
        )
        await insert_returning(
            s,
            "core_order_event",
            {
                "order": order_id,
                "seq": 1,
                "transition": "create",
                "from_state": None,
                "to_state": "awaiting_payment",
                "actor_role": "buyer",
                "actor_id": buyer["id"],
                "data": "{}",
                "at": now,
            },
        )
        await set_timer(s, order_id, "awaiting_payment", "expire", now + UNPAID_EXPIRY, now)
        (event,) = await store_events(
            s, [("order.created", f"order:{order_id}", buyer["id"], {"process": GIG_PROCESS})], now
        )
        # after commit: the seller is told (order_created notice), the event marked published
        order = await s.row(ORDER, order_id)
        await s.row("SELECT display_name FROM core_member WHERE id = $1 LIMIT 1", buyer["id"])
        await notify(s, event, order["seller_id"], "order_created", f"New order {order_id}", now)
        await mark_published(s, [event], now)
        await order_and_items(s, order_id)
        row, items = await order_and_items(s, order_id)
    return to_order(row, items, buyer["id"])


@post("/orders/{order_id:int}/payments", status_code=201)
async def pay_order(request: Request, order_id: FromPath[int], data: JSONBody[PayOrder]) -> PaymentOut:
    if data.method != "balance":
        raise Problem(422, "validation_error", "the floor pays from the balance only")
    async with db.transaction() as s:
        buyer = await member_of(request, s)
        # locked: one payment funds an order, whatever else pays it at the same moment
        row, _ = await order_and_items(s, order_id, lock=True)
        party(row, buyer["id"])
        if row["buyer_id"] != buyer["id"]:
            raise Problem(403, "forbidden", "only the buyer pays for the order")
        funding = await s.row(
            "SELECT id FROM core_payment WHERE escrow_ref = $1 AND status IN ($2, $3, $4) LIMIT 1",
            f"order:{order_id}",
            "pending",
            "awaiting_funds",
            "completed",
        )
        if funding is not None:
            raise Problem(409, "order_already_paid", f"order {order_id} is already paid")
        if row["state"] != "awaiting_payment":
            raise Problem(409, "transition_not_allowed", f"order {order_id} is {row['state']}")
        now = datetime.now(UTC)
        total = loads(row["data"])["quote"]["buyer_total"]
        escrow_ref = f"order:{order_id}"
        payment_id = await insert_returning(
            s,
            "core_payment",
            {
                "payer_id": buyer["id"],
                "method": "balance",
                "amount": total,
                "currency": "USD",
                "purpose": "escrow",
                "escrow_ref": escrow_ref,
                "status": "pending",
                "reference": "PAY-" + secrets.token_hex(5).upper(),
                "idempotency_key": None,
                "provider_ref": None,
                "details": "{}",
                "failure_reason": None,
                "expires_at": None,
                "completed_at": None,
                "created_at": now,
                "updated_at": now,
            },
        )
        await s.row(PAYMENT, payment_id)
        escrow = f"{escrow_ref}:escrow"
        await ensure_account(s, escrow, now)
        await s.fetch(
            "UPDATE core_ledger_account SET buyer_id = $1, seller_id = $2 WHERE (name = $3 AND currency = $4)",
            buyer["id"],
            row["seller_id"],
            escrow,
            "USD",
        )
        credit, available = f"member:{buyer['id']}:credit", f"member:{buyer['id']}:available"
        balances = {
            r["name"]: r["balance"]
            for r in await s.fetch(
                "SELECT name, balance FROM core_ledger_account WHERE (name IN ($1, $2) AND currency = $3) "
                "ORDER BY id ASC FOR NO KEY UPDATE",
                credit,
                available,
                "USD",
            )
        }
        from_credit = min(total, balances.get(credit, 0))
        moves = {credit: -from_credit, escrow: total}
        if total > from_credit:
            moves[available] = from_credit - total
        settled = await s.row(
            "UPDATE core_payment SET status = $1, completed_at = $2, updated_at = $3, details = $4 "
            "WHERE (id = $5 AND status IN ($6, $7)) RETURNING id",
            "completed",
            now,
            now,
            dumps({"from_credit": from_credit}),
            payment_id,
            "pending",
            "awaiting_funds",
        )
        if settled is None:
            raise Problem(409, "conflict", f"payment {payment_id} settled already")
        await ledger_post(
            s,
            key=f"payment:{payment_id}:settle",
            kind="payment_settled",
            description=f"Payment {payment_id}",
            moves=moves,
            refs={"payment": payment_id},
            actor=buyer["id"],
            now=now,
        )
        await s.row(PAYMENT, payment_id)
        # on_payment_settled, then fire_in("paid") with the gigs_start_clock effect
        await s.row(ORDER_LOCKED, order_id)
        locked, _ = await order_and_items(s, order_id, lock=True)
        await enter(s, locked, "in_progress", "paid", "system", None, {"payment": payment_id}, now)
        after, _ = await order_and_items(s, order_id)
        order_data = loads(after["data"])
        order_data["deadline"] = (now + timedelta(days=order_data.get("delivery_days", 1))).isoformat()
        order_data["paid_at"] = now.isoformat()
        await s.fetch("UPDATE core_order SET data = $1 WHERE id = $2", dumps(order_data), order_id)
        for _ in range(3):
            payment = await s.row(PAYMENT, payment_id)
        subject = f"order:{order_id}"
        events = await store_events(
            s,
            [
                ("payment.started", f"payment:{payment_id}", buyer["id"], {"method": "balance"}),
                ("order.transitioned", subject, None, {"transition": "paid", "to_state": "in_progress"}),
                ("payment.completed", f"payment:{payment_id}", buyer["id"], {"method": "balance"}),
            ],
            now,
        )
        # after commit: the seller hears of the payment; the conversation gets the transition
        await transition_notice_facts(s, order_id, "paid", now)
        await notify(s, events[1], row["seller_id"], "order_transitioned", f"Order {order_id} was paid", now)
        text = f"Order {order_id}: awaiting payment → in progress (paid automatically)"
        await system_message(s, order_id, events[1], text, now)
        await mark_published(s, events, now)
    return PaymentOut(
        id=payment["id"],
        payer_id=payment["payer_id"],
        method=payment["method"],
        amount=money(payment["amount"], payment["currency"]),
        purpose=payment["purpose"],
        escrow_ref=payment["escrow_ref"],
        status=payment["status"],
        reference=payment["reference"],
        details=loads(payment["details"]) or {},
        failure_reason=payment["failure_reason"],
        expires_at=payment["expires_at"],
        completed_at=payment["completed_at"],
        created_at=payment["created_at"],
    )


@post("/gigs/orders/{order_id:int}/delivery", status_code=200)
async def deliver(request: Request, order_id: FromPath[int], data: JSONBody[Delivery]) -> OrderOut:
    async with db.transaction() as s:
        seller = await member_of(request, s)
        row, _ = await order_and_items(s, order_id)
        party(row, seller["id"])
        await order_and_items(s, order_id)
        if row["seller_id"] != seller["id"]:
            raise Problem(403, "forbidden", "only the seller delivers the order")
        if row["state"] != "in_progress":
            raise Problem(409, "conflict", f"order {order_id} is {row['state']}")
        now = datetime.now(UTC)
        waiting = (
            'SELECT EXISTS(SELECT id FROM core_proof WHERE ("order" = $1 AND status IN ($2))) AS "exists"'
        )
        if (await s.row(waiting, order_id, "submitted"))["exists"]:
            raise Problem(409, "conflict", "a proof of this order is waiting for review")
        proof_id = await insert_returning(
            s,
            "core_proof",
            {
                "order": order_id,
                "submitted_by": seller["id"],
                "text": data.message.strip(),
                "urls": "[]",
                "attachments": "[]",
                "status": "submitted",
                "review_reason": None,
                "reviewed_by": None,
                "reviewed_at": None,
                "created_at": now,
            },
        )
        locked, _ = await order_and_items(s, order_id, lock=True)
        await s.row(
            'SELECT EXISTS(SELECT id FROM core_proof WHERE ("order" = $1 AND status = $2)) AS "exists"',
            order_id,
            "submitted",
        )
        await enter(s, locked, "delivered", "deliver", "seller", seller["id"], {"proof": proof_id}, now)
        await set_timer(s, order_id, "delivered", "auto_complete", now + AUTO_COMPLETE, now)
        await order_and_items(s, order_id)
        subject = f"order:{order_id}"
        events = await store_events(
            s,
            [
                (
                    "order.transitioned",
                    subject,
                    seller["id"],
                    {"transition": "deliver", "to_state": "delivered"},
                ),
                ("proof.submitted", subject, seller["id"], {"proof": proof_id}),
            ],
            now,
        )
        # after commit: the transition's system message; the buyer hears of the delivery
        await transition_notice_facts(s, order_id, "deliver", now)
        text = f"Order {order_id}: in progress → delivered (deliver by the seller)"
        await system_message(s, order_id, events[0], text, now)
        await s.row(ORDER, order_id)
        await notify(s, events[1], row["buyer_id"], "proof_submitted", f"Order {order_id} was delivered", now)
        await mark_published(s, events, now)
        await order_and_items(s, order_id)
        await s.row('SELECT * FROM core_proof WHERE (id = $1 AND "order" = $2) LIMIT 1', proof_id, order_id)
        after, items = await order_and_items(s, order_id)
    return to_order(after, items, seller["id"])


@post("/gigs/orders/{order_id:int}/accept", status_code=200)
async def accept(request: Request, order_id: FromPath[int]) -> OrderOut:
    async with db.transaction() as s:
        buyer = await member_of(request, s)
        row, _ = await order_and_items(s, order_id)
        party(row, buyer["id"])
        locked, _ = await order_and_items(s, order_id, lock=True)
        if locked["state"] != "delivered":
            raise Problem(409, "transition_not_allowed", f"order {order_id} is {locked['state']}")
        if locked["buyer_id"] != buyer["id"]:
            raise Problem(403, "actor_not_allowed", "accept is for the buyer of the order")
        now = datetime.now(UTC)
        await enter(s, locked, "completed", "accept", "buyer", buyer["id"], {}, now)
        after, items = await order_and_items(s, order_id)
        await s.fetch(
            'UPDATE core_proof SET status = $1, reviewed_by = $2, reviewed_at = $3 WHERE ("order" = $4 AND status = $5)',
            "accepted",
            buyer["id"],
            now,
            order_id,
            "submitted",
        )
        figures = loads(after["data"])["quote"]
        escrow = f"order:{order_id}:escrow"
        net, fees = figures["seller_net"], figures["platform_total"]
        await ledger_post(
            s,
            key=f"order:{order_id}:release",
            kind="escrow_released",
            description=f"Order {order_id} completed: payment to the seller",
            moves={
                escrow: -(net + fees),
                f"member:{after['seller_id']}:available": net,
                "platform:fees": fees,
            },
            refs={"order": order_id},
            actor=buyer["id"],
            now=now,
        )
        subject = f"order:{order_id}"
        (event,) = await store_events(
            s,
            [("order.transitioned", subject, buyer["id"], {"transition": "accept", "to_state": "completed"})],
            now,
        )
        # after commit: open cancellation proposals lapse, the seller is told, the message
        await s.fetch(
            "UPDATE gigs_cancellation SET status = $1, decided_at = $2 WHERE (order_id = $3 AND status = $4)",
            "lapsed",
            now,
            order_id,
            "open",
        )
        await transition_notice_facts(s, order_id, "accept", now)
        await notify(
            s, event, after["seller_id"], "order_transitioned", f"Order {order_id} was completed", now
        )
        text = f"Order {order_id}: delivered → completed (accept by the buyer)"
        await system_message(s, order_id, event, text, now)
        await mark_published(s, [event], now)
        items = await s.fetch(ITEMS, order_id)
    return to_order(after, items, buyer["id"])


@post("/withdrawals", status_code=201)
async def withdraw(request: Request, data: JSONBody[CreateWithdrawal]) -> WithdrawalOut:
    if data.method != "bank_transfer":
        raise Problem(422, "validation_error", "the floor withdraws by bank transfer only")
    amount = parse_cents(data.amount.amount)
    if amount < BANK_MINIMUM:
        raise Problem(422, "below_minimum", "the minimum is 50.00 USD")
    async with db.transaction() as s:
        member = await member_of(request, s)
        now = datetime.now(UTC)
        withdrawal_id = await insert_returning(
            s,
            "core_withdrawal",
            {
                "member_id": member["id"],
                "method": data.method,
                "amount": amount,
                "fee": 0,
                "currency": "USD",
                "destination": dumps(data.destination),
                "status": "requested",
                "idempotency_key": None,
                "batch_ref": None,
                "provider_ref": None,
                "failure_reason": None,
                "completed_at": None,
                "created_at": now,
                "updated_at": now,
            },
        )
        await ledger_post(
            s,
            key=f"withdrawal:{withdrawal_id}:request",
            kind="withdrawal_requested",
            description=f"Withdrawal {withdrawal_id} to Bank transfer",
            moves={f"member:{member['id']}:available": -amount, f"payouts:{data.method}:clearing": amount},
            refs={"withdrawal": withdrawal_id},
            actor=member["id"],
            now=now,
        )
        events = await store_events(
            s,
            [("withdrawal.requested", f"withdrawal:{withdrawal_id}", member["id"], {"method": data.method})],
            now,
        )
        await mark_published(s, events, now)
        row = await s.row("SELECT * FROM core_withdrawal WHERE id = $1 LIMIT 1", withdrawal_id)
    return WithdrawalOut(
        id=row["id"],
        member_id=row["member_id"],
        method=row["method"],
        amount=money(row["amount"], "USD"),
        fee=money(row["fee"], "USD"),
        net=money(row["amount"] - row["fee"], "USD"),
        destination=loads(row["destination"]),
        status=row["status"],
        batch_ref=row["batch_ref"],
        provider_ref=row["provider_ref"],
        failure_reason=row["failure_reason"],
        completed_at=row["completed_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


@get("/health")
async def health() -> dict[str, str]:
    async with db.reads() as s:
        await s.row("SELECT 1 AS one")
    return {"status": "ok"}


app = Litestar(
    route_handlers=[health, browse, order_gig, pay_order, deliver, accept, withdraw],
    exception_handlers={Problem: problem_response},
    on_startup=[db.start],
    on_shutdown=[db.close],
)
