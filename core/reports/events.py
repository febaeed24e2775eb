"""The report events.

Each class is one domain event of this area (``docs/events.md``); ``subject`` and
``actor_id`` travel on the envelope (:class:`agorakit.events.DomainEvent`).
"""

from __future__ import annotations

from agorakit.events import Event


class ReportFiled(Event, frozen=True, kw_only=True):
    """A member reported a conversation, or another member in it, to the operators."""

    name = "report.filed"
    report_id: int
    reporter_id: int
    conversation_id: int
    #: the member reported; None for a report on the conversation as a whole
    member_id: int | None
    reason: str


class ReportDecided(Event, frozen=True, kw_only=True):
    """An operator decided a report: warned or suspended a member, or dismissed it."""

    name = "report.decided"
    report_id: int
    reporter_id: int
    conversation_id: int
    #: warn | suspend | dismiss
    action: str
    #: the member acted on; None when dismissed
    acted_on: int | None


#: this area's events, registered through ``agorakit_event_types``
EVENTS: list[type[Event]] = [ReportFiled, ReportDecided]
