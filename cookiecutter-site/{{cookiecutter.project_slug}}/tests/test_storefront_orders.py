"""The storefront's order and money pages: ordering a gig with extras, paying from the
balance or by bank transfer, the next step of each party in each state, delivering,
accepting, messages, reviews, the balance and withdrawals.

Amounts are exact: a 25.00 USD gig with a 10.00 extra costs 35.00; the site keeps its
20% commission (7.00) and the seller earns 28.00.  Every refusal is the API's own,
shown on the page next to its field, and changes nothing.
"""

from __future__ import annotations

import re

import pytest

import site_plugins.storefront as storefront
from site_plugins.storefront.testing import Visitor

INSTRUCTIONS = "Pay to Test Bazaar Ltd, IBAN DE89 3704 0044 0532 0130 00. Quote the payment reference."
SITE = {
    "site": {"name": "Test Bazaar", "currency": "USD", "plugins": ["gigs", "bank_transfer"]},
    "money": {"payment_methods": ["balance", "bank_transfer"], "payout_methods": ["bank_transfer"]},
    "plugins": {"bank_transfer": {"instructions": INSTRUCTIONS, "payout_fee": "1.00"}},
}
LOGO = {
    "title": "I will design a minimalist logo",
    "description": "Three concepts and vector files.",
    "price": {"amount": "25.00", "currency": "USD"},
    "attributes": {
        "delivery_days": 3,
        "max_quantity": 3,
        "extras": [{"title": "Express delivery", "price": "10.00", "days": 0}],
    },
}


@pytest.fixture
def site_config():
    return SITE


@pytest.fixture
def extra_plugins():
    return [("storefront", storefront)]


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def api(client, who, method, path, **kwargs):
    response = await client.request(method, path, headers=who.headers, **kwargs)
    assert response.status_code < 300, response.text
    return response.json()


@pytest.fixture
async def seller(make_member):
    return await make_member(display_name="Sam Seller")


@pytest.fixture
async def buyer(make_member):
    return await make_member(display_name="Bea Buyer")


@pytest.fixture
async def gig(make_listing, seller):
    return await make_listing(kind="gig", seller=seller, **LOGO)


@pytest.fixture
async def as_buyer(client, buyer):
    async with Visitor(client.app) as browser:
        await browser.sign_in(buyer)
        yield browser


@pytest.fixture
async def as_seller(client, seller):
    async with Visitor(client.app) as browser:
        await browser.sign_in(seller)
        yield browser


async def order_with_extra(browser, gig) -> int:
    await browser.get(f"/shop/gigs/{gig['id']}")
    placed = await browser.post(
        f"/shop/gigs/{gig['id']}/order",
        [("extra", "Express delivery"), ("quantity", "1"), ("requirements", "Acme Bakery, warm colours")],
    )
    assert placed.status_code == 303, placed.text
    return int(placed.headers["location"].rsplit("/", 1)[1])


async def test_the_gig_page_prices_the_chosen_extras(client, gig):
    async with Visitor(client.app) as visitor:
        plain = text_of((await visitor.get(f"/shop/gigs/{gig['id']}")).text)
        assert "Express delivery +10.00 USD" in plain and "Total 25.00 USD" in plain
        await visitor.get(f"/shop/gigs/{gig['id']}")
        priced = await visitor.post(
            f"/shop/gigs/{gig['id']}/order",
            [("extra", "Express delivery"), ("quantity", "2"), ("preview", "1")],
        )
        assert priced.status_code == 200
        assert "Total 70.00 USD" in text_of(priced.text)  # (25.00 + 10.00) x 2
        signed_out = await visitor.post(f"/shop/gigs/{gig['id']}/order", {"quantity": "1"})
        assert signed_out.status_code == 303
        assert signed_out.headers["location"] == f"/shop/sign-in?next=/shop/gigs/{gig['id']}"


async def test_ordering_with_an_extra_and_paying_from_the_balance(client, as_buyer, buyer, gig, fund_member):
    await fund_member(buyer, 5000)
    order_id = await order_with_extra(as_buyer, gig)
    page = await as_buyer.get(f"/shop/orders/{order_id}")
    text = text_of(page.text)
    assert f"Order {order_id} placed: choose how to pay." in text
    assert "Extra: Express delivery 10.00 USD" in text and "Total 35.00 USD" in text
    assert "available 50.00 USD" in text
    paid = await as_buyer.post(
        f"/shop/orders/{order_id}/pay", {"method": "balance", "idempotency_key": "k-1"}
    )
    assert paid.status_code == 303
    order = await api(client, buyer, "GET", f"/orders/{order_id}")
    assert order["state"] == "in_progress" and order["data"]["requirements"] == "Acme Bakery, warm colours"
    balance = (await api(client, buyer, "GET", "/me/balance"))["balances"][0]
    assert (balance["available"], balance["credit"], balance["in_escrow"]) == ("15.00", "0.00", "35.00")
    text = text_of((await as_buyer.get(f"/shop/orders/{order_id}")).text)
    assert "Paid: the seller has started." in text and "Delivery due by 8 Jan 2026, 09:00 UTC" in text


