"""Browse and full-text search of published listings.

Full text: SQLite uses an external-content FTS5 table (``core_listing_fts``, porter
stemming, kept in sync by triggers); PostgreSQL a generated ``tsvector`` column
(``core_listing.search_vector``, English stemming, title weighted above description)
with a GIN index.  Both are created by the area's raw migration.

Pagination is keyset: the cursor holds the integer sort key of the last item and its
id, so pages never repeat or skip a listing even when many share a price.
"""

from __future__ import annotations

import re
from typing import Any

from agorakit.catalog import service
from agorakit.catalog.listings import to_listings
from agorakit.catalog.schemas import ListingOut
from agorakit.catalog.tables import Listing
from agorakit.db.prepared import Prepared, any_of
from agorakit.errors import FieldError, ValidationFailed
from agorakit.pagination import decode_cursor, encode_cursor
from agorakit.runtime import Runtime

_WORD = re.compile(r"\w+", re.UNICODE)

#: sort name -> (SQL of the integer key, descending?)
_SORTS = {
    "newest": ("l.published_us", True),
    "price_asc": ("l.price", False),
    "price_desc": ("l.price", True),
    # the owner's seller rating, stored on each listing (see agorakit.reviews.service)
    "rating": ("l.seller_rating", True),
}


def search_words(q: str) -> list[str]:
    words = _WORD.findall(q.lower())[:20]
    if not words:
        raise ValidationFailed([FieldError("q", "give at least one word to search for", "query")])
    return words


_LISTINGS = Prepared(lambda ids: Listing.select().where(any_of(Listing.id, ids)).output(load_json=True))


async def browse(
    runtime: Runtime,
    *,
    q: str | None = None,
    kind: str | None = None,
    category: str | None = None,
    owner: int | None = None,
    country: str | None = None,
    currency: str | None = None,
    min_price: int | None = None,
    max_price: int | None = None,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> tuple[list[ListingOut], str | None]:
    """Published listings matching every filter given."""
    postgres = runtime.db.is_postgres
    sort = sort or ("relevance" if q else "newest")
    joins, where, args = "", ["l.status = 'published'"], []
    words = search_words(q) if q else []
    if sort == "relevance":
        if not words:
            raise ValidationFailed([FieldError("sort", "relevance needs a search (q)", "query")])
        key, descending = "", True
    else:
        key, descending = _SORTS[sort]
    if words:
        if postgres:
            where.append("l.search_vector @@ plainto_tsquery('english', {})")
            args.append(" ".join(words))
            if sort == "relevance":
                key = "CAST(ts_rank(l.search_vector, plainto_tsquery('english', {})) * 1000000 AS BIGINT)"
        else:
            joins = " JOIN core_listing_fts ON core_listing_fts.rowid = l.id"
            where.append("core_listing_fts MATCH {}")
            args.append(" ".join(f'"{w}"' for w in words))
            if sort == "relevance":
                # bm25 is smaller for better matches; title counts five times the description.
                key = "CAST(-bm25(core_listing_fts, 5.0, 1.0) * 1000000 AS INTEGER)"
    key_args = [" ".join(words)] if postgres and sort == "relevance" else []
    if kind:
        where.append("l.kind = {}")
        args.append(kind)
    categories = await service.category_index()
    if category:
        ids = categories.descendants(categories.id_of(category))
        where.append(f"l.category_id IN ({', '.join(str(int(i)) for i in ids)})")
    if owner is not None:
        where.append("l.owner_id = {}")
        args.append(owner)
    if country:
        where.append("(l.countries = '' OR l.countries LIKE {})")
        args.append(f"%,{country.upper()},%")
    if currency:
        where.append("l.currency = {}")
        args.append(currency)
    if min_price is not None:
        where.append("l.price >= {}")
        args.append(min_price)
    if max_price is not None:
        where.append("l.price <= {}")
        args.append(max_price)

    inner = f"SELECT l.id AS id, {key} AS sort_key FROM core_listing l{joins} WHERE {' AND '.join(where)}"
    if words and postgres:
        # Matches first, then their order.  Without this fence PostgreSQL may walk the
        # sort's index (newest, price) backwards testing every listing for the words:
        # it guesses that 0.5% of the listings hold a word it has no statistics for, so
        # for a rare word it reads the whole table (1.25 s at 1M listings, against 6 ms
        # through the full-text index).  A search now costs what its matches cost.
        inner += " OFFSET 0"
    sql = f"SELECT id, sort_key FROM ({inner}) AS found"
    all_args = key_args + args
    position = decode_cursor(cursor, keys=("k", "id"))
    if position is not None:
        op = "<" if descending else ">"
        sql += f" WHERE (sort_key {op} {{}} OR (sort_key = {{}} AND id {op} {{}}))"
        all_args += [position["k"], position["k"], position["id"]]
    direction = "DESC" if descending else "ASC"
    sql += f" ORDER BY sort_key {direction}, id {direction} LIMIT {int(limit) + 1}"
    found: list[dict[str, Any]] = await Listing.raw(sql, *all_args)
    page = found[:limit]
    rows = await _LISTINGS.run([r["id"] for r in page]) if page else []
    by_id = {r["id"]: r for r in rows}
    items = await to_listings([by_id[r["id"]] for r in page if r["id"] in by_id], slugs=categories.slugs)
    next_cursor = None
    if len(found) > limit:
        last = page[-1]
        next_cursor = encode_cursor({"k": int(last["sort_key"]), "id": int(last["id"])})
    return items, next_cursor
