"""Classic requests and their offers: sellers offer, the buyer accepts one and pays, the
others are declined; withdrawals, the limits and the screening of offers; expiry and
cancellation; the accepted order to the seller's payout, in exact cents."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from prepaid_helpers import (
    balances,
    books_are_sound,
    deliver,
    market,
    post_request,
    prepaid_config,
    usd,
)

from agorakit.worker import next_due, sweep

__all__ = ["market"]

FEED = "/prepaid/feed"


@pytest.fixture
def site_config(tmp_path, request):
    """The plugin's settings of a test come from an indirect ``site_config`` parameter."""
    return prepaid_config(tmp_path, **getattr(request, "param", {}))


async def classic_request(client, market, **changes) -> dict:
    created = await post_request(
        client,
        market.buyer,
        **{
            "mode": "classic",
            "method": None,
            "service_type": "coaching",
            "details": {"hours": 3, "task": "Aim and crosshair placement"},
            "price": usd("30.00"),
            **changes,
        },
    )
    assert created.status_code == 201, created.text
    return created.json()


def offer_body(
    price: str = "30.00", hours: int = 48, message: str = "Coach since 2019, Radiant peak"
) -> dict:
    return {"price": usd(price), "timeframe_hours": hours, "message": message}


async def offer(client, seller, request_id: int, **changes):
    return await client.post(
        f"/prepaid/requests/{request_id}/offers", json=offer_body(**changes), headers=seller.headers
    )


async def made(client, seller, request_id: int, **changes) -> dict:
    response = await offer(client, seller, request_id, **changes)
    assert response.status_code == 201, response.text
    return response.json()


async def accept(client, buyer, offer_id: int, method: str | None = "balance"):
    body = {"method": method} if method is not None else {}
    return await client.post(f"/prepaid/offers/{offer_id}/accept", json=body, headers=buyer.headers)


async def withdraw(client, seller, offer_id: int):
    return await client.post(f"/prepaid/offers/{offer_id}/withdraw", headers=seller.headers)


async def offers_seen(client, member, request_id: int):
    return await client.get(f"/prepaid/requests/{request_id}/offers", headers=member.headers)


async def feed_ids(client, member) -> list[int]:
    response = await client.get(FEED, headers=member.headers)
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["items"]]


