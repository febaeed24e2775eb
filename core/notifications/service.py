"""Turning events into notifications and emails; the inbox; email preferences; operator views.

:func:`notify_events` is the core's ``agorakit_on_events`` handler, a batch of events at a
time, and runs inside the transaction that records them (so a notification commits with
the change it tells of): for each event every ``agorakit_notify`` implementation says
who to tell; each notice is rendered from its template and, in that unit of work, stored
in the member's inbox and, unless the member turned email off for its category, queued
in the email outbox.  A notification is unique per (event, member, template), so an
event delivered twice notifies once.  When a plugin fails or a template is missing, the
other notices are still stored and the error is raised again at the end so that the
event is delivered again after the commit (at least once).
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import logging
from typing import TYPE_CHECKING, Any

from agorakit.accounts.tables import Member
from agorakit.db.prepared import PreparedInsert, PreparedRaw, any_of_sql
from agorakit.errors import FieldError, NotFound, ValidationFailed
from agorakit.events import DomainEvent, EventsFailed
from agorakit.hooks import CORE_PLUGINS, collect, maybe_await
from agorakit.notifications import CATEGORIES, Notice
from agorakit.notifications.rendering import Rendered, renderer
from agorakit.notifications.schemas import (
    NotificationOut,
    NotificationSettings,
)
from agorakit.notifications.tables import EmailOutbox, Notification, NotificationPreference
from agorakit.pagination import decode_cursor, page
from agorakit.runtime import current_unit_of_work

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime, UnitOfWork

log = logging.getLogger("agorakit.notifications")

#: the core's own plugins (each area's notices): their generic notices yield to a plugin's own
CORE_NOTICE_PLUGINS = frozenset(CORE_PLUGINS)


# --------------------------------------------------------------------------------------
# Events → notices → notifications and emails
# --------------------------------------------------------------------------------------


async def collect_notices(runtime: Runtime, event: DomainEvent) -> tuple[list[Notice], list[str]]:
    """Every plugin's notices for ``event``, and the errors of the plugins that failed.

    The core's generic notice for a member is dropped when another plugin tells that
    member about the same event: a plugin that describes an event better wins.
    """
    by_plugin: list[tuple[str, list[Notice]]] = []
    errors: list[str] = []
    kwargs = {"event": event, "runtime": runtime}
    for impl in runtime.hooks.implementations("agorakit_notify"):
        args = {k: kwargs[k] for k in impl.argnames if k in kwargs}
        try:
            notices = collect([await maybe_await(impl.function(**args))])
            for notice in notices:
                _check_notice(notice)
        except Exception as exc:
            log.exception(
                "plugin %s failed in agorakit_notify for %s (%s)", impl.plugin_name, event.name, event.id
            )
            errors.append(f"{impl.plugin_name}: {type(exc).__name__}: {exc}"[:500])
            continue
        by_plugin.append((impl.plugin_name, notices))
    told_by_plugins = {
        n.member_id for name, notices in by_plugin if name not in CORE_NOTICE_PLUGINS for n in notices
    }
    chosen = [
        notice
        for name, notices in by_plugin
        for notice in notices
        if name not in CORE_NOTICE_PLUGINS or notice.member_id not in told_by_plugins
    ]
    return chosen, errors


def _check_notice(notice: Any) -> None:
    if not isinstance(notice, Notice):
        message = f"agorakit_notify must return agorakit.notifications.Notice objects, got {notice!r}"
        raise TypeError(message)
    if notice.category not in CATEGORIES:
        message = f"notice category {notice.category!r} is not one of {', '.join(CATEGORIES)}"
        raise ValueError(message)
    if not notice.template or len(notice.template) > 100:
        message = f"notice template name {notice.template!r} must have 1 to 100 characters"
        raise ValueError(message)
    if notice.link is not None and len(notice.link) > 500:
        message = f"notice link {notice.link[:60]!r}... is longer than 500 characters"
        raise ValueError(message)


async def notify_events(runtime: Runtime, events: list[DomainEvent]) -> None:
    """Notify everyone the plugins name about each of ``events``, set-wise: one read of
    the recipients with their email settings (none when the transaction holds them), and
    one statement for the notifications and their emails (PostgreSQL: a data-modifying
    ``WITH``; SQLite: an insert into the view ``core_notice``), in one unit of work.

    Raises :class:`~agorakit.events.EventsFailed` (after storing what it could) naming the
    events whose notices could not all be made, so that the outbox retries those.
    """
    errors = await _notify(runtime, events)
    if errors:
        failed = {
            events[index].id: f"notifying {events[index].name} failed: " + "; ".join(problems)
            for index, problems in errors.items()
        }
        raise EventsFailed(failed)


async def _notify(runtime: Runtime, events: list[DomainEvent]) -> dict[int, list[str]]:
    """Collect, render and store the notices of ``events``; each failed event's errors
    by its position."""
    batch: list[tuple[int, DomainEvent, Notice]] = []
    errors: dict[int, list[str]] = {}
    async with contextlib.AsyncExitStack() as ahead:  # what notices read, once for the batch
        for manager in await runtime.hooks.collect(
            "agorakit_notices_read_ahead", events=events, runtime=runtime
        ):
            await ahead.enter_async_context(manager)
        for index, event in enumerate(events):
            notices, problems = await collect_notices(runtime, event)
            if problems:
                errors[index] = problems
            batch += [(index, event, notice) for notice in notices]
    if batch:
        await _store(runtime, batch, errors)
    return errors


def _absolute(runtime: Runtime, link: str | None) -> str | None:
    if not link:
        return None
    if link.startswith(("http://", "https://")):
        return link
    return runtime.settings.site.base_url.rstrip("/") + "/" + link.lstrip("/")


def template_variables(
    runtime: Runtime, event: DomainEvent, notice: Notice, member: dict[str, Any]
) -> dict[str, Any]:
    """What a template sees: the notice's context plus ``site``, ``member``, ``event``,
    ``link`` and ``category`` (these names win over the context's)."""
    site = runtime.settings.site
    return {
        **notice.context,
        "site": {"name": site.name, "base_url": site.base_url},
        "member": {"id": member["id"], "display_name": member["display_name"], "email": member["email"]},
        "event": {"name": event.name, "subject": event.subject, "data": event.data, "at": event.at},
        "link": _absolute(runtime, notice.link),
        "category": notice.category,
    }


#: the recipients, each with the categories they turned email off for: a row per (member,
#: muted category), one with ``muted`` NULL for a member who turned none off
_RECIPIENTS = PreparedRaw(
    Member,
    lambda engine: (
        "SELECT m.id, m.email, m.display_name, m.status, p.category AS muted FROM core_member m "
        "LEFT JOIN core_notification_preference p ON p.member_id = m.id AND NOT p.email WHERE "
        + any_of_sql(engine, "m.id")
    ),
)


def _held_recipients(ids: list[int]) -> tuple[dict[int, dict[str, Any]], set[tuple[int, str]]]:
    """The recipients as the events' transaction holds them (an order's parties, read
    with the order: see :func:`agorakit.orders.queries.order_with_items`), when it holds
    every one of them with their email settings; else nothing."""
    uow = current_unit_of_work()
    held = [uow.held("member", member_id) for member_id in ids] if uow is not None else []
    if not held or any(member is None or "muted" not in member for member in held):
        return {}, set()
    members = {member["id"]: member for member in held}
    return members, {(member["id"], category) for member in held for category in member["muted"]}


#: a second delivery of the same event finds its notification there (unique per event,
#: member and template): its row is not returned, and no email is queued for it
_INSERT_NOTIFICATION = PreparedInsert(
    Notification, on_conflict_do_nothing=True, returning=("id", "event_id", "member_id", "template")
)
_INSERT_EMAIL = PreparedInsert(EmailOutbox)


#: rows per INSERT statement (a batch of events can have hundreds of notices)
CHUNK = 50


async def _store(
    runtime: Runtime, batch: list[tuple[int, DomainEvent, Notice]], errors: dict[int, list[str]]
) -> None:
    ids = sorted({notice.member_id for _, _, notice in batch})
    members, muted = _held_recipients(ids)
    if len(members) < len(ids):
        for row in await _RECIPIENTS.run(ids):
            members[row["id"]] = row
            if row["muted"] is not None:
                muted.add((row["id"], row["muted"]))
    # (Usually inside the events' transaction: rendering holds its locks, a few templates' time.)
    rendered: dict[tuple[Any, int, str], tuple[DomainEvent, Notice, dict[str, Any], Rendered]] = {}
    for index, event, notice in batch:
        member = members.get(notice.member_id)
        if member is None or member["status"] != "active":
            log.info("not notifying member %s of %s: unknown or suspended", notice.member_id, event.name)
            continue
        key = (event.id if event.id is not None else f"#{index}", notice.member_id, notice.template)
        if key in rendered:
            continue  # the same notice twice: stored once, as the unique index would have it
        try:
            result = renderer(runtime).render(
                notice.template, template_variables(runtime, event, notice, member)
            )
        except Exception as exc:
            log.error(
                "cannot render notice %r of %s (event %s): %s", notice.template, event.name, event.id, exc
            )
            errors.setdefault(index, []).append(f"template {notice.template}: {exc}"[:500])
            continue
        rendered[key] = (event, notice, member, result)
    if not rendered:
        return
    keys = list(rendered)
    if not runtime.db.is_postgres:
        async with runtime.unit_of_work() as uow:
            return await _store_through_view(runtime, uow, rendered, muted)
    if all(event.id is not None for event, *_ in rendered.values()):
        async with runtime.unit_of_work() as uow:
            return await _store_at_once(runtime, uow, rendered, muted)
    created: dict[tuple[Any, int, str], int] = {}
    # A statement for the notifications and one for their emails (per CHUNK rows).
    async with runtime.unit_of_work() as uow:
        rows = [
            {
                "member_id": notice.member_id,
                "event_id": event.id,
                "category": notice.category,
                "template": notice.template,
                "title": result.subject,
                "body": result.text,
                "link": notice.link,
                "read_at": None,
                "created_at": uow.now,
            }
            for event, notice, _, result in rendered.values()
        ]
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            stored = await _INSERT_NOTIFICATION.run(*chunk)
            # A row not returned: this event already told this member (a second delivery).
            returned = {(row["event_id"], row["member_id"], row["template"]): row["id"] for row in stored}
            for key, row in zip(keys[start : start + CHUNK], chunk, strict=True):
                notification_id = returned.get((row["event_id"], row["member_id"], row["template"]))
                if notification_id is not None:
                    created[key] = notification_id
        emails = []
        for key, (_, notice, member, result) in rendered.items():
            notification_id = created.get(key)
            if notification_id is None or not member["email"] or (notice.member_id, notice.category) in muted:
                continue
            emails.append(
                _email_row(
                    runtime,
                    uow,
                    to_address=member["email"],
                    subject=result.subject,
                    text_body=f"{result.text}\n\n-- \n{result.footer}" if result.footer else result.text,
                    html_body=result.html,
                    member_id=notice.member_id,
                    notification_id=notification_id,
                )
            )
        for start in range(0, len(emails), CHUNK):
            await _INSERT_EMAIL.run(*emails[start : start + CHUNK])


#: SQLite: the columns of the view ``core_notice`` that an insert gives (migration
#: ``core_notifications`` 2026-12-22): a notification, and its email (``to_address`` NULL:
#: none)
_NOTICE_COLUMNS = (
    "member_id",
    "event_id",
    "category",
    "template",
    "title",
    "body",
    "link",
    "created_at",
    "to_address",
    "subject",
    "text_body",
    "html_body",
    "message_id",
    "next_attempt_at",
)


@functools.cache
def _insert_notices(rows: int) -> PreparedRaw:
    """SQLite: ``rows`` notices in one insert into ``core_notice``, whose trigger inserts
    each notification and, when it is new and has an address, its email."""
    row = "(" + ", ".join(["{}"] * len(_NOTICE_COLUMNS)) + ")"
    return PreparedRaw(
        Notification,
        f"INSERT INTO core_notice ({', '.join(_NOTICE_COLUMNS)}) VALUES {', '.join([row] * rows)}",
    )


async def _store_through_view(
    runtime: Runtime,
    uow: UnitOfWork,
    rendered: dict[tuple[Any, int, str], tuple[DomainEvent, Notice, dict[str, Any], Rendered]],
    muted: set[tuple[int, str]],
) -> None:
    """:func:`_store`'s writes on SQLite: a statement per CHUNK notices (the view's
    trigger writes each notification and its email)."""
    values = []
    for event, notice, member, result in rendered.values():
        mail = None
        if member["email"] and (notice.member_id, notice.category) not in muted:
            text = f"{result.text}\n\n-- \n{result.footer}" if result.footer else result.text
            mail = _email_row(
                runtime,
                uow,
                to_address=member["email"],
                subject=result.subject,
                text_body=text,
                html_body=result.html,
                member_id=notice.member_id,
                notification_id=None,
            )
        values.append(
            [notice.member_id, event.id, notice.category, notice.template, result.subject, result.text]
            + [notice.link, uow.now]
            + [mail[c] if mail else None for c in _NOTICE_COLUMNS[8:]]
        )
    for start in range(0, len(values), CHUNK):
        chunk = values[start : start + CHUNK]
        await _insert_notices(len(chunk)).run(*(value for row in chunk for value in row))


#: PostgreSQL: notifications and the emails of those inserted now, in one statement (the
#: rows as arrays, a value per column); returns the notifications inserted (a second
#: delivery inserts none, and queues no email)
_NOTIFY_AT_ONCE = PreparedRaw(
    Notification,
    'WITH n AS (INSERT INTO "core_notification" '
    "(member_id, event_id, category, template, title, body, link, read_at, created_at) "
    "SELECT m, e, c, t, ti, b, l, NULL, {} FROM unnest({}::integer[], {}::integer[], {}::varchar[], "
    "{}::varchar[], {}::varchar[], {}::text[], {}::varchar[]) AS v(m, e, c, t, ti, b, l) "
    "ON CONFLICT DO NOTHING RETURNING id, event_id, member_id, template), "
    'mail AS (INSERT INTO "core_email_outbox" (member_id, notification_id, to_address, subject, text_body, '
    "html_body, message_id, status, attempts, next_attempt_at, created_at) "
    "SELECT n.member_id, n.id, v.a, v.s, v.tb, v.hb, v.mid, 'pending', 0, {}, {} FROM n JOIN unnest("
    "{}::integer[], {}::integer[], {}::varchar[], {}::varchar[], {}::varchar[], {}::text[], {}::text[], "
    "{}::varchar[]) AS v(e, m, t, a, s, tb, hb, mid) ON v.e = n.event_id AND v.m = n.member_id AND v.t = n.template) "
    "SELECT id, event_id, member_id, template FROM n",
)


async def _store_at_once(
    runtime: Runtime,
    uow: UnitOfWork,
    rendered: dict[tuple[Any, int, str], tuple[DomainEvent, Notice, dict[str, Any], Rendered]],
    muted: set[tuple[int, str]],
) -> None:
    """:func:`_store`'s writes in one statement (PostgreSQL): every notification, and
    the email of each one inserted now whose member has an address and email on."""
    notices = list(rendered.values())
    emails = [
        _email_row(
            runtime,
            uow,
            to_address=member["email"],
            subject=result.subject,
            text_body=f"{result.text}\n\n-- \n{result.footer}" if result.footer else result.text,
            html_body=result.html,
            member_id=notice.member_id,
            notification_id=None,
        )
        | {"event_id": event.id, "template": notice.template}
        for event, notice, member, result in notices
        if member["email"] and (notice.member_id, notice.category) not in muted
    ]
    now = uow.now
    await _NOTIFY_AT_ONCE.run(
        now,
        [notice.member_id for _, notice, _, _ in notices],
        [event.id for event, _, _, _ in notices],
        [notice.category for _, notice, _, _ in notices],
        [notice.template for _, notice, _, _ in notices],
        [result.subject for _, _, _, result in notices],
        [result.text for _, _, _, result in notices],
        [notice.link for _, notice, _, _ in notices],
        now,
        now,
        [e["event_id"] for e in emails],
        [e["member_id"] for e in emails],
        [e["template"] for e in emails],
        [e["to_address"] for e in emails],
        [e["subject"] for e in emails],
        [e["text_body"] for e in emails],
        [e["html_body"] for e in emails],
        [e["message_id"] for e in emails],
    )


def _email_row(
    runtime: Runtime,
    uow: UnitOfWork,
    *,
    to_address: str,
    subject: str,
    text_body: str,
    html_body: str | None,
    member_id: int | None,
    notification_id: int | None,
) -> dict[str, Any]:
    domain = runtime.settings.email.from_address.rpartition("@")[2] or "localhost"
    return {
        "member_id": member_id,
        "notification_id": notification_id,
        "to_address": to_address,
        "subject": subject[:255],
        "text_body": text_body,
        "html_body": html_body,
        "message_id": email.utils.make_msgid(idstring="agorakit", domain=domain),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": uow.now,
        "created_at": uow.now,
    }


async def queue_email(
    runtime: Runtime,
    uow: UnitOfWork,
    *,
    to_address: str,
    subject: str,
    text_body: str,
    html_body: str | None = None,
    member_id: int | None = None,
    notification_id: int | None = None,
) -> int:
    """Put an email in the outbox inside ``uow``; the worker sends it after the commit."""
    row = _email_row(
        runtime,
        uow,
        to_address=to_address,
        subject=subject,
        text_body=text_body,
        html_body=html_body,
        member_id=member_id,
        notification_id=notification_id,
    )
    return (await _INSERT_EMAIL.run(row))[0]["id"]


# --------------------------------------------------------------------------------------
# The inbox
# --------------------------------------------------------------------------------------


def _to_notification(row: dict[str, Any]) -> NotificationOut:
    return NotificationOut(
        id=row["id"],
        category=row["category"],
        template=row["template"],
        title=row["title"],
        body=row["body"],
        link=row["link"],
        read=row["read_at"] is not None,
        read_at=row["read_at"],
        created_at=row["created_at"],
    )


async def list_notifications(
    member_id: int, *, unread: bool = False, cursor: str | None = None, limit: int = 20
) -> tuple[list[NotificationOut], str | None]:
    """The member's notifications, newest first (only unread ones with ``unread``)."""
    query = (
        Notification.select()
        .where(Notification.member_id == member_id)
        .order_by(Notification.id, ascending=False)
        .limit(limit + 1)
    )
    if unread:
        query = query.where(Notification.read_at.is_null())
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Notification.id < position["id"])
    rows, next_cursor = page(await query, limit, lambda row: {"id": row["id"]})
    return [_to_notification(row) for row in rows], next_cursor


