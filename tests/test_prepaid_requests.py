"""Posting prepaid requests: service types, validation, screening, paying.

Every refusal is checked for its status, its code and the fields it names, and for
changing nothing (no request, no listing, no order, no money moved).
"""

from __future__ import annotations

import asyncio

import pytest
from prepaid_helpers import (
    balances,
    books_are_sound,
    market,
    post_request,
    prepaid_config,
    request_body,
    usd,
)

from agorakit.catalog.tables import Listing
from agorakit.money import escrow_balance
from agorakit.orders.tables import Order
from agorakit.plugins.prepaid.tables import Request

__all__ = ["market"]

CREDIT = 20000  # the market buyer's credit, in cents


@pytest.fixture
def site_config(tmp_path, request):
    return prepaid_config(tmp_path, **getattr(request, "param", {}))


async def nothing_created(buyer_id: int) -> None:
    assert await Request.count() == 0
    assert await Listing.count().where(Listing.kind == "request") == 0
    assert await Order.count() == 0
    assert await balances(buyer_id) == (0, CREDIT)


def fields_of(body: dict) -> dict[str, str]:
    return {e["field"]: e["message"] for e in body["errors"]}


# --------------------------------------------------------------------------------------
# Service types
# --------------------------------------------------------------------------------------


async def test_a_category_has_its_nearest_configured_ancestors_service_types(client, market, problem):
    got = await client.get("/prepaid/service-types?category=valorant", headers=market.buyer.headers)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["category"] == "valorant"
    assert [t["name"] for t in body["items"]] == ["rank_boost", "coaching"]
    boost, coaching = body["items"]
    assert boost["label"] == "Rank boost"
    assert [(f["name"], f["type"], f["required"]) for f in boost["fields"]] == [
        ("current_rank", "choice", True),
        ("target_rank", "choice", True),
        ("notes", "text", False),
    ]
    assert boost["fields"][0]["choices"] == ["Iron", "Bronze", "Silver", "Gold", "Platinum", "Diamond"]
    assert boost["fields"][2]["max_length"] == 500
    hours = coaching["fields"][0]
    assert (hours["name"], hours["type"], hours["min"], hours["max"], hours["max_length"]) == (
        "hours",
        "integer",
        1,
        20,
        None,
    )
    games = (await client.get("/prepaid/service-types?category=games", headers=market.buyer.headers)).json()
    assert games["items"] == body["items"]
    # a category with no configured ancestor: the site's default types
    music = (await client.get("/prepaid/service-types?category=music", headers=market.buyer.headers)).json()
    assert [(t["name"], [f["name"] for f in t["fields"]]) for t in music["items"]] == [("custom", ["task"])]
    unknown = problem(
        await client.get("/prepaid/service-types?category=chess", headers=market.buyer.headers),
        422,
        "validation_error",
        fields={"category"},
    )
    assert "chess" in unknown["errors"][0]["message"]


# --------------------------------------------------------------------------------------
# Posting and paying
# --------------------------------------------------------------------------------------


async def test_a_prepaid_request_paid_from_the_balance_is_open_and_its_escrow_holds_the_price(
    client, runtime, market
):
    created = await post_request(client, market.buyer, price=usd("40.00"), timeframe_hours=48)
    assert created.status_code == 201, created.text
    request = created.json()
    assert (request["status"], request["mode"], request["seller_id"]) == ("open", "prepaid", None)
    assert (request["category"], request["service_type"], request["service_label"]) == (
        "valorant",
        "rank_boost",
        "Rank boost",
    )
    assert request["details"] == {"current_rank": "Gold", "target_rank": "Platinum"}
    assert (request["price"], request["timeframe_hours"], request["deadline"]) == (usd("40.00"), 48, None)
    assert request["title"] == "Rank boost: valorant"
    assert request["payment"]["method"] == "balance"
    assert request["payment"]["status"] == "completed"
    assert request["payment"]["amount"] == usd("40.00")
    order = (await client.get(f"/orders/{request['order_id']}", headers=market.buyer.headers)).json()
    assert (order["state"], order["process"], order["seller_id"]) == ("open", "prepaid_request", None)
    assert order["data"]["quote"]["buyer_total"] == 4000
    assert await balances(market.buyer.id) == (0, CREDIT - 4000)
    assert await escrow_balance(f"order:{request['order_id']}", "USD") == 4000
    listing = (await client.get(f"/listings/{request['listing_id']}", headers=market.seller.headers)).json()
    assert (listing["kind"], listing["status"], listing["category"]) == ("request", "published", "valorant")
    assert "Current rank: Gold" in listing["description"]
    await books_are_sound(runtime)


async def test_details_text_is_trimmed_and_an_optional_field_may_be_left_out(client, market):
    created = await post_request(
        client,
        market.buyer,
        service_type="coaching",
        details={"hours": 3, "task": "  Aim and crosshair placement  "},
        title="Coach me on Ascent",
    )
    assert created.status_code == 201, created.text
    assert created.json()["details"] == {"hours": 3, "task": "Aim and crosshair placement"}
    assert created.json()["title"] == "Coach me on Ascent"
    boost = await post_request(client, market.buyer, details={"current_rank": "Iron", "target_rank": "Gold"})
    assert boost.json()["details"] == {"current_rank": "Iron", "target_rank": "Gold"}