async def test_order_form_errors_are_shown_at_their_fields_and_place_nothing(client, as_buyer, buyer, gig):
    await as_buyer.get(f"/shop/gigs/{gig['id']}")
    unknown = await as_buyer.post(
        f"/shop/gigs/{gig['id']}/order", [("extra", "Gold plating"), ("quantity", "1")]
    )
    assert unknown.status_code == 422
    assert 'id="order-extras-error"' in unknown.text and "Gold plating" in unknown.text
    too_many = await as_buyer.post(f"/shop/gigs/{gig['id']}/order", {"quantity": "4"})
    assert too_many.status_code == 422
    assert 'id="order-quantity-error"' in too_many.text and 'aria-invalid="true"' in too_many.text
    not_a_number = await as_buyer.post(f"/shop/gigs/{gig['id']}/order", {"quantity": "two"})
    assert not_a_number.status_code == 422
    assert 'id="order-quantity-error">enter a whole number</p>' in not_a_number.text
    assert (await api(client, buyer, "GET", "/orders", params={"role": "buyer"}))["items"] == []


async def test_a_seller_cannot_order_their_own_gig(as_seller, gig):
    page = await as_seller.get(f"/shop/gigs/{gig['id']}")
    assert "This is your gig." in page.text and "Continue to payment" not in page.text
    refused = await as_seller.post(f"/shop/gigs/{gig['id']}/order", {"quantity": "1"})
    assert refused.status_code == 403 and 'role="alert"' in refused.text


async def test_paying_without_enough_balance_shows_the_api_refusal(client, as_buyer, buyer, gig, fund_member):
    await fund_member(buyer, 3000)
    order_id = await order_with_extra(as_buyer, gig)
    await as_buyer.get(f"/shop/orders/{order_id}")
    refused = await as_buyer.post(f"/shop/orders/{order_id}/pay", {"method": "balance"})
    assert refused.status_code == 409
    assert "this needs 35.00 USD" in text_of(refused.text)
    assert (await api(client, buyer, "GET", f"/orders/{order_id}"))["state"] == "awaiting_payment"


async def test_paying_by_bank_transfer_shows_the_instructions_and_the_reference(client, as_buyer, buyer, gig):
    order_id = await order_with_extra(as_buyer, gig)
    await as_buyer.get(f"/shop/orders/{order_id}")
    started = await as_buyer.post(f"/shop/orders/{order_id}/pay", {"method": "bank_transfer"})
    assert started.status_code == 303
    (payment,) = (await api(client, buyer, "GET", "/payments", params={"status": "awaiting_funds"}))["items"]
    page = text_of((await as_buyer.get(f"/shop/orders/{order_id}")).text)
    assert "Waiting for your bank transfer of 35.00 USD" in page
    assert INSTRUCTIONS in page and f"Payment reference: {payment['reference']}" in page
    cancelled = await as_buyer.post(f"/shop/orders/{order_id}/payments/{payment['id']}/cancel")
    assert cancelled.status_code == 303
    assert (await api(client, buyer, "GET", f"/payments/{payment['id']}"))["status"] == "cancelled"
    assert "Pay now" in (await as_buyer.get(f"/shop/orders/{order_id}")).text


@pytest.mark.parametrize(
    ("state", "buyer_sees", "seller_sees", "neither_sees"),
    [
        (
            "awaiting_payment",
            ["Pay now", "Cancel this order"],
            [],
            ["Deliver the order", "Accept the delivery"],
        ),
        (
            "in_progress",
            [],
            ["Deliver the order", "Cancel and refund the buyer"],
            ["Pay now", "Accept the delivery"],
        ),
        ("delivered", ["Accept the delivery"], [], ["Deliver the order", "Pay now", "Post the review"]),
        ("completed", ["Post the review"], ["Post the review"], ["Accept the delivery", "Deliver the order"]),
    ],
)
async def test_each_party_sees_its_next_step(
    client, make_order, buyer, seller, gig, state, buyer_sees, seller_sees, neither_sees
):
    order = await make_order(kind="gig", state=state, buyer=buyer, seller=seller, listing=gig)
    for who, expected in ((buyer, buyer_sees), (seller, seller_sees)):
        async with Visitor(client.app) as browser:
            await browser.sign_in(who)
            page = (await browser.get(f"/shop/orders/{order['id']}")).text
        for button in expected:
            assert button in page, (state, who.member.display_name, button)
        for button in neither_sees + [b for b in buyer_sees + seller_sees if b not in expected]:
            assert button not in page, (state, who.member.display_name, button)


