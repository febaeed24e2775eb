"""The bank_transfer plugin's console pages, over HTTP, on SQLite and PostgreSQL.

An operator confirms a bank transfer that pays an order (the order starts), is told the
API's refusal of a wrong amount or currency (nothing changes), batches two bank
withdrawals, downloads the batch's CSV and marks one paid and one failed, with the
members' balances to the cent.
"""

from __future__ import annotations

import csv
import io

import pytest
from console_helpers import CONSOLE_SITE, Console, text_of, usd

from agorakit.testing import deep_merge

IBAN_ACCOUNT = {"account_holder": "Ada Lovelace", "iban": "DE89 3704 0044 0532 0130 00", "bic": "DEUTDEFF"}
US_ACCOUNT = {"account_holder": "Grace Hopper", "account_number": "0001234567", "routing_number": "111000025"}


@pytest.fixture
def site_config():
    return deep_merge(CONSOLE_SITE, {"plugins": {"bank_transfer": {"payout_fee": "1.00"}}})


async def api(client, method: str, path: str, who, json=None, expect: int = 200) -> dict:
    response = await client.request(method, path, json=json, headers=who.headers)
    assert response.status_code == expect, response.text
    return response.json()


async def bank_paid_order(client, make_member, make_order):
    """A gig order whose buyer chose to pay by bank transfer: it waits for the money."""
    buyer = await make_member(display_name="Bea Buyer")
    order = await make_order(kind="gig", state="awaiting_payment", buyer=buyer)
    payment = await api(
        client, "POST", f"/orders/{order['id']}/payments", buyer, {"method": "bank_transfer"}, 201
    )
    assert payment["status"] == "awaiting_funds"
    return buyer, order, payment


async def test_an_order_paid_by_bank_transfer_starts_once_confirmed(
    client, make_operator, make_member, make_order
):
    operator = await make_operator()
    buyer, order, payment = await bank_paid_order(client, make_member, make_order)
    amount = payment["amount"]["amount"]
    confirm = f"/console/bank_transfer/payments/{payment['id']}/confirm"
    async with Console(client) as browser:
        await browser.sign_in(operator.member.email, operator.password)
        page = await browser.get("/console/bank_transfer/payments")
        assert page.status_code == 200
        text = text_of(page)
        assert f"{payment['reference']} · {amount} USD" in text
        assert f"Bea Buyer ({buyer.member.email})" in text
        assert f"order #{order['id']}" in text
        assert f'href="/console/orders/{order["id"]}"' in page.text
        assert f'value="{amount}"' in page.text  # the form is pre-filled with the expected amount

        # no CSRF token: refused, nothing moves
        refused = await browser.post(
            confirm, {"amount": amount, "currency": "USD", "reference": "STMT-1"}, csrf=False
        )
        assert refused.status_code == 403
        # the wrong amount: the API's refusal is shown, nothing moves
        wrong = await browser.post(confirm, {"amount": "24.99", "currency": "USD", "reference": "STMT-1"})
        assert wrong.status_code == 303 and wrong.headers["location"] == "/console/bank_transfer/payments"
        shown = text_of(await browser.get("/console/bank_transfer/payments"))
        assert "amount.amount" in shown and payment["reference"] in shown
        # the wrong currency: refused too
        await browser.post(confirm, {"amount": amount, "currency": "EUR", "reference": "STMT-1"})
        shown = text_of(await browser.get("/console/bank_transfer/payments"))
        assert "amount.currency" in shown
        assert (await api(client, "GET", f"/orders/{order['id']}", buyer))["state"] == "awaiting_payment"

        done = await browser.post(confirm, {"amount": amount, "currency": "usd", "reference": "STMT-0042"})
        assert done.headers["location"] == "/console/bank_transfer/payments"
        page = await browser.get("/console/bank_transfer/payments")
        assert f"Payment #{payment['id']} confirmed" in text_of(page)
        assert payment["reference"] not in text_of(page)
    started = await api(client, "GET", f"/orders/{order['id']}", buyer)
    assert started["state"] == "in_progress"
    paid = await api(client, "GET", f"/payments/{payment['id']}", buyer)
    assert paid["status"] == "completed" and paid["details"]["confirmed_reference"] == "STMT-0042"


