"""The money events: payments into escrow, members' withdrawals and vouchers.

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


class VoucherIssued(Event, frozen=True, kw_only=True):
    """A member turned part of their balance into a voucher (the code is never in an event)."""

    name = "voucher.issued"
    voucher_id: int
    issuer_id: int
    #: minor units of ``currency``
    amount: int
    currency: str


class VoucherRedeemed(Event, frozen=True, kw_only=True):
    """Another member redeemed a voucher: its amount went to their credit."""

    name = "voucher.redeemed"
    voucher_id: int
    issuer_id: int
    redeemer_id: int
    amount: int
    currency: str


class VoucherCancelled(Event, frozen=True, kw_only=True):
    """The issuer cancelled an unredeemed voucher: its amount went back where it came from."""

    name = "voucher.cancelled"
    voucher_id: int
    issuer_id: int


class VoucherExpired(Event, frozen=True, kw_only=True):
    """A voucher was not redeemed in time: its amount went back to the issuer's credit."""

    name = "voucher.expired"
    voucher_id: int
    issuer_id: int
    amount: int
    currency: str


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
    VoucherIssued,
    VoucherRedeemed,
    VoucherCancelled,
    VoucherExpired,
]
