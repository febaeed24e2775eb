"""Browse and full-text search of published listings.

Full text: SQLite uses an external-content FTS5 table (``core_listing_fts``, porter
stemming, kept in sync by triggers); PostgreSQL a generated ``tsvector`` column
(``core_listing.search_vector``, English stemming, title weighted above description)
with a GIN index.  Both are created by the area's raw migration.

Pagination is keyset: the cursor holds the integer sort key of the last item and its
id, so pages never repeat or skip a listing even when many share a price.

A page is one statement (two when a filtered browse's walk finds too few, see
:func:`browse`): the page's listings with their owners' display fields, their
categories' slugs and the rating summaries stored on each row.  A ``category`` filter
uses the category tree the process keeps (:func:`agorakit.catalog.service.load_category_tree`);
the page's statement also reads the tree's version, and a page read with an outdated
tree whose filtered sub-tree changed is read again with the current one.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec

from agorakit.catalog import service
from agorakit.catalog.kinds import unlisted_kinds
from agorakit.catalog.listings import CATEGORY_SLUG, SELLER_COUNTRY, SELLER_NAME, to_listings
from agorakit.catalog.schemas import ListingOut
from agorakit.catalog.tables import Listing
from agorakit.db.prepared import Prepared, any_of
from agorakit.errors import FieldError, ValidationFailed
from agorakit.pagination import decode_cursor, page
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


#: How many listings a filtered browse reads in the sort's order before it looks its
#: matches up instead.  A filter most listings pass (a big category, the site's currency)
#: fills a page within the first few dozen; one that few pass would otherwise be tested on
#: every listing — the planners cannot tell which from their statistics (at 1M listings:
#: ``kind=campaign`` among gigs 1.4 s on SQLite, ``currency=EUR`` 1.0 s and
#: ``max_price=5.01&sort=newest`` 1.0 s on PostgreSQL).  See docs/listings.md.
WALK = 1000

#: the columns the filters read, under their own names, for the walk's outer query
_WALK_COLUMNS = (
    "l.kind AS kind, l.category_id AS category_id, l.owner_id AS owner_id, "
    "l.countries AS countries, l.currency AS currency, l.price AS price"
)

#: what a page's rows carry: the listing's columns that its view shows (see
#: :func:`agorakit.catalog.listings.to_listings`), its owner's display fields and its
#: category's slug
_PAGE_COLUMNS = ", ".join(
    [
        f"l.{column} AS {column}"
        for column in (
            "id kind owner_id category_id title description price currency attributes status "
            "rejection_reason created_at updated_at submitted_at published_at "
            "seller_rating_count seller_rating_sum rating_count rating_sum"
        ).split()
    ]
    + [f"m.display_name AS {SELLER_NAME}", f"m.country AS {SELLER_COUNTRY}", f"c.slug AS {CATEGORY_SLUG}"]
)

#: How many times a page is read again when the category tree changed while it was read
#: (each time with the tree read just before); a tree changing faster than that gets the
#: last page read.
TREE_RETRIES = 3


def _page_sql(found: str) -> str:
    """One statement for a page: the category tree's version, and the rows of ``found``
    (a query of ``id`` and ``sort_key``) with their listings, owners and categories.

    The version comes first and the rest is joined to it, so that an empty page reads it
    too (one row with null listing columns).  The rows come in no particular order:
    :func:`_read` sorts them."""
    return (
        f"SELECT v.tree_version AS tree_version, p.sort_key AS sort_key, {_PAGE_COLUMNS} "
        f"FROM (SELECT {service.CATEGORY_TREE_VERSION} AS tree_version) v "
        f"LEFT JOIN ({found}) p ON 1 = 1 "
        "LEFT JOIN core_listing l ON l.id = p.id "
        "LEFT JOIN core_member m ON m.id = l.owner_id "
        "LEFT JOIN core_category c ON c.id = l.category_id"
    )


class _Found(msgspec.Struct):
    """A page's rows (and one more), sorted, and the category tree's version they were
    read at (None: no statement read them, e.g. a search engine found nothing)."""

    rows: list[dict[str, Any]]
    tree_version: int | None


async def _read(sql: str, args: list[Any], *, descending: bool) -> _Found:
    """Run a :func:`_page_sql` statement: its rows in the page's order (by sort key, then id)."""
    found: list[dict[str, Any]] = await Listing.raw(sql, *args)
    rows = [row for row in found if row["id"] is not None]
    for row in rows:
        if isinstance(row["attributes"], str):  # JSON text from the raw driver
            row["attributes"] = msgspec.json.decode(row["attributes"])
    rows.sort(key=lambda r: (r["sort_key"], r["id"]), reverse=descending)
    return _Found(rows, int(found[0]["tree_version"]))


