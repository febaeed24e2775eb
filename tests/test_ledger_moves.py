"""A posting moves its accounts in one statement (``agorakit.money.moves``), on both
engines: accounts opened by their first posting, a debit of an account that does not
exist refused and nothing opened, no account id drawn for an account that exists, an
escrow's parties written with its first move, and one statement for the posting on
PostgreSQL (two on SQLite: its transaction, then its legs through a view)."""

from __future__ import annotations

import asyncio

import pytest
from test_ledger import OUTSIDE, balances, fund, post

from agorakit.money import ledger
from agorakit.money.tables import LedgerAccount, LedgerEntry

C = ledger.credit(7)
ESCROW = ledger.escrow("order:70")


async def accounts() -> dict[str, dict]:
    return {row["name"]: row for row in await LedgerAccount.select()}


async def test_a_posting_opens_the_accounts_it_moves_first(runtime):
    await fund(runtime, C, 500)
    found = await accounts()
    assert (found[C]["kind"], found[C]["balance"], found[C]["member_id"], found[C]["allow_negative"]) == (
        "credit",
        500,
        7,
        False,
    )
    assert found[OUTSIDE]["allow_negative"] and found[OUTSIDE]["balance"] == -500
    entries = await LedgerEntry.select(
        LedgerEntry.account.name, LedgerEntry.amount, LedgerEntry.balance_after
    )
    assert sorted((e["account.name"], e["amount"], e["balance_after"]) for e in entries) == [
        (OUTSIDE, -500, -500),
        (C, 500, 500),
    ]


async def test_a_debit_of_an_account_that_does_not_exist_is_refused_and_opens_nothing(runtime, problem):
    with pytest.raises(ledger.InsufficientFunds) as refused:
        await post(runtime, "nothing-there", ledger.move(C, ESCROW, 300, "USD"))
    assert refused.value.extra["balance"] == "0.00" and refused.value.extra["needed"] == "3.00"
    assert await accounts() == {}


async def test_moving_accounts_that_exist_draws_no_account_id(runtime):
    await fund(runtime, C, 1_000)
    for n in range(5):
        await post(runtime, f"round:{n}", ledger.move(C, ESCROW, 10, "USD"))
        await post(runtime, f"back:{n}", ledger.move(ESCROW, C, 10, "USD"))
    await fund(runtime, ledger.available(8), 100)
    found = await accounts()
    # OUTSIDE, C, the escrow, then the available balance: the ids of their creation, no gap
    assert sorted(row["id"] for row in found.values()) == list(range(1, 5))
    assert await balances() == {
        (OUTSIDE, "USD"): -1_100,
        (C, "USD"): 1_000,
        (ESCROW, "USD"): 0,
        (ledger.available(8), "USD"): 100,
    }


async def test_an_escrows_parties_ride_with_its_first_move(runtime):
    await fund(runtime, C, 500)
    async with runtime.unit_of_work() as uow:
        ledger.set_escrow_parties(uow, "order:70", "USD", buyer_id=7, seller_id=9)
        await ledger.post(
            uow, key="pay:70", kind="test", description="pay", lines=ledger.move(C, ESCROW, 500, "USD")
        )
    escrow = (await accounts())[ESCROW]
    assert (escrow["buyer_id"], escrow["seller_id"], escrow["balance"]) == (7, 9, 500)
    async with runtime.unit_of_work() as uow:  # nothing moves it: written just before the commit
        ledger.set_escrow_parties(uow, "order:71", "USD", buyer_id=7, seller_id=None)
    other = (await accounts())[ledger.escrow("order:71")]
    assert (other["buyer_id"], other["seller_id"], other["balance"], other["kind"]) == (7, None, 0, "escrow")


async def test_a_posting_is_one_statement_on_postgresql(runtime, db_kind):
    await fund(runtime, C, 500)
    engine = LedgerAccount._meta.db
    seen: list[str] = []
    run = type(engine).run_querystring

    async def recording(self, querystring, in_pool=True):
        seen.append(querystring.compile_string(engine_type=self.engine_type)[0])
        return await run(self, querystring, in_pool=in_pool)

    from unittest import mock

    with mock.patch.object(type(engine), "run_querystring", recording):
        await post(runtime, "one", ledger.move(C, ESCROW, 200, "USD"))
    # PostgreSQL: the transaction, the accounts and the entries together; SQLite: the
    # transaction, then the legs through the view core_ledger_leg (its trigger moves each
    # account, opening the escrow, and writes its entry)
    assert len(seen) == (1 if db_kind == "postgres" else 2), seen
    assert db_kind == "postgres" or "INSERT INTO core_ledger_leg" in seen[1]
    assert await balances() == {(OUTSIDE, "USD"): -500, (C, "USD"): 300, (ESCROW, "USD"): 200}
    entries = await LedgerEntry.select(
        LedgerEntry.account.name, LedgerEntry.amount, LedgerEntry.balance_after
    ).order_by(LedgerEntry.id)
    assert [tuple(e.values()) for e in entries[-2:]] == [(C, -200, 300), (ESCROW, 200, 200)]


@pytest.mark.postgres_only("concurrency is proven on PostgreSQL")
@pytest.mark.parametrize("site_config", [{"database": {"pool_max_size": 20}}])
async def test_postings_that_open_one_account_at_once_all_move_it(runtime):
    """Ten first postings to the same new account at once: one opens it, the others wait
    for it and move it, nobody is refused."""
    await fund(runtime, C, 1_000)
    results = await asyncio.gather(
        *(post(runtime, f"open:{n}", ledger.move(C, ESCROW, 10, "USD")) for n in range(10)),
        return_exceptions=True,
    )
    assert all(isinstance(r, ledger.Posting) and r.created for r in results), results
    assert await LedgerAccount.count().where(LedgerAccount.name == ESCROW) == 1
    assert await balances() == {(OUTSIDE, "USD"): -1_000, (C, "USD"): 900, (ESCROW, "USD"): 100}
    assert await ledger.check_ledger() == []
