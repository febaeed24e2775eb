"""A Hypothesis state machine over orders and their money, on SQLite and PostgreSQL.

Many orders at once (USD and EUR, a few totals, a 5% buyer service fee besides the
seller's 20% commission) are paid from the buyer's balance, or by a slow pay-in confirmed
later (a bank transfer that expires, a provider payment that stays pending), with and
without Idempotency-Keys; they are cancelled before or after payment, delivered,
accepted and refunded by an operator, while their payments are cancelled, expire, or
arrive for orders that no longer need them (also second payments written before one
payment per order was enforced); sellers withdraw what they earned.  A Python model
tracks every order, payment and account.  After every step: each order's escrow holds
what its state says (``escrow_problem_lines``), the ledger is sound (``check_ledger``),
every stored balance, order state and payment status equals the model, no order has two
completed payments and no member account is negative.  Operations the model says must be
refused raise the right error and change nothing.

``AGORAKIT_PROPERTY_EXAMPLES=300`` runs that many examples instead of 20 (a longer hunt).
"""

from __future__ import annotations

import os
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest
from escrow_helpers import (
    EXPIRY,
    PAYOUT,
    PAYOUT_FEE,
    PAYOUT_MINIMUM,
    SERVICE_FEE_PERCENT,
    SLOW,
    TRANSITIONS,
    EscrowPlugin,
)
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from state_machine_helpers import World, run_machine

from agorakit import orders as orders_api
from agorakit.errors import Conflict, Forbidden, NotFound
from agorakit.money import ledger, payments, withdrawals
from agorakit.money.fees import percent_of
from agorakit.money.tables import LedgerAccount, LedgerEntry, LedgerTransaction, Payment, Withdrawal
from agorakit.orders.escrow import escrow_problem_lines
from agorakit.orders.payments import OrderAlreadyPaid, pay_order
from agorakit.orders.schemas import ItemIn
from agorakit.orders.tables import Order, OrderEvent
from agorakit.testing import empty_tables
from agorakit.worker import sweep

MEMBERS = (1, 2, 3)
OPERATOR = SimpleNamespace(id=9, role="operator")
CURRENCIES = ("USD", "EUR")
PRICES = (500, 1999, 2500, 8000)
OUTSIDE = ledger.external("test")
OPEN = ("pending", "awaiting_funds")
FUNDING = (*OPEN, "completed")


async def _snapshot() -> tuple[Any, ...]:
    """Everything a refused operation must leave as it was."""
    accounts = await LedgerAccount.select(
        LedgerAccount.name, LedgerAccount.currency, LedgerAccount.balance
    ).order_by(LedgerAccount.id)
    orders = await Order.select(Order.id, Order.state, Order.version).order_by(Order.id)
    payment_rows = await Payment.select(Payment.id, Payment.status).order_by(Payment.id)
    withdrawal_rows = await Withdrawal.select(Withdrawal.id, Withdrawal.status).order_by(Withdrawal.id)
    return (
        accounts,
        orders,
        payment_rows,
        withdrawal_rows,
        await OrderEvent.count(),
        await LedgerTransaction.count(),
        await LedgerEntry.count(),
    )


#: an order: buyer, seller (another member), currency, items as (unit price, quantity)
order_specs = st.tuples(
    st.sampled_from(MEMBERS),
    st.integers(1, len(MEMBERS) - 1),
    st.sampled_from(CURRENCIES),
    st.lists(st.tuples(st.sampled_from(PRICES), st.integers(1, 2)), min_size=1, max_size=2),
)


def mostly(data: Any) -> bool:
    """True three times in four (Hypothesis leans to the first choice when it simplifies)."""
    return data.draw(st.sampled_from([True, True, True, False]))


def member(member_id: int) -> SimpleNamespace:
    return SimpleNamespace(id=member_id, role="member")


