"""HTTP routes of the messaging area: conversations, messages, read state, moderation."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from agorakit.accounts import operator_only
from agorakit.http.openapi import problems
from agorakit.http.params import Id, Limit, MemberRequest
from agorakit.messaging import service
from agorakit.messaging.finding import parse_filters
from agorakit.messaging.schemas import (
    ConversationOut,
    ConversationPage,
    EditMessage,
    MarkRead,
    MessageOut,
    MessagePage,
    PostMessage,
    StartConversation,
    UnreadOut,
)
from agorakit.pagination import DEFAULT_LIMIT
from agorakit.runtime import Runtime

#: ``?after=<message id>``: poll for newer messages
After = Annotated[int | None, QueryParameter(ge=0, le=2_147_483_647)]


# Filters of the conversation list, read and checked by ``parse_filters`` (a 400).
Counterpart = Annotated[
    str | None, QueryParameter(description="only conversations in which this member (id) takes part too")
]
ListingFilter = Annotated[
    str | None, QueryParameter(description="only questions about this listing (id): subject listing:<id>")
]
OrderFilter = Annotated[
    str | None, QueryParameter(description="only conversations about this order (id): subject order:<id>")
]
Subject = Annotated[
    str | None, QueryParameter(description="exact subject, or a prefix when it ends with ':' (lead:12:)")
]
Kind = Annotated[
    str | None,
    QueryParameter(description="order, listing, direct, or another module's kind (lead, support ...)"),
]
Unread = Annotated[
    str | None,
    QueryParameter(description="true: only those with messages you have not read; false: only those without"),
]
Text = Annotated[
    str | None,
    QueryParameter(description="text in the messages you can read, any case (at least 2 characters)"),
]


class ConversationController(Controller):
    path = "/conversations"
    tags = ["messaging"]

    @post(
        "",
        operation_id="startConversation",
        responses=problems(404),
        summary="Write about an order, ask about a listing, or message a member",
        status_code=HTTP_201_CREATED,
    )
    async def start(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], data: JSONBody[StartConversation]
    ) -> ConversationOut:
        return await service.start_conversation(runtime, data, caller=request.user)

    @get(
        "",
        operation_id="listConversations",
        summary="Your conversations, the most recently active first (filtered, searched)",
        responses=problems(400),
    )
    async def list_mine(
        self,
        request: MemberRequest,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
        counterpart: Counterpart = None,
        listing: ListingFilter = None,
        order: OrderFilter = None,
        subject: Subject = None,
        kind: Kind = None,
        unread: Unread = None,
        q: Text = None,
    ) -> ConversationPage:
        filters = parse_filters(
            viewer_id=request.user.id,
            counterpart=counterpart,
            listing=listing,
            order=order,
            subject=subject,
            kind=kind,
            unread=unread,
            q=q,
        )
        items, next_cursor = await service.list_conversations(
            viewer=request.user, cursor=cursor, limit=limit, filters=filters
        )
        return ConversationPage(items=items, next_cursor=next_cursor)

    @get("/{conversation_id:int}", operation_id="getConversation", summary="One conversation")
    async def get_one(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], conversation_id: Id
    ) -> ConversationOut:
        return await service.get_conversation(runtime, conversation_id, viewer=request.user)

    @get(
        "/{conversation_id:int}/messages",
        operation_id="listMessages",
        summary="A conversation's messages, newest first (or newer than ?after=, oldest first)",
    )
    async def messages(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        conversation_id: Id,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
        after: After = None,
    ) -> MessagePage:
        items, next_cursor = await service.list_messages(
            runtime, conversation_id, viewer=request.user, cursor=cursor, limit=limit, after=after
        )
        return MessagePage(items=items, next_cursor=next_cursor)

    @post(
        "/{conversation_id:int}/messages",
        operation_id="postMessage",
        summary="Write in a conversation",
        status_code=HTTP_201_CREATED,
    )
    async def post_message(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        conversation_id: Id,
        data: JSONBody[PostMessage],
    ) -> MessageOut:
        return await service.post_message(runtime, conversation_id, data, sender=request.user)

    @patch(
        "/{conversation_id:int}/messages/{message_id:int}",
        operation_id="editMessage",
        summary="Edit the body of your message (within [messaging] edit_minutes)",
        responses=problems(403, 404, 409),
    )
    async def edit_message(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        conversation_id: Id,
        message_id: Id,
        data: JSONBody[EditMessage],
    ) -> MessageOut:
        return await service.edit_message(runtime, conversation_id, message_id, data, editor=request.user)

    @delete(
        "/{conversation_id:int}/messages/{message_id:int}",
        operation_id="deleteMessage",
        summary="Delete your message (within [messaging] edit_minutes); it shows as deleted",
        responses=problems(403, 404, 409),
    )
    async def delete_message(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], conversation_id: Id, message_id: Id
    ) -> None:
        await service.delete_message(runtime, conversation_id, message_id, editor=request.user)

    @post(
        "/{conversation_id:int}/read",
        operation_id="markConversationRead",
        summary="Mark a conversation read (up to a message)",
        status_code=HTTP_200_OK,
    )
    async def mark_read(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        conversation_id: Id,
        data: JSONBody[MarkRead | None] = None,
    ) -> ConversationOut:
        up_to = data.up_to if data else None
        return await service.mark_read(runtime, conversation_id, viewer=request.user, up_to=up_to)


class OrderConversationController(Controller):
    path = "/orders/{order_id:int}/conversation"
    tags = ["messaging"]

    @get("", operation_id="getOrderConversation", summary="The conversation of an order (its parties)")
    async def get_one(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], order_id: Id
    ) -> ConversationOut:
        return await service.order_conversation(runtime, order_id, caller=request.user)


class UnreadController(Controller):
    path = "/me/unread-messages"
    tags = ["messaging"]

    @get(
        "", operation_id="getUnreadMessages", summary="How many conversations and messages you have not read"
    )
    async def unread(self, request: MemberRequest) -> UnreadOut:
        return await service.unread_summary(request.user.id)


class OperatorMessageController(Controller):
    path = "/operator/messages"
    tags = ["operator"]
    guards = [operator_only]

    @get("", operation_id="operatorListMessages", summary="Messages screening flagged (or all), newest first")
    async def list_messages(
        self,
        request: MemberRequest,
        flagged: FromQuery[bool] = True,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> MessagePage:
        items, next_cursor = await service.operator_messages(
            viewer=request.user, flagged=flagged, cursor=cursor, limit=limit
        )
        return MessagePage(items=items, next_cursor=next_cursor)
