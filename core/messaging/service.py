"""The messaging area's services, by concern: conversations and who takes part
(:mod:`~agorakit.messaging.conversations`), posting (:mod:`~agorakit.messaging.posting`),
editing and deleting (:mod:`~agorakit.messaging.editing`), finding conversations
(:mod:`~agorakit.messaging.finding`),
system messages about events (:mod:`~agorakit.messaging.system`) and reading
(:mod:`~agorakit.messaging.reading`).  The routes call them through this module."""

from __future__ import annotations

from agorakit.messaging.conversations import (
    conversation_access,
    ensure_conversation,
    kind_of,
    order_id_of,
    order_parties,
    scope_of,
    sync_order_conversation,
)
from agorakit.messaging.editing import delete_message, edit_message
from agorakit.messaging.posting import (
    clean_body,
    excerpt,
    order_conversation,
    post_message,
    screen_body,
    start_conversation,
)
from agorakit.messaging.reading import (
    get_conversation,
    get_message,
    list_conversations,
    list_messages,
    mark_read,
    operator_messages,
    transcript,
    unread_summary,
)
from agorakit.messaging.system import (
    post_event_message,
    post_system_message,
    record_moderation,
    record_order_transitions,
    transition_text,
)

__all__ = [
    "clean_body",
    "conversation_access",
    "delete_message",
    "edit_message",
    "ensure_conversation",
    "excerpt",
    "get_conversation",
    "get_message",
    "kind_of",
    "list_conversations",
    "list_messages",
    "mark_read",
    "operator_messages",
    "order_conversation",
    "order_id_of",
    "order_parties",
    "post_event_message",
    "post_message",
    "post_system_message",
    "record_moderation",
    "record_order_transitions",
    "scope_of",
    "screen_body",
    "start_conversation",
    "sync_order_conversation",
    "transcript",
    "transition_text",
    "unread_summary",
]
