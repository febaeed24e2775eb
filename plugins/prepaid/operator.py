"""Operators' routes of the prepaid model, under ``/operator/prepaid``.

Access applications and their revocation are the core's qualifications
(``/operator/qualifications``); reports are the core's disputes
(``/operator/disputes?process=prepaid_request&process=prepaid_offer``).  Here: locks past
their timeframe, offers held by the screening, and every request.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody

from agorakit.accounts import operator_only
from agorakit.errors import Conflict, NotFound
from agorakit.http import Id, Limit, MemberRequest, OperatorQueue, count_queue, problems
from agorakit.pagination import decode_cursor, page
from agorakit.plugins.prepaid.events import OfferDeclined, OfferMade
from agorakit.plugins.prepaid.offers import offer_row, to_offer
from agorakit.plugins.prepaid.requests import NAME, request_row, to_request, withdraw_request
from agorakit.plugins.prepaid.routes import Status as RequestStatus
from agorakit.plugins.prepaid.schemas import (
    PrepaidOfferOut,
    PrepaidOfferPage,
    PrepaidRequestOut,
    PrepaidRequestPage,
)
from agorakit.plugins.prepaid.tables import Offer, Request
from agorakit.runtime import Runtime


class WithdrawRequest(msgspec.Struct, forbid_unknown_fields=True):
    #: told to the buyer
    reason: Annotated[str, msgspec.Meta(min_length=3, max_length=1000)]


class RejectOffer(msgspec.Struct, forbid_unknown_fields=True):
    #: told to the seller
    reason: Annotated[str, msgspec.Meta(min_length=3, max_length=1000)]


def _stuck(runtime: Runtime) -> Any:
    """Requests in progress past their timeframe (``due_at``) as of the site's clock."""
    return (Request.status == "in_progress") & (Request.due_at < runtime.clock.now())


async def operator_queues(runtime: Runtime) -> list[OperatorQueue]:
    """The two lists below counted: flagged offers (since made) and stuck locks (since
    their timeframe ended; every one is overdue, the timeframe is each request's own)."""
    flagged = await count_queue(Offer, Offer.status == "flagged", since=Offer.created_at)
    stuck = await count_queue(Request, _stuck(runtime), since=Request.due_at, overdue=_stuck(runtime))
    return [
        OperatorQueue(
            key="prepaid.offers_flagged",
            title="Prepaid offers held by the screening",
            count=flagged.count,
            oldest_at=flagged.oldest_at,
            list_path="/operator/prepaid/offers/flagged",
            area=NAME,
        ),
        OperatorQueue(
            key="prepaid.locks_stuck",
            title="Prepaid requests past their timeframe",
            count=stuck.count,
            oldest_at=stuck.oldest_at,
            overdue=stuck.overdue,
            list_path="/operator/prepaid/locks/stuck",
            area=NAME,
        ),
    ]


async def _page(runtime: Runtime, query: Any, cursor: str | None, limit: int) -> tuple[list, str | None]:
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Request.id > position["id"])
    rows, next_cursor = page(await query.output(load_json=True), limit, lambda r: {"id": r["id"]})
    return [await to_request(runtime, r) for r in rows], next_cursor


