"""Reading: conversations and messages as their participants (and operators) see them,
read state and unread counts, and a conversation's transcript."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agorakit.accounts import is_operator
from agorakit.accounts.tables import Member
from agorakit.attachments import attachments_by_ids
from agorakit.errors import FieldError, NotFound, ValidationFailed
from agorakit.http import OperatorQueue, count_queue
from agorakit.messaging.conversations import SUPPORT_NAME, conversation_access, is_closed, mark_read_up_to
from agorakit.messaging.finding import ConversationFilters, filter_clauses
from agorakit.messaging.schemas import ConversationOut, MessageFlagOut, MessageOut, ParticipantOut, UnreadOut
from agorakit.messaging.tables import Conversation, Message
from agorakit.messaging.tables import ConversationParticipant as Participant
from agorakit.pagination import decode_cursor, page

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts.schemas import MemberOut
    from agorakit.runtime import Runtime


async def transcript(subject: str) -> list[dict[str, Any]]:
    """Every message of the conversation about ``subject``, oldest first (dispute evidence):
    as stored, so an edited message has its current body and a deleted one keeps its body
    and files (``edited_at``, ``deleted_at`` say what its sender did); the parties read it
    too, so Support's messages come without their operator's id."""
    conversation = await Conversation.select(Conversation.id).where(Conversation.key == subject).first()
    if conversation is None:
        return []
    rows = (
        await Message.select(
            Message.id,
            Message.sender_id,
            Message.kind,
            Message.body,
            Message.attachments,
            Message.flags,
            Message.created_at,
            Message.edited_at,
            Message.deleted_at,
        )
        .where(Message.conversation == conversation["id"])
        .order_by(Message.id)
        .output(load_json=True)
    )
    return [{**r, "sender_id": None} if r["kind"] == "support" else dict(r) for r in rows]


async def _names(member_ids: set[int]) -> dict[int, str]:
    if not member_ids:
        return {}
    rows = await Member.select(Member.id, Member.display_name).where(Member.id.is_in(list(member_ids)))
    return {r["id"]: r["display_name"] for r in rows}


async def _messages_out(rows: list[dict[str, Any]], viewer: MemberOut) -> list[MessageOut]:
    names = await _names({r["sender_id"] for r in rows if r["sender_id"] is not None})
    shown = {i for r in rows if r.get("deleted_at") is None for i in r["attachments"] or []}
    files = {a.id: a for a in await attachments_by_ids(sorted(shown))}
    operator = is_operator(viewer)
    out = []
    for r in rows:
        # a deleted message keeps its row: it reads as deleted, without its text or files
        deleted = r.get("deleted_at") is not None
        out.append(
            MessageOut(
                id=r["id"],
                conversation_id=r["conversation"],
                kind=r["kind"],
                # an operator's message shows as Support; only operators see who wrote it
                sender_id=r["sender_id"] if r["kind"] != "support" or operator else None,
                sender_name=SUPPORT_NAME if r["kind"] == "support" else names.get(r["sender_id"]),
                body="" if deleted else r["body"],
                attachments=[] if deleted else [files[i] for i in r["attachments"] or [] if i in files],
                created_at=r["created_at"],
                flags=[MessageFlagOut(**f) for f in r["flags"] or []] if operator and not deleted else [],
                edited_at=r.get("edited_at"),
                deleted_at=r.get("deleted_at"),
            )
        )
    return out


async def get_message(message_id: int, *, viewer: MemberOut) -> MessageOut:
    row = await Message.select().where(Message.id == message_id).first().output(load_json=True)
    if row is None:
        raise NotFound(f"there is no message {message_id}")
    return (await _messages_out([row], viewer))[0]


_UNREAD_SQL = """
SELECT p.conversation AS conversation, COUNT(m.id) AS unread
FROM core_conversation_participant p
JOIN core_message m ON m.conversation = p.conversation AND m.id > p.last_read_message_id
WHERE p.member_id = {} AND (m.sender_id IS NULL OR m.sender_id <> p.member_id)
AND m.deleted_at IS NULL
GROUP BY p.conversation
"""


async def _unread_counts(member_id: int) -> dict[int, int]:
    """Unread messages per conversation of ``member_id`` (only those with any)."""
    rows = await Message.raw(_UNREAD_SQL, member_id)
    return {r["conversation"]: r["unread"] for r in rows}


async def _conversations_out(rows: list[dict[str, Any]], viewer: MemberOut) -> list[ConversationOut]:
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    members = (
        await Participant.select(Participant.conversation, Participant.member_id)
        .where(Participant.conversation.is_in(ids))
        .order_by(Participant.id)
    )
    names = await _names({p["member_id"] for p in members})
    last_ids = [r["last_message_id"] for r in rows if r["last_message_id"]]
    last_rows = (
        await Message.select().where(Message.id.is_in(last_ids)).output(load_json=True) if last_ids else []
    )
    last = {m.id: m for m in await _messages_out(last_rows, viewer)}
    unread = await _unread_counts(viewer.id)
    out = []
    for r in rows:
        participants = [
            ParticipantOut(id=p["member_id"], display_name=names.get(p["member_id"], ""))
            for p in members
            if p["conversation"] == r["id"]
        ]
        taking_part = any(p.id == viewer.id for p in participants)
        others = [p for p in participants if p.id != viewer.id] if taking_part else []
        out.append(
            ConversationOut(
                id=r["id"],
                kind=r["kind"],
                subject=r["subject"],
                participants=participants,
                counterpart=others[0] if others else None,
                created_at=r["created_at"],
                last_message_at=r["last_message_at"],
                last_message=last.get(r["last_message_id"]),
                unread_count=unread.get(r["id"], 0),
                closed=is_closed(r),
            )
        )
    return out


def _by_id(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"]}


async def get_conversation(runtime: Runtime, conversation_id: int, *, viewer: MemberOut) -> ConversationOut:
    row = await conversation_access(runtime, conversation_id, viewer, write=False)
    return (await _conversations_out([row], viewer))[0]


async def list_conversations(
    *, viewer: MemberOut, cursor: str | None, limit: int, filters: ConversationFilters | None = None
) -> tuple[list[ConversationOut], str | None]:
    """The viewer's conversations, the most recently active first; ``filters`` narrow
    them (:mod:`~agorakit.messaging.finding`)."""
    mine = Participant.select(Participant.conversation).where(Participant.member_id == viewer.id)
    query = (
        Conversation.select()
        .where(Conversation.id.is_in(mine))
        .order_by(Conversation.last_message_id, Conversation.id, ascending=False)
        .limit(limit + 1)
    )
    for clause in filter_clauses(filters, viewer.id) if filters else []:
        query = query.where(clause)
    position = decode_cursor(cursor, keys=("activity", "id"))
    if position is not None:
        activity, last_id = position["activity"], position["id"]
        query = query.where(
            (Conversation.last_message_id < activity)
            | ((Conversation.last_message_id == activity) & (Conversation.id < last_id))
        )
    rows, next_cursor = page(await query, limit, lambda r: {"activity": r["last_message_id"], "id": r["id"]})
    return await _conversations_out(rows, viewer), next_cursor


async def list_messages(
    runtime: Runtime,
    conversation_id: int,
    *,
    viewer: MemberOut,
    cursor: str | None,
    limit: int,
    after: int | None = None,
) -> tuple[list[MessageOut], str | None]:
    """Messages newest first (``cursor`` pages back); with ``after``, newer ones oldest first."""
    await conversation_access(runtime, conversation_id, viewer, write=False)
    query = Message.select().where(Message.conversation == conversation_id).limit(limit + 1)
    if after is not None:
        rows = await query.where(Message.id > after).order_by(Message.id).output(load_json=True)
        return await _messages_out(rows[:limit], viewer), None
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Message.id < position["id"])
    rows, next_cursor = page(
        await query.order_by(Message.id, ascending=False).output(load_json=True), limit, _by_id
    )
    return await _messages_out(rows, viewer), next_cursor


async def mark_read(
    runtime: Runtime, conversation_id: int, *, viewer: MemberOut, up_to: int | None
) -> ConversationOut:
    """Mark the conversation read up to a message (default: all of it); never backwards."""
    conversation = await conversation_access(runtime, conversation_id, viewer, write=True)
    target = conversation["last_message_id"]
    if up_to is not None:
        if not await Message.exists().where(
            (Message.id == up_to) & (Message.conversation == conversation_id)
        ):
            raise ValidationFailed([FieldError("up_to", f"message {up_to} is not in this conversation")])
        target = up_to
    if target:
        async with runtime.unit_of_work():
            await mark_read_up_to(conversation_id, viewer.id, target)
    return await get_conversation(runtime, conversation_id, viewer=viewer)


async def unread_summary(member_id: int) -> UnreadOut:
    counts = await _unread_counts(member_id)
    return UnreadOut(conversations=len(counts), messages=sum(counts.values()))


async def flagged_queue() -> OperatorQueue:
    """The messages :func:`operator_messages` lists by default (screening flagged), counted."""
    counted = await count_queue(Message, Message.flagged == True, since=Message.created_at)  # noqa: E712
    return OperatorQueue(
        key="messages.flagged",
        title="Messages flagged by screening",
        count=counted.count,
        oldest_at=counted.oldest_at,
        list_path="/operator/messages?flagged=true",
        area="messaging",
    )


async def operator_messages(
    *, viewer: MemberOut, flagged: bool, cursor: str | None, limit: int
) -> tuple[list[MessageOut], str | None]:
    """Messages for moderators, newest first; by default only those screening flagged."""
    query = Message.select().order_by(Message.id, ascending=False).limit(limit + 1)
    if flagged:
        query = query.where(Message.flagged == True)  # noqa: E712 (a Piccolo expression)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Message.id < position["id"])
    rows, next_cursor = page(await query.output(load_json=True), limit, _by_id)
    return await _messages_out(rows, viewer), next_cursor
