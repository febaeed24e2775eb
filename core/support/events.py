"""The support events.

Each class is one domain event of this area (``docs/events.md``); ``subject``
(``support:<ticket id>``) and ``actor_id`` travel on the envelope
(:class:`agorakit.events.DomainEvent`).
"""

from __future__ import annotations

from agorakit.events import Event


class SupportTicketOpened(Event, frozen=True, kw_only=True):
    """A member opened a support request (its first message is in its conversation)."""

    name = "support.opened"
    ticket_id: int
    member_id: int
    category: str
    subject: str | None = None
    conversation_id: int
    #: what it is about, e.g. ``order:12`` (None: nothing in particular)
    link: str | None = None
    excerpt: str = ""


class SupportTicketAssigned(Event, frozen=True, kw_only=True):
    """An operator took a support request, or gave it to another operator."""

    name = "support.assigned"
    ticket_id: int
    member_id: int
    assignee_id: int
    #: the operator it was assigned to before (None: unassigned)
    previous_assignee_id: int | None = None


class SupportTicketReplied(Event, frozen=True, kw_only=True):
    """An operator answered a support request as Support (the member is told by the
    message's own ``message.posted`` notice)."""

    name = "support.replied"
    ticket_id: int
    member_id: int
    message_id: int
    operator_id: int


class SupportTicketClosed(Event, frozen=True, kw_only=True):
    """The member or an operator closed a support request."""

    name = "support.closed"
    ticket_id: int
    member_id: int
    #: an operator closed it (else its member)
    by_operator: bool


class SupportTicketReopened(Event, frozen=True, kw_only=True):
    """The member wrote in a closed support request: it is open again."""

    name = "support.reopened"
    ticket_id: int
    member_id: int
    message_id: int


#: this area's events, registered through ``agorakit_event_types``
EVENTS: list[type[Event]] = [
    SupportTicketOpened,
    SupportTicketAssigned,
    SupportTicketReplied,
    SupportTicketClosed,
    SupportTicketReopened,
]
