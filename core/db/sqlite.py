"""The embedded SQLite engine, made fit for a web app's concurrency.

Piccolo's ``SQLiteEngine`` opens a new connection (and a new thread, through aiosqlite)
for every query outside a transaction and sets its pragmas before every query, and
concurrent write transactions each take their own connection and spin on SQLite's file
lock.  Measured on a 2-core machine, that gave one 20-row read ~1.4 ms against ~0.1 ms
through stdlib ``sqlite3``, and write transactions at 8-32 concurrent clients a p99 of
seconds (lock waits, then ``database is locked``).  Even one persistent aiosqlite
connection costs 2.5-3x stdlib ``sqlite3`` per statement: every call is a hop to its
thread and back (three for ``execute``, ``fetchall`` and closing the cursor).

:class:`SiteSQLiteEngine` keeps Piccolo's query building and changes how statements are
run, per event loop:

- **statements run on the event loop's thread**, through stdlib ``sqlite3``: most take
  tens of microseconds, far less than a hop to a thread.  A ``SELECT`` gets a budget of
  :data:`LOOP_STEPS` virtual-machine steps (about 1-2 ms); one that outgrows it is
  interrupted (a progress handler) and run again in a thread, so a long search never
  stalls the loop.  Nothing on the loop waits for another process: ``BEGIN IMMEDIATE``
  is tried there without a busy timeout and, while another process holds the file's
  write lock, tried again after ``asyncio.sleep`` pauses.  ``COMMIT``, and a statement
  that changes data outside a transaction, run there while fsync is fast, in the
  writer's thread on a slow disk (see :class:`_Writer`).  (A
  hop to a thread costs more than the GIL's switch interval, 5 ms, while the loop is
  busy: with ``BEGIN`` and ``COMMIT`` in the thread, the order flow fell from 36 flows/s
  at one client to 26 at 8-32, each write transaction holding the lock ~10 ms longer);
- **one writer connection**, and a lock in front of it: write transactions (every unit
  of work) and statements that change data queue in the process instead of fighting
  over the file lock; the lock is held from ``BEGIN IMMEDIATE`` to ``COMMIT``, which
  almost never yields to the loop, and a newcomer takes a free lock at once
  (:class:`_WriteLock`);
- **group commit** (``[database] sqlite_group_commit``, on by default): the units of
  work that finish in the same turn of the event loop share one ``COMMIT``, so one disk
  sync.  The writer keeps one transaction open across them, each unit a savepoint in
  it; a unit that fails rolls back to its savepoint, leaving the others' changes; each
  unit waits for the group's ``COMMIT`` before it returns, so nothing is answered (or
  published) before it is on disk, and if that ``COMMIT`` fails every unit in the group
  fails with it.  A statement that changes rows outside a transaction is a unit of its
  own; other writes there (DDL, pragmas) commit the waiting group first.  At 32 clients
  on the order flow about six units share a commit; the syncs were a fifth of the event
  loop's time;
- **readers**: one connection for the reads run on the loop (a read there never yields,
  so one is enough), and ``[database] sqlite_read_connections`` more for the reads moved
  to threads.  In WAL mode readers never wait for the writer;
- pragmas set once per connection: ``journal_mode = WAL``, ``foreign_keys = ON``,
  ``busy_timeout`` (``[database] sqlite_timeout_seconds``, for other processes sharing
  the file) and ``synchronous`` (``[database] sqlite_synchronous``).

Several app processes on one SQLite file still work (the busy timeout and the retried
``BEGIN`` arbitrate between them), but only one process writes at a time: that is when
to move to PostgreSQL.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory

log = logging.getLogger("agorakit.db")

#: Virtual-machine steps a ``SELECT`` may take on the event loop's thread before it is
#: interrupted and run again in a thread.  Measured here: 25-40 million steps a second,
#: so about 1-2 ms; a page of listings takes a few thousand.
LOOP_STEPS = 50_000

#: How often (VM steps) the progress handler counts a read's steps.  SQLite calls it when
#: a statement's step counter, which a cached statement keeps from run to run, crosses a
#: multiple of this; so it counts, and only a read that really took ``LOOP_STEPS`` in
#: this run is interrupted.
_STEPS_PER_CHECK = 1_000

#: A ``COMMIT`` (and a write outside a transaction) runs on the event loop's thread while
#: commits take less than this on average (seconds); on a slower disk it runs in the
#: writer's thread.  An SSD's fsync takes 0.2-2 ms here; in the thread, the write lock is
#: held across a hop to it, which made other writers queue (see :class:`_WriteLock`).
COMMIT_ON_LOOP_SECONDS = 0.005

#: Pauses (seconds) between attempts to begin a write transaction while another process
#: holds the file's write lock: SQLite's own busy handler's schedule.
_BUSY_DELAYS = (0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.025, 0.025, 0.025, 0.05, 0.05, 0.1)


def _timestamptz_out(value: bytes) -> datetime:
    return datetime.fromisoformat(value.decode()).replace(tzinfo=UTC)


def _use_lean_converters() -> None:
    """Replace three of the converters Piccolo registers (process-wide) for SQLite's
    declared types with cheaper ones giving the same values.

    Piccolo's go through a Python wrapper that decodes bytes, and its ``INTEGER`` one
    turns every integer SQLite already returns as ``int`` into text and back through
    ``Decimal``: measured, 250 such calls and ~0.6 ms of a 20-listing page.  Without it,
    an INTEGER column's integers come back as they are (only a non-integral value that
    SQLite's type affinity could not store as an integer would come back as it is stored,
    where Piccolo would truncate it; agorakit stores integers only).
    """
    sqlite3.converters.pop("INTEGER", None)
    sqlite3.register_converter("BOOLEAN", b"1".__eq__)  # Piccolo: value == "1", after decoding
    sqlite3.register_converter("TIMESTAMPTZ", _timestamptz_out)


_use_lean_converters()


class _Connection:
    """A stdlib ``sqlite3`` connection, used from the event loop and its own thread.

    ``await execute(sql, args)`` is all Piccolo's transactions and savepoints need.  The
    two sides never run at once: the writer is used under the write lock, a reader by
    one read at a time.
    """

    def __init__(self, raw: sqlite3.Connection, name: str) -> None:
        self.raw = raw
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"agorakit-sqlite-{name}")
        self.checks = 0
        #: reads that outgrew the loop's budget and were run again in the thread
        self.moved = 0

    def _progress(self) -> int:
        self.checks += 1
        return self.checks > LOOP_STEPS // _STEPS_PER_CHECK  # non-zero interrupts the statement

    def fetch(self, sql: str, args: Any) -> list[dict]:
        cursor = self.raw.execute(sql, args)
        try:
            rows = cursor.fetchall()
            if not rows:
                return rows
            # dicts as Piccolo's dict_factory makes them, the names looked up once
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in rows]
        finally:
            cursor.close()

    async def in_thread(self, sql: str, args: Any = ()) -> list[dict]:
        return await asyncio.get_running_loop().run_in_executor(self.thread, self.fetch, sql, args)

    def on_loop_within_budget(self, sql: str, args: Any) -> list[dict] | None:
        """Run a ``SELECT`` here, on the loop's thread; None if it outgrew the budget.

        The progress handler is there only meanwhile: in a thread it would take the GIL
        back every few thousand steps, waiting up to the switch interval each time.
        """
        self.checks = 0
        self.raw.set_progress_handler(self._progress, _STEPS_PER_CHECK)
        try:
            return self.fetch(sql, args)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_INTERRUPT:
                raise
        finally:
            self.raw.set_progress_handler(None, 0)
        self.moved += 1
        log.debug("a read outgrew the loop's budget, run again in a thread: %s", sql)
        return None

    async def read(self, sql: str, args: Any = ()) -> list[dict]:
        """A ``SELECT``: on the loop within the budget, else again in the thread."""
        rows = self.on_loop_within_budget(sql, args)
        return rows if rows is not None else await self.in_thread(sql, args)

    async def execute(self, sql: str, args: Any = ()) -> list[dict]:
        """A statement inside a transaction: no lock to wait for, the transaction has it."""
        if _is_read(sql):
            return await self.read(sql, args)
        return self.fetch(sql, args)

    def close(self) -> None:
        self.thread.shutdown(wait=True)
        self.raw.close()


class _Writer(_Connection):
    """The one connection that writes: transactions' ``BEGIN``, ``COMMIT``, and writes
    outside a transaction, without blocking the event loop on another process's lock.

    Its ``busy_timeout`` is 0, so ``BEGIN IMMEDIATE`` on the loop fails at once when
    another process (a worker, the CLI) holds the file's write lock; it is then retried
    after a pause, as SQLite's own busy handler does, but with ``asyncio.sleep`` — until
    ``timeout`` seconds have passed, then ``database is locked``.  ``COMMIT`` and writes
    outside a transaction run on the loop while commits are fast (their fsync, with
    ``synchronous = FULL``, takes about 0.2-2 ms on an SSD) and in the thread when they
    average more than :data:`COMMIT_ON_LOOP_SECONDS` (a slow disk).
    """

    def __init__(self, raw: sqlite3.Connection, name: str, timeout: float) -> None:
        super().__init__(raw, name)
        self.timeout = timeout
        raw.execute("PRAGMA busy_timeout = 0").close()
        #: a moving average of how long a COMMIT takes (seconds)
        self.commit_seconds = 0.0
        self.commits = 0

    async def execute(self, sql: str, args: Any = ()) -> list[dict]:
        head = sql.lstrip()[:6].upper()
        if head.startswith("BEGIN"):
            return await self._when_unlocked(sql, args)
        if head.startswith(("COMMIT", "END")):
            return await self._commit(sql, args)
        return await super().execute(sql, args)

    async def _when_unlocked(self, sql: str, args: Any) -> list[dict]:
        waited, delays = 0.0, iter(_BUSY_DELAYS)
        while True:
            try:
                return self.fetch(sql, args)
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or waited >= self.timeout:
                    raise
            delay = min(next(delays, _BUSY_DELAYS[-1]), self.timeout - waited)
            await asyncio.sleep(delay)
            waited += delay

    async def _commit(self, sql: str, args: Any) -> list[dict]:
        self.commits += 1
        if self.commit_seconds > COMMIT_ON_LOOP_SECONDS and self.commits % 100:
            return await self.in_thread(sql, args)  # every 100th is timed on the loop again
        started = time.perf_counter()
        try:
            return self.fetch(sql, args)
        finally:
            self.commit_seconds = 0.8 * self.commit_seconds + 0.2 * (time.perf_counter() - started)

    async def write(self, sql: str, args: Any) -> list[dict]:
        """A statement that may write, outside a transaction (it commits by itself): on the
        loop, as a transaction's ``BEGIN`` (retried while another process writes) and
        ``COMMIT`` are, so that the write lock is not held across a hop to a thread; in the
        writer's thread while commits are slow."""
        self.commits += 1
        if self.commit_seconds > COMMIT_ON_LOOP_SECONDS and self.commits % 100:
            return await asyncio.get_running_loop().run_in_executor(
                self.thread, self._write_waiting, sql, args
            )
        started = time.perf_counter()
        try:
            return await self._when_unlocked(sql, args)
        finally:
            self.commit_seconds = 0.8 * self.commit_seconds + 0.2 * (time.perf_counter() - started)

    def _write_waiting(self, sql: str, args: Any) -> list[dict]:
        self.raw.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}").close()
        try:
            return self.fetch(sql, args)
        finally:
            self.raw.execute("PRAGMA busy_timeout = 0").close()