INVALID = {
    "unknown service type": (
        {"service_type": "smurfing"},
        {
            "service_type": "category 'valorant' has no service type 'smurfing'; its types are 'rank_boost', 'coaching'"
        },
    ),
    "missing required field": (
        {"details": {"current_rank": "Gold"}},
        {"details.target_rank": "'Target rank' is required"},
    ),
    "blank required field": (
        {"details": {"current_rank": "Gold", "target_rank": "   "}},
        {"details.target_rank": "'Target rank' is required"},
    ),
    "extra field": (
        {"details": {"current_rank": "Gold", "target_rank": "Diamond", "server": "EU"}},
        {"details.server": "is not a field of 'rank_boost' (its fields: current_rank, target_rank, notes)"},
    ),
    "choice not in the list": (
        {"details": {"current_rank": "Radiant", "target_rank": "Diamond"}},
        {
            "details.current_rank": "must be one of 'Iron', 'Bronze', 'Silver', 'Gold', 'Platinum', 'Diamond'",
        },
    ),
    "integer as text": (
        {"service_type": "coaching", "details": {"hours": "three", "task": "Aim"}},
        {"details.hours": "must be a whole number"},
    ),
    "integer as boolean": (
        {"service_type": "coaching", "details": {"hours": True, "task": "Aim"}},
        {"details.hours": "must be a whole number"},
    ),
    "text as a number": (
        {"service_type": "coaching", "details": {"hours": 2, "task": 15}},
        {"details.task": "must be a string"},
    ),
    "integer below its min": (
        {"service_type": "coaching", "details": {"hours": 0, "task": "Aim"}},
        {"details.hours": "must be at least 1"},
    ),
    "integer above its max": (
        {"service_type": "coaching", "details": {"hours": 21, "task": "Aim"}},
        {"details.hours": "must be at most 20"},
    ),
    "text too long": (
        {"details": {"current_rank": "Gold", "target_rank": "Diamond", "notes": "x" * 501}},
        {"details.notes": "must be at most 500 characters"},
    ),
    "price below min_price": ({"price": usd("4.99")}, {"price.amount": "must be at least 5.00"}),
    "price above max_price": ({"price": usd("10000.01")}, {"price.amount": "must be at most 10000.00"}),
    "timeframe above its bounds": (
        {"timeframe_hours": 721},
        {"timeframe_hours": "must be between 1 and 720 hours"},
    ),
    "classic with a method": (
        {"mode": "classic", "method": "balance"},
        {"method": "a classic request is paid when you accept an offer"},
    ),
    "everything at once": (
        {
            "details": {"current_rank": "Radiant", "colour": "red"},
            "price": usd("1.00"),
            "timeframe_hours": 1000,
        },
        {
            "details.colour": "is not a field of 'rank_boost' (its fields: current_rank, target_rank, notes)",
            "details.current_rank": "must be one of 'Iron', 'Bronze', 'Silver', 'Gold', 'Platinum', 'Diamond'",
            "details.target_rank": "'Target rank' is required",
            "price.amount": "must be at least 5.00",
            "timeframe_hours": "must be between 1 and 720 hours",
        },
    ),
}


@pytest.mark.parametrize("changes, errors", list(INVALID.values()), ids=list(INVALID))
async def test_an_invalid_request_is_refused_naming_each_field_and_creates_nothing(
    client, runtime, market, problem, changes, errors
):
    body = problem(
        await post_request(client, market.buyer, **changes), 422, "validation_error", fields=set(errors)
    )
    assert fields_of(body) == errors
    await nothing_created(market.buyer.id)
    await books_are_sound(runtime)


async def test_a_malformed_body_is_refused_before_anything(client, market, problem):
    for changes, field in [
        ({"timeframe_hours": 0}, "timeframe_hours"),
        ({"mode": "auction"}, "mode"),
        ({"category": "Not A Slug"}, "category"),
        ({"price": {"amount": "ten", "currency": "USD"}}, "price.amount"),
    ]:
        body = problem(await post_request(client, market.buyer, **changes), 422, "validation_error")
        assert [e["field"] for e in body["errors"]] == [field], body
    problem(
        await post_request(client, market.buyer, category="chess"),
        422,
        "validation_error",
        fields={"category"},
    )
    await nothing_created(market.buyer.id)


@pytest.mark.parametrize("site_config", [{"modes": ["classic"]}], indirect=True)
async def test_a_mode_the_site_does_not_take_is_refused(client, runtime, market, problem):
    body = problem(await post_request(client, market.buyer), 422, "validation_error", fields={"mode"})
    assert fields_of(body) == {"mode": "this site takes classic requests, not prepaid"}
    await nothing_created(market.buyer.id)
    classic = await post_request(client, market.buyer, mode="classic", method=None)
    assert classic.status_code == 201, classic.text
    assert (classic.json()["status"], classic.json()["order_id"]) == ("open", None)


