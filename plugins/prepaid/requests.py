"""Posting, reading and cancelling requests.

A request is posted in one unit of work: its listing (kind ``request``; screened like
every listing), its row, and for a prepaid request its order (process
``prepaid_request``) with the payment when the buyer names a method — or none of them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from agorakit.accounts import is_operator
from agorakit.catalog import (
    CreateListing,
    category_slugs,
    create_listing,
    get_listing,
    move_listing_in,
    screen_fields,
    screening_error,
)
from agorakit.db import is_unique_violation
from agorakit.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from agorakit.money import format_amount, money, parse_amount, parse_money
from agorakit.orders import ItemIn, create_order, deadline_of, fire, get_order, pay_order
from agorakit.pagination import decode_cursor, page
from agorakit.plugins.prepaid import service_types
from agorakit.plugins.prepaid.events import RequestPosted
from agorakit.plugins.prepaid.process import FEE_KIND, REQUEST_PROCESS
from agorakit.plugins.prepaid.schemas import CreateRequest, PrepaidRequestOut, RequestAttributes
from agorakit.plugins.prepaid.sync import opened_event
from agorakit.plugins.prepaid.tables import Offer, Request

if TYPE_CHECKING:  # pragma: no cover
    from datetime import datetime

    from agorakit.accounts import MemberOut
    from agorakit.plugins.prepaid.settings import PrepaidSettings
    from agorakit.runtime import Runtime

KIND = "request"
NAME = "prepaid"


def settings_of(runtime: Runtime) -> PrepaidSettings:
    return runtime.plugin_settings(NAME)


def check_price(settings: PrepaidSettings, amount: int, currency: str, *, field: str) -> None:
    """A request's or an offer's price lies within the site's bounds."""
    low = parse_amount(settings.min_price, currency, allow_zero=True)
    high = parse_amount(settings.max_price, currency, allow_zero=True)
    if amount < low:
        raise ValidationFailed([FieldError(field, f"must be at least {format_amount(low, currency)}")])
    if amount > high:
        raise ValidationFailed([FieldError(field, f"must be at most {format_amount(high, currency)}")])


def check_timeframe(settings: PrepaidSettings, hours: int, *, field: str) -> None:
    low, high = settings.min_timeframe_hours, settings.max_timeframe_hours
    if not low <= hours <= high:
        raise ValidationFailed([FieldError(field, f"must be between {low} and {high} hours")])


async def create_request(
    runtime: Runtime, cmd: CreateRequest, *, buyer: MemberOut, idempotency_key: str | None = None
) -> tuple[PrepaidRequestOut, bool]:
    """Post a request (see the module); ``(request, replayed)``."""
    settings = settings_of(runtime)
    if idempotency_key is not None and (first := await _by_key(buyer.id, idempotency_key)) is not None:
        return await to_request(runtime, first), True
    errors: list[FieldError] = []
    if cmd.mode not in settings.modes:
        enabled = " and ".join(settings.modes)
        errors.append(FieldError("mode", f"this site takes {enabled} requests, not {cmd.mode}"))
    types = await service_types.service_types_for(settings, cmd.category)
    service = service_types.find_type(types, cmd.service_type, cmd.category)
    try:
        details = service_types.clean_details(service, cmd.details)
    except ValidationFailed as exc:
        errors += exc.errors
        details = {}
    try:
        price, currency = parse_money(cmd.price, accepted=runtime.currencies, field="price")
        check_price(settings, price, currency, field="price.amount")
    except ValidationFailed as exc:
        errors += exc.errors
        price, currency = 0, cmd.price.currency
    hours = cmd.timeframe_hours if cmd.timeframe_hours is not None else settings.timeframe_hours
    try:
        check_timeframe(settings, hours, field="timeframe_hours")
    except ValidationFailed as exc:
        errors += exc.errors
    if cmd.mode == "classic" and cmd.method is not None:
        errors.append(FieldError("method", "a classic request is paid when you accept an offer"))
    if errors:
        raise ValidationFailed(errors)
    flags = await screen_fields(runtime, service_types.text_fields(service, details), context="request")
    if flags:
        raise screening_error(flags)
    title = cmd.title or f"{service.label}: {cmd.category}"
    payment: Any = None
    attributes = RequestAttributes(
        mode=cmd.mode, service_type=service.name, details=details, timeframe_hours=hours
    )
    try:
        async with runtime.unit_of_work() as uow:
            listing = await create_listing(
                runtime,
                CreateListing(
                    kind=KIND,
                    title=title,
                    description=service_types.describe(service, details),
                    category=cmd.category,
                    price=cmd.price,
                    attributes=msgspec.to_builtins(attributes),
                ),
                owner=buyer,
            )
            classic = cmd.mode == "classic"
            [row] = await Request.insert(
                Request(
                    listing_id=listing.id,
                    buyer_id=buyer.id,
                    category_id=await _category_id(cmd.category),
                    category=cmd.category,
                    service_type=service.name,
                    service_label=service.label,
                    title=listing.title,
                    mode=cmd.mode,
                    status="open" if classic else "awaiting_payment",
                    price=price,
                    currency=currency,
                    timeframe_hours=hours,
                    details=details,
                    expires_at=uow.now + _days(settings.request_days) if classic else None,
                    opened_at=uow.now if classic else None,
                    idempotency_key=idempotency_key,
                    created_at=uow.now,
                    updated_at=uow.now,
                )
            ).returning(Request.id)
            request_id = row["id"]
            uow.record(
                RequestPosted(
                    request_id=request_id,
                    buyer_id=buyer.id,
                    mode=cmd.mode,
                    category=cmd.category,
                    service_type=service.name,
                ),
                subject=f"request:{request_id}",
                actor_id=buyer.id,
            )
            if classic:
                await move_listing_in(uow, listing.id, "publish", actor_id=buyer.id)
                stored = await request_row(request_id)
                assert stored is not None
                uow.record(opened_event(stored), subject=f"request:{request_id}", actor_id=buyer.id)
            else:
                order = await create_order(
                    runtime,
                    process=REQUEST_PROCESS,
                    buyer_id=buyer.id,
                    currency=currency,
                    items=[ItemIn(kind="base", description=title[:200], unit_price=price, quantity=1)],
                    listing_id=listing.id,
                    data={"fee_kind": FEE_KIND, "delivery_hours": hours, "request_id": request_id},
                    uow=uow,
                )
                await Request.update({Request.order_id: order.id}).where(Request.id == request_id)
                if cmd.method is not None:
                    payment, _ = await pay_order(runtime, order.id, caller=buyer, method=cmd.method)
    except Exception as exc:
        if idempotency_key is not None and is_unique_violation(exc):
            first = await _by_key(buyer.id, idempotency_key)
            if first is not None:
                return await to_request(runtime, first), True
        raise
    created = await request_row(request_id)
    assert created is not None  # committed above
    return await to_request(runtime, created, viewer=buyer, payment=payment), False


