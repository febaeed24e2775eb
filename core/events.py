"""Domain events: recorded inside a unit of work, published after it commits.

Event names are past tense, ``<area>.<what happened>`` (``member.registered``).  They
reach plugins through ``agorakit_on_event``; notifications, webhooks and analytics hang
on this seam.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class DomainEvent(msgspec.Struct, frozen=True, kw_only=True):
    #: what happened, e.g. ``member.registered``
    name: str
    #: when, from the runtime's clock
    at: datetime
    #: what it happened to, e.g. ``member:12`` or ``order:40``
    subject: str
    #: the member who caused it; None for the system (timers, the worker)
    actor_id: int | None = None
    #: event-specific facts (JSON-serialisable)
    data: dict[str, Any] = {}
