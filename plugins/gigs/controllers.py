"""HTTP routes of the gigs plugin (under ``/gigs``); they call the same services as the core's."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from agorakit import orders
from agorakit.catalog import optional_member
from agorakit.errors import Forbidden
from agorakit.http import Id, MemberRequest, problem
from agorakit.orders import OrderOut, SellerRecord
from agorakit.plugins.gigs import service
from agorakit.plugins.gigs.process import PROCESS
from agorakit.plugins.gigs.schemas import (
    AnswerCancellation,
    CancellationOut,
    Delivery,
    GigQuote,
    OrderGig,
    ProposeCancellation,
)
from agorakit.runtime import Runtime


class GigController(Controller):
    path = "/gigs"
    tags = ["gigs"]

    @get(
        "/{listing_id:int}/quote",
        operation_id="quoteGig",
        responses={status: problem(status) for status in (401, 403)},
        summary="Price a gig with extras and a quantity: line items, fees, total, deadline",
        opt={"exclude_from_auth": True},
    )
    async def quote(
        self,
        request: Request,
        runtime: NamedDependency[Runtime],
        listing_id: Id,
        extras: Annotated[list[str] | None, QueryParameter(name="extra", max_length=80)] = None,
        quantity: Annotated[int, QueryParameter(ge=1, le=1000)] = 1,
    ) -> GigQuote:
        cmd = OrderGig(extras=extras or [], quantity=quantity)
        return await service.quote_gig(runtime, listing_id, cmd, buyer=await optional_member(request))

    @post(
        "/{listing_id:int}/orders",
        operation_id="orderGig",
        summary="Order a gig (then pay it with POST /orders/{id}/payments)",
        status_code=HTTP_201_CREATED,
    )
    async def order(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        listing_id: Id,
        data: JSONBody[OrderGig],
    ) -> OrderOut:
        return await service.order_gig(runtime, listing_id, data, buyer=request.user)


class GigSellerController(Controller):
    path = "/gigs/sellers"
    tags = ["gigs"]

    @get(
        "/{member_id:int}/record",
        operation_id="gigSellerRecord",
        summary="A seller's record on gigs: orders completed, orders they cancelled before delivering",
    )
    async def record(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], member_id: Id
    ) -> SellerRecord:
        return await service.seller_record(runtime, member_id)


class GigOrderController(Controller):
    path = "/gigs/orders/{order_id:int}"
    tags = ["gigs"]

    @post(
        "/delivery",
        operation_id="deliverGigOrder",
        summary="Deliver: a message and files; marks the order complete",
        status_code=HTTP_200_OK,
    )
    async def deliver(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        order_id: Id,
        data: JSONBody[Delivery],
    ) -> OrderOut:
        return await service.deliver(runtime, order_id, data, caller=request.user)

    @post(
        "/accept",
        operation_id="acceptGigOrder",
        summary="Accept the delivery: the seller is paid",
        status_code=HTTP_200_OK,
    )
    async def accept(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], order_id: Id
    ) -> OrderOut:
        return await orders.fire(runtime, order_id, "accept", caller=request.user, process=PROCESS)

    @post(
        "/cancel",
        operation_id="cancelLateGigOrder",
        summary="Cancel an order whose delivery deadline passed: full refund to credit",
        status_code=HTTP_200_OK,
    )
    async def cancel_late(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], order_id: Id
    ) -> OrderOut:
        return await orders.fire(runtime, order_id, "cancel_late", caller=request.user, process=PROCESS)

    @post(
        "/seller-cancel",
        operation_id="sellerCancelGigOrder",
        summary="The seller cancels an order they have not delivered: full refund to the buyer's credit",
        status_code=HTTP_200_OK,
    )
    async def seller_cancel(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], order_id: Id
    ) -> OrderOut:
        await service.check_gig_order(runtime, order_id, request.user)
        order = await orders.get_order(runtime, order_id, caller=request.user)
        if order.seller_id != request.user.id:
            message = (
                "only the order's seller cancels it this way; a buyer cancels a late order "
                f"(POST /gigs/orders/{order_id}/cancel) or proposes a cancellation"
            )
            raise Forbidden(message)
        return await orders.fire(runtime, order_id, "seller_cancel", caller=request.user)

    @get("/cancellation", operation_id="listGigCancellations", summary="Cancellation proposals of the order")
    async def list_cancellations(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], order_id: Id
    ) -> list[CancellationOut]:
        return await service.cancellations(runtime, order_id, caller=request.user)

    @post(
        "/cancellation",
        operation_id="proposeGigCancellation",
        summary="Propose to cancel the order (the other party accepts or declines)",
        status_code=HTTP_201_CREATED,
    )
    async def propose(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        order_id: Id,
        data: JSONBody[ProposeCancellation],
    ) -> CancellationOut:
        return await service.propose_cancellation(runtime, order_id, data.reason, caller=request.user)

    @post(
        "/cancellation/accept",
        operation_id="acceptGigCancellation",
        summary="Accept the other party's proposal: cancelled, refund to the buyer's credit",
        status_code=HTTP_200_OK,
    )
    async def accept_cancellation(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], order_id: Id
    ) -> OrderOut:
        return await service.accept_cancellation(runtime, order_id, caller=request.user)

    @post(
        "/cancellation/decline",
        operation_id="declineGigCancellation",
        summary="Decline the other party's proposal; the order goes on",
        status_code=HTTP_200_OK,
    )
    async def decline(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        order_id: Id,
        data: JSONBody[AnswerCancellation | None] = None,
    ) -> CancellationOut:
        answer = data.reason if data else ""
        return await service.decline_cancellation(runtime, order_id, answer, caller=request.user)

    @post(
        "/cancellation/withdraw",
        operation_id="withdrawGigCancellation",
        summary="Withdraw your own proposal",
        status_code=HTTP_200_OK,
    )
    async def withdraw(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], order_id: Id
    ) -> CancellationOut:
        return await service.withdraw_cancellation(runtime, order_id, caller=request.user)