def _days(days: int) -> timedelta:
    return timedelta(days=days)


async def _category_id(slug: str) -> int:
    return next(i for i, s in (await category_slugs()).items() if s == slug)


async def _by_key(buyer_id: int, key: str) -> dict[str, Any] | None:
    return (
        await Request.select()
        .where((Request.buyer_id == buyer_id) & (Request.idempotency_key == key))
        .first()
        .output(load_json=True)
    )


async def request_row(request_id: int) -> dict[str, Any] | None:
    return await Request.select().where(Request.id == request_id).first().output(load_json=True)


async def to_request(
    runtime: Runtime,
    row: dict[str, Any],
    *,
    viewer: MemberOut | None = None,
    payment: Any = None,
    brief: bool = False,
) -> PrepaidRequestOut:
    """The API view of a request row.  ``brief`` (the feed): what the row holds, without
    reading its order or counting its offers."""
    deadline: datetime | None = None
    status = row["status"]
    if row["order_id"] is not None and not brief:
        order = await get_order(runtime, row["order_id"], caller=None)
        status = order.state
        deadline = deadline_of(order) if order.state == "in_progress" else None
    offers = 0
    if row["mode"] == "classic" and not brief:
        offers = await Offer.count().where((Offer.request_id == row["id"]) & (Offer.status == "pending"))
    return PrepaidRequestOut(
        id=row["id"],
        listing_id=row["listing_id"],
        buyer_id=row["buyer_id"],
        mode=row["mode"],
        category=row["category"],
        service_type=row["service_type"],
        service_label=row["service_label"],
        title=row["title"],
        details=row["details"] or {},
        price=money(row["price"], row["currency"]),
        timeframe_hours=row["timeframe_hours"],
        status=status,
        order_id=row["order_id"],
        seller_id=row["seller_id"],
        created_at=row["created_at"],
        expires_at=row["expires_at"] if row["mode"] == "classic" and status == "open" else None,
        deadline=deadline,
        offers=offers,
        payment=payment,
    )


def is_party(row: dict[str, Any], caller: MemberOut) -> bool:
    """The request's buyer, its seller, or an operator."""
    return caller.id in (row["buyer_id"], row["seller_id"]) or is_operator(caller)


async def known_request(request_id: int, *, caller: MemberOut) -> dict[str, Any]:
    """The row of a request ``caller`` may know of: its buyer's, its seller's, an
    operator's, and while it is open anyone's (whether they may see or take it is its
    listing's rule: 403 ``not_eligible``).  404 otherwise, exactly as for a request that
    does not exist: the API never tells a member about another member's requests."""
    row = await request_row(request_id)
    if row is None or (row["status"] != "open" and not is_party(row, caller)):
        raise NotFound(f"there is no request {request_id}")
    return row


