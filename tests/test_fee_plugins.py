"""Fee plugins see the sale: the runtime (their settings) and the quote's context.

The per-category plugin is the worked example of ``docs/money.md``
(``tests/examples/category_fees.py``), registered as a site registers any plugin; a
recording plugin checks what every place that quotes fills in.
"""

from __future__ import annotations

import pytest
from examples import category_fees

from agorakit import hookimpl, orders
from agorakit.hooks import get_plugin_manager
from agorakit.money import QuoteContext, ledger
from agorakit.settings import ConfigError, settings_from_dict
from agorakit.testing import TEST_DEFAULTS, deep_merge


class Recorder:
    """Records every quote and charges nothing."""

    def __init__(self) -> None:
        self.quotes: list = []
        self.runtimes: list = []

    @hookimpl
    def agorakit_compute_fees(self, runtime, quote):
        self.runtimes.append(runtime)
        self.quotes.append(quote)


RECORDER = Recorder()


@pytest.fixture
def extra_plugins():
    RECORDER.quotes.clear()
    RECORDER.runtimes.clear()
    return [("category_fees", category_fees), ("recorder", RECORDER)]


@pytest.fixture
def site_config():
    return {
        "site": {"plugins": ["gigs"]},
        "fees": {"commission": False},
        "plugins": {"category_fees": {"default_percent": "10", "by_category": {"logo-design": "15"}}},
    }


@pytest.fixture
async def market(client, runtime, make_member):
    operator = await make_member(role="operator")
    seller = await make_member(country="DE")
    buyer = await make_member(country="FR")
    for slug, name, parent in [
        ("design", "Design", None),
        ("logo-design", "Logo design", "design"),
        ("writing", "Writing", None),
    ]:
        created = await client.post(
            "/operator/categories",
            json={"slug": slug, "name": name, "parent": parent},
            headers=operator.headers,
        )
        assert created.status_code == 201, created.text
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key=f"fund:{buyer.id}",
            kind="test_funding",
            description="test",
            lines=ledger.move(ledger.external("test"), ledger.credit(buyer.id), 100_00, "USD"),
        )
    return operator, seller, buyer


async def publish_gig(client, seller, operator, *, category: str, price: str = "25.00") -> int:
    body = {
        "kind": "gig",
        "title": "I will write or draw what you need",
        "description": "Careful work, delivered on time, two rounds of changes.",
        "price": {"amount": price, "currency": "USD"},
        "category": category,
        "attributes": {
            "delivery_days": 3,
            "extras": [{"title": "Express delivery", "price": "10.00", "days": 0}],
            "max_quantity": 3,
        },
    }
    created = await client.post("/listings", json=body, headers=seller.headers)
    assert created.status_code == 201, created.text
    gig_id = created.json()["id"]
    await client.post(f"/listings/{gig_id}/submit", headers=seller.headers)
    approved = await client.post(f"/operator/listings/{gig_id}/approve", headers=operator.headers)
    assert approved.json()["status"] == "published", approved.text
    return gig_id


async def test_an_order_in_a_category_with_its_own_rate_pays_that_rate_and_others_the_default(
    client, runtime, market
):
    operator, seller, buyer = market
    logo = await publish_gig(client, seller, operator, category="logo-design", price="25.00")
    essay = await publish_gig(client, seller, operator, category="writing", price="25.00")

    placed = await client.post(f"/gigs/{logo}/orders", json={"quantity": 2}, headers=buyer.headers)
    assert placed.status_code == 201, placed.text
    quote = placed.json()["data"]["quote"]
    # 15% of 50.00
    assert (quote["platform_total"], quote["seller_net"], quote["buyer_total"]) == (750, 4250, 5000)
    assert quote["lines"] == [
        {"payer": "seller", "amount": 750, "label": "Commission (15%)", "code": "commission"}
    ]

    placed = await client.post(
        f"/gigs/{essay}/orders", json={"extras": ["Express delivery"]}, headers=buyer.headers
    )
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    quote = placed.json()["data"]["quote"]
    # 10% of 35.00 (the gig and its extra)
    assert (quote["platform_total"], quote["seller_net"], quote["buyer_total"]) == (350, 3150, 3500)
    assert quote["lines"][0]["label"] == "Commission (10%)"

    # The price shown before ordering is the one charged.
    shown = await client.get(f"/gigs/{logo}/quote", params={"quantity": 2})
    assert shown.json()["fees"] == [
        {"label": "Commission (15%)", "payer": "seller", "amount": {"amount": "7.50", "currency": "USD"}}
    ]
    assert shown.json()["seller_earns"] == {"amount": "42.50", "currency": "USD"}

    # And it is what the seller is paid when the order completes.
    paid = await client.post(
        f"/orders/{order_id}/payments", json={"method": "balance"}, headers=buyer.headers
    )
    assert paid.status_code == 201, paid.text
    delivered = await client.post(
        f"/gigs/orders/{order_id}/delivery", json={"message": "Here it is."}, headers=seller.headers
    )
    assert delivered.status_code in (200, 201), delivered.text
    accepted = await client.post(f"/gigs/orders/{order_id}/accept", headers=buyer.headers)
    assert accepted.status_code in (200, 201), accepted.text
    assert await ledger.balance_of(ledger.available(seller.id), "USD") == 3150
    assert await ledger.balance_of(ledger.PLATFORM_FEES, "USD") == 350


