"""The operators' ledger views that read orders: the fee income per UTC day and kind,
and the ledger check of ``agorakit check-ledger`` as a route.  Exact cents, refunds
counted on their day, bad ranges (422), members refused (403); on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from api_world import paid_withdrawal, usd

from agorakit.money import ledger
from agorakit.money.tables import LedgerAccount


@pytest.fixture
def site_config(tmp_path):
    return {
        "site": {"plugins": ["gigs", "bank_transfer"]},
        "money": {"payment_methods": ["balance", "bank_transfer"], "payout_methods": ["bank_transfer"]},
        "plugins": {"bank_transfer": {"payout_fee": "1.50"}},
        "attachments": {"path": str(tmp_path / "files")},
    }


def zero_day(day: str) -> dict:
    return {"day": day, "by_kind": {}, "total": usd("0.00")}


async def fee_income(client, operator, **params):
    response = await client.get("/operator/ledger/fee-income", params=params, headers=operator.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def refund_after_completion(client, operator, buyer, order_id: int, amount: str) -> None:
    """The buyer reports a completed order and an operator refunds ``amount`` of it."""
    opened = await client.post(
        f"/orders/{order_id}/disputes",
        json={"reason": "not_delivered", "text": "Marked complete without a real delivery."},
        headers=buyer.headers,
    )
    assert opened.status_code == 201, opened.text
    resolved = await client.post(
        f"/operator/disputes/{opened.json()['id']}/resolve",
        json={"outcome": "refund", "note": "No real delivery.", "amount": amount},
        headers=operator.headers,
    )
    assert resolved.status_code == 200, resolved.text


async def test_fee_income_per_day_and_kind_with_a_refund_against_its_day(
    client, clock, make_member, make_listing, make_order, fund_member
):
    operator, buyer = await make_member(role="operator"), await make_member()
    seller = await make_member()
    big = await make_listing(seller=seller, price=2500)
    small = await make_listing(seller=seller, price=1250)
    # 2026-01-05: a 25.00 gig completes; the site's 20% is 5.00
    first = await make_order(state="completed", buyer=buyer, listing=big)
    clock.advance(timedelta(days=1))
    # 2026-01-06: a 12.50 gig completes (2.50), 5.00 of the first is refunded (1.00 of it
    # was the fee), and a 60.00 withdrawal pays its 1.50 fee
    await make_order(state="completed", buyer=buyer, listing=small)
    await refund_after_completion(client, operator, buyer, first["id"], "5.00")
    await fund_member(seller, 10000)
    await paid_withdrawal(client, operator, seller, "60.00")

    body = await fee_income(client, operator, **{"from": "2026-01-04", "to": "2026-01-07"})
    assert body == {
        "currency": "USD",
        "from": "2026-01-04",
        "to": "2026-01-07",
        "days": [
            zero_day("2026-01-04"),
            {"day": "2026-01-05", "by_kind": {"gig_order": usd("5.00")}, "total": usd("5.00")},
            {
                "day": "2026-01-06",
                "by_kind": {"gig_order": usd("1.50"), "withdrawal": usd("1.50")},
                "total": usd("3.00"),
            },
            zero_day("2026-01-07"),
        ],
        "by_kind": {"gig_order": usd("6.50"), "withdrawal": usd("1.50")},
        "total": usd("8.00"),
    }
    fees = await client.get("/operator/ledger/accounts/platform:fees", headers=operator.headers)
    assert fees.json()["balance"] == usd("8.00")  # the same money the account holds

    one_day = await fee_income(client, operator, **{"from": "2026-01-05", "to": "2026-01-05"})
    assert one_day["days"] == [body["days"][1]] and one_day["total"] == usd("5.00")

    # Without a range: the 30 days up to today (2026-01-06 by the clock), today included.
    default = await fee_income(client, operator)
    assert (default["from"], default["to"], len(default["days"])) == ("2025-12-08", "2026-01-06", 30)
    assert default["days"][-2:] == body["days"][1:3] and default["total"] == usd("8.00")
    only_to = await fee_income(client, operator, to="2026-01-05")
    assert (only_to["from"], only_to["total"]) == ("2025-12-07", usd("5.00"))


async def test_fee_income_refuses_bad_ranges_and_members(client, make_member, problem):
    operator, member = await make_member(role="operator"), await make_member()

    async def refused(params: dict, field: str) -> None:
        response = await client.get("/operator/ledger/fee-income", params=params, headers=operator.headers)
        problem(response, 422, "validation_error", fields={field})

    await refused({"from": "2026-01-06", "to": "2026-01-05"}, "from")
    await refused({"from": "2025-01-01", "to": "2026-01-02"}, "to")  # 367 days
    await refused({"from": "2026-02-30"}, "from")
    await refused({"to": "06/01/2026"}, "to")
    await refused({"currency": "EUR"}, "currency")  # not a currency of this site
    await refused({"currency": "usd"}, "currency")
    longest = await fee_income(client, operator, **{"from": "2025-01-02", "to": "2026-01-02"})
    assert len(longest["days"]) == 366 and longest["total"] == usd("0.00")
    problem(await client.get("/operator/ledger/fee-income", headers=member.headers), 403, "forbidden")


async def test_ledger_check_is_ok_on_a_sound_ledger_and_names_a_corruption(
    client, clock, runtime, make_member, make_order, problem
):
    operator, member = await make_member(role="operator"), await make_member()
    await make_order(state="completed")
    response = await client.post("/operator/ledger/check", headers=operator.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"ok": True, "checked_at": "2026-01-05T09:00:00Z", "problems": []}
    problem(await client.post("/operator/ledger/check", headers=member.headers), 403, "forbidden")

    # A stored balance that its entries do not add up to (raw SQL: nothing else may do it).
    await LedgerAccount.raw(
        "UPDATE core_ledger_account SET balance = balance + 7 WHERE name = {} AND currency = 'USD'",
        ledger.PLATFORM_FEES,
    )
    clock.advance(timedelta(hours=1))
    body = (await client.post("/operator/ledger/check", headers=operator.headers)).json()
    assert body == {
        "ok": False,
        "checked_at": "2026-01-05T10:00:00Z",
        "problems": ["platform:fees USD: stored balance 507 but entries sum to 500"],
    }
