"""The payout queue (``agorakit.money`` payout-queue names), on SQLite and PostgreSQL.

Payout methods claim the requested withdrawals of their method, attach them to a batch,
read a batch back and report each withdrawal's outcome; the money moves once however
often an outcome is reported.
"""

from __future__ import annotations

import asyncio

import pytest

from agorakit.errors import Conflict, NotFound
from agorakit.money import (
    QueuedWithdrawal,
    attach_to_batch,
    batch_withdrawal_ids,
    batch_withdrawals,
    claim_waiting,
    complete_payout,
    count_waiting,
    fail_payout,
    ledger,
    withdrawal_status,
)
from agorakit.money.tables import LedgerTransaction, Withdrawal

IBAN = {"account_holder": "Ada Lovelace", "iban": "DE89 3704 0044 0532 0130 00"}


@pytest.fixture
def site_config():
    return {
        "site": {"plugins": ["bank_transfer"]},
        "money": {"currencies": ["EUR"], "payout_methods": ["bank_transfer"]},
        "plugins": {"bank_transfer": {"payout_minimum": "10.00", "payout_fee": "1.50"}},
    }


async def fund(runtime, member_id: int, cents: int, currency: str = "USD") -> None:
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key=f"test-funding:{member_id}:{currency}:{cents}",
            kind="test_funding",
            description="Test funding",
            lines=ledger.move(ledger.external("test"), ledger.available(member_id), cents, currency),
        )


async def withdraw(client, runtime, make_member, amount: str, currency: str = "USD") -> tuple[int, int]:
    """A new member with money who asked to withdraw ``amount``: ``(member id, withdrawal id)``."""
    member = await make_member()
    await fund(runtime, member.id, 100_00, currency)
    response = await client.post(
        "/withdrawals",
        json={
            "method": "bank_transfer",
            "amount": {"amount": amount, "currency": currency},
            "destination": IBAN,
        },
        headers=member.headers,
    )
    assert response.status_code == 201, response.text
    return member.id, response.json()["id"]


async def test_claim_waiting_gives_the_requested_withdrawals_of_a_method_oldest_first(
    client, runtime, make_member
):
    first_member, first = await withdraw(client, runtime, make_member, "20.00")
    _, in_euro = await withdraw(client, runtime, make_member, "30.00", "EUR")
    _, second = await withdraw(client, runtime, make_member, "40.25")
    assert await count_waiting("bank_transfer") == 3
    assert await count_waiting("paypal") == 0

    async with runtime.unit_of_work() as uow:
        everything = await claim_waiting(uow, "bank_transfer")
        dollars = await claim_waiting(uow, "bank_transfer", currency="USD")
        oldest = await claim_waiting(uow, "bank_transfer", currency="USD", limit=1)
        none = await claim_waiting(uow, "paypal")
    assert [w.id for w in everything] == [first, in_euro, second]
    assert [w.id for w in dollars] == [first, second]
    assert [w.id for w in oldest] == [first]
    assert none == []
    assert everything[0] == QueuedWithdrawal(
        id=first,
        member_id=first_member,
        method="bank_transfer",
        amount=2000,
        fee=150,
        currency="USD",
        destination={"account_holder": "Ada Lovelace", "iban": "DE89370400440532013000"},
        status="requested",
        batch_ref=None,
    )
    assert everything[0].net == 1850
    assert (everything[1].currency, everything[1].amount, everything[1].net) == ("EUR", 3000, 2850)
    # Claiming changes nothing by itself: they are still requested.
    assert await count_waiting("bank_transfer") == 3
    with pytest.raises(ValueError, match="limit must be at least 1"):
        async with runtime.unit_of_work() as uow:
            await claim_waiting(uow, "bank_transfer", limit=0)


async def test_attach_to_batch_makes_them_processing_in_the_batch(client, runtime, make_member):
    ids = [(await withdraw(client, runtime, make_member, amount))[1] for amount in ("20.00", "35.10")]
    _, left = await withdraw(client, runtime, make_member, "12.00")
    async with runtime.unit_of_work() as uow:
        attached = await attach_to_batch(uow, ids, batch_ref="BATCH-1", actor_id=None)
    assert [(w.id, w.status, w.batch_ref, w.net) for w in attached] == [
        (ids[0], "processing", "BATCH-1", 1850),
        (ids[1], "processing", "BATCH-1", 3360),
    ]
    assert await batch_withdrawal_ids("BATCH-1") == ids
    assert [(w.id, w.status, w.destination["iban"]) for w in await batch_withdrawals("BATCH-1")] == [
        (ids[0], "processing", "DE89370400440532013000"),
        (ids[1], "processing", "DE89370400440532013000"),
    ]
    assert await batch_withdrawal_ids("NO-SUCH-BATCH") == []
    assert await batch_withdrawals("NO-SUCH-BATCH") == []
    assert await count_waiting("bank_transfer") == 1
    async with runtime.unit_of_work() as uow:
        assert [w.id for w in await claim_waiting(uow, "bank_transfer")] == [left]
    assert [await withdrawal_status(i) for i in ids] == ["processing", "processing"]
    # The money stays in clearing until the outcome is reported.
    assert await ledger.balance_of(ledger.clearing("bank_transfer"), "USD") == 2000 + 3510 + 1200


