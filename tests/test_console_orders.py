"""The console's orders pages, over HTTP: every order filtered by kind, state and
member, and one order's evidence (history, proofs, conversation, disputes, reviews)."""

from __future__ import annotations

import pytest
from console_helpers import CONSOLE_SITE, Console, text_of


@pytest.fixture
def site_config():
    return CONSOLE_SITE


async def test_orders_are_listed_and_filtered(client, make_operator, make_member, make_order):
    operator = await make_operator()
    ada, bob = await make_member(display_name="Ada Buyer"), await make_member(display_name="Bob Buyer")
    done = await make_order(state="completed", buyer=ada)
    placed = await make_order(state="awaiting_payment", buyer=bob)
    async with Console(client) as browser:
        await browser.sign_in(operator.member.email, operator.password)
        every = text_of(await browser.get("/console/orders"))
        # newest first
        assert every.index(f"#{placed['id']} gig order awaiting payment Bob Buyer") < every.index(
            f"#{done['id']} gig order completed Ada Buyer"
        )
        completed = text_of(await browser.get("/console/orders", state="completed"))
        assert f"#{done['id']} " in completed and f"#{placed['id']} " not in completed
        mine = text_of(await browser.get("/console/orders", member_id=str(bob.id)))
        assert f"#{placed['id']} " in mine and f"#{done['id']} " not in mine
        assert "No order matches." in text_of(await browser.get("/console/orders", kind="lead_unlock"))

        # a member id that is not a number: the API's 400 is shown, not a 500
        refused = await browser.get("/console/orders", member_id="ada")
        assert refused.status_code == 200
        assert "member_id" in text_of(refused) and "No order matches." not in text_of(refused)


async def test_an_orders_page_shows_its_evidence(client, make_operator, make_member, make_order):
    operator = await make_operator()
    buyer, seller = await make_member(display_name="Bea Buyer"), await make_member(display_name="Sam Seller")
    order = await make_order(state="completed", buyer=buyer, seller=seller)
    conversation = (await client.get(f"/orders/{order['id']}/conversation", headers=buyer.headers)).json()
    said = await client.post(
        f"/conversations/{conversation['id']}/messages",
        json={"body": "Thanks, the logo works on dark backgrounds too."},
        headers=buyer.headers,
    )
    assert said.status_code == 201, said.text
    reviewed = await client.post(
        f"/orders/{order['id']}/reviews",
        json={"rating": 5, "text": "Fast and careful."},
        headers=buyer.headers,
    )
    assert reviewed.status_code == 201, reviewed.text
    opened = await client.post(
        f"/orders/{order['id']}/disputes",
        json={"reason": "not_delivered", "text": "The files never opened."},
        headers=buyer.headers,
    )
    assert opened.status_code == 201, opened.text

    async with Console(client) as browser:
        await browser.sign_in(operator.member.email, operator.password)
        page = await browser.get(f"/console/orders/{order['id']}")
        missing = await browser.get("/console/orders/999999")
    assert page.status_code == 200
    text = text_of(page)
    assert f"Order #{order['id']}" in text and "completed since" in text and "gig order · 25.00 USD" in text
    assert f"Buyer Bea Buyer (#{buyer.id})" in text and f"Seller Sam Seller (#{seller.id})" in text
    for state in ("awaiting payment", "in progress", "delivered", "completed"):
        assert state in text
    # the seller's delivery is the order's proof, accepted with the order
    proof = (await client.get(f"/orders/{order['id']}/proofs", headers=buyer.headers)).json()[0]
    assert f"Proof #{proof['id']}: accepted By #{seller.id}" in text
    assert "Here is your proofread text, with tracked changes." in text
    assert "Thanks, the logo works on dark backgrounds too." in text
    assert f"Dispute #{opened.json()['id']}: The order was marked complete without a delivery (open)" in text
    assert "The files never opened." in text
    assert "5 / 5 by the buyer, Bea Buyer" in text and "Fast and careful." in text
    assert missing.status_code == 404 and "there is no order 999999" in text_of(missing)
