"""What every write request shares: the caller, its domain events, the notices they send,
and the system message an order transition posts in the order's conversation.

The app publishes events after its unit of work commits (notifications, emails, the
conversation's message, then the event marked published); the floor does all of it in
the request's one transaction, so its events are written already published, with the
rows their handlers write next to them.  Notification and email bodies are fixed strings
of the rendered templates' size.
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from typing import Any

import jwt
from litestar import Request

from bench.floor.driver import in_list, insert
from bench.floor.schemas import Problem, dumps

JWT_SECRET = os.environ.get("BENCH_FLOOR_JWT_SECRET", "")

MEMBER = (
    "SELECT id, email, display_name, country, skills, role, status, created_at, suspended_reason, "
    "security_stamp FROM core_member WHERE id = $1 LIMIT 1"
)


async def member_of(request: Request, s: Any) -> Any:
    """The caller: the HS256 token, then the member row and its security stamp (the app's
    JWT middleware)."""
    header = request.headers.get("authorization", "")
    try:
        claims = jwt.decode(header.removeprefix("Bearer "), JWT_SECRET, algorithms=["HS256"])
        member_id = int(claims["sub"])
    except (jwt.PyJWTError, KeyError, ValueError):
        raise Problem(401, "not_authenticated", "send a valid bearer token") from None
    row = await s.row(MEMBER, member_id)
    if row is None or row["security_stamp"] != claims.get("extras", {}).get("ss"):
        raise Problem(401, "not_authenticated", "the token is no longer valid")
    return row


async def store_events(s: Any, events: list[tuple[str, str, int | None, dict]], now: datetime) -> list[int]:
    """Domain events ``(name, subject, actor_id, data)``, published: one insert."""
    args: list[Any] = []
    for name, subject, actor, data in events:
        args += [name, subject, actor, dumps(data), now, "published", 0, None, now]
    values = ", ".join(f"({in_list(1 + 9 * i, 9)})" for i in range(len(events)))
    rows = await s.fetch(
        "INSERT INTO core_domain_event (name, subject, actor_id, data, at, status, attempts, last_error, "
        f"published_at) VALUES {values} RETURNING id",
        *args,
    )
    return [r["id"] for r in rows]


RECIPIENT = (
    "SELECT email, display_name, status, EXISTS(SELECT 1 FROM core_notification_preference WHERE member_id = $1 "
    "AND category = $2 AND email = $3) AS muted FROM core_member WHERE id = $4 LIMIT 1"
)


async def notify(
    s: Any, event_id: int, member_id: int, template: str, title: str, link: str, now: datetime
) -> None:
    """One notice: the recipient and their email opt-out (one read), the notification, its email."""
    member = await s.row(RECIPIENT, member_id, "orders", False, member_id)
    if member is None or member["status"] != "active":
        return
    body = (
        f"Hello {member['display_name']}, {title.lower()}. " + "Open the order to see what happens next. " * 3
    )
    notification = await s.row(
        "INSERT INTO core_notification (member_id, event_id, category, template, title, body, link, read_at, "
        "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING RETURNING id",
        member_id,
        event_id,
        "orders",
        template,
        title,
        body,
        link,
        None,
        now,
    )
    if notification is None or member["muted"] or not member["email"]:
        return
    await insert(
        s,
        "core_email_outbox",
        {
            "member_id": member_id,
            "notification_id": notification["id"],
            "to_address": member["email"],
            "subject": title,
            "text_body": body * 2,
            "html_body": f"<html><body><p>{body}</p><p>{body}</p></body></html>",
            "message_id": f"<{secrets.token_hex(16)}@bench>",
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "last_error": None,
            "claimed_at": None,
            "sent_at": None,
            "created_at": now,
        },
    )


CONVERSATION = (
    "SELECT c.id, p.member_id FROM core_conversation c LEFT JOIN core_conversation_participant p "
    'ON p.conversation = c.id WHERE c."key" = $1'
)


async def system_message(s: Any, order: Any, event_id: int, body: str, now: datetime) -> None:
    """The order conversation's system message: the conversation and its participants (one
    read; created or completed only when missing), the message, the conversation's last
    message."""
    key = f"order:{order['id']}"
    found = await s.fetch(CONVERSATION, key)
    parties = [order["buyer_id"], order["seller_id"]]
    if found:
        conversation = found[0]["id"]
        missing = [p for p in parties if p not in {r["member_id"] for r in found}]
    else:
        conversation = (
            await insert(
                s,
                "core_conversation",
                {
                    "key": key,
                    "kind": "order",
                    "subject": key,
                    "last_message_id": 0,
                    "last_message_at": None,
                    "created_at": now,
                },
            )
        )["id"]
        missing = parties
    if missing:
        args: list[Any] = []
        for member_id in missing:
            args += [conversation, member_id, 0, now]
        values = ", ".join(f"({in_list(1 + 4 * i, 4)})" for i in range(len(missing)))
        await s.fetch(
            "INSERT INTO core_conversation_participant (conversation, member_id, last_read_message_id, joined_at) "
            f"VALUES {values} ON CONFLICT (conversation, member_id) DO NOTHING",
            *args,
        )
    message = await s.row(
        "INSERT INTO core_message (conversation, sender_id, kind, body, attachments, flags, flagged, event_id, "
        "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (event_id) DO NOTHING RETURNING id",
        conversation,
        None,
        "system",
        body,
        "[]",
        "[]",
        False,
        event_id,
        now,
    )
    if message is not None:
        await s.fetch(
            "UPDATE core_conversation SET last_message_id = $1, last_message_at = $2 WHERE id = $3 AND "
            "last_message_id < $4",
            message["id"],
            now,
            conversation,
            message["id"],
        )
