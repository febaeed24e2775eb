"""Leads: a business's feed of matching open jobs.

The caller, then the categories its active profile serves (each with every category below
it) in one recursive query, its service areas, the page on ``leads_lead`` and, for the
jobs on the page, the business's own unlocks.  The page query is the app's
(``agorakit.plugins.leads.feed``): for each category served, the newest open jobs in the
business's areas walked backwards on the index ``leads_lead_feed (status, category_id,
id)``, merged newest first; one query over all of them past ``MERGED_CATEGORIES``.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any

import msgspec
from litestar import Request, get
from litestar.params import FromQuery

from bench.floor import driver
from bench.floor.effects import member_of
from bench.floor.schemas import Money, Problem, loads, money

#: the app's ``agorakit.plugins.leads.feed.MERGED_CATEGORIES``
MERGED_CATEGORIES = 20
#: the plugin's default ``report_days``
REPORT_DAYS = 30
COLUMNS = (
    "id, listing_id, customer_id, category_id, category, title, country, postal_code, city, details, text, status, "
    "price, currency, unlocks, max_unlocks, reason, created_at, opened_at, expires_at, closed_at, updated_at"
)
#: the categories an active profile serves, each with every category below it
SERVED = (
    "WITH RECURSIVE served(id) AS (SELECT c.category_id FROM leads_profile_category c JOIN leads_profile p ON "
    "p.member_id = c.member_id WHERE c.member_id = $1 AND p.active UNION SELECT k.id FROM core_category k JOIN "
    "served s ON k.parent_id = s.id) SELECT id FROM served ORDER BY id"
)
AREAS = "SELECT country, postal_prefix, city FROM leads_profile_area WHERE member_id = $1"
UNLOCKS = "SELECT * FROM leads_unlock WHERE business_id = $1 AND lead_id = ANY($2)"


class LeadLocation(msgspec.Struct):
    country: str
    postal_code: str | None = None
    city: str | None = None


class LeadUnlockOut(msgspec.Struct):
    id: int
    lead_id: int
    business_id: int
    customer_id: int
    origin: str
    status: str
    price: Money
    order_id: int | None
    conversation_id: int | None
    created_at: datetime
    charged_at: datetime | None = None
    report_until: datetime | None = None
    payment: Any = None


class LeadOut(msgspec.Struct):
    id: int
    listing_id: int
    customer_id: int | None
    category: str
    title: str
    location: LeadLocation
    details: dict[str, Any]
    text: str
    status: str
    price: Money
    unlocks: int
    max_unlocks: int
    created_at: datetime
    opened_at: datetime | None = None
    expires_at: datetime | None = None
    closed_at: datetime | None = None
    reason: str | None = None
    unlock: LeadUnlockOut | None = None


class LeadPage(msgspec.Struct):
    items: list[LeadOut]
    next_cursor: str | None = None


def stamp(value: Any) -> datetime | None:
    """A TIMESTAMPTZ as a datetime (SQLite stores its text)."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def to_unlock(row: Any) -> LeadUnlockOut:
    charged = stamp(row["charged_at"])
    return LeadUnlockOut(
        id=row["id"],
        lead_id=row["lead_id"],
        business_id=row["business_id"],
        customer_id=row["customer_id"],
        origin=row["origin"],
        status=row["status"],
        price=money(row["price"], row["currency"]),
        order_id=row["order_id"],
        conversation_id=row["conversation_id"],
        created_at=stamp(row["created_at"]),  # type: ignore[arg-type]
        charged_at=charged,
        report_until=charged + timedelta(days=REPORT_DAYS) if charged else None,
    )