async def get_request(runtime: Runtime, request_id: int, *, caller: MemberOut) -> PrepaidRequestOut:
    """A request for its buyer, its seller, operators and the sellers who may take it
    while it is in the feed (403 ``not_eligible`` with the reason for others); 404 when
    it does not exist or the caller may not know of it."""
    row = await known_request(request_id, caller=caller)
    if not is_party(row, caller):
        await get_listing(row["listing_id"], viewer=caller, runtime=runtime)  # 403 not_eligible with reasons
    return await to_request(runtime, row, viewer=caller)


async def list_my_requests(
    runtime: Runtime, *, buyer: MemberOut, status: str | None, cursor: str | None, limit: int
) -> tuple[list[PrepaidRequestOut], str | None]:
    query = (
        Request.select()
        .where(Request.buyer_id == buyer.id)
        .order_by(Request.id, ascending=False)
        .limit(limit + 1)
    )
    if status:
        query = query.where(Request.status == status)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Request.id < position["id"])
    rows, next_cursor = page(await query.output(load_json=True), limit, lambda r: {"id": r["id"]})
    return [await to_request(runtime, r, viewer=buyer) for r in rows], next_cursor


async def cancel_request(runtime: Runtime, request_id: int, *, caller: MemberOut) -> PrepaidRequestOut:
    """The buyer withdraws a request nobody is working on: an unpaid or open prepaid
    request (a paid one is refunded in full to the buyer's credit), or an open classic
    request (its pending offers are declined)."""
    row = await request_row(request_id)
    if row is None or (row["buyer_id"] != caller.id and not is_operator(caller)):
        raise NotFound(f"there is no request {request_id}")
    if row["buyer_id"] != caller.id:
        raise Forbidden(
            f"only the buyer cancels a request here; operators withdraw it with "
            f"POST /operator/prepaid/requests/{request_id}/cancel"
        )
    if row["order_id"] is not None:
        order = await get_order(runtime, row["order_id"], caller=caller)
        name = {"awaiting_payment": "cancel_unpaid", "open": "cancel_open"}.get(order.state)
        if name is None or row["mode"] != "prepaid":
            raise Conflict(
                f"request {request_id} is {order.state}; only a request nobody works on can be cancelled"
                f" (see GET /orders/{order.id} for what the order allows)",
                extra={"state": order.state},
            )
        await fire(runtime, order.id, name, caller=caller)
    else:
        if row["status"] != "open":
            raise Conflict(f"request {request_id} is {row['status']}; only an open request can be cancelled")
        from agorakit.plugins.prepaid.offers import close_classic

        await close_classic(runtime, row, status="cancelled", actor_id=caller.id)
    fresh = await request_row(request_id)
    assert fresh is not None
    return await to_request(runtime, fresh, viewer=caller)


async def withdraw_request(
    runtime: Runtime, request_id: int, *, operator: MemberOut, reason: str
) -> PrepaidRequestOut:
    """An operator withdraws a request nobody works on (e.g. one breaking the rules): an
    open prepaid request is cancelled with a full refund to the buyer's credit, an open
    classic one is closed and its offers declined; the buyer is told ``reason``."""
    row = await request_row(request_id)
    if row is None:
        raise NotFound(f"there is no request {request_id}")
    if row["status"] != "open":
        raise Conflict(
            f"request {request_id} is {row['status']}; only an open request is withdrawn "
            "(a request in progress is settled through its order or a report)",
            extra={"state": row["status"]},
        )
    if row["order_id"] is not None:
        await fire(runtime, row["order_id"], "cancel_open", caller=operator, data={"reason": reason})
    else:
        from agorakit.plugins.prepaid.offers import close_classic

        if not await close_classic(
            runtime, row, status="cancelled", actor_id=operator.id, operator_reason=reason
        ):
            raise Conflict(f"request {request_id} is no longer open")
    fresh = await request_row(request_id)
    assert fresh is not None
    return await to_request(runtime, fresh)


async def on_listing_status_changed(listing_id: int, kind: str, new_status: str) -> None:
    """A request's listing moves with its request: pausing or closing the listing of a
    request in the feed (``GET /listings`` routes, an operator's listing moderation) is
    refused, pointing at the request's own cancellation, which refunds what was paid."""
    if kind != KIND or new_status not in ("paused", "closed"):
        return
    row = await Request.select(Request.id, Request.status).where(Request.listing_id == listing_id).first()
    if row is not None and row["status"] == "open":
        raise Conflict(
            f"listing {listing_id} is request {row['id']}, open for sellers: cancel the request instead "
            f"(POST /prepaid/requests/{row['id']}/cancel; operators: POST /operator/prepaid/requests/{row['id']}/cancel)",
            extra={"request_id": row["id"]},
        )
