"""Offers on classic requests: qualified sellers send them, the buyer accepts one and pays.

Accepting an offer makes the order (process ``prepaid_offer``, with the offer's seller,
price and timeframe) and declines every other live offer, in one unit of work; the
request leaves the feed.  A seller withdraws a live offer before it is accepted.  A
classic request without an accepted offer expires after ``request_days`` (the worker's
sweep).  Offers are screened for contact details and links: blocked with a 422, or
with ``offer_screening = "flag"`` kept hidden from the buyer until an operator approves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agorakit.accounts import is_operator
from agorakit.catalog import (
    NotEligible,
    check_can_take,
    get_listing,
    move_listing_in,
    screen_fields,
    screening_error,
)
from agorakit.errors import Conflict, FieldError, NotFound, ValidationFailed
from agorakit.money import money, parse_money
from agorakit.orders import ItemIn, create_order, pay_order
from agorakit.pagination import decode_cursor, page
from agorakit.plugins.prepaid.events import (
    OfferAccepted,
    OfferDeclined,
    OfferMade,
    OfferWithdrawn,
    RequestClosed,
)
from agorakit.plugins.prepaid.process import FEE_KIND, OFFER_PROCESS
from agorakit.plugins.prepaid.requests import (
    check_price,
    check_timeframe,
    known_request,
    request_row,
    settings_of,
    to_request,
)
from agorakit.plugins.prepaid.schemas import AcceptOffer, MakeOffer, PrepaidOfferOut, PrepaidRequestOut
from agorakit.plugins.prepaid.tables import Offer, Request

if TYPE_CHECKING:  # pragma: no cover
    from datetime import datetime

    from agorakit.accounts import MemberOut
    from agorakit.runtime import Runtime, UnitOfWork

LIVE = ("pending", "flagged")
#: offers the buyer never sees: held by the screening, or rejected by an operator
HIDDEN = ("flagged", "rejected")


def to_offer(row: dict[str, Any], currency: str) -> PrepaidOfferOut:
    return PrepaidOfferOut(
        id=row["id"],
        request_id=row["request_id"],
        seller_id=row["seller_id"],
        price=money(row["price"], currency),
        timeframe_hours=row["timeframe_hours"],
        message=row["message"],
        status=row["status"],
        created_at=row["created_at"],
        decided_at=row["decided_at"],
        screening_flags=list(row["screening_flags"] or []),
    )


async def offer_row(offer_id: int) -> dict[str, Any] | None:
    return await Offer.select().where(Offer.id == offer_id).first().output(load_json=True)


async def _hold_open(uow: UnitOfWork, request_id: int) -> dict[str, Any]:
    """Hold an open classic request for the rest of the transaction (a row lock on
    PostgreSQL: concurrent offers and acceptances of one request take turns)."""
    held = (
        await Request.update({Request.updated_at: uow.now})
        .where((Request.id == request_id) & (Request.status == "open") & (Request.mode == "classic"))
        .returning(Request.id)
    )
    row = await request_row(request_id)
    if row is None:
        raise NotFound(f"there is no request {request_id}")
    if not held:
        if row["mode"] != "classic":
            raise Conflict(
                f"request {request_id} is prepaid: lock it instead (POST /prepaid/requests/{request_id}/lock)"
            )
        raise Conflict(
            f"request {request_id} is {row['status']}; it takes no offers", extra={"state": row["status"]}
        )
    if row["expires_at"] is not None and row["expires_at"] <= uow.now:
        raise Conflict(f"request {request_id} expired at {row['expires_at'].isoformat()}")
    return row


async def make_offer(
    runtime: Runtime, request_id: int, cmd: MakeOffer, *, seller: MemberOut
) -> PrepaidOfferOut:
    settings = settings_of(runtime)
    row = await known_request(request_id, caller=seller)
    if row["buyer_id"] == seller.id:
        raise Conflict("you cannot make an offer on your own request")
    if row["status"] != "open":
        raise Conflict(
            f"request {request_id} is {row['status']}; it takes no offers", extra={"state": row["status"]}
        )
    # only a member who may take the request offers (operators too need access): 403
    # not_eligible with the reasons
    await check_can_take(runtime, await get_listing(row["listing_id"]), seller)
    errors: list[FieldError] = []
    try:
        price, currency = parse_money(cmd.price, accepted=[row["currency"]], field="price")
        check_price(settings, price, currency, field="price.amount")
    except ValidationFailed as exc:
        errors += exc.errors
        price = 0
    try:
        check_timeframe(settings, cmd.timeframe_hours, field="timeframe_hours")
    except ValidationFailed as exc:
        errors += exc.errors
    message = cmd.message.strip()
    if len(message) > settings.max_offer_message:
        errors.append(FieldError("message", f"must be at most {settings.max_offer_message} characters"))
    if errors:
        raise ValidationFailed(errors)
    flags = await screen_fields(runtime, {"message": message}, context="offer") if message else []
    if flags and settings.offer_screening == "block":
        raise screening_error(flags)
    async with runtime.unit_of_work() as uow:
        await _hold_open(uow, request_id)
        live = await Offer.select(Offer.seller_id).where(
            (Offer.request_id == request_id) & Offer.status.is_in(list(LIVE))
        )
        if any(r["seller_id"] == seller.id for r in live):
            raise Conflict(
                "you already have an offer on this request; withdraw it first to send another",
                extra={"request_id": request_id},
            )
        if len(live) >= settings.max_offers:
            raise Conflict(
                f"request {request_id} has {settings.max_offers} offers already, the most it takes"
            )
        status = "flagged" if flags else "pending"
        [created] = await Offer.insert(
            Offer(
                request_id=request_id,
                seller_id=seller.id,
                price=price,
                timeframe_hours=cmd.timeframe_hours,
                message=message,
                status=status,
                screening_flags=[{"field": f.field, "reason": f.reason, "match": f.match} for f in flags],
                created_at=uow.now,
            )
        ).returning(Offer.id)
        uow.record(
            OfferMade(
                offer_id=created["id"],
                request_id=request_id,
                buyer_id=row["buyer_id"],
                seller_id=seller.id,
                flagged=bool(flags),
            ),
            subject=f"request:{request_id}",
            actor_id=seller.id,
        )
    stored = await offer_row(created["id"])
    assert stored is not None
    return to_offer(stored, row["currency"])


async def list_offers(
    runtime: Runtime, request_id: int, *, caller: MemberOut, cursor: str | None, limit: int
) -> tuple[list[PrepaidOfferOut], str | None]:
    """The buyer sees every offer but those the screening holds or an operator rejected; a
    seller sees their own; operators all.

    Another member sees their own offers on a request they offered on, and an empty list
    on an open request they may take; any other request is a 404 to them, as if it did
    not exist."""
    row = await request_row(request_id)
    if row is None:
        raise NotFound(f"there is no request {request_id}")
    query = Offer.select().where(Offer.request_id == request_id).order_by(Offer.id).limit(limit + 1)
    if is_operator(caller):
        pass
    elif caller.id == row["buyer_id"]:
        query = query.where(Offer.status.not_in(list(HIDDEN)))
    else:
        query = query.where(Offer.seller_id == caller.id)
        offered = await Offer.exists().where(
            (Offer.request_id == request_id) & (Offer.seller_id == caller.id)
        )
        if not offered and not await _in_feed_of(runtime, row, caller):
            raise NotFound(f"there is no request {request_id}")
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Offer.id > position["id"])
    rows, next_cursor = page(await query.output(load_json=True), limit, lambda r: {"id": r["id"]})
    return [to_offer(r, row["currency"]) for r in rows], next_cursor


async def _in_feed_of(runtime: Runtime, row: dict[str, Any], member: MemberOut) -> bool:
    """Whether the request is open and ``member`` may take it (it is in their feed)."""
    if row["status"] != "open":
        return False
    try:
        await get_listing(row["listing_id"], viewer=member, runtime=runtime)
    except NotEligible:
        return False
    return True


async def my_offers(
    seller: MemberOut, *, status: str | None, cursor: str | None, limit: int
) -> tuple[list[PrepaidOfferOut], str | None]:
    query = Offer.select(
        *Offer.all_columns(), Offer.request_id.join_on(Request.id).currency.as_alias("currency")
    )
    query = query.where(Offer.seller_id == seller.id).order_by(Offer.id, ascending=False).limit(limit + 1)
    if status:
        query = query.where(Offer.status == status)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Offer.id < position["id"])
    rows, next_cursor = page(await query.output(load_json=True), limit, lambda r: {"id": r["id"]})
    return [to_offer(r, r["currency"]) for r in rows], next_cursor


async def withdraw_offer(runtime: Runtime, offer_id: int, *, seller: MemberOut) -> PrepaidOfferOut:
    row = await offer_row(offer_id)
    if row is None or row["seller_id"] != seller.id:
        raise NotFound(f"there is no offer {offer_id} of yours")
    request = await request_row(row["request_id"])
    assert request is not None
    async with runtime.unit_of_work() as uow:
        done = (
            await Offer.update({Offer.status: "withdrawn", Offer.decided_at: uow.now})
            .where((Offer.id == offer_id) & Offer.status.is_in(list(LIVE)))
            .returning(Offer.id)
        )
        if not done:
            raise Conflict(f"offer {offer_id} is {row['status']}; only a pending offer can be withdrawn")
        uow.record(
            OfferWithdrawn(
                offer_id=offer_id,
                request_id=row["request_id"],
                buyer_id=request["buyer_id"],
                seller_id=seller.id,
                flagged=row["status"] == "flagged",
            ),
            subject=f"request:{row['request_id']}",
            actor_id=seller.id,
        )
    fresh = await offer_row(offer_id)
    assert fresh is not None
    return to_offer(fresh, request["currency"])


async def _decline_others(uow: UnitOfWork, request_id: int, *, keep: int | None, reason: str) -> None:
    losers = await Offer.select(Offer.id, Offer.seller_id).where(
        (Offer.request_id == request_id) & Offer.status.is_in(list(LIVE)) & (Offer.id != (keep or 0))
    )
    if not losers:
        return
    await Offer.update({Offer.status: "declined", Offer.decided_at: uow.now}).where(
        Offer.id.is_in([r["id"] for r in losers])
    )
    for loser in losers:
        uow.record(
            OfferDeclined(
                offer_id=loser["id"], request_id=request_id, seller_id=loser["seller_id"], reason=reason
            ),
            subject=f"request:{request_id}",
            actor_id=None,
        )


async def accept_offer(
    runtime: Runtime, offer_id: int, cmd: AcceptOffer, *, buyer: MemberOut
) -> PrepaidRequestOut:
    """The buyer accepts a pending offer: its order is made (and paid when ``method`` is
    given), the other offers are declined and their sellers told."""
    row = await offer_row(offer_id)
    request = await request_row(row["request_id"]) if row is not None else None
    if row is None or request is None or request["buyer_id"] != buyer.id or row["status"] in HIDDEN:
        raise NotFound(f"there is no offer {offer_id} on your requests")
    if row["status"] != "pending":
        raise Conflict(f"offer {offer_id} is {row['status']}; only a pending offer can be accepted")
    async with runtime.unit_of_work() as uow:
        await _hold_open(uow, request["id"])
        taken = (
            await Offer.update({Offer.status: "accepted", Offer.decided_at: uow.now})
            .where((Offer.id == offer_id) & (Offer.status == "pending"))
            .returning(Offer.id)
        )
        if not taken:
            raise Conflict(f"offer {offer_id} was withdrawn meanwhile")
        order = await create_order(
            runtime,
            process=OFFER_PROCESS,
            buyer_id=buyer.id,
            seller_id=row["seller_id"],
            currency=request["currency"],
            items=[
                ItemIn(kind="base", description=request["title"][:200], unit_price=row["price"], quantity=1)
            ],
            listing_id=request["listing_id"],
            data={
                "fee_kind": FEE_KIND,
                "delivery_hours": row["timeframe_hours"],
                "request_id": request["id"],
            },
            uow=uow,
        )
        await Request.update(
            {
                Request.status: "awaiting_payment",
                Request.order_id: order.id,
                Request.seller_id: row["seller_id"],
                Request.offer_id: offer_id,
                Request.price: row["price"],
                Request.timeframe_hours: row["timeframe_hours"],
                Request.updated_at: uow.now,
            }
        ).where(Request.id == request["id"])
        await _decline_others(uow, request["id"], keep=offer_id, reason="the buyer accepted another offer")
        await move_listing_in(uow, request["listing_id"], "close", actor_id=buyer.id)
        uow.record(
            OfferAccepted(
                offer_id=offer_id,
                request_id=request["id"],
                order_id=order.id,
                buyer_id=buyer.id,
                seller_id=row["seller_id"],
            ),
            subject=f"request:{request['id']}",
            actor_id=buyer.id,
        )
        payment = None
        if cmd.method is not None:
            payment, _ = await pay_order(runtime, order.id, caller=buyer, method=cmd.method)
    fresh = await request_row(request["id"])
    assert fresh is not None
    return await to_request(runtime, fresh, viewer=buyer, payment=payment)


async def close_classic(
    runtime: Runtime,
    row: dict[str, Any],
    *,
    status: str,
    actor_id: int | None,
    operator_reason: str | None = None,
) -> bool:
    """End an open classic request without a sale (``cancelled`` by its buyer or
    ``expired``): its listing closes and its live offers are declined.  False when it
    was no longer open."""
    async with runtime.unit_of_work() as uow:
        done = (
            await Request.update({Request.status: status, Request.updated_at: uow.now})
            .where((Request.id == row["id"]) & (Request.status == "open") & (Request.mode == "classic"))
            .returning(Request.id)
        )
        if not done:
            return False
        reason = "the buyer cancelled the request" if status == "cancelled" else "the request expired"
        if operator_reason is not None:
            reason = "an operator withdrew the request"
        await _decline_others(uow, row["id"], keep=None, reason=reason)
        try:  # the request closes its listing (the site's own move; see sync._move_listing)
            await move_listing_in(uow, row["listing_id"], "close", actor_id=None)
        except Conflict:  # an operator closed it already
            pass
        uow.record(
            RequestClosed(
                request_id=row["id"],
                buyer_id=row["buyer_id"],
                status=status,
                by_operator=operator_reason is not None,
                reason=operator_reason or "",
            ),
            subject=f"request:{row['id']}",
            actor_id=actor_id,
        )
    return True


async def expire_classic(runtime: Runtime, *, limit: int = 200) -> int:
    """The worker's sweep: open classic requests past ``expires_at`` expire."""
    now = runtime.clock.now()
    rows = await (
        Request.select()
        .where((Request.status == "open") & (Request.mode == "classic") & (Request.expires_at <= now))
        .order_by(Request.expires_at)
        .limit(limit)
    )
    expired = 0
    for row in rows:
        expired += await close_classic(runtime, row, status="expired", actor_id=None)
    return expired


async def next_expiry(after: datetime | None, until: datetime | None) -> datetime | None:
    """When the next open classic request expires, in the range the worker asks about."""
    query = Request.select(Request.expires_at).where(
        (Request.status == "open") & (Request.mode == "classic") & Request.expires_at.is_not_null()
    )
    if after is not None:
        query = query.where(Request.expires_at > after)
    elif until is not None:
        query = query.where(Request.expires_at <= until)
    row = await query.order_by(Request.expires_at).first()
    return row["expires_at"] if row is not None else None