class EscrowMachine(RuleBasedStateMachine):
    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world
        self.runtime = world.runtime
        world.run(empty_tables(self.runtime))
        #: (account, currency) -> balance, as the model says it must be
        self.model: Counter[tuple[str, str]] = Counter()
        #: order id -> its facts and state (buyer, seller, currency, quote amounts, state)
        self.orders: dict[int, SimpleNamespace] = {}
        #: payment id -> its order, method, status, amount, expiry
        self.payments: dict[int, SimpleNamespace] = {}
        #: (payer, Idempotency-Key) -> the payment it started
        self.keys: dict[tuple[int, str | None], int] = {}
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

    def spendable(self, member_id: int, currency: str) -> int:
        return (
            self.model[(ledger.credit(member_id), currency)]
            + self.model[(ledger.available(member_id), currency)]
        )

    def order_ids(self, *states: str) -> list[int]:
        return sorted(i for i, o in self.orders.items() if not states or o.state in states)

    def payment_ids(self, *statuses: str) -> list[int]:
        return sorted(i for i, p in self.payments.items() if p.status in statuses)

    def funding(self, order_id: int) -> list[int]:
        return sorted(i for i, p in self.payments.items() if p.order == order_id and p.status in FUNDING)

    def payable(self) -> list[int]:
        return [i for i in self.order_ids("awaiting_payment") if not self.funding(i)]

    def pick_order(self, data: Any, fitting: list[int]) -> int:
        """An order, mostly one of ``fitting`` (when there is one)."""
        if fitting and mostly(data):
            return data.draw(st.sampled_from(fitting))
        return data.draw(st.sampled_from(self.order_ids()))

    def with_status(self, *statuses: str) -> list[int]:
        return sorted(i for i, w in self.withdrawals.items() if w[0] in statuses)

    async def posting(self, key: str, lines: list[ledger.Line], kind: str) -> None:
        async with self.runtime.unit_of_work() as uow:
            await ledger.post(uow, key=key, kind=kind, description=kind, lines=lines)

    def _credit(self, account: str, currency: str, amount: int) -> None:
        lines = ledger.move(OUTSIDE, account, amount, currency)
        self.run(self.posting(f"fund:{self.next_id()}", lines, "test_funding"))
        self.move(OUTSIDE, account, amount, currency)

    # -- orders and credit -----------------------------------------------------------------

    @initialize(
        credit=st.lists(st.sampled_from([60_000, 20_000, 0]), min_size=6, max_size=6),
        specs=st.lists(order_specs, min_size=2, max_size=4),
    )
    def opening(self, credit, specs):
        """Every member starts with some credit in each currency (maybe none), and a few
        orders are placed."""
        pairs = [(m, c) for m in MEMBERS for c in CURRENCIES]
        for (member_id, currency), cents in zip(pairs, credit, strict=True):
            if cents:
                self._credit(ledger.credit(member_id), currency, cents)
        for spec in specs:
            self._create_order(*spec)

    @precondition(lambda self: len(self.order_ids("awaiting_payment", "in_progress", "delivered")) < 6)
    @rule(spec=order_specs)
    def create_order(self, spec):
        self._create_order(*spec)

    def _create_order(self, buyer, seller_offset, currency, prices):
        seller = MEMBERS[(MEMBERS.index(buyer) + seller_offset) % len(MEMBERS)]
        items = [ItemIn(description=f"item {i}", unit_price=p, quantity=q) for i, (p, q) in enumerate(prices)]
        order = self.run(
            orders_api.create_order(
                self.runtime,
                process="testescrow",
                buyer_id=buyer,
                seller_id=seller,
                currency=currency,
                items=items,
                caller=member(buyer),
            )
        )
        amount = sum(p * q for p, q in prices)
        commission, service_fee = percent_of(amount, "20"), percent_of(amount, SERVICE_FEE_PERCENT)
        quote = order.data["quote"]
        assert (quote["buyer_total"], quote["seller_net"], quote["platform_total"]) == (
            amount + service_fee,
            amount - commission,
            commission + service_fee,
        )
        assert (order.state, order.allowed_transitions) == ("awaiting_payment", ["cancel_unpaid"])
        self.orders[order.id] = SimpleNamespace(
            buyer=buyer,
            seller=seller,
            stranger=next(m for m in MEMBERS if m not in (buyer, seller)),
            currency=currency,
            total=amount + service_fee,
            net=amount - commission,
            fees=commission + service_fee,
            state="awaiting_payment",
        )

    @precondition(
        lambda self: any(self.spendable(o.buyer, o.currency) < o.total for o in self.orders.values())
    )
    @rule(data=st.data(), cents=st.sampled_from([2000, 10_000, 40_000]))
    def fund_credit(self, data, cents):
        """Credit comes in (from outside) for a buyer who cannot pay one of their orders."""
        short = sorted(
            {
                (o.buyer, o.currency)
                for o in self.orders.values()
                if self.spendable(o.buyer, o.currency) < o.total
            }
        )
        member_id, currency = data.draw(st.sampled_from(short))
        self._credit(ledger.credit(member_id), currency, cents)

    # -- paying ----------------------------------------------------------------------------

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), method=st.sampled_from(["balance", "testbank", "testcard"]))
    def pay(self, data, method):
        """The buyer pays an order from their balance (settled at once) or starts a slow
        payment; only an order waiting for its payment, with none open or completed, can
        be paid, only by its buyer, and from the balance only with enough in it.  An
        Idempotency-Key used before answers with its payment and changes nothing."""
        order_id = self.pick_order(data, self.payable())
        order = self.orders[order_id]
        who = "buyer" if mostly(data) else data.draw(st.sampled_from(["seller", "operator", "stranger"]))
        key = data.draw(st.sampled_from([None, None, "key-a", "key-b"]))
        caller = OPERATOR if who == "operator" else member(getattr(order, who))
        call = pay_order(self.runtime, order_id, caller=caller, method=method, idempotency_key=key)
        credit = self.model[(ledger.credit(order.buyer), order.currency)]
        first = self.keys.get((order.buyer, key))
        if who != "buyer":
            refusal: type[BaseException] | None = NotFound if who == "stranger" else Forbidden
        elif first is not None and (self.payments[first].order, self.payments[first].method) == (
            order_id,
            method,
        ):
            before = self.run(_snapshot())
            payment, replayed = self.run(call)
            assert (payment.id, payment.status, replayed) == (first, self.payments[first].status, True)
            assert self.run(_snapshot()) == before
            return
        elif first is not None:
            refusal = payments.IdempotencyKeyReused
        elif self.funding(order_id):
            refusal = OrderAlreadyPaid
        elif order.state != "awaiting_payment":
            refusal = orders_api.TransitionNotAllowed
        elif method == "balance" and self.spendable(order.buyer, order.currency) < order.total:
            refusal = ledger.InsufficientFunds
        else:
            refusal = None
        if refusal is not None:
            self.refused(call, refusal)
            return
        payment, replayed = self.run(call)
        assert (replayed, payments.minor_units(payment), payment.amount.currency) == (
            False,
            order.total,
            order.currency,
        )
        record = SimpleNamespace(order=order_id, method=method, status=payment.status, amount=order.total)
        self.payments[payment.id] = record
        if key is not None:
            self.keys[(order.buyer, key)] = payment.id
        if method != "balance":  # nothing moves until the money arrives
            expires_at = self.world.clock.now() + EXPIRY if method == "testbank" else None
            assert (payment.status, payment.expires_at) == (SLOW[method], expires_at)
            record.expires_at = expires_at
            return
        from_credit = min(credit, order.total)  # credit is spent first
        assert payment.status == "completed"
        assert payment.details == {"from_credit": from_credit, "from_available": order.total - from_credit}
        escrow = ledger.escrow(f"order:{order_id}")
        self.move(ledger.credit(order.buyer), escrow, from_credit, order.currency)
        self.move(ledger.available(order.buyer), escrow, order.total - from_credit, order.currency)
        record.expires_at = None
        order.state = "in_progress"

    @precondition(lambda self: self.payments)
    @rule(data=st.data())
    def confirm_slow_payment(self, data):
        """The money of a payment arrives: it pays an order waiting for it, else it goes
        back to the buyer's credit, exactly; a payment that is no longer open takes none."""
        open_ids = self.payment_ids(*OPEN)
        payment_id = data.draw(
            st.sampled_from(open_ids if open_ids and mostly(data) else sorted(self.payments))
        )
        record = self.payments[payment_id]
        order = self.orders[record.order]

        async def confirm():
            payment = await payments.get_payment(payment_id)
            async with self.runtime.unit_of_work() as uow:
                return await payments.settle(
                    uow, payment, sources=[(ledger.external(record.method), record.amount)], actor_id=None
                )

        if record.status not in OPEN:
            self.refused(confirm(), Conflict, f"payment {payment_id} is {record.status}")
            return
        settled = self.run(confirm())
        escrow = ledger.escrow(f"order:{record.order}")
        if order.state == "awaiting_payment":
            assert (settled.status, settled.failure_reason) == ("completed", None)
            self.move(ledger.external(record.method), escrow, record.amount, order.currency)
            record.status, order.state = "completed", "in_progress"
            return
        why = order.state if order.state in ("completed", "cancelled") else "paid"
        assert settled.status == "refunded"
        assert settled.failure_reason == f"order {record.order} was already {why} when the payment arrived"
        self.move(
            ledger.external(record.method), ledger.credit(order.buyer), record.amount, order.currency
        )  # through the escrow
        record.status = "refunded"

    @precondition(lambda self: self.payments)
    @rule(data=st.data())
    def cancel_payment(self, data):
        open_ids = self.payment_ids(*OPEN)
        payment_id = data.draw(
            st.sampled_from(open_ids if open_ids and mostly(data) else sorted(self.payments))
        )
        record = self.payments[payment_id]
        call = payments.cancel_payment(
            self.runtime, payment_id=payment_id, payer_id=self.orders[record.order].buyer
        )
        if record.status not in OPEN:
            self.refused(call, Conflict, "only open payments can be cancelled")
            return
        assert self.run(call).status == "cancelled"
        record.status = "cancelled"

    @precondition(lambda self: any(self.payments[i].expires_at for i in self.payment_ids(*OPEN)))
    @rule(hours=st.sampled_from([1, 12, 47, 48, 72]), by_worker=st.booleans())
    def expire_payments(self, hours, by_worker):
        """Time passes; unconfirmed transfers expire (the worker's sweep, or the call)."""
        now = self.world.clock.advance(hours=hours)
        if by_worker:
            report = self.run(sweep(self.runtime))
            expired = report.expired_payments
            assert report.escrow_problems == []  # checked: an hour or more has passed
        else:
            expired = self.run(payments.expire_payments(self.runtime))
        due = [i for i in self.payment_ids(*OPEN) if self.payments[i].expires_at is not None]
        due = [i for i in due if self.payments[i].expires_at <= now]
        assert expired == due
        for payment_id in due:
            self.payments[payment_id].status = "expired"

    @precondition(lambda self: self.payment_ids(*FUNDING))
    @rule(data=st.data())
    def legacy_second_payment(self, data):
        """A second open payment of an order already paid (mostly) or being paid, written
        before one payment per order was enforced (no expiry): whichever settles first
        pays the order, any other is handed back exactly when it settles."""
        paid = sorted({self.payments[i].order for i in self.payment_ids("completed")})
        paying = sorted({self.payments[i].order for i in self.payment_ids(*OPEN)})
        order_id = data.draw(st.sampled_from(paid if paid and mostly(data) else paying or paid))
        order = self.orders[order_id]
        now = self.world.clock.now()

        async def insert():
            [row] = await Payment.insert(
                Payment(
                    payer_id=order.buyer,
                    method="testbank",
                    amount=order.total,
                    currency=order.currency,
                    purpose="escrow",
                    escrow_ref=f"order:{order_id}",
                    status="awaiting_funds",
                    reference=f"PAY-LEGACY{self.next_id():04d}",
                    details={},
                    created_at=now,
                    updated_at=now,
                )
            ).returning(Payment.id)
            return row["id"]

        payment_id = self.run(insert())
        self.payments[payment_id] = SimpleNamespace(
            order=order_id, method="testbank", status="awaiting_funds", amount=order.total, expires_at=None
        )

    # -- transitions -----------------------------------------------------------------------

    @precondition(lambda self: self.order_ids("awaiting_payment", "in_progress", "delivered"))
    @rule(data=st.data())
    def move_on(self, data):
        """An order moves on by a transition its state offers, fired by one of its actors:
        mostly forward (the seller delivers, the buyer accepts and the seller is paid),
        else called off (by the buyer before payment, by either party after, by an
        operator at any time; a paid order's escrow goes back to the buyer's credit)."""
        paid = self.order_ids("in_progress", "delivered")
        live = self.order_ids("awaiting_payment", "in_progress", "delivered")
        order_id = data.draw(st.sampled_from(paid if paid and mostly(data) else live))
        state = self.orders[order_id].state
        forward = {"in_progress": "deliver", "delivered": "accept"}.get(state)
        off = ["cancel_unpaid" if state == "awaiting_payment" else "cancel", "refund"]
        name = forward if forward and mostly(data) else data.draw(st.sampled_from(off))
        self._fire(order_id, name, data.draw(st.sampled_from(TRANSITIONS[name][2])))

    @precondition(lambda self: self.orders)
    @rule(
        data=st.data(),
        name=st.sampled_from(sorted(TRANSITIONS)),
        who=st.sampled_from(["buyer", "seller", "operator", "stranger", "system"]),
    )
    def fire_anything(self, data, name, who):
        """Any transition by anyone on any order: the engine allows what the process says
        and refuses the rest with the reason."""
        self._fire(data.draw(st.sampled_from(self.order_ids())), name, who)

    def _fire(self, order_id: int, name: str, who: str) -> None:
        order = self.orders[order_id]
        callers = {"operator": OPERATOR, "system": None}
        caller = callers[who] if who in callers else member(getattr(order, who))
        call = orders_api.fire(self.runtime, order_id, name, caller=caller)
        sources, target, actors = TRANSITIONS[name]
        if who == "stranger":
            self.refused(call, NotFound)
            return
        if name == "paid":  # the process's on_payment: only its payment's settlement fires it
            self.refused(call, orders_api.TransitionNotAllowed)
            return
        if order.state not in sources:
            self.refused(call, orders_api.TransitionNotAllowed)
            return
        if who not in actors:
            self.refused(call, orders_api.ActorNotAllowed)
            return
        fired = self.run(call)
        assert fired.state == target
        escrow = ledger.escrow(f"order:{order_id}")
        if name == "accept":
            self.move(escrow, ledger.available(order.seller), order.net, order.currency)
            self.move(escrow, ledger.PLATFORM_FEES, order.fees, order.currency)
        elif name in ("cancel", "refund") and order.state != "awaiting_payment":
            self.move(escrow, ledger.credit(order.buyer), order.total, order.currency)
        order.state = target

    # -- withdrawals -----------------------------------------------------------------------

    @precondition(lambda self: any(v > 0 for (a, _), v in self.model.items() if a.endswith(":available")))
    @rule(data=st.data())
    def request_withdrawal(self, data):
        pairs = [(m, c) for m in MEMBERS for c in CURRENCIES]
        earned = [p for p in pairs if self.model[(ledger.available(p[0]), p[1])] > 0]
        member_id, currency = data.draw(st.sampled_from(earned if earned and mostly(data) else pairs))
        available = self.model[(ledger.available(member_id), currency)]
        percent = data.draw(st.sampled_from([100, 60, 10, 150]))
        amount = max(1, available * percent // 100) if available else data.draw(st.integers(100, 1000))
        call = withdrawals.request_withdrawal(
            self.runtime,
            member=SimpleNamespace(id=member_id),
            method=PAYOUT,
            amount=amount,
            currency=currency,
            destination={"email": f"m{member_id}@example.com"},
        )
        if amount < PAYOUT_MINIMUM:
            self.refused(call, withdrawals.BelowMinimum)
            return
        if available < amount:
            self.refused(call, ledger.InsufficientFunds)
            return
        withdrawal, _ = self.run(call)
        assert withdrawal.status == "requested"
        self.move(ledger.available(member_id), ledger.clearing(PAYOUT), amount, currency)
        self.withdrawals[withdrawal.id] = ["requested", member_id, amount, currency]

    @precondition(lambda self: self.with_status("requested", "processing"))
    @rule(data=st.data(), outcome=st.sampled_from(["completed", "failed"]))
    def finish_withdrawal(self, data, outcome):
        withdrawal_id = data.draw(st.sampled_from(self.with_status("requested", "processing")))
        record = self.withdrawals[withdrawal_id]
        _, member_id, amount, currency = record
        if outcome == "completed":
            if record[0] == "requested":

                async def process():
                    async with self.runtime.unit_of_work() as uow:
                        await withdrawals.mark_processing(
                            uow, [withdrawal_id], batch_ref=f"b:{withdrawal_id}"
                        )

                self.run(process())
            call = withdrawals.complete_withdrawal(self.runtime, withdrawal_id=withdrawal_id, actor_id=None)
            assert self.run(call).status == "completed"
            self.move(ledger.clearing(PAYOUT), ledger.external(PAYOUT), amount - PAYOUT_FEE, currency)
            self.move(ledger.clearing(PAYOUT), ledger.PLATFORM_FEES, PAYOUT_FEE, currency)
        else:
            call = withdrawals.fail_withdrawal(
                self.runtime, withdrawal_id=withdrawal_id, actor_id=None, reason="bounced"
            )
            assert self.run(call).status == "failed"
            self.move(ledger.clearing(PAYOUT), ledger.available(member_id), amount, currency)
        record[0] = outcome

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def escrows_and_ledger_match_the_model(self):
        self.run(self._check())

    async def _check(self) -> None:
        assert await escrow_problem_lines(self.runtime) == []
        assert await ledger.check_ledger() == []
        rows = await LedgerAccount.select(
            LedgerAccount.name, LedgerAccount.currency, LedgerAccount.kind, LedgerAccount.balance
        )
        for row in rows:
            if row["kind"] != "external":
                assert row["balance"] >= 0, row
        stored = {(r["name"], r["currency"]): r["balance"] for r in rows if r["balance"]}
        assert stored == {key: balance for key, balance in self.model.items() if balance}
        orders = {r["id"]: r["state"] for r in await Order.select(Order.id, Order.state)}
        assert orders == {i: o.state for i, o in self.orders.items()}
        payment_rows = await Payment.select(Payment.id, Payment.status, Payment.escrow_ref)
        assert {r["id"]: r["status"] for r in payment_rows} == {i: p.status for i, p in self.payments.items()}
        completed = Counter(r["escrow_ref"] for r in payment_rows if r["status"] == "completed")
        assert all(count == 1 for count in completed.values()), completed
        statuses = {r["id"]: r["status"] for r in await Withdrawal.select(Withdrawal.id, Withdrawal.status)}
        assert statuses == {i: w[0] for i, w in self.withdrawals.items()}


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_escrow_state_machine(kind, tmp_path):
    run_machine(
        kind,
        tmp_path,
        EscrowMachine,
        plugins=[("test-escrow", EscrowPlugin())],
        config={"money": {"payment_methods": ["balance", *SLOW], "payout_methods": [PAYOUT]}},
        settings=settings(
            max_examples=int(os.environ.get("AGORAKIT_PROPERTY_EXAMPLES", "20")),
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
