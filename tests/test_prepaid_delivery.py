"""A locked prepaid request delivered: confirmed by the buyer, confirmed by itself after
``auto_confirm_days``, or reported within ``report_days`` and settled by an operator.

The site's default commission is 20% of what the seller is paid (fee kind ``request``,
no ``commission_by_kind`` entry): a 40.00 request pays its seller 32.00.
"""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from prepaid_helpers import (
    balances,
    books_are_sound,
    deliver,
    locked_request,
    market,
    prepaid_config,
)

from agorakit.money import escrow_balance, ledger
from agorakit.plugins.prepaid.tables import SellerLocks
from agorakit.worker import sweep

__all__ = ["market"]

CREDIT = 20000
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.fixture
def site_config(tmp_path):
    return prepaid_config(tmp_path)


async def fees() -> int:
    return await ledger.balance_of(ledger.PLATFORM_FEES, "USD")


async def status_of(client, member, request_id: int) -> str:
    got = await client.get(f"/prepaid/requests/{request_id}", headers=member.headers)
    assert got.status_code == 200, got.text
    return got.json()["status"]


async def open_locks(member_id: int) -> int:
    row = await SellerLocks.select(SellerLocks.open_locks).where(SellerLocks.member_id == member_id).first()
    return row["open_locks"] if row else 0


async def delivered_request(client, market, clock=None, **changes) -> dict:
    request = await locked_request(client, market, **changes)
    if clock is not None:
        clock.advance(timedelta(hours=1))
    delivered = await deliver(client, market.seller, request["order_id"])
    assert delivered.status_code == 200, delivered.text
    assert delivered.json()["state"] == "delivered"
    return request


async def report(client, buyer, order_id: int):
    return await client.post(
        f"/orders/{order_id}/disputes",
        json={"reason": "not_as_requested", "text": "Still Gold 2 after the boost, see my profile"},
        headers=buyer.headers,
    )


async def test_delivered_and_accepted_the_seller_is_paid_the_price_less_the_commission(
    client, runtime, market, problem
):
    request = await locked_request(client, market)
    order_id = request["order_id"]
    body = problem(
        await client.post(
            f"/orders/{order_id}/delivery",
            json={"message": "  ", "attachments": []},
            headers=market.seller.headers,
        ),
        422,
        "validation_error",
    )
    assert body["errors"]
    problem(await deliver(client, market.buyer, order_id), 403, "forbidden")
    problem(await deliver(client, market.sellers[1], order_id), 404, "not_found")
    assert (await deliver(client, market.seller, order_id)).status_code == 200
    assert await status_of(client, market.buyer, request["id"]) == "delivered"
    assert await open_locks(market.seller.id) == 0
    problem(
        await client.post(f"/orders/{order_id}/transitions/accept", headers=market.seller.headers),
        403,
        "actor_not_allowed",
    )
    accepted = await client.post(f"/orders/{order_id}/transitions/accept", headers=market.buyer.headers)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["state"] == "completed"
    assert await balances(market.seller.id) == (3200, 0)
    assert await balances(market.buyer.id) == (0, CREDIT - 4000)
    assert await fees() == 800
    assert await escrow_balance(f"order:{order_id}", "USD") == 0
    assert await status_of(client, market.buyer, request["id"]) == "completed"
    listing = await client.get(f"/listings/{request['listing_id']}", headers=market.buyer.headers)
    assert listing.json()["status"] == "closed"
    await books_are_sound(runtime)


async def test_an_odd_price_splits_to_the_cent(client, runtime, market):
    request = await locked_request(client, market, price={"amount": "33.33", "currency": "USD"})
    assert (await deliver(client, market.seller, request["order_id"])).status_code == 200
    accepted = await client.post(
        f"/orders/{request['order_id']}/transitions/accept", headers=market.buyer.headers
    )
    assert accepted.status_code == 200, accepted.text
    order = (await client.get(f"/orders/{request['order_id']}", headers=market.buyer.headers)).json()
    quote = order["data"]["quote"]
    assert (quote["buyer_total"], quote["seller_net"]) == (3333, 2666)  # 20% of 33.33 is 6.666: 6.67
    assert await balances(market.seller.id) == (2666, 0)
    assert await fees() == 667
    await books_are_sound(runtime)


async def test_three_days_after_the_delivery_the_request_confirms_itself(client, runtime, market, clock):
    request = await delivered_request(client, market, clock)
    clock.advance(timedelta(days=3) - timedelta(seconds=1))
    await sweep(runtime)
    assert await status_of(client, market.buyer, request["id"]) == "delivered"
    assert await balances(market.seller.id) == (0, 0)
    clock.advance(timedelta(seconds=1))
    report_ = await sweep(runtime)
    assert len(report_.timers_fired) == 1
    assert await status_of(client, market.buyer, request["id"]) == "completed"
    history = (
        await client.get(f"/orders/{request['order_id']}/history", headers=market.buyer.headers)
    ).json()
    assert [(h["transition"], h["actor_role"]) for h in history["items"]][-1] == ("auto_complete", "system")
    assert await balances(market.seller.id) == (3200, 0)
    assert await fees() == 800
    assert await escrow_balance(f"order:{request['order_id']}", "USD") == 0
    await books_are_sound(runtime)


