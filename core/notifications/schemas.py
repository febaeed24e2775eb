"""Request and response bodies of the notifications API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class NotificationOut(msgspec.Struct):
    id: int
    #: orders | messages | reviews | disputes | listings | money | account
    category: str
    #: the template it was rendered from (clients may pick an icon by it)
    template: str
    #: one line
    title: str
    #: plain text; blank lines separate paragraphs
    body: str
    #: API path it points to, e.g. ``/orders/12``
    link: str | None
    read: bool
    read_at: datetime | None
    created_at: datetime


class NotificationPage(msgspec.Struct):
    items: list[NotificationOut]
    next_cursor: str | None


class UnreadCount(msgspec.Struct):
    unread: int


class MarkedRead(msgspec.Struct):
    #: notifications marked read by this call
    marked: int
    #: unread notifications left (0)
    unread: int


class NotificationSettings(msgspec.Struct):
    #: category → whether notices of it are also emailed (every category, default true)
    email: dict[str, bool]


class UpdateNotificationSettings(msgspec.Struct, forbid_unknown_fields=True):
    #: category → email on/off; categories not given keep their setting
    email: dict[str, bool]


class EmailOut(msgspec.Struct):
    id: int
    member_id: int | None
    notification_id: int | None
    to_address: str
    subject: str
    #: pending | sending | sent | failed
    status: str
    #: failed attempts so far
    attempts: int
    last_error: str | None
    #: when the worker tries (again)
    next_attempt_at: datetime | None
    sent_at: datetime | None
    created_at: datetime
    message_id: str


class EmailPage(msgspec.Struct):
    items: list[EmailOut]
    next_cursor: str | None


class EventOut(msgspec.Struct):
    id: int
    name: str
    subject: str
    actor_id: int | None
    data: dict[str, Any]
    at: datetime
    #: pending | published | failed
    status: str
    #: times it was handed to the plugins without every one succeeding
    attempts: int
    last_error: str | None
    published_at: datetime | None


class EventPage(msgspec.Struct):
    items: list[EventOut]
    next_cursor: str | None
