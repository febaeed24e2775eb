"""The gigs model's services: quotes, orders, deliveries and mutual cancellation.

Everything else a gig order needs is the core's: listings and moderation (``kind =
"gig"``), payments (``POST /orders/{id}/payments``), the order process and its timers,
conversations, reviews and reports (disputes).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from agorakit import orders
from agorakit.accounts import get_member
from agorakit.catalog import check_can_take, get_listing
from agorakit.db import is_unique_violation
from agorakit.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from agorakit.money import QuoteContext, money, parse_amount
from agorakit.orders import ItemIn, OrderOut
from agorakit.plugins.gigs.events import CancellationDeclined, CancellationProposed, CancellationWithdrawn
from agorakit.plugins.gigs.process import PROCESS
from agorakit.plugins.gigs.schemas import (
    CancellationOut,
    Delivery,
    FeeOut,
    GigQuote,
    OrderGig,
    QuoteLine,
)
from agorakit.plugins.gigs.tables import GigCancellation

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts import MemberOut
    from agorakit.runtime import Runtime

KIND = "gig"


class GigNotAvailable(Conflict):
    code = "gig_not_available"


class CancellationOpen(Conflict):
    code = "cancellation_open"


# --------------------------------------------------------------------------------------
# Quote and order
# --------------------------------------------------------------------------------------


async def _gig(listing_id: int, viewer: MemberOut | None = None):
    listing = await get_listing(listing_id, viewer=viewer)
    if listing.kind != KIND:
        raise NotFound(f"there is no gig {listing_id}")
    return listing


def _lines(listing: Any, cmd: OrderGig) -> tuple[list[ItemIn], int]:
    """Order items (base price and extras, each times the quantity) and the delivery days."""
    attributes = listing.attributes
    currency = listing.price.currency
    errors = []
    if cmd.quantity > attributes.get("max_quantity", 1):
        errors.append(
            FieldError(
                "quantity", f"this gig can be ordered at most {attributes.get('max_quantity', 1)} at a time"
            )
        )
    offered = {extra["title"].strip().casefold(): extra for extra in attributes.get("extras", [])}
    chosen = []
    for index, title in enumerate(cmd.extras):
        extra = offered.get(title.strip().casefold())
        if extra is None:
            names = ", ".join(e["title"] for e in attributes.get("extras", [])) or "none"
            errors.append(
                FieldError(f"extras[{index}]", f"this gig has no extra {title!r}; its extras: {names}")
            )
        elif extra in chosen:
            errors.append(FieldError(f"extras[{index}]", "each extra can be chosen once"))
        else:
            chosen.append(extra)
    if errors:
        raise ValidationFailed(errors)
    items = [
        ItemIn(
            kind="base",
            description=listing.title[:200],
            unit_price=listing.price_minor,
            quantity=cmd.quantity,
        )
    ]
    items += [
        ItemIn(
            kind="extra",
            description=f"Extra: {extra['title']}"[:200],
            unit_price=parse_amount(extra["price"], currency),
            quantity=cmd.quantity,
        )
        for extra in chosen
    ]
    days = attributes["delivery_days"] + sum(extra.get("days", 0) for extra in chosen)
    return items, days


def _quote_context(listing: Any, buyer: Any | None, cmd: OrderGig) -> QuoteContext:
    """What fee plugins see of this sale: read with the gig and the buyer already."""
    return QuoteContext(
        listing_id=listing.id,
        listing_kind=listing.kind,
        category=listing.category,
        seller_country=listing.seller.country,
        buyer_country=getattr(buyer, "country", None),
        quantity=cmd.quantity,
    )


def _check_buyer(listing: Any, buyer: Any) -> None:
    if listing.seller.id == buyer.id:
        raise Forbidden("you cannot order your own gig")
    if listing.status != "published":
        raise GigNotAvailable(f"gig {listing.id} is {listing.status}; only published gigs can be ordered")


async def quote_gig(runtime: Runtime, listing_id: int, cmd: OrderGig, *, buyer: Any | None) -> GigQuote:
    """What ordering the gig with these extras and this quantity costs, and when it is due."""
    listing = await _gig(listing_id, viewer=buyer)
    items, days = _lines(listing, cmd)
    currency = listing.price.currency
    amount = sum(item.unit_price * item.quantity for item in items)
    quote = orders.quote_order(
        runtime,
        process=PROCESS,
        amount=amount,
        currency=currency,
        buyer_id=getattr(buyer, "id", None),
        seller_id=listing.seller.id,
        data={"fee_kind": KIND},
        context=_quote_context(listing, buyer, cmd),
    )
    return GigQuote(
        listing_id=listing.id,
        items=[
            QuoteLine(
                kind="extra" if item.kind == "extra" else "base",
                description=item.description,
                unit_price=money(item.unit_price, currency),
                quantity=item.quantity,
                amount=money(item.unit_price * item.quantity, currency),
            )
            for item in items
        ],
        subtotal=money(amount, currency),
        fees=[
            FeeOut(label=f["label"], payer=f["payer"], amount=money(f["amount"], currency))
            for f in quote["lines"]
        ],
        total=money(quote["buyer_total"], currency),
        seller_earns=money(quote["seller_net"], currency),
        delivery_days=days,
        deadline_if_paid_now=runtime.clock.now() + timedelta(days=days),
    )


async def order_gig(runtime: Runtime, listing_id: int, cmd: OrderGig, *, buyer: Any) -> OrderOut:
    """A buyer orders a published gig: an order awaiting payment, its price fixed now."""
    listing = await _gig(listing_id, viewer=buyer)
    _check_buyer(listing, buyer)
    await check_can_take(runtime, listing, buyer)
    items, days = _lines(listing, cmd)
    extras = [item.description.removeprefix("Extra: ") for item in items if item.kind == "extra"]
    return await orders.create_order(
        runtime,
        process=PROCESS,
        buyer_id=buyer.id,
        seller_id=listing.seller.id,
        listing_id=listing.id,
        currency=listing.price.currency,
        items=items,
        data={
            "fee_kind": KIND,
            "gig": {"title": listing.title, "extras": extras, "quantity": cmd.quantity},
            "delivery_days": days,
            "requirements": cmd.requirements.strip(),
        },
        caller=buyer,
        quote_context=_quote_context(listing, buyer, cmd),
    )


# --------------------------------------------------------------------------------------
# Guards and effects of the mutual cancellation
# --------------------------------------------------------------------------------------


async def _open_proposal(order_id: int) -> dict[str, Any] | None:
    return (
        await GigCancellation.select()
        .where((GigCancellation.order_id == order_id) & (GigCancellation.status == "open"))
        .first()
    )


async def other_party_proposed(ctx: Any) -> str | None:
    proposal = await _open_proposal(ctx.order.id)
    if proposal is None:
        return (
            "there is no cancellation proposal to accept; "
            f"propose one with POST /gigs/orders/{ctx.order.id}/cancellation"
        )
    if proposal["proposed_by"] == ctx.actor_id:
        return "you proposed this cancellation; the other party has to accept it"
    return None


async def close_proposal(ctx: Any) -> None:
    await GigCancellation.update(
        {
            GigCancellation.status: "accepted",
            GigCancellation.decided_by: ctx.actor_id,
            GigCancellation.decided_at: ctx.uow.now,
        }
    ).where((GigCancellation.order_id == ctx.order.id) & (GigCancellation.status == "open"))


# --------------------------------------------------------------------------------------
# Delivering and accepting
# --------------------------------------------------------------------------------------


async def seller_record(runtime: Runtime, member_id: int) -> orders.SellerRecord:
    """A member's record as a gig seller; 404 for no such member."""
    await get_member(runtime, member_id)
    return await orders.seller_record(member_id, (PROCESS,))


