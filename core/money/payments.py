"""Pay-ins: deposits to a member's credit and the funding of escrows.

``start_payment`` creates the payment and lets its method act in the same transaction:
the ``balance`` method settles at once; ``bank_transfer`` waits (``awaiting_funds``) for
an operator to confirm receipt; unconfirmed payments expire.  Settling posts
``source → target`` exactly once (the posting's key is ``payment:{id}:settle``).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from agorakit.db import is_unique_violation
from agorakit.db.prepared import Prepared, PreparedInsert, PreparedRaw
from agorakit.errors import Conflict, FieldError, NotFound, ValidationFailed
from agorakit.money import ledger
from agorakit.money.amounts import format_amount, money, parse_amount
from agorakit.money.events import (
    PaymentCancelled,
    PaymentCompleted,
    PaymentExpired,
    PaymentRefunded,
    PaymentStarted,
)
from agorakit.money.methods import PaymentStep, refuse_if_unavailable
from agorakit.money.schemas import PaymentOut
from agorakit.money.tables import Payment
from agorakit.pagination import decode_cursor, page
from agorakit.runtime import current_unit_of_work

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime, UnitOfWork

OPEN_STATUSES = ("pending", "awaiting_funds")
#: statuses of a payment that is funding, or has funded, its target
FUNDING_STATUSES = (*OPEN_STATUSES, "completed")


class IdempotencyKeyReused(ValidationFailed):
    code = "idempotency_key_reused"
    title = "The Idempotency-Key was used for a different request"

    def __init__(self, what: str) -> None:
        message = f"this Idempotency-Key was already used for a different {what}; use a new key"
        super().__init__([FieldError("Idempotency-Key", message, "header")], detail=message)


def to_payment(row: dict[str, Any]) -> PaymentOut:
    return PaymentOut(
        id=row["id"],
        payer_id=row["payer_id"],
        method=row["method"],
        amount=money(row["amount"], row["currency"]),
        purpose=row["purpose"],
        escrow_ref=row["escrow_ref"],
        status=row["status"],
        reference=row["reference"],
        details=row["details"] or {},
        failure_reason=row["failure_reason"],
        expires_at=row["expires_at"],
        completed_at=row["completed_at"],
        created_at=row["created_at"],
    )


_PAYMENT = Prepared(lambda id: Payment.select().where(Payment.id == id).first().output(load_json=True))
_PAYERS_PAYMENT = Prepared(
    lambda id, payer: (
        Payment.select()
        .where((Payment.id == id) & (Payment.payer_id == payer))
        .first()
        .output(load_json=True)
    )
)


async def get_payment(payment_id: int, *, payer_id: int | None = None) -> PaymentOut:
    """One payment; with ``payer_id``, only if it is theirs (404 otherwise)."""
    if payer_id is None:
        row = await _PAYMENT.run(payment_id)
    else:
        row = await _PAYERS_PAYMENT.run(payment_id, payer_id)
    if row is None:
        raise NotFound(f"there is no payment {payment_id}")
    return to_payment(row)


def target_account(payment: PaymentOut) -> str:
    if payment.purpose == "deposit":
        return ledger.credit(payment.payer_id)
    assert payment.escrow_ref is not None
    return ledger.escrow(payment.escrow_ref)


def methods(runtime: Runtime) -> dict[str, Any]:
    return runtime.payment_methods


_INSERT_PAYMENT = PreparedInsert(Payment)


async def start_payment(
    runtime: Runtime,
    *,
    payer_id: int,
    method: str,
    amount: int,
    currency: str,
    purpose: str = "deposit",
    escrow_ref: str | None = None,
    seller_id: int | None = None,
    idempotency_key: str | None = None,
) -> tuple[PaymentOut, bool]:
    """Create a payment and start it; returns ``(payment, replayed)``.

    With an ``idempotency_key`` already used by this payer for the same request, nothing
    happens and the first payment is returned (``replayed`` is True).
    """
    chosen = methods(runtime).get(method)
    if chosen is None:
        offered = ", ".join(methods(runtime)) or "none"
        raise ValidationFailed(
            [FieldError("method", f"unknown payment method {method!r}; offered: {offered}")]
        )
    if purpose not in ("deposit", "escrow") or (purpose == "escrow") != (escrow_ref is not None):
        message = f"a payment is a deposit, or funds an escrow given by escrow_ref (got {purpose!r})"
        raise ValueError(message)
    refuse_if_unavailable(chosen)
    request = (method, amount, currency, purpose, escrow_ref)
    # Inside a caller's unit of work (an order's payment), a failure leaves the caller's
    # transaction to roll back: the caller answers a lost race for the key itself.
    nested = current_unit_of_work() is not None
    try:
        async with runtime.unit_of_work() as uow:
            if idempotency_key is not None:
                first = await payment_by_key(payer_id, idempotency_key)
                if first is not None:
                    if _request_of(first) != request:
                        raise IdempotencyKeyReused("payment")
                    return first, True
            await runtime.hooks.collect(
                "agorakit_payment_starting",
                uow=uow,
                payer_id=payer_id,
                method=method,
                amount=amount,
                currency=currency,
                purpose=purpose,
                escrow_ref=escrow_ref,
            )
            now = uow.now
            row = {
                "payer_id": payer_id,
                "method": method,
                "amount": amount,
                "currency": currency,
                "purpose": purpose,
                "escrow_ref": escrow_ref,
                "status": "pending",
                "reference": _reference(),
                "idempotency_key": idempotency_key,
                "details": {},
                "failure_reason": None,
                "expires_at": None,
                "completed_at": None,
                "created_at": now,
                "updated_at": now,
            }
            [inserted] = await _INSERT_PAYMENT.run(row)
            payment = to_payment({**row, "id": inserted["id"]})  # what a read would give
            if escrow_ref is not None:
                ledger.set_escrow_parties(uow, escrow_ref, currency, buyer_id=payer_id, seller_id=seller_id)
            uow.record(
                PaymentStarted(payment_id=payment.id, method=method),
                subject=f"payment:{payment.id}",
                actor_id=payer_id,
            )
            step: PaymentStep = await chosen.start(runtime=runtime, uow=uow, payment=payment)
            if step.status != "completed":
                await Payment.update(
                    {
                        Payment.status: step.status,
                        Payment.details: step.details,
                        Payment.expires_at: step.expires_at,
                        Payment.provider_ref: step.provider_ref,
                        Payment.updated_at: now,
                    }
                ).where(Payment.id == payment.id)
            # settled (or handed back) in this transaction: as settle() left it
            payment = uow.held("payment", payment.id) or await get_payment(payment.id)
            if step.status == "completed" and payment.status != "completed":
                message = f"payment method {method!r} said completed but did not settle the payment"
                raise RuntimeError(message)
    except Exception as exc:
        if (
            idempotency_key is not None
            and not nested
            and (is_unique_violation(exc) or isinstance(exc, Conflict))
        ):
            # A concurrent request with the same key won the race (its row, or the lock
            # its target took, made this one fail): answer with its payment.
            first = await payment_by_key(payer_id, idempotency_key)
            if first is not None and _request_of(first) == request:
                return first, True
        raise
    return payment, False


def _request_of(payment: PaymentOut) -> tuple[Any, ...]:
    """What an Idempotency-Key stands for: the same key must mean the same payment."""
    return (
        payment.method,
        minor_units(payment),
        payment.amount.currency,
        payment.purpose,
        payment.escrow_ref,
    )


def minor_units(payment: PaymentOut) -> int:
    """The payment's amount in minor units of its currency."""

    return parse_amount(payment.amount.amount, payment.amount.currency, allow_zero=True)


