"""Who the prepaid plugin tells about what (``agorakit_notify``), site and email.

The core notifies about orders in general terms ("Order #41: in progress"); for the moves
that are about a request this plugin returns its own notice to the same member on the
same event, which replaces the core's (the core's generic notice for a member yields to a
plugin's notice on the same event), so nobody is told twice, and nobody is told of what
they did themselves:

=========================================  ==============================  ===========================
event                                      who                             template
=========================================  ==============================  ===========================
``prepaid.request_opened``                 every seller with access to     prepaid_request_opened
                                           the category (or one above) who
                                           asked to be told, but the buyer
                                           and the seller whose lock ended
``order.transitioned`` ``lock``            the buyer (the deadline)        prepaid_request_locked
``order.transitioned`` ``release``         the buyer (the seller's reason) prepaid_request_released
``order.transitioned`` ``return_to_pool``  the seller                      prepaid_request_returned
``prepaid.offer_made`` (not held)          the buyer                       prepaid_offer_made
``order.created`` of an accepted offer     the seller                      prepaid_offer_accepted
``prepaid.offer_declined``                 the seller (the reason)         prepaid_offer_declined
``prepaid.offer_withdrawn`` (not held)     the buyer                       prepaid_offer_withdrawn
``prepaid.request_closed`` ``expired``     the buyer                       prepaid_request_expired
(a classic request)
``prepaid.request_closed`` by an operator  the buyer (the reason)          prepaid_request_withdrawn
(a classic request)
=========================================  ==============================  ===========================

An offer the screening holds is told to the buyer when an operator lets it through (the
``prepaid.offer_made`` of the approval); one withdrawn while held is not told at all.
Payments, deliveries, completions, late cancellations, an unpaid order's expiry, an
operator's withdrawal of a paid request (the refund, with their reason) and reports keep
the core's notices.  ``prepaid.request_opened`` may name a thousand sellers:
the core stores them set-wise, after the request's commit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from agorakit.catalog import category_names, qualified_members
from agorakit.events import DomainEvent
from agorakit.money import format_amount
from agorakit.notifications import Notice, display_name
from agorakit.orders import OrderCreated, OrderTransitioned
from agorakit.plugins.prepaid.events import (
    OfferDeclined,
    OfferMade,
    OfferWithdrawn,
    RequestClosed,
    RequestOpened,
)
from agorakit.plugins.prepaid.process import OFFER_PROCESS, REQUEST_PROCESS
from agorakit.plugins.prepaid.tables import Offer, Release, Request

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime


def _money(amount: int, currency: str) -> str:
    return f"{format_amount(amount, currency)} {currency}"


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


async def _request(request_id: int) -> dict[str, Any] | None:
    return await Request.select().where(Request.id == request_id).first()


def _link(request_id: int) -> str:
    return f"/prepaid/requests/{request_id}"


async def _last_lock_holder(request_id: int) -> int | None:
    """The seller whose lock of the request ended last (a returned request's opening)."""
    row = (
        await Release.select(Release.seller_id)
        .where(Release.request_id == request_id)
        .order_by(Release.id, ascending=False)
        .first()
    )
    return row["seller_id"] if row is not None else None


async def request_opened(event: DomainEvent, runtime: Runtime) -> list[Notice]:
    """A request entered the feed: the sellers who may take it and want to hear of it."""
    opened = event.payload
    assert isinstance(opened, RequestOpened)
    request = await _request(opened.request_id)
    if request is None:
        return []
    skip = {opened.buyer_id, event.actor_id}
    if opened.returned:
        skip.add(await _last_lock_holder(opened.request_id))  # told by the return itself
    sellers = [m for m in await qualified_members(opened.category_id, notify_only=True) if m not in skip]
    if not sellers:
        return []
    context = {
        "request_id": opened.request_id,
        "title": request["title"],
        "mode": opened.mode,
        "category_name": (await category_names()).get(opened.category_id, opened.category),
        "service_label": request["service_label"],
        "price": _money(opened.price, opened.currency),
        "timeframe_hours": request["timeframe_hours"],
        "expires_at": _when(request["expires_at"]) if request["expires_at"] else "",
        "returned": opened.returned,
    }
    return [
        Notice(
            member_id=seller_id,
            category="listings",
            template="prepaid_request_opened",
            context=context,
            link=_link(opened.request_id),
        )
        for seller_id in sellers
    ]


async def lock_moved(event: DomainEvent, runtime: Runtime) -> list[Notice]:
    """A prepaid request's ``lock``, ``release`` or ``return_to_pool``: the other side."""
    moved = event.payload
    assert isinstance(moved, OrderTransitioned)
    request = await Request.select().where(Request.order_id == moved.order_id).first()
    if request is None:
        return []
    context: dict[str, Any] = {
        "request_id": request["id"],
        "order_id": moved.order_id,
        "title": request["title"],
        "timeframe_hours": request["timeframe_hours"],
    }
    if moved.transition == "lock":
        if event.actor_id is None:
            return []
        recipient, template = request["buyer_id"], "prepaid_request_locked"
        context["seller_name"] = await display_name(event.actor_id)
        context["deadline"] = _when(event.at + timedelta(hours=request["timeframe_hours"]))
    else:
        seller_id = moved.former_seller_id
        if seller_id is None:
            return []
        release = (
            await Release.select(Release.reason)
            .where((Release.order_id == moved.order_id) & (Release.seller_id == seller_id))
            .order_by(Release.id, ascending=False)
            .first()
        )
        context["reason"] = release["reason"] if release is not None else ""
        context["seller_name"] = await display_name(seller_id)
        if moved.transition == "release":
            recipient, template = request["buyer_id"], "prepaid_request_released"
        else:
            recipient, template = seller_id, "prepaid_request_returned"
    if recipient == event.actor_id:
        return []
    return [
        Notice(
            member_id=recipient,
            category="orders",
            template=template,
            context=context,
            link=_link(request["id"]),
        )
    ]


async def _offer_and_request(offer_id: int) -> tuple[dict[str, Any], dict[str, Any]] | None:
    offer = await Offer.select().where(Offer.id == offer_id).first()
    request = await _request(offer["request_id"]) if offer is not None else None
    return (offer, request) if offer is not None and request is not None else None


def _offer_context(offer: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    return {
        "request_id": request["id"],
        "offer_id": offer["id"],
        "title": request["title"],
        "price": _money(offer["price"], request["currency"]),
        "timeframe_hours": offer["timeframe_hours"],
    }


async def offer_made(event: DomainEvent, runtime: Runtime) -> list[Notice]:
    payload = event.payload
    assert isinstance(payload, OfferMade)
    if payload.flagged or payload.buyer_id == event.actor_id:
        return []  # a held offer is told when an operator lets it through
    found = await _offer_and_request(payload.offer_id)
    if found is None:
        return []
    offer, request = found
    context = {
        **_offer_context(offer, request),
        "seller_name": await display_name(payload.seller_id),
        "message": offer["message"],
    }
    return [
        Notice(
            member_id=payload.buyer_id,
            category="orders",
            template="prepaid_offer_made",
            context=context,
            link=f"{_link(request['id'])}/offers",
        )
    ]


async def offer_accepted(event: DomainEvent, runtime: Runtime) -> list[Notice]:
    """The order of an accepted offer was made: its seller hears it from here, in the
    words of the offer (instead of the core's ``order_created``)."""
    payload = event.payload
    assert isinstance(payload, OrderCreated)
    request = await Request.select().where(Request.order_id == payload.order_id).first()
    if request is None or request["offer_id"] is None:
        return []
    found = await _offer_and_request(request["offer_id"])
    if found is None or found[0]["seller_id"] == event.actor_id:
        return []
    offer, _ = found
    context = {
        **_offer_context(offer, request),
        "order_id": payload.order_id,
        "buyer_name": await display_name(request["buyer_id"]),
    }
    return [
        Notice(
            member_id=offer["seller_id"],
            category="orders",
            template="prepaid_offer_accepted",
            context=context,
            link=f"/orders/{payload.order_id}",
        )
    ]


async def offer_declined(event: DomainEvent, runtime: Runtime) -> list[Notice]:
    payload = event.payload
    assert isinstance(payload, OfferDeclined)
    if payload.seller_id == event.actor_id:
        return []
    found = await _offer_and_request(payload.offer_id)
    if found is None:
        return []
    offer, request = found
    context = {
        **_offer_context(offer, request),
        "rejected": offer["status"] == "rejected",  # by an operator, not by the buyer's choice
        "reason": payload.reason,
    }
    return [
        Notice(
            member_id=payload.seller_id,
            category="orders",
            template="prepaid_offer_declined",
            context=context,
            link=f"{_link(request['id'])}/offers",
        )
    ]


async def offer_withdrawn(event: DomainEvent, runtime: Runtime) -> list[Notice]:
    payload = event.payload
    assert isinstance(payload, OfferWithdrawn)
    if payload.flagged or payload.buyer_id == event.actor_id:
        return []  # the buyer never saw it
    found = await _offer_and_request(payload.offer_id)
    if found is None:
        return []
    offer, request = found
    context = {**_offer_context(offer, request), "seller_name": await display_name(payload.seller_id)}
    return [
        Notice(
            member_id=payload.buyer_id,
            category="orders",
            template="prepaid_offer_withdrawn",
            context=context,
            link=f"{_link(request['id'])}/offers",
        )
    ]


async def request_closed(event: DomainEvent, runtime: Runtime) -> list[Notice]:
    """A classic request closed without a sale: it expired without an accepted offer, or
    an operator withdrew it (their reason).  A request with an order (a prepaid one, or an
    accepted offer left unpaid) is told by the core, on its order's ``expire`` or
    ``cancel_open``, which carries the operator's reason."""
    payload = event.payload
    assert isinstance(payload, RequestClosed)
    withdrawn = payload.by_operator
    if (payload.status != "expired" and not withdrawn) or payload.buyer_id == event.actor_id:
        return []
    request = await _request(payload.request_id)
    if request is None or request["mode"] != "classic" or request["order_id"] is not None:
        return []
    offers = await Offer.count().where((Offer.request_id == request["id"]) & (Offer.status == "declined"))
    context = {
        "request_id": request["id"],
        "title": request["title"],
        "days": runtime.plugin_settings("prepaid").request_days,
        "offers": offers,
        "reason": payload.reason,
    }
    return [
        Notice(
            member_id=payload.buyer_id,
            category="orders",
            template="prepaid_request_withdrawn" if withdrawn else "prepaid_request_expired",
            context=context,
            link=_link(request["id"]),
        )
    ]


#: the transitions of a prepaid request's order this plugin tells about
_LOCK_MOVES = ("lock", "release", "return_to_pool")


async def prepaid_notices(event: DomainEvent, runtime: Runtime) -> list[Notice] | None:
    """The plugin's notices for one event (None for events it does not describe).  Other
    plugins' and the core's events are told apart by their payload, without a read."""
    payload = event.payload
    if isinstance(payload, OrderTransitioned):
        if payload.process == REQUEST_PROCESS and payload.transition in _LOCK_MOVES:
            return await lock_moved(event, runtime)
        return None
    if isinstance(payload, OrderCreated):
        return await offer_accepted(event, runtime) if payload.process == OFFER_PROCESS else None
    if isinstance(payload, RequestOpened):
        return await request_opened(event, runtime)
    if isinstance(payload, OfferMade):
        return await offer_made(event, runtime)
    if isinstance(payload, OfferDeclined):
        return await offer_declined(event, runtime)
    if isinstance(payload, OfferWithdrawn):
        return await offer_withdrawn(event, runtime)
    if isinstance(payload, RequestClosed):
        return await request_closed(event, runtime)
    return None
