"""Browse and full-text search of published listings, on both engines."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from unittest import mock

import pytest
from catalog_helpers import CatalogTestPlugin, gig, make_categories, publish


@pytest.fixture
def extra_plugins():
    return [("catalog-test", CatalogTestPlugin())]


@pytest.fixture
async def people(client, make_member):
    operator, seller, other = await make_member(role="operator"), await make_member(), await make_member()
    await make_categories(client, operator)
    return operator, seller, other


def ids(response) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


@contextlib.contextmanager
def browse_statements() -> Iterator[list[tuple[str, tuple]]]:
    """The statements (SQL, values) run through ``Listing.raw`` inside the block: the
    browse's own queries."""
    from agorakit.catalog.tables import Listing

    statements: list[tuple[str, tuple]] = []
    raw = Listing.raw.__func__

    def recording(cls, sql, *args):
        statements.append((sql, args))
        return raw(cls, sql, *args)

    with mock.patch.object(Listing, "raw", classmethod(recording)):
        yield statements


async def plan_of(db_kind: str, statement: tuple[str, tuple]) -> str:
    """The query plan of a recorded statement, as one line."""
    from agorakit.catalog.tables import Listing

    sql, args = statement
    explain = "EXPLAIN " if db_kind == "postgres" else "EXPLAIN QUERY PLAN "
    return " ".join(str(value) for row in await Listing.raw(explain + sql, *args) for value in row.values())


async def test_search_ranks_title_matches_first_and_hides_drafts(client, people, clock):
    operator, seller, _ = people
    in_description = await publish(
        client,
        seller,
        operator,
        title="Brand identity pack",
        description="Includes a watercolor logo and cards.",
    )
    clock.advance(minutes=1)
    in_title = await publish(
        client,
        seller,
        operator,
        title="Watercolor logo painting",
        description="Hand painted, scanned in high resolution.",
    )
    clock.advance(minutes=1)
    minimalist = await publish(
        client, seller, operator, title="Minimalist logo", description="Clean vector lines."
    )
    draft = await client.post(
        "/listings",
        json=gig(title="Watercolor portrait", description="watercolor watercolor"),
        headers=seller.headers,
    )
    pending = await client.post("/listings", json=gig(title="Watercolor landscape"), headers=seller.headers)
    await client.post(f"/listings/{pending.json()['id']}/submit", headers=seller.headers)

    # Title weighs more than description; drafts and pending listings never appear.
    assert ids(await client.get("/listings", params={"q": "watercolor"})) == [
        in_title["id"],
        in_description["id"],
    ]
    assert draft.json()["id"] not in ids(await client.get("/listings", params={"q": "portrait"}))
    # Every word must match; stemming finds "painted" for "painting"; case does not matter.
    assert ids(await client.get("/listings", params={"q": "WATERCOLOR cards"})) == [in_description["id"]]
    assert ids(await client.get("/listings", params={"q": "paints"})) == [in_title["id"]]
    assert ids(await client.get("/listings", params={"q": "nothing-like-this"})) == []
    # Search text with FTS syntax characters is just words.
    assert ids(await client.get("/listings", params={"q": '"logo" (vector*'})) == [minimalist["id"]]
    # An edit is searchable once re-approved.
    edited = await client.patch(
        f"/listings/{in_description['id']}",
        json={"description": "Business cards only."},
        headers=seller.headers,
    )
    assert edited.json()["status"] == "pending_review"
    await client.post(f"/operator/listings/{in_description['id']}/approve", headers=operator.headers)
    assert ids(await client.get("/listings", params={"q": "watercolor"})) == [in_title["id"]]


