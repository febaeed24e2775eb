"""Refunding an order after it completed: the money comes back from where it went.

A process whose :class:`~agorakit.orders.process.DisputePolicy` has ``after_states``
(e.g. ``("completed",)``) lets the buyer report an order for ``after_window`` after it
got there.  The escrow was paid out by then, so an operator's refund of ``R`` (all of what
the buyer paid, or part) is one posting, ``dispute:{id}:clawback`` of kind
``order_clawback``:

- ``R`` → the buyer's credit;
- the seller's part ``S`` from their available balance, at the order's fee rate
  (``seller_net / buyer_total`` of ``R``, rounded half up: all of ``R`` gives back exactly
  what the seller was paid);
- the rest, ``R - S``, from ``platform:fees`` (the site's fee comes back).

The seller's available balance may go below zero by this posting, and only by it
(``ledger.post(..., overdraw=...)``): what it leaves below zero is what the seller owes.
Every later earning credits that balance and so pays the debt back first; withdrawals are
refused (409 ``balance_owed``) and paying from the balance cannot use it while it is below
zero.  The order stays in the state it was reported in; a release is refused (the seller
was paid already) and a rejection moves nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agorakit.disputes.schemas import ResolveDispute
from agorakit.disputes.tables import Dispute
from agorakit.errors import Conflict, FieldError, ValidationFailed
from agorakit.money import ledger
from agorakit.money.account_names import CLAWBACK_KIND
from agorakit.money.amounts import format_amount, parse_amount

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import UnitOfWork

#: what a dispute opened after completion refunds from (``Dispute.refund_from``)
FROM_SELLER = "seller"


def seller_part(refund: int, quote: dict[str, Any]) -> int:
    """The seller's part of ``refund``: ``seller_net / buyer_total`` of it, rounded half
    up (the rounding of a partial release); the whole of what the buyer paid gives exactly
    the quote's ``seller_net``."""
    total, net = quote["buyer_total"], quote["seller_net"]
    if total <= 0:
        return refund
    return (2 * net * refund + total) // (2 * total)


async def settle_clawback(
    uow: UnitOfWork, dispute: dict[str, Any], order: dict[str, Any], body: ResolveDispute
) -> tuple[int, int]:
    """Resolve a report on a paid-out order; returns ``(refunded, released)``."""
    if body.outcome == "release":
        message = "the seller was paid for this order already: resolve the report with refund or reject"
        raise ValidationFailed([FieldError("outcome", message)])
    if body.outcome == "reject":
        return 0, 0
    currency = order["currency"]
    quote = (order["data"] or {}).get("quote") or {
        "buyer_total": order["amount"],
        "seller_net": order["amount"],
    }
    earlier = await Dispute.select(Dispute.refunded).where(
        (Dispute.order_id == order["id"]) & (Dispute.status == "resolved")
    )
    refundable = quote["buyer_total"] - sum(d["refunded"] for d in earlier)
    if refundable <= 0:
        raise Conflict("there is nothing left to refund on this order")
    refund = refundable
    if body.amount is not None:
        refund = parse_amount(body.amount, currency, field="amount")
        if refund > refundable:
            problem = f"at most {format_amount(refundable, currency)} {currency} can be refunded"
            raise ValidationFailed([FieldError("amount", problem)])
    from_seller = seller_part(refund, quote)
    seller = ledger.available(order["seller_id"])
    lines = [ledger.Line(ledger.credit(order["buyer_id"]), refund, currency)]
    if from_seller:
        lines.append(ledger.Line(seller, -from_seller, currency))
    if refund - from_seller:
        lines.append(ledger.Line(ledger.PLATFORM_FEES, -(refund - from_seller), currency))
    await ledger.post(
        uow,
        key=f"dispute:{dispute['id']}:clawback",
        kind=CLAWBACK_KIND,
        description=f"Report {dispute['id']} on order {order['id']}: refunded after completion",
        lines=lines,
        refs={"order": order["id"], "dispute": dispute["id"]},
        actor_id=None,
        overdraw=frozenset({seller}),
    )
    return refund, 0
