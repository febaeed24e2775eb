"""Editing and deleting a message: its sender, within ``[messaging] edit_minutes`` of
posting it, in a conversation still open.

Only the message's own row changes: an edit replaces its body (screened again, with new
flags) and sets ``edited_at``; a delete sets ``deleted_at`` and keeps the row (reads show
it without its text or files).  The conversation, its activity and read marks, the
files and anything copied from the conversation elsewhere stay as they are.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from agorakit.errors import Conflict, Forbidden, NotFound
from agorakit.messaging.conversations import check_open, conversation_access
from agorakit.messaging.events import MessageDeleted, MessageEdited
from agorakit.messaging.posting import clean_body, excerpt, screen_body
from agorakit.messaging.reading import get_message
from agorakit.messaging.tables import Message

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts.schemas import MemberOut
    from agorakit.messaging.schemas import EditMessage, MessageOut
    from agorakit.runtime import Runtime


async def _own_message(
    runtime: Runtime, conversation_id: int, message_id: int, member: MemberOut, doing: str
) -> dict[str, Any]:
    """The message if ``member`` may still edit or delete it; else the problem that says why.

    404: the conversation is not theirs to see, or the message is not in it; 403: a
    system message, someone else's, or a site where messages are never edited; 409: the
    conversation is closed, the message deleted, or its time to change it is over."""
    conversation = await conversation_access(runtime, conversation_id, member, write=False)
    row = await (
        Message.select(
            Message.id,
            Message.kind,
            Message.sender_id,
            Message.attachments,
            Message.created_at,
            Message.deleted_at,
        )
        .where((Message.id == message_id) & (Message.conversation == conversation_id))
        .first()
        .output(load_json=True)
    )
    if row is None:
        raise NotFound(f"there is no message {message_id} in conversation {conversation_id}")
    if row["kind"] != "member" or row["sender_id"] is None:
        raise Forbidden(f"message {message_id} is a system message; nobody can {doing} it")
    if row["sender_id"] != member.id:
        raise Forbidden(f"message {message_id} is someone else's; only its sender can {doing} it")
    minutes = runtime.settings.messaging.edit_minutes
    if minutes == 0:
        raise Forbidden(f"messages cannot be changed on this site; you cannot {doing} message {message_id}")
    check_open(conversation)
    if row["deleted_at"] is not None:
        raise Conflict(f"message {message_id} is deleted")
    if runtime.clock.now() >= row["created_at"] + timedelta(minutes=minutes):
        message = f"a message can be changed for {minutes} minutes after it is sent; that time is over"
        raise Conflict(message, extra={"edit_minutes": minutes})
    return row


#: the message's row changes only while it is not deleted (of two concurrent deletes, or
#: an edit and a delete, the second finds nothing to change)
def _still_there(message_id: int) -> Any:
    return (Message.id == message_id) & Message.deleted_at.is_null()


async def edit_message(
    runtime: Runtime, conversation_id: int, message_id: int, cmd: EditMessage, *, editor: MemberOut
) -> MessageOut:
    """The sender replaces the body of their message, screened like a new one."""
    row = await _own_message(runtime, conversation_id, message_id, editor, "edit")
    text = clean_body(runtime, cmd.body, row["attachments"] or [])
    flags = await screen_body(runtime, text)
    async with runtime.unit_of_work() as uow:
        changed = (
            await Message.update(
                {
                    Message.body: text,
                    Message.flags: flags,
                    Message.flagged: bool(flags),
                    Message.edited_at: uow.now,
                }
            )
            .where(_still_there(message_id))
            .returning(Message.id)
        )
        if not changed:
            raise Conflict(f"message {message_id} is deleted")
        edited = MessageEdited(
            conversation_id=conversation_id, message_id=message_id, excerpt=excerpt(text), flagged=bool(flags)
        )
        uow.record(edited, subject=f"conversation:{conversation_id}", actor_id=editor.id)
    return await get_message(message_id, viewer=editor)


async def delete_message(
    runtime: Runtime, conversation_id: int, message_id: int, *, editor: MemberOut
) -> None:
    """The sender deletes their message: it stays, shown as deleted, without text or files."""
    await _own_message(runtime, conversation_id, message_id, editor, "delete")
    async with runtime.unit_of_work() as uow:
        changed = (
            await Message.update({Message.deleted_at: uow.now})
            .where(_still_there(message_id))
            .returning(Message.id)
        )
        if not changed:
            raise Conflict(f"message {message_id} is deleted")
        deleted = MessageDeleted(conversation_id=conversation_id, message_id=message_id)
        uow.record(deleted, subject=f"conversation:{conversation_id}", actor_id=editor.id)
