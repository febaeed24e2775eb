"""Delivering committed events from a background task: :class:`EventDispatcher`.

With ``[events] delivery = "background"`` (the default for a served site), a unit of work
hands its committed events to the dispatcher and the request returns; the dispatcher's
task delivers them to ``agorakit_on_event`` in commit order, several units of work at a
time, and marks each batch published in one statement.  The after-commit handlers
(notifications, system messages, webhooks) were about half of a transition request's
time; they are off the request path now.

Nothing is lost by this: the events are in the outbox (``core_domain_event``) before the
dispatcher sees them.  If the process stops with events still queued, or a handler
fails, they stay ``pending`` and the worker re-publishes them (at least once; handlers
deduplicate on ``event.id``): at once when this process is gone (they carry its registry
id, see :mod:`agorakit.events.processes`), 30 s after them while it lives.  The queue is bounded: when it is full, the request that
committed delivers its own events (back-pressure instead of unbounded memory).

The dispatcher runs only while the app is being served (Litestar's start-up and
shut-down hooks start and stop it).  The CLI, the worker and the tests' in-process
client deliver inline, right after the commit, as ``delivery = "inline"`` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from agorakit.events import DomainEvent

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.events.outbox import Handled
    from agorakit.runtime import Runtime

log = logging.getLogger("agorakit.events")

#: units of work delivered together (one "published" UPDATE per batch)
BATCH = 64


class EventDispatcher:
    def __init__(self, runtime: Runtime, *, max_pending: int = 1000) -> None:
        self.runtime = runtime
        #: each unit of work's events, and what its transaction delivered of them already
        self.queue: asyncio.Queue[tuple[list[DomainEvent], Handled | frozenset]] = asyncio.Queue(
            maxsize=max_pending
        )
        self.task: asyncio.Task | None = None
        self.delivered = 0

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    async def start(self) -> None:
        if not self.running:
            self.task = asyncio.get_running_loop().create_task(self._run(), name="agorakit-events")

    async def submit(self, events: list[DomainEvent], *, skip: Handled | frozenset = frozenset()) -> None:
        """Queue a committed unit of work's events; deliver them now when the queue is full
        (or when called from a handler the dispatcher is running).  ``skip``: the (event
        id, handler) pairs its transaction delivered already."""
        from agorakit.events.outbox import publish

        if not events:
            return
        if not self.running or asyncio.current_task() is self.task:
            await publish(self.runtime, events, skip=skip)
            return
        try:
            self.queue.put_nowait((events, skip))
        except asyncio.QueueFull:
            await publish(self.runtime, events, skip=skip)

    async def drain(self) -> None:
        """Wait until every queued event has been delivered."""
        if self.running:
            await self.queue.join()

    async def stop(self, *, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - a grace period, not a deadline for the caller
        """Deliver what is queued (at most ``timeout`` seconds), then stop.

        Events still queued after the timeout stay pending in the outbox for the worker.
        """
        if self.task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drain(), timeout)
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        self.task = None

    async def _run(self) -> None:
        from agorakit.events.outbox import publish

        while True:
            batch = [await self.queue.get()]
            while len(batch) < BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            events = [event for unit, _ in batch for event in unit]
            skip = frozenset().union(*(done for _, done in batch))
            try:
                await publish(self.runtime, events, skip=skip)
                self.delivered += len(events)
            except Exception:  # the database went away, say: the worker re-publishes them
                log.exception("could not publish %d events; they stay pending for the worker", len(events))
            finally:
                for _ in batch:
                    self.queue.task_done()