class OperatorPrepaidController(Controller):
    path = "/operator/prepaid"
    tags = ["operator"]
    guards = [operator_only]

    @get(
        "/locks/stuck",
        operation_id="prepaidStuckLocks",
        summary="Requests in progress past their timeframe, oldest request first",
    )
    async def stuck(
        self, runtime: NamedDependency[Runtime], cursor: FromQuery[str | None] = None, limit: Limit = 20
    ) -> PrepaidRequestPage:
        query = Request.select().where(_stuck(runtime)).order_by(Request.id).limit(limit + 1)
        items, next_cursor = await _page(runtime, query, cursor, limit)
        return PrepaidRequestPage(items=items, next_cursor=next_cursor)

    @get("/requests", operation_id="prepaidOperatorRequests", summary="Every request, oldest first")
    async def all_requests(
        self,
        runtime: NamedDependency[Runtime],
        status: RequestStatus = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = 20,
    ) -> PrepaidRequestPage:
        query = Request.select().order_by(Request.id).limit(limit + 1)
        if status:
            query = query.where(Request.status == status)
        items, next_cursor = await _page(runtime, query, cursor, limit)
        return PrepaidRequestPage(items=items, next_cursor=next_cursor)

    @post(
        "/requests/{request_id:int}/cancel",
        operation_id="prepaidWithdrawRequest",
        summary="Withdraw an open request (a paid one is refunded in full); the buyer is told why",
        responses=problems(404, 409, 422),
        status_code=200,
    )
    async def withdraw(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        request_id: Id,
        data: JSONBody[WithdrawRequest],
    ) -> PrepaidRequestOut:
        return await withdraw_request(runtime, request_id, operator=request.user, reason=data.reason.strip())

    @get(
        "/offers/flagged",
        operation_id="prepaidFlaggedOffers",
        summary="Offers the screening holds, oldest first",
    )
    async def flagged(self, cursor: FromQuery[str | None] = None, limit: Limit = 20) -> PrepaidOfferPage:
        query = (
            Offer.select(
                *Offer.all_columns(), Offer.request_id.join_on(Request.id).currency.as_alias("currency")
            )
            .where(Offer.status == "flagged")
            .order_by(Offer.id)
            .limit(limit + 1)
        )
        position = decode_cursor(cursor, keys=("id",))
        if position is not None:
            query = query.where(Offer.id > position["id"])
        rows, next_cursor = page(await query.output(load_json=True), limit, lambda r: {"id": r["id"]})
        return PrepaidOfferPage(items=[to_offer(r, r["currency"]) for r in rows], next_cursor=next_cursor)

    @post(
        "/offers/{offer_id:int}/approve",
        operation_id="prepaidApproveOffer",
        summary="Let a flagged offer through to the buyer",
        responses=problems(404, 409),
        status_code=200,
    )
    async def approve(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], offer_id: Id
    ) -> PrepaidOfferOut:
        return await _decide(runtime, offer_id, approve=True, actor_id=request.user.id)

    @post(
        "/offers/{offer_id:int}/reject",
        operation_id="prepaidRejectOffer",
        summary="Reject a flagged offer; the seller is told why",
        responses=problems(404, 409, 422),
        status_code=200,
    )
    async def reject(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        offer_id: Id,
        data: JSONBody[RejectOffer],
    ) -> PrepaidOfferOut:
        return await _decide(
            runtime, offer_id, approve=False, actor_id=request.user.id, reason=data.reason.strip()
        )


async def _decide(
    runtime: Runtime, offer_id: int, *, approve: bool, actor_id: int, reason: str = ""
) -> PrepaidOfferOut:
    row = await offer_row(offer_id)
    if row is None:
        raise NotFound(f"there is no offer {offer_id}")
    request = await request_row(row["request_id"])
    assert request is not None
    async with runtime.unit_of_work() as uow:
        changes: dict[Any, Any] = {Offer.status: "pending" if approve else "rejected"}
        if not approve:
            changes[Offer.decided_at] = uow.now
        done = (
            await Offer.update(changes)
            .where((Offer.id == offer_id) & (Offer.status == "flagged"))
            .returning(Offer.id)
        )
        if not done:
            raise Conflict(f"offer {offer_id} is {row['status']}; only a flagged offer is decided")
        subject = f"request:{request['id']}"
        if approve:
            event: Any = OfferMade(
                offer_id=offer_id,
                request_id=request["id"],
                buyer_id=request["buyer_id"],
                seller_id=row["seller_id"],
            )
        else:
            event = OfferDeclined(
                offer_id=offer_id, request_id=request["id"], seller_id=row["seller_id"], reason=reason
            )
        uow.record(event, subject=subject, actor_id=actor_id)
    fresh = await offer_row(offer_id)
    assert fresh is not None
    return to_offer(fresh, request["currency"])