async def request_of(client, member, request_id: int) -> dict:
    response = await client.get(f"/prepaid/requests/{request_id}", headers=member.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def three_offers(client, market, request_id: int) -> list[dict]:
    prices = ("28.00", "35.00", "31.50")
    return [
        await made(client, seller, request_id, price=price, hours=24 * (n + 1))
        for n, (seller, price) in enumerate(zip(market.sellers, prices, strict=True))
    ]


async def test_three_offers_the_buyer_accepts_one_and_the_seller_is_paid(client, runtime, market, problem):
    request = await classic_request(client, market)
    assert (request["status"], request["mode"], request["order_id"]) == ("open", "classic", None)
    assert request["expires_at"] is not None
    assert await balances(market.buyer.id) == (0, 20000)  # nothing is paid before an offer is accepted
    for seller in (*market.sellers, market.games_seller):
        assert request["id"] in await feed_ids(client, seller)
    assert await feed_ids(client, market.outsider) == []

    offers = await three_offers(client, market, request["id"])
    assert [(o["status"], o["price"], o["timeframe_hours"]) for o in offers] == [
        ("pending", usd("28.00"), 24),
        ("pending", usd("35.00"), 48),
        ("pending", usd("31.50"), 72),
    ]
    assert offers[0]["message"] == "Coach since 2019, Radiant peak"
    assert (await request_of(client, market.buyer, request["id"]))["offers"] == 3

    # The buyer sees every offer, a seller their own, an outsider nothing at all.
    seen = await offers_seen(client, market.buyer, request["id"])
    assert [o["id"] for o in seen.json()["items"]] == [o["id"] for o in offers]
    own = await offers_seen(client, market.sellers[1], request["id"])
    assert [o["id"] for o in own.json()["items"]] == [offers[1]["id"]]
    none_yet = await offers_seen(client, market.games_seller, request["id"])
    assert none_yet.status_code == 200 and none_yet.json()["items"] == []
    problem(await offers_seen(client, market.outsider, request["id"]), 404, "not_found")
    mine = await client.get("/prepaid/offers", headers=market.sellers[2].headers)
    assert [o["id"] for o in mine.json()["items"]] == [offers[2]["id"]]

    accepted = await accept(client, market.buyer, offers[1]["id"])
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    assert (body["status"], body["seller_id"], body["price"], body["timeframe_hours"]) == (
        "in_progress",
        market.sellers[1].id,
        usd("35.00"),
        48,
    )
    assert body["deadline"] is not None
    assert await balances(market.buyer.id) == (0, 20000 - 3500)  # the offer's price, exactly
    order = (await client.get(f"/orders/{body['order_id']}", headers=market.sellers[1].headers)).json()
    assert (order["process"], order["state"], order["seller_id"], order["amount"]) == (
        "prepaid_offer",
        "in_progress",
        market.sellers[1].id,
        usd("35.00"),
    )
    listed = await offers_seen(client, market.buyer, request["id"])
    assert [o["status"] for o in listed.json()["items"]] == ["declined", "accepted", "declined"]
    for seller in (*market.sellers, market.games_seller):
        assert request["id"] not in await feed_ids(client, seller)
    problem(
        await offer(client, market.games_seller, request["id"]), 404, "not_found"
    )  # out of the feed: as if it did not exist
    await books_are_sound(runtime)

    delivered = await deliver(client, market.sellers[1], body["order_id"])
    assert delivered.status_code == 200, delivered.text
    done = await client.post(f"/orders/{body['order_id']}/transitions/accept", headers=market.buyer.headers)
    assert done.status_code == 200, done.text
    assert await balances(market.sellers[1].id) == (2800, 0)  # 35.00 less the 20% fee
    assert await balances(market.sellers[0].id) == (0, 0)
    assert (await request_of(client, market.buyer, request["id"]))["status"] == "completed"
    await books_are_sound(runtime)


async def test_an_offer_accepted_without_a_method_waits_for_the_payment(client, runtime, market, clock):
    request = await classic_request(client, market)
    [first, _, _] = await three_offers(client, market, request["id"])
    accepted = await accept(client, market.buyer, first["id"], method=None)
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    assert (body["status"], body["seller_id"], body["deadline"]) == (
        "awaiting_payment",
        market.seller.id,
        None,
    )
    assert await balances(market.buyer.id) == (0, 20000)
    assert request["id"] not in await feed_ids(client, market.sellers[1])
    clock.advance(timedelta(hours=1))
    paid = await client.post(
        f"/orders/{body['order_id']}/payments", json={"method": "balance"}, headers=market.buyer.headers
    )
    assert paid.status_code == 201, paid.text
    assert await balances(market.buyer.id) == (0, 20000 - 2800)
    got = await request_of(client, market.seller, request["id"])
    assert got["status"] == "in_progress"
    deadline = clock.now() + timedelta(hours=24)  # the offer's timeframe runs from the payment
    assert got["deadline"].replace("Z", "+00:00") == deadline.isoformat()
    await books_are_sound(runtime)


async def test_a_seller_withdraws_and_offers_again(client, runtime, market, problem):
    request = await classic_request(client, market)
    first = await made(client, market.seller, request["id"], price="29.00")
    problem(await offer(client, market.seller, request["id"]), 409, "conflict")  # one live offer each
    withdrawn = await withdraw(client, market.seller, first["id"])
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn"
    assert withdrawn.json()["decided_at"] is not None
    problem(await withdraw(client, market.seller, first["id"]), 409, "conflict")
    problem(await withdraw(client, market.sellers[1], first["id"]), 404, "not_found")
    body = problem(await accept(client, market.buyer, first["id"]), 409, "conflict")
    assert "withdrawn" in body["detail"]
    second = await made(client, market.seller, request["id"], price="27.00")
    assert second["status"] == "pending"
    listed = await offers_seen(client, market.buyer, request["id"])
    assert [(o["id"], o["status"]) for o in listed.json()["items"]] == [
        (first["id"], "withdrawn"),
        (second["id"], "pending"),
    ]
    other = await made(client, market.sellers[1], request["id"])
    assert (await accept(client, market.buyer, second["id"])).status_code == 200
    declined = problem(await accept(client, market.buyer, other["id"]), 409, "conflict")
    assert "declined" in declined["detail"]
    problem(await withdraw(client, market.sellers[1], other["id"]), 409, "conflict")
    problem(await withdraw(client, market.seller, second["id"]), 409, "conflict")  # accepted
    assert await balances(market.buyer.id) == (0, 20000 - 2700)
    await books_are_sound(runtime)


async def test_who_may_offer_and_on_what(client, runtime, market, problem):
    request = await classic_request(client, market)
    refused = problem(await offer(client, market.outsider, request["id"]), 403, "not_eligible")
    assert "valorant" in refused["detail"], refused
    own = problem(await offer(client, market.buyer, request["id"]), 409, "conflict")
    assert "your own request" in own["detail"]
    problem(await offer(client, market.seller, 999999), 404, "not_found")
    prepaid = await post_request(client, market.buyer)  # paid at once: open for locking
    assert prepaid.status_code == 201, prepaid.text
    locked_only = problem(await offer(client, market.seller, prepaid.json()["id"]), 409, "conflict")
    assert "lock it instead" in locked_only["detail"]
    problem(await accept(client, market.outsider, 999999), 404, "not_found")
    theirs = await made(client, market.seller, request["id"])
    problem(await accept(client, market.sellers[1], theirs["id"]), 404, "not_found")  # not the buyer
    assert await balances(market.buyer.id) == (0, 20000 - 4000)
    await books_are_sound(runtime)


async def test_an_offer_out_of_bounds_is_refused_field_by_field(client, market, problem):
    request = await classic_request(client, market)
    low = problem(
        await offer(client, market.seller, request["id"], price="4.99", hours=0), 422, "validation_error"
    )
    fields = {e["field"]: e["message"] for e in low["errors"]}
    assert set(fields) == {"timeframe_hours"}  # the body's own bounds come first
    low = problem(
        await offer(client, market.seller, request["id"], price="4.99", hours=721), 422, "validation_error"
    )
    fields = {e["field"]: e["message"] for e in low["errors"]}
    assert fields == {
        "price.amount": "must be at least 5.00",
        "timeframe_hours": "must be between 1 and 720 hours",
    }
    high = problem(
        await offer(client, market.seller, request["id"], price="10000.01"), 422, "validation_error"
    )
    assert {e["field"]: e["message"] for e in high["errors"]} == {"price.amount": "must be at most 10000.00"}
    euros = await client.post(
        f"/prepaid/requests/{request['id']}/offers",
        json={"price": {"amount": "30.00", "currency": "EUR"}, "timeframe_hours": 24},
        headers=market.seller.headers,
    )
    problem(euros, 422, "validation_error", fields={"price.currency"})
    phone = problem(
        await offer(client, market.seller, request["id"], message="Call me on +1 555 010 9999 to agree"),
        422,
        "validation_error",
        fields={"message"},
    )
    assert "phone number" in phone["errors"][0]["message"]
    assert "+1 555 010 9999" in phone["errors"][0]["message"]
    listed = await offers_seen(client, market.buyer, request["id"])
    assert listed.json()["items"] == []


@pytest.mark.parametrize("site_config", [{"max_offers": 2}], indirect=True)
async def test_a_request_takes_at_most_max_offers_live_offers(client, market, problem):
    request = await classic_request(client, market)
    first = await made(client, market.sellers[0], request["id"])
    await made(client, market.sellers[1], request["id"])
    full = problem(await offer(client, market.sellers[2], request["id"]), 409, "conflict")
    assert "2 offers already" in full["detail"]
    assert (await withdraw(client, market.sellers[0], first["id"])).status_code == 200
    await made(client, market.sellers[2], request["id"])  # a withdrawn offer frees its place


@pytest.mark.parametrize("site_config", [{"offer_screening": "flag"}], indirect=True)
async def test_flagged_offers_wait_for_an_operator(client, runtime, market, problem):
    request = await classic_request(client, market)
    flagged = await made(client, market.sellers[0], request["id"], message="WhatsApp me: +1 555 010 9999")
    assert flagged["status"] == "flagged"
    assert flagged["screening_flags"] == [
        {"field": "message", "reason": "phone number", "match": "+1 555 010 9999"}
    ]
    second = await made(client, market.sellers[1], request["id"], message="Or see https://coach.example.com")
    clean = await made(client, market.sellers[2], request["id"])
    assert clean["status"] == "pending"
    seen = await offers_seen(client, market.buyer, request["id"])
    assert [o["id"] for o in seen.json()["items"]] == [clean["id"]]  # held ones are hidden
    assert (await request_of(client, market.buyer, request["id"]))["offers"] == 1
    problem(await accept(client, market.buyer, flagged["id"]), 404, "not_found")
    own = await offers_seen(client, market.sellers[0], request["id"])
    assert [o["status"] for o in own.json()["items"]] == ["flagged"]

    problem(
        await client.get("/operator/prepaid/offers/flagged", headers=market.buyer.headers), 403, "forbidden"
    )
    held = await client.get("/operator/prepaid/offers/flagged", headers=market.operator.headers)
    assert held.status_code == 200, held.text
    assert [(o["id"], o["price"]) for o in held.json()["items"]] == [
        (flagged["id"], usd("30.00")),
        (second["id"], usd("30.00")),
    ]
    page = await client.get("/operator/prepaid/offers/flagged?limit=1", headers=market.operator.headers)
    assert [o["id"] for o in page.json()["items"]] == [flagged["id"]]
    rest = await client.get(
        f"/operator/prepaid/offers/flagged?limit=1&cursor={page.json()['next_cursor']}",
        headers=market.operator.headers,
    )
    assert [o["id"] for o in rest.json()["items"]] == [second["id"]]

    approve = f"/operator/prepaid/offers/{flagged['id']}/approve"
    problem(await client.post(approve, headers=market.sellers[0].headers), 403, "forbidden")
    approved = await client.post(approve, headers=market.operator.headers)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "pending"
    problem(await client.post(approve, headers=market.operator.headers), 409, "conflict")
    seen = await offers_seen(client, market.buyer, request["id"])
    assert [o["id"] for o in seen.json()["items"]] == [flagged["id"], clean["id"]]

    reject = f"/operator/prepaid/offers/{second['id']}/reject"
    for body in ({}, {"reason": ""}):
        problem(
            await client.post(reject, json=body, headers=market.operator.headers),
            422,
            "validation_error",
            fields={"reason"},
        )
    rejected = await client.post(
        reject, json={"reason": "Links to other sites are not allowed"}, headers=market.operator.headers
    )
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["status"], rejected.json()["decided_at"] is not None) == ("rejected", True)
    problem(
        await client.post(
            approve.replace(str(flagged["id"]), str(second["id"])), headers=market.operator.headers
        ),
        409,
        "conflict",
    )
    problem(
        await client.post("/operator/prepaid/offers/999999/approve", headers=market.operator.headers),
        404,
        "not_found",
    )
    seen = await offers_seen(client, market.buyer, request["id"])
    assert [o["id"] for o in seen.json()["items"]] == [flagged["id"], clean["id"]]
    theirs = await offers_seen(client, market.sellers[1], request["id"])
    assert [o["status"] for o in theirs.json()["items"]] == ["rejected"]
    held = await client.get("/operator/prepaid/offers/flagged", headers=market.operator.headers)
    assert held.json()["items"] == []
    # The approved offer can be accepted like any other.
    accepted = await accept(client, market.buyer, flagged["id"])
    assert accepted.status_code == 200, accepted.text
    assert await balances(market.buyer.id) == (0, 20000 - 3000)
    await books_are_sound(runtime)


