"""GET /listings: the statements of ``agorakit.catalog.search.browse`` and ``to_listings``.

Browse runs the same six reads as the app: they are what the page needs (the categories,
the page of ids, its listings, their sellers, the two rating summaries).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import msgspec
from litestar import get
from litestar.params import FromQuery

from bench.floor import driver
from bench.floor.schemas import ListingOut, ListingPage, Problem, Rating, Seller, loads, money

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
    cursor = None
    if len(found) > limit:
        position = msgspec.json.encode({"k": page[-1]["sort_key"], "id": page[-1]["id"]})
        cursor = base64.urlsafe_b64encode(position).decode().rstrip("=")
    return ListingPage(items, cursor)


@get("/listings")
async def browse(
    q: FromQuery[str | None] = None,
    category: FromQuery[str | None] = None,
    sort: FromQuery[str | None] = None,
    limit: FromQuery[int] = 20,
) -> ListingPage:
    async with driver.db.reads() as s:
        return await browse_page(s, q=q, category=category, sort=sort, limit=limit, sqlite=driver.db.sqlite)