class _WriteLock:
    """The process's write lock: a free lock is taken at once, even with others waiting.

    ``asyncio.Lock`` is strictly fair: on release it wakes its first waiter, which takes
    the lock only when the loop next runs it, and until then every newcomer queues as
    well.  Almost every write transaction runs from ``BEGIN`` to ``COMMIT`` without
    yielding, so it never meets the lock held; but once one did yield while holding it (a
    ``COMMIT`` run in the writer's thread on a slow fsync, say), the queue that formed
    behind it never drained: each transaction then waited a whole loop iteration (every
    other request's work) for its turn.  Measured at 32 clients on the order flow:
    writers waited 57 ms at p50 and 120 ms at p99 for a lock held 0.8 ms.

    Here a newcomer takes a free lock, and a woken waiter takes it if it is still free.
    One that finds it taken again waits at the head of the queue, and the next release
    hands the lock to it directly: no waiter is passed over twice.
    """

    def __init__(self) -> None:
        self._locked = False
        #: (future, whether the release hands it the lock) in turn order
        self._waiters: collections.deque[tuple[asyncio.Future[bool], bool]] = collections.deque()

    def locked(self) -> bool:
        return self._locked

    async def acquire(self) -> bool:
        if not self._locked:
            self._locked = True
            return True
        loop = asyncio.get_running_loop()
        entry: tuple[asyncio.Future[bool], bool] = (loop.create_future(), False)
        self._waiters.append(entry)
        while True:
            try:
                owned = await entry[0]
            except asyncio.CancelledError:
                self._leave(entry)
                raise
            if owned:
                return True  # handed over: _locked stayed True for it
            if not self._locked:
                self._locked = True
                return True
            entry = (loop.create_future(), True)  # passed over once: next in line, for sure
            self._waiters.appendleft(entry)

    def _leave(self, entry: tuple[asyncio.Future[bool], bool]) -> None:
        """A cancelled waiter: out of the queue, and what it was given passed on."""
        future = entry[0]
        with contextlib.suppress(ValueError):
            self._waiters.remove(entry)
        if future.done() and not future.cancelled():
            if future.result():
                self.release()  # it had been handed the lock
            else:
                self._wake()

    def release(self) -> None:
        if not self._locked:
            raise RuntimeError("the write lock is not held")
        while self._waiters and self._waiters[0][0].done():
            self._waiters.popleft()  # cancelled ones
        if self._waiters and self._waiters[0][1]:
            future, _ = self._waiters.popleft()
            future.set_result(True)  # stays locked: it is this waiter's now
            return
        self._locked = False
        self._wake()

    def _wake(self) -> None:
        for future, _ in self._waiters:
            if not future.done():
                self._waiters.remove((future, _))
                future.set_result(False)
                return

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self.release()


