"""A Hypothesis state machine over the money services, on SQLite and PostgreSQL.

Random sequences of pay-ins (direct credits and bank-like deposits confirmed later),
escrow payments from balance, escrow releases (net to the seller, 20% commission to the
platform) and refunds, and withdrawals (requested, processed, completed, failed,
cancelled) run against a real database while a Python model tracks every account.
After every step: each currency sums to zero, no member account is negative, every
stored balance equals the model, finished escrows are empty and ``check_ledger()``
finds nothing.  Operations the model says must fail raise and change nothing.

Hypothesis state machines are synchronous, so the test builds its own runtime on its
own fresh database and event loop instead of using the (async) fixtures.
"""

from __future__ import annotations

import os
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from money_helpers import ManualPayout
from state_machine_helpers import World, run_machine

import agorakit
from agorakit.errors import Conflict
from agorakit.money import ledger, payments, withdrawals
from agorakit.money.amounts import format_amount
from agorakit.money.fees import Quote, compute_fees, percent_of
from agorakit.money.methods import PaymentStep
from agorakit.money.tables import LedgerAccount, LedgerEntry, LedgerTransaction, Payment, Withdrawal
from agorakit.testing import (
    empty_tables,
)

MEMBERS = (1, 2, 3)
CURRENCIES = ("USD", "EUR")
OUTSIDE = ledger.external("test")
BANK = ledger.external("testbank")
PAYOUT = "testwire"
PAYOUT_FEE = 25
PAYOUT_MINIMUM = 100


class SlowBank:
    """A bank-transfer-like pay-in: it waits for the money until someone confirms it."""

    name = "testbank"
    label = "Test bank transfer"

    async def start(self, *, runtime, uow, payment):
        return PaymentStep(status="awaiting_funds", details={"pay_to": "TEST BANK"})


class Methods:
    @agorakit.hookimpl
    def agorakit_payment_methods(self):
        return [SlowBank()]

    @agorakit.hookimpl
    def agorakit_payout_methods(self):
        return [ManualPayout(PAYOUT, minimum=PAYOUT_MINIMUM, fee=PAYOUT_FEE, label="Test wire")]


async def _snapshot() -> tuple[Any, ...]:
    """Everything a refused operation must leave as it was."""
    accounts = await LedgerAccount.select(
        LedgerAccount.name, LedgerAccount.currency, LedgerAccount.balance
    ).order_by(LedgerAccount.id)
    payment_rows = await Payment.select(Payment.id, Payment.status).order_by(Payment.id)
    withdrawal_rows = await Withdrawal.select(Withdrawal.id, Withdrawal.status).order_by(Withdrawal.id)
    return (
        accounts,
        payment_rows,
        withdrawal_rows,
        await LedgerTransaction.count(),
        await LedgerEntry.count(),
    )


amounts = st.integers(min_value=1, max_value=20_000)
members = st.sampled_from(MEMBERS)
currencies = st.sampled_from(CURRENCIES)


