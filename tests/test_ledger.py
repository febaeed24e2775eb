"""The double-entry ledger, on SQLite and PostgreSQL.

Service-level tests of :func:`agorakit.money.ledger.post`: balanced postings, refused
postings that write nothing, idempotency keys, accounts that may not go negative, the
rules the database itself enforces (raw SQL), ``check_ledger`` and the withdrawal veto
hook.
"""

from __future__ import annotations

import itertools
import re
import sqlite3
from typing import Any

import pytest
from money_helpers import ManualPayoutPlugin

import agorakit
from agorakit.money import ledger
from agorakit.money.tables import LedgerAccount, LedgerEntry, LedgerTransaction, Withdrawal

try:
    import asyncpg
except ImportError:  # pragma: no cover - PostgreSQL tests skip without the driver
    asyncpg = None

A = ledger.available(1)
B = ledger.available(2)
OUTSIDE = ledger.external("test")
_funding = itertools.count(1)


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


async def fund(runtime, account: str, amount: int, currency: str = "USD", *, key: str | None = None):
    """Bring ``amount`` in from the outside world to ``account``."""
    async with runtime.unit_of_work() as uow:
        return await ledger.post(
            uow,
            key=key or f"fund:{next(_funding)}",
            kind="test_funding",
            description="test funding",
            lines=ledger.move(OUTSIDE, account, amount, currency),
        )


async def post(runtime, key: str, lines: list[ledger.Line], kind: str = "test_transfer"):
    async with runtime.unit_of_work() as uow:
        return await ledger.post(uow, key=key, kind=kind, description=f"test {key}", lines=lines)


async def balances() -> dict[tuple[str, str], int]:
    rows = await LedgerAccount.select(LedgerAccount.name, LedgerAccount.currency, LedgerAccount.balance)
    return {(r["name"], r["currency"]): r["balance"] for r in rows}


async def counts() -> tuple[int, int, int]:
    """(transactions, entries, accounts) rows in the ledger."""
    return await LedgerTransaction.count(), await LedgerEntry.count(), await LedgerAccount.count()


def refused_by_database(db_kind: str) -> tuple[type[BaseException], ...]:
    """The exceptions a refused statement raises on this engine."""
    if db_kind == "postgres":
        return (asyncpg.PostgresError,)
    return (sqlite3.IntegrityError,)


PAYOUT_CONFIG = {"money": {"payout_methods": ["testpay"]}}


# --------------------------------------------------------------------------------------
# Postings
# --------------------------------------------------------------------------------------


async def test_balanced_posting_moves_money_and_updates_balances(runtime, clock):
    first = await fund(runtime, A, 1000, key="fund-a")
    assert first.created and first.kind == "test_funding" and first.idempotency_key == "fund-a"

    second = await post(runtime, "a-to-b", ledger.move(A, B, 250, "USD"))
    assert second.created and second.transaction_id != first.transaction_id

    assert await balances() == {(OUTSIDE, "USD"): -1000, (A, "USD"): 750, (B, "USD"): 250}
    assert await ledger.balance_of(A, "USD") == 750
    assert await ledger.balance_of(B, "USD") == 250
    assert await ledger.balance_of(ledger.available(99), "USD") == 0  # no account yet

    entries = await LedgerEntry.select(
        LedgerEntry.transaction,
        LedgerEntry.account.name,
        LedgerEntry.amount,
        LedgerEntry.currency,
        LedgerEntry.balance_after,
        LedgerEntry.created_at,
    ).order_by(LedgerEntry.id)
    assert [
        (e["transaction"], e["account.name"], e["amount"], e["currency"], e["balance_after"]) for e in entries
    ] == [
        (first.transaction_id, OUTSIDE, -1000, "USD", -1000),
        (first.transaction_id, A, 1000, "USD", 1000),
        (second.transaction_id, A, -250, "USD", 750),
        (second.transaction_id, B, 250, "USD", 250),
    ]
    assert {e["created_at"] for e in entries} == {clock.now()}

    accounts = {
        r["name"]: r
        for r in await LedgerAccount.select(
            LedgerAccount.name, LedgerAccount.kind, LedgerAccount.allow_negative, LedgerAccount.member_id
        )
    }
    assert accounts[A] == {"name": A, "kind": "available", "allow_negative": False, "member_id": 1}
    assert accounts[OUTSIDE] == {
        "name": OUTSIDE,
        "kind": "external",
        "allow_negative": True,
        "member_id": None,
    }

    transaction = (
        await LedgerTransaction.select().where(LedgerTransaction.id == second.transaction_id).first()
    )
    assert transaction["kind"] == "test_transfer"
    assert transaction["description"] == "test a-to-b"
    assert await ledger.check_ledger() == []


