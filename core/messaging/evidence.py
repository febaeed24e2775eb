"""A conversation captured as evidence: a JSON-able copy of it as it is now.

Disputes and reports keep what :func:`conversation_evidence` returns with themselves: the
conversation, who takes part in it, and every message with its attachments' metadata.
It is a copy, so editing, deleting or adding messages later never changes it.
"""

from __future__ import annotations

from typing import Any

import msgspec

from agorakit.accounts import get_members
from agorakit.attachments import attachments_by_ids
from agorakit.errors import NotFound
from agorakit.messaging.conversations import SUPPORT_NAME, participant_ids
from agorakit.messaging.tables import Conversation, Message

#: columns a message row may have besides the ones every row has (edit and delete
#: markers); each one present on the table is copied into the evidence
OPTIONAL_MESSAGE_COLUMNS = ("edited_at", "deleted_at")


async def conversation_evidence(conversation_id: int) -> dict[str, Any]:
    """A snapshot of conversation ``conversation_id`` for evidence; 404 if there is none.

    ``{"conversation": {id, key, kind, subject, created_at}, "participants": [{id,
    display_name}], "messages": [{id, sender_id, sender_name (or "system"; "Support" with
    no sender_id for an operator's message), kind, body,
    created_at, flags, attachments: [{id, filename, content_type, size, sha256}] (and
    edited_at / deleted_at where messages have them)}], "captured_message_count"}`` —
    messages oldest first.  No access check: the caller decides who may capture it.
    """
    conversation = (
        await Conversation.select(
            Conversation.id,
            Conversation.key,
            Conversation.kind,
            Conversation.subject,
            Conversation.created_at,
        )
        .where(Conversation.id == conversation_id)
        .first()
    )
    if conversation is None:
        raise NotFound(f"there is no conversation {conversation_id}")
    columns = {c._meta.name for c in Message._meta.columns}
    optional = [name for name in OPTIONAL_MESSAGE_COLUMNS if name in columns]
    rows = (
        await Message.select()
        .where(Message.conversation == conversation_id)
        .order_by(Message.id)
        .output(load_json=True)
    )
    members = await participant_ids(conversation_id)
    senders = {r["sender_id"] for r in rows if r["sender_id"] is not None}
    people = await get_members(sorted(set(members) | senders))
    files = {
        a.id: a for a in await attachments_by_ids(sorted({i for r in rows for i in r["attachments"] or []}))
    }

    def name(member_id: int | None) -> str:
        if member_id is None:
            return "system"
        member = people.get(member_id)
        return member.display_name if member else ""

    messages = []
    for row in rows:
        message = {
            "id": row["id"],
            # Support's messages do not name their operator (parties read disputes' evidence)
            "sender_id": None if row["kind"] == "support" else row["sender_id"],
            "sender_name": SUPPORT_NAME if row["kind"] == "support" else name(row["sender_id"]),
            "kind": row["kind"],
            "body": row["body"],
            "created_at": row["created_at"],
            "flags": row["flags"] or [],
            "attachments": [
                {
                    "id": files[i].id,
                    "filename": files[i].filename,
                    "content_type": files[i].content_type,
                    "size": files[i].size,
                    "sha256": files[i].sha256,
                }
                if i in files
                else {"id": i, "missing": True}
                for i in row["attachments"] or []
            ],
        }
        message.update({column: row[column] for column in optional})
        messages.append(message)
    snapshot = {
        "conversation": dict(conversation),
        "participants": [{"id": m, "display_name": name(m)} for m in members],
        "messages": messages,
        "captured_message_count": len(messages),
    }
    # a deep copy in JSON's types: nothing in it refers to rows read above
    return msgspec.json.decode(msgspec.json.encode(snapshot))