class _GroupLost(sqlite3.OperationalError):
    """The ``COMMIT`` of a unit of work's group failed: its changes are not saved."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"the transaction was not committed: {cause}")
        self.__cause__ = cause


class _Connections:
    """The connections and the writer lock of one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.writer: _Writer | None = None
        self.write_lock = _WriteLock()
        #: the reads that fit the loop's budget: one connection, a read there never yields
        self.loop_reader: _Connection | None = None
        #: free connections for the reads moved to threads, handed out first come, first
        #: served: a Semaphore queues waiters fairly, where an asyncio.Queue lets a newcomer
        #: take a connection a woken waiter was about to get
        self.readers: collections.deque[_Connection] = collections.deque()
        self.free_readers = asyncio.Semaphore(0)
        self.all: list[_Connection] = []
        #: group commit: whether the writer has a transaction open holding units of work
        #: that are done but not yet committed, and their waiters
        self.group_open = False
        self.group: list[asyncio.Future[None]] = []
        self.committer: asyncio.Task[None] | None = None

    def join_group(self) -> asyncio.Future[None]:
        """A unit of work done on the open transaction: a future that the group's
        ``COMMIT`` resolves (or fails); the first one schedules the committer."""
        waiter = self.loop.create_future()
        self.group.append(waiter)
        if self.committer is None:
            # A task's first step runs on the loop's next iteration: every unit of work
            # that finishes in this one joins the group first.
            self.committer = self.loop.create_task(self._commit_group())
        return waiter

    async def _commit_group(self) -> None:
        async with self.write_lock:
            if self.committer is asyncio.current_task():  # else a write committed the group
                await self.commit_group()

    async def commit_group(self) -> None:
        """``COMMIT`` the open transaction and resolve its units' waiters (under the lock)."""
        waiters, self.group, self.committer = self.group, [], None
        assert self.writer is not None
        error: BaseException | None = None
        if self.group_open:
            self.group_open = False
            try:
                if not self.writer.raw.in_transaction:
                    raise sqlite3.OperationalError("SQLite rolled the transaction back")
                await self.writer.execute("COMMIT")
            except Exception as exc:
                error = exc
                if self.writer.raw.in_transaction:
                    with contextlib.suppress(Exception):
                        self.writer.fetch("ROLLBACK", ())
        for waiter in waiters:
            if waiter.done():
                continue
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(_GroupLost(error))

    def lose_group(self, error: BaseException) -> None:
        """SQLite rolled the open transaction back (an I/O error, a full disk): the units
        of work waiting for its ``COMMIT`` fail with it."""
        self.group_open = False
        waiters, self.group = self.group, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(_GroupLost(error))


