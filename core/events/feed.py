"""Reading the stored events in id order from a position of one's own: the event feed.

The outbox (``core_domain_event``) hands each event to the handlers of one process.  A
consumer that every process (or every host) must run for itself, such as a search index
kept in a host's own folder, reads the stored events instead, from a position it keeps:
:func:`read_feed` returns the events after a :class:`FeedPosition` and the position after
them; the consumer applies the events, stores the new position (after what it applied is
durable) and asks again from there.  Delivery is at least once: after a crash between
applying and storing, the same events come again.

Why a position is more than the last id read.  PostgreSQL assigns an event its id when
the transaction inserts it, but transactions commit in their own order: while the
transaction holding id 41 is still open, the one holding 42 may commit, and a read then
returns 42 without 41.  A position that were only "after 42" would skip 41 for good when
it commits.  So a position is the high-water mark (the highest id read) *and* the ids
below it that no read has returned yet (:class:`FeedGap`); every read asks for those
again and returns the ones that have appeared since.

A missing id stays missing for good when its transaction rolled back (ids are not given
back), so it must not be asked for forever.  It is given up once no transaction that could
still hold it is running: a read that finds the id missing notes the time; once the gap is
:data:`SETTLE_SECONDS` old, a read notes the newest transaction running in the database
(``pg_stat_activity.backend_xid``), and the gap is dropped as soon as no transaction that
old or older is left.  This is sound: the id was drawn before a higher one that had
already committed when the gap was first seen, so the transaction that drew it had
started by then, and by the time the gap is :data:`SETTLE_SECONDS` old it has its
transaction id (PostgreSQL gives one with the row's insert, microseconds after the id).
A gap therefore waits out only the transactions that were running when it was noted,
however long they take; one still open after hours (a forgotten ``BEGIN``) holds its gaps
that long, and at most :data:`MAX_MISSING` are kept (the lowest go first, with a
warning).  Transactions of other databases on the server do not count.

SQLite has one writer: a transaction commits before the next one draws its ids, so an id
below one that was read has either been read too or was rolled back.  There a position is
only its high-water mark.

:func:`feed_head` is the position of "everything stored so far", for a consumer that
builds its state from the tables themselves (a search index rebuilt from the listings):
take the head first, build, then follow the feed from the head, and nothing committed in
between is lost.  :func:`feed_backlog` counts the events a position has not read yet.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from agorakit.db.prepared import any_of
from agorakit.events import DomainEvent
from agorakit.events.outbox import _to_event
from agorakit.events.tables import StoredEvent

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

log = logging.getLogger("agorakit.events")

#: how old a missing id must be before the transactions that may still hold it are noted
#: (covers the moment between PostgreSQL drawing an id and giving its transaction an id)
SETTLE_SECONDS = 1.0
#: the most missing ids a position keeps
MAX_MISSING = 10_000
#: events a read returns at most, unless told
DEFAULT_LIMIT = 500

#: the transactions of this database that hold a transaction id (32-bit ids, which wrap
#: around), and a 64-bit id of about now to widen them by
_RUNNING = (
    "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS horizon, "
    "ARRAY(SELECT backend_xid::text::bigint FROM pg_stat_activity "
    "WHERE datname = current_database() AND backend_xid IS NOT NULL) AS running"
)
_ALL_COLUMNS = (
    StoredEvent.id,
    StoredEvent.name,
    StoredEvent.subject,
    StoredEvent.actor_id,
    StoredEvent.data,
    StoredEvent.at,
)


class FeedGap(msgspec.Struct, frozen=True, array_like=True):
    """An id below a position's high-water mark that no read has returned yet."""

    #: the stored event's id that is awaited
    id: int
    #: when a read first found it missing (the runtime's wall clock)
    seen_at: datetime
    #: the newest transaction (its 64-bit id) running in the database once the gap was
    #: :data:`SETTLE_SECONDS` old (0: none ran); the gap is given up when no transaction
    #: that old or older runs.  None until noted.
    waits_for: int | None = None


class FeedPosition(msgspec.Struct, frozen=True, kw_only=True):
    """Where a consumer of the feed is: every event with an id up to ``after`` has been
    read, except the ids in ``missing``."""

    #: the high-water mark: the highest id read (0: nothing read yet)
    after: int = 0
    #: ids at or below ``after`` not read yet, lowest first
    missing: tuple[FeedGap, ...] = ()

    def encode(self) -> bytes:
        """The position as JSON, to store it."""
        return msgspec.json.encode(self)

    @classmethod
    def decode(cls, data: bytes | str) -> FeedPosition:
        """A position stored with :meth:`encode` (``msgspec.DecodeError`` when it is not one)."""
        return msgspec.json.decode(data, type=cls)