async def test_attaching_a_withdrawal_that_is_not_requested_rolls_the_batch_back(
    client, runtime, make_member
):
    _, waiting = await withdraw(client, runtime, make_member, "20.00")
    _, sent = await withdraw(client, runtime, make_member, "25.00")
    async with runtime.unit_of_work() as uow:
        await attach_to_batch(uow, [sent], batch_ref="BATCH-1")
    with pytest.raises(Conflict, match=f"withdrawal {sent} is processing"):
        async with runtime.unit_of_work() as uow:
            await attach_to_batch(uow, [waiting, sent], batch_ref="BATCH-2")
    assert await withdrawal_status(waiting) == "requested"
    assert await batch_withdrawal_ids("BATCH-2") == []
    assert await batch_withdrawal_ids("BATCH-1") == [sent]


async def test_complete_payout_moves_the_money_once(client, runtime, make_member):
    member_id, withdrawal_id = await withdraw(client, runtime, make_member, "20.00")
    async with runtime.unit_of_work() as uow:
        await attach_to_batch(uow, [withdrawal_id], batch_ref="BATCH-1")
    assert await complete_payout(runtime, withdrawal_id, provider_ref="BANK-REF-1") == "completed"
    assert await complete_payout(runtime, withdrawal_id) == "completed"  # a repeated report
    assert await fail_payout(runtime, withdrawal_id, reason="a late bounce") == "completed"
    assert await withdrawal_status(withdrawal_id) == "completed"
    row = await Withdrawal.select(Withdrawal.provider_ref).where(Withdrawal.id == withdrawal_id).first()
    assert row["provider_ref"] == "BANK-REF-1"
    assert await ledger.balance_of(ledger.clearing("bank_transfer"), "USD") == 0
    assert await ledger.balance_of(ledger.external("bank_transfer"), "USD") == 1850
    assert await ledger.balance_of(ledger.PLATFORM_FEES, "USD") == 150
    assert await ledger.balance_of(ledger.available(member_id), "USD") == 100_00 - 2000
    kinds = await LedgerTransaction.select(LedgerTransaction.kind).where(
        LedgerTransaction.kind.is_in(["withdrawal_completed", "withdrawal_failed"])
    )
    assert [row["kind"] for row in kinds] == ["withdrawal_completed"]
    assert await ledger.check_ledger() == []


async def test_fail_payout_gives_the_whole_amount_back_once(client, runtime, make_member):
    member_id, processing = await withdraw(client, runtime, make_member, "20.00")
    _, requested = await withdraw(client, runtime, make_member, "15.00")
    async with runtime.unit_of_work() as uow:
        await attach_to_batch(uow, [processing], batch_ref="BATCH-1")
    assert await fail_payout(runtime, processing, reason="the bank returned it") == "failed"
    assert await fail_payout(runtime, processing, reason="again") == "failed"
    assert await complete_payout(runtime, processing) == "failed"
    # A requested withdrawal can fail too (a refused batch); it cannot complete.
    assert await complete_payout(runtime, requested) == "requested"
    assert await fail_payout(runtime, requested, reason="refused") == "failed"
    reason = await Withdrawal.select(Withdrawal.failure_reason).where(Withdrawal.id == processing).first()
    assert reason["failure_reason"] == "the bank returned it"
    assert await ledger.balance_of(ledger.available(member_id), "USD") == 100_00
    assert await ledger.balance_of(ledger.clearing("bank_transfer"), "USD") == 0
    assert await ledger.balance_of(ledger.PLATFORM_FEES, "USD") == 0
    assert await ledger.check_ledger() == []


async def test_withdrawal_status_of_no_withdrawal_is_not_found(runtime):
    with pytest.raises(NotFound, match="there is no withdrawal 999"):
        await withdrawal_status(999)
    with pytest.raises(NotFound):
        await complete_payout(runtime, 999)


@pytest.mark.postgres_only("only PostgreSQL locks the claimed rows (FOR UPDATE SKIP LOCKED)")
async def test_concurrent_claims_never_take_a_withdrawal_twice(client, runtime, make_member):
    ids = [(await withdraw(client, runtime, make_member, "20.00"))[1] for _ in range(4)]
    first_claimed = asyncio.Event()
    second_done = asyncio.Event()
    claims: dict[str, list[int]] = {}

    async def first_worker():
        async with runtime.unit_of_work() as uow:
            claimed = await claim_waiting(uow, "bank_transfer", limit=2)
            claims["first"] = [w.id for w in claimed]
            first_claimed.set()
            await asyncio.wait_for(second_done.wait(), timeout=10)
            await attach_to_batch(uow, claims["first"], batch_ref="BATCH-A")

    async def second_worker():
        await first_claimed.wait()
        async with runtime.unit_of_work() as uow:
            claimed = await claim_waiting(uow, "bank_transfer")
            claims["second"] = [w.id for w in claimed]
            await attach_to_batch(uow, claims["second"], batch_ref="BATCH-B")
        second_done.set()

    await asyncio.gather(first_worker(), second_worker())
    assert claims == {"first": ids[:2], "second": ids[2:]}
    assert await batch_withdrawal_ids("BATCH-A") == ids[:2]
    assert await batch_withdrawal_ids("BATCH-B") == ids[2:]
    assert await count_waiting("bank_transfer") == 0