async def test_my_orders_lists_buying_and_selling_with_the_next_step(client, make_order, buyer, seller, gig):
    paid = await make_order(kind="gig", state="in_progress", buyer=buyer, seller=seller, listing=gig)
    async with Visitor(client.app) as browser:
        await browser.sign_in(seller)
        selling = text_of((await browser.get("/shop/orders", role="seller")).text)
        buying = text_of((await browser.get("/shop/orders", role="buyer")).text)
    assert f"#{paid['id']} I will design a minimalist logo 25.00 USD in progress Deliver" in selling
    assert "You have not ordered anything yet." in buying


async def test_deliver_accept_and_the_sellers_balance(
    client, as_buyer, as_seller, buyer, seller, gig, fund_member
):
    await fund_member(buyer, 3500)
    order_id = await order_with_extra(as_buyer, gig)
    await as_buyer.get(f"/shop/orders/{order_id}")
    assert (await as_buyer.post(f"/shop/orders/{order_id}/pay", {"method": "balance"})).status_code == 303

    await as_seller.get(f"/shop/orders/{order_id}")
    empty = await as_seller.post(f"/shop/orders/{order_id}/deliver", {"message": ""})
    assert empty.status_code == 422 and 'role="alert"' in empty.text
    assert (await api(client, seller, "GET", f"/orders/{order_id}"))["state"] == "in_progress"
    delivered = await as_seller.post(
        f"/shop/orders/{order_id}/deliver", {"message": "Three concepts attached."}
    )
    assert delivered.status_code == 303

    page = await as_buyer.get(f"/shop/orders/{order_id}")
    assert "Three concepts attached." in page.text
    accepted = await as_buyer.post(f"/shop/orders/{order_id}/actions/accept")
    assert accepted.status_code == 303
    assert (await api(client, buyer, "GET", f"/orders/{order_id}"))["state"] == "completed"

    order_page = text_of((await as_seller.get(f"/shop/orders/{order_id}")).text)
    assert "Total 35.00 USD Site fee -7.00 USD You earn 28.00 USD" in order_page
    balance = await as_seller.get("/shop/balance")
    assert '<dd id="balance-available">28.00 USD</dd>' in balance.text
    assert '<dd id="balance-credit">0.00 USD</dd>' in balance.text


async def test_an_unknown_action_is_a_404_and_a_refused_one_is_explained(
    client, make_order, buyer, seller, gig
):
    order = await make_order(kind="gig", state="in_progress", buyer=buyer, seller=seller, listing=gig)
    async with Visitor(client.app) as browser:
        await browser.sign_in(buyer)
        await browser.get(f"/shop/orders/{order['id']}")
        assert (await browser.post(f"/shop/orders/{order['id']}/actions/launch")).status_code == 404
        early = await browser.post(f"/shop/orders/{order['id']}/actions/cancel_late")
        assert early.status_code == 409 and 'role="alert"' in early.text
    assert (await api(client, buyer, "GET", f"/orders/{order['id']}"))["state"] == "in_progress"


async def test_messages_between_the_parties(client, make_order, buyer, seller, gig):
    order = await make_order(kind="gig", state="in_progress", buyer=buyer, seller=seller, listing=gig)
    async with Visitor(client.app) as browser:
        await browser.sign_in(buyer)
        await browser.get(f"/shop/orders/{order['id']}")
        empty = await browser.post(f"/shop/orders/{order['id']}/messages", {"body": "   "})
        assert empty.status_code == 422 and 'role="alert"' in empty.text
        sent = await browser.post(f"/shop/orders/{order['id']}/messages", {"body": "Could you use teal?"})
        assert sent.status_code == 303
    async with Visitor(client.app) as browser:
        await browser.sign_in(seller)
        page = text_of((await browser.get(f"/shop/orders/{order['id']}")).text)
    assert "Bea Buyer" in page and "Could you use teal?" in page


