"""Paying for orders: one payment funds an order's escrow, once.

- :func:`pay_order` is the buyer's "pay this order" with any payment method.
- :func:`check_payment_start` runs for every payment that starts, whatever its method and
  whoever starts it (``agorakit_payment_starting``): a payment into an order's escrow
  locks the order in the transaction that debits the payer, and is refused while another
  payment of the order is open or completed, when the order cannot be paid in its state,
  or when it is not for exactly what the order costs.
- :func:`on_payment_settled` moves the order on when its payment settles.  A payment that
  settles for an order that no longer needs it (paid meanwhile, cancelled, expired) is
  handed back: exactly its own amount goes to the payer's credit and the payment ends
  ``refunded``; nothing else the escrow holds moves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agorakit.db import is_unique_violation
from agorakit.errors import Conflict, Forbidden, NotFound
from agorakit.money import payments
from agorakit.money.amounts import format_amount
from agorakit.orders.engine import _fire
from agorakit.orders.process import TransitionNotAllowed
from agorakit.orders.process_registry import registry
from agorakit.orders.queries import _visible_roles, locked_order_row, order_with_items

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts.schemas import MemberOut
    from agorakit.money.schemas import PaymentOut
    from agorakit.runtime import Runtime, UnitOfWork

ORDER_PREFIX = "order:"


class OrderAlreadyPaid(Conflict):
    code = "order_already_paid"
    title = "The order is already paid or being paid"


def order_id_of(escrow_ref: str | None) -> int | None:
    """``"order:12"`` → 12; None for an escrow that is not an order's."""
    if not escrow_ref or not escrow_ref.startswith(ORDER_PREFIX):
        return None
    tail = escrow_ref[len(ORDER_PREFIX) :]
    return int(tail) if tail.isdigit() else None


def _payment_transition(runtime: Runtime, row: dict[str, Any]) -> Any:
    process = registry(runtime).get(row["process"], row["process_version"])
    return process.transition(process.on_payment) if process.on_payment else None


async def pay_order(
    runtime: Runtime, order_id: int, *, caller: MemberOut, method: str, idempotency_key: str | None = None
) -> tuple[Any, bool]:
    """The buyer pays the order's total (with buyer fees) into its escrow; ``(payment, replayed)``.

    One unit of work: the order is read with its items and locked first (one payment
    funds an order, whatever else pays it at the same moment), then the payment starts in
    the same transaction.  A method that settles at once (``balance``) moves the order on
    there too; others (``bank_transfer``) move it when the payment settles.
    """
    ref = f"{ORDER_PREFIX}{order_id}"
    try:
        async with runtime.unit_of_work():
            order, _ = await order_with_items(order_id, for_update=True)
            process = registry(runtime).processes.get((order["process"], order["process_version"]))
            await _visible_roles(runtime, order, caller, process)
            if caller.id != order["buyer_id"]:
                raise Forbidden("only the buyer pays for the order")
            if idempotency_key is not None:
                # A replay answers with the first payment even though the order has moved on.
                first = await _replayed(order, ref, method, idempotency_key)
                if first is not None:
                    return first, True
            return await payments.start_payment(
                runtime,
                payer_id=order["buyer_id"],
                method=method,
                amount=order["data"]["quote"]["buyer_total"],
                currency=order["currency"],
                purpose="escrow",
                escrow_ref=ref,
                seller_id=order["seller_id"],
                idempotency_key=idempotency_key,
            )
    except Exception as exc:
        if idempotency_key is not None and (is_unique_violation(exc) or isinstance(exc, Conflict)):
            # A concurrent request with the same key won the race: answer with its payment.
            first = await payments.payment_by_key(caller.id, idempotency_key)
            if first is not None and first.escrow_ref == ref and first.method == method:
                return first, True
        raise


async def _replayed(order: dict[str, Any], ref: str, method: str, key: str) -> Any:
    first = await payments.payment_by_key(order["buyer_id"], key)
    if first is not None and first.escrow_ref == ref and first.method == method:
        return first
    return None


async def check_payment_start(
    uow: UnitOfWork, *, amount: int, currency: str, purpose: str, escrow_ref: str | None
) -> None:
    """Refuse a payment into an order's escrow that the order cannot take (see the module)."""
    order_id = order_id_of(escrow_ref) if purpose == "escrow" else None
    if order_id is None:
        return
    try:
        row = await locked_order_row(order_id)  # held until the payment commits
    except NotFound:
        return  # an escrow named like an order but not run by the engine
    # (none when the order's locked read found none: see agorakit.orders.order_with_items)
    funding = [] if uow.held("order_funded", order_id) is False else None
    uow.hold("order_funded", order_id, None)  # this payment may fund it: a later one reads
    for payment in (
        funding if funding is not None else await payments.funding_payments(f"{ORDER_PREFIX}{order_id}")
    ):
        if payment.status == "completed":
            message = f"order {order_id} is already paid, by payment {payment.id} ({payment.method})"
        else:
            message = (
                f"order {order_id} is already being paid by payment {payment.id} "
                f"({payment.method}, {payment.status}); cancel that payment "
                f"(POST /payments/{payment.id}/cancel) to pay another way"
            )
        extra = {"payment_id": payment.id, "payment_status": payment.status, "method": payment.method}
        raise OrderAlreadyPaid(message, extra=extra)
    transition = _payment_transition(uow.runtime, row)
    if transition is None or row["state"] not in transition.sources:
        message = f"order {order_id} is {row['state']}; it cannot be paid now"
        raise TransitionNotAllowed(message, extra={"state": row["state"]})
    quote = (row["data"] or {}).get("quote") or {}
    due = quote.get("buyer_total")
    if (due is not None and amount != due) or currency != row["currency"]:
        owed = f"{format_amount(due, row['currency'])} {row['currency']}" if due is not None else "?"
        message = (
            f"order {order_id} costs {owed}; a payment of "
            f"{format_amount(amount, currency)} {currency} cannot pay it"
        )
        raise Conflict(message, extra={"state": row["state"]})


async def on_payment_settled(uow: UnitOfWork, payment: PaymentOut) -> None:
    """Move an order on when its payment settles (``Process.on_payment``), or hand the
    payment back when the order no longer needs it."""
    order_id = order_id_of(payment.escrow_ref)
    if order_id is None:
        return
    try:
        row = await locked_order_row(order_id)
    except NotFound:
        return  # an escrow named like an order but not run by the engine: nothing to move
    transition = _payment_transition(uow.runtime, row)
    process = registry(uow.runtime).get(row["process"], row["process_version"])
    due = ((row["data"] or {}).get("quote") or {}).get("buyer_total")
    paid = payments.minor_units(payment)
    if transition is not None and row["state"] in transition.sources:
        if (due is None or paid == due) and payment.amount.currency == row["currency"]:
            data = {"payment": payment.id}
            await _fire(uow, order_id, transition.name, caller=None, data=data, row=row, settling=True)
            return
        # Only a payment written around check_payment_start gets here (a row from before
        # it, a plugin's own insert): it would leave the escrow holding the wrong amount.
        owed = f"{format_amount(due, row['currency'])} {row['currency']}" if due is not None else "?"
        reason = f"order {order_id} costs {owed}, not {payment.amount.amount} {payment.amount.currency}"
    elif row["state"] in process.final:
        reason = f"order {order_id} was already {row['state']} when the payment arrived"
    else:
        reason = f"order {order_id} was already paid when the payment arrived"
    await payments.refund_settled_payment(uow, payment, reason=reason)


__all__ = ["OrderAlreadyPaid", "check_payment_start", "on_payment_settled", "order_id_of", "pay_order"]
