"""Prepaid requests: a seller locks a paid request; a seller's feed of open requests.

The lock reads the request with its order's state first, outside any transaction (like the
app: a seller who comes after the winner gets 409 from this read, and the check of their
access to the request's category that a request out of the feed takes), then writes the rows
the app's ``lock`` transition writes (the seller's lock counter, the order moved with its
seller and its deadline, the escrow's parties, the order's history, the request row, its
listing paused, the events, the buyer's notice and the order conversation's system
message) in one transaction.  Its first read locks the order on PostgreSQL and checks the
seller's access to the category, so the sellers who passed the check together queue on the
order's row and each one after the first finds it taken (409).  The feed runs the app's page
query on ``prepaid_request`` after one read of the seller's categories (the approved ones
and every category below them).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath, FromQuery

from bench.floor import driver
from bench.floor.driver import insert
from bench.floor.effects import member_of, notify, store_events, system_message
from bench.floor.schemas import Money, Problem, dumps, loads, money

#: the bench site's ``max_open_locks``
MAX_OPEN_LOCKS = 1000
#: the app's ``agorakit.plugins.prepaid.feed.MERGED_CATEGORIES``
MERGED_CATEGORIES = 20
PROCESS = "prepaid_request"
COLUMNS = (
    "id, listing_id, buyer_id, category_id, category, service_type, service_label, title, mode, status, price, "
    "currency, timeframe_hours, details, order_id, seller_id, offer_id, expires_at, due_at, opened_at, "
    "idempotency_key, created_at, updated_at"
)
#: the request with its order's state (the check before any transaction: most lockers of a
#: request find it taken here)
REQUEST_ORDER = (
    "SELECT r.*, o.state FROM prepaid_request r JOIN core_order o ON o.id = r.order_id WHERE r.id = $1"
)
#: whether the member has approved access to a category or to one above it
ACCESS = (
    "EXISTS(WITH RECURSIVE up(id) AS (SELECT CAST($1 AS INTEGER) UNION SELECT c.parent_id FROM core_category c "
    "JOIN up ON c.id = up.id WHERE c.parent_id IS NOT NULL) SELECT 1 FROM core_qualification q WHERE "
    "q.member_id = $2 AND q.status = 'approved' AND q.category_id IN (SELECT id FROM up))"
)
#: the order locked, and the member's access to the request's category
LOCKED_ORDER = f"SELECT state, version, data, {ACCESS} AS qualified FROM core_order WHERE id = $3 FOR UPDATE"
OPERATORS = ("operator", "owner")
#: the member's categories: each approved one and every category below them
ALLOWED = (
    "WITH RECURSIVE allowed(id) AS (SELECT c.id FROM core_qualification q JOIN core_category c ON "
    "c.id = q.category_id WHERE q.member_id = $1 AND q.status = 'approved' UNION SELECT c.id FROM core_category c "
    "JOIN allowed a ON c.parent_id = a.id) SELECT id FROM allowed ORDER BY id"
)
#: one more undelivered lock, unless the seller holds the most they may
COUNT_LOCK = (
    "INSERT INTO prepaid_seller_locks (member_id, open_locks, updated_at) VALUES ($1, 1, $2) ON CONFLICT "
    "(member_id) DO UPDATE SET open_locks = prepaid_seller_locks.open_locks + 1, updated_at = $3 WHERE "
    "prepaid_seller_locks.open_locks < $4 RETURNING id"
)


class PrepaidRequestOut(msgspec.Struct):
    id: int
    listing_id: int
    buyer_id: int
    mode: str
    category: str
    service_type: str
    service_label: str
    title: str
    details: dict[str, Any]
    price: Money
    timeframe_hours: int
    status: str
    order_id: int | None
    seller_id: int | None
    created_at: datetime
    expires_at: datetime | None = None
    deadline: datetime | None = None
    offers: int = 0
    payment: Any = None


class PrepaidRequestPage(msgspec.Struct):
    items: list[PrepaidRequestOut]
    next_cursor: str | None = None


def stamp(value: Any) -> datetime | None:
    """A TIMESTAMPTZ as a datetime (SQLite stores its text)."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def to_request(row: Any, **changes: Any) -> PrepaidRequestOut:
    status = changes.pop("status", row["status"])
    out = PrepaidRequestOut(
        id=row["id"],
        listing_id=row["listing_id"],
        buyer_id=row["buyer_id"],
        mode=row["mode"],
        category=row["category"],
        service_type=row["service_type"],
        service_label=row["service_label"],
        title=row["title"],
        details=loads(row["details"]) or {},
        price=money(row["price"], row["currency"]),
        timeframe_hours=row["timeframe_hours"],
        status=status,
        order_id=row["order_id"],
        seller_id=row["seller_id"],
        created_at=stamp(row["created_at"]),  # type: ignore[arg-type]
        expires_at=stamp(row["expires_at"]) if row["mode"] == "classic" and status == "open" else None,
    )
    return msgspec.structs.replace(out, **changes) if changes else out


