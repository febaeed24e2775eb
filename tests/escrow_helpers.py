"""The site an escrow property test runs: an order process with escrow, two slow pay-ins
(an expiring bank transfer, a provider payment that stays pending), a payout method and
a 5% buyer service fee beside the core's 20% seller commission."""

from __future__ import annotations

from datetime import timedelta

from money_helpers import ManualPayout

import agorakit
from agorakit.money.fees import FeeLine, percent_of
from agorakit.money.methods import PaymentStep
from agorakit.orders.process import Process, Transition

#: the slow pay-in methods and the status their payments wait in
SLOW = {"testbank": "awaiting_funds", "testcard": "pending"}
EXPIRY = timedelta(hours=48)
PAYOUT, PAYOUT_FEE, PAYOUT_MINIMUM = "testwire", 25, 100
SERVICE_FEE_PERCENT = "5"


def escrow_process() -> Process:
    def move(name, sources, target, actors, effects=()):
        return Transition(name=name, sources=sources, target=target, actors=actors, effects=effects)

    return Process(
        name="testescrow",
        version=1,
        states=("awaiting_payment", "in_progress", "delivered", "completed", "cancelled"),
        initial="awaiting_payment",
        final=("completed", "cancelled"),
        transitions=(
            move("paid", ("awaiting_payment",), "in_progress", ("system",)),
            move("deliver", ("in_progress",), "delivered", ("seller",)),
            move("accept", ("delivered",), "completed", ("buyer",), ("release_escrow",)),
            move("cancel_unpaid", ("awaiting_payment",), "cancelled", ("buyer",)),
            move(
                "cancel", ("in_progress", "delivered"), "cancelled", ("buyer", "seller"), ("refund_escrow",)
            ),
            move(
                "refund",
                ("awaiting_payment", "in_progress", "delivered"),
                "cancelled",
                ("operator",),
                ("refund_escrow",),
            ),
        ),
        on_payment="paid",
    )


#: the process's transitions as the model knows them: (sources, target, actors)
TRANSITIONS = {t.name: (t.sources, t.target, t.actors) for t in escrow_process().transitions}


class SlowBank:
    """A bank-transfer-like pay-in: it waits for the money until someone confirms it."""

    name = "testbank"
    label = "Test bank transfer"

    async def start(self, *, runtime, uow, payment):
        return PaymentStep(status="awaiting_funds", expires_at=uow.now + EXPIRY)


class SlowCard:
    """A provider-backed pay-in (PayPal-like): pending, with no expiry, until the
    provider reports the money captured."""

    name = "testcard"
    label = "Test card"

    async def start(self, *, runtime, uow, payment):
        return PaymentStep(status="pending", provider_ref=f"CARD-{payment.id}")


class EscrowPlugin:
    """The test process, two slow pay-ins, a payout method and a 5% buyer service fee."""

    @agorakit.hookimpl
    def agorakit_processes(self, runtime):
        return [escrow_process()]

    @agorakit.hookimpl
    def agorakit_payment_methods(self):
        return [SlowBank(), SlowCard()]

    @agorakit.hookimpl
    def agorakit_payout_methods(self):
        return [ManualPayout(PAYOUT, minimum=PAYOUT_MINIMUM, fee=PAYOUT_FEE, label="Test wire")]

    @agorakit.hookimpl
    def agorakit_compute_fees(self, quote):
        return [
            FeeLine(payer="buyer", amount=percent_of(quote.amount, SERVICE_FEE_PERCENT), label="Service fee")
        ]