_PAYMENT_BY_KEY = Prepared(
    lambda payer, key: (
        Payment.select()
        .where((Payment.payer_id == payer) & (Payment.idempotency_key == key))
        .first()
        .output(load_json=True)
    )
)


async def payment_by_key(payer_id: int, key: str) -> PaymentOut | None:
    """The payment a payer started with an Idempotency-Key, if any."""
    row = await _PAYMENT_BY_KEY.run(payer_id, key)
    return to_payment(row) if row else None


def _reference() -> str:
    return "PAY-" + secrets.token_hex(5).upper()


#: an open payment completed, with its details (JSON text); nothing if it is not open
_COMPLETE = PreparedRaw(
    Payment,
    "UPDATE core_payment SET status = 'completed', completed_at = {}, updated_at = {}, details = {} "
    f"WHERE id = {{}} AND status IN ({', '.join(repr(s) for s in OPEN_STATUSES)}) RETURNING id",
)


async def settle(
    uow: UnitOfWork,
    payment: PaymentOut,
    *,
    sources: list[tuple[str, int]],
    actor_id: int | None,
    details: dict[str, Any] | None = None,
) -> PaymentOut:
    """Move the payment's money from ``sources`` into its target and mark it completed.

    Call inside the unit of work of the confirming action.  A payment that is no longer
    open (completed, expired, cancelled) is a 409 and moves nothing.
    """
    currency = payment.amount.currency
    total = sum(amount for _, amount in sources)
    if total != minor_units(payment):
        message = f"sources {total} do not cover payment {payment.id} of {minor_units(payment)}"
        raise ledger.LedgerError(message)
    merged = msgspec.json.encode({**payment.details, **(details or {})}).decode()
    updated = await _COMPLETE.run(uow.now, uow.now, merged, payment.id)
    if not updated:
        current = await get_payment(payment.id)
        raise Conflict(f"payment {payment.id} is {current.status}; only open payments can be completed")
    lines = [ledger.Line(account, -amount, currency) for account, amount in sources if amount]
    lines.append(ledger.Line(target_account(payment), total, currency))
    what = "deposit to your credit" if payment.purpose == "deposit" else f"payment for {payment.escrow_ref}"
    await ledger.post(
        uow,
        key=f"payment:{payment.id}:settle",
        kind="payment_completed",
        description=f"{what} by {payment.method} ({payment.reference})",
        lines=lines,
        refs={"payment": payment.id, **({"escrow": payment.escrow_ref} if payment.escrow_ref else {})},
        actor_id=actor_id,
    )
    # What a read would give now (the UPDATE above set exactly these).
    settled = msgspec.structs.replace(
        payment, status="completed", completed_at=uow.now, details=msgspec.json.decode(merged)
    )
    uow.hold("payment", payment.id, settled)
    await uow.runtime.hooks.collect("agorakit_payment_settled", uow=uow, payment=settled)
    current = uow.held("payment", payment.id)  # refund_settled_payment holds what it did
    if current.status == "completed":  # not handed back by refund_settled_payment
        uow.record(
            PaymentCompleted(
                payment_id=payment.id,
                payer_id=payment.payer_id,
                escrow_ref=payment.escrow_ref,
                method=payment.method,
            ),
            subject=f"payment:{payment.id}",
            actor_id=actor_id,
        )
    return current