def to_lead(row: Any, unlock: LeadUnlockOut | None) -> LeadOut:
    in_contact = unlock is not None and unlock.status in ("contacted", "charged")
    return LeadOut(
        id=row["id"],
        listing_id=row["listing_id"],
        customer_id=row["customer_id"] if in_contact else None,
        category=row["category"],
        title=row["title"],
        location=LeadLocation(
            country=row["country"], postal_code=row["postal_code"] or None, city=row["city"] or None
        ),
        details=loads(row["details"]) or {},
        text=row["text"],
        status=row["status"],
        price=money(row["price"], row["currency"]),
        unlocks=row["unlocks"],
        max_unlocks=row["max_unlocks"],
        created_at=stamp(row["created_at"]),  # type: ignore[arg-type]
        opened_at=stamp(row["opened_at"]),
        expires_at=stamp(row["expires_at"]),
        closed_at=stamp(row["closed_at"]),
        reason=row["reason"],
        unlock=unlock,
    )


def newest(categories: list[int], where: list[tuple[str, list[Any]]], limit: int) -> tuple[Any, ...]:
    """The app's page query; ``where``: conditions with ``{}`` for each of their values."""
    args: list[Any] = []

    def mark(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    def conditions() -> str:
        parts = []
        for sql, values in where:
            pieces = sql.split("{}")
            parts.append(
                pieces[0] + "".join(mark(v) + rest for v, rest in zip(values, pieces[1:], strict=True))
            )
        return " AND ".join(parts)

    select = f"SELECT {COLUMNS} FROM leads_lead WHERE"
    if len(categories) == 1 or len(categories) > MERGED_CATEGORIES:
        within = ", ".join(mark(c) for c in categories)
        sql = f"{select} category_id IN ({within}) AND {conditions()} ORDER BY id DESC LIMIT {limit}"
    else:
        sql = " UNION ALL ".join(
            f"SELECT * FROM ({select} category_id = {mark(c)} AND {conditions()} ORDER BY id DESC "
            f"LIMIT {limit}) AS c{n}"
            for n, c in enumerate(categories)
        )
        sql += f" ORDER BY id DESC LIMIT {limit}"
    return (sql, *args)


def area_condition(areas: list[Any]) -> tuple[str, list[Any]]:
    parts: list[str] = []
    values: list[Any] = []
    for area in areas:
        if area["postal_prefix"]:
            parts.append("(country = {} AND postal_code LIKE {})")
            values += [area["country"], area["postal_prefix"] + "%"]
        elif area["city"]:
            parts.append("(country = {} AND city = {})")
            values += [area["country"], area["city"]]
        else:
            parts.append("(country = {})")
            values.append(area["country"])
    return "(" + " OR ".join(parts) + ")", values


@get("/leads/feed")
async def feed(
    request: Request, cursor: FromQuery[str | None] = None, limit: FromQuery[int] = 20
) -> LeadPage:
    if not 1 <= limit <= 100:
        raise Problem(422, "validation_error", "limit must be between 1 and 100")
    async with driver.db.reads() as s:
        business = await member_of(request, s)
        served = [r["id"] for r in await s.fetch(SERVED, business["id"])]
        areas = await s.fetch(AREAS, business["id"]) if served else []
        if not areas:
            return LeadPage(items=[])
        place, place_values = area_condition(areas)
        where: list[tuple[str, list[Any]]] = [
            ("status = {}", ["open"]),
            ("customer_id <> {}", [business["id"]]),
            (place, place_values),
        ]
        if cursor:
            after = msgspec.json.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["id"]
            where.append(("id < {}", [int(after)]))
        fetched = await s.fetch(*newest(served, where, limit + 1))
        rows = fetched[:limit]
        mine = {}
        if rows:
            mine = {
                u["lead_id"]: to_unlock(u)
                for u in await s.fetch(UNLOCKS, business["id"], [r["id"] for r in rows])
            }
    items = [to_lead(r, mine.get(r["id"])) for r in rows]
    next_cursor = None
    if len(fetched) > limit:
        next_cursor = base64.urlsafe_b64encode(msgspec.json.encode({"id": items[-1].id})).decode().rstrip("=")
    return LeadPage(items=items, next_cursor=next_cursor)
