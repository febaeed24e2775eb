"""Request and response bodies of the support API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from agorakit.http.params import RowId

Category = Literal["order", "payment", "withdrawal", "account", "other"]
#: order, listing, withdrawal (the core checks them) or a kind a plugin vouches for (lead)
LinkKind = Annotated[str, msgspec.Meta(min_length=1, max_length=12, pattern=r"^[a-z_]+$")]
Status = Literal["open", "closed"]
Box = Literal["unassigned", "mine", "all"]

#: decoding bound; the site's limit is ``[messaging] max_message_length``
Body = Annotated[str, msgspec.Meta(max_length=100_000)]
#: decoding bound; the site's limit is ``[messaging] max_attachments``
AttachmentIds = Annotated[list[RowId], msgspec.Meta(max_length=50)]
Subject = Annotated[str, msgspec.Meta(max_length=200)]


class TicketLink(msgspec.Struct, forbid_unknown_fields=True):
    """What a support request is about: one of your orders (``order``), a listing you own
    or may see (``listing``), one of your withdrawals (``withdrawal``), or an object of a
    plugin's that the plugin vouches for (``lead``); another kind is a 400."""

    kind: LinkKind
    id: RowId


class OpenTicket(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A member's support request and its first message."""

    category: Category
    subject: Subject | None = None
    body: Body
    #: ids of your own uploads for scope ``member:<your id>``; they move to the request's conversation
    attachments: AttachmentIds = []
    link: TicketLink | None = None


class AssignTicket(msgspec.Struct, forbid_unknown_fields=True):
    #: the operator to give it to (yourself or another operator)
    operator_id: RowId


class ReplyTicket(msgspec.Struct, forbid_unknown_fields=True):
    body: Body = ""
    #: ids of your uploads for scope ``conversation:<the ticket's conversation_id>``
    attachments: AttachmentIds = []


class TicketOut(msgspec.Struct):
    """A support request as its member sees it."""

    id: int
    category: str
    subject: str | None
    link: TicketLink | None
    #: open | closed
    status: str
    #: the conversation to read and write in (``/conversations/{id}``)
    conversation_id: int
    #: your last message waits for Support's answer
    waiting: bool
    created_at: datetime
    last_member_message_at: datetime
    #: when Support last answered (null: not yet)
    last_reply_at: datetime | None
    closed_at: datetime | None


class TicketMemberOut(msgspec.Struct):
    id: int
    display_name: str
    email: str


class OperatorTicketOut(TicketOut):
    """A support request as operators see it: whose it is, who works on it, how long
    the member has waited."""

    member: TicketMemberOut
    assignee_id: int | None
    #: when the oldest unanswered member message was written (null: nothing waits)
    waiting_since: datetime | None
    #: seconds since then (null: nothing waits)
    age_seconds: int | None


class TicketPage(msgspec.Struct):
    items: list[TicketOut]
    next_cursor: str | None


class OperatorTicketPage(msgspec.Struct):
    items: list[OperatorTicketOut]
    next_cursor: str | None