async def test_posting_with_several_lines_nets_each_account(runtime):
    await fund(runtime, A, 1000)
    # A pays 6.00 split between B and the platform, written as three separate lines.
    lines = [
        ledger.Line(A, -400, "USD"),
        ledger.Line(A, -200, "USD"),
        ledger.Line(B, 480, "USD"),
        ledger.Line(ledger.PLATFORM_FEES, 120, "USD"),
    ]
    posting = await post(runtime, "split", lines)
    rows = await LedgerEntry.select(LedgerEntry.account.name, LedgerEntry.amount).where(
        LedgerEntry.transaction == posting.transaction_id
    )
    assert sorted((r["account.name"], r["amount"]) for r in rows) == [
        (A, -600),  # one entry per account: the lines are netted
        (B, 480),
        (ledger.PLATFORM_FEES, 120),
    ]
    assert (await balances())[(A, "USD")] == 400
    assert await ledger.check_ledger() == []


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([ledger.Line(A, -100, "USD"), ledger.Line(B, 99, "USD")], "unbalanced posting"),
        ([ledger.Line(A, 100, "USD"), ledger.Line(B, 100, "USD")], "unbalanced posting"),
        ([ledger.Line(B, 100, "USD")], "unbalanced posting"),  # one line never balances
        ([ledger.Line(B, 0, "USD")], "at least two accounts"),  # ... not even a zero one
        ([ledger.Line(B, 100, "USD"), ledger.Line(B, -100, "USD")], "at least two accounts"),
        ([], "at least two accounts"),
        # Sums to zero overall, but not per currency.
        ([ledger.Line(A, -100, "USD"), ledger.Line(B, 100, "EUR")], "unbalanced posting"),
        ([ledger.Line(A, -100, "USD"), ledger.Line(B, 100.0, "USD")], "integers of minor units"),
        ([ledger.Line(A, -True, "USD"), ledger.Line(B, True, "USD")], "integers of minor units"),
        ([ledger.Line("member:x:available", -1, "USD"), ledger.Line(B, 1, "USD")], "not a ledger account"),
        ([ledger.Line("bank", -1, "USD"), ledger.Line(B, 1, "USD")], "not a ledger account"),
    ],
)
async def test_bad_posting_raises_ledger_error_and_writes_nothing(runtime, lines, message):
    await fund(runtime, A, 1000)
    before_counts, before_balances = await counts(), await balances()
    with pytest.raises(ledger.LedgerError, match=message):
        await post(runtime, "bad", lines)
    assert await counts() == before_counts
    assert await balances() == before_balances
    assert await LedgerTransaction.exists().where(LedgerTransaction.idempotency_key == "bad") is False


async def test_mixed_currencies_balance_per_currency(runtime):
    await fund(runtime, A, 1000, "USD")
    await fund(runtime, A, 700, "EUR")
    # One posting moving USD and EUR: each currency sums to zero on its own.
    lines = ledger.move(A, B, 300, "USD") + ledger.move(A, B, 200, "EUR")
    posting = await post(runtime, "two-currencies", lines)
    assert posting.created
    assert await balances() == {
        (OUTSIDE, "USD"): -1000,
        (OUTSIDE, "EUR"): -700,
        (A, "USD"): 700,
        (A, "EUR"): 500,
        (B, "USD"): 300,
        (B, "EUR"): 200,
    }
    # An account is per currency: EUR money does not cover a USD debt.
    with pytest.raises(ledger.InsufficientFunds):
        await post(runtime, "too-many-dollars", ledger.move(B, A, 301, "USD"))
    assert await ledger.check_ledger() == []


async def test_same_idempotency_key_posts_once(runtime):
    await fund(runtime, A, 1000)
    lines = ledger.move(A, B, 300, "USD")
    first = await post(runtime, "pay-b-once", lines)
    before_counts, before_balances = await counts(), await balances()

    again = await post(runtime, "pay-b-once", lines, kind="another_kind")
    assert again.created is False
    assert again.transaction_id == first.transaction_id
    assert again.kind == "test_transfer"  # the first posting's
    assert await counts() == before_counts
    assert await balances() == before_balances == {(OUTSIDE, "USD"): -1000, (A, "USD"): 700, (B, "USD"): 300}

    # The same movement written as different lines is still the same posting.
    split = [ledger.Line(A, -100, "USD"), ledger.Line(A, -200, "USD"), ledger.Line(B, 300, "USD")]
    assert (await post(runtime, "pay-b-once", split)).created is False
    assert await balances() == before_balances


async def test_concurrent_postings_with_one_key_move_the_money_once(runtime):
    """On PostgreSQL the second insert of the key waits for the first transaction, then
    finds its posting: one is created, the others are answered with it."""
    import asyncio

    await fund(runtime, A, 1000)
    results = await asyncio.gather(
        *(post(runtime, "pay-b-race", ledger.move(A, B, 300, "USD")) for _ in range(6))
    )
    assert sorted(r.created for r in results) == [False] * 5 + [True]
    assert len({r.transaction_id for r in results}) == 1
    assert await balances() == {(OUTSIDE, "USD"): -1000, (A, "USD"): 700, (B, "USD"): 300}
    assert await ledger.check_ledger() == []


FEES = ledger.PLATFORM_FEES


async def post_in(uow, key: str, lines: list[ledger.Line]) -> ledger.Posting:
    """One posting inside the caller's unit of work."""
    return await ledger.post(uow, key=key, kind="test_transfer", description=f"test {key}", lines=lines)


