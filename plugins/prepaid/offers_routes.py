"""HTTP routes of offers on classic requests, under ``/prepaid``."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, QueryParameter

from agorakit.http import Id, Limit, MemberRequest, problems
from agorakit.plugins.prepaid import offers
from agorakit.plugins.prepaid.schemas import (
    AcceptOffer,
    MakeOffer,
    PrepaidOfferOut,
    PrepaidOfferPage,
    PrepaidRequestOut,
)
from agorakit.runtime import Runtime

OfferStatus = Annotated[
    Literal["pending", "flagged", "accepted", "declined", "withdrawn", "rejected"] | None,
    QueryParameter(name="status"),
]


class OfferController(Controller):
    path = "/prepaid"
    tags = ["prepaid"]

    @post(
        "/requests/{request_id:int}/offers",
        operation_id="prepaidMakeOffer",
        summary="Offer to do a classic request: your price, timeframe and message",
        responses=problems(403, 404, 409, 422),
    )
    async def make(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        request_id: Id,
        data: JSONBody[MakeOffer],
    ) -> PrepaidOfferOut:
        return await offers.make_offer(runtime, request_id, data, seller=request.user)

    @get(
        "/requests/{request_id:int}/offers",
        operation_id="prepaidListOffers",
        summary="Offers on a request (the buyer: all but flagged ones; a seller: their own)",
        responses=problems(404),
    )
    async def list_for_request(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        request_id: Id,
        cursor: FromQuery[str | None] = None,
        limit: Limit = 20,
    ) -> PrepaidOfferPage:
        items, next_cursor = await offers.list_offers(
            runtime, request_id, caller=request.user, cursor=cursor, limit=limit
        )
        return PrepaidOfferPage(items=items, next_cursor=next_cursor)

    @get("/offers", operation_id="prepaidListMyOffers", summary="Your offers as a seller, newest first")
    async def list_mine(
        self,
        request: MemberRequest,
        offer_status: OfferStatus = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = 20,
    ) -> PrepaidOfferPage:
        items, next_cursor = await offers.my_offers(
            request.user, status=offer_status, cursor=cursor, limit=limit
        )
        return PrepaidOfferPage(items=items, next_cursor=next_cursor)

    @post(
        "/offers/{offer_id:int}/withdraw",
        operation_id="prepaidWithdrawOffer",
        summary="Withdraw your offer before it is accepted",
        responses=problems(404, 409),
        status_code=200,
    )
    async def withdraw(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], offer_id: Id
    ) -> PrepaidOfferOut:
        return await offers.withdraw_offer(runtime, offer_id, seller=request.user)

    @post(
        "/offers/{offer_id:int}/accept",
        operation_id="prepaidAcceptOffer",
        summary="Accept an offer: its order starts when paid; the other offers are declined",
        responses=problems(404, 409, 422, 503),
        status_code=200,
    )
    async def accept(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        offer_id: Id,
        data: JSONBody[AcceptOffer | None] = None,
    ) -> PrepaidRequestOut:
        return await offers.accept_offer(runtime, offer_id, data or AcceptOffer(), buyer=request.user)
