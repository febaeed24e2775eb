"""The prepaid model end to end, briefly: post and pay, the feed, lock, deliver, confirm."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from prepaid_helpers import (
    balances,
    books_are_sound,
    deliver,
    lock,
    market,
    open_request,
    prepaid_config,
)

__all__ = ["market"]


@pytest.fixture
def site_config(tmp_path):
    return prepaid_config(tmp_path)


async def test_a_prepaid_request_from_posting_to_payout(client, runtime, market):
    request = await open_request(client, market)
    assert (await balances(market.buyer.id)) == (0, 20000 - 4000)
    feed = await client.get("/prepaid/feed", headers=market.seller.headers)
    assert feed.status_code == 200, feed.text
    assert [r["id"] for r in feed.json()["items"]] == [request["id"]]
    outsider = await client.get("/prepaid/feed", headers=market.outsider.headers)
    assert outsider.json()["items"] == []
    locked = await lock(client, market.seller, request["id"])
    assert locked.status_code == 200, locked.text
    assert locked.json()["status"] == "in_progress"
    again = await lock(client, market.sellers[1], request["id"])
    assert again.status_code == 409, again.text
    assert (await client.get("/prepaid/feed", headers=market.sellers[1].headers)).json()["items"] == []
    order_id = locked.json()["order_id"]
    delivered = await deliver(client, market.seller, order_id)
    assert delivered.status_code == 200, delivered.text
    accepted = await client.post(f"/orders/{order_id}/transitions/accept", headers=market.buyer.headers)
    assert accepted.status_code == 200, accepted.text
    assert (await balances(market.seller.id)) == (3200, 0)
    got = await client.get(f"/prepaid/requests/{request['id']}", headers=market.buyer.headers)
    assert got.json()["status"] == "completed"
    await books_are_sound(runtime)


async def test_a_classic_request_with_offers(client, runtime, market):
    created = await client.post(
        "/prepaid/requests",
        json={
            "mode": "classic",
            "category": "valorant",
            "service_type": "coaching",
            "details": {"hours": 3, "task": "Aim and crosshair placement"},
            "price": {"amount": "30.00", "currency": "USD"},
        },
        headers=market.buyer.headers,
    )
    assert created.status_code == 201, created.text
    request = created.json()
    offers = []
    for seller, price in zip(market.sellers, ("28.00", "35.00", "30.00"), strict=True):
        made = await client.post(
            f"/prepaid/requests/{request['id']}/offers",
            json={"price": {"amount": price, "currency": "USD"}, "timeframe_hours": 48, "message": "I coach"},
            headers=seller.headers,
        )
        assert made.status_code == 201, made.text
        offers.append(made.json())
    accepted = await client.post(
        f"/prepaid/offers/{offers[0]['id']}/accept", json={"method": "balance"}, headers=market.buyer.headers
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "in_progress"
    assert (await balances(market.buyer.id)) == (0, 20000 - 2800)
    listed = await client.get(f"/prepaid/requests/{request['id']}/offers", headers=market.buyer.headers)
    assert [o["status"] for o in listed.json()["items"]] == ["accepted", "declined", "declined"]
    await books_are_sound(runtime)


async def test_a_request_paid_when_posted_shows_its_payment(client, market):
    request = await open_request(client, market)
    assert (request["payment"]["method"], request["payment"]["status"]) == ("balance", "completed")
    assert request["payment"]["amount"] == {"amount": "40.00", "currency": "USD"}


async def test_locks_given_up_or_taken_back_are_kept_and_free_the_sellers_count(
    client, runtime, market, clock
):
    """Every lock ended without a delivery is in the seller's history (who ended it, when
    it was taken, why), and no longer counts against their ``max_open_locks`` (3)."""
    request = await open_request(client, market)
    path = f"/prepaid/requests/{request['id']}"
    taken_at = []
    for turn in range(4):  # a fourth lock: the three released ones hold none of the three places
        taken_at.append(clock.now())
        locked = await lock(client, market.seller, request["id"])
        assert locked.status_code == 200, locked.text
        released = await client.post(
            f"{path}/release", json={"reason": f"try {turn}"}, headers=market.seller.headers
        )
        assert released.status_code == 200, released.text
        assert (released.json()["status"], released.json()["seller_id"]) == ("open", None)
        clock.advance(timedelta(minutes=5))
    locked = await lock(client, market.seller, request["id"])
    assert locked.status_code == 200, locked.text
    clock.advance(timedelta(hours=72, seconds=1))
    returned = await client.post(f"{path}/return", headers=market.buyer.headers)
    assert returned.status_code == 200, returned.text

    history = await client.get(f"/prepaid/sellers/{market.seller.id}/releases", headers=market.seller.headers)
    assert history.status_code == 200, history.text
    items = history.json()["items"]
    assert [(r["request_id"], r["by"], r["reason"]) for r in items] == [
        (request["id"], "buyer", ""),
        *[(request["id"], "seller", f"try {turn}") for turn in (3, 2, 1, 0)],
    ]
    assert [datetime.fromisoformat(r["locked_at"]) for r in items[1:]] == taken_at[::-1]
    await books_are_sound(runtime)