async def fee_entries() -> list[tuple[int, int]]:
    """The fee account's entries in the order they were written: (amount, balance after)."""
    rows = (
        await LedgerEntry.select(LedgerEntry.amount, LedgerEntry.balance_after)
        .where(LedgerEntry.account.name == FEES)
        .order_by(LedgerEntry.id)
    )
    return [(r["amount"], r["balance_after"]) for r in rows]


async def test_credits_to_the_fee_account_are_whole_at_commit_and_seen_by_a_debit(runtime):
    """On PostgreSQL the fee account's credits move its balance just before the commit
    (one update for the transaction); each entry still gets the balance after it, a debit
    in the same transaction sees the credits before it, and a key posted again in the
    transaction is found."""
    await fund(runtime, A, 1000)
    await post(runtime, "fee-first", ledger.move(A, FEES, 10, "USD"))
    async with runtime.unit_of_work() as uow:
        for n, amount in enumerate((20, 30, 40)):
            await post_in(uow, f"fee-{n}", ledger.move(A, FEES, amount, "USD"))
        # The fee account held 10 before: only the pending credits make this refund possible.
        await post_in(uow, "refund", ledger.move(FEES, B, 95, "USD"))
        await post_in(uow, "fee-3", ledger.move(A, FEES, 50, "USD"))
        again = await post_in(uow, "fee-3", ledger.move(A, FEES, 50, "USD"))
        assert again.created is False
    assert await fee_entries() == [(10, 10), (20, 30), (30, 60), (40, 100), (-95, 5), (50, 55)]
    assert (await balances())[(FEES, "USD")] == 55
    assert await ledger.check_ledger() == []


async def test_a_refused_debit_of_the_fee_account_moves_nothing_of_its_transaction(runtime):
    await fund(runtime, A, 1000)
    with pytest.raises(ledger.InsufficientFunds):
        async with runtime.unit_of_work() as uow:
            await post_in(uow, "fee-a", ledger.move(A, FEES, 20, "USD"))
            await post_in(uow, "too-much", ledger.move(FEES, B, 21, "USD"))
    assert await fee_entries() == []
    assert await balances() == {(OUTSIDE, "USD"): -1000, (A, "USD"): 1000}  # even the new accounts are gone
    assert await ledger.check_ledger() == []


async def test_a_savepoint_rolled_back_keeps_the_credits_from_before_it(runtime):
    """A worker batch fires each timer in a savepoint: a timer that fails takes back its
    own credits, and a debit it made (which applied the credits pending before it) is
    undone without losing those."""
    await fund(runtime, A, 1000)
    async with runtime.unit_of_work() as uow:
        await post_in(uow, "kept", ledger.move(A, FEES, 40, "USD"))
        mark = uow.mark()
        with pytest.raises(RuntimeError):
            async with runtime.db.savepoint():
                await post_in(uow, "undone", ledger.move(A, FEES, 7, "USD"))
                await post_in(uow, "refund", ledger.move(FEES, B, 30, "USD"))
                raise RuntimeError("the timer failed")
        uow.cut_back(mark)
        await post_in(uow, "after", ledger.move(A, FEES, 5, "USD"))
    assert await fee_entries() == [(40, 40), (5, 45)]
    assert await balances() == {(OUTSIDE, "USD"): -1000, (A, "USD"): 955, (FEES, "USD"): 45}
    assert await ledger.check_ledger() == []


@pytest.mark.postgres_only("the fee account's credits are deferred to the commit on PostgreSQL only")
async def test_concurrent_transactions_credit_the_fee_account_in_a_consistent_chain(runtime):
    """Twenty transactions at once, each crediting the fee account twice: every credit
    counts, and the entries read in id order add up, each to the balance after it."""
    import asyncio

    await fund(runtime, A, 100_000)

    async def pay_fees(n: int) -> None:
        async with runtime.unit_of_work() as uow:
            for part in (1, 2):
                await post_in(uow, f"fees-{n}-{part}", ledger.move(A, FEES, n + part, "USD"))
            await asyncio.sleep(0.001 * (n % 3))  # commits interleave with other transactions' postings

    await asyncio.gather(*(pay_fees(n) for n in range(20)))
    entries = await fee_entries()
    assert len(entries) == 40
    running = 0
    for amount, balance_after in entries:
        running += amount
        assert balance_after == running
    assert running == sum(n + part for n in range(20) for part in (1, 2)) == (await balances())[(FEES, "USD")]
    assert await ledger.check_ledger() == []


# --------------------------------------------------------------------------------------
# Several postings at once (post_many: the worker's sets of timers)
# --------------------------------------------------------------------------------------


def new_posting(key: str, lines: list[ledger.Line]) -> ledger.NewPosting:
    return ledger.NewPosting(key=key, kind="test_transfer", description=f"test {key}", lines=lines)


def chain(a: str, b: str, c: str) -> list[ledger.NewPosting]:
    """Postings that move the same accounts one after another, one of them two lines."""
    return [
        new_posting(f"{a}-1", ledger.move(a, b, 300, "USD")),
        new_posting(f"{a}-2", ledger.move(b, c, 100, "USD")),
        new_posting(f"{a}-3", ledger.move(a, c, 200, "USD") + ledger.move(a, b, 50, "USD")),
        new_posting(f"{a}-4", ledger.move(c, a, 25, "USD")),
    ]


