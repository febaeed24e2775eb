"""The runtime: everything a service needs, built once per app (or CLI command).

It holds the validated settings, the plugin manager, the clock and the database, plus the
results of the start-up hooks, which do not change per request.  Controllers receive it
through dependency injection (a parameter named ``runtime``); services take it as their
first argument.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click
import msgspec
import pluggy

from agorakit.clock import Clock, SystemClock
from agorakit.db import Database
from agorakit.db.migrate import sort_apps
from agorakit.errors import AgorakitError
from agorakit.events import DomainEvent, Event, EventTypes
from agorakit.events.dispatcher import EventDispatcher
from agorakit.events.outbox import (
    Handled,
    deliver_in_transaction,
    mark_pending,
    store,
    taken_after_commit,
)
from agorakit.events.processes import ProcessRegistration
from agorakit.hooks import Hooks, get_plugin_manager
from agorakit.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:  # pragma: no cover
    from agorakit import runtime as public
    from agorakit.attachments.storage import Storage
    from agorakit.catalog.kinds import ListingKind
    from agorakit.money.methods import PaymentMethod, PayoutMethod

log = logging.getLogger("agorakit")


class UnitOfWork:
    """One database transaction plus the events it will publish once committed."""

    def __init__(self, runtime: Runtime, outer: UnitOfWork | None = None) -> None:
        self.runtime = runtime
        #: the outermost unit of work of this transaction (itself when it is the outermost)
        self.outer: UnitOfWork = outer or self
        self.events: list[DomainEvent] = []
        #: events of units of work nested in this one (part of its transaction), stored
        #: with its own
        self.nested: list[DomainEvent] = []
        #: work the outermost unit of work runs just before it commits, once per key, in
        #: the order first asked for (see :meth:`before_commit`)
        self._before_commit: dict[str, Callable[[], Awaitable[None]]] = {}
        #: what an area keeps for its before-commit work (the ledger's deferred entries);
        #: a savepoint rolled back cuts these lists back (:meth:`mark`, :meth:`cut_back`)
        self.pending: dict[str, list[Any]] = {}
        #: rows the transaction holds, as it left them (see :meth:`hold`)
        self._held: dict[tuple[str, Any], Any] = {}

    @property
    def now(self):
        return self.runtime.clock.now()

    def record(self, event: Event, *, subject: str, actor_id: int | None = None) -> None:
        """Record a typed event about ``subject`` (``"order:12"``), caused by ``actor_id``
        (None: the system); it is published only if the transaction commits."""
        if not isinstance(event, Event):
            raise TypeError(f"record() takes an agorakit.events.Event, not {type(event).__name__}")
        self.events.append(
            DomainEvent(
                name=event.name,
                at=self.now,
                subject=subject,
                actor_id=actor_id,
                data=msgspec.to_builtins(event),
                payload=event,
            )
        )

    def before_commit(self, key: str, action: Callable[[], Awaitable[None]]) -> None:
        """Run ``action`` inside the transaction, after the outermost block, just before
        the commit (once per ``key``); an exception it raises rolls everything back."""
        self.outer._before_commit.setdefault(key, action)

    def hold(self, kind: str, key: Any, row: Any) -> None:
        """Keep a row this transaction holds as it left it: read with its lock, or
        written (``kind`` says what it is, e.g. ``"order"``, ``key`` which one).  Later
        steps of the same transaction (an effect, an in-transaction event handler, the
        response) take it from :meth:`held` instead of reading it again."""
        self.outer._held[(kind, key)] = row

    def held(self, kind: str, key: Any) -> Any:
        """A row :meth:`hold` kept, or None."""
        return self.outer._held.get((kind, key))

    def mark(self) -> tuple[int, int, dict[str, list[Any]], dict[tuple[str, Any], Any]]:
        """What this unit of work has recorded so far, for :meth:`cut_back` when the
        savepoint opened now is rolled back."""
        return (
            len(self.events),
            len(self.nested),
            {k: list(v) for k, v in self.outer.pending.items()},
            dict(self.outer._held),
        )

    def cut_back(self, mark: tuple[int, int, dict[str, list[Any]], dict[tuple[str, Any], Any]]) -> None:
        """Back to ``mark``: the savepoint's statements were rolled back.  Events recorded
        since are forgotten, and pending work and held rows are as they were (also what
        was done and taken off the lists inside the savepoint: it was rolled back with
        it)."""
        events, nested, pending, held = mark
        del self.events[events:], self.nested[nested:]
        for key, items in self.outer.pending.items():
            items[:] = pending.get(key, [])
        self.outer._held = held


#: the outermost unit of work of the current task, while one is open
_outermost: ContextVar[UnitOfWork | None] = ContextVar("agorakit_outermost_unit_of_work", default=None)


def current_unit_of_work() -> UnitOfWork | None:
    """The unit of work the current task runs in (its outermost one), or None: for code
    called inside it without being given it (a hook implementation, a notice) that
    wants the rows it holds (:meth:`UnitOfWork.held`)."""
    return _outermost.get()


class Runtime:
    # What the areas build from the plugins on first use and keep for this runtime
    # (declared for type checkers; absent until first use, None after a reset).
    _attachment_storages: dict[str, Storage] | None
    _attachment_storages_bound: set[str]
    _listing_kinds: dict[str, ListingKind] | None
    _unlisted_kinds: tuple[str, ...] | None
    _qualified_kinds: tuple[str, ...] | None
    _banned_words: re.Pattern[str] | None
    # (Any: the modules that set these are read both as themselves and through the package)
    _notifications_mailer: Any  # Mailer
    _notifications_renderer: Any  # Renderer
    _orders_registry: Any  # Registry

    def __init__(
        self,
        settings: Settings,
        *,
        pm: pluggy.PluginManager | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.pm = pm or get_plugin_manager(settings.site.plugins, source=settings.source)
        #: the real time (heartbeats, process liveness): the system clock unless given one
        self.wall_clock: Clock = clock or SystemClock()
        #: the site's time: the wall clock, or a test clock over it that the test clock's
        #: area puts here at start-up (``[dev] test_clock``)
        self.clock: Clock = self.wall_clock
        #: how hooks are called (see :class:`agorakit.hooks.Hooks`)
        self.hooks = Hooks(self.pm)
        self.db = Database(settings.database, source=settings.source)
        #: the registered domain event classes (``agorakit_event_types``)
        self.event_types = EventTypes(self.hooks.collect_sync("agorakit_event_types"))
        self.apps = sort_apps(self.hooks.collect_sync("agorakit_tables"))
        self.db.bind(self.apps)
        #: the bound payment and payout methods by name (money binds them at start-up)
        self.payment_methods: dict[str, PaymentMethod] = {}
        self.payout_methods: dict[str, PayoutMethod] = {}
        # each area binds and checks what it needs (methods, storage, mailer, processes):
        # a wrong config stops start-up here, not the first request that needs it (every
        # area's problems at once)
        self.hooks.check_sync("agorakit_startup", runtime=self)
        #: delivers committed events; in the background only while the app is served
        self.dispatcher = EventDispatcher(self._site, max_pending=settings.events.max_pending)
        #: when a worker sweep of this process last checked the orders' escrows
        self.escrow_checked_at: Any = None
        #: this process's row in the process registry, while it is registered
        self.process: ProcessRegistration | None = None
        #: the names of the loops (``agorakit_worker_loops``) a long-running worker of this
        #: process runs beside its sweep; empty in any other process
        self.worker_loops: frozenset[str] = frozenset()

    async def refresh_clock(self) -> None:
        """Read the site's time where it is kept (a test clock's shared state; per request,
        per sweep, per command); nothing for the system clock."""
        refresh = getattr(self.clock, "refresh", None)
        if refresh is not None:
            await refresh()

    @property
    def _site(self) -> public.Runtime:
        """This runtime as the other modules name its class, ``agorakit.runtime.Runtime``
        (a type checker reads this file both as itself and through the package)."""
        return cast("public.Runtime", self)

    @property
    def process_id(self) -> int | None:
        """The registry id stored events carry (None: not registered, e.g. the tests'
        in-process client and one-off commands; their events wait the full 30 s)."""
        return self.process.id if self.process is not None else None

    async def start_process(self, kind: str = "app") -> None:
        """Register this process (app, worker, tick) and keep its heartbeat going, so the
        worker republishes at once what it leaves pending if it dies."""
        if self.process is None:
            self.process = ProcessRegistration(self._site, kind)
            await self.process.start()

    async def stop_process(self) -> None:
        """Deregister (a clean stop): what is still pending is the worker's at once."""
        if self.process is not None:
            process, self.process = self.process, None
            await process.stop()

    async def start_background_delivery(self) -> None:
        """Deliver committed events from a background task (``[events] delivery``)."""
        if self.settings.events.delivery == "background":
            await self.dispatcher.start()

    async def stop_background_delivery(self) -> None:
        await self.dispatcher.stop()

    @property
    def currencies(self) -> list[str]:
        """Currencies the site accepts: its own first, then ``[money] currencies``."""
        site = self.settings.site.currency
        return [site, *(c for c in self.settings.money.currencies if c != site)]

    def plugin_settings(self, name: str) -> Any:
        """The validated settings Struct of an enabled plugin."""
        return self.settings.plugin(name)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        """Run a block in one transaction; publish its events after it commits.

        An exception inside the block rolls everything back and publishes nothing.  Once
        the block is done, the events are stored and handed to the handlers that run in
        the transaction (:func:`agorakit.events.event_handler`), whose rows commit with
        the change; the handlers that run after the commit get them right away, or from
        the background dispatcher while the app is served with ``[events] delivery =
        "background"``.  A unit of work opened inside another one joins its transaction,
        so its events are handled and delivered with the outermost one's, not before.
        """
        outer = _outermost.get()
        uow = UnitOfWork(self, outer)
        token = _outermost.set(uow if outer is None else outer)
        pending: list[DomainEvent] = []
        handled: Handled = set()
        try:
            async with self.db.transaction():
                yield uow
                if outer is None:
                    pending, handled = await self._publish_in_transaction(uow)
                    for action in list(uow._before_commit.values()):
                        await action()
                    # (what a before-commit action records is left to the handlers after the commit)
                    pending += await store(uow.nested + uow.events, self.process_id)
        finally:
            _outermost.reset(token)
        if outer is not None:
            outer.nested.extend(uow.events)  # stored by the outermost, ahead of its own
            return
        await self.dispatcher.submit(pending, skip=handled)

    async def _publish_in_transaction(self, uow: UnitOfWork) -> tuple[list[DomainEvent], Handled]:
        """Store the unit of work's events and hand them to the handlers that run in its
        transaction (again for what those handlers record, a few rounds at most); the
        events left to deliver after the commit, and what was delivered already.

        An event that no handler takes after the commit is stored published; one whose
        handler failed here is pending again, for the handlers after the commit."""
        pending: list[DomainEvent] = []
        handled: Handled = set()
        inside = self.settings.events.in_transaction
        for _ in range(IN_TRANSACTION_ROUNDS):
            events = uow.nested + uow.events
            if not events:
                break
            uow.nested, uow.events = [], []
            after = taken_after_commit(self._site, events, everyone=not inside)
            stored = await store(events, self.process_id, published=[not a for a in after], at=uow.now)
            if not inside:  # every handler after the commit
                pending += [e for e, a in zip(stored, after, strict=True) if a]
                continue
            errors, done = await deliver_in_transaction(
                self._site, stored, isolate=lambda: self._handler_savepoint(uow)
            )
            handled |= done
            failed = [
                e.id for e, problems, a in zip(stored, errors, after, strict=True) if problems and not a
            ]
            await mark_pending([event_id for event_id in failed if event_id is not None])
            pending += [e for e, problems, a in zip(stored, errors, after, strict=True) if problems or a]
        return pending, handled

    @asynccontextmanager
    async def _handler_savepoint(self, uow: UnitOfWork) -> AsyncIterator[None]:
        """A savepoint for one handler call in ``uow``'s transaction: rolled back, with
        what the handler recorded and held in ``uow``, when the handler raises."""
        mark = uow.mark()
        try:
            async with self.db.savepoint():
                yield
        except BaseException:
            uow.cut_back(mark)
            raise