@post("/prepaid/requests/{request_id:int}/lock", status_code=200)
async def lock(request: Request, request_id: FromPath[int]) -> PrepaidRequestOut:
    async with driver.db.reads() as s:
        seller = await member_of(request, s)
        row = await s.row(REQUEST_ORDER, request_id)
        party = row is not None and (
            seller["id"] in (row["buyer_id"], row["seller_id"]) or seller["role"] in OPERATORS
        )
        if row is not None and row["state"] != "open" and not party:
            # a request out of the feed is known to its parties and to the sellers of its category only
            if not (await s.row(f"SELECT {ACCESS} AS ok", row["category_id"], seller["id"]))["ok"]:
                raise Problem(404, "not_found", f"there is no request {request_id}")
    if row is None:  # the failure path only: which refusal
        async with driver.db.reads() as s:
            found = await s.row("SELECT mode FROM prepaid_request WHERE id = $1", request_id)
        if found is None:
            raise Problem(404, "not_found", f"there is no request {request_id}")
        raise Problem(409, "conflict", f"request {request_id} is a classic request: send an offer instead")
    if row["buyer_id"] == seller["id"]:
        raise Problem(409, "conflict", "you cannot lock your own request")
    if row["state"] != "open":
        if row["seller_id"] == seller["id"]:
            raise Problem(409, "conflict", f"you already hold the lock on request {request_id}")
        if row["seller_id"] is not None:
            raise Problem(409, "conflict", f"request {request_id} was taken by another seller")
        raise Problem(409, "conflict", f"request {request_id} is not open for locking (it is {row['state']})")
    async with driver.db.transaction() as s:
        order_id = row["order_id"]
        order = await s.row(LOCKED_ORDER, row["category_id"], seller["id"], order_id)
        if order["state"] != "open":  # another seller locked it since the check
            raise Problem(409, "conflict", f"order {order_id} was taken by another seller")
        if not order["qualified"]:
            raise Problem(403, "not_eligible", f"you have no approved access to category {row['category']!r}")
        now = datetime.now(UTC)
        counted = await s.row(COUNT_LOCK, seller["id"], now, now, MAX_OPEN_LOCKS)
        if counted is None:
            raise Problem(
                409, "transition_not_allowed", f"you already hold {MAX_OPEN_LOCKS} undelivered locks"
            )
        data = loads(order["data"]) or {}
        deadline = now + timedelta(hours=data.get("delivery_hours", row["timeframe_hours"]))
        data["deadline"] = deadline.isoformat()
        await s.fetch(  # the row is locked: no one moved it since it was read
            "UPDATE core_order SET state = $1, version = $2, seller_id = $3, state_entered_at = $4, updated_at = $5, "
            "data = $6 WHERE id = $7",
            "in_progress",
            order["version"] + 1,
            seller["id"],
            now,
            now,
            dumps(data),
            order_id,
        )
        await s.fetch(
            "UPDATE core_ledger_account SET seller_id = $1 WHERE name = $2",
            seller["id"],
            f"order:{order_id}:escrow",
        )
        await insert(
            s,
            "core_order_event",
            {
                "order": order_id,
                "seq": order["version"] + 1,
                "transition": "lock",
                "from_state": "open",
                "to_state": "in_progress",
                "actor_role": "candidate",
                "actor_id": seller["id"],
                "data": "{}",
                "at": now,
            },
        )
        await s.fetch(
            'UPDATE core_order_timer SET status = $1 WHERE "order" = $2 AND status = $3',
            "cancelled",
            order_id,
            "pending",
        )
        await s.fetch(
            "UPDATE prepaid_request SET status = $1, updated_at = $2, due_at = $3, seller_id = $4 WHERE id = $5",
            "in_progress",
            now,
            now + timedelta(hours=row["timeframe_hours"]),
            seller["id"],
            request_id,
        )
        paused = await s.row(
            "UPDATE core_listing SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4 RETURNING owner_id",
            "paused",
            now,
            row["listing_id"],
            "published",
        )
        locked = {
            "request_id": request_id,
            "order_id": order_id,
            "buyer_id": row["buyer_id"],
            "seller_id": seller["id"],
        }
        moved_data = {"order_id": order_id, "process": PROCESS, "transition": "lock", "from_state": "open",
                      "to_state": "in_progress", "actor_role": "candidate"}  # fmt: skip
        events = [("prepaid.request_locked", f"request:{request_id}", seller["id"], locked)]
        if paused is not None:
            listing = {"listing_id": row["listing_id"], "owner_id": paused["owner_id"], "reason": None}
            # the request moves its listing: the site's own move, without an actor
            events.append(("listing.paused", f"listing:{row['listing_id']}", None, listing))
        events.append(("order.transitioned", f"order:{order_id}", seller["id"], moved_data))
        event_ids = await store_events(s, events, now)
        # the plugin's notice to the buyer, instead of the core's, on the order's move
        title = f'{seller["display_name"]} locked your request "{row["title"]}"'
        link = f"/prepaid/requests/{request_id}"
        await notify(s, event_ids[-1], row["buyer_id"], "prepaid_request_locked", title, link, now)
        parties = {"id": order_id, "buyer_id": row["buyer_id"], "seller_id": seller["id"]}
        body = f"Order {order_id}: open → in progress (lock by the seller)"
        await system_message(s, parties, event_ids[-1], body, now)
    return to_request(row, status="in_progress", seller_id=seller["id"], deadline=deadline)