async def entries_of(prefix: str) -> list[tuple[str, str, int, int]]:
    """(posting key, account, amount, balance after) of the postings keyed ``prefix-*``, in id order."""
    rows = (
        await LedgerEntry.select(
            LedgerEntry.transaction.idempotency_key,
            LedgerEntry.account.name,
            LedgerEntry.amount,
            LedgerEntry.balance_after,
        )
        .where(LedgerEntry.transaction.idempotency_key.like(f"{prefix}-%"))
        .order_by(LedgerEntry.id)
    )
    return [tuple(row.values()) for row in rows]


async def test_post_many_writes_what_post_writes_one_after_another(runtime):
    a, b, c = ledger.available(1), ledger.available(2), ledger.credit(3)
    x, y, z = ledger.available(11), ledger.available(12), ledger.credit(13)
    await fund(runtime, a, 1000)
    await fund(runtime, x, 1000)
    async with runtime.unit_of_work() as uow:
        made = await ledger.post_many(uow, chain(a, b, c))
    assert [(p.idempotency_key, p.created) for p in made] == [(f"{a}-{n}", True) for n in (1, 2, 3, 4)]
    async with runtime.unit_of_work() as uow:
        for posting in chain(x, y, z):
            await ledger.post_one(uow, posting)
    # Within a posting, entries go in account order (a, then b, then c: opened in that order).
    assert await entries_of(a) == [
        (f"{a}-1", a, -300, 700),
        (f"{a}-1", b, 300, 300),
        (f"{a}-2", b, -100, 200),
        (f"{a}-2", c, 100, 100),
        (f"{a}-3", a, -250, 450),
        (f"{a}-3", b, 50, 250),
        (f"{a}-3", c, 200, 300),
        (f"{a}-4", a, 25, 475),
        (f"{a}-4", c, -25, 275),
    ]
    mirrored = {x: a, y: b, z: c}
    assert [
        (key.replace(x, a), mirrored[name], amount, after) for key, name, amount, after in await entries_of(x)
    ] == await entries_of(a)
    found = await balances()
    assert [found[(n, "USD")] for n in (a, b, c)] == [475, 250, 275] == [found[(n, "USD")] for n in (x, y, z)]
    assert await ledger.check_ledger() == []


async def test_post_many_refuses_at_the_posting_that_overdraws_and_writes_nothing(runtime):
    """The second posting would take A below zero after the first: the same refusal as
    post() one after another gives, and nothing of either is kept."""
    await fund(runtime, A, 100)
    before_counts, before_balances = await counts(), await balances()
    postings = [
        new_posting("first", ledger.move(A, B, 70, "USD")),
        new_posting("second", ledger.move(A, ledger.credit(3), 50, "USD")),
    ]
    with pytest.raises(ledger.InsufficientFunds) as many:
        async with runtime.unit_of_work() as uow:
            await ledger.post_many(uow, postings)
    with pytest.raises(ledger.InsufficientFunds) as one_by_one:
        async with runtime.unit_of_work() as uow:
            for posting in postings:
                await ledger.post_one(uow, posting)
    assert (
        many.value.detail
        == one_by_one.value.detail
        == ("your available balance is 0.30 USD; this needs 0.50 USD")
    )
    assert many.value.extra == one_by_one.value.extra
    assert await counts() == before_counts
    assert await balances() == before_balances


async def test_post_many_replays_known_keys_and_refuses_a_key_used_for_other_lines(runtime):
    await fund(runtime, A, 1000)
    await post(runtime, "known", ledger.move(A, B, 10, "USD"))
    async with runtime.unit_of_work() as uow:
        made = await ledger.post_many(
            uow,
            [
                new_posting("known", ledger.move(A, B, 10, "USD")),
                new_posting("new", ledger.move(A, B, 5, "USD")),
                new_posting("new", ledger.move(A, B, 5, "USD")),  # twice in one call: once
            ],
        )
    assert [(p.idempotency_key, p.created) for p in made] == [("known", False), ("new", True), ("new", False)]
    assert (await balances())[(B, "USD")] == 15
    before_counts, before_balances = await counts(), await balances()
    with pytest.raises(ledger.LedgerError, match="'known' was already used for a different posting"):
        async with runtime.unit_of_work() as uow:
            await ledger.post_many(
                uow,
                [
                    new_posting("other", ledger.move(A, B, 1, "USD")),
                    new_posting("known", ledger.move(A, B, 11, "USD")),
                ],
            )
    assert await counts() == before_counts
    assert await balances() == before_balances
    assert await ledger.check_ledger() == []