class SiteSQLiteEngine(SQLiteEngine):
    """SQLite with one queued writer and persistent readers (see the module docstring)."""

    def __init__(
        self,
        path: str,
        *,
        timeout: float,
        read_connections: int = 4,
        synchronous: str = "full",
        group_commit: bool = True,
    ) -> None:
        super().__init__(path=path, timeout=timeout)
        self.timeout = timeout
        self.group_commit = group_commit
        self.read_connections = read_connections
        self.pragmas = (
            "PRAGMA journal_mode = WAL",
            "PRAGMA foreign_keys = ON",
            f"PRAGMA busy_timeout = {int(timeout * 1000)}",
            f"PRAGMA synchronous = {synchronous.upper()}",
        )
        self._connections: _Connections | None = None
        self._opening: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    # ----------------------------------------------------------------------------------
    # Lifecycle
    # ----------------------------------------------------------------------------------

    def _raw_connection(self) -> sqlite3.Connection:
        raw = sqlite3.connect(**self.connection_kwargs, check_same_thread=False)
        for pragma in self.pragmas:
            raw.execute(pragma).close()
        return raw

    async def _connect(self, name: str) -> _Connection:
        # In a thread: switching to WAL may wait for another process's lock.
        raw = await asyncio.to_thread(self._raw_connection)
        return _Writer(raw, name, self.timeout) if name == "writer" else _Connection(raw, name)

    async def get_connection(self) -> Any:
        """A new aiosqlite connection with the site's pragmas (for Piccolo's ``batch``)."""
        import aiosqlite

        connection = await aiosqlite.connect(**self.connection_kwargs)
        connection.row_factory = dict_factory  # type: ignore[assignment]
        for pragma in self.pragmas:
            await connection.execute(pragma)
        return connection

    async def _pool(self) -> _Connections:
        loop = asyncio.get_running_loop()
        current = self._connections
        if current is not None and current.loop is loop:
            return current
        if self._opening is None or self._opening[0] is not loop:
            self._opening = (loop, asyncio.Lock())
        async with self._opening[1]:
            current = self._connections
            if current is not None and current.loop is loop:
                return current
            if current is not None:
                await self._close(current)
            fresh = _Connections(loop)
            fresh.writer = await self._connect("writer")  # type: ignore[assignment]
            fresh.loop_reader = await self._connect("reader")
            fresh.all += [fresh.writer, fresh.loop_reader]
            for index in range(self.read_connections):
                reader = await self._connect(f"reader-{index + 1}")
                fresh.all.append(reader)
                fresh.readers.append(reader)
                fresh.free_readers.release()
            self._connections = fresh
            return fresh

    async def open(self) -> None:
        """Open the connections now (they are otherwise opened on first use)."""
        await self._pool()

    async def close(self) -> None:
        current, self._connections = self._connections, None
        if current is not None:
            await self._close(current)

    @staticmethod
    async def _close(pool: _Connections) -> None:
        if pool.group_open and pool.loop is asyncio.get_running_loop():
            async with pool.write_lock:
                await pool.commit_group()
        for connection in pool.all:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(connection.close)

    @property
    def moved_reads(self) -> int:
        """Reads (on this loop's connections) that outgrew the loop's budget."""
        pool = self._connections
        return sum(c.moved for c in pool.all) if pool is not None else 0

    # ----------------------------------------------------------------------------------
    # Queries outside a transaction
    # ----------------------------------------------------------------------------------

    async def _run_in_new_connection(
        self,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: Any = None,
    ):
        pool = await self._pool()
        args = args or []
        if query_type == "select" or _is_read(query):
            assert pool.loop_reader is not None
            rows = pool.loop_reader.on_loop_within_budget(query, args)
            if rows is not None:
                return rows
            async with pool.free_readers:  # a long read: on a reader of its own, in its thread
                connection = pool.readers.popleft()
                try:
                    return await connection.in_thread(query, args)
                finally:
                    pool.readers.append(connection)
        if self.group_commit and _is_dml(query):
            # A change on its own: a unit of work of one statement, joining the group's commit.
            async with self.transaction(TransactionType.immediate):
                assert pool.writer is not None
                return await pool.writer.execute(query, args)
        async with pool.write_lock:  # anything else that may write queues behind the writer
            assert pool.writer is not None
            if pool.group_open:
                await pool.commit_group()  # this statement commits by itself, after them
            return await pool.writer.write(query, args)

    async def _run_in_existing_connection(
        self,
        connection: Any,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: Any = None,
    ):
        return await connection.execute(query, args or ())

    # ----------------------------------------------------------------------------------
    # Transactions
    # ----------------------------------------------------------------------------------

    def transaction(
        self, transaction_type: TransactionType = TransactionType.deferred, allow_nested: bool = True
    ) -> SQLiteTransaction:
        return _QueuedTransaction(engine=self, transaction_type=transaction_type, allow_nested=allow_nested)


