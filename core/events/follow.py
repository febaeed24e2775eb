"""Followers: readers of the event feed that every served app process runs.

An :class:`EventFollower` keeps something of the process's (or its host's) own in step
with the stored events, reading them with :func:`agorakit.events.feed.read_feed` from a
position it stores itself: a search index in a folder of the host, a cache.  Plugins
contribute followers through ``agorakit_event_followers``; each served app process starts
them when it starts (the app's start-up hooks, after the event delivery) and stops them
when it stops.  The worker and the ``agorakit`` commands run none.

A follower's task reads at once when it starts (catching up from the stored position
while the app serves), then every ``interval`` seconds, at once again while a read came
back full (``more``), and at once when :meth:`EventFollower.nudge` or
:meth:`EventFollower.catch_up` asks (a plugin's ``agorakit_on_events`` handler does, so
that a change made through this process is applied without waiting for the next poll).
A read that fails is logged and tried again after the interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection
from typing import TYPE_CHECKING

from agorakit.events.feed import DEFAULT_LIMIT, FeedBatch, FeedPosition, read_feed

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

log = logging.getLogger("agorakit.events")

#: the shortest pause between two reads of a follower (an interval of 0 would spin)
MIN_INTERVAL = 0.05


class EventFollower:
    """Reads the stored events from a position of its own, in every served app process.

    Subclass it and implement :meth:`position` (the stored position) and :meth:`apply`
    (apply a batch, then store ``batch.position``), or override :meth:`step` for a
    different round.  Set ``name``, ``names`` (the events it needs; None: all),
    ``interval`` and ``limit`` as class or instance attributes; a subclass with its own
    ``__init__`` calls ``super().__init__()``.
    """

    #: for the logs and the task's name
    name: str = "follower"
    #: the event names it applies (None: every event); the position moves over the others
    names: Collection[str] | None = None
    #: seconds between two reads when nothing asks sooner
    interval: float = 1.0
    #: events read at a time
    limit: int = DEFAULT_LIMIT

    def __init__(self) -> None:
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        #: catch-up requests made and the callers waiting for them
        self._asked = 0
        self._waiting: list[tuple[int, asyncio.Future[bool]]] = []

    # ----------------------------------------------------------------------------------
    # What a follower does (subclasses)
    # ----------------------------------------------------------------------------------

    async def position(self, runtime: Runtime) -> FeedPosition:
        """The stored position to read from."""
        raise NotImplementedError

    async def apply(self, runtime: Runtime, batch: FeedBatch) -> None:
        """Apply ``batch.events`` and store ``batch.position`` (after what was applied is
        durable: a crash in between applies the same events again).  Also called with no
        events when only the position moved (over events of other names, or a missing id
        given up)."""
        raise NotImplementedError

    async def step(self, runtime: Runtime) -> bool:
        """One round: read after the stored position and apply what came; returns whether
        more events are waiting (the next round starts at once)."""
        position = await self.position(runtime)
        batch = await read_feed(runtime, position, names=self.names, limit=self.limit)
        if batch.events or batch.position != position:
            await self.apply(runtime, batch)
        return batch.more

    # ----------------------------------------------------------------------------------
    # Running (the app's start-up and shut-down hooks)
    # ----------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether this process runs the follower (it is served)."""
        return self._task is not None and not self._task.done()

    async def start(self, runtime: Runtime) -> None:
        """Start following: a first round at once, then every ``interval`` seconds."""
        if self.running:
            return
        self._stopping = False
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(
            self._follow(runtime), name=f"agorakit-follower-{self.name}"
        )

    async def stop(self, *, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - a grace period, not a deadline for the caller
        """Let the round under way finish (at most ``timeout`` seconds), then stop."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._answer(self._asked, caught_up=False)

    def nudge(self) -> None:
        """Ask for a round now rather than at the next interval (does not wait)."""
        self._asked += 1
        self._wake.set()

    async def catch_up(self, *, timeout: float | None = None) -> bool:  # noqa: ASYNC109 - how long the caller waits, the round goes on
        """Ask for a round now and wait until a round begun after this call has read
        everything there was; returns False when that did not happen within ``timeout``
        seconds, when a round failed, or when the follower is not running."""
        if not self.running:
            return False
        self.nudge()
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((self._asked, answer))
        try:
            return await asyncio.wait_for(asyncio.shield(answer), timeout)
        except TimeoutError:
            return False

    async def _follow(self, runtime: Runtime) -> None:
        while not self._stopping:
            asked = self._asked
            self._wake.clear()
            try:
                more = await self.step(runtime)
            except Exception:
                log.exception("follower %s could not read the events; trying again", self.name)
                self._answer(asked, caught_up=False)
                more = False
            else:
                if not more:
                    self._answer(asked, caught_up=True)
            if more or self._stopping:
                await asyncio.sleep(0)  # let the loop breathe between full reads
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(self.interval, MIN_INTERVAL))

    def _answer(self, asked: int, *, caught_up: bool) -> None:
        """Tell the callers of :meth:`catch_up` whose request came before the round that
        began when ``asked`` requests had been made."""
        still = []
        for number, answer in self._waiting:
            if number <= asked:
                if not answer.done():
                    answer.set_result(caught_up)
            else:
                still.append((number, answer))
        self._waiting = still


async def start_followers(runtime: Runtime) -> list[EventFollower]:
    """Start the followers the plugins contribute (``agorakit_event_followers``); returns
    them, for :func:`stop_followers`."""
    followers: list[EventFollower] = await runtime.hooks.collect("agorakit_event_followers", runtime=runtime)
    for follower in followers:
        if not isinstance(follower, EventFollower):
            raise TypeError(f"agorakit_event_followers returned {follower!r}, not an EventFollower")
    for follower in followers:
        await follower.start(runtime)
    return followers


async def stop_followers(followers: list[EventFollower]) -> None:
    """Stop the followers :func:`start_followers` started (each finishes its round)."""
    for follower in followers:
        await follower.stop()
