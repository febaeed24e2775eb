"""The payments prepaid routes start, on a site with every shipped plugin enabled.

Posting a prepaid request with a ``method`` (or accepting an offer with one) answers with
the payment it started, as the payments API shows it: a bank transfer's reference to
quote, then the request opens when an operator confirms the transfer.  A method the site
has not set up (PayPal without credentials) is the documented 503, and nothing is posted
or accepted.
"""

from __future__ import annotations

import pytest
from api_world import all_plugins_config, usd

from agorakit.money import ledger
from agorakit.money.ledger import balance_of

TASK = {"task": "Redraw our blurry PNG logo as a clean SVG."}


@pytest.fixture
def site_config(tmp_path):
    return all_plugins_config(tmp_path)


@pytest.fixture
async def people(client, make_member):
    """An operator (who made the category ``logo-design``), a buyer, and a seller with
    approved access to it."""
    operator, buyer, seller = await make_member(role="operator"), await make_member(), await make_member()
    made = await client.post(
        "/operator/categories", json={"slug": "logo-design", "name": "Logo design"}, headers=operator.headers
    )
    assert made.status_code == 201, made.text
    applied = await client.post("/qualifications", json={"category": "logo-design"}, headers=seller.headers)
    approved = await client.post(
        f"/operator/qualifications/{applied.json()['id']}/approve", headers=operator.headers
    )
    assert approved.status_code == 200, approved.text
    return operator, buyer, seller


def request_body(**changes):
    return {
        "mode": "prepaid",
        "category": "logo-design",
        "service_type": "custom",
        "details": TASK,
        "price": usd("40.00"),
        **changes,
    }


async def test_a_request_paid_by_bank_transfer_answers_with_the_transfer_to_make(client, people):
    operator, buyer, seller = people
    posted = await client.post(
        "/prepaid/requests", json=request_body(method="bank_transfer"), headers=buyer.headers
    )
    assert posted.status_code == 201, posted.text
    request = posted.json()
    assert request["status"] == "awaiting_payment"
    payment = request["payment"]
    assert payment is not None, request
    assert (payment["method"], payment["status"]) == ("bank_transfer", "awaiting_funds")
    assert payment["amount"] == usd("40.00")
    assert payment["escrow_ref"] == f"order:{request['order_id']}"
    assert payment["reference"]
    feed = await client.get("/prepaid/feed", headers=seller.headers)
    assert feed.json()["items"] == []
    confirmed = await client.post(
        f"/bank-transfer/payments/{payment['id']}/confirm",
        json={"amount": usd("40.00"), "reference": "STMT-7"},
        headers=operator.headers,
    )
    assert confirmed.status_code == 200, confirmed.text
    feed = await client.get("/prepaid/feed", headers=seller.headers)
    assert [r["id"] for r in feed.json()["items"]] == [request["id"]]
    got = await client.get(f"/prepaid/requests/{request['id']}", headers=buyer.headers)
    assert (got.json()["status"], got.json()["payment"]) == ("open", None)


async def test_paypal_without_credentials_is_a_503_and_changes_nothing(client, people):
    _, buyer, seller = people
    refused = await client.post(
        "/prepaid/requests", json=request_body(method="paypal"), headers=buyer.headers
    )
    assert refused.status_code == 503, refused.text
    assert refused.json()["code"] == "service_unavailable"
    mine = await client.get("/prepaid/requests", headers=buyer.headers)
    assert mine.json()["items"] == []

    classic = await client.post(
        "/prepaid/requests", json=request_body(mode="classic", price=usd("30.00")), headers=buyer.headers
    )
    assert classic.status_code == 201, classic.text
    offer = await client.post(
        f"/prepaid/requests/{classic.json()['id']}/offers",
        json={"price": usd("28.00"), "timeframe_hours": 24},
        headers=seller.headers,
    )
    assert offer.status_code == 201, offer.text
    accepted = await client.post(
        f"/prepaid/offers/{offer.json()['id']}/accept", json={"method": "paypal"}, headers=buyer.headers
    )
    assert accepted.status_code == 503, accepted.text
    offers = await client.get(f"/prepaid/requests/{classic.json()['id']}/offers", headers=buyer.headers)
    assert [o["status"] for o in offers.json()["items"]] == ["pending"]
    still = await client.get(f"/prepaid/requests/{classic.json()['id']}", headers=buyer.headers)
    assert (still.json()["status"], still.json()["order_id"], still.json()["offers"]) == ("open", None, 1)
    assert await balance_of(ledger.credit(buyer.id), "USD") == 0

    document = (await client.get("/docs/openapi.json")).json()
    for path, method in [("/prepaid/requests", "post"), ("/prepaid/offers/{offer_id}/accept", "post")]:
        assert "503" in document["paths"][path][method]["responses"], path