async def test_post_many_credits_the_fee_account_as_post_does(runtime, db_kind):
    """Credits to the fee account join the transaction's pending ones (PostgreSQL) and get
    the balance after each; a debit of it is left to post() there."""
    await fund(runtime, A, 1000)
    async with runtime.unit_of_work() as uow:
        await post_in(uow, "fee-0", ledger.move(A, FEES, 5, "USD"))
        await ledger.post_many(
            uow,
            [
                new_posting("fee-1", ledger.move(A, FEES, 10, "USD")),
                new_posting("fee-2", ledger.move(A, FEES, 20, "USD") + ledger.move(A, B, 1, "USD")),
            ],
        )
    assert await fee_entries() == [(5, 5), (10, 15), (20, 35)]
    refund = [new_posting("refund", ledger.move(FEES, B, 30, "USD"))]
    if db_kind == "postgres":
        with pytest.raises(
            ledger.LedgerError, match="post_many does not debit platform:fees; post\\(\\) does"
        ):
            async with runtime.unit_of_work() as uow:
                await ledger.post_many(uow, refund)
    else:  # SQLite moves every account at once, the fee account too
        async with runtime.unit_of_work() as uow:
            await ledger.post_many(uow, refund)
        assert await fee_entries() == [(5, 5), (10, 15), (20, 35), (-30, 5)]
    assert await ledger.check_ledger() == []


@pytest.mark.parametrize(
    "lines",
    [
        ledger.move(A, B, 301, "USD"),  # another amount
        ledger.move(A, ledger.credit(2), 300, "USD"),  # another account
        ledger.move(A, B, 300, "EUR"),  # another currency
        ledger.move(B, A, 300, "USD"),  # the other direction
    ],
)
async def test_same_idempotency_key_with_other_lines_is_an_error(runtime, lines):
    await fund(runtime, A, 1000)
    await fund(runtime, B, 1000)
    await post(runtime, "pay-b", ledger.move(A, B, 300, "USD"))
    before_counts, before_balances = await counts(), await balances()
    with pytest.raises(ledger.LedgerError, match="already used for a different posting"):
        await post(runtime, "pay-b", lines)
    assert await counts() == before_counts
    assert await balances() == before_balances


@pytest.mark.parametrize("account", [ledger.available(1), ledger.credit(1)])
async def test_member_account_cannot_go_negative(runtime, problem, account):
    await fund(runtime, account, 500)
    before_counts, before_balances = await counts(), await balances()

    with pytest.raises(ledger.InsufficientFunds) as refused:
        await post(runtime, "overdraw", ledger.move(account, B, 501, "USD"))
    error = refused.value
    assert error.status == 409
    assert error.code == "insufficient_funds"
    what = "available balance" if account.endswith("available") else "credit balance"
    assert error.detail == f"your {what} is 5.00 USD; this needs 5.01 USD"
    kind = "available" if account.endswith("available") else "credit"
    assert error.extra == {"account": kind, "balance": "5.00", "needed": "5.01", "currency": "USD"}
    # The transaction row written before the refused update was rolled back with it.
    assert await counts() == before_counts
    assert await balances() == before_balances
    assert await LedgerTransaction.exists().where(LedgerTransaction.idempotency_key == "overdraw") is False

    # The whole balance can go, to exactly zero.
    await post(runtime, "all-of-it", ledger.move(account, B, 500, "USD"))
    assert await ledger.balance_of(account, "USD") == 0
    with pytest.raises(ledger.InsufficientFunds):
        await post(runtime, "one-more-cent", ledger.move(account, B, 1, "USD"))
    assert await ledger.check_ledger() == []


async def test_account_without_money_cannot_pay(runtime):
    before = await counts()
    with pytest.raises(ledger.InsufficientFunds) as refused:
        await post(runtime, "from-nothing", ledger.move(ledger.available(7), B, 1, "USD"))
    assert refused.value.detail == "your available balance is 0.00 USD; this needs 0.01 USD"
    assert await counts() == before  # not even the accounts were created


async def test_refused_line_rolls_back_the_lines_already_applied(runtime):
    await fund(runtime, A, 1000)  # A's account is older, so it is updated first
    await fund(runtime, B, 100)
    before_counts, before_balances = await counts(), await balances()
    lines = [
        ledger.Line(A, -500, "USD"),  # fits
        ledger.Line(B, -200, "USD"),  # does not
        ledger.Line(ledger.PLATFORM_FEES, 700, "USD"),
    ]
    with pytest.raises(ledger.InsufficientFunds, match=r"this needs 2\.00 USD"):
        await post(runtime, "half-fits", lines)
    assert await counts() == before_counts
    assert await balances() == before_balances


async def test_external_and_other_accounts(runtime):
    # external:* is the outside world: it goes negative as money comes in.
    await fund(runtime, A, 1000)
    assert await ledger.balance_of(OUTSIDE, "USD") == -1000
    await post(runtime, "more", ledger.move(ledger.external("paypal"), B, 1, "USD"))
    assert await ledger.balance_of(ledger.external("paypal"), "USD") == -1
    # Every other account kind may not.
    for n, account in enumerate(
        [
            ledger.escrow("order:1"),
            ledger.PLATFORM_FEES,
            ledger.clearing("testpay"),
            ledger.VOUCHERS_OUTSTANDING,
        ]
    ):
        words = ledger.account_in_words(account)  # never the internal name
        with pytest.raises(ledger.InsufficientFunds, match=f"^{re.escape(words)} is 0.00 USD"):
            await post(runtime, f"negative-{n}", ledger.move(account, A, 1, "USD"))
    assert await ledger.check_ledger() == []