async def test_a_batch_of_two_withdrawals_is_paid_from_its_csv(
    client, make_operator, make_member, fund_member
):
    operator = await make_operator()
    ada = await make_member(display_name="Ada")
    grace = await make_member(display_name="Grace")
    await fund_member(ada, 8000)
    await fund_member(grace, 6000)
    first = await api(
        client,
        "POST",
        "/withdrawals",
        ada,
        {"method": "bank_transfer", "amount": usd("60.00"), "destination": IBAN_ACCOUNT},
        201,
    )
    second = await api(
        client,
        "POST",
        "/withdrawals",
        grace,
        {"method": "bank_transfer", "amount": usd("50.00"), "destination": US_ACCOUNT},
        201,
    )
    async with Console(client) as browser:
        await browser.sign_in(operator.member.email, operator.password)
        page = await browser.get("/console/bank_transfer/payouts")
        text = text_of(page)
        assert (
            f"#{first['id']} Ada Ada Lovelace DE89370400440532013000 DEUTDEFF 60.00 USD 1.00 USD 59.00 USD"
            in text
        )
        assert (
            f"#{second['id']} Grace Grace Hopper 0001234567 routing 111000025 50.00 USD 1.00 USD 49.00 USD"
            in text
        )

        created = await browser.post("/console/bank_transfer/batches", {"currency": "USD"})
        assert created.status_code == 303
        location = created.headers["location"]
        ref = location.rsplit("/", 1)[1]
        assert location == f"/console/bank_transfer/batches/{ref}" and ref.startswith("BT-")
        page = await browser.get(location)
        text = text_of(page)
        assert f"Batch {ref} created: 2 withdrawals, 108.00 USD." in text
        assert f"#{first['id']} · 59.00 USD to Ada Lovelace processing" in text
        assert f"#{second['id']} · 49.00 USD to Grace Hopper processing" in text
        assert f'href="/console/bank_transfer/batches/{ref}/csv"' in page.text
        listed = text_of(await browser.get("/console/bank_transfer/batches"))
        assert f"{ref} USD 2 108.00 USD" in listed

        # nothing left to batch: the API's refusal
        again = await browser.post("/console/bank_transfer/batches", {"currency": "USD"})
        assert again.headers["location"] == "/console/bank_transfer/payouts"
        shown = text_of(await browser.get("/console/bank_transfer/payouts"))
        assert "there are no requested bank transfer withdrawals in USD; nothing was batched" in shown

        download = await browser.get(f"/console/bank_transfer/batches/{ref}/csv")
        assert download.status_code == 200
        assert download.headers["content-type"].startswith("text/csv")
        assert download.headers["content-disposition"] == f'attachment; filename="{ref}.csv"'
        rows = list(csv.DictReader(io.StringIO(download.text)))
        assert [
            (r["withdrawal_id"], r["account_holder"], r["iban"], r["bic"], r["amount"]) for r in rows
        ] == [
            (str(first["id"]), "Ada Lovelace", "DE89370400440532013000", "DEUTDEFF", "59.00"),
            (str(second["id"]), "Grace Hopper", "", "", "49.00"),
        ]
        assert [(r["account_number"], r["routing_number"], r["currency"], r["reference"]) for r in rows] == [
            ("", "", "USD", f"WD-{first['id']}"),
            ("0001234567", "111000025", "USD", f"WD-{second['id']}"),
        ]

        paid = await browser.post(
            f"/console/bank_transfer/withdrawals/{first['id']}/complete",
            {"batch": ref, "provider_ref": "BANK-77"},
        )
        assert paid.headers["location"] == location
        # a failure needs a reason: the API says so, nothing changes
        await browser.post(
            f"/console/bank_transfer/withdrawals/{second['id']}/fail", {"batch": ref, "reason": ""}
        )
        page = text_of(await browser.get(location))
        assert "reason" in page and f"#{second['id']} · 49.00 USD to Grace Hopper processing" in page
        await browser.post(
            f"/console/bank_transfer/withdrawals/{second['id']}/fail",
            {"batch": ref, "reason": "The bank returned the transfer: account closed"},
        )
        page = text_of(await browser.get(location))
        assert f"#{first['id']} · 59.00 USD to Ada Lovelace completed" in page and "bank's id BANK-77" in page
        assert "Failed: The bank returned the transfer: account closed" in page
        # marking it again is refused by the API: an error message, nothing moves
        await browser.post(f"/console/bank_transfer/withdrawals/{first['id']}/complete", {"batch": ref})
        assert 'class="flash error" role="alert"' in (await browser.get(location)).text

    ada_balance = (await api(client, "GET", "/me/balance", ada))["balances"][0]
    grace_balance = (await api(client, "GET", "/me/balance", grace))["balances"][0]
    assert ada_balance["available"] == "20.00"  # 80.00 less the 60.00 paid out
    assert grace_balance["available"] == "60.00"  # the failed 50.00 came back, fee included
    assert (await api(client, "GET", f"/withdrawals/{first['id']}", ada))["status"] == "completed"
    failed = await api(client, "GET", f"/withdrawals/{second['id']}", grace)
    assert failed["status"] == "failed"
    assert failed["failure_reason"] == "The bank returned the transfer: account closed"


async def test_an_unknown_batch_is_a_404_page(client, make_operator):
    operator = await make_operator()
    async with Console(client) as browser:
        await browser.sign_in(operator.member.email, operator.password)
        page = await browser.get("/console/bank_transfer/batches/BT-NOPE")
        assert page.status_code == 404
        csv_file = await browser.get("/console/bank_transfer/batches/BT-NOPE/csv")
        assert csv_file.status_code == 404