def _shown(runtime: Runtime, kind: str | None) -> tuple[str, list[Any]] | None:
    """The condition that leaves out the kinds only eligible members see (None when the
    site has none, or when the request's ``kind`` filter already does)."""
    unlisted = unlisted_kinds(runtime)
    if not unlisted or kind:
        return None
    return f"l.kind NOT IN ({', '.join('{}' for _ in unlisted)})", list(unlisted)


async def _walk(
    key: str,
    op: str,
    direction: str,
    position: dict[str, Any] | None,
    filters: list[tuple[str, list[Any], bool]],
    limit: int,
    shown: tuple[str, list[Any]] | None,
) -> _Found | None:
    """The page (and one more) from the first :data:`WALK` published listings after the
    cursor in the sort's order, or None when they hold no more than a page: then the
    rest of the table may hold more, and only the matches-first query can tell.

    The walk reads the sort's index in order and stops as soon as the page is full.  The
    query around it has no ORDER BY of its own: it streams the walk's rows in their order
    (a sort there would read all of them first); the page is sorted in Python.
    """
    walk_where, walk_args = "l.status = 'published'", []
    if shown is not None:
        walk_where += f" AND {shown[0]}"
        walk_args += shown[1]
    if position is not None:
        # a row value: both engines start the index scan at the cursor
        walk_where += f" AND ({key}, l.id) {op} ({{}}, {{}})"
        walk_args += [position["k"], position["id"]]
    walk = (
        f"SELECT l.id AS id, {key} AS sort_key, {_WALK_COLUMNS} FROM core_listing l WHERE {walk_where} "
        f"ORDER BY {key} {direction}, l.id {direction} LIMIT {WALK}"
    )
    conditions = " AND ".join(condition for condition, _, _ in filters)
    values = [value for _, vs, _ in filters for value in vs]
    found = f"SELECT id, sort_key FROM ({walk}) AS l WHERE {conditions} LIMIT {int(limit) + 1}"
    walked = await _read(_page_sql(found), [*walk_args, *values], descending=direction == "DESC")
    return walked if len(walked.rows) > limit else None


def _filters(
    runtime: Runtime,
    kept: service.KeptTree | None,
    *,
    kind: str | None,
    category: str | None,
    owner: int | None,
    country: str | None,
    currency: str | None,
    min_price: int | None,
    max_price: int | None,
) -> list[tuple[str, list[Any], bool]]:
    """(condition, values, rare on SQLite): the filters.  SQLite keeps only an average count
    per value (no histogram), so it takes a kind or a currency that few listings have to
    be as common as the others, and guesses at price ranges; after a short walk (see
    :func:`browse`) it is told that they are rare, which at worst makes it read that
    kind's, currency's or price range's listings through their index.  Owners and
    categories have enough distinct values for its averages to be right."""
    filters: list[tuple[str, list[Any], bool]] = []
    if kind:
        filters.append(("l.kind = {}", [kind], True))
    if category:
        assert kept is not None
        ids = kept.index.descendants(kept.index.id_of(category))
        filters.append((f"l.category_id IN ({', '.join(str(int(i)) for i in ids)})", [], False))
    if owner is not None:
        filters.append(("l.owner_id = {}", [owner], False))
    if country:
        filters.append(("(l.countries = '' OR l.countries LIKE {})", [f"%,{country.upper()},%"], False))
    if currency:
        # the site's own currency is the common one (a price filter implies it)
        filters.append(("l.currency = {}", [currency], currency != runtime.settings.site.currency))
    if min_price is not None:
        filters.append(("l.price >= {}", [min_price], True))
    if max_price is not None:
        filters.append(("l.price <= {}", [max_price], True))
    return filters


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
    """Published listings matching every filter given (never those of the kinds only
    eligible members see: see :class:`agorakit.catalog.kinds.ListingKind`).

    Statements: one, with the page's listings, their owners, categories and stored
    ratings; a filtered browse whose walk of :data:`WALK` listings finds no more than a
    page runs its lookup as a second.  A search ranked by a search engine plugin runs one
    per slice of its ranking (one unless filters drop most of the first slice).  Only a
    ``category`` filter needs the kept category tree: reading it costs one more statement
    the first time in a process, when the category is not in it (one created since), and
    after a change of the tree, which the page's own statement shows (its version); the
    page is then read again only when the filtered category's sub-tree changed.
    """
    postgres = runtime.db.is_postgres
    sort = sort or ("relevance" if q else "newest")
    joins, where, args = "", ["l.status = 'published'"], []
    shown = _shown(runtime, kind)
    if shown is not None:
        where.append(shown[0])
        args.extend(shown[1])
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
    kept: service.KeptTree | None = None
    if category:
        kept = service.kept_category_tree(runtime)
        if kept is None or category not in kept.index.ids:  # not read yet, or a category created since
            kept = await service.load_category_tree(runtime)
        kept.index.id_of(category)  # 422 for an unknown category
    if kind and kind in unlisted_kinds(runtime):
        return [], None  # only eligible members see this kind's listings, one by one
    ranked = sort == "relevance" and runtime.hooks.implementations("agorakit_rank_listings")
    attempts = 0
    while True:
        filters = _filters(
            runtime,
            kept,
            kind=kind,
            category=category,
            owner=owner,
            country=country,
            currency=currency,
            min_price=min_price,
            max_price=max_price,
        )
        keys = ("r", "id")
        found = await _ranked(runtime, words, filters, cursor, limit) if ranked else None
        if found is None:
            keys = ("k", "id")
            position = decode_cursor(cursor, keys=keys)
            found = await _sorted(
                postgres=postgres,
                key=key,
                descending=descending,
                sort=sort,
                words=words,
                joins=joins,
                where=where,
                args=args,
                key_args=key_args,
                filters=filters,
                shown=shown,
                position=position,
                limit=limit,
            )
        if kept is None or found.tree_version in (None, kept.version) or attempts == TREE_RETRIES:
            break
        attempts += 1
        # The tree changed since this process read it: read it again; the page stands
        # when the category's subtree is the same (another category changed), else it is
        # read again with the new one.
        used = kept.index.descendants(kept.index.id_of(category or ""))
        kept = await service.load_category_tree(runtime)
        if found.tree_version == kept.version and (
            category in kept.index.ids
            and set(kept.index.descendants(kept.index.id_of(category))) == set(used)
        ):
            break
        kept.index.id_of(category or "")  # a category renamed or removed since is a 422 now
    shown_rows, next_cursor = page(
        found.rows, limit, lambda r: {keys[0]: int(r["sort_key"]), keys[1]: int(r["id"])}
    )
    return await to_listings(shown_rows), next_cursor


