"""HTTP routes of disputes: parties open and read them, operators work the queue and resolve."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from agorakit.accounts.auth import operator_only
from agorakit.disputes import service
from agorakit.disputes.schemas import DisputeOut, DisputePage, DisputeReasons, OpenDispute, ResolveDispute
from agorakit.errors import FieldError, ValidationFailed
from agorakit.http.openapi import problems
from agorakit.http.params import Id, IdempotencyKey, Limit, MemberRequest
from agorakit.pagination import DEFAULT_LIMIT
from agorakit.runtime import Runtime


class OrderDisputeController(Controller):
    path = "/orders/{order_id:int}/disputes"
    tags = ["disputes"]

    @get("", operation_id="listOrderDisputes", summary="Disputes opened on an order")
    async def list_for_order(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], order_id: Id
    ) -> list[DisputeOut]:
        return await service.order_disputes(runtime, order_id, caller=request.user)

    @get(
        "/reasons",
        operation_id="listDisputeReasons",
        responses=problems(409),
        summary="Reason codes and rules for disputing an order",
    )
    async def reasons(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], order_id: Id
    ) -> DisputeReasons:
        return await service.dispute_reasons(runtime, order_id, caller=request.user)

    @post(
        "",
        operation_id="openDispute",
        summary="Open a dispute (report) on an order",
        status_code=HTTP_201_CREATED,
    )
    async def open(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        order_id: Id,
        data: JSONBody[OpenDispute],
    ) -> DisputeOut:
        return await service.open_dispute(runtime, order_id, data, caller=request.user)


class DisputeController(Controller):
    path = "/disputes"
    tags = ["disputes"]

    @get("/{dispute_id:int}", operation_id="getDispute", summary="One dispute (parties and operators)")
    async def get_one(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], dispute_id: Id
    ) -> DisputeOut:
        return await service.get_dispute(runtime, dispute_id, caller=request.user)


class OperatorDisputeController(Controller):
    path = "/operator/disputes"
    tags = ["operator"]
    guards = [operator_only]

    @get("", operation_id="listDisputeQueue", summary="The dispute queue, oldest first, with overdue flags")
    async def queue(
        self,
        runtime: NamedDependency[Runtime],
        status: FromQuery[service.Status | None] = "open",
        overdue: FromQuery[bool | None] = None,
        process: Annotated[
            list[str] | None,
            QueryParameter(description="only disputes of orders of these processes (repeat the parameter)"),
        ] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> DisputePage:
        if process and len(process) > 20:
            raise ValidationFailed([FieldError("process", "name at most 20 processes")])
        items, next_cursor = await service.dispute_queue(
            runtime, status=status, overdue=overdue, cursor=cursor, limit=limit, processes=process
        )
        return DisputePage(items=items, next_cursor=next_cursor)

    @post(
        "/{dispute_id:int}/resolve",
        operation_id="resolveDispute",
        summary="Resolve a dispute: refund, release or reject",
        status_code=HTTP_200_OK,
    )
    async def resolve(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        dispute_id: Id,
        data: JSONBody[ResolveDispute],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[DisputeOut]:
        dispute, replayed = await service.resolve_dispute(
            runtime, dispute_id, data, caller=request.user, idempotency_key=idempotency_key
        )
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        return Response(dispute, headers=headers)
