"""Support requests (tickets): a member opens one with a first message, writes in its
conversation (``support:<id>``) and closes it; operators work the queue, assign, answer
as Support and close.

A ticket keeps what the queue sorts by: whether a member message waits for an answer
(``waiting``), since when (``waiting_since``) and the id of that oldest unanswered
message (``queue_key``).  Every message of the conversation moves it on
(:func:`note_message`): the routes below do it in the message's own unit of work, and
the area's ``agorakit_on_events`` does it for messages written through the messaging
routes (once per message: a message older than what the ticket saw changes nothing).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from agorakit.accounts import get_members
from agorakit.attachments import check_attachments
from agorakit.attachments.service import move_to_scope
from agorakit.catalog import get_listing
from agorakit.db.prepared import Prepared, PreparedInsert
from agorakit.errors import AgorakitError, FieldError, Forbidden, NotFound, ValidationFailed
from agorakit.http import OperatorQueue, count_queue
from agorakit.messaging import PostMessage, ensure_conversation, post_message
from agorakit.money.tables import Withdrawal
from agorakit.orders import order_by_id
from agorakit.pagination import decode_cursor, page
from agorakit.support.events import (
    SupportTicketAssigned,
    SupportTicketOpened,
    SupportTicketReopened,
    SupportTicketReplied,
)
from agorakit.support.schemas import (
    OpenTicket,
    OperatorTicketOut,
    TicketLink,
    TicketMemberOut,
    TicketOut,
)
from agorakit.support.tables import SupportTicket

if TYPE_CHECKING:  # pragma: no cover
    from datetime import datetime

    from agorakit.accounts import MemberOut
    from agorakit.runtime import Runtime

SUBJECT = re.compile(r"^support:([1-9]\d{0,9})$")
#: the link kinds the core checks itself (a plugin vouches for others, e.g. ``lead``)
CORE_LINKS = ("order", "listing", "withdrawal")
#: characters of the first message quoted in the operators' notice
EXCERPT = 200


def subject_of(ticket_id: int) -> str:
    """The subject (and key) of a ticket's conversation."""
    return f"support:{ticket_id}"


def ticket_id_of(subject: str | None) -> int | None:
    match = SUBJECT.fullmatch(subject or "")
    return int(match.group(1)) if match else None


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


_TICKET = Prepared(lambda id: SupportTicket.select().where(SupportTicket.id == id).first())


async def ticket_row(ticket_id: int) -> dict[str, Any]:
    row = await _TICKET.run(ticket_id)
    if row is None:
        raise NotFound(f"there is no support request {ticket_id}")
    return row


async def own_ticket_row(ticket_id: int, member: MemberOut) -> dict[str, Any]:
    """The member's own ticket; anyone else's (or none) is a 404."""
    row = await _TICKET.run(ticket_id)
    if row is None or row["member_id"] != member.id:
        raise NotFound(f"there is no support request {ticket_id}")
    return row


def _link(row: dict[str, Any]) -> TicketLink | None:
    if row["link_kind"] is None:
        return None
    return TicketLink(kind=row["link_kind"], id=row["link_id"])


def _common(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "category": row["category"],
        "subject": row["subject"],
        "link": _link(row),
        "status": row["status"],
        "conversation_id": row["conversation_id"],
        "waiting": bool(row["waiting"]),
        "created_at": row["created_at"],
        "last_member_message_at": row["last_member_message_at"],
        "last_reply_at": row["last_reply_at"],
        "closed_at": row["closed_at"],
    }


def to_ticket(row: dict[str, Any]) -> TicketOut:
    return TicketOut(**_common(row))


async def to_operator_tickets(runtime: Runtime, rows: list[dict[str, Any]]) -> list[OperatorTicketOut]:
    members = await get_members([r["member_id"] for r in rows])
    now = runtime.clock.now()
    out = []
    for row in rows:
        member = members.get(row["member_id"])
        since = row["waiting_since"] if row["waiting"] else None
        out.append(
            OperatorTicketOut(
                **_common(row),
                member=TicketMemberOut(
                    id=row["member_id"],
                    display_name=member.display_name if member else "",
                    email=member.email if member else "",
                ),
                assignee_id=row["assignee_id"],
                waiting_since=since,
                age_seconds=max(0, int((now - since).total_seconds())) if since else None,
            )
        )
    return out


async def my_tickets(
    *, member: MemberOut, status: str | None, cursor: str | None, limit: int
) -> tuple[list[TicketOut], str | None]:
    """The member's tickets, newest first."""
    query = (
        SupportTicket.select()
        .where(SupportTicket.member_id == member.id)
        .order_by(SupportTicket.id, ascending=False)
        .limit(limit + 1)
    )
    if status is not None:
        query = query.where(SupportTicket.status == status)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(SupportTicket.id < position["id"])
    rows, next_cursor = page(await query, limit, lambda r: {"id": r["id"]})
    return [to_ticket(r) for r in rows], next_cursor