def _is_read(sql: str) -> bool:
    """A plain ``SELECT`` (Piccolo marks its selects ``generic``, like any other statement,
    so the SQL says what it is): it goes to a reader connection, never waiting for the
    writer.  Anything else — DML, DDL, pragmas, ``WITH ...`` — queues for the writer."""
    return sql.lstrip()[:7].upper() == "SELECT "


def _is_dml(sql: str) -> bool:
    """A statement that changes rows (and can run inside a transaction)."""
    return sql.lstrip()[:7].upper().startswith(("INSERT ", "UPDATE ", "DELETE ", "REPLACE"))


class _QueuedTransaction(SQLiteTransaction):
    """A unit of work on the writer connection, holding the process's write lock throughout.

    With group commit (the default) the unit is a savepoint in a transaction that stays
    open across units: the first unit begins it, each unit releases its savepoint (or
    rolls back to it) and waits for the group's ``COMMIT``, which runs once the units of
    the loop's current iteration are done.  Without it, the unit is a transaction of its
    own (``BEGIN IMMEDIATE`` ... ``COMMIT``).
    """

    engine: SiteSQLiteEngine
    #: the pool's writer, from entering the transaction on
    connection: _Writer  # pyright: ignore[reportIncompatibleVariableOverride]  # never None once entered

    _UNIT = "agorakit_unit"

    async def __aenter__(self) -> SQLiteTransaction:
        if self._parent is not None:
            return self._parent
        pool = await self.engine._pool()
        await pool.write_lock.acquire()
        try:
            assert pool.writer is not None  # an open pool has its writer
            self.connection = pool.writer
            self._lock = pool.write_lock
            self._group = pool if self.engine.group_commit else None
            if self._group is None:
                await self.begin()
            else:
                if not pool.group_open:
                    await self.begin()
                    pool.group_open = True
                await self.connection.execute(f"SAVEPOINT {self._UNIT}")
        except BaseException:
            if pool.group_open and not pool.group:
                pool.group_open = False
                with contextlib.suppress(Exception):
                    pool.writer.fetch("ROLLBACK", ())  # type: ignore[union-attr]
            pool.write_lock.release()
            raise
        self.context = self.engine.current_transaction.set(self)
        return self

    async def commit(self) -> None:
        if self._group is None:
            await super().commit()
            return
        await self.connection.execute(f"RELEASE {self._UNIT}")
        self._committed = True

    async def rollback(self) -> None:
        if self._group is None:
            await super().rollback()
            return
        await self.connection.execute(f"ROLLBACK TO {self._UNIT}")
        await self.connection.execute(f"RELEASE {self._UNIT}")
        self._rolled_back = True

    async def __aexit__(self, exception_type, exception, traceback) -> bool:
        if self._parent:
            return exception is None
        group, waiter = self._group, None
        try:
            if exception:
                if not self._rolled_back:
                    await self._undo()
            elif not self._committed and not self._rolled_back:
                try:
                    await self.commit()
                except BaseException:
                    await self._undo()
                    raise
            if group is not None and self._committed:
                waiter = group.join_group()
        finally:
            self.engine.current_transaction.reset(self.context)
            self._lock.release()
        if waiter is not None:
            # Shielded: a cancelled request does not cancel the commit its changes join.
            await asyncio.shield(waiter)
        return exception is None

    async def _undo(self) -> None:
        """Roll the unit back, leaving the shared connection clean for the next one."""
        if self._group is None:
            with contextlib.suppress(Exception):
                await self.connection.execute("ROLLBACK")
            self._rolled_back = True
            return
        try:
            await self.rollback()
            if not self._group.group:
                # No unit waits for this transaction's COMMIT: it holds nothing, end it
                # rather than keep the file's write lock until the next unit.
                self._group.group_open = False
                await self.connection.execute("ROLLBACK")
        except Exception as exc:
            # SQLite rolled the whole transaction back (an I/O error, say): the units
            # released into it and waiting for its COMMIT are lost with it.
            if self.connection.raw.in_transaction:
                with contextlib.suppress(Exception):
                    self.connection.fetch("ROLLBACK", ())
            self._group.lose_group(exc)
            self._rolled_back = True
