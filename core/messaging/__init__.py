"""Messaging: conversations between members about an order, a listing, or nothing at all.

One conversation per order, one per (listing, asking member), one per pair of members
for direct messages, plus conversations other modules open by subject
(:func:`agorakit.messaging.service.ensure_conversation`).  Messages are screened for
off-platform contact details; order transitions appear as system messages.

The names below are this area's plugin API (``docs/plugin-api.md``); its modules are
internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit.exports import lazy_exports

if TYPE_CHECKING:
    from agorakit.messaging.service import conversation_access as conversation_access
    from agorakit.messaging.service import scope_of as scope_of
    from agorakit.messaging.service import transcript as transcript

EXPORTS: dict[str, str] = {
    "conversation_access": "agorakit.messaging.service",
    "scope_of": "agorakit.messaging.service",
    "transcript": "agorakit.messaging.service",
}
__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
