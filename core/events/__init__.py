"""Domain events: recorded inside a unit of work, published after it commits.

Event names are past tense, ``<area>.<what happened>`` (``member.registered``).  They
reach plugins through ``agorakit_on_event``; notifications, webhooks and analytics hang
on this seam.

Events are a transactional outbox: the unit of work stores them (``core_domain_event``) in
the same transaction as the change they describe, publishes them right after the commit
and marks them published.  If the process dies in between, or a handler fails, the worker
publishes them again (:func:`agorakit.events.outbox.republish_events`), so delivery is *at
least once*: handlers use ``event.id`` to stay idempotent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class DomainEvent(msgspec.Struct, frozen=True, kw_only=True):
    #: the stored event's id (unique; handlers deduplicate on it); None before it is stored
    id: int | None = None
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
