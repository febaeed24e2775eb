"""Messaging: conversations between members about an order, a listing, or nothing at all.

One conversation per order, one per (listing, asking member), one per pair of members
for direct messages, plus conversations other modules open by subject
(:func:`agorakit.messaging.ensure_conversation`).  Messages are screened for
off-platform contact details; order transitions appear as system messages.

The names below are this area's plugin API (``docs/plugin-api.md``); its modules are
internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit.exports import lazy_exports

if TYPE_CHECKING:
    from agorakit.messaging.conversations import conversation_access as conversation_access
    from agorakit.messaging.conversations import ensure_conversation as ensure_conversation
    from agorakit.messaging.conversations import scope_of as scope_of
    from agorakit.messaging.events import MessageDeleted as MessageDeleted
    from agorakit.messaging.events import MessageEdited as MessageEdited
    from agorakit.messaging.events import MessagePosted as MessagePosted
    from agorakit.messaging.evidence import conversation_evidence as conversation_evidence
    from agorakit.messaging.posting import post_message as post_message
    from agorakit.messaging.reading import transcript as transcript
    from agorakit.messaging.schemas import PostMessage as PostMessage
    from agorakit.messaging.system import post_event_message as post_event_message
    from agorakit.messaging.system import post_system_message as post_system_message

EXPORTS: dict[str, str] = {
    "conversation_access": "agorakit.messaging.conversations",
    "conversation_evidence": "agorakit.messaging.evidence",
    "ensure_conversation": "agorakit.messaging.conversations",
    "MessageDeleted": "agorakit.messaging.events",
    "MessageEdited": "agorakit.messaging.events",
    "MessagePosted": "agorakit.messaging.events",
    "post_event_message": "agorakit.messaging.system",
    "post_message": "agorakit.messaging.posting",
    "PostMessage": "agorakit.messaging.schemas",
    "post_system_message": "agorakit.messaging.system",
    "scope_of": "agorakit.messaging.conversations",
    "transcript": "agorakit.messaging.reading",
}
__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
