"""The operators' queues of the outboxes this area serves (``/operator/emails`` and
``/operator/events``): what was given up on after every attempt."""

from __future__ import annotations

from agorakit.events.tables import StoredEvent
from agorakit.http import OperatorQueue, count_queue
from agorakit.notifications.tables import EmailOutbox


async def failed_queues() -> list[OperatorQueue]:
    """Failed emails (since written) and failed domain events (since they happened),
    each counted in one statement; no due rule."""
    emails = await count_queue(EmailOutbox, EmailOutbox.status == "failed", since=EmailOutbox.created_at)
    events = await count_queue(StoredEvent, StoredEvent.status == "failed", since=StoredEvent.at)
    return [
        OperatorQueue(
            key="emails.failed",
            title="Emails that could not be sent",
            count=emails.count,
            oldest_at=emails.oldest_at,
            list_path="/operator/emails?status=failed",
            area="notifications",
        ),
        OperatorQueue(
            key="events.failed",
            title="Events no handler could take",
            count=events.count,
            oldest_at=events.oldest_at,
            list_path="/operator/events?status=failed",
            area="events",
        ),
    ]
