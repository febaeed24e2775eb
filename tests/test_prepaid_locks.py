"""Locking prepaid requests: who wins, how many a seller holds, giving a lock up, and the
deadline's rules (release before it; return to the pool or cancel after it).

Run on the test clock: the market's locks are taken at ``TEST_EPOCH`` unless the test
moves the clock first.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta

import pytest
from prepaid_helpers import (
    balances,
    books_are_sound,
    deliver,
    grant_access,
    lock,
    locked_request,
    market,
    open_request,
    prepaid_config,
    usd,
)

from agorakit.money import escrow_balance
from agorakit.plugins.prepaid.tables import SellerLocks

__all__ = ["market"]

CREDIT = 20000


@pytest.fixture
def site_config(tmp_path, request):
    settings = dict(getattr(request, "param", {}))
    database = settings.pop("database", None)
    config = prepaid_config(tmp_path, **settings)
    if database is not None:
        config["database"] = database
    return config


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def get_request(client, member, request_id: int) -> dict:
    got = await client.get(f"/prepaid/requests/{request_id}", headers=member.headers)
    assert got.status_code == 200, got.text
    return got.json()


async def feed(client, member) -> list[int]:
    got = await client.get("/prepaid/feed", headers=member.headers)
    assert got.status_code == 200, got.text
    return [r["id"] for r in got.json()["items"]]


async def release(client, seller, request_id: int, reason: str | None = None):
    body = {"reason": reason} if reason is not None else None
    return await client.post(f"/prepaid/requests/{request_id}/release", json=body, headers=seller.headers)


async def releases(client, viewer, seller_id: int):
    return await client.get(f"/prepaid/sellers/{seller_id}/releases", headers=viewer.headers)


async def open_locks(member_id: int) -> int:
    row = await SellerLocks.select(SellerLocks.open_locks).where(SellerLocks.member_id == member_id).first()
    return row["open_locks"] if row else 0


async def inbox(client, member) -> list[dict]:
    items = (await client.get("/notifications?limit=100", headers=member.headers)).json()["items"]
    return [n for n in reversed(items) if n["category"] != "account"]


# --------------------------------------------------------------------------------------
# Locking
# --------------------------------------------------------------------------------------


async def test_a_lock_takes_the_request_out_of_every_feed_and_starts_its_timeframe(
    client, runtime, market, clock, problem
):
    request = await open_request(client, market, timeframe_hours=30)
    assert await feed(client, market.games_seller) == [request["id"]]
    clock.advance(timedelta(hours=2, minutes=15))
    locked_at = clock.now()
    before = len(await inbox(client, market.buyer))
    seller_before = len(await inbox(client, market.seller))
    locked = await lock(client, market.seller, request["id"])
    assert locked.status_code == 200, locked.text
    body = locked.json()
    assert (body["status"], body["seller_id"]) == ("in_progress", market.seller.id)
    assert at(body["deadline"]) == locked_at + timedelta(hours=30)
    order = (await client.get(f"/orders/{request['order_id']}", headers=market.buyer.headers)).json()
    assert (order["state"], order["seller_id"]) == ("in_progress", market.seller.id)
    assert at(order["data"]["deadline"]) == locked_at + timedelta(hours=30)
    for seller in (market.seller, market.sellers[1], market.sellers[2], market.games_seller):
        assert await feed(client, seller) == []
    listing = await client.get(f"/listings/{request['listing_id']}", headers=market.buyer.headers)
    assert listing.json()["status"] == "paused"
    # the buyer is told (the plugin's notice instead of the core's), the seller who locked is not
    [told] = (await inbox(client, market.buyer))[before:]
    assert (told["template"], told["title"]) == (
        "prepaid_request_locked",
        f'{market.seller.member.display_name} locked your request "{request["title"]}"',
    )
    assert told["link"].endswith(f"/prepaid/requests/{request['id']}")
    assert len(await inbox(client, market.seller)) == seller_before
    # the buyer and the seller read it; another seller no longer may
    assert (await get_request(client, market.buyer, request["id"]))["status"] == "in_progress"
    assert (await get_request(client, market.seller, request["id"]))["seller_id"] == market.seller.id
    problem(
        await client.get(f"/prepaid/requests/{request['id']}", headers=market.sellers[1].headers),
        404,
        "not_found",
    )
    body = problem(await lock(client, market.sellers[1], request["id"]), 409, "conflict")
    assert body["detail"] == f"request {request['id']} was taken by another seller"
    body = problem(await lock(client, market.seller, request["id"]), 409, "conflict")
    assert body["detail"] == f"you already hold the lock on request {request['id']}"
    assert await open_locks(market.seller.id) == 1
    assert await open_locks(market.sellers[1].id) == 0
    assert await balances(market.buyer.id) == (0, CREDIT - 4000)
    await books_are_sound(runtime)


async def test_a_seller_holds_at_most_three_undelivered_locks(client, runtime, market, problem):
    seller = market.games_seller
    held = [await locked_request(client, market, seller, price=usd("10.00")) for _ in range(3)]
    fourth = await open_request(client, market, price=usd("10.00"))
    body = problem(await lock(client, seller, fourth["id"]), 409, "guard_failed")
    assert body["detail"] == (
        "you already hold 3 undelivered locks (the most a seller may hold); deliver or release one first"
    )
    assert body["extra"]["guard"] == "prepaid_lock_limit"
    assert (await get_request(client, market.buyer, fourth["id"]))["status"] == "open"
    assert await open_locks(seller.id) == 3
    # other sellers are not limited by it
    assert (await lock(client, market.seller, fourth["id"])).status_code == 200
    fifth = await open_request(client, market, price=usd("10.00"))
    problem(await lock(client, seller, fifth["id"]), 409, "guard_failed")
    # a delivery frees a slot
    assert (await deliver(client, seller, held[0]["order_id"])).status_code == 200
    assert await open_locks(seller.id) == 2
    locked = await lock(client, seller, fifth["id"])
    assert (locked.status_code, locked.json()["status"]) == (200, "in_progress")
    assert await open_locks(seller.id) == 3
    await books_are_sound(runtime)


@pytest.mark.parametrize("site_config", [{"max_open_locks": 1}], indirect=True)
async def test_max_open_locks_comes_from_the_settings(client, runtime, market, problem):
    await locked_request(client, market, market.seller, price=usd("10.00"))
    second = await open_request(client, market, price=usd("10.00"))
    body = problem(await lock(client, market.seller, second["id"]), 409, "guard_failed")
    assert body["detail"].startswith("you already hold 1 undelivered locks")
    await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# Releasing before the deadline
# --------------------------------------------------------------------------------------


async def test_the_seller_releases_before_the_deadline_and_another_seller_locks_it(
    client, runtime, market, clock, problem
):
    request = await locked_request(client, market, timeframe_hours=24)
    locked_at = clock.now()
    clock.advance(timedelta(hours=23, minutes=59))
    released_at = clock.now()
    problem(await release(client, market.sellers[1], request["id"], "not mine"), 404, "not_found")
    problem(await release(client, market.buyer, request["id"]), 403, "actor_not_allowed")
    released = await release(client, market.seller, request["id"], "  My account got banned  ")
    assert released.status_code == 200, released.text
    body = released.json()
    assert (body["status"], body["seller_id"], body["deadline"]) == ("open", None, None)
    assert await open_locks(market.seller.id) == 0
    order = (await client.get(f"/orders/{request['order_id']}", headers=market.buyer.headers)).json()
    assert (order["state"], order["seller_id"], order["data"]["deadline"]) == ("open", None, None)
    assert request["id"] in await feed(client, market.sellers[1])
    listing = await client.get(f"/listings/{request['listing_id']}", headers=market.buyer.headers)
    assert listing.json()["status"] == "published"

    history = await releases(client, market.seller, market.seller.id)
    assert history.status_code == 200, history.text
    [item] = history.json()["items"]
    assert (item["request_id"], item["order_id"], item["seller_id"], item["by"], item["reason"]) == (
        request["id"],
        request["order_id"],
        market.seller.id,
        "seller",
        "My account got banned",
    )
    assert (at(item["locked_at"]), at(item["at"])) == (locked_at, released_at)
    operator_view = await releases(client, market.operator, market.seller.id)
    assert operator_view.json()["items"] == [item]
    for other in (market.buyer, market.sellers[1]):
        body = problem(await releases(client, other, market.seller.id), 404, "not_found")
        assert body["detail"] == f"there is no release history of member {market.seller.id} for you"

    relocked = await lock(client, market.sellers[1], request["id"])
    assert relocked.status_code == 200, relocked.text
    assert relocked.json()["seller_id"] == market.sellers[1].id
    assert at(relocked.json()["deadline"]) == released_at + timedelta(hours=24)
    assert await escrow_balance(f"order:{request['order_id']}", "USD") == 4000
    await books_are_sound(runtime)


async def test_a_release_without_a_reason_is_kept_with_an_empty_one(client, runtime, market):
    request = await locked_request(client, market)
    released = await client.post(f"/prepaid/requests/{request['id']}/release", headers=market.seller.headers)
    assert released.status_code == 200, released.text
    [item] = (await releases(client, market.seller, market.seller.id)).json()["items"]
    assert (item["by"], item["reason"]) == ("seller", "")
    await books_are_sound(runtime)


async def test_after_the_deadline_the_seller_can_no_longer_release(client, runtime, market, clock, problem):
    request = await locked_request(client, market, timeframe_hours=24)
    deadline = clock.now() + timedelta(hours=24)
    clock.advance(timedelta(hours=24))
    body = problem(await release(client, market.seller, request["id"], "too late"), 409, "guard_failed")
    assert body["detail"] == (
        f"the deadline to deliver was {deadline.isoformat()}; release is possible only before it "
        "(now the buyer may cancel the order or hand it to another seller)"
    )
    got = await get_request(client, market.seller, request["id"])
    assert (got["status"], got["seller_id"]) == ("in_progress", market.seller.id)
    assert (await releases(client, market.seller, market.seller.id)).json()["items"] == []
    assert await open_locks(market.seller.id) == 1
    await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# The buyer after the deadline: back to the pool, or cancel
# --------------------------------------------------------------------------------------


async def test_the_buyer_returns_a_late_request_to_the_pool(client, runtime, market, clock, problem):
    request = await locked_request(client, market, timeframe_hours=48)
    locked_at = clock.now()
    deadline = locked_at + timedelta(hours=48)
    clock.advance(timedelta(hours=47, minutes=59, seconds=59))
    path = f"/prepaid/requests/{request['id']}/return"
    body = problem(await client.post(path, headers=market.buyer.headers), 409, "guard_failed")
    assert body["detail"] == (
        f"the seller has until {deadline.isoformat()} to deliver; you can hand the order to another seller "
        "after that"
    )
    clock.advance(timedelta(seconds=1))
    problem(await client.post(path, headers=market.seller.headers), 403, "actor_not_allowed")
    returned = await client.post(path, headers=market.buyer.headers)
    assert returned.status_code == 200, returned.text
    assert (returned.json()["status"], returned.json()["seller_id"]) == ("open", None)
    assert await open_locks(market.seller.id) == 0
    assert request["id"] in await feed(client, market.sellers[2])
    [item] = (await releases(client, market.seller, market.seller.id)).json()["items"]
    assert (item["by"], item["seller_id"], item["reason"]) == ("buyer", market.seller.id, "")
    assert (at(item["locked_at"]), at(item["at"])) == (locked_at, deadline)
    # the former seller may lock it again like anyone with access
    assert (await lock(client, market.sellers[2], request["id"])).status_code == 200
    assert await balances(market.buyer.id) == (0, CREDIT - 4000)
    await books_are_sound(runtime)


async def test_after_the_deadline_the_buyer_cancels_late_with_a_full_refund(
    client, runtime, market, clock, problem
):
    request = await locked_request(client, market, price=usd("73.19"), timeframe_hours=6)
    assert await balances(market.buyer.id) == (0, CREDIT - 7319)
    path = f"/orders/{request['order_id']}/transitions/cancel_late"
    clock.advance(timedelta(hours=5))
    body = problem(await client.post(path, headers=market.buyer.headers), 409, "guard_failed")
    assert body["detail"].startswith("the seller has until ")
    assert body["detail"].endswith("to deliver; you can cancel after that")
    clock.advance(timedelta(hours=1))
    problem(await client.post(path, headers=market.seller.headers), 403, "actor_not_allowed")
    cancelled = await client.post(path, headers=market.buyer.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    assert await balances(market.buyer.id) == (0, CREDIT)
    assert await balances(market.seller.id) == (0, 0)
    assert await escrow_balance(f"order:{request['order_id']}", "USD") == 0
    got = await get_request(client, market.buyer, request["id"])
    assert (got["status"], got["deadline"]) == ("cancelled", None)
    assert await open_locks(market.seller.id) == 0
    listing = await client.get(f"/listings/{request['listing_id']}", headers=market.buyer.headers)
    assert listing.json()["status"] == "closed"
    body = problem(await deliver(client, market.seller, request["order_id"]), 409, "conflict")
    assert (
        body["detail"]
        == f"order {request['order_id']} is cancelled; only an order in progress can be delivered"
    )
    await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# Stuck locks (operators)
# --------------------------------------------------------------------------------------


async def test_the_stuck_locks_page_lists_locks_past_their_deadline_only(
    client, runtime, market, clock, problem
):
    late = await locked_request(client, market, timeframe_hours=2)
    clock.advance(timedelta(hours=1))
    on_time = await locked_request(client, market, market.sellers[1], timeframe_hours=2)
    delivered = await locked_request(client, market, market.sellers[2], timeframe_hours=1)
    assert (await deliver(client, market.sellers[2], delivered["order_id"])).status_code == 200
    clock.advance(timedelta(hours=1, minutes=30))

    async def stuck() -> list[int]:
        got = await client.get("/operator/prepaid/locks/stuck", headers=market.operator.headers)
        assert got.status_code == 200, got.text
        return [r["id"] for r in got.json()["items"]]

    assert await stuck() == [late["id"]]
    clock.advance(timedelta(minutes=30))  # the second lock's deadline, exactly
    assert await stuck() == [late["id"]]
    clock.advance(timedelta(seconds=1))
    assert await stuck() == [late["id"], on_time["id"]]
    problem(
        await client.get("/operator/prepaid/locks/stuck", headers=market.seller.headers), 403, "forbidden"
    )
    # a late lock sent back to the pool is no longer stuck
    assert (
        await client.post(f"/prepaid/requests/{late['id']}/return", headers=market.buyer.headers)
    ).status_code == 200
    assert await stuck() == [on_time["id"]]
    await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# Fifty sellers at once (PostgreSQL)
# --------------------------------------------------------------------------------------


@pytest.mark.postgres_only("concurrency is proven on PostgreSQL")
@pytest.mark.parametrize(
    "site_config", [{"max_open_locks": 1, "database": {"pool_max_size": 40}}], indirect=True
)
async def test_fifty_sellers_lock_at_once_and_exactly_one_wins(client, runtime, market, make_member, problem):
    sellers = [await make_member(country="US") for _ in range(50)]
    for seller in sellers:
        await grant_access(client, market.operator, seller, "valorant")
    request = await open_request(client, market)
    responses = await asyncio.gather(*(lock(client, seller, request["id"]) for seller in sellers))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 1, 409: 49}, [r.text for r in responses if r.status_code not in (200, 409)]
    winner = sellers[[r.status_code for r in responses].index(200)]
    for response in responses:
        if response.status_code == 409:
            body = problem(response, 409, "conflict")
            assert "taken by another seller" in body["detail"], body
    got = await get_request(client, market.buyer, request["id"])
    assert (got["status"], got["seller_id"]) == ("in_progress", winner.id)
    # the losers' counters did not move: with one lock allowed each, a second request is theirs to lock
    assert [await open_locks(s.id) for s in sellers] == [1 if s is winner else 0 for s in sellers]
    second = await open_request(client, market)
    loser = sellers[[r.status_code for r in responses].index(409)]
    assert (await lock(client, loser, second["id"])).status_code == 200
    third = await open_request(client, market)
    body = problem(await lock(client, winner, third["id"]), 409, "guard_failed")
    assert body["extra"]["guard"] == "prepaid_lock_limit"
    assert await escrow_balance(f"order:{request['order_id']}", "USD") == 4000
    await books_are_sound(runtime)
