"""The money API: balances, statements, deposits, input rules, operator views."""

from __future__ import annotations

import pytest

from agorakit.hooks import get_plugin_manager
from agorakit.money import ledger, payments
from agorakit.money.tables import LedgerTransaction, Payment
from agorakit.runtime import Runtime
from agorakit.settings import ConfigError, settings_from_dict
from agorakit.testing import TEST_DEFAULTS, deep_merge


async def fund(runtime, member_id: int, cents: int, *, account: str = "available", key: str | None = None):
    target = ledger.available(member_id) if account == "available" else ledger.credit(member_id)
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key=key or f"test-funding:{member_id}:{account}:{cents}",
            kind="test_funding",
            description=f"Test funding of {cents}",
            lines=ledger.move(ledger.external("test"), target, cents, "USD"),
        )


async def test_new_member_sees_zero_balance_in_site_currency(client, make_member):
    member = await make_member()
    response = await client.get("/me/balance", headers=member.headers)
    assert response.status_code == 200
    assert response.json() == {
        "balances": [
            {
                "currency": "USD",
                "available": "0.00",
                "credit": "0.00",
                "in_escrow": "0.00",
                "pending": "0.00",
                "owed": "0.00",
            }
        ]
    }


async def test_balance_shows_available_credit_escrow_and_pending(client, runtime, make_member):
    buyer, seller = await make_member(), await make_member()
    await fund(runtime, buyer.id, 700, account="credit")
    await fund(runtime, buyer.id, 1000, account="available")
    payment, replayed = await payments.start_payment(
        runtime,
        payer_id=buyer.id,
        method="balance",
        amount=1200,
        currency="USD",
        purpose="escrow",
        escrow_ref="order:77",
        seller_id=seller.id,
    )
    assert (payment.status, replayed) == ("completed", False)
    assert payment.details == {"from_credit": 700, "from_available": 500}  # credit first

    buyer_balance = (await client.get("/me/balance", headers=buyer.headers)).json()["balances"][0]
    assert buyer_balance == {
        "currency": "USD",
        "available": "5.00",
        "credit": "0.00",
        "in_escrow": "12.00",
        "pending": "0.00",
        "owed": "0.00",
    }
    seller_balance = (await client.get("/me/balance", headers=seller.headers)).json()["balances"][0]
    assert seller_balance == {
        "currency": "USD",
        "available": "0.00",
        "credit": "0.00",
        "in_escrow": "0.00",
        "pending": "12.00",
        "owed": "0.00",
    }
    assert await ledger.check_ledger() == []


async def test_paying_from_balance_without_enough_moves_nothing(runtime, make_member):
    buyer = await make_member()
    await fund(runtime, buyer.id, 300, account="credit")
    await fund(runtime, buyer.id, 200, account="available")
    transactions_before = await LedgerTransaction.count()
    with pytest.raises(ledger.InsufficientFunds) as info:
        await payments.start_payment(
            runtime,
            payer_id=buyer.id,
            method="balance",
            amount=501,
            currency="USD",
            purpose="escrow",
            escrow_ref="order:5",
        )
    assert info.value.detail == (
        "your balance is 5.00 USD (credit and available together); this needs 5.01 USD"
    )
    assert await Payment.count() == 0
    assert await LedgerTransaction.count() == transactions_before
    assert await ledger.balance_of(ledger.credit(buyer.id), "USD") == 300