async def operator_queue(
    runtime: Runtime,
    *,
    operator: MemberOut,
    box: str,
    status: str,
    category: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[OperatorTicketOut], str | None]:
    """Tickets for operators: those waiting for an answer first, the longest waiting
    first (by their oldest unanswered member message), then the answered ones (by their
    last member message); ``box`` ``unassigned``, ``mine`` or ``all``."""
    t = SupportTicket
    query = t.select().where(t.status == status).limit(limit + 1)
    query = query.order_by(t.waiting, ascending=False).order_by(t.queue_key, t.id)
    if category is not None:
        query = query.where(t.category == category)
    if box == "unassigned":
        query = query.where(t.assignee_id.is_null())
    elif box == "mine":
        query = query.where(t.assignee_id == operator.id)
    position = decode_cursor(cursor, keys=("waiting", "queue", "id"))
    if position is not None:
        later = (t.queue_key > position["queue"]) | (
            (t.queue_key == position["queue"]) & (t.id > position["id"])
        )
        if position["waiting"]:
            query = query.where((t.waiting == False) | ((t.waiting == True) & later))  # noqa: E712
        else:
            query = query.where((t.waiting == False) & later)  # noqa: E712
    rows, next_cursor = page(
        await query,
        limit,
        lambda r: {"waiting": int(bool(r["waiting"])), "queue": r["queue_key"], "id": r["id"]},
    )
    return await to_operator_tickets(runtime, rows), next_cursor


async def waiting_queue() -> OperatorQueue:
    """The open tickets waiting for an answer, the first part of :func:`operator_queue`,
    counted; the oldest one waits since its oldest unanswered member message."""
    t = SupportTicket
    counted = await count_queue(t, (t.status == "open") & (t.waiting == True), since=t.waiting_since)  # noqa: E712
    return OperatorQueue(
        key="support.waiting",
        title="Support requests waiting for an answer",
        count=counted.count,
        oldest_at=counted.oldest_at,
        list_path="/operator/support?status=open",
        area="support",
    )


# --------------------------------------------------------------------------------------
# Opening
# --------------------------------------------------------------------------------------


async def _check_link(runtime: Runtime, link: TicketLink, member: MemberOut) -> None:
    """A 422 on ``link`` unless the object is the member's to name (the same whether it
    exists or not)."""
    if link.kind == "order":
        order = await order_by_id(link.id)
        allowed = order is not None and member.id in (order["buyer_id"], order["seller_id"])
    elif link.kind == "listing":
        try:
            await get_listing(link.id, viewer=member, runtime=runtime)
            allowed = True
        except (NotFound, Forbidden):
            allowed = False
    elif link.kind == "withdrawal":
        allowed = await Withdrawal.exists().where(
            (Withdrawal.id == link.id) & (Withdrawal.member_id == member.id)
        )
    else:
        answer = await runtime.hooks.first(
            "agorakit_support_link", kind=link.kind, id=link.id, member=member, runtime=runtime
        )
        if answer is None:
            message = f"a support request is not about a {link.kind!r}; link one of: {', '.join(CORE_LINKS)}"
            raise AgorakitError(message, errors=[FieldError("link.kind", "unknown kind")])
        allowed = answer is True
    if not allowed:
        message = f"{link.kind} {link.id} is not one of yours (or does not exist)"
        raise ValidationFailed([FieldError("link", message)])


_INSERT = PreparedInsert(SupportTicket)


async def open_ticket(runtime: Runtime, cmd: OpenTicket, *, member: MemberOut) -> TicketOut:
    """A member opens a support request with its first message (``POST /support``)."""
    if cmd.link is not None:
        await _check_link(runtime, cmd.link, member)
    subject = " ".join(cmd.subject.split()) if cmd.subject else None
    files = list(dict.fromkeys(cmd.attachments))
    own = f"member:{member.id}"
    if files:
        await check_attachments(files, scope=own, member_id=member.id)
    async with runtime.unit_of_work() as uow:
        now = uow.now
        inserted = await _INSERT.run(
            {
                "member_id": member.id,
                "category": cmd.category,
                "subject": subject or None,
                "link_kind": cmd.link.kind if cmd.link else None,
                "link_id": cmd.link.id if cmd.link else None,
                "status": "open",
                "assignee_id": None,
                "conversation_id": 0,
                "waiting": True,
                "waiting_since": now,
                "queue_key": 0,
                "last_member_message_id": 0,
                "last_member_message_at": now,
                "last_reply_message_id": 0,
                "last_reply_at": None,
                "closed_message_id": 0,
                "created_at": now,
                "closed_at": None,
                "closed_by": None,
            }
        )
        ticket_id = inserted[0]["id"]
        conversation_id = await ensure_conversation(
            uow, subject=subject_of(ticket_id), participant_ids=[member.id]
        )
        await move_to_scope(files, old=own, new=f"conversation:{conversation_id}")
        message = await post_message(
            runtime, conversation_id, PostMessage(body=cmd.body, attachments=files), sender=member
        )
        await SupportTicket.update(
            {
                SupportTicket.conversation_id: conversation_id,
                SupportTicket.queue_key: message.id,
                SupportTicket.last_member_message_id: message.id,
            }
        ).where(SupportTicket.id == ticket_id)
        opened = SupportTicketOpened(
            ticket_id=ticket_id,
            member_id=member.id,
            category=cmd.category,
            subject=subject or None,
            conversation_id=conversation_id,
            link=f"{cmd.link.kind}:{cmd.link.id}" if cmd.link else None,
            excerpt=_excerpt(message.body),
        )
        uow.record(opened, subject=subject_of(ticket_id), actor_id=member.id)
    return to_ticket(await ticket_row(ticket_id))


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT else flat[: EXCERPT - 1] + "…"


