"""The runtime: everything a service needs, built once per app (or CLI command).

It holds the validated settings, the plugin manager, the clock and the database, plus the
results of the start-up hooks, which do not change per request.  Controllers receive it
through dependency injection (a parameter named ``runtime``); services take it as their
first argument.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pluggy

from agorakit.clock import Clock, SystemClock
from agorakit.db import Database
from agorakit.db.migrate import sort_apps
from agorakit.events import DomainEvent
from agorakit.hooks import call_each, collect, get_plugin_manager
from agorakit.settings import Settings

log = logging.getLogger("agorakit")


class UnitOfWork:
    """One database transaction plus the events it will publish once committed."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.events: list[DomainEvent] = []

    @property
    def now(self):
        return self.runtime.clock.now()

    def record(self, name: str, *, subject: str, actor_id: int | None = None, **data: Any) -> None:
        """Record an event; it is published only if the transaction commits."""
        event = DomainEvent(name=name, at=self.now, subject=subject, actor_id=actor_id, data=data)
        self.events.append(event)


class Runtime:
    def __init__(
        self,
        settings: Settings,
        *,
        pm: pluggy.PluginManager | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.pm = pm or get_plugin_manager(settings.site.plugins, source=settings.source)
        self.clock: Clock = clock or SystemClock()
        self.db = Database(settings.database, source=settings.source)
        self.apps = sort_apps(collect(self.pm.hook.agorakit_tables()))
        self.db.bind(self.apps)

    def plugin_settings(self, name: str) -> Any:
        """The validated settings Struct of an enabled plugin."""
        return self.settings.plugin(name)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        """Run a block in one transaction; publish its events after it commits.

        An exception inside the block rolls everything back and publishes nothing.
        """
        uow = UnitOfWork(self)
        async with self.db.transaction():
            yield uow
        for event in uow.events:
            await self.publish(event)

    async def publish(self, event: DomainEvent) -> None:
        log.debug("event %s %s", event.name, event.subject)
        await call_each(self.pm, "agorakit_on_event", event=event, runtime=self)
