"""Testing a fee plugin with agorakit's fixtures: the worked example of docs/testing.md.

``category_fees`` (``tests/examples/category_fees.py``, the worked example of
docs/money.md) replaces the site's commission with a percentage by category.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from examples import category_fees


@pytest.fixture
def extra_plugins():
    # An installed plugin is enabled by name in site_config's "plugins" list instead.
    return [("category_fees", category_fees)]


@pytest.fixture
def site_config():
    return {
        "site": {"plugins": ["gigs"]},
        "fees": {"commission": False},
        "plugins": {"category_fees": {"default_percent": "10", "by_category": {"translation": "7.5"}}},
    }


async def available(client, member) -> str:
    response = await client.get("/me/balance", headers=member.headers)
    return response.json()["balances"][0]["available"]


async def test_a_translation_pays_the_seller_the_price_less_7_5_percent(
    client, make_member, make_listing, make_order
):
    seller = await make_member()
    listing = await make_listing(seller=seller, category="translation", price=4000)
    await make_order(state="completed", listing=listing)
    assert await available(client, seller) == "37.00"  # 40.00 less 3.00


async def test_other_categories_pay_the_default_10_percent(client, make_member, make_listing, make_order):
    seller = await make_member()
    listing = await make_listing(seller=seller, price=4000)
    await make_order(state="completed", listing=listing)
    assert await available(client, seller) == "36.00"


async def test_the_site_keeps_the_fee_once_the_worker_completes_a_delivery(
    client, clock, make_operator, make_listing, make_order, run_worker
):
    listing = await make_listing(category="translation")  # 25.00
    order = await make_order(state="delivered", listing=listing)
    report = await run_worker(at=clock.now() + timedelta(days=3))  # gigs complete 3 days after delivery
    assert len(report.timers_fired) == 1
    operator = await make_operator()
    fees = await client.get("/operator/ledger/accounts/platform:fees", headers=operator.headers)
    assert fees.json()["balance"] == {"amount": "1.88", "currency": "USD"}  # 7.5% of 25.00, half up
    got = await client.get(f"/orders/{order['id']}", headers=operator.headers)
    assert got.json()["state"] == "completed"


async def test_a_cancelled_order_costs_the_buyer_nothing(client, make_member, make_order, fund_member):
    buyer = await make_member()
    await fund_member(buyer, 2500, account="credit")
    await make_order(state="cancelled", buyer=buyer)
    balance = await client.get("/me/balance", headers=buyer.headers)
    assert balance.json()["balances"][0]["credit"] == "25.00"
