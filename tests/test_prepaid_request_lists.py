"""Prepaid requests after posting: cancelling them, paying them later or never, and the
buyers' and operators' lists of them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prepaid_helpers import (
    balances,
    books_are_sound,
    market,
    open_request,
    post_request,
    prepaid_config,
    usd,
)

from agorakit.money import escrow_balance
from agorakit.worker import sweep

__all__ = ["market"]

CREDIT = 20000  # the market buyer's credit, in cents


@pytest.fixture
def site_config(tmp_path):
    return prepaid_config(tmp_path)


async def test_the_buyer_cancels_an_unpaid_request(client, runtime, market, problem):
    created = await post_request(client, market.buyer, method=None)
    assert created.status_code == 201, created.text
    request = created.json()
    assert (request["status"], request["payment"]) == ("awaiting_payment", None)
    problem(
        await client.post(f"/prepaid/requests/{request['id']}/cancel", headers=market.seller.headers),
        404,
        "not_found",
    )
    problem(
        await client.post(f"/prepaid/requests/{request['id']}/cancel", headers=market.operator.headers),
        403,
        "forbidden",
    )
    cancelled = await client.post(f"/prepaid/requests/{request['id']}/cancel", headers=market.buyer.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert await balances(market.buyer.id) == (0, CREDIT)
    listing = await client.get(f"/listings/{request['listing_id']}", headers=market.buyer.headers)
    assert listing.json()["status"] == "closed"
    again = problem(
        await client.post(f"/prepaid/requests/{request['id']}/cancel", headers=market.buyer.headers),
        409,
        "conflict",
    )
    assert again["detail"].startswith(f"request {request['id']} is cancelled;")
    await books_are_sound(runtime)


async def test_the_buyer_cancels_an_open_paid_request_and_gets_every_cent_back(
    client, runtime, market, problem
):
    request = await open_request(client, market, price=usd("37.45"))
    assert await balances(market.buyer.id) == (0, CREDIT - 3745)
    cancelled = await client.post(f"/prepaid/requests/{request['id']}/cancel", headers=market.buyer.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert await balances(market.buyer.id) == (0, CREDIT)
    assert await escrow_balance(f"order:{request['order_id']}", "USD") == 0
    assert (await client.get("/prepaid/feed", headers=market.seller.headers)).json()["items"] == []
    body = problem(
        await client.post(f"/prepaid/requests/{request['id']}/lock", headers=market.seller.headers),
        409,
        "conflict",
    )
    assert body["detail"] == f"request {request['id']} is not open for locking (it is cancelled)"
    await books_are_sound(runtime)


async def test_a_locked_request_cannot_be_cancelled(client, runtime, market, problem):
    request = await open_request(client, market)
    locked = await client.post(f"/prepaid/requests/{request['id']}/lock", headers=market.seller.headers)
    assert locked.status_code == 200, locked.text
    body = problem(
        await client.post(f"/prepaid/requests/{request['id']}/cancel", headers=market.buyer.headers),
        409,
        "conflict",
    )
    assert body["detail"].startswith(
        f"request {request['id']} is in_progress; only a request nobody works on can be cancelled"
    )
    assert await balances(market.buyer.id) == (0, CREDIT - 4000)
    await books_are_sound(runtime)


async def test_the_buyers_list_of_requests_with_a_status_filter(client, runtime, market, problem):
    opened = await open_request(client, market)
    unpaid = (await post_request(client, market.buyer, method=None)).json()
    cancelled = await open_request(client, market, price=usd("10.00"))
    await client.post(f"/prepaid/requests/{cancelled['id']}/cancel", headers=market.buyer.headers)

    async def ids(query: str = "") -> list[int]:
        got = await client.get(f"/prepaid/requests{query}", headers=market.buyer.headers)
        assert got.status_code == 200, got.text
        return [r["id"] for r in got.json()["items"]]

    assert await ids() == [cancelled["id"], unpaid["id"], opened["id"]]
    assert await ids("?status=open") == [opened["id"]]
    assert await ids("?status=awaiting_payment") == [unpaid["id"]]
    assert await ids("?status=cancelled") == [cancelled["id"]]
    assert await ids("?status=completed") == []
    first = (await client.get("/prepaid/requests?limit=2", headers=market.buyer.headers)).json()
    assert [r["id"] for r in first["items"]] == [cancelled["id"], unpaid["id"]]
    rest = await client.get(
        f"/prepaid/requests?limit=2&cursor={first['next_cursor']}", headers=market.buyer.headers
    )
    assert ([r["id"] for r in rest.json()["items"]], rest.json()["next_cursor"]) == ([opened["id"]], None)
    problem(
        await client.get("/prepaid/requests?status=sold", headers=market.buyer.headers),
        422,
        "validation_error",
        fields={"status"},
    )
    # a seller's own list holds none of the buyer's
    mine = await client.get("/prepaid/requests", headers=market.seller.headers)
    assert mine.json()["items"] == []
    await books_are_sound(runtime)


async def test_an_unpaid_request_opens_when_paid_later_and_expires_when_never_paid(
    client, runtime, market, clock
):
    later = (await post_request(client, market.buyer, method=None)).json()
    never = (await post_request(client, market.buyer, method=None, price=usd("12.00"))).json()
    paid = await client.post(
        f"/orders/{later['order_id']}/payments", json={"method": "balance"}, headers=market.buyer.headers
    )
    assert paid.status_code == 201, paid.text
    got = await client.get(f"/prepaid/requests/{later['id']}", headers=market.seller.headers)
    assert (got.status_code, got.json()["status"]) == (200, "open")
    assert [
        r["id"] for r in (await client.get("/prepaid/feed", headers=market.seller.headers)).json()["items"]
    ] == [later["id"]]
    clock.advance(timedelta(hours=72))
    await sweep(runtime)
    expired = (await client.get(f"/prepaid/requests/{never['id']}", headers=market.buyer.headers)).json()
    assert expired["status"] == "cancelled"
    listing = await client.get(f"/listings/{never['listing_id']}", headers=market.buyer.headers)
    assert listing.json()["status"] == "closed"
    assert (await client.get(f"/prepaid/requests/{later['id']}", headers=market.buyer.headers)).json()[
        "status"
    ] == "open"
    assert await balances(market.buyer.id) == (0, CREDIT - 4000)
    await books_are_sound(runtime)


async def test_operators_list_every_request_with_a_status_filter(client, runtime, market, problem):
    opened = await open_request(client, market)
    unpaid = (await post_request(client, market.buyer, method=None)).json()

    async def ids(query: str = "") -> list[int]:
        got = await client.get(f"/operator/prepaid/requests{query}", headers=market.operator.headers)
        assert got.status_code == 200, got.text
        return [r["id"] for r in got.json()["items"]]

    assert await ids() == [opened["id"], unpaid["id"]]
    assert await ids("?status=awaiting_payment") == [unpaid["id"]]
    assert await ids("?status=open") == [opened["id"]]
    problem(
        await client.get("/operator/prepaid/requests?status=sold", headers=market.operator.headers),
        422,
        "validation_error",
        fields={"status"},
    )
    problem(await client.get("/operator/prepaid/requests", headers=market.seller.headers), 403, "forbidden")
