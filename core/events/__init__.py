"""Domain events: recorded inside a unit of work, published after it commits.

Event names are past tense, ``<area>.<what happened>`` (``member.registered``).  They
reach plugins through ``agorakit_on_event`` (one event at a time) and
``agorakit_on_events`` (a batch at a time); notifications, webhooks and analytics hang on
this seam.

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


class EventsFailed(Exception):
    """Raised by an ``agorakit_on_events`` handler when only some events of its batch failed.

    ``errors`` maps the failed events' ids to what went wrong; those events are delivered
    again later (to every handler), the others of the batch count as handled.  Any other
    exception a batch handler raises counts against every event of its batch.
    """

    def __init__(self, errors: dict[int | None, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"event {event_id}: {error}" for event_id, error in errors.items()))
