"""site_plugins/store_credit.py: withdrawals paid out as gift cards, by hand."""

from __future__ import annotations

import pytest
from agorakit.settings import ConfigError, settings_from_dict
from agorakit.testing import deep_merge

SETTINGS = {"stores": ["Books & Co", "Corner Grocer"], "minimum": "10.00", "fee": "0.50"}


@pytest.fixture
def site_config(site_config):
    plugins = site_config["site"]["plugins"]
    methods = site_config["money"].get("payout_methods", [])
    return deep_merge(
        site_config,
        {
            "site": {
                "plugins": plugins + [p for p in ["store_credit"] if p not in plugins],
                "currency": "USD",
            },
            "money": {"payout_methods": methods + [m for m in ["store_credit"] if m not in methods]},
            "plugins": {"store_credit": SETTINGS},
        },
    )


def usd(amount: str) -> dict:
    return {"amount": amount, "currency": "USD"}


async def withdraw(client, member, amount: str, destination: dict):
    body = {"method": "store_credit", "amount": usd(amount), "destination": destination}
    return await client.post("/withdrawals", json=body, headers=member.headers)


async def available(client, member) -> str:
    response = await client.get("/me/balance", headers=member.headers)
    (balance,) = [b for b in response.json()["balances"] if b["currency"] == "USD"]
    return balance["available"]


async def fees_kept(client, operator) -> str:
    response = await client.get("/operator/ledger/accounts/platform:fees", headers=operator.headers)
    assert response.status_code == 200, response.text
    return response.json()["balance"]["amount"]


async def test_the_method_is_offered_with_its_minimum_and_fee(client):
    methods = {m["name"]: m for m in (await client.get("/payout-methods")).json()}
    assert methods["store_credit"] == {
        "name": "store_credit",
        "label": "Store gift card",
        "minimums": [usd("10.00")],
        "fee": "0.50 USD per gift card",
        "destination_fields": ["store", "email"],
        "available": True,
        "unavailable_reason": None,
    }


async def test_a_withdrawal_is_bought_as_a_gift_card_and_the_fee_kept(
    client, make_member, make_operator, fund_member
):
    ada, operator = await make_member(), await make_operator()
    await fund_member(ada, 3000)

    response = await withdraw(client, ada, "20.00", {"store": " books & co ", "email": "Ada@Example.COM"})
    assert response.status_code == 201, response.text
    withdrawal = response.json()
    assert (withdrawal["status"], withdrawal["amount"], withdrawal["fee"], withdrawal["net"]) == (
        "requested",
        usd("20.00"),
        usd("0.50"),
        usd("19.50"),
    )
    assert withdrawal["destination"] == {"store": "Books & Co", "email": "Ada@example.com"}
    assert await available(client, ada) == "10.00"

    # the operator's shopping list: one 19.50 card, the withdrawal now being paid
    batch = await client.post("/operator/store-credit/batches", headers=operator.headers)
    assert batch.status_code == 201, batch.text
    assert batch.json()["cards"] == [
        {
            "withdrawal_id": withdrawal["id"],
            "store": "Books & Co",
            "email": "Ada@example.com",
            "amount": usd("19.50"),
        }
    ]
    mine = (await client.get("/withdrawals", headers=ada.headers)).json()["items"]
    assert [(w["status"], w["batch_ref"]) for w in mine] == [("processing", batch.json()["batch_ref"])]
    again = await client.post("/operator/store-credit/batches", headers=operator.headers)
    assert (again.status_code, again.json()["detail"]) == (409, "no gift-card withdrawal is waiting")

    paid = await client.post(
        f"/operator/withdrawals/{withdrawal['id']}/complete",
        json={"provider_ref": "GIFT-7731"},
        headers=operator.headers,
    )
    assert paid.status_code == 200, paid.text
    assert (paid.json()["status"], paid.json()["provider_ref"]) == ("completed", "GIFT-7731")
    assert await available(client, ada) == "10.00"
    assert await fees_kept(client, operator) == "0.50"


async def test_only_operators_take_withdrawals_into_a_batch(client, make_member, fund_member):
    ada = await make_member()
    await fund_member(ada, 3000)
    await withdraw(client, ada, "20.00", {"store": "Books & Co", "email": "ada@example.com"})

    refused = await client.post("/operator/store-credit/batches", headers=ada.headers)
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    mine = (await client.get("/withdrawals", headers=ada.headers)).json()["items"]
    assert [w["status"] for w in mine] == ["requested"]


async def test_a_failed_withdrawal_gives_the_whole_amount_back(
    client, make_member, make_operator, fund_member
):
    ada, operator = await make_member(), await make_operator()
    await fund_member(ada, 3000)
    sent = await withdraw(client, ada, "20.00", {"store": "Corner Grocer", "email": "ada@example.com"})
    withdrawal = sent.json()

    reason = "Corner Grocer stopped selling gift cards; choose another store."
    failed = await client.post(
        f"/operator/withdrawals/{withdrawal['id']}/fail", json={"reason": reason}, headers=operator.headers
    )
    assert failed.status_code == 200, failed.text
    assert (failed.json()["status"], failed.json()["failure_reason"]) == ("failed", reason)
    assert await available(client, ada) == "30.00"


async def test_a_bad_destination_is_refused_field_by_field_and_moves_nothing(
    client, make_member, fund_member
):
    ada = await make_member()
    await fund_member(ada, 3000)

    response = await withdraw(client, ada, "20.00", {"store": "Mega Mart", "email": "ada@", "iban": "DE89"})
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert [(e["field"], e["message"]) for e in problem["errors"]] == [
        ("destination.iban", "not a field of this method: give store and email"),
        ("destination.store", "choose one of: Books & Co, Corner Grocer"),
        ("destination.email", "There must be something after the @-sign."),
    ]
    missing = await withdraw(client, ada, "20.00", {})
    assert [e["field"] for e in missing.json()["errors"]] == ["destination.store", "destination.email"]
    assert await available(client, ada) == "30.00"
    assert (await client.get("/withdrawals", headers=ada.headers)).json()["items"] == []


async def test_less_than_the_minimum_is_refused(client, make_member, fund_member):
    ada = await make_member()
    await fund_member(ada, 3000)

    response = await withdraw(client, ada, "9.99", {"store": "Books & Co", "email": "ada@example.com"})
    assert (response.status_code, response.json()["code"]) == (422, "below_minimum")
    assert await available(client, ada) == "30.00"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"fee": "10.00"}, "site.toml: plugins.store_credit: fee (10.00) must be below minimum (10.00)"),
        ({"stores": []}, "site.toml: plugins.store_credit.stores: name at least one partner store"),
        (
            {"stores": ["Books & Co", "books & co"]},
            "site.toml: plugins.store_credit.stores: a store is listed twice: ['Books & Co', 'books & co']",
        ),
        ({"minimum": "ten"}, "site.toml: plugins.store_credit.minimum: Expected `str` matching regex"),
    ],
)
def test_wrong_settings_stop_the_site_with_the_key_named(site_config, settings, message):
    config = deep_merge(
        site_config,
        {
            "auth": {"jwt_secret": "a-test-secret-0123456789abcdef0123456789"},
            "plugins": {"store_credit": {**SETTINGS, **settings}},
        },
    )
    with pytest.raises(ConfigError) as refused:
        settings_from_dict(config, source="site.toml", environ={})
    assert str(refused.value).startswith(message)