async def test_browse_filters(client, people, clock, problem):
    operator, seller, other = people
    logo = await publish(client, seller, operator)
    clock.advance(minutes=1)
    writing = await publish(
        client,
        other,
        operator,
        category="writing",
        title="Blog posts",
        price={"amount": "50.00", "currency": "USD"},
    )
    clock.advance(minutes=1)
    offer = await publish(
        client,
        seller,
        operator,
        kind="offer",
        attributes={},
        category="design",
        price={"amount": "5.00", "currency": "USD"},
    )
    clock.advance(minutes=1)
    uk_only = await publish(
        client, other, operator, attributes={"delivery_days": 1, "countries": ["GB", "IE"]}
    )
    await client.post("/listings", json=gig(), headers=seller.headers)  # a draft

    assert ids(await client.get("/listings")) == [uk_only["id"], offer["id"], writing["id"], logo["id"]]
    assert ids(await client.get("/listings", params={"kind": "offer"})) == [offer["id"]]
    # A category includes its sub-categories.
    assert ids(await client.get("/listings", params={"category": "design"})) == [
        uk_only["id"],
        offer["id"],
        logo["id"],
    ]
    assert ids(await client.get("/listings", params={"category": "logo-design"})) == [
        uk_only["id"],
        logo["id"],
    ]
    assert ids(await client.get("/listings", params={"owner": other.id})) == [uk_only["id"], writing["id"]]
    assert ids(await client.get("/listings", params={"country": "US"})) == [
        offer["id"],
        writing["id"],
        logo["id"],
    ]
    assert ids(await client.get("/listings", params={"country": "gb"})) == [
        uk_only["id"],
        offer["id"],
        writing["id"],
        logo["id"],
    ]
    assert ids(await client.get("/listings", params={"min_price": "10", "max_price": "30.00"})) == [
        uk_only["id"],
        logo["id"],
    ]
    assert ids(await client.get("/listings", params={"sort": "price_asc"})) == [
        offer["id"],
        logo["id"],
        uk_only["id"],
        writing["id"],
    ]
    assert ids(await client.get("/listings", params={"sort": "price_desc"}))[0] == writing["id"]
    assert ids(await client.get("/listings", params={"sort": "rating"}))[0] == uk_only["id"]
    first = (await client.get("/listings")).json()["items"][0]
    assert first["seller"]["rating"] == {"average": None, "count": 0}
    assert first["price"] == {"amount": "25.00", "currency": "USD"}

    problem(
        await client.get("/listings", params={"min_price": "ten"}),
        422,
        "validation_error",
        fields={"min_price"},
    )
    problem(
        await client.get("/listings", params={"category": "nope"}),
        422,
        "validation_error",
        fields={"category"},
    )
    problem(await client.get("/listings", params={"sort": "cheapest"}), 422, "validation_error")
    problem(
        await client.get("/listings", params={"sort": "relevance"}), 422, "validation_error", fields={"sort"}
    )
    problem(await client.get("/listings", params={"q": "!!!"}), 422, "validation_error", fields={"q"})
    problem(
        await client.get("/listings", params={"cursor": "bogus"}), 422, "validation_error", fields={"cursor"}
    )


