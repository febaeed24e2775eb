"""The messaging events.

Each class is one domain event of this area (``docs/events.md``); ``subject`` and
``actor_id`` travel on the envelope (:class:`agorakit.events.DomainEvent`).
"""

from __future__ import annotations

from agorakit.events import Event


class MessagePosted(Event, frozen=True, kw_only=True):
    """A member (or an operator, as Support) posted a message in a conversation."""

    name = "message.posted"
    #: a private conversation's text stays on the site (the feed and webhooks omit it)
    private_fields = frozenset({"excerpt", "conversation_subject"})
    conversation_id: int
    message_id: int
    recipients: list[int]
    conversation_subject: str | None = None
    sender_name: str
    #: "member", or "support": an operator wrote as Support (``sender_name`` is "Support")
    sender_role: str = "member"
    excerpt: str
    attachments: int = 0
    flagged: bool = False


class MessageEdited(Event, frozen=True, kw_only=True):
    """A member edited the body of one of their messages (screened again)."""

    name = "message.edited"
    private_fields = frozenset({"excerpt"})
    conversation_id: int
    message_id: int
    excerpt: str
    flagged: bool = False


class MessageDeleted(Event, frozen=True, kw_only=True):
    """A member deleted one of their messages (its row stays, shown as deleted)."""

    name = "message.deleted"
    conversation_id: int
    message_id: int


#: this area's events, registered through ``agorakit_event_types``
EVENTS: list[type[Event]] = [MessagePosted, MessageEdited, MessageDeleted]
