"""GET /listings: the statements of ``agorakit.catalog.search.browse``, through the raw driver.

The same statements as the app: one per page (the page's listings with their owners'
display fields, their categories' slugs and the rating summaries stored on each row,
and the category tree's version), a second when a filtered browse's walk finds no more
than a page, and for a ``category`` filter the category tree this process keeps, read
with its version the first time and again whenever a page reads another version.  This
is the framework-overhead floor; ``bench/floor/lean.py`` is the one-query floor.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from weakref import WeakKeyDictionary

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

#: the category tree's version (``core_category_version``, counted by triggers)
TREE_VERSION = "(SELECT COALESCE(MAX(version), 0) FROM core_category_version)"
#: the tree and its version, in one statement
TREE = (
    "SELECT v.version AS version, c.id AS id, c.slug AS slug, c.parent_id AS parent_id "
    f"FROM (SELECT {TREE_VERSION} AS version) v LEFT JOIN core_category c ON 1 = 1"
)
#: what a listing view shows
COLUMNS = (
    "l.id AS id, l.kind AS kind, l.owner_id AS owner_id, l.category_id AS category_id, l.title AS title, "
    "l.description AS description, l.price AS price, l.currency AS currency, l.attributes AS attributes, "
    "l.status AS status, l.rejection_reason AS rejection_reason, l.created_at AS created_at, "
    "l.updated_at AS updated_at, l.submitted_at AS submitted_at, l.published_at AS published_at, "
    "l.seller_rating_count AS seller_rating_count, l.seller_rating_sum AS seller_rating_sum, "
    "l.rating_count AS rating_count, l.rating_sum AS rating_sum, m.display_name AS seller_display_name, "
    "m.country AS seller_country, c.slug AS category_slug"
)
#: a page: the tree's version joined with the found rows' listings, owners and categories
PAGE = (
    f"SELECT v.tree_version AS tree_version, p.sort_key AS sort_key, {COLUMNS} "
    f"FROM (SELECT {TREE_VERSION} AS tree_version) v LEFT JOIN ({{found}}) p ON 1 = 1 "
    "LEFT JOIN core_listing l ON l.id = p.id LEFT JOIN core_member m ON m.id = l.owner_id "
    "LEFT JOIN core_category c ON c.id = l.category_id"
)


def rating(total: int, count: int) -> Rating:
    if not count:
        return Rating(None, 0)
    return Rating(f"{(Decimal(total) / count).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):.2f}", count)


def to_listings(rows: Sequence[Any]) -> list[ListingOut]:
    """Listing views of page rows (each carries its seller, category slug and ratings)."""
    return [
        ListingOut(
            id=row["id"],
            kind=row["kind"],
            status=row["status"],
            title=row["title"],
            description=row["description"],
            price=money(row["price"], row["currency"]),
            category=row["category_slug"] or "",
            attributes=loads(row["attributes"]),
            seller=Seller(
                row["owner_id"],
                row["seller_display_name"],
                row["seller_country"],
                rating(row["seller_rating_sum"], row["seller_rating_count"]),
            ),
            rating=rating(row["rating_sum"], row["rating_count"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            submitted_at=row["submitted_at"],
            published_at=row["published_at"],
            rejection_reason=row["rejection_reason"],
        )
        for row in rows
    ]


def cursor_after(row: Any, key: str = "k") -> str:
    position = msgspec.json.encode({key: row["sort_key"], "id": row["id"]})
    return base64.urlsafe_b64encode(position).decode().rstrip("=")


class Tree:
    """The category tree as this process keeps it, and its version."""

    def __init__(self, rows: Sequence[Any]) -> None:
        self.version = int(rows[0]["version"])
        self.ids = {r["slug"]: r["id"] for r in rows if r["id"] is not None}
        self.children: dict[Any, list[int]] = {}
        for r in rows:
            if r["id"] is not None:
                self.children.setdefault(r["parent_id"], []).append(r["id"])

    def below(self, slug: str) -> list[int]:
        ids, todo = [], [self.ids[slug]]
        while todo:
            current = todo.pop()
            ids.append(current)
            todo += self.children.get(current, [])
        return ids


#: per database (the capture swaps the floor's database between runs)
_TREES: WeakKeyDictionary[Any, Tree] = WeakKeyDictionary()


async def load_tree(s: Any) -> Tree:
    tree = _TREES[driver.db] = Tree(await s.fetch(TREE))
    return tree


async def read_page(s: Any, found: str, *args: Any) -> tuple[int, list[Any]]:
    rows = await s.fetch(PAGE.format(found=found), *args)
    page = sorted(
        (r for r in rows if r["id"] is not None), key=lambda r: (r["sort_key"], r["id"]), reverse=True
    )
    return int(rows[0]["tree_version"]), page


async def browse_page(
    s: Any, *, q: str | None, category: str | None, sort: str | None = None, limit: int = 20, sqlite: bool
) -> ListingPage:
    """One page of GET /listings: the statements of agorakit.catalog.search.browse."""
    if sort not in (None, *SORT_KEYS) or (sort == "rating" and q):
        raise Problem(422, "validation_error", f"the floor does not serve sort={sort!r} here")
    tree = _TREES.get(driver.db)
    if category and (tree is None or category not in tree.ids):
        tree = await load_tree(s)
    if category and category not in tree.ids:  # type: ignore[union-attr]
        raise Problem(422, "validation_error", f"there is no category {category!r}")
    while True:
        where, args = ["l.status = 'published'"], []
        if category:
            ids = tree.below(category)  # type: ignore[union-attr]
            where.append(f"l.category_id IN ({', '.join(str(int(i)) for i in ids)})")
        if q:
            words = WORD.findall(q.lower())[:20]
            if sort == "newest":
                sql = SEARCH_NEWEST_SQLITE if sqlite else SEARCH_NEWEST_PG
                version, found = await read_page(
                    s, sql, " ".join(f'"{w}"' for w in words) if sqlite else " ".join(words)
                )
            elif sqlite:
                version, found = await read_page(s, SEARCH_SQLITE, " ".join(f'"{w}"' for w in words))
            else:
                version, found = await read_page(s, SEARCH_PG, " ".join(words), " ".join(words))
        else:
            key = SORT_KEYS[sort or "newest"]
            found = []
            if len(where) > 1:  # a filtered browse: the walk first, as agorakit's
                filters = " AND ".join(where[1:])
                version, found = await read_page(s, WALK.format(key=key, filters=filters), *args)
            if len(found) <= limit:
                version, found = await read_page(
                    s, BROWSE_SORTED.format(key=key, where=" AND ".join(where)), *args
                )
        if not category or version == tree.version:  # type: ignore[union-attr]
            break
        tree = await load_tree(s)
        if category not in tree.ids:
            raise Problem(422, "validation_error", f"there is no category {category!r}")
    page = found[:limit]
    return ListingPage(to_listings(page), cursor_after(page[-1]) if len(found) > limit else None)


@get("/listings")
async def browse(
    q: FromQuery[str | None] = None,
    category: FromQuery[str | None] = None,
    sort: FromQuery[str | None] = None,
    limit: FromQuery[int] = 20,
) -> ListingPage:
    async with driver.db.reads() as s:
        return await browse_page(s, q=q, category=category, sort=sort, limit=limit, sqlite=driver.db.sqlite)
