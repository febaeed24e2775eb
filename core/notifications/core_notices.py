"""Who the core tells about its own events (the core's ``agorakit_notify``).

Each function takes a committed event and returns notices; facts that the event's data
does not carry (an order's parties, a listing's title, a payment's amount) are read from
the database.  The rules that keep members from being told the same thing twice:

- nobody is told about what they did themselves (``event.actor_id``), except receipts
  of account changes (welcome, password changed);
- the payer hears of a payment (``payment.completed``) only when someone else settled it
  (an operator confirming a bank transfer).

The orders area tells about its own events (``agorakit.orders.notices``).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from agorakit.db.prepared import Prepared
from agorakit.events import DomainEvent
from agorakit.notifications import Notice


def _subject_id(event: DomainEvent) -> int | None:
    _, _, value = event.subject.partition(":")
    return int(value) if value.isdigit() else None


# --------------------------------------------------------------------------------------
# Listings and qualifications
# --------------------------------------------------------------------------------------


async def listing_moderated(event: DomainEvent, runtime: Any) -> list[Notice]:
    from agorakit.catalog.tables import Listing

    listing_id = _subject_id(event)
    owner_id = event.data.get("owner_id")
    if listing_id is None or owner_id is None:
        return []
    row = await Listing.select(Listing.title).where(Listing.id == listing_id).first()
    approved = event.name == "listing.approved"
    return [
        Notice(
            member_id=owner_id,
            category="listings",
            template="listing_approved" if approved else "listing_rejected",
            context={
                "listing_id": listing_id,
                "title": row["title"] if row else f"#{listing_id}",
                "reason": event.data.get("reason") or "",
            },
            link=f"/listings/{listing_id}",
        )
    ]


async def qualification_decided(event: DomainEvent, runtime: Any) -> list[Notice]:
    from agorakit.catalog.tables import Category

    member_id = event.data.get("member_id")
    if member_id is None:
        return []
    row = await Category.select(Category.name).where(Category.id == event.data.get("category_id")).first()
    return [
        Notice(
            member_id=member_id,
            category="listings",
            template="qualification_decided",
            context={
                "approved": event.name == "qualification.approved",
                "category_name": row["name"] if row else "the category",
                "reason": event.data.get("reason") or "",
            },
            link="/me/qualifications",
        )
    ]


# --------------------------------------------------------------------------------------
# Money
# --------------------------------------------------------------------------------------


@functools.cache
def _payment_row() -> Prepared:
    from agorakit.money.tables import Payment

    return Prepared(lambda id: Payment.select().where(Payment.id == id).first())


async def _payment_notice(event: DomainEvent, template: str, **context: Any) -> list[Notice]:
    from agorakit.money.amounts import format_amount

    payment_id = _subject_id(event)
    row = await _payment_row().run(payment_id) if payment_id else None
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


async def payment_completed(event: DomainEvent, runtime: Any) -> list[Notice]:
    """The payer learns that someone else settled their payment (a confirmed bank transfer)."""
    payer_id = event.data.get("payer_id")
    if payer_id is None or event.actor_id == payer_id:
        return []  # paid by the member themselves (their balance): they know
    return await _payment_notice(event, "payment_settled")


async def payment_expired(event: DomainEvent, runtime: Any) -> list[Notice]:
    return await _payment_notice(event, "payment_expired")


async def payment_refunded(event: DomainEvent, runtime: Any) -> list[Notice]:
    """The payer learns that money that arrived for nothing was handed back as credit
    (whoever settled it: the payment is never reported completed)."""
    return await _payment_notice(event, "payment_refunded", reason=event.data.get("reason") or "")


async def withdrawal_finished(event: DomainEvent, runtime: Any) -> list[Notice]:
    from agorakit.money.amounts import format_amount
    from agorakit.money.tables import Withdrawal

    withdrawal_id = _subject_id(event)
    row = await Withdrawal.select().where(Withdrawal.id == withdrawal_id).first() if withdrawal_id else None
    if row is None or row["member_id"] == event.actor_id:
        return []
    completed = event.name == "withdrawal.completed"
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
                "reason": event.data.get("reason") or row["failure_reason"] or "",
            },
            link=f"/withdrawals/{row['id']}",
        )
    ]


#: event name → the function that says who to tell
CORE_NOTICES: dict[str, Callable[[DomainEvent, Any], Awaitable[list[Notice]]]] = {
    "listing.approved": listing_moderated,
    "listing.rejected": listing_moderated,
    "qualification.approved": qualification_decided,
    "qualification.rejected": qualification_decided,
    "payment.completed": payment_completed,
    "payment.expired": payment_expired,
    "payment.refunded": payment_refunded,
    "withdrawal.completed": withdrawal_finished,
    "withdrawal.failed": withdrawal_finished,
}


async def core_notices(event: DomainEvent, runtime: Any) -> list[Notice]:
    """The core's notices for one event (none for events it does not describe)."""
    function = CORE_NOTICES.get(event.name)
    return await function(event, runtime) if function else []
