"""The lean floor for GET /listings: each page in ONE query, through the raw driver.

Where ``bench/floor/browse.py`` runs the app's own statements (so that the difference is
the framework's overhead), this floor serves the same page (the same filters, sorts,
keyset cursor and JSON fields) in the one statement the database needs for it: the
category's subtree as a recursive query inside it (no tree kept in the process, no
version to check), the listings with their sellers' display fields and categories'
slugs joined, the rating summaries read from the listing rows, and no walk: the
filters go straight into the sorted query and the planner decides.  The distance
between the app and this floor is how far the app is from the limit.

Run: ``BENCH_FLOOR_DATABASE=... python -m uvicorn bench.floor.lean:app --port 8002``
(``bench/sites.py``'s ``floor_server(site, app=LEAN_APP)`` does it).
"""

from __future__ import annotations

import base64
import re
from typing import Any

import msgspec
from litestar import Litestar, get
from litestar.params import FromQuery

from bench.floor import driver, lean_orders
from bench.floor.browse import COLUMNS, cursor_after, to_listings
from bench.floor.schemas import ListingPage, Problem, problem_response

WORD = re.compile(r"\w+", re.UNICODE)
#: the kinds only eligible members see (the shipped plugins' ``visible_to="eligible"``:
#: prepaid requests, microjobs campaigns, leads), left out as the app leaves them out
UNLISTED = ("request", "campaign", "lead")
#: sort -> (the key's column, descending?)
SORTS = {
    "newest": ("l.published_us", True),
    "price_asc": ("l.price", False),
    "price_desc": ("l.price", True),
    "rating": ("l.seller_rating", True),
}
#: the category and every category below it
SUBTREE = (
    "WITH RECURSIVE subtree(id) AS (SELECT id FROM core_category WHERE slug = {} "
    "UNION ALL SELECT c.id FROM core_category c JOIN subtree ON c.parent_id = subtree.id) "
)
JOINS = "JOIN core_member m ON m.id = l.owner_id LEFT JOIN core_category c ON c.id = l.category_id"


class Sql:
    """SQL with ``{}`` placeholders numbered ``$1, $2...`` in the order they are added."""

    def __init__(self) -> None:
        self.args: list[Any] = []

    def __call__(self, text: str, *values: Any) -> str:
        parts = text.split("{}")
        assert len(parts) == len(values) + 1, text
        out = parts[0]
        for value, part in zip(values, parts[1:], strict=True):
            self.args.append(value)
            out += f"${len(self.args)}{part}"
        return out