@pytest.mark.parametrize("sort", ["price_asc", "price_desc", "newest"])
async def test_pagination_has_no_duplicates_or_gaps_with_equal_prices(client, people, clock, sort):
    operator, seller, _ = people
    expected = []
    for n in range(7):
        price = "10.00" if n % 3 else "20.00"  # many equal prices
        listing = await publish(
            client,
            seller,
            operator,
            kind="offer",
            attributes={},
            title=f"Offer {n}",
            price={"amount": price, "currency": "USD"},
        )
        expected.append(listing["id"])
        if n % 2:
            clock.advance(seconds=1)  # and equal publication times
    seen, cursor = [], None
    for _ in range(10):
        params = {"sort": sort, "limit": 3, **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/listings", params=params)).json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen)) == 7
    assert seen == ids(await client.get("/listings", params={"sort": sort, "limit": 100}))


async def test_search_pagination_is_stable(client, people):
    operator, seller, _ = people
    expected = []
    for n in range(5):
        listing = await publish(
            client,
            seller,
            operator,
            kind="offer",
            attributes={},
            title=f"Vintage lamp {n}",
            description="vintage",
        )
        expected.append(listing["id"])
    seen, cursor = [], None
    for _ in range(10):
        params = {"q": "vintage", "limit": 2, **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/listings", params=params)).json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(expected) and len(set(seen)) == 5


def _postgres_only(db_kind: str) -> None:
    if db_kind != "postgres":
        pytest.skip("a PostgreSQL connection setting")


async def test_postgres_queries_start_no_parallel_workers_by_default(runtime, db_kind):
    """A rare search word at 1M listings: a generic plan guessing thousands of matches
    started two parallel workers for every search (7 ms instead of 0.1 ms)."""
    _postgres_only(db_kind)
    rows = [dict(r) for r in await runtime.db.engine.run_ddl("SHOW max_parallel_workers_per_gather")]
    assert rows == [{"max_parallel_workers_per_gather": "0"}]
    async with runtime.unit_of_work():  # transactions use the same pool
        rows = [dict(r) for r in await runtime.db.engine.run_ddl("SHOW max_parallel_workers_per_gather")]
    assert rows == [{"max_parallel_workers_per_gather": "0"}]


class TestParallelWorkersSetting:
    @pytest.fixture
    def site_config(self):
        return {"database": {"postgres_parallel_workers": 2}}

    async def test_a_site_can_allow_parallel_workers(self, runtime, db_kind):
        _postgres_only(db_kind)
        rows = [dict(r) for r in await runtime.db.engine.run_ddl("SHOW max_parallel_workers_per_gather")]
        assert rows == [{"max_parallel_workers_per_gather": "2"}]


@pytest.mark.postgres_only("the plan PostgreSQL's planner picks for a sorted search")
async def test_a_sorted_search_for_a_rare_word_reads_its_matches_not_the_table(
    client, people, runtime, db_kind
):
    """PostgreSQL guesses that 0.5% of the listings hold a word it has no statistics for,
    and for a search sorted by newest or price it then walked the sort's index, testing
    every listing: for a rare word, the whole table (1.25 s at 1M listings).  A search
    must find its matches first (the full-text index) whatever its sort."""
    operator, seller, _ = people
    rare = await publish(client, seller, operator, title="Zephyr logo", description="A breeze.")
    # 20,000 more published listings from a handful of words: enough for the planner to
    # prefer the ordered index when nothing stops it (checked: it did before the fix).
    await runtime.db.engine.run_ddl(
        "INSERT INTO core_listing (kind, owner_id, category_id, title, description, price, currency, "
        "attributes, countries, status, screening_flags, created_at, updated_at, published_at, published_us) "
        f"SELECT 'gig', owner_id, category_id, 'Listing ' || (g % 7), 'Words.', 500 + g, 'USD', '{{}}', '', "
        "'published', '[]', now(), now(), now(), published_us + g "
        f"FROM core_listing, generate_series(1, 20000) g WHERE id = {int(rare['id'])}"
    )
    await runtime.db.engine.run_ddl("ANALYZE core_listing")
    for sort in ("newest", "price_asc", "price_desc", "relevance"):
        with browse_statements() as statements:
            found = await client.get("/listings", params={"q": "zephyr", "sort": sort})
        assert ids(found) == [rare["id"]], sort
        plan = await plan_of(db_kind, next(st for st in statements if "core_listing" in st[0]))
        # The full-text index or, the table being small, a sequential scan: never the
        # sort's own index (newest: core_listing_published, price: core_listing_price).
        assert "core_listing_published" not in plan and "core_listing_price" not in plan, (sort, plan)


async def _walk_pages(client, params: dict) -> list[int]:
    seen, cursor = [], None
    for _ in range(50):
        query = {**params, "limit": 1, **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/listings", params=query)).json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError(f"no last page for {params}")


async def test_a_filtered_browse_reads_the_sort_order_first_then_looks_its_matches_up(
    client, people, clock, monkeypatch
):
    """A filtered browse walks at most ``WALK`` listings in the sort's order and, when
    they hold no more than a page, asks for the matches instead: every page must be what
    the filters and the sort say, whichever way it was found, and pages never repeat or
    skip a listing."""
    from agorakit.catalog import search

    operator, seller, other = people
    made = []
    for n in range(8):
        listing = await publish(
            client,
            (seller, other)[n % 2],
            operator,
            kind=("gig", "offer")[n % 3 == 0],
            **({"attributes": {}} if n % 3 == 0 else {}),
            category=("logo-design", "writing", "design")[n % 3],
            title=f"Listing {n}",
            price={"amount": f"{5 + (n * 7) % 20}.00", "currency": "USD"},
        )
        made.append(listing)
        clock.advance(minutes=1)
    cases = [
        {"kind": "offer"},
        {"kind": "gig", "sort": "price_asc"},
        {"category": "design"},
        {"category": "writing", "sort": "price_desc"},
        {"owner": other.id, "sort": "rating"},
        {"max_price": "12.00"},
        {"min_price": "10.00", "kind": "gig", "sort": "price_asc"},
        {"currency": "USD", "owner": seller.id},
        {"country": "GB"},
        {"kind": "nothing-like-this"},
    ]
    for params in cases:
        # one page of 100 holds them all: the walk never fills it, the lookup answers
        expected = ids(await client.get("/listings", params={**params, "limit": 100}))
        for walk in (1000, 2, 1):
            monkeypatch.setattr(search, "WALK", walk)
            assert await _walk_pages(client, params) == expected, (params, walk)
    # The filters themselves (checked against the listings made above).
    offers = [x["id"] for x in reversed(made) if x["kind"] == "offer"]
    assert ids(await client.get("/listings", params={"kind": "offer", "limit": 100})) == offers
    assert len(offers) == 3


async def test_the_lookup_after_a_short_walk_uses_the_filters_index(client, people, runtime, db_kind):
    """When the newest listings hold no match (a kind, a currency or a price few listings
    have), the matches are looked up by the filter's index, not by testing every listing
    in the sort's order — on SQLite, whose statistics keep only an average count per
    value, a hint says so (``likelihood``)."""
    from agorakit.catalog import search

    operator, seller, _ = people
    old = await publish(
        client,
        seller,
        operator,
        kind="offer",
        attributes={},
        title="An old offer",
        price={"amount": "5.00", "currency": "USD"},
    )
    await copies(runtime, db_kind, old["id"], 20_000)
    cases = {
        "kind": ({"kind": "offer"}, "core_listing_kind"),
        "currency": ({"currency": "EUR"}, "core_listing_currency"),
        "price": ({"max_price": "10.00"}, "core_listing_price"),
    }
    for name, (params, index) in cases.items():
        with browse_statements() as statements:
            found = ids(await client.get("/listings", params=params))
        assert found == ([] if name == "currency" else [old["id"]]), name
        walk, lookup = [st for st in statements if "core_listing l" in st[0]]
        assert f"LIMIT {search.WALK}" in walk[0], name  # the walk, then the lookup
        plan = await plan_of(db_kind, lookup)
        assert index in plan and "core_listing_published" not in plan, (name, plan)


async def copies(runtime, db_kind: str, listing_id: int, count: int) -> None:
    """``count`` published gigs in dollars copied from one listing, each newer and dearer
    than the last (prices from 50.01), by SQL; then fresh statistics."""
    numbers = (
        f"generate_series(1, {count}) g(n)"
        if db_kind == "postgres"
        else f"(WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {count}) SELECT n FROM g) g"
    )
    await runtime.db.engine.run_ddl(
        "INSERT INTO core_listing (kind, owner_id, category_id, title, description, price, currency, "
        "attributes, countries, status, screening_flags, created_at, updated_at, published_at, published_us) "
        "SELECT 'gig', owner_id, category_id, 'Listing', 'Words.', 5000 + n, 'USD', attributes, '', "
        "'published', '[]', created_at, updated_at, published_at, published_us + n "
        f"FROM core_listing, {numbers} WHERE id = {int(listing_id)}"
    )
    await runtime.db.engine.run_ddl("ANALYZE")


async def test_a_page_deep_in_the_list_starts_the_index_scan_at_its_cursor(client, people, runtime, db_kind):
    """The cursor is a row value, ``(key, id) < (k, i)``, which both engines turn into
    where the index scan starts; ``k < x OR (k = x AND id < y)`` made them read every
    listing before the cursor (up to 1.7 s for a page deep in a million listings)."""
    operator, seller, _ = people
    first = await publish(client, seller, operator, title="The first")
    await copies(runtime, db_kind, first["id"], 20_000)
    for params in ({"sort": "newest"}, {"sort": "price_asc", "category": "design"}):
        page = (await client.get("/listings", params={**params, "limit": 100})).json()
        for _ in range(3):  # a few pages down
            page = (
                await client.get("/listings", params={**params, "limit": 100, "cursor": page["next_cursor"]})
            ).json()
        with browse_statements() as statements:
            deeper = await client.get(
                "/listings", params={**params, "limit": 100, "cursor": page["next_cursor"]}
            )
        assert len(deeper.json()["items"]) == 100
        plan = await plan_of(db_kind, next(st for st in statements if "core_listing l" in st[0]))
        started = "ROW(" in plan if db_kind == "postgres" else ("published_us<" in plan or "price>" in plan)
        assert started, (params, plan)


@contextlib.contextmanager
def statements_run(runtime) -> Iterator[list[str]]:
    """Every statement the runtime's engine runs inside the block (as ``bench.capture`` records them)."""
    engine = runtime.db.engine
    cls, found = type(engine), []
    original = cls.run_querystring

    async def run_querystring(self, querystring, in_pool=True):
        found.append(querystring.compile_string(engine_type=self.engine_type)[0])
        return await original(self, querystring, in_pool=in_pool)

    with mock.patch.object(cls, "run_querystring", run_querystring):
        yield found


async def test_a_page_is_one_statement_with_sellers_categories_and_ratings(client, people, runtime):
    """Each listing of a page carries its seller's current display fields, its category's
    slug and its ratings, all read in the page's one statement; a name changed a moment
    ago shows at once."""
    operator, seller, other = people
    logo = await publish(client, seller, operator)
    writing = await publish(client, other, operator, category="writing", title="Blog posts")
    renamed = await client.patch(
        "/me", json={"display_name": "Sam Renamed", "country": "GB"}, headers=seller.headers
    )
    assert renamed.status_code == 200, renamed.text
    # one statement; two for a filter (the walk of the newest listings finds too few here)
    for params, count in (
        ({}, 1),
        ({"sort": "price_asc"}, 1),
        ({"q": "logo"}, 1),
        ({"sort": "rating"}, 1),
        ({"owner": seller.id}, 2),
    ):
        with statements_run(runtime) as statements:
            items = (await client.get("/listings", params=params)).json()["items"]
        assert len(statements) == count, (params, statements)
        by_id = {item["id"]: item for item in items}
        assert by_id[logo["id"]]["seller"] == {
            "id": seller.id,
            "display_name": "Sam Renamed",
            "country": "GB",
            "rating": {"average": None, "count": 0},
        }, params
        assert by_id[logo["id"]]["category"] == "logo-design"
        if writing["id"] in by_id:
            assert by_id[writing["id"]]["category"] == "writing"
            assert by_id[writing["id"]]["seller"]["display_name"] == other.member.display_name
    # the listing's own page shows the same
    assert (await client.get(f"/listings/{logo['id']}")).json()["seller"]["display_name"] == "Sam Renamed"


async def test_the_kept_category_tree_follows_changes_made_elsewhere(client, people, runtime, problem):
    """A process keeps the category tree for browsing and reads its version in each page's
    statement.  A change made where this process hears nothing of it (here by SQL, as
    another process or host would: no event, no call) is seen by the next page: a new
    sub-category's listings, a renamed slug (the old one is a 422 from then on), a
    category moved elsewhere.  Pages in between read no tree."""
    from agorakit.catalog.tables import Listing

    operator, seller, _ = people
    logo = await publish(client, seller, operator)  # in logo-design, below design
    writing = await publish(client, seller, operator, category="writing", title="Blog posts")

    def ids_of(response) -> list[int]:
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    def reads(statements: list[str]) -> list[str]:
        """Each statement as "tree" or "page" (a page here: the walk, then the lookup)."""
        assert all(s.startswith("SELECT v.") for s in statements), statements
        return ["tree" if s.startswith("SELECT v.version AS version") else "page" for s in statements]

    with statements_run(runtime) as statements:
        assert ids_of(await client.get("/listings", params={"category": "design"})) == [logo["id"]]
    assert reads(statements) == ["tree", "page", "page"]  # the tree, read once by this process
    with statements_run(runtime) as statements:
        assert ids_of(await client.get("/listings", params={"category": "design"})) == [logo["id"]]
    assert reads(statements) == ["page", "page"]

    # elsewhere: a new category below design, and the blog posts moved into it
    engine = runtime.db.engine
    await engine.run_ddl(
        "INSERT INTO core_category (slug, name, parent_id, position, created_at) "
        "SELECT 'blogs', 'Blogs', id, 0, created_at FROM core_category WHERE slug = 'design'"
    )
    await Listing.raw(
        "UPDATE core_listing SET category_id = (SELECT id FROM core_category WHERE slug = 'blogs') WHERE id = {}",
        writing["id"],
    )
    with statements_run(runtime) as statements:
        found = await client.get("/listings", params={"category": "design"})
    assert ids_of(found) == [writing["id"], logo["id"]]
    assert found.json()["items"][0]["category"] == "blogs"
    # the page with the old tree, the tree, the page again
    assert reads(statements) == ["page", "page", "tree", "page", "page"]
    with statements_run(runtime) as statements:
        assert ids_of(await client.get("/listings", params={"category": "blogs"})) == [writing["id"]]
    assert reads(statements) == ["page", "page"]

    # elsewhere: a slug renamed
    await engine.run_ddl("UPDATE core_category SET slug = 'graphics' WHERE slug = 'design'")
    problem(
        await client.get("/listings", params={"category": "design"}),
        422,
        "validation_error",
        fields={"category"},
    )
    assert ids_of(await client.get("/listings", params={"category": "graphics"})) == [
        writing["id"],
        logo["id"],
    ]

    # elsewhere: blogs moved to the top; a change of another category leaves the page standing
    await engine.run_ddl("UPDATE core_category SET parent_id = NULL WHERE slug = 'blogs'")
    assert ids_of(await client.get("/listings", params={"category": "graphics"})) == [logo["id"]]
    await engine.run_ddl("UPDATE core_category SET name = 'Writing!' WHERE slug = 'writing'")
    with statements_run(runtime) as statements:
        assert ids_of(await client.get("/listings", params={"category": "graphics"})) == [logo["id"]]
    assert reads(statements) == ["page", "page", "tree"]  # graphics' subtree is the same: the page stands