#: rounds of in-transaction delivery for events the handlers themselves record
IN_TRANSACTION_ROUNDS = 4


# --------------------------------------------------------------------------------------
# Commands: a runtime for one ``agorakit`` CLI command (plugins' commands use these)
# --------------------------------------------------------------------------------------

T = TypeVar("T")
DEFAULT_CONFIG = "site.toml"


class CliState:
    """The site config an ``agorakit`` command runs with, loaded once on first use."""

    def __init__(self, config_path: str) -> None:
        self.config_path = config_path
        self._settings: Settings | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_path)
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
        return self._settings


def cli_state(ctx: click.Context) -> CliState:
    """The ``agorakit`` command's site config (``--config``, else ``$AGORAKIT_CONFIG``)."""
    return ctx.find_object(CliState) or CliState(os.environ.get("AGORAKIT_CONFIG", DEFAULT_CONFIG))


def run_with_runtime(ctx: click.Context, work: Callable[[Any], Awaitable[T]], *, site_time: bool = True) -> T:
    """Build the runtime from the site config and run ``work(runtime)`` with the DB open.

    On a site with a test clock the runtime first reads the site's time (``site_time``;
    not for the commands that build the database)."""
    runtime = Runtime(cli_state(ctx).settings())

    async def main() -> T:
        await runtime.db.start()
        try:
            if site_time:
                await runtime.refresh_clock()
            return await work(runtime)
        finally:
            await runtime.db.close()

    return asyncio.run(main())


@contextlib.contextmanager
def fail_on_domain_error() -> Iterator[None]:
    """Turn a domain error into a one-line CLI error (exit status 1)."""
    try:
        yield
    except AgorakitError as exc:
        lines = [exc.detail] + [
            f"  {e.field}: {e.message}" for e in exc.errors if e.message not in exc.detail
        ]
        raise click.ClickException("\n".join(lines)) from None


def runtime_of(scope: Any) -> Runtime:
    """The runtime of the app serving an ASGI ``scope``.

    Route handlers receive the runtime as a dependency; ASGI middleware a plugin adds to
    its routes (sessions, CSRF) gets no dependencies, and reads it here, once, to build
    what it needs from the site's settings.
    """
    return scope["litestar_app"].state["runtime"]
