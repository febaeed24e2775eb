"""Request and response bodies of the messaging API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from agorakit.attachments.schemas import AttachmentOut
from agorakit.http.params import RowId

#: decoding bound; the site's limit is ``[messaging] max_message_length``
Body = Annotated[str, msgspec.Meta(max_length=100_000)]
#: decoding bound; the site's limit is ``[messaging] max_attachments``
AttachmentIds = Annotated[list[RowId], msgspec.Meta(max_length=50)]


class StartConversation(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Write about an order, ask about a listing, or message a member: give exactly one."""

    order_id: RowId | None = None
    listing_id: RowId | None = None
    member_id: RowId | None = None
    body: Body = ""
    #: ids of your uploads (POST /attachments) for this conversation's scope
    attachments: AttachmentIds = []


class PostMessage(msgspec.Struct, forbid_unknown_fields=True):
    body: Body = ""
    attachments: AttachmentIds = []


class EditMessage(msgspec.Struct, forbid_unknown_fields=True):
    #: the new text (screened like a new message; may be empty when the message has files)
    body: Body


class MarkRead(msgspec.Struct, forbid_unknown_fields=True):
    #: read up to this message (default: the newest)
    up_to: RowId | None = None


class MessageFlagOut(msgspec.Struct):
    reason: str
    match: str


class MessageOut(msgspec.Struct):
    id: int
    conversation_id: int
    #: "member", "system" (an event such as an order transition) or "support" (an
    #: operator writing as Support)
    kind: str
    #: null for system messages, and for Support's messages except to operators
    sender_id: int | None
    #: "Support" on an operator's message
    sender_name: str | None
    body: str
    attachments: list[AttachmentOut]
    created_at: datetime
    #: screening flags; shown to operators only
    flags: list[MessageFlagOut] = []
    #: when its sender last edited the body (null: never)
    edited_at: datetime | None = None
    #: when its sender deleted it (null: not deleted); a deleted message has no body or files
    deleted_at: datetime | None = None


class ParticipantOut(msgspec.Struct):
    id: int
    display_name: str


class ConversationOut(msgspec.Struct):
    id: int
    #: "order", "listing", "direct", or another module's kind (e.g. "lead")
    kind: str
    #: what it is about ("order:12", "listing:5"); null for direct messages
    subject: str | None
    participants: list[ParticipantOut]
    #: the other participant (the first other one when there are several); null when
    #: there is none or you do not take part
    counterpart: ParticipantOut | None
    created_at: datetime
    last_message_at: datetime | None
    last_message: MessageOut | None
    #: messages after your last read one that others wrote (0 for operators looking in)
    unread_count: int
    #: the conversation ended (its seller left the order): kept to read, not to write in
    closed: bool = False


class ConversationPage(msgspec.Struct):
    items: list[ConversationOut]
    next_cursor: str | None


class MessagePage(msgspec.Struct):
    items: list[MessageOut]
    next_cursor: str | None


class UnreadOut(msgspec.Struct):
    #: conversations with unread messages
    conversations: int
    #: unread messages in all of them
    messages: int
