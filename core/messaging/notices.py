"""Who the messaging area tells about its own events (its ``agorakit_notify``): every
recipient of a message."""

from __future__ import annotations

from agorakit.events import DomainEvent
from agorakit.messaging.events import MessagePosted
from agorakit.notifications import Notice


def message_notices(event: DomainEvent) -> list[Notice] | None:
    """One notice per recipient of a ``message.posted`` event (category ``messages``);
    None for other events."""
    posted = event.payload
    if not isinstance(posted, MessagePosted):
        return None
    conversation_id = posted.conversation_id
    context = {
        "sender_name": posted.sender_name or "A member",
        "excerpt": posted.excerpt,
        "conversation_id": conversation_id,
        "conversation_subject": posted.conversation_subject,
        "attachments": posted.attachments,
    }
    return [
        Notice(
            member_id=recipient,
            category="messages",
            template="message_received",
            context=context,
            link=f"/conversations/{conversation_id}",
        )
        for recipient in posted.recipients
        if recipient != event.actor_id
    ]
