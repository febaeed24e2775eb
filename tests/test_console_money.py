"""The console's money page, over HTTP: the fee income per day and kind to the cent (a
chart and its figures), the platform totals, the payments with their filters, and the
ledger check through its form (a sound ledger, and a corrupted one named)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from api_world import paid_withdrawal
from console_helpers import CONSOLE_SITE, Console, text_of, usd

from agorakit.money import ledger
from agorakit.money.tables import LedgerAccount


@pytest.fixture
def site_config():
    return {**CONSOLE_SITE, "plugins": {"bank_transfer": {"payout_fee": "1.50"}}}


async def test_fee_income_to_the_cent_over_two_days(
    client, clock, make_operator, make_member, make_listing, make_order, fund_member
):
    operator, buyer, seller = await make_operator(), await make_member(), await make_member()
    big = await make_listing(seller=seller, price=2500)
    small = await make_listing(seller=seller, price=1250)
    # 2026-01-05: a 25.00 gig completes (the site's 20%: 5.00)
    await make_order(state="completed", buyer=buyer, listing=big)
    clock.advance(timedelta(days=1))
    # 2026-01-06: a 12.50 gig completes (2.50) and a 60.00 withdrawal pays its 1.50 fee
    await make_order(state="completed", buyer=buyer, listing=small)
    await fund_member(seller, 5000)
    await paid_withdrawal(client, operator, seller, "60.00")

    async with Console(client) as browser:
        await browser.sign_in(operator.member.email, operator.password)
        page = await browser.get("/console/money", **{"from": "2026-01-04", "to": "2026-01-07"})
        default = await browser.get("/console/money")
    assert page.status_code == 200
    text = text_of(page)
    assert "Day gig order withdrawal Total" in text
    assert "2026-01-04 - - 0.00 USD" in text
    assert "2026-01-05 5.00 USD - 5.00 USD" in text
    assert "2026-01-06 2.50 USD 1.50 USD 4.00 USD" in text
    assert "2026-01-07 - - 0.00 USD" in text
    assert "Total 7.50 USD 1.50 USD 9.00 USD" in text
    assert "gig order 7.50 USD withdrawal 1.50 USD All kinds 9.00 USD" in text  # the totals by kind
    # the chart: a column part per kind and day with fees, the kinds in its legend
    svg = page.text.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert "Fee income per day and kind, 2026-01-04 to 2026-01-07, in USD" in svg
    assert svg.count('class="series-0"') == 2 and svg.count('class="series-1"') == 1
    assert "01-05" in svg and "01-06" in svg
    # the platform totals: the fees the site earned, and every account summing to zero
    totals = (await client.get("/operator/ledger/totals", headers=operator.headers)).json()["totals"][0]
    assert (totals["platform_fees"], totals["sum"]) == ("9.00", "0.00")
    assert f"USD 9.00 USD {totals['members_available']} USD {totals['members_credit']} USD" in text
    assert text.split("Check the ledger", 1)[0].rstrip().endswith("0.00 USD")  # the sum of every account

    # without a range: the 30 days up to today (2026-01-06), shown in the date inputs
    assert 'value="2025-12-08"' in default.text and 'value="2026-01-06"' in default.text
    assert "Total 7.50 USD 1.50 USD 9.00 USD" in text_of(default)


async def test_a_bad_range_is_refused_with_the_apis_reason(client, make_operator):
    operator = await make_operator()
    async with Console(client) as browser:
        await browser.sign_in(operator.member.email, operator.password)
        backwards = await browser.get("/console/money", **{"from": "2026-01-06", "to": "2026-01-05"})
        not_a_day = await browser.get("/console/money", **{"from": "2026-02-30"})
    assert backwards.status_code == 200
    assert "must be on or before to (2026-01-05)" in text_of(backwards)
    assert "give a day as YYYY-MM-DD" in text_of(not_a_day)
    assert "<svg" not in backwards.text.split("Platform totals", 1)[0]


async def test_payments_are_listed_and_filtered(client, make_operator, make_member, make_order):
    operator, payer = await make_operator(), await make_member()
    order = await make_order(state="in_progress", buyer=payer)
    deposit = await client.post(
        "/payments", json={"method": "bank_transfer", "amount": usd("12.34")}, headers=payer.headers
    )
    assert deposit.status_code == 201, deposit.text
    async with Console(client) as browser:
        await browser.sign_in(operator.member.email, operator.password)
        every = text_of(await browser.get("/console/money"))
        waiting = text_of(await browser.get("/console/money", status=deposit.json()["status"]))
        by_method = text_of(await browser.get("/console/money", method="balance"))
    row = f"#{deposit.json()['id']} #{payer.id} bank transfer deposit 12.34 USD"
    paid = f"#{payer.id} balance escrow (order:{order['id']}) 25.00 USD completed"
    assert row in every and paid in every
    assert "awaiting funds" in waiting.split(row, 1)[1][:20]
    assert row in waiting and paid not in waiting
    assert row not in by_method and paid in by_method


async def test_the_ledger_check_through_its_form(client, clock, make_operator, make_order):
    operator = await make_operator()
    await make_order(state="completed")
    async with Console(client) as browser:
        await browser.sign_in(operator.member.email, operator.password)
        await browser.get("/console/money")
        assert (await browser.post("/console/money/check", csrf=False)).status_code == 403
        sound = await browser.post("/console/money/check")
        assert sound.status_code == 303 and sound.headers["location"] == "/console/money"
        assert "The ledger check found no problem" in text_of(await browser.get("/console/money"))

        # a stored balance its entries do not add up to (raw SQL: nothing else may do it)
        await LedgerAccount.raw(
            "UPDATE core_ledger_account SET balance = balance + 7 WHERE name = {} AND currency = 'USD'",
            ledger.PLATFORM_FEES,
        )
        await browser.post("/console/money/check")
        page = text_of(await browser.get("/console/money"))
    assert (
        "The ledger check found 1 problem: platform:fees USD: stored balance 507 but entries sum to 500"
        in page
    )
