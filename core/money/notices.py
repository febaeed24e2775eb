"""Who the money area tells about its events (its ``agorakit_notify``).

- ``payment.completed``: the payer, when someone else settled their payment (an operator
  confirming a bank transfer); a member paying from their balance knows already.
- ``payment.expired``: the payer.
- ``payment.refunded``: the payer, with the reason: money that arrived for something that
  no longer needed it went to their credit.
- ``withdrawal.completed`` / ``withdrawal.failed``: the member, unless they did it
  themselves.
- ``voucher.redeemed``: the issuer (``voucher_redeemed``: someone used their gift) and the
  redeemer (``voucher_credited``: the amount is in their credit).
- ``voucher.expired``: the issuer (``voucher_expired``: the value is back in their credit).

Amounts, references and the order a payment was for are read from the payment or
withdrawal itself.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from agorakit.db.prepared import Prepared
from agorakit.events import DomainEvent
from agorakit.money.amounts import format_amount
from agorakit.money.events import (
    PaymentCompleted,
    PaymentExpired,
    PaymentRefunded,
    VoucherExpired,
    VoucherRedeemed,
    WithdrawalCompleted,
    WithdrawalFailed,
)
from agorakit.money.tables import Payment, Voucher, Withdrawal
from agorakit.notifications import Notice

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime


@functools.cache
def _payment_row() -> Prepared:

    return Prepared(lambda id: Payment.select().where(Payment.id == id).first())


@functools.cache
def _withdrawal_row() -> Prepared:

    return Prepared(lambda id: Withdrawal.select().where(Withdrawal.id == id).first())


async def _payment_notice(payment_id: int, template: str, **context: Any) -> list[Notice]:
    row = await _payment_row().run(payment_id)
    if row is None:
        return []
    ref = row["escrow_ref"] or ""
    order_id = int(ref.split(":", 1)[1]) if ref.startswith("order:") and ref[6:].isdigit() else None
    return [
        Notice(
            member_id=row["payer_id"],
            category="money",
            template=template,
            context={
                "payment_id": row["id"],
                "reference": row["reference"],
                "method": row["method"],
                "amount": format_amount(row["amount"], row["currency"]),
                "currency": row["currency"],
                "order_id": order_id,
                **context,
            },
            link=f"/orders/{order_id}" if order_id else f"/payments/{row['id']}",
        )
    ]


async def _withdrawal_notice(event: DomainEvent, withdrawal_id: int, *, reason: str = "") -> list[Notice]:
    row = await _withdrawal_row().run(withdrawal_id)
    if row is None or row["member_id"] == event.actor_id:
        return []
    completed = isinstance(event.payload, WithdrawalCompleted)
    return [
        Notice(
            member_id=row["member_id"],
            category="money",
            template="withdrawal_completed" if completed else "withdrawal_failed",
            context={
                "withdrawal_id": row["id"],
                "method": row["method"],
                "amount": format_amount(row["amount"], row["currency"]),
                "fee": format_amount(row["fee"], row["currency"]),
                "currency": row["currency"],
                "reason": reason or row["failure_reason"] or "",
            },
            link=f"/withdrawals/{row['id']}",
        )
    ]


@functools.cache
def _voucher_hint() -> Prepared:

    return Prepared(lambda id: Voucher.select(Voucher.code_hint).where(Voucher.id == id).first())


async def _voucher_notices(payload: VoucherRedeemed | VoucherExpired) -> list[Notice]:
    row = await _voucher_hint().run(payload.voucher_id)
    context = {
        "voucher_id": payload.voucher_id,
        "hint": row["code_hint"] if row else "",
        "amount": format_amount(payload.amount, payload.currency),
        "currency": payload.currency,
    }

    def notice(member_id: int, template: str, link: str) -> Notice:
        return Notice(member_id=member_id, category="money", template=template, context=context, link=link)

    if isinstance(payload, VoucherExpired):
        return [notice(payload.issuer_id, "voucher_expired", "/me/vouchers")]
    return [
        notice(payload.issuer_id, "voucher_redeemed", "/me/vouchers"),
        notice(payload.redeemer_id, "voucher_credited", "/me/balance"),
    ]


async def money_notices(event: DomainEvent, runtime: Runtime) -> list[Notice] | None:
    """The notices of one money event (None for the events of other areas)."""
    payload = event.payload
    if isinstance(payload, PaymentCompleted):
        if event.actor_id == payload.payer_id:
            return []  # paid by the member themselves (their balance): they know
        return await _payment_notice(payload.payment_id, "payment_settled")
    if isinstance(payload, PaymentExpired):
        return await _payment_notice(payload.payment_id, "payment_expired")
    if isinstance(payload, PaymentRefunded):
        # whoever settled it: a refunded payment is never reported completed
        return await _payment_notice(payload.payment_id, "payment_refunded", reason=payload.reason)
    if isinstance(payload, WithdrawalCompleted):
        return await _withdrawal_notice(event, payload.withdrawal_id)
    if isinstance(payload, WithdrawalFailed):
        return await _withdrawal_notice(event, payload.withdrawal_id, reason=payload.reason)
    if isinstance(payload, VoucherRedeemed | VoucherExpired):
        return await _voucher_notices(payload)
    return None
