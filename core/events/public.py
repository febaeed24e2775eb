"""The public form of a stored event: what leaves the site (the events feed, webhooks).

Outside systems (a CRM, an accounting tool, a chat bot) see an event as one JSON object::

    {"id": "evt_41", "type": "order.transitioned",
     "created_at": "2026-12-07T10:00:00Z", "data": {"order_id": 40, ...}}

``id`` is stable (the stored event's id with the ``evt_`` prefix): every delivery of the
same event, a retry or a replay, carries the same one, so a receiver deduplicates on it.
``data`` is the typed event's fields (``docs/events.md``), without those its class keeps
private (:attr:`agorakit.events.Event.private_fields`, e.g. the text of a private
message); an event whose name no plugin registers any more is sent with the facts it was
stored with.
"""

from __future__ import annotations

import types
import typing
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.events import DomainEvent, EventTypes

#: the prefix of an event's public id
ID_PREFIX = "evt_"


def public_event_id(event_id: int) -> str:
    """The public id of the stored event ``event_id`` (``evt_41``)."""
    return f"{ID_PREFIX}{event_id}"


def parse_public_event_id(value: str) -> int | None:
    """The stored event's id in a public id (``evt_41`` → 41); None when it is not one."""
    if not value.startswith(ID_PREFIX):
        return None
    digits = value[len(ID_PREFIX) :]
    if not digits.isdigit() or len(digits) > 18:
        return None
    return int(digits)


def public_time(at: datetime) -> str:
    """An instant as the public form writes it: UTC, ISO 8601, ``Z``, to the microsecond
    when it has one."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def public_data(event: DomainEvent) -> dict[str, Any]:
    """The facts of ``event`` that may leave the site."""
    hidden = getattr(type(event.payload), "private_fields", frozenset()) if event.payload is not None else ()
    return {key: value for key, value in event.data.items() if key not in hidden}


def public_event(event: DomainEvent) -> dict[str, Any]:
    """``event`` in its public form: ``{id, type, created_at, data}``."""
    if event.id is None:
        raise ValueError("only a stored event (with an id) has a public form")
    return {
        "id": public_event_id(event.id),
        "type": event.name,
        "created_at": public_time(event.at),
        "data": public_data(event),
    }


def matches(name: str, patterns: tuple[str, ...] | list[str]) -> bool:
    """Whether the event name ``name`` is one of ``patterns`` (``"order.*"``, ``"*"``)."""
    return any(fnmatchcase(name, pattern) for pattern in patterns)


def check_patterns(types: EventTypes, patterns: list[str]) -> list[str]:
    """What is wrong with event type patterns a client sent (empty: nothing).

    A pattern is an event name (``order.transitioned``), a prefix with a wildcard
    (``order.*``) or ``*``; one that matches no registered event type is refused, so
    that a typo does not silently subscribe to nothing.
    """
    problems = []
    for pattern in patterns:
        if not pattern or len(pattern) > 100 or any(ch.isspace() for ch in pattern):
            problems.append(f"{pattern!r} is not an event type pattern")
        elif not any(fnmatchcase(name, pattern) for name in types.by_name):
            problems.append(f"{pattern!r} matches no event type (see GET /events/types)")
    return problems


def matching_types(types: EventTypes, patterns: list[str] | tuple[str, ...]) -> list[str]:
    """The registered event names that ``patterns`` match, sorted."""
    return sorted(name for name in types.by_name if matches(name, tuple(patterns)))


def type_name(tp: Any) -> str:
    """How the event reference and ``GET /events/types`` write a field's type: ``int``,
    ``str | None``, ``list[int]``, ``'a' | 'b'``."""
    args = typing.get_args(tp)
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        return " | ".join(type_name(arg) for arg in args)
    if origin is typing.Literal:
        return " | ".join(repr(arg) for arg in args)
    if origin is not None:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(type_name(arg) for arg in args)}]"
    if tp is type(None):
        return "None"
    if tp is Any:
        return "Any"
    return getattr(tp, "__name__", str(tp))
