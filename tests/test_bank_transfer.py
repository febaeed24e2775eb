"""The bank_transfer plugin through the HTTP API, on SQLite and PostgreSQL.

Pay-in: a deposit waits for the money (``awaiting_funds``) with the site's bank details
and its reference; an operator confirms it (``external:bank_transfer`` → the payer's
credit, exactly once) or it expires.  Payout: members withdraw to an IBAN or a US
account; operators batch requested withdrawals, pay from the CSV and mark each one
completed (clearing → external, fee → platform:fees) or failed (money back).
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest

from agorakit.events.tables import StoredEvent
from agorakit.money import ledger, payments
from agorakit.money.methods import PaymentMethod, PayoutMethod
from agorakit.money.tables import LedgerTransaction, Payment, Withdrawal
from agorakit.plugins.bank_transfer.events import PayoutBatchCreated
from agorakit.plugins.bank_transfer.tables import PayoutBatch
from agorakit.settings import ConfigError, settings_from_dict
from agorakit.testing import TEST_DEFAULTS, TEST_EPOCH, deep_merge
from agorakit.worker import sweep

INSTRUCTIONS = "Pay to Test Market Ltd, IBAN DE89 3704 0044 0532 0130 00, BIC DEUTDEFF."
ENABLED = {
    "site": {"plugins": ["bank_transfer"]},
    "money": {"payment_methods": ["balance", "bank_transfer"], "payout_methods": ["bank_transfer"]},
    "plugins": {"bank_transfer": {"instructions": INSTRUCTIONS}},
}
IBAN_ACCOUNT = {"account_holder": "Ada Lovelace", "iban": "DE89370400440532013000", "bic": "DEUTDEFF"}
US_ACCOUNT = {"account_holder": "Grace Hopper", "account_number": "0001234567", "routing_number": "111000025"}
CSV_HEADER = (
    "withdrawal_id,member_id,account_holder,iban,bic,account_number,routing_number,amount,currency,reference"
)


@pytest.fixture
def site_config():
    return ENABLED


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


async def fund(runtime, member_id: int, cents: int) -> None:
    """Give a member earned (withdrawable) money."""
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key=f"test-funding:{member_id}:{cents}",
            kind="test_funding",
            description="Test funding",
            lines=ledger.move(ledger.external("test"), ledger.available(member_id), cents, "USD"),
        )


def usd(amount: str) -> dict:
    return {"amount": amount, "currency": "USD"}


async def deposit(client, member, amount: str = "25.00", **headers):
    return await client.post(
        "/payments",
        json={"method": "bank_transfer", "amount": usd(amount)},
        headers={**member.headers, **headers},
    )


async def confirm(client, operator, payment_id: int, amount: dict | None = None, reference="STMT-0042"):
    return await client.post(
        f"/bank-transfer/payments/{payment_id}/confirm",
        json={"amount": amount or usd("25.00"), "reference": reference},
        headers=operator.headers,
    )


async def withdraw(client, member, amount: str, destination: dict, **headers):
    return await client.post(
        "/withdrawals",
        json={"method": "bank_transfer", "amount": usd(amount), "destination": destination},
        headers={**member.headers, **headers},
    )


async def my_balance(client, member) -> dict:
    response = await client.get("/me/balance", headers=member.headers)
    assert response.status_code == 200, response.text
    (usd_balance,) = response.json()["balances"]
    return usd_balance


async def account(client, operator, name: str) -> dict:
    response = await client.get(f"/operator/ledger/accounts/{name}", headers=operator.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def account_balance(client, operator, name: str) -> str:
    body = await account(client, operator, name)
    assert body["balance"]["currency"] == "USD"
    return body["balance"]["amount"]


# --------------------------------------------------------------------------------------
# The methods the plugin offers
# --------------------------------------------------------------------------------------


async def test_hook_agorakit_payment_methods(client, runtime):
    response = await client.get("/payment-methods")
    assert response.status_code == 200
    assert response.json() == [
        {"name": "balance", "label": "Your balance", "available": True, "unavailable_reason": None},
        {"name": "bank_transfer", "label": "Bank transfer", "available": True, "unavailable_reason": None},
    ]
    assert isinstance(runtime.payment_methods["bank_transfer"], PaymentMethod)


async def test_hook_agorakit_payout_methods(client, runtime):
    response = await client.get("/payout-methods")
    assert response.status_code == 200
    assert response.json() == [
        {
            "name": "bank_transfer",
            "label": "Bank transfer",
            "minimums": [usd("50.00")],  # the seed: bank withdrawals from $50
            "fee": "no fee",
            "destination_fields": ["account_holder", "iban", "bic", "account_number", "routing_number"],
            "available": True,
            "unavailable_reason": None,
        }
    ]
    method = runtime.payout_methods["bank_transfer"]
    assert isinstance(method, PayoutMethod) and method.manual is True
    assert (method.minimum("USD"), method.minimum("JPY"), method.fee(6000, "USD")) == (5000, 50, 0)


async def test_plugin_routes_settings_and_hooks_are_listed(client, make_member):
    operator = await make_member(role="operator")
    plugins = (await client.get("/-/plugins", headers=operator.headers)).json()["plugins"]
    (plugin,) = [p for p in plugins if p["name"] == "bank_transfer"]
    assert plugin["settings"] == {
        "payin_expiry_hours": 72,
        "instructions": INSTRUCTIONS,
        "payout_minimum": "50.00",
        "payout_fee": "0.00",
    }
    assert plugin["hooks"] == [
        "agorakit_event_types",
        "agorakit_operator_queues",
        "agorakit_payment_methods",
        "agorakit_payout_methods",
        "agorakit_routes",
        "agorakit_settings",
        "agorakit_tables",
    ]
    schema = (await client.get("/docs/openapi.json")).json()
    operations = {
        op["operationId"]: op
        for path, item in schema["paths"].items()
        if path.startswith("/bank-transfer/")
        for op in item.values()
    }
    assert sorted(operations) == [
        "bankTransferConfirmPayment",
        "bankTransferCreatePayoutBatch",
        "bankTransferExportPayoutBatch",
        "bankTransferGetPayoutBatch",
        "bankTransferListPayoutBatches",
    ]
    assert all(op["summary"] for op in operations.values())
    assert "text/csv" in operations["bankTransferExportPayoutBatch"]["responses"]["200"]["content"]


def test_fee_not_below_minimum_stops_startup():
    data = deep_merge(
        TEST_DEFAULTS,
        {"site": {"plugins": ["bank_transfer"]}, "plugins": {"bank_transfer": {"payout_fee": "50.00"}}},
    )
    with pytest.raises(ConfigError) as info:
        settings_from_dict(data, source="site.toml", environ={})
    assert str(info.value).startswith(
        "site.toml: plugins.bank_transfer: payout_fee (50.00) must be below payout_minimum (50.00)"
    )


# --------------------------------------------------------------------------------------
# Pay-in: deposit, confirmation, expiry
# --------------------------------------------------------------------------------------


async def test_bank_deposit_waits_for_funds_with_instructions_and_reference(client, make_member):
    member, operator = await make_member(), await make_member(role="operator")
    response = await deposit(client, member)
    assert response.status_code == 201, response.text
    payment = response.json()
    assert payment["status"] == "awaiting_funds"
    assert payment["amount"] == usd("25.00") and payment["purpose"] == "deposit"
    assert re.fullmatch(r"PAY-[0-9A-F]{10}", payment["reference"])
    assert payment["details"] == {
        "instructions": INSTRUCTIONS,
        "reference": payment["reference"],
        "amount": "25.00",
        "currency": "USD",
    }
    assert payment["expires_at"] == (TEST_EPOCH + timedelta(hours=72)).isoformat().replace("+00:00", "Z")
    assert payment["completed_at"] is None

    assert (await my_balance(client, member))["credit"] == "0.00"
    mine = (await client.get("/payments", params={"status": "awaiting_funds"}, headers=member.headers)).json()
    assert [p["id"] for p in mine["items"]] == [payment["id"]]
    waiting = await client.get(
        "/operator/payments",
        params={"method": "bank_transfer", "status": "awaiting_funds"},
        headers=operator.headers,
    )
    assert [p["reference"] for p in waiting.json()["items"]] == [payment["reference"]]
    assert await LedgerTransaction.count() == 0


async def test_operator_confirms_deposit_and_credit_arrives_once(client, make_member, problem):
    member, operator = await make_member(), await make_member(role="operator")
    payment = (await deposit(client, member)).json()

    response = await confirm(client, operator, payment["id"], reference="  STMT  0042 ")
    assert response.status_code == 200, response.text
    confirmed = response.json()
    assert confirmed["status"] == "completed"
    assert confirmed["completed_at"] == TEST_EPOCH.isoformat().replace("+00:00", "Z")
    assert confirmed["details"]["confirmed_reference"] == "STMT 0042"
    assert confirmed["details"]["confirmed_by"] == operator.id
    assert (await my_balance(client, member))["credit"] == "25.00"
    assert await account_balance(client, operator, "external:bank_transfer") == "-25.00"

    again = await confirm(client, operator, payment["id"])
    body = problem(again, 409, "conflict")
    assert body["detail"] == (
        f"payment {payment['id']} is completed; only payments awaiting funds can be confirmed"
    )
    assert (await my_balance(client, member))["credit"] == "25.00"
    assert await account_balance(client, operator, "external:bank_transfer") == "-25.00"

    statement = (await client.get("/me/ledger", headers=member.headers)).json()["items"]
    assert [(line["kind"], line["amount"]) for line in statement] == [("payment_completed", usd("25.00"))]
    assert statement[0]["description"] == f"deposit to your credit by bank_transfer ({payment['reference']})"
    assert await LedgerTransaction.count() == 1
    assert await ledger.check_ledger() == []


async def test_concurrent_confirmations_settle_once(client, make_member):
    member, operator = await make_member(), await make_member(role="operator")
    payment = (await deposit(client, member)).json()
    first, second = await asyncio.gather(
        confirm(client, operator, payment["id"]), confirm(client, operator, payment["id"])
    )
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    assert (await my_balance(client, member))["credit"] == "25.00"
    assert await ledger.check_ledger() == []


@pytest.mark.parametrize(
    ("amount", "field", "message"),
    [
        (usd("20.00"), "amount.amount", "is for 25.00 USD, not 20.00; partial and excess payments"),
        (usd("25.01"), "amount.amount", "is for 25.00 USD, not 25.01"),
        ({"amount": "25.00", "currency": "EUR"}, "amount.currency", "is in USD, not EUR"),
        (usd("-25.00"), "amount.amount", "must not be negative"),
        (usd("25.001"), "amount.amount", "USD amounts have at most 2 decimal places"),
        (usd("twenty-five"), "amount.amount", "must be a decimal number"),
        ({"amount": 25, "currency": "USD"}, "amount.amount", "Expected `str`, got `int`"),
    ],
)
async def test_confirm_wrong_amount_or_currency_is_refused_and_moves_nothing(
    client, make_member, problem, amount, field, message
):
    member, operator = await make_member(), await make_member(role="operator")
    payment = (await deposit(client, member)).json()
    body = problem(
        await confirm(client, operator, payment["id"], amount), 422, "validation_error", fields={field}
    )
    assert message in body["errors"][0]["message"]
    assert (await Payment.select(Payment.status).first())["status"] == "awaiting_funds"
    assert await LedgerTransaction.count() == 0
    assert (await my_balance(client, member))["credit"] == "0.00"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": usd("25.00"), "reference": "   "}, "reference"),
        ({"amount": usd("25.00")}, "reference"),
        ({"amount": usd("25.00"), "reference": "x" * 141}, "reference"),
        ({"amount": usd("25.00"), "reference": "S-1", "status": "completed"}, "status"),
    ],
)
async def test_confirm_bad_body_is_refused(client, make_member, problem, body, field):
    member, operator = await make_member(), await make_member(role="operator")
    payment = (await deposit(client, member)).json()
    response = await client.post(
        f"/bank-transfer/payments/{payment['id']}/confirm", json=body, headers=operator.headers
    )
    problem(response, 422, "validation_error", fields={field})
    assert await LedgerTransaction.count() == 0


async def test_only_operators_confirm_known_bank_payments(client, runtime, make_member, problem):
    member, operator = await make_member(), await make_member(role="operator")
    payment = (await deposit(client, member)).json()
    problem(await confirm(client, member, payment["id"]), 403, "forbidden")  # not even the payer
    problem(await confirm(client, operator, payment["id"] + 1000), 404, "not_found")
    too_big = await confirm(client, operator, 2**40)  # ids are 32-bit on PostgreSQL
    problem(too_big, 422, "validation_error", fields={"payment_id"})

    await fund(runtime, member.id, 500)
    by_balance, _ = await payments.start_payment(
        runtime,
        payer_id=member.id,
        method="balance",
        amount=500,
        currency="USD",
        purpose="escrow",
        escrow_ref="order:3",
    )
    body = problem(
        await confirm(client, operator, by_balance.id, usd("5.00")),
        422,
        "validation_error",
        fields={"payment_id"},
    )
    assert body["errors"][0]["source"] == "path"
    assert "paid by balance, not by bank transfer" in body["detail"]
    assert (await my_balance(client, member))["credit"] == "0.00"


async def test_confirmed_order_payment_funds_its_escrow(client, runtime, make_member):
    buyer, seller, operator = await make_member(), await make_member(), await make_member(role="operator")
    payment, _ = await payments.start_payment(
        runtime,
        payer_id=buyer.id,
        method="bank_transfer",
        amount=4250,
        currency="USD",
        purpose="escrow",
        escrow_ref="order:42",
        seller_id=seller.id,
    )
    assert payment.status == "awaiting_funds" and payment.details["amount"] == "42.50"
    assert (await my_balance(client, buyer))["in_escrow"] == "0.00"

    response = await confirm(client, operator, payment.id, usd("42.50"))
    assert response.status_code == 200, response.text
    assert await account_balance(client, operator, "order:42:escrow") == "42.50"
    assert await account_balance(client, operator, "external:bank_transfer") == "-42.50"
    assert (await my_balance(client, buyer))["in_escrow"] == "42.50"
    assert (await my_balance(client, buyer))["credit"] == "0.00"
    assert (await my_balance(client, seller))["pending"] == "42.50"
    assert await ledger.check_ledger() == []


async def test_unconfirmed_payment_expires_and_cannot_be_confirmed(
    client, runtime, clock, make_member, problem
):
    member, operator = await make_member(), await make_member(role="operator")
    payment = (await deposit(client, member)).json()

    clock.advance(hours=71, minutes=59)
    assert (await sweep(runtime)).expired_payments == []
    clock.advance(hours=1, minutes=1)  # 73 hours after the deposit
    assert (await sweep(runtime)).expired_payments == [payment["id"]]

    expired = (await client.get(f"/payments/{payment['id']}", headers=member.headers)).json()
    assert (expired["status"], expired["failure_reason"]) == ("expired", "not paid in time")
    body = problem(await confirm(client, operator, payment["id"]), 409, "conflict")
    assert body["detail"].startswith(f"payment {payment['id']} is expired; only payments awaiting funds")
    assert body["extra"] == {"status": "expired"}
    assert (await my_balance(client, member))["credit"] == "0.00"
    assert await LedgerTransaction.count() == 0
    assert (await sweep(runtime)).expired_payments == []


async def test_payment_past_expiry_is_refused_before_the_sweep_runs(
    client, runtime, clock, make_member, problem
):
    member, operator = await make_member(), await make_member(role="operator")
    payment = (await deposit(client, member)).json()
    clock.advance(hours=72)
    body = problem(await confirm(client, operator, payment["id"]), 409, "conflict")
    assert body["detail"].startswith(f"payment {payment['id']} expired at 2026-01-08T09:00:00")
    assert await LedgerTransaction.count() == 0
    assert (await sweep(runtime)).expired_payments == [payment["id"]]


# --------------------------------------------------------------------------------------
# Payout: withdrawals to a bank account
# --------------------------------------------------------------------------------------


async def test_withdrawal_to_iban_takes_available_and_replay_moves_nothing(client, runtime, make_member):
    seller, operator = await make_member(), await make_member(role="operator")
    await fund(runtime, seller.id, 10000)
    destination = {
        "account_holder": "  Ada   Lovelace ",
        "iban": "de89 3704 0044 0532 0130 00",
        "bic": "deutdeff",
    }

    response = await withdraw(client, seller, "60.00", destination, **{"Idempotency-Key": "wd-1"})
    assert response.status_code == 201, response.text
    withdrawal = response.json()
    assert withdrawal["destination"] == IBAN_ACCOUNT  # compact, upper case, name tidied
    assert (withdrawal["amount"], withdrawal["fee"], withdrawal["net"]) == (
        usd("60.00"),
        usd("0.00"),
        usd("60.00"),
    )
    assert withdrawal["status"] == "requested"
    assert (await my_balance(client, seller))["available"] == "40.00"
    assert await account_balance(client, operator, "payouts:bank_transfer:clearing") == "60.00"

    replay = await withdraw(client, seller, "60.00", destination, **{"Idempotency-Key": "wd-1"})
    assert replay.status_code == 200, replay.text
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == withdrawal["id"]
    assert (await my_balance(client, seller))["available"] == "40.00"
    assert await Withdrawal.count() == 1
    assert await ledger.check_ledger() == []


async def test_withdrawal_to_us_account_is_normalised(client, runtime, make_member):
    seller = await make_member()
    await fund(runtime, seller.id, 10000)
    destination = {
        "account_holder": "Grace Hopper",
        "account_number": "000-123 4567",
        "routing_number": "111000025",
    }
    response = await withdraw(client, seller, "50.00", destination)
    assert response.status_code == 201, response.text
    assert response.json()["destination"] == US_ACCOUNT
    assert (await my_balance(client, seller))["available"] == "50.00"


async def test_withdrawal_below_minimum_is_refused(client, runtime, make_member, problem):
    seller = await make_member()
    await fund(runtime, seller.id, 10000)
    body = problem(
        await withdraw(client, seller, "49.99", IBAN_ACCOUNT), 422, "below_minimum", fields={"amount.amount"}
    )
    assert body["errors"][0]["message"] == "the minimum for Bank transfer is 50.00 USD"
    assert (await my_balance(client, seller))["available"] == "100.00"
    assert await Withdrawal.count() == 0


@pytest.mark.parametrize(
    ("destination", "fields", "message"),
    [
        (
            {**IBAN_ACCOUNT, "iban": "DE89370400440532013001"},
            {"destination.iban"},
            "check digits do not match",
        ),
        (
            {**IBAN_ACCOUNT, "iban": "DE8937040044053201300"},
            {"destination.iban"},
            "an IBAN from Germany has 22 characters, this one has 21",
        ),
        ({**IBAN_ACCOUNT, "iban": "XX89370400440532013000"}, {"destination.iban"}, "XX is not a country"),
        ({**IBAN_ACCOUNT, "iban": "not an iban"}, {"destination.iban"}, "is not an IBAN"),
        ({**IBAN_ACCOUNT, "bic": "DEUT"}, {"destination.bic"}, "a BIC has 8 or 11 characters"),
        ({**IBAN_ACCOUNT, "bic": "DEUTXXFF"}, {"destination.bic"}, "is not a BIC"),
        ({"iban": "DE89370400440532013000"}, {"destination.account_holder"}, "is required"),
        (
            {**IBAN_ACCOUNT, "account_holder": "=HYPERLINK(1)"},
            {"destination.account_holder"},
            "not =, +, - or @",
        ),
        ({**IBAN_ACCOUNT, "account_holder": "A" * 71}, {"destination.account_holder"}, "at most 70"),
        ({**IBAN_ACCOUNT, "swift": "DEUTDEFF"}, {"destination.swift"}, "unknown field"),
        ({**US_ACCOUNT, "routing_number": "111000026"}, {"destination.routing_number"}, "check digit"),
        ({**US_ACCOUNT, "routing_number": "11100002"}, {"destination.routing_number"}, "9-digit ABA"),
        ({**US_ACCOUNT, "account_number": "123"}, {"destination.account_number"}, "4 to 17 digits"),
        ({**US_ACCOUNT, "account_number": "12345678901234567X"}, {"destination.account_number"}, "4 to 17"),
        (
            {"account_holder": "Grace Hopper", "account_number": "12345678"},
            {"destination.routing_number"},
            "is required",
        ),
        (
            {**IBAN_ACCOUNT, "routing_number": "111000025"},
            {"destination.routing_number"},
            "not used with an IBAN",
        ),
        ({}, {"destination"}, "give either an IBAN account"),
        ({"paypal": "ada@example.com"}, {"destination", "destination.paypal"}, "give either an IBAN account"),
        (
            {"account_holder": 5, "iban": ["DE89"]},
            {"destination.account_holder", "destination.iban"},
            "a string",
        ),
    ],
)
async def test_withdrawal_to_a_bad_bank_account_is_refused(
    client, runtime, make_member, problem, destination, fields, message
):
    seller = await make_member()
    await fund(runtime, seller.id, 10000)
    body = problem(
        await withdraw(client, seller, "60.00", destination), 422, "validation_error", fields=fields
    )
    assert message in body["detail"]
    assert (await my_balance(client, seller))["available"] == "100.00"
    assert await Withdrawal.count() == 0


async def test_withdrawal_over_the_balance_is_refused(client, runtime, make_member, problem):
    seller = await make_member()
    await fund(runtime, seller.id, 10000)
    body = problem(await withdraw(client, seller, "100.01", IBAN_ACCOUNT), 409, "insufficient_funds")
    assert body["detail"] == "your available balance is 100.00 USD; this needs 100.01 USD"
    assert (await my_balance(client, seller))["available"] == "100.00"
    assert await Withdrawal.count() == 0


# --------------------------------------------------------------------------------------
# Payout batches
# --------------------------------------------------------------------------------------


async def test_payout_batch_takes_requested_withdrawals_and_exports_csv(
    client, runtime, make_member, problem
):
    ada, grace, operator = await make_member(), await make_member(), await make_member(role="operator")
    await fund(runtime, ada.id, 10000)
    await fund(runtime, grace.id, 20000)
    first = (await withdraw(client, ada, "60.00", IBAN_ACCOUNT)).json()
    taken_back = (await withdraw(client, grace, "50.00", US_ACCOUNT)).json()
    await client.post(f"/withdrawals/{taken_back['id']}/cancel", headers=grace.headers)
    second = (await withdraw(client, grace, "75.50", US_ACCOUNT)).json()

    response = await client.post(
        "/bank-transfer/payout-batches", json={"currency": "USD"}, headers=operator.headers
    )
    assert response.status_code == 201, response.text
    batch = response.json()
    assert re.fullmatch(r"BT-20260105-[0-9A-F]{8}", batch["ref"])
    assert batch == {
        "ref": batch["ref"],
        "currency": "USD",
        "count": 2,
        "total": usd("135.50"),
        "withdrawal_ids": [first["id"], second["id"]],
        "created_by": operator.id,
        "created_at": "2026-01-05T09:00:00Z",
    }
    for withdrawal, member in ((first, ada), (second, grace)):
        now = (await client.get(f"/withdrawals/{withdrawal['id']}", headers=member.headers)).json()
        assert (now["status"], now["batch_ref"]) == ("processing", batch["ref"])
    cancelled = (await client.get(f"/withdrawals/{taken_back['id']}", headers=grace.headers)).json()
    assert (cancelled["status"], cancelled["batch_ref"]) == ("cancelled", None)
    # Sent to the bank: the member can no longer take it back.
    problem(await client.post(f"/withdrawals/{first['id']}/cancel", headers=ada.headers), 409, "conflict")

    export = await client.get(f"/bank-transfer/payout-batches/{batch['ref']}/csv", headers=operator.headers)
    assert export.status_code == 200, export.text
    assert export.headers["content-type"].startswith("text/csv")
    assert export.headers["content-disposition"] == f'attachment; filename="{batch["ref"]}.csv"'
    assert export.text == (
        f"{CSV_HEADER}\r\n"
        f"{first['id']},{ada.id},Ada Lovelace,DE89370400440532013000,DEUTDEFF,,,60.00,USD,WD-{first['id']}\r\n"
        f"{second['id']},{grace.id},Grace Hopper,,,0001234567,111000025,75.50,USD,WD-{second['id']}\r\n"
    )

    shown = await client.get(f"/bank-transfer/payout-batches/{batch['ref']}", headers=operator.headers)
    assert shown.json() == batch
    listed = await client.get("/bank-transfer/payout-batches", headers=operator.headers)
    assert listed.json() == {"items": [batch], "next_cursor": None}

    empty = await client.post(
        "/bank-transfer/payout-batches", json={"currency": "USD"}, headers=operator.headers
    )
    body = problem(empty, 409, "empty_batch")
    assert body["detail"] == "there are no requested bank transfer withdrawals in USD; nothing was batched"
    assert await PayoutBatch.count() == 1
    assert await account_balance(client, operator, "payouts:bank_transfer:clearing") == "135.50"
    assert await ledger.check_ledger() == []


async def test_a_payout_batch_records_its_typed_event(client, runtime, make_member):
    seller, operator = await make_member(), await make_member(role="operator")
    await fund(runtime, seller.id, 20000)
    await withdraw(client, seller, "60.00", IBAN_ACCOUNT)
    await withdraw(client, seller, "50.25", US_ACCOUNT)
    response = await client.post(
        "/bank-transfer/payout-batches", json={"currency": "USD"}, headers=operator.headers
    )
    ref = response.json()["ref"]
    (stored,) = await (
        StoredEvent.select()
        .where(StoredEvent.name == "bank_transfer.payout_batch_created")
        .output(load_json=True)
    )
    assert (stored["subject"], stored["actor_id"]) == (f"bank_transfer_batch:{ref}", operator.id)
    assert runtime.event_types.payload(stored["name"], stored["data"]) == PayoutBatchCreated(
        ref=ref, currency="USD", count=2, total=11025
    )


async def test_concurrent_batches_never_take_a_withdrawal_twice(client, runtime, make_member):
    operator = await make_member(role="operator")
    ids = []
    for _ in range(4):
        seller = await make_member()
        await fund(runtime, seller.id, 10000)
        ids.append((await withdraw(client, seller, "50.00", IBAN_ACCOUNT)).json()["id"])

    async def create_batch():
        return await client.post(
            "/bank-transfer/payout-batches", json={"currency": "USD"}, headers=operator.headers
        )

    responses = await asyncio.gather(create_batch(), create_batch())
    assert {r.status_code for r in responses} <= {201, 409}, [r.text for r in responses]
    batches = [r.json() for r in responses if r.status_code == 201]
    assert sorted(i for batch in batches for i in batch["withdrawal_ids"]) == ids
    assert sum(batch["count"] for batch in batches) == 4
    statuses = await Withdrawal.select(Withdrawal.status).where(Withdrawal.id.is_in(ids))
    assert {row["status"] for row in statuses} == {"processing"}
    assert await ledger.check_ledger() == []


async def test_payout_batches_are_paginated_newest_first(client, runtime, make_member, problem):
    seller, operator = await make_member(), await make_member(role="operator")
    await fund(runtime, seller.id, 20000)
    refs = []
    for _ in range(3):
        await withdraw(client, seller, "50.00", IBAN_ACCOUNT)
        created = await client.post(
            "/bank-transfer/payout-batches", json={"currency": "USD"}, headers=operator.headers
        )
        refs.append(created.json()["ref"])
    first = (
        await client.get("/bank-transfer/payout-batches", params={"limit": 2}, headers=operator.headers)
    ).json()
    assert [b["ref"] for b in first["items"]] == [refs[2], refs[1]]
    rest = await client.get(
        "/bank-transfer/payout-batches",
        params={"limit": 2, "cursor": first["next_cursor"]},
        headers=operator.headers,
    )
    assert [b["ref"] for b in rest.json()["items"]] == [refs[0]] and rest.json()["next_cursor"] is None
    bad = await client.get(
        "/bank-transfer/payout-batches", params={"cursor": "nonsense"}, headers=operator.headers
    )
    problem(bad, 422, "validation_error", fields={"cursor"})


async def test_payout_batch_bad_requests(client, make_member, problem):
    member, operator = await make_member(), await make_member(role="operator")
    create = "/bank-transfer/payout-batches"
    problem(await client.post(create, json={"currency": "USD"}, headers=member.headers), 403, "forbidden")
    problem(await client.get(create, headers=member.headers), 403, "forbidden")
    problem(await client.get(f"{create}/BT-1/csv", headers=member.headers), 403, "forbidden")
    problem(
        await client.post(create, json={"currency": "EUR"}, headers=operator.headers),
        422,
        "validation_error",
        fields={"currency"},
    )
    problem(
        await client.post(create, json={"currency": "usd"}, headers=operator.headers),
        422,
        "validation_error",
        fields={"currency"},
    )
    problem(
        await client.post(create, json={}, headers=operator.headers),
        422,
        "validation_error",
        fields={"currency"},
    )
    problem(await client.get(f"{create}/BT-NOPE", headers=operator.headers), 404, "not_found")
    problem(await client.get(f"{create}/BT-NOPE/csv", headers=operator.headers), 404, "not_found")
    assert await PayoutBatch.count() == 0


class TestConfiguredFeeAndMinimum:
    @pytest.fixture
    def site_config(self):
        return deep_merge(
            ENABLED,
            {
                "money": {"currencies": ["EUR", "JPY"]},
                "plugins": {"bank_transfer": {"payout_fee": "1.00", "payout_minimum": "20.50"}},
            },
        )

    async def test_payout_methods_show_configured_minimum_and_fee(self, client):
        (method,) = (await client.get("/payout-methods")).json()
        assert method["minimums"] == [
            usd("20.50"),
            {"amount": "20.50", "currency": "EUR"},
            {"amount": "21", "currency": "JPY"},  # no minor unit: rounded up
        ]
        assert method["fee"] == "1.00 USD per withdrawal"

    async def test_operator_completes_one_and_fails_another(self, client, runtime, make_member, problem):
        ada, grace, operator = await make_member(), await make_member(), await make_member(role="operator")
        await fund(runtime, ada.id, 10000)
        await fund(runtime, grace.id, 10000)
        paid = (await withdraw(client, ada, "60.00", IBAN_ACCOUNT)).json()
        assert (paid["fee"], paid["net"]) == (usd("1.00"), usd("59.00"))
        bounced = (await withdraw(client, grace, "50.00", US_ACCOUNT)).json()
        assert (await my_balance(client, ada))["available"] == "40.00"
        assert (await my_balance(client, grace))["available"] == "50.00"

        batch = (
            await client.post(
                "/bank-transfer/payout-batches", json={"currency": "USD"}, headers=operator.headers
            )
        ).json()
        assert (batch["count"], batch["total"]) == (2, usd("108.00"))  # 59.00 + 49.00 leave the bank
        export = await client.get(
            f"/bank-transfer/payout-batches/{batch['ref']}/csv", headers=operator.headers
        )
        assert [line.split(",")[7] for line in export.text.splitlines()[1:]] == ["59.00", "49.00"]

        completed = await client.post(
            f"/operator/withdrawals/{paid['id']}/complete",
            json={"provider_ref": "BANK-TX-7781"},
            headers=operator.headers,
        )
        assert completed.status_code == 200, completed.text
        assert (completed.json()["status"], completed.json()["provider_ref"]) == ("completed", "BANK-TX-7781")
        assert await account_balance(client, operator, "platform:fees") == "1.00"
        outside = await account(client, operator, "external:bank_transfer")
        # Money leaving the platform: clearing → external (+59.00, the net the bank sent).
        assert outside["balance"] == usd("59.00")
        assert [e["amount"] for e in outside["entries"]] == [usd("59.00")]
        assert (await my_balance(client, ada))["available"] == "40.00"

        reason = "The bank returned the transfer: account closed"
        failed = await client.post(
            f"/operator/withdrawals/{bounced['id']}/fail", json={"reason": reason}, headers=operator.headers
        )
        assert failed.status_code == 200, failed.text
        assert (await my_balance(client, grace))["available"] == "100.00"  # all of it, no fee kept
        seen = (await client.get(f"/withdrawals/{bounced['id']}", headers=grace.headers)).json()
        assert (seen["status"], seen["failure_reason"]) == ("failed", reason)
        statement = (await client.get("/me/ledger", headers=grace.headers)).json()["items"]
        assert statement[0]["kind"] == "withdrawal_failed" and statement[0]["amount"] == usd("50.00")
        assert reason in statement[0]["description"]

        assert await account_balance(client, operator, "payouts:bank_transfer:clearing") == "0.00"
        assert await account_balance(client, operator, "platform:fees") == "1.00"
        again = f"/operator/withdrawals/{paid['id']}/complete"
        problem(await client.post(again, json={}, headers=operator.headers), 409, "conflict")
        problem(
            await client.post(
                f"/operator/withdrawals/{bounced['id']}/complete", json={}, headers=operator.headers
            ),
            409,
            "conflict",
        )
        problem(
            await client.post(f"/operator/withdrawals/{paid['id']}/complete", json={}, headers=ada.headers),
            403,
            "forbidden",
        )
        assert await account_balance(client, operator, "platform:fees") == "1.00"
        assert await ledger.check_ledger() == []
