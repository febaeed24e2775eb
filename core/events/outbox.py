"""Storing, publishing and re-publishing domain events (the event outbox)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import msgspec
from piccolo.columns.combination import WhereRaw

from agorakit.db.prepared import Prepared, PreparedInsert, any_of
from agorakit.events import DomainEvent, EventsFailed, handler_options
from agorakit.events.tables import StoredEvent
from agorakit.hooks import maybe_await

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

log = logging.getLogger("agorakit.events")

#: a stored event still pending this long after it happened is re-published by the worker
REPUBLISH_AFTER = timedelta(seconds=30)
#: after this many failed publications the event is marked failed (shown to operators)
MAX_ATTEMPTS = 5


_INSERT = PreparedInsert(StoredEvent)


async def store(
    events: list[DomainEvent],
    process_id: int | None = None,
    *,
    published: list[bool] | None = None,
    at: Any = None,
) -> list[DomainEvent]:
    """Write events inside the current transaction; returns them with their ids.

    ``process_id``: the registered process that will publish them (see
    :mod:`agorakit.events.processes`), written by the same INSERT.  ``published``: for
    each event, whether it is stored published already (at ``at``): nothing is left to
    deliver after the commit (default: every event pending).
    """
    if not events:
        return []
    flags = published or [False] * len(events)
    rows = await _INSERT.run(
        *[
            {
                "name": e.name,
                "subject": e.subject,
                "actor_id": e.actor_id,
                "data": msgspec.to_builtins(e.data),
                "at": e.at,
                "status": "published" if done else "pending",
                "attempts": 0,
                "published_at": at if done else None,
                "process_id": process_id,
            }
            for e, done in zip(events, flags, strict=True)
        ]
    )
    return [msgspec.structs.replace(e, id=row["id"]) for e, row in zip(events, rows, strict=True)]


#: one handler: (the hook it implements, the plugin's name, the function's name: a plugin
#: may implement a hook twice, with ``specname``)
Handler = tuple[str, str, str]
#: what was delivered in a transaction already: (event id, handler)
Handled = set[tuple[int | None, Handler]]


def _handlers(runtime: Runtime, *, in_transaction: bool | None = None) -> list[tuple[str, Any]]:
    """The ``agorakit_on_event`` and ``agorakit_on_events`` implementations, in call order:
    every one, or only those that run inside the transaction (``in_transaction=True``) or
    after it (``False``)."""
    return [
        (hook, impl)
        for hook in ("agorakit_on_event", "agorakit_on_events")
        for impl in runtime.hooks.implementations(hook)
        if in_transaction is None or handler_options(impl.function).in_transaction == in_transaction
    ]


def taken_after_commit(runtime: Runtime, events: list[DomainEvent], *, everyone: bool = False) -> list[bool]:
    """For each event, whether a handler takes it after the commit (otherwise nothing is
    left to deliver once the handlers that run in its transaction have); ``everyone``:
    every handler runs after the commit (``[events] in_transaction = false``)."""
    handlers = _handlers(runtime) if everyone else _handlers(runtime, in_transaction=False)
    takers = [handler_options(impl.function) for _, impl in handlers]
    return [any(options.takes(event) for options in takers) for event in events]


async def deliver(runtime: Runtime, event: DomainEvent) -> list[str]:
    """Hand one event to every handler (to ``agorakit_on_events`` as a batch of one);
    returns their errors."""
    return (await deliver_all(runtime, [event]))[0]


async def deliver_all(
    runtime: Runtime, events: list[DomainEvent], *, skip: Handled | frozenset = frozenset()
) -> list[list[str]]:
    """Hand ``events`` to every handler that takes them; returns each event's errors, in order.

    Each event goes to every ``agorakit_on_event`` implementation that takes it, in
    order; then the events each ``agorakit_on_events`` implementation takes go to it as
    one batch.  A failing plugin does not stop the others; its error is logged and
    counted against the events it failed (every event of the batch, unless it raised
    :class:`EventsFailed`).  ``skip``: (event id, handler) pairs already delivered in the
    events' own transaction.
    """
    errors, _ = await _deliver(runtime, events, _handlers(runtime), skip)
    return errors


#: how each handler call runs while handlers run inside the transaction that records
#: their events (:func:`deliver_in_transaction`): in a savepoint of its own
_isolation: ContextVar[Callable[[], AbstractAsyncContextManager[Any]] | None] = ContextVar(
    "agorakit_handler_isolation", default=None
)


async def deliver_in_transaction(
    runtime: Runtime, events: list[DomainEvent], *, isolate: Callable[[], AbstractAsyncContextManager[Any]]
) -> tuple[list[list[str]], Handled]:
    """Hand stored ``events`` to the handlers that run inside their transaction
    (:func:`agorakit.events.event_handler`); each event's errors, and the (event id,
    handler) pairs delivered without one.

    Each handler call runs inside ``isolate()`` (a savepoint): a handler that fails has
    its writes undone and leaves the transaction usable (on PostgreSQL a failed statement
    would otherwise abort it, and the member's change with it); the change commits, and
    the event goes to that handler again after the commit.  A handler that raises
    :class:`EventsFailed` keeps what it wrote for the events it handled."""
    token = _isolation.set(isolate)
    try:
        return await _deliver(runtime, events, _handlers(runtime, in_transaction=True), frozenset())
    finally:
        _isolation.reset(token)


async def _call(impl: Any, arguments: dict[str, Any]) -> None:
    """Run a handler, in a savepoint of its own inside the events' transaction."""
    isolate = _isolation.get()
    if isolate is None:
        await maybe_await(impl.function(**arguments))
        return
    partial: EventsFailed | None = None
    async with isolate():
        try:
            await maybe_await(impl.function(**arguments))
        except EventsFailed as failed:
            partial = failed  # the events it handled keep their rows: the savepoint is released
    if partial is not None:
        raise partial


async def _deliver(
    runtime: Runtime, events: list[DomainEvent], handlers: list[tuple[str, Any]], skip: Handled | frozenset
) -> tuple[list[list[str]], Handled]:
    errors: list[list[str]] = [[] for _ in events]
    handled: Handled = set()
    for hook, impl in handlers:
        options = handler_options(impl.function)
        given = [
            (index, event)
            for index, event in enumerate(events)
            if (event.id, _handler(hook, impl)) not in skip and options.takes(event)
        ]
        if not given:
            continue
        if hook == "agorakit_on_event":
            failed = set()
            for index, event in given:
                try:
                    await _call(impl, _arguments(impl, event=event, runtime=runtime))
                except Exception as exc:
                    log.exception("plugin %s failed on event %s (%s)", impl.plugin_name, event.name, event.id)
                    errors[index].append(f"{impl.plugin_name}: {exc!r}"[:500])
                    failed.add(index)
        else:
            failed = await _deliver_batch(runtime, impl, given, errors)
        handled |= {(event.id, _handler(hook, impl)) for index, event in given if index not in failed}
    return errors, handled


def _handler(hook: str, impl: Any) -> Handler:
    return hook, impl.plugin_name, getattr(impl.function, "__name__", "")


async def _deliver_batch(
    runtime: Runtime, impl: Any, given: list[tuple[int, DomainEvent]], errors: list[list[str]]
) -> set[int]:
    """``given`` (index, event) pairs to one ``agorakit_on_events`` implementation as a
    batch; the indexes of the events it failed (their errors added to ``errors``)."""
    batch = [event for _, event in given]
    failed: set[int] = set()
    try:
        await _call(impl, _arguments(impl, events=batch, runtime=runtime))
    except EventsFailed as exc:
        for index, event in given:
            if event.id in exc.errors:
                log.error(
                    "plugin %s failed on event %s (%s): %s",
                    impl.plugin_name,
                    event.name,
                    event.id,
                    exc.errors[event.id],
                )
                errors[index].append(f"{impl.plugin_name}: {exc.errors[event.id]}"[:500])
                failed.add(index)
    except Exception as exc:
        if len(batch) == 1:
            index, event = given[0]
            log.exception("plugin %s failed on event %s (%s)", impl.plugin_name, event.name, event.id)
            errors[index].append(f"{impl.plugin_name}: {exc!r}"[:500])
            return {index}
        # One bad event must not fail the others: hand them over again one at a time
        # (handlers are idempotent on event.id), so only the culprit counts a failure.
        log.warning(
            "plugin %s failed on a batch of %d events (%r); delivering them one at a time",
            impl.plugin_name,
            len(batch),
            exc,
        )
        for index, event in given:
            problems = await _deliver_alone(runtime, impl, event)
            if problems:
                errors[index] += problems
                failed.add(index)
    return failed


async def _deliver_alone(runtime: Runtime, impl: Any, event: DomainEvent) -> list[str]:
    try:
        await _call(impl, _arguments(impl, events=[event], runtime=runtime))
    except EventsFailed as failed:
        error = failed.errors.get(event.id)
        return [f"{impl.plugin_name}: {error}"[:500]] if error else []
    except Exception as exc:
        log.exception("plugin %s failed on event %s (%s)", impl.plugin_name, event.name, event.id)
        return [f"{impl.plugin_name}: {exc!r}"[:500]]
    return []


def _arguments(impl: Any, **available: Any) -> dict[str, Any]:
    """The arguments a hook implementation asks for (pluggy lets it name fewer)."""
    return {name: available[name] for name in impl.argnames if name in available}


_MARK_PUBLISHED = Prepared(
    lambda at, ids: StoredEvent.update(
        {StoredEvent.status: "published", StoredEvent.published_at: at, StoredEvent.last_error: None}
    ).where(any_of(StoredEvent.id, ids))
)


async def publish(
    runtime: Runtime, events: list[DomainEvent], *, skip: Handled | frozenset = frozenset()
) -> None:
    """Deliver committed events and record the outcome of each (successes in one statement);
    ``skip``: what their transaction delivered already (see :func:`deliver_all`)."""
    published = []
    for event, errors in zip(events, await deliver_all(runtime, events, skip=skip), strict=True):
        if errors:
            await _mark_failed(runtime, event, errors)
        elif event.id is not None:
            published.append(event.id)
    if published:
        await _MARK_PUBLISHED.run(runtime.clock.now(), published)


_MARK_PENDING = Prepared(
    lambda ids: StoredEvent.update({StoredEvent.status: "pending", StoredEvent.published_at: None}).where(
        any_of(StoredEvent.id, ids)
    )
)


async def mark_pending(ids: list[int]) -> None:
    """Events stored published whose handlers failed in their transaction: pending again,
    for the delivery after the commit (and the worker's)."""
    if ids:
        await _MARK_PENDING.run(ids)


async def _mark_failed(runtime: Runtime, event: DomainEvent, errors: list[str]) -> None:
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


def _to_event(runtime: Runtime, row: dict[str, Any]) -> DomainEvent:
    data = row["data"] if isinstance(row["data"], dict) else msgspec.json.decode(row["data"] or "{}")
    return DomainEvent(
        id=row["id"],
        name=row["name"],
        at=row["at"],
        subject=row["subject"],
        actor_id=row["actor_id"],
        data=data,
        payload=runtime.event_types.payload(row["name"], data),
    )


async def republish_events(runtime: Runtime, *, limit: int = 100) -> list[int]:
    """Publish again events left pending (a crash after commit, a failing handler).

    The events of a process that is gone (no heartbeat, killed, stopped: see
    :mod:`agorakit.events.processes`) are taken at once.  Those of a live process, or of
    none registered, only :data:`REPUBLISH_AFTER` after they happened or were last taken
    over, so that an event a request is publishing right now is left to it (handlers are
    idempotent anyway).  Taken events are claimed for this process first (on PostgreSQL
    with ``FOR UPDATE SKIP LOCKED``, so two workers do not take the same ones).
    """
    from agorakit.events.processes import forget_gone_processes

    await forget_gone_processes(runtime)
    rows = await _claim(runtime, limit)
    events = [_to_event(runtime, row) for row in rows]
    if events:
        await publish(runtime, events)  # one batch: batch handlers take them set-wise
    return [event.id for event in events if event.id is not None]  # stored events have ids


#: the registry is read by the claim itself: a process that registered a moment ago and
#: stored events since is seen as live
_OWNER_GONE = WhereRaw(
    '"core_domain_event"."process_id" IS NOT NULL AND '
    '"core_domain_event"."process_id" NOT IN (SELECT "id" FROM "core_process")'
)


async def _claim(runtime: Runtime, limit: int) -> list[dict[str, Any]]:
    async with runtime.db.transaction():
        now = runtime.clock.now()
        cutoff = now - REPUBLISH_AFTER
        owner_gone = _OWNER_GONE
        waited = (StoredEvent.claimed_at.is_null() & (StoredEvent.at <= cutoff)) | (
            StoredEvent.claimed_at <= cutoff
        )
        query = (
            StoredEvent.select()
            .where((StoredEvent.status == "pending") & (owner_gone | waited))
            .order_by(StoredEvent.id)
            .limit(limit)
        )
        if runtime.db.is_postgres:
            query = query.lock_rows(skip_locked=True)
        rows = await query
        if rows:
            await StoredEvent.update(
                {StoredEvent.process_id: runtime.process_id, StoredEvent.claimed_at: now}
            ).where(StoredEvent.id.is_in([row["id"] for row in rows]))
    return rows


async def failed_events(*, limit: int = 100) -> list[dict[str, Any]]:
    """Events no handler could take after every attempt (for the operator view)."""
    return (
        await StoredEvent.select()
        .where(StoredEvent.status == "failed")
        .order_by(StoredEvent.id, ascending=False)
        .limit(limit)
    )
