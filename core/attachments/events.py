"""The attachment events.

Each class is one domain event of this area (``docs/events.md``); ``subject`` and
``actor_id`` travel on the envelope (:class:`agorakit.events.DomainEvent`).
"""

from __future__ import annotations

from agorakit.events import Event


class AttachmentUploaded(Event, frozen=True, kw_only=True):
    """A member uploaded a file for an order, a conversation or themselves (``scope``)."""

    name = "attachment.uploaded"
    attachment_id: int
    scope: str
    content_type: str
    size: int


#: this area's events, registered through ``agorakit_event_types``
EVENTS: list[type[Event]] = [AttachmentUploaded]
