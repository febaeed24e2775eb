"""Operators' views of the outboxes: the emails waiting or failed, and the domain events
that failed, each retried on request."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from agorakit.errors import Conflict, NotFound
from agorakit.events.tables import StoredEvent
from agorakit.notifications.schemas import EmailOut, EventOut
from agorakit.notifications.tables import EmailOutbox
from agorakit.pagination import decode_cursor, page

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime


def _to_email(row: dict[str, Any]) -> EmailOut:
    return EmailOut(
        id=row["id"],
        member_id=row["member_id"],
        notification_id=row["notification_id"],
        to_address=row["to_address"],
        subject=row["subject"],
        status=row["status"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        next_attempt_at=row["next_attempt_at"],
        sent_at=row["sent_at"],
        created_at=row["created_at"],
        message_id=row["message_id"],
    )


async def list_emails(
    *, status: str | None, cursor: str | None, limit: int
) -> tuple[list[EmailOut], str | None]:
    """Outbox emails, newest first, optionally of one status."""
    query = EmailOutbox.select().order_by(EmailOutbox.id, ascending=False).limit(limit + 1)
    if status:
        query = query.where(EmailOutbox.status == status)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(EmailOutbox.id < position["id"])
    rows, next_cursor = page(await query, limit, lambda row: {"id": row["id"]})
    return [_to_email(row) for row in rows], next_cursor


async def retry_email(runtime: Runtime, email_id: int) -> EmailOut:
    """Give a failed email a fresh set of attempts, starting now (after fixing the cause)."""
    async with runtime.unit_of_work() as uow:
        updated = (
            await EmailOutbox.update(
                {
                    EmailOutbox.status: "pending",
                    EmailOutbox.attempts: 0,
                    EmailOutbox.next_attempt_at: uow.now,
                    EmailOutbox.claimed_at: None,
                }
            )
            .where((EmailOutbox.id == email_id) & (EmailOutbox.status == "failed"))
            .returning(EmailOutbox.id)
        )
        if not updated:
            row = await EmailOutbox.select(EmailOutbox.status).where(EmailOutbox.id == email_id).first()
            if row is None:
                raise NotFound(f"there is no email {email_id}")
            message = f"email {email_id} is {row['status']}; only failed emails can be retried"
            raise Conflict(message, extra={"status": row["status"]})
    row = await EmailOutbox.select().where(EmailOutbox.id == email_id).first()
    assert row is not None  # read above in the same call; emails are never deleted
    return _to_email(row)


def _to_event(row: dict[str, Any]) -> EventOut:
    data = row["data"]
    if not isinstance(data, dict):
        data = msgspec.json.decode(data or "{}")
    return EventOut(
        id=row["id"],
        name=row["name"],
        subject=row["subject"],
        actor_id=row["actor_id"],
        data=data,
        at=row["at"],
        status=row["status"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        published_at=row["published_at"],
    )


async def list_events(
    *, status: str | None, cursor: str | None, limit: int
) -> tuple[list[EventOut], str | None]:
    """Stored domain events, newest first, optionally of one status (``failed``: no
    handler could take them after every attempt)."""
    query = StoredEvent.select().order_by(StoredEvent.id, ascending=False).limit(limit + 1)
    if status:
        query = query.where(StoredEvent.status == status)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(StoredEvent.id < position["id"])
    rows, next_cursor = page(await query, limit, lambda row: {"id": row["id"]})
    return [_to_event(row) for row in rows], next_cursor


async def retry_event(runtime: Runtime, event_id: int) -> EventOut:
    """Send a failed event round again: pending with fresh attempts; the worker's next
    sweep publishes it to every plugin (handlers are idempotent)."""
    async with runtime.unit_of_work():
        updated = (
            await StoredEvent.update(
                # no owner, not claimed: the next sweep takes it (it happened long ago)
                {
                    StoredEvent.status: "pending",
                    StoredEvent.attempts: 0,
                    StoredEvent.process_id: None,
                    StoredEvent.claimed_at: None,
                }
            )
            .where((StoredEvent.id == event_id) & (StoredEvent.status == "failed"))
            .returning(StoredEvent.id)
        )
        if not updated:
            row = await StoredEvent.select(StoredEvent.status).where(StoredEvent.id == event_id).first()
            if row is None:
                raise NotFound(f"there is no event {event_id}")
            message = f"event {event_id} is {row['status']}; only failed events can be retried"
            raise Conflict(message, extra={"status": row["status"]})
    row = await StoredEvent.select().where(StoredEvent.id == event_id).first()
    assert row is not None  # read above in the same call; events are never deleted
    return _to_event(row)