async def test_every_quote_carries_the_runtime_and_the_sales_context(client, runtime, market):
    operator, seller, buyer = market
    logo = await publish_gig(client, seller, operator, category="logo-design")
    expected = {
        "listing_id": logo,
        "listing_kind": "gig",
        "category": "logo-design",
        "seller_country": "DE",
        "quantity": 3,
    }

    # A visitor's quote: no buyer, so no buyer country.
    await client.get(f"/gigs/{logo}/quote", params={"quantity": 3, "extra": "Express delivery"})
    # A member's quote, then the order.
    await client.get(f"/gigs/{logo}/quote", params={"quantity": 3}, headers=buyer.headers)
    placed = await client.post(f"/gigs/{logo}/orders", json={"quantity": 3}, headers=buyer.headers)
    assert placed.status_code == 201, placed.text

    visitor, member, ordered = RECORDER.quotes
    assert all(r is runtime for r in RECORDER.runtimes)
    assert visitor.context == QuoteContext(**expected, buyer_country=None)
    assert (visitor.amount, visitor.kind, visitor.buyer_id, visitor.seller_id) == (
        10500,
        "gig",
        None,
        seller.id,
    )
    assert member.context == QuoteContext(**expected, buyer_country="FR")
    assert ordered.context == member.context
    assert (ordered.amount, ordered.buyer_id) == (7500, buyer.id)


async def test_an_order_created_without_a_context_gets_it_read(client, runtime, market):
    operator, seller, buyer = market
    logo = await publish_gig(client, seller, operator, category="logo-design")
    order = await orders.create_order(
        runtime,
        process="gig_order",
        buyer_id=buyer.id,
        seller_id=seller.id,
        listing_id=logo,
        currency="USD",
        items=[
            orders.ItemIn(description="Logo", unit_price=2500, quantity=2),
            orders.ItemIn(description="Extra", unit_price=1000, quantity=1, kind="extra"),
        ],
        data={"fee_kind": "gig"},
    )
    (quote,) = RECORDER.quotes
    assert quote.context == QuoteContext(
        listing_id=logo,
        listing_kind="gig",
        category="logo-design",
        seller_country="DE",
        buyer_country="FR",
        quantity=2,
    )
    assert order.data["quote"]["platform_total"] == 900  # 15% of 60.00

    # An order without a listing or a seller: those fields are None.
    await orders.create_order(
        runtime,
        process="gig_order",
        buyer_id=buyer.id,
        currency="USD",
        items=[orders.ItemIn(description="Anything", unit_price=1000)],
    )
    assert RECORDER.quotes[-1].context == QuoteContext(buyer_country="FR", quantity=1)


def _load(plugin_settings: dict):
    pm = get_plugin_manager([], extra=[("category_fees", category_fees)], source="site.toml")
    data = deep_merge(TEST_DEFAULTS, {"plugins": {"category_fees": plugin_settings}})
    return settings_from_dict(data, source="site.toml", environ={}, pm=pm)


def test_good_settings_are_read_with_their_defaults():
    settings = _load({"by_category": {"translation": "7.5"}}).plugin("category_fees")
    assert settings == category_fees.CategoryFeesSettings(
        default_percent="10", by_category={"translation": "7.5"}
    )


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"by_category": {"logo-design": "150"}},
            "site.toml: plugins.category_fees.by_category: logo-design = '150' is not a percentage "
            'from 0 to 100 (e.g. "7.5")',
        ),
        (
            {"default_percent": "12.555"},
            "site.toml: plugins.category_fees.default_percent: Expected `str` matching",
        ),
        (
            {"default_percent": 12},
            "site.toml: plugins.category_fees.default_percent: Expected `str`, got `int`",
        ),
        (
            {"default_percnt": "5"},
            "site.toml: plugins.category_fees.default_percnt: unknown key; did you mean `default_percent`?",
        ),
    ],
)
def test_bad_settings_stop_start_up_with_a_message_naming_the_setting(section, message):
    with pytest.raises(ConfigError) as raised:
        _load(section)
    assert str(raised.value).startswith(message), str(raised.value)