SCREENED = {
    "phone number": ("Call me on +1 555 010 9999 tonight", "phone number", "+1 555 010 9999"),
    "e-mail": ("Mail me at bea.boost@example.com", "e-mail address", "bea.boost@example.com"),
    "URL": ("My profile: https://tracker.example.com/bea", "URL", "https://tracker.example.com/bea"),
}


@pytest.mark.parametrize("notes, reason, match", list(SCREENED.values()), ids=list(SCREENED))
async def test_contact_details_in_the_details_are_refused(
    client, runtime, market, problem, notes, reason, match
):
    details = {"current_rank": "Gold", "target_rank": "Diamond", "notes": notes}
    body = problem(
        await post_request(client, market.buyer, details=details),
        422,
        "validation_error",
        fields={"details.notes"},
    )
    message = body["errors"][0]["message"]
    assert message.startswith("contains a"), message
    assert f" {reason} ({match!r}); contact details and links to other sites are not allowed" in message
    await nothing_created(market.buyer.id)


async def test_the_same_idempotency_key_replays_the_first_request(client, runtime, market):
    headers = {**market.buyer.headers, "Idempotency-Key": "post-boost-1"}
    first = await client.post("/prepaid/requests", json=request_body(), headers=headers)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    again = await client.post("/prepaid/requests", json=request_body(), headers=headers)
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["order_id"] == first.json()["order_id"]
    assert await Request.count() == 1
    assert await Order.count() == 1
    assert await balances(market.buyer.id) == (0, CREDIT - 4000)
    other = await client.post(
        "/prepaid/requests", json=request_body(), headers={**market.buyer.headers, "Idempotency-Key": "2"}
    )
    assert other.status_code == 201
    assert other.json()["id"] != first.json()["id"]
    assert await balances(market.buyer.id) == (0, CREDIT - 8000)
    await books_are_sound(runtime)


async def test_not_enough_balance_is_the_payments_refusal_and_creates_nothing(
    client, runtime, market, problem
):
    body = problem(await post_request(client, market.buyer, price=usd("200.01")), 409, "insufficient_funds")
    assert body["detail"] == (
        "your balance is 200.00 USD (credit and available together); this needs 200.01 USD"
    )
    await nothing_created(market.buyer.id)
    await books_are_sound(runtime)


async def test_a_request_paid_by_bank_transfer_is_hidden_until_the_transfer_is_confirmed(
    client, runtime, market, problem
):
    created = await post_request(client, market.buyer, method="bank_transfer", price=usd("25.00"))
    assert created.status_code == 201, created.text
    request = created.json()
    assert request["status"] == "awaiting_payment"
    payment = request["payment"]
    assert (payment["method"], payment["status"], payment["amount"]) == (
        "bank_transfer",
        "awaiting_funds",
        usd("25.00"),
    )
    assert await balances(market.buyer.id) == (0, CREDIT)  # a transfer takes nothing from the balance
    for seller in (market.seller, market.games_seller):
        assert (await client.get("/prepaid/feed", headers=seller.headers)).json()["items"] == []
        problem(
            await client.get(f"/prepaid/requests/{request['id']}", headers=seller.headers), 404, "not_found"
        )
        problem(
            await client.get(f"/listings/{request['listing_id']}", headers=seller.headers), 404, "not_found"
        )
    body = problem(
        await client.post(f"/prepaid/requests/{request['id']}/lock", headers=market.seller.headers),
        409,
        "conflict",
    )
    assert body["detail"] == f"request {request['id']} is not open for locking (it is awaiting_payment)"

    confirmed = await client.post(
        f"/bank-transfer/payments/{payment['id']}/confirm",
        json={"amount": usd("25.00"), "reference": "STMT-77"},
        headers=market.operator.headers,
    )
    assert confirmed.status_code == 200, confirmed.text
    got = await client.get(f"/prepaid/requests/{request['id']}", headers=market.seller.headers)
    assert got.status_code == 200, got.text
    assert got.json()["status"] == "open"
    feed = (await client.get("/prepaid/feed", headers=market.seller.headers)).json()
    assert [r["id"] for r in feed["items"]] == [request["id"]]
    listing = await client.get(f"/listings/{request['listing_id']}", headers=market.seller.headers)
    assert listing.json()["status"] == "published"
    assert await escrow_balance(f"order:{request['order_id']}", "USD") == 2500
    assert await balances(market.buyer.id) == (0, CREDIT)
    await books_are_sound(runtime)


@pytest.mark.postgres_only("concurrency is proven on PostgreSQL")
async def test_concurrent_posts_with_one_key_make_one_request_and_one_payment(client, runtime, market):
    headers = {**market.buyer.headers, "Idempotency-Key": "double-click"}
    responses = await asyncio.gather(
        *(client.post("/prepaid/requests", json=request_body(), headers=headers) for _ in range(5))
    )
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 200, 201], [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert all(r.headers.get("Idempotent-Replayed") == "true" for r in responses if r.status_code == 200)
    assert await Request.count() == 1
    assert await Order.count() == 1
    assert await balances(market.buyer.id) == (0, CREDIT - 4000)
    await books_are_sound(runtime)
