"""Payments collected by an outside provider (PayPal, a bank): what pay-in method plugins
do to a payment while its provider works.

A provider's method starts a payment ``pending`` or ``awaiting_funds``
(:class:`agorakit.money.methods.PaymentStep`); then, each in the caller's unit of work:

- :func:`attach_provider_ref` keeps the provider's reference (its order, its transfer)
  and details with the open payment;
- :func:`keep_open` stops the payment from expiring while the provider holds the money
  and decides;
- :func:`settle_from_provider` settles it when the money arrived
  (``external:<method>`` → the payer's credit or the escrow, exactly once);
- :func:`fail_payment` ends it when the provider refused it (``payment.failed``);
- :func:`credit_late_payment` gives the payer, as site credit, money the provider took
  for a payment that had ended unpaid (expired, cancelled or failed meanwhile).

Every change is conditional on the payment still being open, so a route, a webhook and
the worker may all try: the first one acts, the others change nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agorakit.http import QueueCount, count_queue
from agorakit.money import ledger
from agorakit.money.events import PaymentFailed
from agorakit.money.payments import OPEN_STATUSES, minor_units, settle
from agorakit.money.schemas import PaymentOut
from agorakit.money.tables import Payment

if TYPE_CHECKING:  # pragma: no cover - typing only
    from agorakit.runtime import UnitOfWork

#: statuses of a payment that ended without its money: money arriving for one is credited
UNPAID_ENDS = ("expired", "cancelled", "failed")


def _open(payment_id: int) -> Any:
    return (Payment.id == payment_id) & Payment.status.is_in(list(OPEN_STATUSES))


def _merged(payment: PaymentOut, details: dict[str, Any] | None) -> dict[str, Any]:
    return {**payment.details, **(details or {})}


async def attach_provider_ref(
    uow: UnitOfWork, payment: PaymentOut, provider_ref: str, *, details: dict[str, Any] | None = None
) -> bool:
    """Keep the provider's reference for ``payment`` (``provider_ref``) and ``details``
    merged into its details; False (nothing changed) when it is no longer open."""
    updated = (
        await Payment.update(
            {
                Payment.provider_ref: provider_ref,
                Payment.details: _merged(payment, details),
                Payment.updated_at: uow.now,
            }
        )
        .where(_open(payment.id))
        .returning(Payment.id)
    )
    return bool(updated)


async def keep_open(uow: UnitOfWork, payment: PaymentOut, *, details: dict[str, Any] | None = None) -> bool:
    """The provider holds the payer's money and has not decided yet: the open payment no
    longer expires; ``details`` are merged into its details.  False (nothing changed)
    when it is no longer open."""
    updated = (
        await Payment.update(
            {
                Payment.expires_at: None,
                Payment.details: _merged(payment, details),
                Payment.updated_at: uow.now,
            }
        )
        .where(_open(payment.id))
        .returning(Payment.id)
    )
    return bool(updated)


async def settle_from_provider(
    uow: UnitOfWork, payment: PaymentOut, *, actor_id: int | None, details: dict[str, Any] | None = None
) -> PaymentOut:
    """The payment's whole amount arrived through its method's provider: move it from
    ``external:<method>`` into the payment's target and mark it completed
    (:func:`agorakit.money.payments.settle`; a payment no longer open is a 409)."""
    sources = [(ledger.external(payment.method), minor_units(payment))]
    return await settle(uow, payment, sources=sources, actor_id=actor_id, details=details)


async def fail_payment(
    uow: UnitOfWork, payment: PaymentOut, *, reason: str, actor_id: int | None = None
) -> bool:
    """The provider refused the payment: an open payment ends ``failed`` with ``reason``
    and its payer is told (``payment.failed``).  False (nothing changed) when it is no
    longer open."""
    failed = (
        await Payment.update(
            {Payment.status: "failed", Payment.failure_reason: reason, Payment.updated_at: uow.now}
        )
        .where(_open(payment.id))
        .returning(Payment.id)
    )
    if failed:
        uow.record(
            PaymentFailed(payment_id=payment.id, payer_id=payment.payer_id, reason=reason),
            subject=f"payment:{payment.id}",
            actor_id=actor_id,
        )
    return bool(failed)


async def credit_late_payment(
    uow: UnitOfWork, payment: PaymentOut, *, amount: int, key: str, kind: str, description: str
) -> bool:
    """Money the provider took for ``payment`` after it ended unpaid (expired, cancelled
    or failed meanwhile) goes to the payer's site credit: ``amount`` minor units from
    ``external:<method>``, posted once under the ledger key ``key`` (never lost, never
    credited twice).  True when it was credited now, False when ``key`` had been posted.

    :raises LedgerError: the payment is open, completed or refunded (settle an open one;
        a completed one has its money already).
    """
    if payment.status not in UNPAID_ENDS:
        message = f"payment {payment.id} is {payment.status}; only money for an unpaid payment becomes credit"
        raise ledger.LedgerError(message)
    posting = await ledger.post(
        uow,
        key=key,
        kind=kind,
        description=description,
        lines=ledger.move(
            ledger.external(payment.method), ledger.credit(payment.payer_id), amount, payment.amount.currency
        ),
        refs={"payment": payment.id},
        actor_id=None,
    )
    return posting.created


async def open_payment_ids(method: str) -> list[int]:
    """The ids of the open payments (pending or awaiting funds) of a method, oldest first."""
    rows = await (
        Payment.select(Payment.id)
        .where((Payment.method == method) & Payment.status.is_in(list(OPEN_STATUSES)))
        .order_by(Payment.id)
    )
    return [row["id"] for row in rows]


async def count_payments(method: str, status: str) -> QueueCount:
    """How many payments of a method are in ``status``, and since when the oldest one
    waits (created), in one statement: a method's operator queue (bank transfers waiting
    for an operator's confirmation)."""
    return await count_queue(
        Payment, (Payment.method == method) & (Payment.status == status), since=Payment.created_at
    )
