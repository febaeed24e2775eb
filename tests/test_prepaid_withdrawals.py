"""Operators withdraw open requests (a paid one is refunded in full), and a request's
listing is moved by its request only: the listing routes refuse to pause or close it."""

from __future__ import annotations

import pytest
from prepaid_helpers import (
    balances,
    books_are_sound,
    lock,
    market,
    open_request,
    post_request,
    prepaid_config,
)

__all__ = ["market"]


@pytest.fixture
def site_config(tmp_path):
    return prepaid_config(tmp_path)


async def test_an_operator_withdraws_an_open_prepaid_request_with_a_full_refund(
    client, runtime, market, problem
):
    request = await open_request(client, market)
    path = f"/operator/prepaid/requests/{request['id']}/cancel"
    problem(
        await client.post(path, json={"reason": "selling accounts"}, headers=market.buyer.headers),
        403,
        "forbidden",
    )
    problem(
        await client.post(path, json={}, headers=market.operator.headers),
        422,
        "validation_error",
        fields={"reason"},
    )
    withdrawn = await client.post(
        path, json={"reason": "Account sharing is not allowed"}, headers=market.operator.headers
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "cancelled"
    assert await balances(market.buyer.id) == (0, 20000)  # the 40.00 back to credit
    assert (await client.get("/prepaid/feed", headers=market.seller.headers)).json()["items"] == []
    problem(await lock(client, market.seller, request["id"]), 409, "conflict")
    again = await client.post(path, json={"reason": "again"}, headers=market.operator.headers)
    assert problem(again, 409, "conflict")["extra"] == {"state": "cancelled"}
    problem(
        await client.post(
            "/operator/prepaid/requests/999999/cancel",
            json={"reason": "nope"},
            headers=market.operator.headers,
        ),
        404,
        "not_found",
    )
    await books_are_sound(runtime)


async def test_an_operator_withdraws_an_open_classic_request_and_a_locked_one_stays(
    client, runtime, market, problem
):
    created = await post_request(client, market.buyer, mode="classic", method=None)
    assert created.status_code == 201, created.text
    classic = created.json()
    offer = await client.post(
        f"/prepaid/requests/{classic['id']}/offers",
        json={"price": {"amount": "38.00", "currency": "USD"}, "timeframe_hours": 24},
        headers=market.seller.headers,
    )
    assert offer.status_code == 201, offer.text
    withdrawn = await client.post(
        f"/operator/prepaid/requests/{classic['id']}/cancel",
        json={"reason": "Off-topic"},
        headers=market.operator.headers,
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "cancelled"
    mine = (await client.get("/prepaid/offers", headers=market.seller.headers)).json()["items"]
    assert [o["status"] for o in mine] == ["declined"]

    prepaid = await open_request(client, market)
    assert (await lock(client, market.seller, prepaid["id"])).status_code == 200
    busy = await client.post(
        f"/operator/prepaid/requests/{prepaid['id']}/cancel",
        json={"reason": "late"},
        headers=market.operator.headers,
    )
    assert problem(busy, 409, "conflict")["extra"] == {"state": "in_progress"}
    await books_are_sound(runtime)


async def test_the_listing_routes_do_not_pause_or_close_an_open_request(client, market, problem):
    request = await open_request(client, market)
    listing = f"/listings/{request['listing_id']}"
    for who, path in (
        (market.buyer, f"{listing}/pause"),
        (market.buyer, f"{listing}/close"),
        (market.operator, f"/operator{listing}/close"),
    ):
        refused = problem(
            await client.post(path, json={"reason": "x" * 5}, headers=who.headers), 409, "conflict"
        )
        assert f"/prepaid/requests/{request['id']}/cancel" in refused["detail"], refused
    got = await client.get(f"/prepaid/requests/{request['id']}", headers=market.seller.headers)
    assert got.json()["status"] == "open"