@pytest.mark.parametrize(
    ("name", "kind", "member"),
    [
        (ledger.available(12), "available", 12),
        (ledger.credit(12), "credit", 12),
        (ledger.escrow("order:12"), "escrow", None),
        (ledger.escrow("campaign:a-7"), "escrow", None),
        (ledger.PLATFORM_FEES, "fees", None),
        (ledger.clearing("paypal"), "clearing", None),
        (ledger.external("bank_transfer"), "external", None),
        (ledger.VOUCHERS_OUTSTANDING, "vouchers", None),
    ],
)
def test_account_names(name, kind, member):
    assert ledger.account_kind(name) == (kind, member)


@pytest.mark.parametrize(
    "name", ["member:12", "member:12:savings", "member:-1:available", "platform", "external:", "x"]
)
def test_bad_account_names_are_ledger_errors(name):
    with pytest.raises(ledger.LedgerError, match="not a ledger account name"):
        ledger.account_kind(name)


# --------------------------------------------------------------------------------------
# What the database itself refuses (raw SQL, bypassing the Python checks)
# --------------------------------------------------------------------------------------


async def _entry_ids() -> list[int]:
    return [r["id"] for r in await LedgerEntry.select(LedgerEntry.id).order_by(LedgerEntry.id)]


async def _raw_insert_transaction(key: str, accounts: list[tuple[int, int]], clock) -> None:
    """A transaction row and its entries, written with raw SQL: ``[(account_id, amount)]``."""
    rows = await LedgerTransaction.raw(
        "INSERT INTO core_ledger_transaction (idempotency_key, kind, description, refs, created_at) "
        "VALUES ({}, 'raw', 'written by hand', {}, {}) RETURNING id",
        key,
        "{}",
        clock.now(),
    )
    for account_id, amount in accounts:
        await LedgerEntry.raw(
            'INSERT INTO core_ledger_entry ("transaction", account, amount, currency, balance_after, created_at) '
            "VALUES ({}, {}, {}, 'USD', 0, {})",
            rows[0]["id"],
            account_id,
            amount,
            clock.now(),
        )


async def _account_id(name: str) -> int:
    row = await LedgerAccount.select(LedgerAccount.id).where(LedgerAccount.name == name).first()
    return row["id"]


@pytest.mark.postgres_only(
    "the balanced-transaction constraint trigger is PostgreSQL's (SQLite has no deferred triggers)"
)
async def test_database_refuses_unbalanced_transaction_at_commit(runtime, clock):
    await fund(runtime, A, 1000)
    a, outside = await _account_id(A), await _account_id(OUTSIDE)
    before = await counts()

    inserted = False
    with pytest.raises(asyncpg.CheckViolationError, match="is not balanced"):
        async with runtime.db.transaction():
            await _raw_insert_transaction("raw-unbalanced", [(a, 100)], clock)
            inserted = True  # each INSERT passed; the deferred trigger fires at COMMIT
    assert inserted
    assert await counts() == before
    # The refused COMMIT gave its connection back and left no transaction behind.
    pool = runtime.db.engine.pool
    assert pool.get_idle_size() == pool.get_size()
    assert runtime.db.engine.current_transaction.get() is None

    # Balanced per currency but entries of one side in two rows: accepted.
    async with runtime.db.transaction():
        await _raw_insert_transaction("raw-balanced", [(a, 100), (outside, -60), (outside, -40)], clock)
    assert (await counts())[1] == before[1] + 3


async def test_database_refuses_changing_or_deleting_entries(runtime, db_kind):
    await fund(runtime, A, 1000)
    await post(runtime, "a-to-b", ledger.move(A, B, 100, "USD"))
    entries = await LedgerEntry.select().order_by(LedgerEntry.id)
    refused = refused_by_database(db_kind)

    with pytest.raises(refused, match="append-only: UPDATE on core_ledger_entry refused"):
        async with runtime.db.transaction():
            await LedgerEntry.raw("UPDATE core_ledger_entry SET amount = amount * 2")
    with pytest.raises(refused, match="append-only: UPDATE on core_ledger_transaction refused"):
        async with runtime.db.transaction():
            await LedgerTransaction.raw("UPDATE core_ledger_transaction SET description = 'rewritten'")
    if db_kind == "postgres":
        # (SQLite keeps DELETE possible so that test suites can empty a database.)
        with pytest.raises(refused, match="append-only: DELETE on core_ledger_entry refused"):
            async with runtime.db.transaction():
                await LedgerEntry.raw("DELETE FROM core_ledger_entry WHERE id = {}", entries[-1]["id"])
        with pytest.raises(refused, match="append-only: DELETE on core_ledger_transaction refused"):
            async with runtime.db.transaction():
                await LedgerTransaction.raw("DELETE FROM core_ledger_transaction")
    assert await LedgerEntry.select().order_by(LedgerEntry.id) == entries
    assert await ledger.check_ledger() == []