async def unread_count(member_id: int) -> int:
    return await Notification.count().where(
        (Notification.member_id == member_id) & Notification.read_at.is_null()
    )


async def mark_read(runtime: Runtime, member_id: int, notification_id: int) -> NotificationOut:
    """Mark one of the member's notifications read (again is fine); 404 for anyone else's."""
    async with runtime.unit_of_work() as uow:
        await Notification.update({Notification.read_at: uow.now}).where(
            (Notification.id == notification_id)
            & (Notification.member_id == member_id)
            & Notification.read_at.is_null()
        )
    row = (
        await Notification.select()
        .where((Notification.id == notification_id) & (Notification.member_id == member_id))
        .first()
    )
    if row is None:
        raise NotFound(f"you have no notification {notification_id}")
    return _to_notification(row)


async def mark_all_read(runtime: Runtime, member_id: int) -> int:
    """Mark every unread notification of the member read; returns how many."""
    async with runtime.unit_of_work() as uow:
        rows = (
            await Notification.update({Notification.read_at: uow.now})
            .where((Notification.member_id == member_id) & Notification.read_at.is_null())
            .returning(Notification.id)
        )
    return len(rows)


# --------------------------------------------------------------------------------------
# Email preferences
# --------------------------------------------------------------------------------------


async def email_preferences(member_id: int) -> NotificationSettings:
    """Whether the member gets email, per category (on unless turned off)."""
    rows = await NotificationPreference.select(
        NotificationPreference.category, NotificationPreference.email
    ).where(NotificationPreference.member_id == member_id)
    chosen = {row["category"]: bool(row["email"]) for row in rows}
    return NotificationSettings(email={category: chosen.get(category, True) for category in CATEGORIES})


async def set_email_preferences(
    runtime: Runtime, member_id: int, email: dict[str, bool]
) -> NotificationSettings:
    """Turn email on or off for the categories given; the others keep their setting."""
    unknown = sorted(set(email) - set(CATEGORIES))
    if unknown:
        errors = [
            FieldError(f"email.{name}", f"is not a category; categories: {', '.join(CATEGORIES)}")
            for name in unknown
        ]
        raise ValidationFailed(errors)
    if email:
        async with runtime.unit_of_work():
            await NotificationPreference.insert(
                *[
                    NotificationPreference(member_id=member_id, category=category, email=wanted)
                    for category, wanted in sorted(email.items())
                ]
            ).on_conflict(
                target=(NotificationPreference.member_id, NotificationPreference.category),
                action="DO UPDATE",
                values=[NotificationPreference.email],
            )
    return await email_preferences(member_id)
