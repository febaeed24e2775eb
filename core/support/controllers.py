"""HTTP routes of support: members open and follow their requests; operators work the queue."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from agorakit.accounts import operator_only
from agorakit.http.openapi import problems
from agorakit.http.params import Id, Limit, MemberRequest
from agorakit.pagination import DEFAULT_LIMIT
from agorakit.runtime import Runtime
from agorakit.support import actions, service
from agorakit.support.schemas import (
    AssignTicket,
    Box,
    Category,
    OpenTicket,
    OperatorTicketOut,
    OperatorTicketPage,
    ReplyTicket,
    Status,
    TicketOut,
    TicketPage,
)


class SupportController(Controller):
    path = "/support"
    tags = ["support"]

    @post(
        "",
        operation_id="openSupportTicket",
        summary="Ask the site's support: a category, what it is about, a first message",
        status_code=HTTP_201_CREATED,
    )
    async def open(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], data: JSONBody[OpenTicket]
    ) -> TicketOut:
        return await service.open_ticket(runtime, data, member=request.user)

    @get("", operation_id="listSupportTickets", summary="Your support requests, newest first")
    async def list_mine(
        self,
        request: MemberRequest,
        status: FromQuery[Status | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> TicketPage:
        items, next_cursor = await service.my_tickets(
            member=request.user, status=status, cursor=cursor, limit=limit
        )
        return TicketPage(items=list(items), next_cursor=next_cursor)

    @get("/{ticket_id:int}", operation_id="getSupportTicket", summary="One of your support requests")
    async def get_one(self, request: MemberRequest, ticket_id: Id) -> TicketOut:
        return service.to_ticket(await service.own_ticket_row(ticket_id, request.user))

    @post(
        "/{ticket_id:int}/close",
        operation_id="closeSupportTicket",
        responses=problems(409),
        summary="Close your support request (writing in it opens it again)",
        status_code=HTTP_200_OK,
    )
    async def close(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], ticket_id: Id
    ) -> TicketOut:
        return await actions.close_own(runtime, ticket_id, member=request.user)


class OperatorSupportController(Controller):
    path = "/operator/support"
    tags = ["operator"]
    guards = [operator_only]

    @get(
        "",
        operation_id="operatorListSupportTickets",
        summary="Support requests, the longest waiting for an answer first",
    )
    async def queue(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        box: FromQuery[Box] = "all",
        status: FromQuery[Status] = "open",
        category: FromQuery[Category | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> OperatorTicketPage:
        items, next_cursor = await service.operator_queue(
            runtime,
            operator=request.user,
            box=box,
            status=status,
            category=category,
            cursor=cursor,
            limit=limit,
        )
        return OperatorTicketPage(items=items, next_cursor=next_cursor)

    @get("/{ticket_id:int}", operation_id="operatorGetSupportTicket", summary="One support request")
    async def get_one(self, runtime: NamedDependency[Runtime], ticket_id: Id) -> OperatorTicketOut:
        return await actions.operator_ticket(runtime, ticket_id)

    @post(
        "/{ticket_id:int}/assign",
        operation_id="operatorAssignSupportTicket",
        summary="Give a support request to an operator (yourself or another)",
        status_code=HTTP_200_OK,
    )
    async def assign(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        ticket_id: Id,
        data: JSONBody[AssignTicket],
    ) -> OperatorTicketOut:
        return await actions.assign(runtime, ticket_id, data, operator=request.user)

    @post(
        "/{ticket_id:int}/reply",
        operation_id="operatorReplySupportTicket",
        responses=problems(409),
        summary="Answer a support request as Support",
        status_code=HTTP_200_OK,
    )
    async def reply(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        ticket_id: Id,
        data: JSONBody[ReplyTicket],
    ) -> OperatorTicketOut:
        return await actions.reply(runtime, ticket_id, data, operator=request.user)

    @post(
        "/{ticket_id:int}/close",
        operation_id="operatorCloseSupportTicket",
        responses=problems(409),
        summary="Close a support request",
        status_code=HTTP_200_OK,
    )
    async def close(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], ticket_id: Id
    ) -> OperatorTicketOut:
        return await actions.close_as_operator(runtime, ticket_id, operator=request.user)