async def test_statement_lists_movements_newest_first_with_descriptions(client, runtime, make_member):
    buyer = await make_member()
    await fund(runtime, buyer.id, 2500, account="credit")
    await payments.start_payment(
        runtime,
        payer_id=buyer.id,
        method="balance",
        amount=1000,
        currency="USD",
        purpose="escrow",
        escrow_ref="order:9",
    )
    body = (await client.get("/me/ledger", headers=buyer.headers)).json()
    lines = [(i["account"], i["amount"], i["balance_after"], i["kind"]) for i in body["items"]]
    assert lines == [
        (
            "credit",
            {"amount": "-10.00", "currency": "USD"},
            {"amount": "15.00", "currency": "USD"},
            "payment_completed",
        ),
        (
            "credit",
            {"amount": "25.00", "currency": "USD"},
            {"amount": "25.00", "currency": "USD"},
            "test_funding",
        ),
    ]
    assert body["items"][0]["description"].startswith("payment for order:9 by balance")
    refs = body["items"][0]["refs"]
    assert refs["escrow"] == "order:9" and isinstance(refs["payment"], int)

    first = (await client.get("/me/ledger", params={"limit": 1}, headers=buyer.headers)).json()
    second = (
        await client.get(
            "/me/ledger", params={"limit": 1, "cursor": first["next_cursor"]}, headers=buyer.headers
        )
    ).json()
    assert [first["items"][0]["kind"], second["items"][0]["kind"]] == ["payment_completed", "test_funding"]
    assert second["next_cursor"] is None


async def test_statement_shows_only_your_own_entries(client, runtime, make_member):
    alice, bob = await make_member(), await make_member()
    await fund(runtime, alice.id, 999)
    assert (await client.get("/me/ledger", headers=bob.headers)).json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    ("amount", "field", "message"),
    [
        ({"amount": "-5.00", "currency": "USD"}, "amount.amount", "must not be negative"),
        ({"amount": "abc", "currency": "USD"}, "amount.amount", "must be a decimal number"),
        (
            {"amount": "1.005", "currency": "USD"},
            "amount.amount",
            "USD amounts have at most 2 decimal places",
        ),
        ({"amount": "0.00", "currency": "USD"}, "amount.amount", "must be greater than zero"),
        ({"amount": "10000.01", "currency": "USD"}, "amount.amount", "must be at most 10000.00 USD"),
        ({"amount": "5.00", "currency": "EUR"}, "amount.currency", "EUR is not accepted here; use USD"),
        ({"amount": 5, "currency": "USD"}, "amount.amount", "Expected `str`, got `int`"),
        ({"amount": "5.00", "currency": "usd"}, "amount.currency", "Expected `str` matching"),
    ],
)
async def test_bad_amounts_are_rejected_with_field_errors(
    client, make_member, problem, amount, field, message
):
    member = await make_member()
    response = await client.post(
        "/payments", json={"method": "balance", "amount": amount}, headers=member.headers
    )
    body = problem(response, 422, "validation_error", fields={field})
    assert message in body["errors"][0]["message"]
    assert await Payment.count() == 0


async def test_deposit_with_unknown_or_balance_method_is_refused(client, make_member, problem):
    member = await make_member()
    unknown = await client.post(
        "/payments",
        json={"method": "cheque", "amount": {"amount": "5.00", "currency": "USD"}},
        headers=member.headers,
    )
    body = problem(unknown, 422, "validation_error", fields={"method"})
    assert "unknown payment method 'cheque'; offered: balance" in body["detail"]
    by_balance = await client.post(
        "/payments",
        json={"method": "balance", "amount": {"amount": "5.00", "currency": "USD"}},
        headers=member.headers,
    )
    problem(by_balance, 422, "validation_error", fields={"method"})
    assert await Payment.count() == 0


async def test_withdrawal_with_no_payout_method_bound_is_refused(client, runtime, make_member, problem):
    member = await make_member()
    await fund(runtime, member.id, 10000)
    response = await client.post(
        "/withdrawals",
        json={"method": "paypal", "amount": {"amount": "20.00", "currency": "USD"}, "destination": {}},
        headers=member.headers,
    )
    body = problem(response, 422, "validation_error", fields={"method"})
    assert "offered: none" in body["detail"]
    assert await ledger.balance_of(ledger.available(member.id), "USD") == 10000