async def test_an_unanswered_classic_request_expires(client, runtime, market, clock, problem):
    request = await classic_request(client, market)
    expires = clock.now() + timedelta(days=14)
    assert request["expires_at"].replace("Z", "+00:00") == expires.isoformat()
    offers = await three_offers(client, market, request["id"])
    assert await next_due(runtime, after=clock.now()) == expires  # a test clock stops there

    clock.advance(timedelta(days=13, hours=23))
    await sweep(runtime)
    assert (await request_of(client, market.buyer, request["id"]))["status"] == "open"

    clock.advance(timedelta(hours=1))
    late = problem(
        await offer(client, market.games_seller, request["id"]), 409, "conflict"
    )  # before the sweep
    assert "expired" in late["detail"]
    report = await sweep(runtime)
    assert report.plugins == {"prepaid_requests_expired": 1}
    got = await request_of(client, market.buyer, request["id"])
    assert (got["status"], got["expires_at"], got["offers"]) == ("expired", None, 0)
    listed = await offers_seen(client, market.buyer, request["id"])
    assert [o["status"] for o in listed.json()["items"]] == ["declined"] * 3
    listing = await client.get(f"/listings/{request['listing_id']}", headers=market.buyer.headers)
    assert listing.json()["status"] == "closed"
    problem(
        await offer(client, market.games_seller, request["id"]), 404, "not_found"
    )  # out of the feed: as if it did not exist
    problem(await accept(client, market.buyer, offers[0]["id"]), 409, "conflict")
    assert await feed_ids(client, market.seller) == []
    assert await next_due(runtime, after=clock.now()) is None
    again = await sweep(runtime)
    assert again.plugins == {}
    assert await balances(market.buyer.id) == (0, 20000)
    await books_are_sound(runtime)


