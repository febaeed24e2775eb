"""Domain events: recorded inside a unit of work, published after it commits.

Event names are past tense, ``<area>.<what happened>`` (``member.registered``).  They
reach plugins through ``agorakit_on_event`` (one event at a time) and
``agorakit_on_events`` (a batch at a time); notifications, webhooks and analytics hang on
this seam.

Each event is a typed msgspec Struct, a subclass of :class:`Event` named by its
``name`` class variable and registered through ``agorakit_event_types``; the unit of work
records one (``uow.record(OrderTransitioned(...), subject="order:4")``) and handlers
receive the :class:`DomainEvent` envelope, whose ``payload`` is that Struct again
(``isinstance(event.payload, OrderTransitioned)``).

Events are a transactional outbox: the unit of work stores them (``core_domain_event``) in
the same transaction as the change they describe, publishes them right after the commit
and marks them published.  If the process dies in between, or a handler fails, the worker
publishes them again (:func:`agorakit.events.outbox.republish_events`), so delivery is *at
least once*: handlers use ``event.id`` to stay idempotent.

A consumer that every process or host must run for itself (a search index in a host's
own folder) reads the stored events in id order from a position of its own instead
(:func:`read_feed`, :class:`FeedPosition`), in an :class:`EventFollower` that each served
app process runs (``agorakit_event_followers``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec

from agorakit.exports import lazy_exports

if TYPE_CHECKING:
    from agorakit.events.feed import FeedBatch as FeedBatch
    from agorakit.events.feed import FeedGap as FeedGap
    from agorakit.events.feed import FeedNotSettled as FeedNotSettled
    from agorakit.events.feed import FeedPosition as FeedPosition
    from agorakit.events.feed import feed_backlog as feed_backlog
    from agorakit.events.feed import feed_head as feed_head
    from agorakit.events.feed import last_event_id as last_event_id
    from agorakit.events.feed import read_feed as read_feed
    from agorakit.events.follow import EventFollower as EventFollower


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every domain event: what happened, with typed facts.

    A subclass sets ``name`` (past tense, ``<area>.<what happened>``) and declares its
    facts as fields (JSON-serialisable: ints, strings, amounts in minor units, ...).
    """

    #: what happened, e.g. ``order.transitioned``
    name: ClassVar[str]


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
    #: the typed event (an :class:`Event`); None when its name is not registered
    payload: Any = None


class EventsFailed(Exception):
    """Raised by an ``agorakit_on_events`` handler when only some events of its batch failed.

    ``errors`` maps the failed events' ids to what went wrong; those events are delivered
    again later (to every handler), the others of the batch count as handled.  Any other
    exception a batch handler raises counts against every event of its batch.
    """

    def __init__(self, errors: dict[int | None, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"event {event_id}: {error}" for event_id, error in errors.items()))


class EventTypes:
    """The registered event classes by name (``runtime.event_types``)."""

    def __init__(self, classes: list[type[Event]]) -> None:
        self.by_name: dict[str, type[Event]] = {}
        for cls in classes:
            name = getattr(cls, "name", None)
            if not (isinstance(cls, type) and issubclass(cls, Event)) or not isinstance(name, str):
                raise TypeError(f"{cls!r} is not an Event subclass with a name")
            known = self.by_name.get(name)
            if known is not None and known is not cls:
                raise TypeError(f"event {name!r} is registered twice: {known!r} and {cls!r}")
            self.by_name[name] = cls

    def payload(self, name: str, data: dict[str, Any]) -> Event | None:
        """The typed event stored as ``name`` and ``data`` (None if unknown or no longer
        decodable: the envelope is still delivered)."""
        cls = self.by_name.get(name)
        if cls is None:
            return None
        try:
            return msgspec.convert(data, cls)
        except msgspec.ValidationError:
            return None


#: the names defined in other modules of the area, imported on first use
EXPORTS: dict[str, str] = {
    "EventFollower": "agorakit.events.follow",
    "FeedBatch": "agorakit.events.feed",
    "FeedGap": "agorakit.events.feed",
    "FeedNotSettled": "agorakit.events.feed",
    "FeedPosition": "agorakit.events.feed",
    "feed_backlog": "agorakit.events.feed",
    "feed_head": "agorakit.events.feed",
    "last_event_id": "agorakit.events.feed",
    "read_feed": "agorakit.events.feed",
}
__all__ = sorted(["DomainEvent", "Event", "EventTypes", "EventsFailed", *EXPORTS])
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