def lean_query(
    *,
    q: str | None,
    category: str | None,
    sort: str | None,
    position: dict[str, int] | None,
    limit: int,
    sqlite: bool,
) -> tuple[str, list[Any], bool]:
    """The page's one statement, its values, and whether its order is descending."""
    sql = Sql()
    sort = sort or ("relevance" if q else "newest")
    words = WORD.findall(q.lower())[:20] if q else []
    if q and not words:
        raise Problem(422, "validation_error", "give at least one word to search for")
    if sort == "relevance" and not words:
        raise Problem(422, "validation_error", "relevance needs a search (q)")
    if sort != "relevance" and sort not in SORTS:
        raise Problem(422, "validation_error", f"unknown sort {sort!r}")
    key, descending = SORTS.get(sort, ("", True))
    op, direction = ("<", "DESC") if descending else (">", "ASC")
    head = sql(SUBTREE, category) if category else ""
    where = ["l.status = 'published'", sql(f"l.kind NOT IN ({', '.join('{}' for _ in UNLISTED)})", *UNLISTED)]
    if category:
        # PostgreSQL: the sub-tree made an array once (an IN over the CTE scanned it again
        # for each listing read: 1.1 ms against 0.66 ms a page at 100k listings)
        where.append(
            "l.category_id IN (SELECT id FROM subtree)"
            if sqlite
            else "l.category_id = ANY(ARRAY(SELECT id FROM subtree))"
        )
    if words:
        # A search: its matches first (the full-text index), ranked or keyed, then the
        # page's rows joined (joining every match before the sort would add to its cost).
        joins, text = "", " ".join(words)
        if sqlite:
            joins = " JOIN core_listing_fts ON core_listing_fts.rowid = l.id"
            where.append(sql("core_listing_fts MATCH {}", " ".join(f'"{w}"' for w in words)))
            if sort == "relevance":
                key = "CAST(-bm25(core_listing_fts, 5.0, 1.0) * 1000000 AS INTEGER)"
        else:
            where.append(sql("l.search_vector @@ plainto_tsquery('english', {})", text))
            if sort == "relevance":  # PostgreSQL numbers its placeholders: any place will do
                key = sql(
                    "CAST(ts_rank(l.search_vector, plainto_tsquery('english', {})) * 1000000 AS BIGINT)", text
                )
        # OFFSET 0 fences the matches on PostgreSQL: else a rare word sorted by newest walks the index
        fence = "" if sqlite else " OFFSET 0"
        matches = f"SELECT l.id AS id, {key} AS sort_key FROM core_listing l{joins} WHERE {' AND '.join(where)}{fence}"
        after = ""
        if position is not None:
            after = sql(f" WHERE (sort_key, id) {op} ({{}}, {{}})", position["k"], position["id"])
        found = (
            f"SELECT id, sort_key FROM ({matches}) AS found{after} "
            f"ORDER BY sort_key {direction}, id {direction} LIMIT {int(limit) + 1}"
        )
        page = f"SELECT {COLUMNS}, f.sort_key AS sort_key FROM ({found}) f JOIN core_listing l ON l.id = f.id {JOINS}"
    else:
        # the sort's index in its order, each row joined as it is read, until the page is full
        if position is not None:
            where.append(sql(f"({key}, l.id) {op} ({{}}, {{}})", position["k"], position["id"]))
        page = (
            f"SELECT {COLUMNS}, {key} AS sort_key FROM core_listing l {JOINS} WHERE {' AND '.join(where)} "
            f"ORDER BY {key} {direction}, l.id {direction} LIMIT {int(limit) + 1}"
        )
    if category:
        # one row even for an empty page: whether the category exists (else a 422)
        page = f"{head}SELECT k.known AS known, p.* FROM (SELECT COUNT(*) AS known FROM subtree) k LEFT JOIN ({page}) p ON 1 = 1"
    return page, sql.args, descending


def decode_cursor(cursor: str | None) -> dict[str, int] | None:
    """The position a cursor of this list points after (the app's format)."""
    if not cursor:
        return None
    try:
        position = msgspec.json.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, msgspec.DecodeError) as exc:
        raise Problem(422, "validation_error", "not a cursor from this list") from exc
    if not isinstance(position, dict) or set(position) != {"k", "id"}:
        raise Problem(422, "validation_error", "not a cursor from this list")
    return position


async def lean_page(
    s: Any,
    *,
    q: str | None,
    category: str | None,
    sort: str | None,
    cursor: str | None,
    limit: int,
    sqlite: bool,
) -> ListingPage:
    """One page of GET /listings in one statement."""
    position = decode_cursor(cursor)
    sql, args, descending = lean_query(
        q=q, category=category, sort=sort, position=position, limit=limit, sqlite=sqlite
    )
    rows = await s.fetch(sql, *args)
    if category and not rows[0]["known"]:
        raise Problem(422, "validation_error", f"there is no category {category!r}")
    rows = sorted(
        (r for r in rows if r["id"] is not None), key=lambda r: (r["sort_key"], r["id"]), reverse=descending
    )
    page = rows[:limit]
    return ListingPage(to_listings(page), cursor_after(page[-1]) if len(rows) > limit else None)


@get("/listings")
async def browse(
    q: FromQuery[str | None] = None,
    category: FromQuery[str | None] = None,
    sort: FromQuery[str | None] = None,
    cursor: FromQuery[str | None] = None,
    limit: FromQuery[int] = 20,
) -> ListingPage:
    async with driver.db.reads() as s:
        return await lean_page(
            s, q=q, category=category, sort=sort, cursor=cursor, limit=limit, sqlite=driver.db.sqlite
        )


@get("/health")
async def health() -> dict[str, str]:
    async with driver.db.reads() as s:
        await s.row("SELECT 1 AS one")
    return {"status": "ok"}


async def _start() -> None:
    await driver.db.start()


async def _close() -> None:
    await driver.db.close()


app = Litestar(
    route_handlers=[browse, health, *lean_orders.ROUTES],
    exception_handlers={Problem: problem_response},
    on_startup=[_start],
    on_shutdown=[_close],
)
