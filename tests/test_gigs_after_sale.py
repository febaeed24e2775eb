"""Gig orders after the sale: the seller cancels before delivering, the buyer reports an
order after it completed, and a refund then claws the seller's part back (a balance that
goes below zero is owed, paid back by the next earnings, and blocks withdrawals).

Driven through the HTTP API on SQLite and PostgreSQL; exact cents, states, permissions.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta

import pytest
from test_gigs import IBAN_ACCOUNT, deliver, inbox, money_of, paid_order, publish_gig, state_of, usd

from agorakit.money import ledger
from agorakit.money.tables import LedgerEntry, LedgerTransaction

_funding = itertools.count(1)


async def fund(runtime, account: str, cents: int) -> None:
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key=f"test-fund:{next(_funding)}",
            kind="test_funding",
            description="test",
            lines=ledger.move(ledger.external("test"), account, cents, "USD"),
        )


@pytest.fixture
def site_config(tmp_path):
    return {
        "site": {"plugins": ["gigs", "bank_transfer"]},
        "money": {"payment_methods": ["balance", "bank_transfer"], "payout_methods": ["bank_transfer"]},
        "attachments": {"path": str(tmp_path / "files")},
    }


@pytest.fixture
async def market(client, runtime, make_member):
    """An operator, a seller and a buyer (with 200.00 of site credit), and a category."""
    operator = await make_member(role="operator")
    seller, buyer = await make_member(), await make_member()
    created = await client.post(
        "/operator/categories",
        json={"slug": "logo-design", "name": "Logo design", "parent": None},
        headers=operator.headers,
    )
    assert created.status_code == 201, created.text
    await fund(runtime, ledger.credit(buyer.id), 20000)
    return operator, seller, buyer


async def postings(order_id: int) -> list[tuple[str, dict[str, int]]]:
    """The order's postings, oldest first: (kind, {account: amount})."""
    rows = (
        await LedgerEntry.select(
            LedgerEntry.transaction.id,
            LedgerEntry.transaction.kind,
            LedgerEntry.transaction.refs,
            LedgerEntry.account.name,
            LedgerEntry.amount,
        )
        .order_by(LedgerEntry.id)
        .output(load_json=True)
    )
    found: dict[int, tuple[str, dict[str, int]]] = {}
    for row in rows:
        if (row["transaction.refs"] or {}).get("order") != order_id:
            continue
        found.setdefault(row["transaction.id"], (row["transaction.kind"], {}))[1][row["account.name"]] = row[
            "amount"
        ]
    return [found[k] for k in sorted(found)]


async def completed_order(client, market, price: str) -> dict:
    operator, seller, buyer = market
    gig = await publish_gig(client, seller, operator, price=usd(price))
    placed = await paid_order(client, buyer, gig["id"])
    await deliver(client, seller, placed["id"])
    accepted = await client.post(f"/gigs/orders/{placed['id']}/accept", headers=buyer.headers)
    assert accepted.json()["state"] == "completed", accepted.text
    return accepted.json()


async def report(client, buyer, order_id):
    return await client.post(
        f"/orders/{order_id}/disputes",
        json={"reason": "not_delivered", "text": "Marked complete without a real delivery."},
        headers=buyer.headers,
    )


async def resolve(client, operator, dispute_id, **body):
    return await client.post(
        f"/operator/disputes/{dispute_id}/resolve",
        json={"outcome": "refund", "note": "No real delivery.", **body},
        headers=operator.headers,
    )


def withdraw(client, member, amount: str):
    return client.post(
        "/withdrawals",
        json={"method": "bank_transfer", "amount": usd(amount), "destination": IBAN_ACCOUNT},
        headers=member.headers,
    )


async def balance_of(client, member) -> dict:
    return (await client.get("/me/balance", headers=member.headers)).json()["balances"][0]


# --------------------------------------------------------------------------------------
# The seller cancels before delivering
# --------------------------------------------------------------------------------------