# --------------------------------------------------------------------------------------
# Messages move the ticket on
# --------------------------------------------------------------------------------------


async def note_message(
    runtime: Runtime,
    ticket_id: int,
    *,
    message_id: int,
    at: datetime,
    sender_id: int | None,
    support: bool,
    replied_event: bool = True,
) -> None:
    """Move the ticket on for a message of its conversation (once per message).

    Support's answer: nothing waits any more (unless the member wrote after it), and an
    unassigned ticket goes to the operator who answered.  A member's message: it waits
    (since the oldest unanswered one), and a closed ticket opens again.  The ticket's row
    is locked for the transaction (``FOR UPDATE`` on PostgreSQL; SQLite's one writer
    serialises instead): concurrent messages move it one after the other.  Support's
    answer records ``support.replied`` when it moves the ticket on (the reply route
    records it itself: ``replied_event=False``)."""
    async with runtime.unit_of_work() as uow:
        row = await _locked_ticket(ticket_id)
        if row is None:
            return
        changes, events = _changes(row, message_id=message_id, at=at, sender_id=sender_id, support=support)
        if not replied_event:
            events = [e for e in events if not isinstance(e, SupportTicketReplied)]
        if not changes:
            return
        t = SupportTicket
        await t.update({getattr(t, k): v for k, v in changes.items()}).where(t.id == ticket_id)
        for event in events:
            uow.record(event, subject=subject_of(ticket_id), actor_id=sender_id)


_TICKET_FOR_UPDATE = Prepared(
    lambda id: SupportTicket.select().where(SupportTicket.id == id).first().lock_rows()
)


async def _locked_ticket(ticket_id: int) -> dict[str, Any] | None:
    if SupportTicket._meta.db.engine_type != "postgres":
        return await _TICKET.run(ticket_id)
    return await _TICKET_FOR_UPDATE.run(ticket_id)


def _changes(
    row: dict[str, Any], *, message_id: int, at: datetime, sender_id: int | None, support: bool
) -> tuple[dict[str, Any], list[Any]]:
    ticket_id, member_id = row["id"], row["member_id"]
    changes: dict[str, Any] = {}
    events: list[Any] = []
    if support:
        if message_id <= row["last_reply_message_id"]:
            return {}, []
        changes = {"last_reply_message_id": message_id, "last_reply_at": at}
        if row["last_member_message_id"] < message_id:  # the member has not written since
            changes |= {"waiting": False, "waiting_since": None, "queue_key": row["last_member_message_id"]}
        if row["assignee_id"] is None and sender_id is not None:
            changes["assignee_id"] = sender_id
            events.append(
                SupportTicketAssigned(ticket_id=ticket_id, member_id=member_id, assignee_id=sender_id)
            )
        events.append(
            SupportTicketReplied(
                ticket_id=ticket_id, member_id=member_id, message_id=message_id, operator_id=sender_id or 0
            )
        )
        return changes, events
    if message_id <= row["last_member_message_id"]:
        return {}, []
    changes = {"last_member_message_id": message_id, "last_member_message_at": at}
    if not row["waiting"] and message_id > row["last_reply_message_id"]:
        changes |= {"waiting": True, "waiting_since": at, "queue_key": message_id}
    if row["status"] == "closed" and message_id > row["closed_message_id"]:
        changes |= {"status": "open", "closed_at": None, "closed_by": None}
        changes.setdefault("waiting", True)
        changes.setdefault("waiting_since", at)
        changes.setdefault("queue_key", message_id)
        events.append(SupportTicketReopened(ticket_id=ticket_id, member_id=member_id, message_id=message_id))
    return changes, events
