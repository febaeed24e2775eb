"""Storing, publishing and re-publishing domain events (the event outbox)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import msgspec

from agorakit.db.prepared import Prepared, PreparedInsert, any_of
from agorakit.events import DomainEvent
from agorakit.events.tables import StoredEvent
from agorakit.hooks import maybe_await

log = logging.getLogger("agorakit.events")

#: a stored event still pending this long after it happened is re-published by the worker
REPUBLISH_AFTER = timedelta(seconds=30)
#: after this many failed publications the event is marked failed (shown to operators)
MAX_ATTEMPTS = 5


_INSERT = PreparedInsert(StoredEvent)


async def store(events: list[DomainEvent]) -> list[DomainEvent]:
    """Write events inside the current transaction; returns them with their ids."""
    if not events:
        return []
    rows = await _INSERT.run(
        *[
            {
                "name": e.name,
                "subject": e.subject,
                "actor_id": e.actor_id,
                "data": msgspec.to_builtins(e.data),
                "at": e.at,
                "status": "pending",
                "attempts": 0,
            }
            for e in events
        ]
    )
    return [msgspec.structs.replace(e, id=row["id"]) for e, row in zip(events, rows, strict=True)]


async def deliver(runtime: Any, event: DomainEvent) -> list[str]:
    """Hand one event to every ``agorakit_on_event`` implementation; returns their errors.

    A failing plugin does not stop the others; its error is logged and returned.
    """
    errors = []
    caller = runtime.pm.hook.agorakit_on_event
    for impl in reversed(caller.get_hookimpls()):  # pluggy's call order: LIFO
        kwargs = {"event": event, "runtime": runtime}
        args = {k: kwargs[k] for k in impl.argnames if k in kwargs}
        try:
            await maybe_await(impl.function(**args))
        except Exception as exc:
            log.exception("plugin %s failed on event %s (%s)", impl.plugin_name, event.name, event.id)
            errors.append(f"{impl.plugin_name}: {exc!r}"[:500])
    return errors


_MARK_PUBLISHED = Prepared(
    lambda at, ids: StoredEvent.update(
        {StoredEvent.status: "published", StoredEvent.published_at: at, StoredEvent.last_error: None}
    ).where(any_of(StoredEvent.id, ids))
)


async def publish(runtime: Any, events: list[DomainEvent]) -> None:
    """Deliver committed events and record the outcome of each (successes in one statement)."""
    published = []
    for event in events:
        errors = await deliver(runtime, event)
        if errors:
            await _mark_failed(runtime, event, errors)
        elif event.id is not None:
            published.append(event.id)
    if published:
        await _MARK_PUBLISHED.run(runtime.clock.now(), published)


async def _mark_failed(runtime: Any, event: DomainEvent, errors: list[str]) -> None:
    if event.id is None:
        return
    row = await StoredEvent.select(StoredEvent.attempts).where(StoredEvent.id == event.id).first()
    attempts = (row["attempts"] if row else 0) + 1
    await StoredEvent.update(
        {
            StoredEvent.attempts: attempts,
            StoredEvent.last_error: "; ".join(errors)[:2000],
            StoredEvent.status: "failed" if attempts >= MAX_ATTEMPTS else "pending",
        }
    ).where(StoredEvent.id == event.id)


def _to_event(row: dict[str, Any]) -> DomainEvent:
    return DomainEvent(
        id=row["id"],
        name=row["name"],
        at=row["at"],
        subject=row["subject"],
        actor_id=row["actor_id"],
        data=row["data"] if isinstance(row["data"], dict) else msgspec.json.decode(row["data"] or "{}"),
    )


async def republish_events(runtime: Any, *, limit: int = 100) -> list[int]:
    """Publish again events left pending (a crash after commit, a failing handler).

    Only events older than :data:`REPUBLISH_AFTER` are taken, so an event a request is
    publishing right now is normally left to it; handlers are idempotent anyway.
    """
    cutoff = runtime.clock.now() - REPUBLISH_AFTER
    rows = (
        await StoredEvent.select()
        .where((StoredEvent.status == "pending") & (StoredEvent.at <= cutoff))
        .order_by(StoredEvent.id)
        .limit(limit)
    )
    done = []
    for row in rows:
        event = _to_event(row)
        await publish(runtime, [event])
        done.append(row["id"])
    return done


async def failed_events(*, limit: int = 100) -> list[dict[str, Any]]:
    """Events no handler could take after every attempt (for the operator view)."""
    return (
        await StoredEvent.select()
        .where(StoredEvent.status == "failed")
        .order_by(StoredEvent.id, ascending=False)
        .limit(limit)
    )