async def test_payments_of_others_are_not_found_but_operators_see_them(client, runtime, make_member, problem):
    buyer, stranger, operator = await make_member(), await make_member(), await make_member(role="operator")
    await fund(runtime, buyer.id, 500, account="credit")
    payment, _ = await payments.start_payment(
        runtime,
        payer_id=buyer.id,
        method="balance",
        amount=500,
        currency="USD",
        purpose="escrow",
        escrow_ref="order:1",
    )
    assert (await client.get(f"/payments/{payment.id}", headers=buyer.headers)).json()[
        "status"
    ] == "completed"
    problem(await client.get(f"/payments/{payment.id}", headers=stranger.headers), 404, "not_found")
    assert (await client.get(f"/payments/{payment.id}", headers=operator.headers)).status_code == 200
    mine = (await client.get("/payments", headers=buyer.headers)).json()["items"]
    assert [p["id"] for p in mine] == [payment.id]
    assert (await client.get("/payments", headers=stranger.headers)).json()["items"] == []
    problem(await client.post(f"/payments/{payment.id}/cancel", headers=buyer.headers), 409, "conflict")


async def test_operator_sees_accounts_and_totals_members_do_not(client, runtime, make_member, problem):
    buyer, operator = await make_member(), await make_member(role="operator")
    await fund(runtime, buyer.id, 1234, account="credit")
    account = await client.get(
        f"/operator/ledger/accounts/{ledger.credit(buyer.id)}", headers=operator.headers
    )
    assert account.status_code == 200, account.text
    body = account.json()
    assert body["balance"] == {"amount": "12.34", "currency": "USD"}
    assert [e["amount"]["amount"] for e in body["entries"]] == ["12.34"]

    totals = (await client.get("/operator/ledger/totals", headers=operator.headers)).json()["totals"]
    assert totals == [
        {
            "currency": "USD",
            "platform_fees": "0.00",
            "members_available": "0.00",
            "members_credit": "12.34",
            "escrow": "0.00",
            "clearing": "0.00",
            "vouchers_outstanding": "0.00",
            "external": {"test": "-12.34"},
            "sum": "0.00",
        }
    ]
    problem(await client.get("/operator/ledger/totals", headers=buyer.headers), 403, "forbidden")
    problem(
        await client.get("/operator/ledger/accounts/nonsense", headers=operator.headers),
        422,
        "validation_error",
        fields={"name"},
    )
    problem(
        await client.get(f"/operator/ledger/accounts/{ledger.credit(999)}", headers=operator.headers),
        404,
        "not_found",
    )


async def test_payment_methods_are_listed(client):
    assert (await client.get("/payment-methods")).json() == [
        {"name": "balance", "label": "Your balance", "available": True, "unavailable_reason": None}
    ]
    assert (await client.get("/payout-methods")).json() == []


def test_binding_a_method_no_plugin_provides_stops_startup(database_url):
    data = deep_merge(
        TEST_DEFAULTS, {"database": {"url": database_url}, "money": {"payout_methods": ["paypal"]}}
    )
    settings = settings_from_dict(data, source="site.toml", environ={}, pm=get_plugin_manager([]))
    with pytest.raises(ConfigError) as info:
        Runtime(settings)
    assert (
        str(info.value)
        == "site.toml: money.payout_methods: no enabled plugin provides 'paypal'; available: none"
    )


async def test_check_ledger_command_passes_then_reports_tampering(runtime, make_member, tmp_path, db_kind):
    from click.testing import CliRunner

    from agorakit.cli import build_cli

    member = await make_member()
    await fund(runtime, member.id, 4200)
    config = tmp_path / "site.toml"
    config.write_text(
        f'[auth]\njwt_secret = "{"k" * 40}"\n[database]\nurl = "{runtime.settings.database.url}"\n'
    )
    args = ["--config", str(config), "check-ledger"]
    # The CLI opens its own runtime (and rebinds the tables), so run it in a worker thread
    # and rebind ours afterwards.
    import anyio.to_thread

    async def run_cli():
        result = await anyio.to_thread.run_sync(lambda: CliRunner().invoke(build_cli(args), args))
        runtime.db.bind(runtime.apps)
        return result

    ok = await run_cli()
    assert ok.exit_code == 0, ok.output
    assert "ledger ok" in ok.output

    await ledger.LedgerAccount.raw(
        "UPDATE core_ledger_account SET balance = balance + 1 WHERE name = {}", ledger.available(member.id)
    )
    bad = await run_cli()
    assert bad.exit_code == 1
    assert f"{ledger.available(member.id)} USD: stored balance 4201 but entries sum to 4200" in bad.output