#: a completed payment handed back; nothing if it is not completed
_REFUND = PreparedRaw(
    Payment,
    "UPDATE core_payment SET status = 'refunded', failure_reason = {}, updated_at = {} "
    "WHERE id = {} AND status = 'completed' RETURNING id",
)


async def refund_settled_payment(uow: UnitOfWork, payment: PaymentOut, *, reason: str) -> PaymentOut:
    """Hand a payment that has just settled back to its payer, as site credit.

    For money that arrives for something that no longer needs it (an order already paid
    by another payment, cancelled or expired meanwhile): exactly the payment's own
    amount goes from its target to the payer's credit, nothing else the target holds.
    The payment ends ``refunded`` with ``reason`` as its ``failure_reason``, and the
    payer is told (``payment.refunded``).  Call it in the unit of work of the settlement
    (from ``agorakit_payment_settled``); a payment that is not completed is a 409.
    """
    currency = payment.amount.currency
    amount = minor_units(payment)
    updated = await _REFUND.run(reason, uow.now, payment.id)
    if not updated:
        current = await get_payment(payment.id)
        raise Conflict(f"payment {payment.id} is {current.status}; only a completed payment can be refunded")
    await ledger.post(
        uow,
        key=f"payment:{payment.id}:refund",
        kind="payment_refunded",
        description=f"payment {payment.reference} refunded to your credit: {reason}",
        lines=ledger.move(target_account(payment), ledger.credit(payment.payer_id), amount, currency),
        refs={"payment": payment.id, **({"escrow": payment.escrow_ref} if payment.escrow_ref else {})},
        actor_id=None,
    )
    uow.record(
        PaymentRefunded(
            payment_id=payment.id,
            payer_id=payment.payer_id,
            escrow_ref=payment.escrow_ref,
            method=payment.method,
            reason=reason,
        ),
        subject=f"payment:{payment.id}",
    )
    refunded = msgspec.structs.replace(payment, status="refunded", failure_reason=reason)
    uow.hold("payment", payment.id, refunded)
    return refunded


_FUNDING = Prepared(
    lambda ref: (
        Payment.select()
        .where((Payment.escrow_ref == ref) & Payment.status.is_in(list(FUNDING_STATUSES)))
        .order_by(Payment.id)
        .output(load_json=True)
    )
)