class MoneyMachine(RuleBasedStateMachine):
    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world
        self.runtime = world.runtime
        world.run(empty_tables(self.runtime))
        #: (account, currency) -> balance, as the model says it must be
        self.model: Counter[tuple[str, str]] = Counter()
        #: open escrows: ref -> (buyer, seller, amount, currency)
        self.escrows: dict[str, tuple[int, int, int, str]] = {}
        #: finished (released or refunded) escrows: ref -> currency
        self.finished: dict[str, str] = {}
        self.awaiting: dict[int, payments.PaymentOut] = {}
        self.confirmed: dict[int, payments.PaymentOut] = {}
        #: withdrawal id -> [status, member, amount, currency]
        self.withdrawals: dict[int, list[Any]] = {}
        self.n = 0

    # -- helpers ---------------------------------------------------------------------------

    def run(self, coroutine: Any) -> Any:
        return self.world.run(coroutine)

    def next_id(self) -> int:
        self.n += 1
        return self.n

    def move(self, source: str, target: str, amount: int, currency: str) -> None:
        self.model[(source, currency)] -= amount
        self.model[(target, currency)] += amount

    def refused(self, coroutine: Any, error: type[BaseException], match: str | None = None) -> None:
        """Run ``coroutine``, which must raise ``error`` and change nothing at all."""
        before = self.run(_snapshot())
        with pytest.raises(error, match=match):
            self.run(coroutine)
        assert self.run(_snapshot()) == before

    def spendable(self, member: int, currency: str) -> int:
        return (
            self.model[(ledger.credit(member), currency)] + self.model[(ledger.available(member), currency)]
        )

    def with_status(self, *statuses: str) -> list[int]:
        return sorted(i for i, w in self.withdrawals.items() if w[0] in statuses)

    async def posting(self, key: str, lines: list[ledger.Line], kind: str) -> ledger.Posting:
        async with self.runtime.unit_of_work() as uow:
            return await ledger.post(uow, key=key, kind=kind, description=kind, lines=lines)

    def pick(self, data: Any, balance_of: Any) -> tuple[int, str]:
        """A (member, currency), mostly one with money by ``balance_of(member, currency)``."""
        pairs = [(m, c) for m in MEMBERS for c in CURRENCIES]
        funded = [pair for pair in pairs if balance_of(*pair) > 0]
        return data.draw(st.sampled_from(funded if funded and data.draw(st.integers(0, 9)) else pairs))

    def amount_for(self, data: Any, balance: int) -> int:
        """An amount that mostly fits ``balance`` (sometimes all of it) and sometimes not."""
        if balance <= 0:
            return data.draw(st.integers(min_value=1, max_value=1000))
        percent = data.draw(st.sampled_from([100, 50, 80, 30, 10, 101, 150]))
        return max(1, balance * percent // 100)

    # -- pay-ins ---------------------------------------------------------------------------

    @initialize(
        available=st.lists(st.integers(min_value=100, max_value=20_000), min_size=2, max_size=2),
        credit=st.lists(st.integers(min_value=0, max_value=5_000), min_size=2, max_size=2),
    )
    def opening_balances(self, available, credit):
        """Members 1 and 2 start with some money in USD; member 3 and EUR start empty."""
        for member in (1, 2):
            self._credit(ledger.available(member), "USD", available[member - 1])
            if credit[member - 1]:
                self._credit(ledger.credit(member), "USD", credit[member - 1])

    @rule(
        member=members,
        kind=st.sampled_from(["available", "credit"]),
        currency=currencies,
        amount=amounts,
    )
    def credit_from_outside(self, member, kind, currency, amount):
        account = ledger.available(member) if kind == "available" else ledger.credit(member)
        self._credit(account, currency, amount)

    def _credit(self, account: str, currency: str, amount: int) -> None:
        posting = self.run(
            self.posting(
                f"fund:{self.next_id()}", ledger.move(OUTSIDE, account, amount, currency), "test_funding"
            )
        )
        assert posting.created
        self.move(OUTSIDE, account, amount, currency)

    @rule(member=members, currency=currencies, amount=amounts)
    def start_deposit(self, member, currency, amount):
        payment, replayed = self.run(
            payments.start_payment(
                self.runtime, payer_id=member, method="testbank", amount=amount, currency=currency
            )
        )
        assert not replayed
        assert payment.status == "awaiting_funds"  # nothing moves until the money arrives
        self.awaiting[payment.id] = payment

    @precondition(lambda self: self.awaiting)
    @rule(data=st.data())
    def confirm_deposit(self, data):
        payment_id = data.draw(st.sampled_from(sorted(self.awaiting)))
        payment = self.awaiting.pop(payment_id)
        amount = payments.minor_units(payment)

        async def confirm():
            async with self.runtime.unit_of_work() as uow:
                return await payments.settle(uow, payment, sources=[(BANK, amount)], actor_id=None)

        settled = self.run(confirm())
        assert settled.status == "completed"
        self.move(BANK, ledger.credit(payment.payer_id), amount, payment.amount.currency)
        self.confirmed[payment_id] = payment

    @precondition(lambda self: self.confirmed)
    @rule(data=st.data())
    def confirm_deposit_again(self, data):
        payment = self.confirmed[data.draw(st.sampled_from(sorted(self.confirmed)))]
        amount = payments.minor_units(payment)

        async def confirm():
            async with self.runtime.unit_of_work() as uow:
                await payments.settle(uow, payment, sources=[(BANK, amount)], actor_id=None)

        self.refused(confirm(), Conflict, "only open payments can be completed")

    # -- escrows ---------------------------------------------------------------------------

    @rule(seller=members, data=st.data())
    def pay_escrow_from_balance(self, seller, data):
        buyer, currency = self.pick(data, self.spendable)
        credit = self.model[(ledger.credit(buyer), currency)]
        available = self.model[(ledger.available(buyer), currency)]
        amount = self.amount_for(data, credit + available)
        ref = f"order:{self.next_id()}"
        call = payments.start_payment(
            self.runtime,
            payer_id=buyer,
            method="balance",
            amount=amount,
            currency=currency,
            purpose="escrow",
            escrow_ref=ref,
            seller_id=seller,
        )
        if credit + available < amount:
            self.refused(call, ledger.InsufficientFunds)
            return
        payment, _ = self.run(call)
        from_credit = min(credit, amount)  # credit is spent first
        assert payment.status == "completed"
        assert payment.details == {"from_credit": from_credit, "from_available": amount - from_credit}
        self.move(ledger.credit(buyer), ledger.escrow(ref), from_credit, currency)
        self.move(ledger.available(buyer), ledger.escrow(ref), amount - from_credit, currency)
        self.escrows[ref] = (buyer, seller, amount, currency)

    @precondition(lambda self: self.escrows)
    @rule(data=st.data())
    def release_escrow(self, data):
        ref = data.draw(st.sampled_from(sorted(self.escrows)))
        _, seller, amount, currency = self.escrows.pop(ref)
        fees = compute_fees(self.runtime.pm, Quote(amount=amount, currency=currency))
        fee = percent_of(amount, "20")
        assert (fees.seller_net, fees.platform_total) == (amount - fee, fee)
        lines = [
            ledger.Line(ledger.escrow(ref), -amount, currency),
            ledger.Line(ledger.available(seller), amount - fee, currency),
            ledger.Line(ledger.PLATFORM_FEES, fee, currency),  # a zero line is dropped
        ]
        assert self.run(self.posting(f"{ref}:release", lines, "escrow_released")).created
        # Replaying the release (a retried request, a second worker) moves nothing.
        assert not self.run(self.posting(f"{ref}:release", lines, "escrow_released")).created
        self.move(ledger.escrow(ref), ledger.available(seller), amount - fee, currency)
        self.move(ledger.escrow(ref), ledger.PLATFORM_FEES, fee, currency)
        self.finished[ref] = currency

    @precondition(lambda self: self.escrows)
    @rule(data=st.data())
    def refund_escrow(self, data):
        ref = data.draw(st.sampled_from(sorted(self.escrows)))
        buyer, _, amount, currency = self.escrows.pop(ref)
        lines = ledger.move(ledger.escrow(ref), ledger.credit(buyer), amount, currency)
        assert self.run(self.posting(f"{ref}:refund", lines, "escrow_refunded")).created
        self.move(ledger.escrow(ref), ledger.credit(buyer), amount, currency)
        self.finished[ref] = currency

    @precondition(lambda self: self.finished)
    @rule(data=st.data(), amount=st.integers(min_value=1, max_value=1000))
    def finished_escrow_pays_nothing_more(self, data, amount):
        ref = data.draw(st.sampled_from(sorted(self.finished)))
        lines = ledger.move(ledger.escrow(ref), ledger.available(1), amount, self.finished[ref])
        self.refused(self.posting(f"{ref}:late", lines, "escrow_released"), ledger.InsufficientFunds)

    @rule(
        member=members,
        kind=st.sampled_from(["available", "credit"]),
        currency=currencies,
        extra=st.integers(min_value=1, max_value=1000),
    )
    def overdraw_directly(self, member, kind, currency, extra):
        account = ledger.available(member) if kind == "available" else ledger.credit(member)
        amount = self.model[(account, currency)] + extra
        lines = ledger.move(account, OUTSIDE, amount, currency)
        self.refused(self.posting(f"overdraw:{self.next_id()}", lines, "test"), ledger.InsufficientFunds)

    # -- withdrawals -----------------------------------------------------------------------

    @rule(data=st.data())
    def request_withdrawal(self, data):
        member, currency = self.pick(data, lambda m, c: self.model[(ledger.available(m), c)])
        available = self.model[(ledger.available(member), currency)]
        amount = self.amount_for(data, available)
        call = withdrawals.request_withdrawal(
            self.runtime,
            member=SimpleNamespace(id=member),
            method=PAYOUT,
            amount=amount,
            currency=currency,
            destination={"email": f"m{member}@example.com"},
        )
        if amount < PAYOUT_MINIMUM:
            self.refused(call, withdrawals.BelowMinimum)
            return
        if available < amount:
            self.refused(call, ledger.InsufficientFunds)
            return
        withdrawal, _ = self.run(call)
        assert withdrawal.status == "requested"
        assert (withdrawal.amount.amount, withdrawal.fee.amount) == (format_amount(amount, currency), "0.25")
        self.move(ledger.available(member), ledger.clearing(PAYOUT), amount, currency)
        self.withdrawals[withdrawal.id] = ["requested", member, amount, currency]

    @precondition(lambda self: self.with_status("requested"))
    @rule(data=st.data())
    def process_withdrawal(self, data):
        self._process(data.draw(st.sampled_from(self.with_status("requested"))))

    def _process(self, withdrawal_id: int) -> None:
        async def process():
            async with self.runtime.unit_of_work() as uow:
                await withdrawals.mark_processing(uow, [withdrawal_id], batch_ref=f"batch:{withdrawal_id}")

        self.run(process())
        self.withdrawals[withdrawal_id][0] = "processing"

    @precondition(lambda self: self.with_status("requested", "processing"))
    @rule(data=st.data())
    def complete_withdrawal(self, data):
        withdrawal_id = data.draw(st.sampled_from(self.with_status("requested", "processing")))
        if self.withdrawals[withdrawal_id][0] == "requested":
            self._process(withdrawal_id)
        done = self.run(
            withdrawals.complete_withdrawal(self.runtime, withdrawal_id=withdrawal_id, actor_id=None)
        )
        assert done.status == "completed"
        record = self.withdrawals[withdrawal_id]
        _, _, amount, currency = record
        self.move(ledger.clearing(PAYOUT), ledger.external(PAYOUT), amount - PAYOUT_FEE, currency)
        self.move(ledger.clearing(PAYOUT), ledger.PLATFORM_FEES, PAYOUT_FEE, currency)
        record[0] = "completed"

    @precondition(lambda self: self.with_status("requested", "processing"))
    @rule(data=st.data())
    def fail_withdrawal(self, data):
        withdrawal_id = data.draw(st.sampled_from(self.with_status("requested", "processing")))
        failed = self.run(
            withdrawals.fail_withdrawal(
                self.runtime, withdrawal_id=withdrawal_id, actor_id=None, reason="bounced"
            )
        )
        assert failed.status == "failed"
        record = self.withdrawals[withdrawal_id]
        _, member, amount, currency = record
        self.move(ledger.clearing(PAYOUT), ledger.available(member), amount, currency)
        record[0] = "failed"

    @precondition(lambda self: self.with_status("requested"))
    @rule(data=st.data())
    def cancel_withdrawal(self, data):
        withdrawal_id = data.draw(st.sampled_from(self.with_status("requested")))
        record = self.withdrawals[withdrawal_id]
        _, member, amount, currency = record
        cancelled = self.run(
            withdrawals.cancel_withdrawal(self.runtime, withdrawal_id=withdrawal_id, member_id=member)
        )
        assert cancelled.status == "cancelled"
        self.move(ledger.clearing(PAYOUT), ledger.available(member), amount, currency)
        record[0] = "cancelled"

    @precondition(lambda self: self.with_status("processing", "completed", "failed", "cancelled"))
    @rule(data=st.data(), action=st.sampled_from(["cancel", "fail", "complete"]))
    def settled_withdrawal_moves_nothing(self, data, action):
        withdrawal_id = data.draw(
            st.sampled_from(self.with_status("processing", "completed", "failed", "cancelled"))
        )
        status, member, _, _ = self.withdrawals[withdrawal_id]
        if action == "cancel":  # only a requested withdrawal can be cancelled
            call = withdrawals.cancel_withdrawal(self.runtime, withdrawal_id=withdrawal_id, member_id=member)
        elif action == "fail":
            if status == "processing":
                return
            call = withdrawals.fail_withdrawal(
                self.runtime, withdrawal_id=withdrawal_id, actor_id=None, reason="x"
            )
        else:
            if status == "processing":
                return
            call = withdrawals.complete_withdrawal(self.runtime, withdrawal_id=withdrawal_id, actor_id=None)
        self.refused(call, Conflict, f"withdrawal {withdrawal_id} is {status}")

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def ledger_matches_the_model(self):
        self.run(self._check())

    async def _check(self) -> None:
        rows = await LedgerAccount.select(
            LedgerAccount.name, LedgerAccount.currency, LedgerAccount.kind, LedgerAccount.balance
        )
        stored = {(r["name"], r["currency"]): r["balance"] for r in rows}
        per_currency: Counter[str] = Counter()
        for row in rows:
            per_currency[row["currency"]] += row["balance"]
            if row["kind"] != "external":
                assert row["balance"] >= 0, row
        assert all(total == 0 for total in per_currency.values()), per_currency
        expected = {key: balance for key, balance in self.model.items() if balance}
        assert {key: balance for key, balance in stored.items() if balance} == expected
        for ref, currency in self.finished.items():
            assert stored[(ledger.escrow(ref), currency)] == 0
        statuses = {r["id"]: r["status"] for r in await Withdrawal.select(Withdrawal.id, Withdrawal.status)}
        assert statuses == {i: w[0] for i, w in self.withdrawals.items()}
        assert await ledger.check_ledger() == []


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_money_state_machine(kind, tmp_path):
    run_machine(
        kind,
        tmp_path,
        MoneyMachine,
        plugins=[("test-methods", Methods())],
        config={"money": {"payment_methods": ["balance", "testbank"], "payout_methods": [PAYOUT]}},
        settings=settings(
            max_examples=int(os.environ.get("AGORAKIT_PROPERTY_EXAMPLES", "25")),
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
