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

A handler says which events it takes and when it runs with :func:`event_handler`: one
that only writes rows of the site's database (notifications, system messages) may run
*inside* the unit of work that records the events, just before it commits, so that its
rows commit with the change; an event that no handler takes after the commit is stored
published at once.

A consumer that every process or host must run for itself (a search index in a host's
own folder) reads the stored events in id order from a position of its own instead
(:func:`read_feed`, :class:`FeedPosition`), in an :class:`EventFollower` that each served
app process runs (``agorakit_event_followers``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import msgspec

from agorakit.exports import lazy_exports

if TYPE_CHECKING:
    from agorakit.events.feed import FeedBatch as FeedBatch
    from agorakit.events.feed import FeedGap as FeedGap
    from agorakit.events.feed import FeedNotSettled as FeedNotSettled
    from agorakit.events.feed import FeedPosition as FeedPosition
    from agorakit.events.feed import event_names_between as event_names_between
    from agorakit.events.feed import feed_backlog as feed_backlog
    from agorakit.events.feed import feed_head as feed_head
    from agorakit.events.feed import last_event_id as last_event_id
    from agorakit.events.feed import read_feed as read_feed
    from agorakit.events.feed import stored_events as stored_events
    from agorakit.events.follow import EventFollower as EventFollower
    from agorakit.events.public import check_patterns as check_patterns
    from agorakit.events.public import matches as matches
    from agorakit.events.public import matching_types as matching_types
    from agorakit.events.public import parse_public_event_id as parse_public_event_id
    from agorakit.events.public import public_event as public_event
    from agorakit.events.public import public_event_id as public_event_id
    from agorakit.events.public import public_time as public_time


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every domain event: what happened, with typed facts.

    A subclass sets ``name`` (past tense, ``<area>.<what happened>``) and declares its
    facts as fields (JSON-serialisable: ints, strings, amounts in minor units, ...).
    """

    #: what happened, e.g. ``order.transitioned``
    name: ClassVar[str]
    #: whether the event is told to many members at once (a new request to every seller
    #: of its category): the core makes its notices after the commit, off the path of
    #: the request that records it, instead of in its transaction
    fan_out: ClassVar[bool] = False
    #: fields that never leave the site: the events feed and webhooks send the event
    #: without them (:func:`agorakit.events.public_event`), e.g. a private message's text
    private_fields: ClassVar[frozenset[str]] = frozenset()


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


def fans_out(event: DomainEvent) -> bool:
    """Whether ``event``'s typed payload says it is told to many members (``Event.fan_out``)."""
    return bool(getattr(event.payload, "fan_out", False))


class EventsFailed(Exception):
    """Raised by an ``agorakit_on_events`` handler when only some events of its batch failed.

    ``errors`` maps the failed events' ids to what went wrong; those events are delivered
    again later (to every handler), the others of the batch count as handled.  Any other
    exception a batch handler raises counts against every event of its batch.
    """

    def __init__(self, errors: dict[int | None, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"event {event_id}: {error}" for event_id, error in errors.items()))


HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])


class HandlerOptions(msgspec.Struct, frozen=True, kw_only=True):
    """What :func:`event_handler` says about an ``agorakit_on_event(s)`` implementation."""

    #: the event names it takes (``fnmatch`` patterns: ``"listing.*"``); empty: every name
    names: tuple[str, ...] = ()
    #: a further condition on each event it takes (None: none)
    where: Callable[[DomainEvent], bool] | None = None
    #: whether it runs inside the unit of work that records the events
    in_transaction: bool = False

    def takes(self, event: DomainEvent) -> bool:
        """Whether the handler is given ``event``."""
        if self.names and not any(fnmatchcase(event.name, pattern) for pattern in self.names):
            return False
        return self.where is None or bool(self.where(event))


#: the options of a handler that :func:`event_handler` did not mark: every event, after the commit
EVERY_EVENT_AFTER_COMMIT = HandlerOptions()
_OPTIONS = "agorakit_event_handler"


def event_handler(
    *names: str, where: Callable[[DomainEvent], bool] | None = None, in_transaction: bool = False
) -> Callable[[HandlerT], HandlerT]:
    """Say which events an ``agorakit_on_event`` or ``agorakit_on_events`` implementation
    takes, and when it runs (put it below ``@hookimpl``)::

        @hookimpl
        @event_handler("listing.*")
        async def agorakit_on_events(events, runtime): ...

    ``names`` are event names or ``fnmatch`` patterns (none: every event); ``where`` a
    further condition on each event (e.g. its payload's process).  The handler is given
    only the events it takes; an event no handler takes after the commit is stored
    published in its own transaction, with nothing left to deliver.

    ``in_transaction=True``: the handler runs inside the unit of work that records the
    events, after its block and just before it commits, with the events already stored
    (their ids set); what it writes (through ``runtime.unit_of_work()``, which joins that
    transaction) commits with the change the events describe, or not at all.  For
    handlers that only write rows of the site's database and never wait on anything
    else (no HTTP, no files): a slow one holds the transaction's locks.  When such a
    handler raises for some events, those events are delivered again after the commit,
    in the handler's own unit of work, as any handler's (so it stays idempotent on
    ``event.id``); a database error inside it fails the whole unit of work.  The worker's
    re-publication of an event delivers it to every handler that takes it.

    A handler without this decorator takes every event after the commit.
    """
    options = HandlerOptions(names=tuple(names), where=where, in_transaction=in_transaction)

    def mark(function: HandlerT) -> HandlerT:
        setattr(function, _OPTIONS, options)
        return function

    return mark


def handler_options(function: Any) -> HandlerOptions:
    """The options :func:`event_handler` gave ``function`` (a hook implementation's)."""
    return getattr(function, _OPTIONS, EVERY_EVENT_AFTER_COMMIT)


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
    "event_names_between": "agorakit.events.feed",
    "stored_events": "agorakit.events.feed",
    "check_patterns": "agorakit.events.public",
    "matches": "agorakit.events.public",
    "matching_types": "agorakit.events.public",
    "parse_public_event_id": "agorakit.events.public",
    "public_event": "agorakit.events.public",
    "public_event_id": "agorakit.events.public",
    "public_time": "agorakit.events.public",
}
__all__ = sorted(
    [
        "DomainEvent",
        "Event",
        "EventTypes",
        "EventsFailed",
        "HandlerOptions",
        "event_handler",
        "fans_out",
        "handler_options",
        *EXPORTS,
    ]
)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