async def _sorted(
    *,
    postgres: bool,
    key: str,
    descending: bool,
    sort: str,
    words: list[str],
    joins: str,
    where: list[str],
    args: list[Any],
    key_args: list[Any],
    filters: list[tuple[str, list[Any], bool]],
    shown: tuple[str, list[Any]] | None,
    position: dict[str, Any] | None,
    limit: int,
) -> _Found:
    """The page (and one more) in the sort's order, ranked by the database for a search:
    a filtered browse walks first (:func:`_walk`), else (or when the walk finds too few)
    the matches are found first, then sorted."""
    op, direction = ("<", "DESC") if descending else (">", "ASC")
    if filters and not words:
        walked = await _walk(key, op, direction, position, filters, limit, shown)
        if walked is not None:
            return walked
    where, args = list(where), list(args)
    for condition, values, misjudged in filters:
        if misjudged and not postgres and not words:
            # the matches are few among the newest WALK: look them up by the index
            condition = f"likelihood({condition}, 0.001)"
        where.append(condition)
        args.extend(values)
    if position is not None and sort != "relevance":
        # A row value, which both engines turn into where the index scan starts (the
        # form ``k < x OR (k = x AND id < y)`` made them read every listing before
        # the cursor: a page deep in the list took up to 1.7 s at 1M listings).
        where.append(f"({key}, l.id) {op} ({{}}, {{}})")
        args += [position["k"], position["id"]]
    inner = f"SELECT l.id AS id, {key} AS sort_key FROM core_listing l{joins} WHERE {' AND '.join(where)}"
    if postgres and (words or filters):
        # Matches first, then their order.  Without this fence PostgreSQL may walk
        # the sort's index testing every listing: it guesses that 0.5% of the
        # listings hold a word it has no statistics for, so for a rare word it read
        # the whole table (1.25 s at 1M listings, against 6 ms through the full-text
        # index); a filter that matched few of the newest listings lands here too.
        # A search costs what its matches cost.
        inner += " OFFSET 0"
    sql = f"SELECT id, sort_key FROM ({inner}) AS found"
    all_args = key_args + args
    if position is not None and sort == "relevance":  # the score is computed per match
        sql += f" WHERE (sort_key, id) {op} ({{}}, {{}})"
        all_args += [position["k"], position["id"]]
    sql += f" ORDER BY sort_key {direction}, id {direction} LIMIT {int(limit) + 1}"
    return await _read(_page_sql(sql), all_args, descending=descending)


#: the first slice of a search engine's ranking a page asks for (a few pages' worth, so
#: that filters dropping part of it still fill the page); each further slice is 4x larger
FIRST_SLICE = 100
#: how deep into a search engine's ranking pages go (as search engines cap their result
#: windows): a page that would start, or have to look, beyond it ends there
RANK_DEPTH = 100_000