async def test_a_report_within_three_days_is_a_dispute_an_operator_settles_with_a_partial_refund(
    client, runtime, market, clock, problem
):
    request = await locked_request(client, market)
    order_id = request["order_id"]
    uploaded = await client.post(
        "/attachments",
        files={"file": ("rank.png", PNG, "image/png")},
        data={"scope": f"order:{order_id}"},
        headers=market.seller.headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    proof_file = uploaded.json()["id"]
    delivered = await client.post(
        f"/orders/{order_id}/delivery",
        json={"message": "Reached Platinum 1, screenshot attached", "attachments": [proof_file]},
        headers=market.seller.headers,
    )
    assert delivered.status_code == 200, delivered.text
    clock.advance(timedelta(days=3))  # the last instant of the window
    problem(await report(client, market.seller, order_id), 403, "forbidden")
    opened = await report(client, market.buyer, order_id)
    assert opened.status_code == 201, opened.text
    dispute = opened.json()
    assert (dispute["status"], dispute["reason"], dispute["from_state"]) == (
        "open",
        "not_as_requested",
        "delivered",
    )
    evidence = dispute["evidence"]
    assert evidence["listing"]["id"] == request["listing_id"]
    assert evidence["listing"]["kind"] == "request"
    assert evidence["listing"]["attributes"]["details"] == {"current_rank": "Gold", "target_rank": "Platinum"}
    assert "Target rank: Platinum" in evidence["listing"]["description"]
    [proof] = evidence["proofs"]
    assert (proof["text"], proof["attachments"], proof["submitted_by"]) == (
        "Reached Platinum 1, screenshot attached",
        [proof_file],
        market.seller.id,
    )
    assert [h["transition"] for h in evidence["history"]] == ["create", "paid", "lock", "deliver"]
    assert await status_of(client, market.buyer, request["id"]) == "reported"
    # held: no timer completes it meanwhile
    clock.advance(timedelta(days=10))
    await sweep(runtime)
    assert await status_of(client, market.buyer, request["id"]) == "reported"
    queue = await client.get("/operator/disputes?process=prepaid_request", headers=market.operator.headers)
    assert [d["id"] for d in queue.json()["items"]] == [dispute["id"]]

    problem(
        await client.post(
            f"/operator/disputes/{dispute['id']}/resolve",
            json={"outcome": "refund", "amount": "40.01"},
            headers=market.operator.headers,
        ),
        422,
        "validation_error",
        fields={"amount"},
    )
    resolved = await client.post(
        f"/operator/disputes/{dispute['id']}/resolve",
        json={"outcome": "refund", "amount": "15.00", "note": "Reached Platinum 3, not 1"},
        headers=market.operator.headers,
    )
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert (body["status"], body["outcome"], body["refunded"], body["released"]) == (
        "resolved",
        "refund",
        {"amount": "15.00", "currency": "USD"},
        {"amount": "25.00", "currency": "USD"},
    )
    # 25.00 left for the seller at the order's rate: 3200/4000 of 2500 = 20.00, the rest is the fee
    assert await balances(market.buyer.id) == (0, CREDIT - 4000 + 1500)
    assert await balances(market.seller.id) == (2000, 0)
    assert await fees() == 500
    assert await escrow_balance(f"order:{order_id}", "USD") == 0
    assert await status_of(client, market.buyer, request["id"]) == "refunded"
    listing = await client.get(f"/listings/{request['listing_id']}", headers=market.buyer.headers)
    assert listing.json()["status"] == "closed"
    await books_are_sound(runtime)


async def test_a_report_after_three_days_is_refused(client, runtime, market, clock, problem):
    request = await delivered_request(client, market, clock)
    clock.advance(timedelta(days=3, seconds=1))
    body = problem(await report(client, market.buyer, request["order_id"]), 409, "dispute_window_closed")
    assert body["detail"].startswith(f"the time to open a dispute on order {request['order_id']} ended on ")
    assert await status_of(client, market.buyer, request["id"]) == "delivered"
    await sweep(runtime)  # the timer completes it
    assert await status_of(client, market.buyer, request["id"]) == "completed"
    body = problem(await report(client, market.buyer, request["order_id"]), 409, "not_disputable")
    assert body["detail"] == (
        f"order {request['order_id']} is completed; a dispute can be opened only while it is delivered"
    )
    assert await balances(market.seller.id) == (3200, 0)
    assert await balances(market.buyer.id) == (0, CREDIT - 4000)
    await books_are_sound(runtime)


async def test_a_report_the_operator_rejects_goes_back_to_delivered_and_pays_out_later(
    client, runtime, market, clock, problem
):
    request = await delivered_request(client, market, clock)
    dispute = (await report(client, market.buyer, request["order_id"])).json()
    problem(
        await client.post(
            f"/operator/disputes/{dispute['id']}/resolve",
            json={"outcome": "reject"},
            headers=market.operator.headers,
        ),
        422,
        "validation_error",
        fields={"note"},
    )
    rejected = await client.post(
        f"/operator/disputes/{dispute['id']}/resolve",
        json={"outcome": "reject", "note": "The profile shows Platinum 1"},
        headers=market.operator.headers,
    )
    assert rejected.status_code == 200, rejected.text
    assert await status_of(client, market.buyer, request["id"]) == "delivered"
    accepted = await client.post(
        f"/orders/{request['order_id']}/transitions/accept", headers=market.buyer.headers
    )
    assert accepted.status_code == 200, accepted.text
    assert await status_of(client, market.buyer, request["id"]) == "completed"
    assert await balances(market.seller.id) == (3200, 0)
    await books_are_sound(runtime)
