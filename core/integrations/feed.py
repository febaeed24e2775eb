"""The events feed outside systems read: ``GET /events`` and ``GET /events/types``.

A page is what :func:`agorakit.events.read_feed` returns after the caller's position,
each event in its public form (:func:`agorakit.events.public_event`).  The cursor is that
position (:class:`agorakit.events.FeedPosition`: the highest id read and the ids below it
still awaited) as base64url JSON, opaque to clients: following ``next_cursor`` reads
every event once, one whose transaction committed late included, and polling with the
last cursor returns only newer events.  ``types`` filters without skipping: the position
moves over the events of other types.  Reads go to the primary database (never a read
replica, which may lag).
"""

from __future__ import annotations

import base64
import binascii
import inspect
import logging
from typing import Any

import msgspec

from agorakit.errors import FieldError, ValidationFailed
from agorakit.events import (
    FeedPosition,
    check_patterns,
    last_event_id,
    matching_types,
    public_event,
    read_feed,
)
from agorakit.events.public import type_name
from agorakit.integrations.schemas import EventFeedPage, EventFieldOut, EventTypeOut, FeedEvent
from agorakit.runtime import Runtime

log = logging.getLogger("agorakit.integrations")

#: events a page holds unless told (``?limit=``)
DEFAULT_LIMIT = 100
#: the most events a page holds
MAX_LIMIT = 500
#: the most awaited ids a cursor carries: it travels in a URL, so it stays a few KB.  An
#: id is awaited while a transaction that may still commit it runs (rolled-back ones
#: pile up only while some transaction stays open for long); beyond this many the lowest
#: are given up, as :func:`agorakit.events.read_feed` gives up its own beyond its limit
MAX_CURSOR_GAPS = 100
#: the longest cursor read (longer ones are refused before decoding)
MAX_CURSOR_LENGTH = 20_000
_ID_LIMIT = 2**63
_CURSOR_FIELDS = frozenset({"after", "missing"})


def encode_cursor(position: FeedPosition) -> str:
    """``position`` as a feed cursor: base64url of its JSON, without padding; at most
    :data:`MAX_CURSOR_GAPS` awaited ids, the highest."""
    if len(position.missing) > MAX_CURSOR_GAPS:
        dropped = position.missing[:-MAX_CURSOR_GAPS]
        log.warning(
            "the events feed gives up %d awaited event ids (%d to %d): a transaction open for long?",
            len(dropped),
            dropped[0].id,
            dropped[-1].id,
        )
        position = msgspec.structs.replace(position, missing=position.missing[-MAX_CURSOR_GAPS:])
    return base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")


def _refuse_cursor(why: str) -> ValidationFailed:
    return ValidationFailed(
        [FieldError("after", f"{why}; start without one, or pass a next_cursor", "query")]
    )


async def decode_cursor(runtime: Runtime, cursor: str | None) -> FeedPosition:
    """The position a feed cursor holds (the start of the feed without one); a malformed
    cursor, or one of another site's feed, is a 422."""
    if not cursor:
        return FeedPosition()
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise _refuse_cursor("not a cursor of this feed (too long)")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        fields = msgspec.json.decode(raw, type=dict[str, Any])
        if "after" not in fields or not set(fields) <= _CURSOR_FIELDS:  # another list's cursor
            raise ValueError("not a feed position")
        position = FeedPosition.decode(raw)
    except (ValueError, binascii.Error, msgspec.DecodeError, RecursionError):
        raise _refuse_cursor("not a cursor of this feed") from None
    gaps = [gap.id for gap in position.missing]
    if (
        not 0 <= position.after < _ID_LIMIT
        or len(gaps) > MAX_CURSOR_GAPS
        or any(not 0 < gap <= position.after for gap in gaps)
        or any(gap.waits_for is not None and not 0 <= gap.waits_for < _ID_LIMIT for gap in position.missing)
    ):
        raise _refuse_cursor("not a cursor of this feed")
    if position.after > await last_event_id(runtime):
        raise _refuse_cursor(
            "the cursor is past the last event of this site (another site's, or a restored one)"
        )
    return position


def parse_types(runtime: Runtime, types: str | None) -> list[str] | None:
    """The event names ``?types=`` (comma-separated patterns: ``order.*,review.posted``)
    asks for; None: every event.  A pattern that matches no event type is a 422."""
    if types is None:
        return None
    patterns = [pattern.strip() for pattern in types.split(",")]
    problems = check_patterns(runtime.event_types, patterns)
    if problems:
        raise ValidationFailed([FieldError("types", "; ".join(problems), "query")])
    return matching_types(runtime.event_types, patterns)


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed([FieldError("limit", f"must be between 1 and {MAX_LIMIT}", "query")])
    return limit


async def read_events(
    runtime: Runtime, *, after: str | None, types: str | None, limit: int = DEFAULT_LIMIT
) -> EventFeedPage:
    """One page of the feed after the cursor ``after`` (the module's docs)."""
    check_limit(limit)
    names = parse_types(runtime, types)
    position = await decode_cursor(runtime, after)
    batch = await read_feed(runtime, position, names=names, limit=limit)
    items = [msgspec.convert(public_event(event), FeedEvent) for event in batch.events]
    return EventFeedPage(items=items, next_cursor=encode_cursor(batch.position), has_more=batch.more)


def event_types(runtime: Runtime) -> list[EventTypeOut]:
    """Every registered event type, by name: what its ``data`` holds, and who registers it."""
    registered_by = {}
    for plugin_name, classes in runtime.hooks.by_plugin_sync("agorakit_event_types"):
        for cls in classes or []:
            registered_by.setdefault(cls.name, _plugin_label(plugin_name))
    out = []
    for name, cls in sorted(runtime.event_types.by_name.items()):
        private = cls.private_fields
        fields = [
            EventFieldOut(name=field.name, type=type_name(field.type))
            for field in msgspec.structs.fields(cls)
            if field.name not in private
        ]
        description = inspect.cleandoc(cls.__doc__ or "")
        out.append(
            EventTypeOut(
                name=name, description=description, fields=fields, registered_by=registered_by.get(name, "")
            )
        )
    return out


def _plugin_label(plugin_name: str) -> str:
    """``orders`` for the core's ``agorakit.orders.plugin``; a plugin's own name otherwise."""
    if plugin_name.startswith("agorakit.") and plugin_name.endswith(".plugin"):
        return plugin_name.split(".")[1]
    return plugin_name