async def test_database_refuses_negative_member_balance(runtime, db_kind):
    await fund(runtime, A, 1000)
    await fund(runtime, ledger.credit(1), 10)
    await post(runtime, "fee", ledger.move(A, ledger.PLATFORM_FEES, 1, "USD"))
    refused = refused_by_database(db_kind)
    # (An available balance is left out: a clawback may take it below zero, and the
    # ledger's own checks bound that; see test_gigs_after_sale.py.)
    for name in (ledger.credit(1), ledger.PLATFORM_FEES):
        with pytest.raises(refused, match="core_ledger_account_not_negative"):
            async with runtime.db.transaction():
                await LedgerAccount.raw("UPDATE core_ledger_account SET balance = -1 WHERE name = {}", name)
    # Inserting a member account that starts negative is refused too.
    with pytest.raises(refused, match="core_ledger_account_not_negative"):
        async with runtime.db.transaction():
            await LedgerAccount.raw(
                "INSERT INTO core_ledger_account (name, currency, kind, balance, allow_negative, created_at) "
                "VALUES ('member:5:credit', 'USD', 'credit', -1, false, {})",
                runtime.clock.now(),
            )
    assert await balances() == {
        (OUTSIDE, "USD"): -1010,
        (A, "USD"): 999,
        (ledger.credit(1), "USD"): 10,
        (ledger.PLATFORM_FEES, "USD"): 1,
    }
    # external:* may be negative at the database level as well.
    await LedgerAccount.raw("UPDATE core_ledger_account SET balance = balance - 1 WHERE name = {}", OUTSIDE)
    assert await ledger.balance_of(OUTSIDE, "USD") == -1011


# --------------------------------------------------------------------------------------
# check_ledger
# --------------------------------------------------------------------------------------


async def test_check_ledger_is_empty_on_a_sound_ledger(runtime):
    assert await ledger.check_ledger() == []  # an empty ledger is sound
    await fund(runtime, A, 1000)
    await fund(runtime, A, 500, "EUR")
    await post(runtime, "t1", ledger.move(A, B, 100, "USD"))
    await post(runtime, "t2", ledger.move(A, ledger.escrow("order:1"), 250, "EUR"))
    assert await ledger.check_ledger() == []


async def test_check_ledger_reports_a_tampered_balance(runtime):
    await fund(runtime, A, 1000)
    await post(runtime, "t1", ledger.move(A, B, 100, "USD"))
    # Balances are not append-only (they are updated by every posting), so they can be
    # tampered with; the entries cannot, and check_ledger compares the two.
    await LedgerAccount.raw("UPDATE core_ledger_account SET balance = balance + 5 WHERE name = {}", B)
    assert await ledger.check_ledger() == [f"{B} USD: stored balance 105 but entries sum to 100"]

    await LedgerAccount.raw("UPDATE core_ledger_account SET balance = 100 WHERE name = {}", B)
    assert await ledger.check_ledger() == []


async def test_check_ledger_reports_unbalanced_entries(runtime, db_kind, clock):
    if db_kind != "sqlite":
        pytest.skip("PostgreSQL refuses to store unbalanced entries (see the constraint trigger test)")
    # SQLite has no deferred trigger, so a hand-written unbalanced entry gets in; the
    # check finds it.
    await fund(runtime, A, 1000)
    a = await _account_id(A)
    await _raw_insert_transaction("raw", [(a, 7)], clock)
    transaction = (
        await LedgerTransaction.select().where(LedgerTransaction.idempotency_key == "raw").first()
    )["id"]
    assert await ledger.check_ledger() == [
        f"{A} USD: stored balance 1000 but entries sum to 1007",
        "USD: all accounts sum to 7, not zero",
        f"transaction {transaction} USD: entries sum to 7, not zero",
        f"transaction {transaction} has fewer than two entries",
    ]


# --------------------------------------------------------------------------------------
# Hooks: payout methods and the withdrawal veto
# --------------------------------------------------------------------------------------


class Gate:
    """Vetoes withdrawals of blocked members (a plain hookimpl)."""

    def __init__(self) -> None:
        self.blocked: set[int] = set()

    @agorakit.hookimpl
    def agorakit_can_withdraw(self, member, request):
        if member.id in self.blocked:
            return "your account is under review; withdrawals open again once it is cleared"
        return None