async def test_seller_cancels_before_delivering_refunds_every_cent(client, market, clock, problem):
    operator, seller, buyer = market
    gig = await publish_gig(client, seller, operator, price=usd("15.00"))
    placed = await paid_order(client, buyer, gig["id"], extras=["Express delivery", "Source files"])
    assert placed["state"] == "in_progress"
    before = await money_of(buyer, seller)
    assert await ledger.balance_of(ledger.escrow(f"order:{placed['id']}"), "USD") == 3000
    assert (
        "seller_cancel"
        in (await client.get(f"/orders/{placed['id']}", headers=seller.headers)).json()["allowed_transitions"]
    )

    # Neither the buyer nor an operator may fire it.
    for who in (buyer, operator):
        problem(
            await client.post(f"/orders/{placed['id']}/transitions/seller_cancel", headers=who.headers),
            403,
            "actor_not_allowed",
        )
    clock.advance(timedelta(days=1))
    cancelled = await client.post(f"/gigs/orders/{placed['id']}/seller-cancel", headers=seller.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    after = await money_of(buyer, seller)
    assert after["buyer_credit"] - before["buyer_credit"] == 3000
    assert after["seller_available"] == before["seller_available"] and after["fees"] == before["fees"]
    assert await ledger.balance_of(ledger.escrow(f"order:{placed['id']}"), "USD") == 0
    kinds = [kind for kind, _ in await postings(placed["id"])]
    assert kinds.count("escrow_refunded") == 1
    assert (await postings(placed["id"]))[-1][1] == {
        ledger.escrow(f"order:{placed['id']}"): -3000,
        ledger.credit(buyer.id): 3000,
    }
    assert "order_transitioned" in [t for t, _ in await inbox(client, buyer)]

    record = await client.get(f"/gigs/sellers/{seller.id}/record", headers=buyer.headers)
    assert record.json() == {"seller_id": seller.id, "completed": 0, "cancelled_by_seller": 1}
    await completed_order(client, market, "5.00")
    record = await client.get(f"/gigs/sellers/{seller.id}/record", headers=buyer.headers)
    assert record.json() == {"seller_id": seller.id, "completed": 1, "cancelled_by_seller": 1}
    problem(await client.get("/gigs/sellers/999999/record", headers=buyer.headers), 404, "not_found")
    assert await ledger.check_ledger() == []


async def test_seller_may_cancel_after_the_deadline_but_not_after_delivering(client, market, clock, problem):
    operator, seller, buyer = market
    gig = await publish_gig(client, seller, operator, price=usd("15.00"))
    late = await paid_order(client, buyer, gig["id"])
    clock.advance(timedelta(days=4))  # past the 3-day deadline: still the seller's to cancel
    cancelled = await client.post(f"/orders/{late['id']}/transitions/seller_cancel", headers=seller.headers)
    assert cancelled.json()["state"] == "cancelled", cancelled.text

    delivered = await paid_order(client, buyer, gig["id"])
    await deliver(client, seller, delivered["id"])
    problem(
        await client.post(f"/gigs/orders/{delivered['id']}/seller-cancel", headers=seller.headers),
        409,
        "transition_not_allowed",
    )
    assert await state_of(client, buyer, delivered["id"]) == "delivered"
    assert await ledger.check_ledger() == []


# --------------------------------------------------------------------------------------
# Reports after completion
# --------------------------------------------------------------------------------------


async def test_report_after_completion_is_open_for_fourteen_days(client, market, clock, problem):
    _, _, buyer = market
    first = await completed_order(client, market, "5.00")
    second = await completed_order(client, market, "5.00")
    reasons = (await client.get(f"/orders/{first['id']}/disputes/reasons", headers=buyer.headers)).json()
    assert reasons["after_states"] == ["completed"] and reasons["after_window_days"] == 14
    clock.advance(timedelta(days=14))
    opened = await report(client, buyer, first["id"])
    assert opened.status_code == 201, opened.text
    assert opened.json()["refund_from"] == "seller" and opened.json()["from_state"] == "completed"
    assert await state_of(client, buyer, first["id"]) == "completed"  # nothing is held
    clock.advance(timedelta(days=1))
    problem(await report(client, buyer, second["id"]), 409, "dispute_window_closed")


async def test_refund_after_completion_takes_back_the_sellers_part_and_the_fee(client, market, problem):
    operator, seller, buyer = market
    done = await completed_order(client, market, "5.00")
    before = await money_of(buyer, seller)
    assert before["seller_available"] == 400 and before["fees"] == 100
    dispute = (await report(client, buyer, done["id"])).json()
    problem(await resolve(client, operator, dispute["id"], outcome="release"), 422, "validation_error")
    problem(await resolve(client, operator, dispute["id"], amount="5.01"), 422, "validation_error")
    resolved = await resolve(client, operator, dispute["id"], amount="2.00")
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["refunded"] == usd("2.00")
    after = await money_of(buyer, seller)
    # 2.00 of a 5.00 order at the order's rate (4.00 of 5.00 is the seller's): 1.60 and 0.40.
    assert after["buyer_credit"] - before["buyer_credit"] == 200
    assert after["seller_available"] == 240 and after["fees"] == 60
    assert (await postings(done["id"]))[-1] == (
        "order_clawback",
        {ledger.credit(buyer.id): 200, ledger.available(seller.id): -160, ledger.PLATFORM_FEES: -40},
    )
    assert await state_of(client, buyer, done["id"]) == "completed"
    assert "dispute_resolved" in [t for t, _ in await inbox(client, seller)]
    assert (await balance_of(client, seller))["owed"] == "0.00"
    assert await ledger.check_ledger() == []


async def test_refund_of_spent_earnings_is_owed_and_paid_back_by_the_next_ones(
    client, runtime, market, problem
):
    operator, seller, buyer = market
    done = await completed_order(client, market, "50.00")
    assert (await withdraw(client, seller, "40.00")).status_code == 422  # (the method's minimum)
    await fund(runtime, ledger.available(seller.id), 1000)
    assert (await withdraw(client, seller, "50.00")).status_code == 201
    dispute = (await report(client, buyer, done["id"])).json()
    fees_before = await ledger.balance_of(ledger.PLATFORM_FEES, "USD")
    resolved = await resolve(client, operator, dispute["id"])
    assert resolved.json()["refunded"] == usd("50.00")
    assert (await postings(done["id"]))[-1] == (
        "order_clawback",
        {ledger.credit(buyer.id): 5000, ledger.available(seller.id): -4000, ledger.PLATFORM_FEES: -1000},
    )
    assert await ledger.balance_of(ledger.available(seller.id), "USD") == -4000
    assert fees_before - await ledger.balance_of(ledger.PLATFORM_FEES, "USD") == 1000
    shown = await balance_of(client, seller)
    assert (shown["available"], shown["owed"]) == ("0.00", "40.00")
    assert await ledger.check_ledger() == []

    # Nothing can be withdrawn, nor paid from the balance, while it is owed.
    body = problem(await withdraw(client, seller, "50.00"), 409, "balance_owed")
    assert body["extra"]["owed"] == "40.00"
    other = await publish_gig(client, buyer, operator, price=usd("5.00"))
    placed = await client.post(f"/gigs/{other['id']}/orders", json={}, headers=seller.headers)
    problem(
        await client.post(
            f"/orders/{placed.json()['id']}/payments", json={"method": "balance"}, headers=seller.headers
        ),
        409,
        "insufficient_funds",
    )
    assert await ledger.balance_of(ledger.available(seller.id), "USD") == -4000

    # The next earnings pay it back first, each in one posting.
    second = await completed_order(client, market, "25.00")
    assert (await postings(second["id"]))[-1] == (
        "escrow_released",
        {
            ledger.escrow(f"order:{second['id']}"): -2500,
            ledger.available(seller.id): 2000,
            ledger.PLATFORM_FEES: 500,
        },
    )
    assert (await balance_of(client, seller))["owed"] == "20.00"
    problem(await withdraw(client, seller, "50.00"), 409, "balance_owed")
    await completed_order(client, market, "50.00")
    shown = await balance_of(client, seller)
    assert (shown["available"], shown["owed"]) == ("20.00", "0.00")
    await fund(runtime, ledger.available(seller.id), 3000)
    allowed = await withdraw(client, seller, "50.00")
    assert allowed.status_code == 201, allowed.text
    assert await ledger.balance_of(ledger.available(seller.id), "USD") == 0
    assert await ledger.check_ledger() == []


async def test_check_ledger_allows_a_negative_available_balance_only_by_a_clawback(runtime):
    seller = ledger.available(7)
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key="test:overdrawn",
            kind="test_overdraw",
            description="not a clawback",
            lines=ledger.move(seller, ledger.credit(8), 300, "USD"),
            overdraw=frozenset({seller}),
        )
    assert await ledger.check_ledger() == [f"{seller} USD: negative balance -300"]
    with pytest.raises(ledger.LedgerError):
        async with runtime.unit_of_work() as uow:
            await ledger.post(
                uow,
                key="test:credit-overdrawn",
                kind="test_overdraw",
                description="x",
                lines=ledger.move(ledger.credit(8), seller, 300, "USD"),
                overdraw=frozenset({ledger.credit(8)}),
            )
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key="test:clawback",
            kind="order_clawback",
            description="a clawback",
            lines=ledger.move(seller, ledger.credit(8), 200, "USD"),
            overdraw=frozenset({seller}),
        )
    # -500 owed, but the clawbacks took only 200 of it.
    assert await ledger.check_ledger() == [f"{seller} USD: negative balance -500 (clawbacks took 200)"]
    assert await LedgerTransaction.count().where(LedgerTransaction.kind == "order_clawback") == 1


@pytest.mark.postgres_only("concurrency is proven on PostgreSQL")
async def test_refund_racing_a_withdrawal_never_lets_the_seller_withdraw_what_they_owe(
    client, runtime, market
):
    operator, seller, buyer = market
    for _ in range(3):
        start = await ledger.balance_of(ledger.available(seller.id), "USD")
        done = await completed_order(client, market, "62.50")  # 50.00 for the seller
        await fund(runtime, ledger.available(seller.id), 1000)
        dispute = (await report(client, buyer, done["id"])).json()
        refunded, withdrawn = await asyncio.gather(
            resolve(client, operator, dispute["id"]), withdraw(client, seller, "50.00")
        )
        assert refunded.status_code == 200, refunded.text
        assert withdrawn.status_code in (201, 409), withdrawn.text
        took = 5000 if withdrawn.status_code == 201 else 0
        available = await ledger.balance_of(ledger.available(seller.id), "USD")
        assert available == start + 1000 - took
        if available < 0:
            retry = await withdraw(client, seller, "50.00")
            assert retry.status_code == 409 and retry.json()["code"] == "balance_owed", retry.text
        assert await ledger.check_ledger() == []
