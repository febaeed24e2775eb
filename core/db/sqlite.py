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
  :data:`~agorakit.db.sqlite_connections.LOOP_STEPS` virtual-machine steps (about 1-2 ms); one that outgrows it is
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
import contextlib
import logging
import sqlite3
from typing import Any

from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory

from agorakit.db.sqlite_connections import (
    _Connection,
    _Connections,
    _is_dml,
    _is_read,
    _WriteLock,  # noqa: F401 (the write lock is part of this engine; tests take it from here)
    _Writer,
)

log = logging.getLogger("agorakit.db")


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