async def funding_payments(escrow_ref: str) -> list[PaymentOut]:
    """Payments of an escrow that are open or completed (not failed, expired, cancelled
    or refunded), oldest first."""
    return [to_payment(row) for row in await _FUNDING.run(escrow_ref)]


async def cancel_payment(runtime: Runtime, *, payment_id: int, payer_id: int) -> PaymentOut:
    async with runtime.unit_of_work() as uow:
        payment = await get_payment(payment_id, payer_id=payer_id)
        updated = (
            await Payment.update({Payment.status: "cancelled", Payment.updated_at: uow.now})
            .where((Payment.id == payment_id) & Payment.status.is_in(list(OPEN_STATUSES)))
            .returning(Payment.id)
        )
        if not updated:
            raise Conflict(f"payment {payment_id} is {payment.status}; only open payments can be cancelled")
        uow.record(
            PaymentCancelled(payment_id=payment_id), subject=f"payment:{payment_id}", actor_id=payer_id
        )
    return await get_payment(payment_id)


async def expire_payments(runtime: Runtime) -> list[int]:
    """Expire every open payment whose ``expires_at`` has passed; returns their ids."""
    async with runtime.unit_of_work() as uow:
        rows = (
            await Payment.update(
                {
                    Payment.status: "expired",
                    Payment.updated_at: uow.now,
                    Payment.failure_reason: "not paid in time",
                }
            )
            .where(
                Payment.status.is_in(list(OPEN_STATUSES))
                & Payment.expires_at.is_not_null()
                & (Payment.expires_at <= uow.now)
            )
            .returning(Payment.id)
        )
        ids = sorted(row["id"] for row in rows)
        for payment_id in ids:
            uow.record(PaymentExpired(payment_id=payment_id), subject=f"payment:{payment_id}")
    return ids


async def list_payments(
    *,
    cursor: str | None,
    limit: int,
    payer_id: int | None = None,
    status: str | None = None,
    method: str | None = None,
) -> tuple[list[PaymentOut], str | None]:
    """Newest first."""
    query = Payment.select().order_by(Payment.id, ascending=False).limit(limit + 1)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Payment.id < int(position["id"]))
    if payer_id is not None:
        query = query.where(Payment.payer_id == payer_id)
    if status:
        query = query.where(Payment.status == status)
    if method:
        query = query.where(Payment.method == method)
    rows, next_cursor = page(await query.output(load_json=True), limit, lambda row: {"id": row["id"]})
    return [to_payment(row) for row in rows], next_cursor


# --------------------------------------------------------------------------------------
# The core's ``balance`` method
# --------------------------------------------------------------------------------------


class BalanceMethod:
    """Pay from your site balance: credit first, then available.  Settles at once."""

    name = "balance"
    label = "Your balance"

    async def start(self, *, runtime: Runtime, uow: UnitOfWork, payment: PaymentOut) -> PaymentStep:
        if payment.purpose == "deposit":
            message = "a deposit brings money in from outside; choose another payment method"
            raise ValidationFailed([FieldError("method", message)])
        currency = payment.amount.currency
        needed = minor_units(payment)
        # Locked until the payment settles: concurrent payments see each other's spending.
        held = await ledger.balances_for_update(
            [ledger.credit(payment.payer_id), ledger.available(payment.payer_id)], currency
        )
        credit_balance = held[ledger.credit(payment.payer_id)]
        # (below zero while the payer owes a clawback: then only their credit can pay)
        available_balance = max(held[ledger.available(payment.payer_id)], 0)
        if credit_balance + available_balance < needed:
            have = format_amount(credit_balance + available_balance, currency)
            detail = (
                f"your balance is {have} {currency} (credit and available together); "
                f"this needs {format_amount(needed, currency)} {currency}"
            )
            raise ledger.InsufficientFunds(detail)
        from_credit = min(credit_balance, needed)
        sources = [
            (ledger.credit(payment.payer_id), from_credit),
            (ledger.available(payment.payer_id), needed - from_credit),
        ]
        await settle(
            uow,
            payment,
            sources=sources,
            actor_id=payment.payer_id,
            details={"from_credit": from_credit, "from_available": needed - from_credit},
        )
        return PaymentStep(status="completed")


def expiry(now: datetime, hours: int) -> datetime:

    return now + timedelta(hours=hours)


__all__ = [
    "FUNDING_STATUSES",
    "OPEN_STATUSES",
    "BalanceMethod",
    "IdempotencyKeyReused",
    "funding_payments",
    "get_payment",
    "minor_units",
    "refund_settled_payment",
    "settle",
    "start_payment",
]