async def test_reviewing_a_completed_order(client, make_order, buyer, seller, gig):
    order = await make_order(kind="gig", state="completed", buyer=buyer, seller=seller, listing=gig)
    async with Visitor(client.app) as browser:
        await browser.sign_in(buyer)
        await browser.get(f"/shop/orders/{order['id']}")
        unrated = await browser.post(f"/shop/orders/{order['id']}/review", {"text": "Lovely work."})
        assert (
            unrated.status_code == 422 and 'id="order-rating-error">choose 1 to 5 stars</p>' in unrated.text
        )
        posted = await browser.post(
            f"/shop/orders/{order['id']}/review", {"rating": "5", "text": "Lovely work."}
        )
        assert posted.status_code == 303
        page = (await browser.get(f"/shop/orders/{order['id']}")).text
    assert "Lovely work." in page and "Post the review" not in page
    (review,) = (await api(client, buyer, "GET", f"/orders/{order['id']}/reviews"))["items"]
    assert (review["rating"], review["author_role"]) == (5, "buyer")
    gig_page = await client.get(f"/listings/{gig['id']}")
    assert gig_page.json()["rating"] == {"average": "5.00", "count": 1}


async def test_another_members_order_is_a_404_page(client, make_order, make_member, buyer, seller, gig):
    order = await make_order(kind="gig", state="in_progress", buyer=buyer, seller=seller, listing=gig)
    async with Visitor(client.app) as browser:
        await browser.sign_in(await make_member())
        answer = await browser.get(f"/shop/orders/{order['id']}")
    assert answer.status_code == 404 and "<h1>Not found</h1>" in answer.text


async def test_withdrawing_with_errors_shown_then_a_withdrawal(client, as_seller, seller, fund_member):
    await fund_member(seller, 10000)
    await as_seller.get("/shop/balance")
    bad_iban = await as_seller.post(
        "/shop/balance/withdrawals",
        {"method": "bank_transfer", "amount": "60.00", "account_holder": "Sam Seller", "iban": "DE00 1234"},
    )
    assert bad_iban.status_code == 422
    assert 'id="withdraw-bank_transfer-iban-error"' in bad_iban.text
    below = await as_seller.post(
        "/shop/balance/withdrawals",
        {
            "method": "bank_transfer",
            "amount": "20.00",
            "account_holder": "Sam Seller",
            "iban": "DE89370400440532013000",
        },
    )
    assert below.status_code == 422 and "50.00 USD" in text_of(below.text)
    assert (await api(client, seller, "GET", "/withdrawals"))["items"] == []

    done = await as_seller.post(
        "/shop/balance/withdrawals",
        {
            "method": "bank_transfer",
            "amount": "60.00",
            "account_holder": "Sam Seller",
            "iban": "DE89 3704 0044 0532 0130 00",
            "idempotency_key": "withdraw-1",
        },
    )
    assert done.status_code == 303
    again = await as_seller.post(
        "/shop/balance/withdrawals",
        {
            "method": "bank_transfer",
            "amount": "60.00",
            "account_holder": "Sam Seller",
            "iban": "DE89 3704 0044 0532 0130 00",
            "idempotency_key": "withdraw-1",
        },
    )
    assert again.status_code == 303  # the same form sent twice: one withdrawal
    (withdrawal,) = (await api(client, seller, "GET", "/withdrawals"))["items"]
    assert (withdrawal["amount"]["amount"], withdrawal["net"]["amount"], withdrawal["status"]) == (
        "60.00",
        "59.00",
        "requested",
    )
    page = await as_seller.get("/shop/balance")
    assert '<dd id="balance-available">40.00 USD</dd>' in page.text
    assert "60.00 USD 59.00 USD requested" in text_of(page.text)
    cancelled = await as_seller.post(f"/shop/balance/withdrawals/{withdrawal['id']}/cancel")
    assert cancelled.status_code == 303
    assert '<dd id="balance-available">100.00 USD</dd>' in (await as_seller.get("/shop/balance")).text


async def test_adding_funds_by_bank_transfer_shows_how_to_pay(client, as_buyer, buyer):
    await as_buyer.get("/shop/balance")
    bad = await as_buyer.post("/shop/balance/deposit", {"method": "bank_transfer", "amount": "12.345"})
    assert bad.status_code == 422 and 'id="deposit-amount-error"' in bad.text
    started = await as_buyer.post("/shop/balance/deposit", {"method": "bank_transfer", "amount": "25.00"})
    assert started.status_code == 303
    (payment,) = (await api(client, buyer, "GET", "/payments"))["items"]
    assert (payment["purpose"], payment["amount"]["amount"], payment["status"]) == (
        "deposit",
        "25.00",
        "awaiting_funds",
    )
    page = text_of((await as_buyer.get("/shop/balance")).text)
    assert f"Payment reference: {payment['reference']}" in page and INSTRUCTIONS in page