async def test_the_buyer_cancels_an_open_classic_request(client, runtime, market, problem):
    request = await classic_request(client, market)
    offers = await three_offers(client, market, request["id"])
    problem(
        await client.post(f"/prepaid/requests/{request['id']}/cancel", headers=market.seller.headers),
        404,
        "not_found",
    )
    cancelled = await client.post(f"/prepaid/requests/{request['id']}/cancel", headers=market.buyer.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    listed = await offers_seen(client, market.buyer, request["id"])
    assert [o["status"] for o in listed.json()["items"]] == ["declined"] * 3
    listing = await client.get(f"/listings/{request['listing_id']}", headers=market.buyer.headers)
    assert listing.json()["status"] == "closed"
    problem(
        await client.post(f"/prepaid/requests/{request['id']}/cancel", headers=market.buyer.headers),
        409,
        "conflict",
    )
    problem(
        await offer(client, market.games_seller, request["id"]), 404, "not_found"
    )  # out of the feed: as if it did not exist
    problem(await accept(client, market.buyer, offers[0]["id"]), 409, "conflict")
    assert await feed_ids(client, market.seller) == []
    await books_are_sound(runtime)


async def test_operators_list_every_request(client, runtime, market, problem):
    classic = await classic_request(client, market)
    prepaid = await post_request(client, market.buyer)
    unpaid = await post_request(client, market.buyer, method=None)
    assert prepaid.status_code == unpaid.status_code == 201
    path = "/operator/prepaid/requests"
    problem(await client.get(path, headers=market.buyer.headers), 403, "forbidden")
    everything = await client.get(path, headers=market.operator.headers)
    assert everything.status_code == 200, everything.text
    assert [(r["id"], r["status"]) for r in everything.json()["items"]] == [
        (classic["id"], "open"),
        (prepaid.json()["id"], "open"),
        (unpaid.json()["id"], "awaiting_payment"),
    ]
    waiting = await client.get(f"{path}?status=awaiting_payment", headers=market.operator.headers)
    assert [r["id"] for r in waiting.json()["items"]] == [unpaid.json()["id"]]
    first = await client.get(f"{path}?limit=2", headers=market.operator.headers)
    assert [r["id"] for r in first.json()["items"]] == [classic["id"], prepaid.json()["id"]]
    rest = await client.get(
        f"{path}?limit=2&cursor={first.json()['next_cursor']}", headers=market.operator.headers
    )
    assert ([r["id"] for r in rest.json()["items"]], rest.json()["next_cursor"]) == (
        [unpaid.json()["id"]],
        None,
    )
    problem(await client.get(f"{path}?status=lost", headers=market.operator.headers), 422, "validation_error")


async def test_an_accepted_offer_left_unpaid_expires_with_its_order(client, runtime, market, clock):
    request = await classic_request(client, market)
    [first, second, _] = await three_offers(client, market, request["id"])
    accepted = await accept(client, market.buyer, first["id"], method=None)
    assert accepted.json()["status"] == "awaiting_payment"
    clock.advance(timedelta(hours=72))
    await sweep(runtime)
    got = await request_of(client, market.buyer, request["id"])
    assert (got["status"], got["seller_id"]) == ("cancelled", market.seller.id)
    order = (await client.get(f"/orders/{got['order_id']}", headers=market.buyer.headers)).json()
    assert order["state"] == "cancelled"
    assert await balances(market.buyer.id) == (0, 20000)
    assert request["id"] not in await feed_ids(client, market.sellers[1])
    listed = await offers_seen(client, market.buyer, request["id"])
    assert [o["status"] for o in listed.json()["items"]] == ["accepted", "declined", "declined"]
    assert (await accept(client, market.buyer, second["id"])).status_code == 409
    await books_are_sound(runtime)


@pytest.mark.postgres_only("proves the row lock of the request on PostgreSQL")
async def test_two_offers_accepted_at_once_make_one_order(client, runtime, market, problem):
    from agorakit.orders.tables import Order

    charged = 0
    for _ in range(3):
        request = await classic_request(client, market)
        offers = await three_offers(client, market, request["id"])
        responses = await asyncio.gather(*(accept(client, market.buyer, o["id"]) for o in offers))
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200, 409, 409], [r.text for r in responses]
        [won] = [r.json() for r in responses if r.status_code == 200]
        for response in responses:
            if response.status_code == 409:
                problem(response, 409, "conflict")
        listed = await offers_seen(client, market.buyer, request["id"])
        assert sorted(o["status"] for o in listed.json()["items"]) == ["accepted", "declined", "declined"]
        [accepted] = [o for o in listed.json()["items"] if o["status"] == "accepted"]
        assert (won["seller_id"], won["price"]) == (accepted["seller_id"], accepted["price"])
        charged += int(won["price"]["amount"].replace(".", ""))
    assert await Order.count() == 3
    assert await balances(market.buyer.id) == (0, 20000 - charged)  # each request paid once
    await books_are_sound(runtime)
