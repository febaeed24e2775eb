"""Delivering the email outbox (a worker step).

Emails are queued in the transaction that decided to send them (status ``pending``).
:func:`deliver_emails` claims the due ones in a short transaction (on PostgreSQL with
``FOR UPDATE SKIP LOCKED``, so several workers never take the same email), sends each
outside any transaction, then records the outcome.  A failed attempt is retried after
``retry_base_seconds * 2**(attempts-1)`` seconds, at most ``retry_max_seconds``; after
``max_attempts`` the email is ``failed`` and shown to operators.  An email left
``sending`` by a worker that died is taken again after :data:`CLAIM_TIMEOUT`.
"""

from __future__ import annotations

import email.utils
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from agorakit.notifications.mailers import EmailMessage, mailer_for
from agorakit.notifications.tables import EmailOutbox

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

log = logging.getLogger("agorakit.email")

#: an email ``sending`` for longer than this belongs to a worker that died: taken again
CLAIM_TIMEOUT = timedelta(minutes=10)


class DeliveryReport(msgspec.Struct):
    #: ids of the emails sent
    sent: list[int] = []
    #: ids of the emails that failed and will be tried again
    retried: list[int] = []
    #: ids of the emails that failed for the last time
    failed: list[int] = []


def retry_delay(settings: Any, attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failure: base · 2^(attempts-1), capped."""
    seconds = min(settings.retry_base_seconds * 2 ** (attempts - 1), settings.retry_max_seconds)
    return timedelta(seconds=seconds)


async def _claim(runtime: Runtime, limit: int) -> list[dict[str, Any]]:
    async with runtime.db.transaction():
        now = runtime.clock.now()
        due = ((EmailOutbox.status == "pending") & (EmailOutbox.next_attempt_at <= now)) | (
            (EmailOutbox.status == "sending") & (EmailOutbox.claimed_at <= now - CLAIM_TIMEOUT)
        )
        query = EmailOutbox.select().where(due).order_by(EmailOutbox.id).limit(limit)
        if runtime.db.is_postgres:
            query = query.lock_rows(skip_locked=True)
        rows = await query
        if rows:
            await EmailOutbox.update({EmailOutbox.status: "sending", EmailOutbox.claimed_at: now}).where(
                EmailOutbox.id.is_in([row["id"] for row in rows])
            )
    return rows


def _message(runtime: Runtime, row: dict[str, Any]) -> EmailMessage:
    settings = runtime.settings
    return EmailMessage(
        to=row["to_address"],
        from_address=email.utils.formataddr((settings.site.name, settings.email.from_address)),
        subject=row["subject"],
        text=row["text_body"],
        html=row["html_body"],
        message_id=row["message_id"],
        headers={
            "Date": email.utils.format_datetime(runtime.clock.now()),
            "Auto-Submitted": "auto-generated",
        },
    )


async def deliver_emails(runtime: Runtime, *, limit: int = 50) -> DeliveryReport:
    """Send the due emails of the outbox (at most ``limit``); nothing is lost on failure."""
    mailer = mailer_for(runtime)  # a config error surfaces before anything is claimed
    report = DeliveryReport()
    settings = runtime.settings.email
    for row in await _claim(runtime, limit):
        try:
            await mailer.send(_message(runtime, row))
        except Exception as exc:
            attempts = row["attempts"] + 1
            failed = attempts >= settings.max_attempts
            error = f"{type(exc).__name__}: {exc}"[:2000]
            await EmailOutbox.update(
                {
                    EmailOutbox.status: "failed" if failed else "pending",
                    EmailOutbox.attempts: attempts,
                    EmailOutbox.last_error: error,
                    EmailOutbox.next_attempt_at: runtime.clock.now() + retry_delay(settings, attempts),
                    EmailOutbox.claimed_at: None,
                }
            ).where(EmailOutbox.id == row["id"])
            if failed:
                log.error(
                    "email %s to %s failed for good after %s attempts: %s",
                    row["id"],
                    row["to_address"],
                    attempts,
                    error,
                )
                report.failed.append(row["id"])
            else:
                log.warning(
                    "email %s to %s not sent (attempt %s): %s", row["id"], row["to_address"], attempts, error
                )
                report.retried.append(row["id"])
            continue
        await EmailOutbox.update(
            {
                EmailOutbox.status: "sent",
                EmailOutbox.sent_at: runtime.clock.now(),
                EmailOutbox.last_error: None,
                EmailOutbox.claimed_at: None,
            }
        ).where(EmailOutbox.id == row["id"])
        report.sent.append(row["id"])
    return report