class AsyncGate:
    """Vetoes large withdrawals (an ``async`` hookimpl); records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, Any]] = []

    @agorakit.hookimpl
    async def agorakit_can_withdraw(self, member, request):
        self.calls.append((member.id, request))
        if request.amount > 5000:
            return "withdrawals above 50.00 USD need a verified identity"
        return None


class TestWithdrawalHooks:
    @pytest.fixture
    def gates(self):
        return Gate(), AsyncGate()

    @pytest.fixture
    def extra_plugins(self, gates):
        return [("testpay", ManualPayoutPlugin()), ("gate", gates[0]), ("async-gate", gates[1])]

    @pytest.fixture
    def site_config(self):
        return PAYOUT_CONFIG

    async def test_hook_agorakit_can_withdraw(self, runtime, client, make_member, problem, gates):
        from agorakit.money.withdrawals import WithdrawalRequest

        gate, async_gate = gates
        member = await make_member()
        await fund(runtime, ledger.available(member.id), 10000)
        before_counts, before_balances = await counts(), await balances()

        async def withdraw(amount: str):
            body = {"method": "testpay", "amount": {"amount": amount, "currency": "USD"}}
            body["destination"] = {"email": "Payee@Example.com"}
            return await client.post("/withdrawals", json=body, headers=member.headers)

        gate.blocked.add(member.id)
        body = problem(await withdraw("10.00"), 403, "withdrawal_not_allowed")
        reason = "your account is under review; withdrawals open again once it is cleared"
        assert body["detail"] == reason
        assert body["extra"] == {"reasons": [reason]}
        # Every veto is given, joined.
        body = problem(await withdraw("60.00"), 403, "withdrawal_not_allowed")
        large = "withdrawals above 50.00 USD need a verified identity"
        assert sorted(body["extra"]["reasons"]) == sorted([reason, large])
        assert body["detail"] == "; ".join(body["extra"]["reasons"])
        assert await counts() == before_counts
        assert await balances() == before_balances
        assert await Withdrawal.count() == 0

        gate.blocked.clear()
        body = problem(await withdraw("60.00"), 403, "withdrawal_not_allowed")
        assert body["detail"] == large  # the async hookimpl's veto, awaited
        assert await balances() == before_balances

        response = await withdraw("50.00")  # both say None: allowed
        assert response.status_code == 201, response.text
        withdrawal = response.json()
        assert withdrawal["status"] == "requested"
        assert withdrawal["amount"] == {"amount": "50.00", "currency": "USD"}
        assert withdrawal["net"] == {"amount": "50.00", "currency": "USD"}
        assert withdrawal["destination"] == {"email": "payee@example.com"}
        assert await ledger.balance_of(ledger.available(member.id), "USD") == 5000
        assert await ledger.balance_of(ledger.clearing("testpay"), "USD") == 5000
        assert async_gate.calls[-1] == (
            member.id,
            WithdrawalRequest(method="testpay", amount=5000, currency="USD"),
        )
        assert len(async_gate.calls) == 4
        assert await ledger.check_ledger() == []

    async def test_hook_agorakit_payout_methods(self, client, runtime):
        assert list(runtime.payout_methods) == ["testpay"]
        response = await client.get("/payout-methods")
        assert response.status_code == 200
        assert response.json() == [
            {
                "name": "testpay",
                "label": "Test payout",
                "minimums": [{"amount": "1.00", "currency": "USD"}],
                "fee": "no fee",
                "destination_fields": ["email"],
                "available": True,
                "unavailable_reason": None,
            }
        ]

    async def test_withdrawal_lifecycle_moves_money_once(self, runtime, make_member):
        from agorakit.errors import Conflict
        from agorakit.money import withdrawals

        member = await make_member()
        available = ledger.available(member.id)
        await fund(runtime, available, 3000)

        async def request(amount: int):
            withdrawal, replayed = await withdrawals.request_withdrawal(
                runtime,
                member=member.member,
                method="testpay",
                amount=amount,
                currency="USD",
                destination={"email": "a@example.com"},
            )
            assert not replayed
            return withdrawal

        async def state() -> tuple[int, int, int]:
            return (
                await ledger.balance_of(available, "USD"),
                await ledger.balance_of(ledger.clearing("testpay"), "USD"),
                await ledger.balance_of(ledger.external("testpay"), "USD"),
            )

        cancelled, failed, paid = await request(1000), await request(800), await request(700)
        assert await state() == (500, 2500, 0)

        await withdrawals.cancel_withdrawal(runtime, withdrawal_id=cancelled.id, member_id=member.id)
        assert await state() == (1500, 1500, 0)
        with pytest.raises(Conflict, match="is cancelled; it cannot become cancelled"):
            await withdrawals.cancel_withdrawal(runtime, withdrawal_id=cancelled.id, member_id=member.id)

        async with runtime.unit_of_work() as uow:
            await withdrawals.mark_processing(uow, [failed.id, paid.id], batch_ref="batch-1")
        with pytest.raises(Conflict, match="is processing; it cannot become cancelled"):
            await withdrawals.cancel_withdrawal(runtime, withdrawal_id=paid.id, member_id=member.id)

        await withdrawals.fail_withdrawal(runtime, withdrawal_id=failed.id, actor_id=None, reason="bounced")
        assert await state() == (2300, 700, 0)
        done = await withdrawals.complete_withdrawal(
            runtime, withdrawal_id=paid.id, actor_id=None, provider_ref="manual-1"
        )
        assert done.status == "completed" and done.provider_ref == "manual-1"
        assert await state() == (2300, 0, 700)  # external:* rises as money leaves
        # Settled withdrawals stay settled: no second payout, no second refund.
        for action in (
            withdrawals.complete_withdrawal(runtime, withdrawal_id=paid.id, actor_id=None),
            withdrawals.fail_withdrawal(runtime, withdrawal_id=paid.id, actor_id=None, reason="late"),
            withdrawals.fail_withdrawal(runtime, withdrawal_id=failed.id, actor_id=None, reason="again"),
        ):
            with pytest.raises(Conflict):
                await action
        assert await state() == (2300, 0, 700)
        assert await ledger.check_ledger() == []
