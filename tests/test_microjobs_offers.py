"""Free sell/exchange offers of the microjobs plugin, through the HTTP API, with exact cents.

An offer publishes at once (no review) but is screened for contact details; it is
ordered, paid, delivered and accepted through the core's fixed-price process, with no
site fee unless the site sets ``[fees] commission_by_kind.offer``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from microjobs_helpers import CATEGORIES, balances, books_are_sound, fund, microjobs_config, usd

from agorakit.money import ledger
from agorakit.worker import sweep

IBAN_ACCOUNT = {"account_holder": "Ada Lovelace", "iban": "DE89370400440532013000", "bic": "DEUTDEFF"}


def offers_config(tmp_path, *, plugins=("microjobs", "bank_transfer"), **extra):
    config = microjobs_config(tmp_path, min_success_rate=0)
    config["site"]["plugins"] = list(plugins)
    config.update(extra)
    return config


@pytest.fixture
def site_config(tmp_path):
    return offers_config(tmp_path)


@pytest.fixture
async def people(client, runtime, make_member):
    """An operator (who made the categories), a seller in IN and a buyer in FR with 100.00
    of wallet credit."""
    operator = await make_member(role="operator")
    seller, buyer = await make_member(country="IN"), await make_member(country="FR")
    for slug, name, parent in CATEGORIES:
        created = await client.post(
            "/operator/categories",
            json={"slug": slug, "name": name, "parent": parent},
            headers=operator.headers,
        )
        assert created.status_code == 201, created.text
    await fund(runtime, ledger.credit(buyer.id), 10000)
    return operator, seller, buyer


def offer_body(**changes) -> dict:
    body = {
        "kind": "offer",
        "title": "I will test your website on three phones",
        "description": "A report of what breaks on Android and iPhone, with screenshots.",
        "price": usd("60.00"),
        "category": "testing",
        "attributes": {
            "delivery_days": 2,
            "requirements": "The address of the page and what to try.",
            "exchange": "A review of my own app",
        },
    }
    body.update(changes)
    return body


async def create_offer(client, seller, **changes):
    return await client.post("/listings", json=offer_body(**changes), headers=seller.headers)


async def publish_offer(client, seller, **changes) -> dict:
    created = await create_offer(client, seller, **changes)
    assert created.status_code == 201, created.text
    submitted = await client.post(f"/listings/{created.json()['id']}/submit", headers=seller.headers)
    assert submitted.status_code == 200, submitted.text
    return submitted.json()


async def order(client, buyer, listing_id, requirements="The shop's checkout page."):
    return await client.post(
        f"/microjobs/offers/{listing_id}/orders", json={"requirements": requirements}, headers=buyer.headers
    )


async def paid_order(client, buyer, listing_id) -> dict:
    placed = await order(client, buyer, listing_id, requirements="Our shop, the checkout page.")
    assert placed.status_code == 201, placed.text
    paid = await client.post(
        f"/orders/{placed.json()['id']}/payments", json={"method": "balance"}, headers=buyer.headers
    )
    assert paid.status_code == 201, paid.text
    return (await client.get(f"/orders/{placed.json()['id']}", headers=buyer.headers)).json()


async def deliver(client, seller, order_id, message="The report, with twelve screenshots."):
    return await client.post(
        f"/orders/{order_id}/delivery", json={"message": message, "attachments": []}, headers=seller.headers
    )


async def state_of(client, member, order_id) -> str:
    return (await client.get(f"/orders/{order_id}", headers=member.headers)).json()["state"]


# --------------------------------------------------------------------------------------
# Publishing and screening
# --------------------------------------------------------------------------------------


async def test_an_offer_is_published_as_soon_as_it_is_submitted(client, people):
    operator, seller, _buyer = people
    offer = await publish_offer(client, seller)
    assert offer["status"] == "published" and offer["kind"] == "offer"
    assert offer["attributes"]["delivery_days"] == 2
    # Anyone sees it in the catalog, not only eligible members.
    listed = (await client.get("/listings?kind=offer")).json()["items"]
    assert [item["id"] for item in listed] == [offer["id"]]
    # Nothing waits in the operators' queue.
    pending = (await client.get("/operator/listings/pending", headers=operator.headers)).json()
    assert pending["items"] == []


async def test_contact_details_in_an_offer_are_refused(client, people, problem):
    _operator, seller, _buyer = people
    body = problem(
        await create_offer(client, seller, description="Write me at ada@example.com for a discount."),
        422,
        "validation_error",
        fields={"description"},
    )
    assert "e-mail address" in body["errors"][0]["message"]
    # The requirements are screened too: a phone number there is refused the same way.
    attributes = {"delivery_days": 2, "requirements": "Call me on +44 20 7946 0958 first."}
    body = problem(
        await create_offer(client, seller, attributes=attributes),
        422,
        "validation_error",
        fields={"attributes.requirements"},
    )
    assert "phone number" in body["errors"][0]["message"]
    # A bad attribute and a price of zero are 422s on their fields.
    problem(
        await create_offer(client, seller, attributes={"delivery_days": 0}),
        422,
        "validation_error",
        fields={"attributes.delivery_days"},
    )
    problem(
        await create_offer(client, seller, price=usd("0.00")),
        422,
        "validation_error",
        fields={"price.amount"},
    )
    assert (await client.get("/listings?kind=offer")).json()["items"] == []


class TestFlaggingSite:
    @pytest.fixture
    def site_config(self, tmp_path):
        return offers_config(tmp_path, listings={"screening": "flag"})

    async def test_a_flagged_offer_waits_for_an_operator(self, client, people):
        operator, seller, buyer = people
        attributes = {"delivery_days": 2, "requirements": "Send the files to ada@example.com"}
        offer = await publish_offer(client, seller, attributes=attributes)
        assert offer["status"] == "pending_review"
        pending = (await client.get("/operator/listings/pending", headers=operator.headers)).json()
        (item,) = pending["items"]
        assert item["screening_flags"] == [
            {"field": "attributes.requirements", "reason": "e-mail address", "match": "ada@example.com"}
        ]
        problem_resp = await order(client, buyer, offer["id"])
        assert problem_resp.status_code == 404  # not published: not visible to others


# --------------------------------------------------------------------------------------
# Ordering, paying, delivering, accepting
# --------------------------------------------------------------------------------------


async def test_order_pay_deliver_accept_pays_the_seller_the_full_price(client, runtime, people, problem):
    _operator, seller, buyer = people
    offer = await publish_offer(client, seller)
    placed = await order(client, buyer, offer["id"], requirements="Our shop, the checkout page.")
    assert placed.status_code == 201, placed.text
    body = placed.json()
    assert body["process"] == "offer_order" and body["state"] == "awaiting_payment"
    assert body["amount"] == usd("60.00")
    assert body["data"]["requirements"] == "Our shop, the checkout page."
    assert body["data"]["quote"]["buyer_total"] == 6000 and body["data"]["quote"]["seller_net"] == 6000

    paid = await client.post(
        f"/orders/{body['id']}/payments", json={"method": "balance"}, headers=buyer.headers
    )
    assert paid.status_code == 201, paid.text
    assert await state_of(client, buyer, body["id"]) == "in_progress"
    assert await balances(buyer.id) == (0, 10000 - 6000)

    problem(await deliver(client, buyer, body["id"]), 403, "forbidden")
    delivered = await deliver(client, seller, body["id"])
    assert delivered.status_code == 200, delivered.text
    assert delivered.json()["state"] == "delivered"
    problem(
        await client.post(f"/orders/{body['id']}/transitions/accept", headers=seller.headers),
        403,
        "actor_not_allowed",
    )
    accepted = await client.post(f"/orders/{body['id']}/transitions/accept", headers=buyer.headers)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["state"] == "completed"

    # The seller gets the whole 60.00 (no site fee), in their withdrawable balance.
    assert await balances(seller.id) == (6000, 0)
    assert await ledger.balance_of(ledger.PLATFORM_FEES, "USD") == 0
    await books_are_sound(runtime)

    withdrawn = await client.post(
        "/withdrawals",
        json={"method": "bank_transfer", "amount": usd("60.00"), "destination": IBAN_ACCOUNT},
        headers=seller.headers,
    )
    assert withdrawn.status_code == 201, withdrawn.text
    assert await balances(seller.id) == (0, 0)
    await books_are_sound(runtime)


async def test_a_delivered_order_completes_by_itself_after_three_days(client, runtime, people, clock):
    _operator, seller, buyer = people
    offer = await publish_offer(client, seller, price=usd("12.34"))
    placed = await paid_order(client, buyer, offer["id"])
    assert (await deliver(client, seller, placed["id"])).status_code == 200
    clock.advance(timedelta(days=3) - timedelta(seconds=1))
    await sweep(runtime)
    assert await state_of(client, buyer, placed["id"]) == "delivered"
    clock.advance(timedelta(seconds=1))
    await sweep(runtime)
    assert await state_of(client, buyer, placed["id"]) == "completed"
    assert await balances(seller.id) == (1234, 0)
    await books_are_sound(runtime)


async def test_an_unpaid_order_expires_after_72_hours(client, runtime, people, clock):
    _operator, seller, buyer = people
    offer = await publish_offer(client, seller)
    placed = (await order(client, buyer, offer["id"])).json()
    clock.advance(timedelta(hours=72) - timedelta(seconds=1))
    await sweep(runtime)
    assert await state_of(client, buyer, placed["id"]) == "awaiting_payment"
    clock.advance(timedelta(seconds=1))
    await sweep(runtime)
    assert await state_of(client, buyer, placed["id"]) == "cancelled"


async def test_who_may_order_what(client, people, make_member, problem):
    _operator, seller, buyer = people
    offer = await publish_offer(client, seller)
    problem(await order(client, seller, offer["id"]), 403, "forbidden")
    problem(await order(client, buyer, 99999), 404, "not_found")
    bad = await client.post(
        f"/microjobs/offers/{offer['id']}/orders", json={"requirements": 5}, headers=buyer.headers
    )
    problem(bad, 422, "validation_error")
    assert (await client.post(f"/microjobs/offers/{offer['id']}/orders", json={})).status_code == 401
    # A paused offer cannot be ordered.
    paused = await client.post(f"/listings/{offer['id']}/pause", headers=seller.headers)
    assert paused.status_code == 200, paused.text
    problem(await order(client, buyer, offer["id"]), 409, "offer_not_available")


class TestSiteCommission:
    @pytest.fixture
    def site_config(self, tmp_path):
        return offers_config(tmp_path, fees={"commission_by_kind": {"offer": "5"}})

    async def test_a_site_may_charge_five_percent_on_offers(self, client, runtime, people):
        _operator, seller, buyer = people
        offer = await publish_offer(client, seller)
        placed = await paid_order(client, buyer, offer["id"])
        # 5% of 60.00 = 3.00, paid by the seller: the buyer pays 60.00, the seller gets 57.00.
        assert placed["data"]["quote"]["buyer_total"] == 6000
        assert placed["data"]["quote"]["seller_net"] == 5700
        await deliver(client, seller, placed["id"])
        await client.post(f"/orders/{placed['id']}/transitions/accept", headers=buyer.headers)
        assert await balances(seller.id) == (5700, 0)
        assert await balances(buyer.id) == (0, 4000)
        assert await ledger.balance_of(ledger.PLATFORM_FEES, "USD") == 300
        await books_are_sound(runtime)


class TestWithGigs:
    @pytest.fixture
    def site_config(self, tmp_path):
        return offers_config(tmp_path, plugins=("microjobs", "gigs", "bank_transfer"))

    async def test_offers_and_gigs_live_side_by_side(self, client, runtime, people):
        _operator, seller, buyer = people
        offer = await publish_offer(client, seller)
        placed = await paid_order(client, buyer, offer["id"])
        await deliver(client, seller, placed["id"])
        accepted = await client.post(f"/orders/{placed['id']}/transitions/accept", headers=buyer.headers)
        assert accepted.json()["state"] == "completed"
        assert await balances(seller.id) == (6000, 0)
        # The offer is not a gig: the gigs plugin's routes do not know it.
        assert (await client.get(f"/gigs/{offer['id']}/quote")).status_code == 404
        await books_are_sound(runtime)


class TestOffersOff:
    @pytest.fixture
    def site_config(self, tmp_path):
        config = offers_config(tmp_path)
        config["plugins"]["microjobs"]["offers"] = False
        return config

    async def test_a_site_without_offers_has_no_offer_kind(self, client, people, problem):
        _operator, seller, buyer = people
        body = problem(await create_offer(client, seller), 422, "validation_error", fields={"kind"})
        assert "offer" not in body["errors"][0]["message"].split("has:")[1]
        problem(await order(client, buyer, 1), 404, "not_found")
