"""``GET /orders/open`` (``agorakit.orders.open_orders``): the orders without a seller a
member may take, newest first, filtered, paged, with the plugins' vetoes applied."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from unittest import mock

import msgspec
import pytest
from takers_helpers import RequestPlugin, listing, make_categories, qualify, request

from agorakit import orders as orders_api
from agorakit.catalog import move_listing_in
from agorakit.orders import ItemIn
from agorakit.orders import open as open_module
from agorakit.orders.tables import Order


@pytest.fixture
def plugin():
    return RequestPlugin()


@pytest.fixture
def extra_plugins(plugin):
    return [("requests", plugin)]


@pytest.fixture
async def people(client, make_member):
    """The operator, a buyer and a seller qualified in games (valorant and lol)."""
    operator, buyer, seller = await make_member(role="operator"), await make_member(), await make_member()
    await make_categories(client, operator)
    await qualify(client, operator, seller, "games")
    return operator, buyer, seller


async def open_ids(client, who, **params) -> list[int]:
    response = await client.get("/orders/open", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def all_pages(client, who, **params) -> list[list[int]]:
    pages, cursor = [], None
    for _ in range(50):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/orders/open", params=query, headers=who.headers)).json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("no last page")


async def test_a_member_sees_what_they_may_take_as_get_order_shows_it(client, runtime, people, make_member):
    operator, buyer, seller = people
    valorant = await request(runtime, buyer, "valorant", cents=2000)
    design = await request(runtime, buyer, "design", cents=2000)  # no access
    task = await request(runtime, buyer, "design", kind="task", cents=150)  # anyone takes tasks
    lol = await request(runtime, buyer, "lol", cents=3500)
    page = (await client.get("/orders/open", headers=seller.headers)).json()
    assert [item["id"] for item in page["items"]] == [lol.id, task.id, valorant.id]
    assert page["next_cursor"] is None
    for item in page["items"]:
        assert item == (await client.get(f"/orders/{item['id']}", headers=seller.headers)).json()
    first = page["items"][0]
    assert (first["seller_id"], first["state"], first["allowed_transitions"]) == (None, "open", ["lock"])
    assert (first["amount"], first["items"][0]["unit_price"]) == (
        {"amount": "35.00", "currency": "USD"},
        {"amount": "35.00", "currency": "USD"},
    )
    assert page["items"][1]["allowed_transitions"] == ["grab"]
    # a member without any access sees only what anyone may take
    newcomer = await make_member()
    assert await open_ids(client, newcomer) == [task.id]
    # access to the parent category covers its children; to a child, only that child
    await qualify(client, operator, newcomer, "lol")
    assert await open_ids(client, newcomer) == [lol.id, task.id]
    # the buyer never sees their own orders; an operator sees what GET /orders/{id} shows them
    assert await open_ids(client, buyer) == []
    as_operator = (await client.get("/orders/open", headers=operator.headers)).json()["items"]
    assert [item["id"] for item in as_operator] == [task.id]
    assert as_operator[0]["allowed_transitions"] == ["grab"]
    assert design.id not in await open_ids(client, seller)
    assert (await client.get("/orders/open")).status_code == 401


async def test_taken_cancelled_unpublished_and_own_listings_orders_are_left_out(
    client, runtime, people, make_member
):
    operator, buyer, seller = people
    other_seller = await make_member()
    await qualify(client, operator, other_seller, "games")
    taken, cancelled, paused, closed, kept = [await request(runtime, buyer, "valorant") for _ in range(5)]
    assert await open_ids(client, other_seller) == [kept.id, closed.id, paused.id, cancelled.id, taken.id]
    locked = await client.post(f"/orders/{taken.id}/transitions/lock", headers=seller.headers)
    assert locked.status_code == 200, locked.text
    cancel = await client.post(f"/orders/{cancelled.id}/transitions/cancel", headers=buyer.headers)
    assert cancel.status_code == 200, cancel.text
    async with runtime.unit_of_work() as uow:
        await move_listing_in(uow, paused.listing_id, "pause", actor_id=buyer.id)
        await move_listing_in(uow, closed.listing_id, "close", actor_id=buyer.id)
    # an order without a listing, and an order of another buyer on the seller's own listing
    await orders_api.create_order(
        runtime,
        process="testrequest",
        buyer_id=buyer.id,
        currency="USD",
        items=[ItemIn(description="x", unit_price=1)],
    )
    own_listing = await listing(runtime, other_seller, "valorant", kind="task")
    on_own = await orders_api.create_order(
        runtime,
        process="testtask",
        buyer_id=buyer.id,
        currency="USD",
        items=[ItemIn(description="x", unit_price=100)],
        listing_id=own_listing.id,
    )
    assert await open_ids(client, other_seller) == [kept.id]
    assert await open_ids(client, seller) == [on_own.id, kept.id]  # (the one they took is theirs now)


async def test_filters_are_exact(client, runtime, people, problem):
    _, buyer, seller = people
    ten = await request(runtime, buyer, "valorant", cents=1000)
    twenty = await request(runtime, buyer, "lol", cents=2000)
    thirty = await request(runtime, buyer, "valorant", cents=3000)
    task = await request(runtime, buyer, "design", kind="task", cents=2000)
    assert await open_ids(client, seller, process="testrequest") == [thirty.id, twenty.id, ten.id]
    assert await open_ids(client, seller, process="testtask") == [task.id]
    assert await open_ids(client, seller, category="games") == [thirty.id, twenty.id, ten.id]
    assert await open_ids(client, seller, category="valorant") == [thirty.id, ten.id]
    assert await open_ids(client, seller, category="design") == [task.id]
    assert await open_ids(client, seller, min_price="20.00") == [task.id, thirty.id, twenty.id]
    assert await open_ids(client, seller, max_price="20.00") == [task.id, twenty.id, ten.id]
    assert await open_ids(client, seller, min_price="20.00", max_price="20.00") == [task.id, twenty.id]
    assert await open_ids(client, seller, min_price="20.01", max_price="29.99") == []
    assert await open_ids(client, seller, min_price="0", max_price="10") == [ten.id]
    assert await open_ids(client, seller, currency="USD", category="valorant", max_price="10.00") == [ten.id]
    assert await open_ids(client, seller, currency="EUR") == []
    bad = {
        "process": ({"process": "nosuch"}, "process"),
        "category": ({"category": "cooking"}, "category"),
        "negative": ({"min_price": "-1.00"}, "min_price"),
        "unparseable": ({"max_price": "ten"}, "max_price"),
        "too precise": ({"max_price": "1.001"}, "max_price"),
        "too many digits": ({"min_price": "9" * 30}, "min_price"),
        "cursor": ({"cursor": "not-a-cursor"}, "cursor"),
        "limit 0": ({"limit": "0"}, "limit"),
        "limit 101": ({"limit": "101"}, "limit"),
        "limit x": ({"limit": "x"}, "limit"),
        "currency": ({"currency": "usd"}, "currency"),
    }
    for label, (params, field) in bad.items():
        body = problem(
            await client.get("/orders/open", params=params, headers=seller.headers), 422, "validation_error"
        )
        assert [e["field"] for e in body["errors"]] == [field], label


async def test_pages_have_no_duplicates_nor_gaps(client, runtime, people):
    _, buyer, seller = people
    made = [await request(runtime, buyer, "valorant", kind="task" if i % 3 else "request") for i in range(7)]
    newest_first = [order.id for order in reversed(made)]
    for limit in (1, 2, 3, 7, 8):
        pages = await all_pages(client, seller, limit=limit)
        assert [i for p in pages for i in p] == newest_first, limit
        assert all(len(p) == limit for p in pages[:-1]) and 0 < len(pages[-1]) <= limit, (limit, pages)
    assert await all_pages(client, seller, limit=7) == [newest_first]


async def test_a_veto_hides_its_orders_and_the_page_is_filled_from_further_down(
    client, runtime, people, plugin, make_member
):
    _, buyer, seller = people
    made = [await request(runtime, buyer, "valorant") for _ in range(6)]
    newest_first = [order.id for order in reversed(made)]
    for vetoed in (made[5], made[4], made[2]):  # the two newest, and one further down
        plugin.vetoes[(seller.id, vetoed.listing_id)] = "you have too many open orders in this game"
    body = (await client.get("/orders/open", params={"limit": 2}, headers=seller.headers)).json()
    assert [item["id"] for item in body["items"]] == [made[3].id, made[1].id]
    assert body["next_cursor"] is not None
    assert await all_pages(client, seller, limit=2) == [[made[3].id, made[1].id], [made[0].id]]
    assert await all_pages(client, seller, limit=10) == [[made[3].id, made[1].id, made[0].id]]
    # the hook is asked about the page's listings, for this member only
    plugin.asked.clear()
    await open_ids(client, seller, limit=1)
    assert {member for member, _ in plugin.asked} == {seller.id}
    assert {listing for _, listing in plugin.asked} <= {order.listing_id for order in made}
    # the vetoes were the seller's: another qualified member sees every order
    operator = people[0]
    other = await make_member()
    await qualify(client, operator, other, "valorant")
    assert await open_ids(client, other) == newest_first


async def test_a_page_of_mostly_vetoed_orders_ends_short_with_a_cursor(client, runtime, people, plugin):
    _, buyer, seller = people
    made = [await request(runtime, buyer, "valorant") for _ in range(9)]
    for order in made[1:]:  # all but the oldest
        plugin.vetoes[(seller.id, order.listing_id)] = "not for you"
    plugin.asked.clear()
    with mock.patch.object(open_module, "SCAN_ROUNDS", 2):
        first = (await client.get("/orders/open", params={"limit": 2}, headers=seller.headers)).json()
        # two rounds of 3 rows (a page and one) read the six newest: all vetoed
        assert first["items"] == [] and first["next_cursor"] is not None
        assert len(plugin.asked) == 6
        pages = await all_pages(client, seller, limit=2)
    assert [i for p in pages for i in p] == [made[0].id]


async def test_a_suspended_member_sees_nothing(runtime, people, make_member):
    _, buyer, seller = people
    await request(runtime, buyer, "valorant")
    suspended = msgspec.structs.replace((await make_member()).member, status="suspended")
    assert await orders_api.open_orders(runtime, suspended) == ([], None)
    orders, cursor = await orders_api.open_orders(runtime, seller.member, limit=1)
    assert len(orders) == 1 and cursor is None


@contextlib.contextmanager
def order_statements() -> Iterator[list[tuple[str, tuple]]]:
    """The statements (SQL, values) run through ``Order.raw`` inside the block."""
    recorded: list[tuple[str, tuple]] = []
    raw = Order.raw.__func__

    def recording(cls, sql, *args):
        recorded.append((sql, args))
        return raw(cls, sql, *args)

    with mock.patch.object(Order, "raw", classmethod(recording)):
        yield recorded


@pytest.mark.postgres_only("the plan PostgreSQL's planner picks among many orders")
async def test_a_page_walks_the_index_of_orders_without_a_seller(client, runtime, people):
    """Most orders have a seller.  Without ``core_order_open`` PostgreSQL walked the
    primary key backwards past every one of them (or sorted all the open orders): 40 to
    110 ms a page at 100k open orders among 500k; with it, about a millisecond."""
    _, buyer, seller = people
    kept = await request(runtime, buyer, "valorant")
    await runtime.db.engine.run_ddl(
        "INSERT INTO core_order (process, process_version, state, version, buyer_id, seller_id, listing_id, "
        "currency, amount, data, state_entered_at, created_at, updated_at) "
        f"SELECT 'testrequest', 1, 'locked', 2, {int(buyer.id)}, 1000 + g % 50, {int(kept.listing_id)}, "
        "'USD', 2000, '{}', now(), now(), now() FROM generate_series(1, 20000) g"
    )
    await runtime.db.engine.run_ddl("ANALYZE core_order")
    with order_statements() as recorded:
        assert await open_ids(client, seller) == [kept.id]
    walk = next(statement for statement in recorded if "LIMIT 1000" in statement[0])
    sql, args = walk
    plan = " ".join(str(value) for row in await Order.raw("EXPLAIN " + sql, *args) for value in row.values())
    assert "core_order_open" in plan, plan