async def _gig_order(runtime: Runtime, order_id: int, caller: MemberOut) -> OrderOut:
    order = await orders.get_order(runtime, order_id, caller=caller)
    if order.process != PROCESS:
        raise NotFound(f"there is no gig order {order_id}")
    return order


async def check_gig_order(runtime: Runtime, order_id: int, caller: MemberOut) -> None:
    """404 unless the order is a gig order ``caller`` may see (reads its row only)."""
    row = await orders.visible_row(runtime, order_id, caller=caller)
    if row["process"] != PROCESS:
        raise NotFound(f"there is no gig order {order_id}")


async def deliver(runtime: Runtime, order_id: int, delivery: Delivery, *, caller: MemberOut) -> OrderOut:
    """The seller delivers (a message and files) and marks the order complete: the core's
    :func:`agorakit.orders.deliver_order`, for gig orders only."""
    return await orders.deliver_order(
        runtime,
        order_id,
        message=delivery.message,
        attachments=list(delivery.attachments),
        caller=caller,
        process=PROCESS,
    )


# --------------------------------------------------------------------------------------
# Mutual cancellation
# --------------------------------------------------------------------------------------


def _to_cancellation(row: dict[str, Any], order: Any) -> CancellationOut:
    return CancellationOut(
        id=row["id"],
        order_id=row["order_id"],
        proposed_by=row["proposed_by"],
        proposer_role="buyer" if row["proposed_by"] == order.buyer_id else "seller",
        reason=row["reason"],
        status=row["status"],
        answer=row["answer"],
        decided_by=row["decided_by"],
        created_at=row["created_at"],
        decided_at=row["decided_at"],
    )


def _party(order: Any, caller: MemberOut) -> None:
    if caller.id not in (order.buyer_id, order.seller_id):
        raise Forbidden("only the buyer and the seller of the order can do this")


async def cancellations(runtime: Runtime, order_id: int, *, caller: MemberOut) -> list[CancellationOut]:
    order = await _gig_order(runtime, order_id, caller)
    rows = (
        await GigCancellation.select()
        .where(GigCancellation.order_id == order_id)
        .order_by(GigCancellation.id)
    )
    return [_to_cancellation(row, order) for row in rows]