class FeedBatch(msgspec.Struct, frozen=True):
    """What one :func:`read_feed` returns."""

    #: the events read (only the names asked for), by id
    events: list[DomainEvent]
    #: the position after them: store it once the events are applied
    position: FeedPosition
    #: whether the read stopped at its limit (read again at once)
    more: bool


class FeedNotSettled(Exception):
    """:func:`feed_head` waited too long for transactions that may still add events below
    the head (one left open on the PostgreSQL server)."""


async def read_feed(
    runtime: Runtime,
    position: FeedPosition,
    *,
    names: Collection[str] | None = None,
    limit: int = DEFAULT_LIMIT,
    settle_seconds: float = SETTLE_SECONDS,
) -> FeedBatch:
    """The stored events after ``position``, by id, and the position after them.

    The events are those with ids above ``position.after`` (at most ``limit`` of them),
    and those of ``position.missing`` that have been committed since, oldest first.
    ``names``: return only events of these names (the position still moves over the
    others).  ``settle_seconds``: how old a missing id must be before the transactions
    that may hold it are noted (the module's docs).  Call it outside a transaction: each
    statement must see what is committed at the time.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    wanted = None if names is None else frozenset(names)
    columns = _ALL_COLUMNS if wanted is None else (StoredEvent.id, StoredEvent.name)
    newer = (
        await StoredEvent.select(*columns)
        .where(StoredEvent.id > position.after)
        .order_by(StoredEvent.id)
        .limit(limit)
    )
    awaited = {gap.id: gap for gap in position.missing}
    filled = (
        await StoredEvent.select(*columns).where(_id_in(runtime, list(awaited))).order_by(StoredEvent.id)
        if awaited
        else []
    )
    high = newer[-1]["id"] if newer else position.after
    missing: list[FeedGap] = []
    if runtime.db.is_postgres:  # SQLite's ids commit in order: what is missing stays so
        now = runtime.wall_clock.now()
        found = {row["id"] for row in filled}
        missing = [gap for gap in position.missing if gap.id not in found]
        missing += [FeedGap(i, now) for i in _holes(position.after, [row["id"] for row in newer])]
        missing = await _settle(missing, now, settle_seconds)
    rows = [*filled, *newer]
    if wanted is not None:
        ids = [row["id"] for row in rows if row["name"] in wanted]
        rows = (
            await StoredEvent.select(*_ALL_COLUMNS).where(_id_in(runtime, ids)).order_by(StoredEvent.id)
            if ids
            else []
        )
    return FeedBatch(
        events=[_to_event(runtime, row) for row in rows],
        position=FeedPosition(after=high, missing=tuple(sorted(missing, key=lambda gap: gap.id))),
        more=len(newer) == limit,
    )


def _id_in(runtime: Runtime, ids: list[int]) -> Any:
    """The event's id is one of ``ids``: one array parameter on PostgreSQL, a parameter a
    value on SQLite (whose lists here stay far below its limit of parameters)."""
    return any_of(StoredEvent.id, ids) if runtime.db.is_postgres else StoredEvent.id.is_in(ids)


def _holes(after: int, ids: list[int]) -> list[int]:
    """The ids between ``after`` and the last of ``ids`` (ascending) that ``ids`` lacks:
    at most :data:`MAX_MISSING`, the highest."""
    holes: list[int] = []
    previous = after
    for current in ids:
        holes += range(previous + 1, current)
        if len(holes) > MAX_MISSING:
            del holes[:-MAX_MISSING]
        previous = current
    return holes


async def running_transactions() -> list[int]:
    """The 64-bit ids of the transactions of this database that hold a transaction id
    (PostgreSQL; ``pg_stat_activity`` gives them as 32-bit ids, widened here by the
    current 64-bit one: the running ones are far less than 2**31 apart)."""
    [row] = await StoredEvent.raw(_RUNNING)
    horizon, wide = row["horizon"], []
    for short in row["running"] or []:
        xid = (horizon & ~0xFFFFFFFF) | short
        if xid > horizon + 2**31:
            xid -= 2**32
        elif xid < horizon - 2**31:
            xid += 2**32
        wide.append(xid)
    return wide


async def _settle(missing: list[FeedGap], now: datetime, settle_seconds: float) -> list[FeedGap]:
    """The gaps still awaited: each older than ``settle_seconds`` gets the transactions
    that may hold it noted, and goes once they have all ended (the module's docs)."""
    if not missing:
        return []
    running = await running_transactions()  # read after the events: a gap seen above is covered
    oldest = min(running, default=None)
    settle = timedelta(seconds=settle_seconds)
    kept = []
    for gap in missing:
        if gap.waits_for is None and now - gap.seen_at >= settle:
            gap = msgspec.structs.replace(gap, waits_for=max(running, default=0))
        if gap.waits_for is not None and (oldest is None or oldest > gap.waits_for):
            log.debug("event id %s was never committed (its transaction rolled back)", gap.id)
            continue
        kept.append(gap)
    if len(kept) > MAX_MISSING:
        kept.sort(key=lambda gap: gap.id)
        log.warning(
            "%d event ids are awaited (a transaction open for long?); giving up the %d lowest",
            len(kept),
            len(kept) - MAX_MISSING,
        )
        kept = kept[-MAX_MISSING:]
    return kept


async def feed_head(
    runtime: Runtime,
    *,
    settle_seconds: float = SETTLE_SECONDS,
    timeout: float = 60.0,  # noqa: ASYNC109 - how long to wait for other transactions, then an error
) -> FeedPosition:
    """The position after every event stored so far, with nothing left to come below it.

    On PostgreSQL an event below the highest id may still be committed by a transaction
    that is open now, so this waits (``settle_seconds``, then until every transaction of
    the database running by then has ended; at most ``timeout`` seconds, else
    :class:`FeedNotSettled`).
    What a consumer reads from the tables after this returns reflects every event up to
    the head; the feed brings it the ones after.
    """
    top = await last_event_id(runtime)
    if not runtime.db.is_postgres:
        return FeedPosition(after=top)
    deadline = time.monotonic() + timeout
    await asyncio.sleep(settle_seconds)
    newest = max(await running_transactions(), default=None)
    while newest is not None:
        older = [xid for xid in await running_transactions() if xid <= newest]
        if not older:
            break
        if time.monotonic() >= deadline:
            raise FeedNotSettled(
                f"a transaction that may still store events up to {top} is open after {timeout:g} s"
                f" (PostgreSQL transaction {min(older)}); try again once it has ended"
            )
        await asyncio.sleep(0.05)
    return FeedPosition(after=top)


async def feed_backlog(
    runtime: Runtime, position: FeedPosition, *, names: Collection[str] | None = None
) -> int:
    """How many stored events ``position`` has not read yet (of ``names``, when given):
    those after it and those of its missing ids committed since."""
    if names is not None and not names:
        return 0
    ids = [gap.id for gap in position.missing]
    condition: Any = StoredEvent.id > position.after
    if ids:
        condition = condition | _id_in(runtime, ids)
    if names is not None:
        condition = condition & StoredEvent.name.is_in(list(names))
    return await StoredEvent.count().where(condition)


async def last_event_id(runtime: Runtime) -> int:
    """The id of the last stored event (0 when there is none yet): a position past it
    belongs to another database (restored from a backup, say)."""
    row = await StoredEvent.select(StoredEvent.id).order_by(StoredEvent.id, ascending=False).first()
    return row["id"] if row else 0


async def stored_events(runtime: Runtime, ids: Collection[int]) -> list[DomainEvent]:
    """The stored events with these ids (those that exist), by id."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    rows = await StoredEvent.select(*_ALL_COLUMNS).where(_id_in(runtime, wanted)).order_by(StoredEvent.id)
    return [_to_event(runtime, row) for row in rows]


async def event_names_between(start: datetime, end: datetime, *, limit: int) -> list[tuple[int, str]]:
    """``(id, name)`` of the stored events recorded in ``[start, end)``, by id, at most ``limit``."""
    rows = (
        await StoredEvent.select(StoredEvent.id, StoredEvent.name)
        .where((StoredEvent.at >= start) & (StoredEvent.at < end))
        .order_by(StoredEvent.id)
        .limit(limit)
    )
    return [(row["id"], row["name"]) for row in rows]