async def _ranked(
    runtime: Runtime,
    words: list[str],
    filters: list[tuple[str, list[Any], bool]],
    cursor: str | None,
    limit: int,
) -> _Found | None:
    """The page (and one more) from a search engine plugin's ranking
    (``agorakit_rank_listings``): its slices, kept in their order where the database says
    the listing is published and passes every filter.  ``sort_key`` is the position in
    the ranking (the cursor's ``r``).  None when no plugin ranks this search (the
    database does)."""
    position = decode_cursor(cursor, keys=("r", "id"))
    if position is not None and position["r"] < 0:
        raise ValidationFailed(
            [FieldError("cursor", "not a cursor from this list; start without one", "query")]
        )
    start = position["r"] + 1 if position is not None else 0
    want = limit + 1
    size, offset = max(FIRST_SLICE, 4 * want), start
    found: list[dict[str, Any]] = []
    seen: set[int] = set()
    versions: set[int | None] = set()
    while len(found) < want and offset < RANK_DEPTH:
        size = min(size, RANK_DEPTH - offset)
        ranked = await runtime.hooks.first(
            "agorakit_rank_listings", runtime=runtime, words=words, offset=offset, limit=size
        )
        if ranked is None:
            if position is None and offset == start:
                return None
            break
        ids = [int(i) for i in ranked[:size]]
        places: dict[int, int] = {}
        for place, listing_id in enumerate(ids, start=offset):
            if listing_id not in seen:
                places.setdefault(listing_id, place)
        if places:
            kept = await _listed(runtime, list(places), filters, want - len(found))
            versions.add(kept.tree_version)
            for row in kept.rows:
                row["sort_key"] = places[row["id"]]
            found += kept.rows
            seen.update(row["id"] for row in kept.rows)
        if len(ids) < size:
            break  # the ranking ends here
        offset += size
        size *= 4
    # slices read at different versions of the tree: one was read with an outdated one
    return _Found(found, versions.pop() if len(versions) == 1 else -1 if versions else None)


async def _listed(
    runtime: Runtime, ids: list[int], filters: list[tuple[str, list[Any], bool]], wanted: int
) -> _Found:
    """The first ``wanted`` of ``ids`` (in their order) that are published and pass every
    filter, as page rows; ``sort_key`` is their place in ``ids``."""
    if runtime.db.is_postgres:
        ranked = "unnest(CAST({} AS BIGINT[])) WITH ORDINALITY AS r(id, place)"
        listed: Any = ids
    else:
        ranked = "(SELECT CAST(value AS INTEGER) AS id, key AS place FROM json_each({})) AS r"
        listed = json.dumps(ids)
    conditions = ["l.status = 'published'"] + [c for c, _, _ in filters]
    values = [value for _, vs, _ in filters for value in vs]
    shown = _shown(runtime, None)
    if shown is not None:
        conditions.append(shown[0])
        values += shown[1]
    found = (
        f"SELECT l.id AS id, r.place AS sort_key FROM {ranked} JOIN core_listing l ON l.id = r.id "
        f"WHERE {' AND '.join(conditions)} ORDER BY r.place LIMIT {int(wanted)}"
    )
    return await _read(_page_sql(found), [listed, *values], descending=False)


# --------------------------------------------------------------------------------------
# What a search engine plugin indexes
# --------------------------------------------------------------------------------------

_TEXTS = Prepared(
    lambda ids: Listing.select(
        Listing.id, Listing.title, Listing.description, Listing.status, Listing.kind
    ).where(any_of(Listing.id, ids))
)


async def listing_texts(runtime: Runtime, listing_ids: list[int]) -> list[dict[str, Any]]:
    """``id``, ``title``, ``description``, ``status`` and ``listed`` of the listings given
    (those that exist, in no particular order): what a search index keeps of them.
    ``listed`` is whether the listing belongs in a search index: published, and of a kind
    everyone sees (not ``visible_to="eligible"``)."""
    if not listing_ids:
        return []
    unlisted = unlisted_kinds(runtime)
    rows = await _TEXTS.run(listing_ids)
    for row in rows:
        row["listed"] = row["status"] == "published" and row.pop("kind") not in unlisted
    return rows


async def published_listing_texts(runtime: Runtime, *, after: int, limit: int) -> list[dict[str, Any]]:
    """``id``, ``title`` and ``description`` of up to ``limit`` published listings with ids
    above ``after``, by id, leaving out the kinds only eligible members see: a search index
    is rebuilt by walking them."""
    query = Listing.select(Listing.id, Listing.title, Listing.description).where(
        (Listing.status == "published") & (Listing.id > after)
    )
    unlisted = unlisted_kinds(runtime)
    if unlisted:
        query = query.where(Listing.kind.not_in(list(unlisted)))
    return await query.order_by(Listing.id).limit(limit)