async def propose_cancellation(
    runtime: Runtime, order_id: int, reason: str, *, caller: MemberOut
) -> CancellationOut:
    order = await _gig_order(runtime, order_id, caller)
    _party(order, caller)
    reason = " ".join(reason.split())
    if len(reason) < 5:
        raise ValidationFailed([FieldError("reason", "say why in a few words; the other party sees it")])
    try:
        async with runtime.unit_of_work() as uow:
            row = await orders.locked_order_row(order_id)
            if row["state"] not in ("in_progress", "delivered"):
                raise Conflict(f"order {order_id} is {row['state']}; only a running order can be cancelled")
            if await _open_proposal(order_id) is not None:
                raise CancellationOpen(
                    f"order {order_id} already has an open cancellation proposal; answer it first"
                )
            rows = await GigCancellation.insert(
                GigCancellation(
                    order_id=order_id, proposed_by=caller.id, reason=reason, status="open", created_at=uow.now
                )
            ).returning(GigCancellation.id)
            proposal_id = rows[0]["id"]
            other = order.seller_id if caller.id == order.buyer_id else order.buyer_id
            uow.record(
                CancellationProposed(
                    order_id=order_id, proposal_id=proposal_id, reason=reason, recipient=other
                ),
                subject=f"order:{order_id}",
                actor_id=caller.id,
            )
    except Exception as exc:
        if is_unique_violation(exc):
            raise CancellationOpen(f"order {order_id} already has an open cancellation proposal") from None
        raise
    row = await GigCancellation.select().where(GigCancellation.id == proposal_id).first()
    assert row is not None  # inserted just above
    return _to_cancellation(row, order)


async def accept_cancellation(runtime: Runtime, order_id: int, *, caller: MemberOut) -> OrderOut:
    """The other party accepts: the order is cancelled and the buyer refunded to credit."""
    await check_gig_order(runtime, order_id, caller)
    return await orders.fire(runtime, order_id, "cancel_mutual", caller=caller)


async def _close(
    runtime: Runtime, order_id: int, caller: MemberOut, *, status: str, answer: str = ""
) -> CancellationOut:
    order = await _gig_order(runtime, order_id, caller)
    _party(order, caller)
    async with runtime.unit_of_work() as uow:
        proposal = await _open_proposal(order_id)
        if proposal is None:
            raise Conflict(f"order {order_id} has no open cancellation proposal")
        mine = proposal["proposed_by"] == caller.id
        if status == "withdrawn" and not mine:
            raise Forbidden("only the party who proposed the cancellation can withdraw it")
        if status == "declined" and mine:
            raise Forbidden("you proposed this cancellation; withdraw it instead")
        await GigCancellation.update(
            {
                GigCancellation.status: status,
                GigCancellation.answer: " ".join(answer.split()) or None,
                GigCancellation.decided_by: caller.id,
                GigCancellation.decided_at: uow.now,
            }
        ).where(GigCancellation.id == proposal["id"])
        closed = CancellationDeclined if status == "declined" else CancellationWithdrawn
        uow.record(
            closed(
                order_id=order_id,
                proposal_id=proposal["id"],
                recipient=proposal["proposed_by"] if status == "declined" else None,
                reason=" ".join(answer.split()),
            ),
            subject=f"order:{order_id}",
            actor_id=caller.id,
        )
    row = await GigCancellation.select().where(GigCancellation.id == proposal["id"]).first()
    assert row is not None  # proposals are never deleted
    return _to_cancellation(row, order)


async def decline_cancellation(
    runtime: Runtime, order_id: int, answer: str, *, caller: MemberOut
) -> CancellationOut:
    return await _close(runtime, order_id, caller, status="declined", answer=answer)


async def withdraw_cancellation(runtime: Runtime, order_id: int, *, caller: MemberOut) -> CancellationOut:
    return await _close(runtime, order_id, caller, status="withdrawn")


def stops_a_gig_order(event: Any) -> bool:
    """Whether ``event`` is a gig order leaving the states a proposal needs (completed,
    reported, refunded, cancelled)."""
    moved = event.payload
    return (
        isinstance(moved, orders.OrderTransitioned)
        and moved.process == PROCESS
        and moved.to_state not in ("in_progress", "delivered")
    )


async def lapse_proposals(runtime: Runtime, events: list[Any]) -> None:
    """Orders that stopped running close their open proposals: one update for a batch of
    events, in the transaction that stopped them (``agorakit_on_events`` runs there)."""
    stopped = sorted({event.payload.order_id for event in events if stops_a_gig_order(event)})
    if not stopped:
        return
    async with runtime.unit_of_work() as uow:
        await GigCancellation.update(
            {GigCancellation.status: "lapsed", GigCancellation.decided_at: uow.now}
        ).where(GigCancellation.order_id.is_in(stopped) & (GigCancellation.status == "open"))