def newest(categories: list[int], conditions: list[tuple[str, Any]], limit: int) -> tuple[Any, ...]:
    """The app's page query (``agorakit.plugins.prepaid.feed``): each category's newest
    matches, merged newest first; one query over all of them past ``MERGED_CATEGORIES``.
    ``conditions``: ``(column and operator, value)``, ``=`` when the operator is left out."""
    args: list[Any] = []

    def mark(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    def where() -> str:
        return " AND ".join(f"{c if ' ' in c else c + ' ='} {mark(value)}" for c, value in conditions)

    select = f"SELECT {COLUMNS} FROM prepaid_request WHERE"
    if len(categories) == 1 or len(categories) > MERGED_CATEGORIES:
        within = ", ".join(mark(c) for c in categories)
        sql = f"{select} category_id IN ({within}) AND {where()} ORDER BY id DESC LIMIT {limit}"
    else:
        sql = " UNION ALL ".join(
            f"SELECT * FROM ({select} category_id = {mark(c)} AND {where()} ORDER BY id DESC LIMIT {limit}) AS c{n}"
            for n, c in enumerate(categories)
        )
        sql += f" ORDER BY id DESC LIMIT {limit}"
    return (sql, *args)


@get("/prepaid/feed")
async def feed(
    request: Request,
    service_type: FromQuery[str | None] = None,
    cursor: FromQuery[str | None] = None,
    limit: FromQuery[int] = 20,
) -> PrepaidRequestPage:
    if not 1 <= limit <= 100:
        raise Problem(422, "validation_error", "limit must be between 1 and 100")
    async with driver.db.reads() as s:
        seller = await member_of(request, s)
        allowed = [r["id"] for r in await s.fetch(ALLOWED, seller["id"])]
        if not allowed:
            return PrepaidRequestPage(items=[])
        conditions: list[tuple[str, Any]] = [("status", "open"), ("buyer_id <>", seller["id"])]
        if service_type:
            conditions.append(("service_type", service_type))
        if cursor:
            after = msgspec.json.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["id"]
            conditions.append(("id <", int(after)))
        rows = await s.fetch(*newest(allowed, conditions, limit + 1))
    items = [to_request(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = base64.urlsafe_b64encode(msgspec.json.encode({"id": items[-1].id})).decode().rstrip("=")
    return PrepaidRequestPage(items=items, next_cursor=next_cursor)
