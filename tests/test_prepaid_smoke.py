"""The prepaid model end to end, briefly: post and pay, the feed, lock, deliver, confirm."""

from __future__ import annotations

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
