"""The money events: payments into escrow and members' withdrawals.

Each class is one domain event of this area (``docs/events.md``); ``subject`` and
``actor_id`` travel on the envelope (:class:`agorakit.events.DomainEvent`).
"""

from __future__ import annotations

from agorakit.events import Event


class PaymentStarted(Event, frozen=True, kw_only=True):
    """A member started a payment with a method."""

    name = "payment.started"
    payment_id: int
    method: str


class PaymentCompleted(Event, frozen=True, kw_only=True):
    """A payment settled: the money is in its escrow."""

    name = "payment.completed"
    payment_id: int
    payer_id: int
    escrow_ref: str | None = None
    method: str


class PaymentFailed(Event, frozen=True, kw_only=True):
    """A payment failed at its provider."""

    name = "payment.failed"
    payment_id: int
    payer_id: int
    reason: str


class PaymentCancelled(Event, frozen=True, kw_only=True):
    """The payer cancelled an open payment."""

    name = "payment.cancelled"
    payment_id: int


class PaymentExpired(Event, frozen=True, kw_only=True):
    """An open payment expired unpaid."""

    name = "payment.expired"
    payment_id: int


class PaymentRefunded(Event, frozen=True, kw_only=True):
    """Money that settled for nothing went back to the payer's credit."""

    name = "payment.refunded"
    payment_id: int
    payer_id: int
    escrow_ref: str | None = None
    method: str
    reason: str


class WithdrawalRequested(Event, frozen=True, kw_only=True):
    """A member asked to withdraw available money."""

    name = "withdrawal.requested"
    withdrawal_id: int
    method: str


class WithdrawalCancelled(Event, frozen=True, kw_only=True):
    """The member cancelled a requested withdrawal."""

    name = "withdrawal.cancelled"
    withdrawal_id: int


class WithdrawalProcessing(Event, frozen=True, kw_only=True):
    """A withdrawal was handed to its payout method."""

    name = "withdrawal.processing"
    withdrawal_id: int


class WithdrawalCompleted(Event, frozen=True, kw_only=True):
    """A withdrawal was paid out."""

    name = "withdrawal.completed"
    withdrawal_id: int
    member_id: int


class WithdrawalFailed(Event, frozen=True, kw_only=True):
    """A payout failed: the money is back in the member's balance."""

    name = "withdrawal.failed"
    withdrawal_id: int
    member_id: int
    reason: str


#: this area's events, registered through ``agorakit_event_types``
EVENTS: list[type[Event]] = [
    PaymentStarted,
    PaymentCompleted,
    PaymentFailed,
    PaymentCancelled,
    PaymentExpired,
    PaymentRefunded,
    WithdrawalRequested,
    WithdrawalCancelled,
    WithdrawalProcessing,
    WithdrawalCompleted,
    WithdrawalFailed,
]
