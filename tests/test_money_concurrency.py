"""Concurrent requests cannot overdraw, pay twice or lose an update.

Real concurrency: every request below runs as its own asyncio task through the ASGI app
(``asyncio.gather`` of client calls), each unit of work on its own pooled PostgreSQL
connection, so the row locks and conditional updates of the ledger are what keeps the
money right.  PostgreSQL is where several app processes share one database, so that is
where concurrency is proven; one SQLite test shows the embedded default is safe too
(writers are serialised by ``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from money_helpers import ManualPayoutPlugin

from agorakit.money import ledger, payments, withdrawals
from agorakit.money.tables import LedgerEntry, LedgerTransaction, Payment, Withdrawal


@pytest.fixture
def extra_plugins():
    return [("testpay", ManualPayoutPlugin())]


@pytest.fixture
def site_config():
    return {"database": {"pool_max_size": 20}, "money": {"payout_methods": ["testpay"]}}


async def fund(runtime, account: str, amount: int, currency: str = "USD") -> None:
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key=f"fund:{account}:{currency}:{amount}",
            kind="test_funding",
            description="test funding",
            lines=ledger.move(ledger.external("test"), account, amount, currency),
        )


def withdraw(client, member, amount: str, **headers: str):
    body = {
        "method": "testpay",
        "amount": {"amount": amount, "currency": "USD"},
        "destination": {"email": "payee@example.com"},
    }
    return client.post("/withdrawals", json=body, headers={**member.headers, **headers})


async def available_shown(client, member) -> str:
    response = await client.get("/me/balance", headers=member.headers)
    assert response.status_code == 200, response.text
    (usd,) = [b for b in response.json()["balances"] if b["currency"] == "USD"]
    return usd["available"]


async def assert_whole_balance_withdrawn_once(client, runtime, member, responses, problem) -> None:
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: len(responses) - 1}, [r.text for r in responses if r.status_code >= 500]
    for response in responses:
        if response.status_code == 409:
            body = problem(response, 409, "insufficient_funds")
            assert body["detail"] == "your available balance is 0.00 USD; this needs 25.00 USD"
    assert await available_shown(client, member) == "0.00"
    assert await Withdrawal.count() == 1
    assert await ledger.balance_of(ledger.clearing("testpay"), "USD") == 2500
    assert await LedgerTransaction.count() == 2  # the funding and one withdrawal
    assert await ledger.check_ledger() == []


@pytest.mark.postgres_only("concurrency is proven on PostgreSQL")
async def test_concurrent_whole_balance_withdrawals_succeed_once(client, runtime, make_member, problem):
    member = await make_member()
    await fund(runtime, ledger.available(member.id), 2500)
    responses = await asyncio.gather(*(withdraw(client, member, "25.00") for _ in range(50)))
    await assert_whole_balance_withdrawn_once(client, runtime, member, responses, problem)


async def test_concurrent_whole_balance_withdrawals_on_sqlite(client, runtime, make_member, db_kind, problem):
    if db_kind != "sqlite":
        pytest.skip("this shows the embedded SQLite default; PostgreSQL has its own test")
    member = await make_member()
    await fund(runtime, ledger.available(member.id), 2500)
    responses = await asyncio.gather(*(withdraw(client, member, "25.00") for _ in range(10)))
    await assert_whole_balance_withdrawn_once(client, runtime, member, responses, problem)


@pytest.mark.postgres_only("concurrency is proven on PostgreSQL")
async def test_concurrent_replays_of_one_idempotency_key_withdraw_once(client, runtime, make_member):
    member = await make_member()
    await fund(runtime, ledger.available(member.id), 10000)
    responses = await asyncio.gather(
        *(withdraw(client, member, "10.00", **{"Idempotency-Key": "withdraw-10-once"}) for _ in range(20))
    )
    assert Counter(r.status_code for r in responses) == {201: 1, 200: 19}, [r.text for r in responses]
    assert {r.json()["id"] for r in responses} == {(await Withdrawal.select(Withdrawal.id).first())["id"]}
    assert all(r.headers.get("Idempotent-Replayed") == "true" for r in responses if r.status_code == 200)
    assert await Withdrawal.count() == 1
    assert await available_shown(client, member) == "90.00"
    assert await ledger.check_ledger() == []


@pytest.mark.postgres_only("concurrency is proven on PostgreSQL")
async def test_concurrent_escrow_payments_from_balance(runtime, make_member):
    """Two members, each with just enough for one payment, each try five at once.

    (Escrows are funded by the order services, which call ``start_payment``; each call
    below is its own task and unit of work, as concurrent requests would be.)
    """
    first, second = await make_member(), await make_member()
    await fund(runtime, ledger.credit(first.id), 100)  # 1.00 credit + 2.00 available
    await fund(runtime, ledger.available(first.id), 200)
    await fund(runtime, ledger.available(second.id), 300)

    def pay(member, n: int):
        return payments.start_payment(
            runtime,
            payer_id=member.id,
            method="balance",
            amount=300,
            currency="USD",
            purpose="escrow",
            escrow_ref=f"order:{member.id}0{n}",
            seller_id=99,
        )

    results = await asyncio.gather(
        *(pay(member, n) for n in range(5) for member in (first, second)), return_exceptions=True
    )
    paid = [r[0] for r in results if isinstance(r, tuple)]
    refused = [r for r in results if not isinstance(r, tuple)]
    assert sorted(p.payer_id for p in paid) == [first.id, second.id], results
    assert all(isinstance(r, ledger.InsufficientFunds) for r in refused), refused
    assert len(refused) == 8
    by_payer = {p.payer_id: p for p in paid}
    assert by_payer[first.id].details == {"from_credit": 100, "from_available": 200}
    assert by_payer[second.id].details == {"from_credit": 0, "from_available": 300}
    for member in (first, second):
        assert await ledger.balance_of(ledger.credit(member.id), "USD") == 0
        assert await ledger.balance_of(ledger.available(member.id), "USD") == 0
        assert await ledger.balance_of(ledger.escrow(by_payer[member.id].escrow_ref), "USD") == 300
    assert await Payment.count() == 2  # refused payments left no row behind
    assert await ledger.check_ledger() == []


@pytest.mark.postgres_only("concurrency is proven on PostgreSQL")
async def test_concurrent_payments_that_fit_all_succeed(runtime, make_member):
    """Five 1.00 payments at once from 1.00 credit + 10.00 available: every one fits."""
    member = await make_member()
    await fund(runtime, ledger.credit(member.id), 100)
    await fund(runtime, ledger.available(member.id), 1000)
    results = await asyncio.gather(
        *(
            payments.start_payment(
                runtime,
                payer_id=member.id,
                method="balance",
                amount=100,
                currency="USD",
                purpose="escrow",
                escrow_ref=f"order:{n}",
                seller_id=99,
            )
            for n in range(5)
        ),
        return_exceptions=True,
    )
    assert all(isinstance(r, tuple) and r[0].status == "completed" for r in results), results
    assert await ledger.balance_of(ledger.credit(member.id), "USD") == 0
    assert await ledger.balance_of(ledger.available(member.id), "USD") == 600
    assert sorted(r[0].details["from_credit"] for r in results) == [0, 0, 0, 0, 100]
    assert await ledger.check_ledger() == []


@pytest.mark.postgres_only("concurrency is proven on PostgreSQL")
async def test_concurrent_transfers_never_lose_an_update(runtime):
    a, b = ledger.available(1), ledger.available(2)
    await fund(runtime, a, 10000)
    await fund(runtime, b, 10000)

    async def transfer(key: str, source: str, target: str, amount: int) -> None:
        async with runtime.unit_of_work() as uow:
            await ledger.post(
                uow,
                key=key,
                kind="test_transfer",
                description=key,
                lines=ledger.move(source, target, amount, "USD"),
            )

    # Both directions at once: the fixed lock order keeps them free of deadlocks.
    to_b = [transfer(f"a-to-b:{n}", a, b, 100 + n) for n in range(30)]
    to_a = [transfer(f"b-to-a:{n}", b, a, 50 + n) for n in range(15)]
    results = await asyncio.gather(*to_b, *to_a, return_exceptions=True)
    assert [r for r in results if r is not None] == []
    sent = sum(100 + n for n in range(30))
    returned = sum(50 + n for n in range(15))
    assert await ledger.balance_of(a, "USD") == 10000 - sent + returned
    assert await ledger.balance_of(b, "USD") == 10000 + sent - returned
    # Each entry's balance_after is the one before it plus its amount: no update lost.
    for account in (a, b):
        entries = await (
            LedgerEntry.select(LedgerEntry.amount, LedgerEntry.balance_after)
            .where(LedgerEntry.account.name == account)
            .order_by(LedgerEntry.id)
        )
        assert len(entries) == 46
        balance = 0
        for entry in entries:
            balance += entry["amount"]
            assert entry["balance_after"] == balance
    assert await ledger.check_ledger() == []


@pytest.mark.postgres_only("concurrency is proven on PostgreSQL")
async def test_concurrent_cancellations_return_the_money_once(client, runtime, make_member, problem):
    member = await make_member()
    await fund(runtime, ledger.available(member.id), 2500)
    created = await withdraw(client, member, "25.00")
    assert created.status_code == 201, created.text
    withdrawal_id = created.json()["id"]

    responses = await asyncio.gather(
        *(client.post(f"/withdrawals/{withdrawal_id}/cancel", headers=member.headers) for _ in range(20))
    )
    assert Counter(r.status_code for r in responses) == {200: 1, 409: 19}
    for response in responses:
        if response.status_code == 409:
            problem(response, 409, "conflict")
    assert await available_shown(client, member) == "25.00"
    assert await ledger.balance_of(ledger.clearing("testpay"), "USD") == 0
    assert await ledger.check_ledger() == []


@pytest.mark.postgres_only("concurrency is proven on PostgreSQL")
async def test_concurrent_complete_and_fail_settle_a_withdrawal_once(client, runtime, make_member, problem):
    member, operator = await make_member(), await make_member(role="operator")
    await fund(runtime, ledger.available(member.id), 2500)
    created = await withdraw(client, member, "25.00")
    withdrawal_id = created.json()["id"]
    async with runtime.unit_of_work() as uow:
        await withdrawals.mark_processing(uow, [withdrawal_id], batch_ref="batch-1")

    path = f"/operator/withdrawals/{withdrawal_id}"
    calls = [client.post(f"{path}/complete", json={}, headers=operator.headers) for _ in range(10)]
    calls += [
        client.post(f"{path}/fail", json={"reason": "bounced"}, headers=operator.headers) for _ in range(10)
    ]
    responses = await asyncio.gather(*calls)
    assert Counter(r.status_code for r in responses) == {200: 1, 409: 19}
    (winner,) = [r.json() for r in responses if r.status_code == 200]
    if winner["status"] == "completed":
        expected = ("0.00", 0, 2500)  # paid out: external:testpay rises as money leaves
    else:
        assert winner["status"] == "failed"
        expected = ("25.00", 0, 0)  # back in the member's balance
    assert (
        await available_shown(client, member),
        await ledger.balance_of(ledger.clearing("testpay"), "USD"),
        await ledger.balance_of(ledger.external("testpay"), "USD"),
    ) == expected
    assert await ledger.check_ledger() == []
