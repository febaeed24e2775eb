"""Support: members' requests to the site's operators, answered as "Support".

A member opens a request (a ticket) in a category, optionally about one of their orders,
listings, withdrawals or a plugin's object (``agorakit_support_link``), with a first
message; its messages are the conversation ``support:<id>``.  Operators work the queue
(unassigned, theirs, all; the longest waiting first), assign, answer and close.

The names below are this area's plugin API (``docs/plugin-api.md``); its modules are
internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit.exports import lazy_exports

if TYPE_CHECKING:
    from agorakit.support.events import SupportTicketAssigned as SupportTicketAssigned
    from agorakit.support.events import SupportTicketClosed as SupportTicketClosed
    from agorakit.support.events import SupportTicketOpened as SupportTicketOpened
    from agorakit.support.events import SupportTicketReopened as SupportTicketReopened
    from agorakit.support.events import SupportTicketReplied as SupportTicketReplied

EXPORTS: dict[str, str] = {
    "SupportTicketAssigned": "agorakit.support.events",
    "SupportTicketClosed": "agorakit.support.events",
    "SupportTicketOpened": "agorakit.support.events",
    "SupportTicketReopened": "agorakit.support.events",
    "SupportTicketReplied": "agorakit.support.events",
}
__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
