"""The database: engine from the site config, table binding, transactions.

SQLite (a file; the embedded default) or PostgreSQL (by DSN; production and several
app processes).  Piccolo tables find their engine through ``Table._meta.db``;
:meth:`Database.bind` points every registered table at this site's engine, so one
process serves one database at a time.

With ``[database] read_url`` (PostgreSQL), the public reads of a request marked for it
go to a read replica (:mod:`agorakit.db.replica`).

The names in ``__all__`` are public (plugins may use ``is_unique_violation``, ``for_update``,
``is_lock_conflict``, ``read_from_primary`` and ``Table``, the base of their tables); the modules of this package (``prepared``, ``sqlite``, ``migrate``,
...) are the core's internals.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import urlsplit

from piccolo.apps.migrations.tables import Migration
from piccolo.engine.base import Engine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.table import TABLE_REGISTRY

from agorakit.db import piccolo_conf
from agorakit.db.replica import ReplicaPostgresEngine, read_from_primary
from agorakit.db.sqlite import SiteSQLiteEngine
from agorakit.db.table import Table
from agorakit.settings import ConfigError, DatabaseSection

if TYPE_CHECKING:  # pragma: no cover
    from piccolo.conf.apps import AppConfig
    from piccolo.engine.postgres import PostgresEngine

__all__ = [
    "LOCK_CONFLICTS",
    "Database",
    "EngineKind",
    "Table",
    "for_update",
    "is_lock_conflict",
    "is_unique_violation",
    "read_from_primary",
]

EngineKind = Literal["sqlite", "postgres"]


class Database:
    """One site's database engine and its lifecycle."""

    def __init__(self, config: DatabaseSection, *, source: str = "site config") -> None:
        self.config = config
        self.url = config.url
        self.kind, self.engine = _make_engine(config, source)

    @property
    def is_postgres(self) -> bool:
        return self.kind == "postgres"

    @property
    def _postgres(self) -> PostgresEngine:
        """The engine as PostgreSQL's; meaningful only where :attr:`is_postgres`."""
        return cast("PostgresEngine", self.engine)

    @property
    def replica(self) -> ReplicaPostgresEngine | None:
        """The engine that routes reads to ``[database] read_url``; None without one."""
        return self.engine if isinstance(self.engine, ReplicaPostgresEngine) else None

    def bind(self, apps: Iterable[AppConfig] = ()) -> None:
        """Make this engine the one every table, and Piccolo's migrations, use."""
        piccolo_conf.DB = self.engine
        os.environ["PICCOLO_CONF"] = piccolo_conf.__name__
        Migration._meta.db = self.engine
        for app in apps:
            for table in app.table_classes:
                table._meta.db = self.engine
        for table in TABLE_REGISTRY:
            table._meta.db = self.engine

    async def start(self) -> None:
        """Open the connection pool (PostgreSQL) or the SQLite connections, and the read
        replica's pool when there is one."""
        if isinstance(self.engine, SiteSQLiteEngine):
            await self.engine.open()
        elif self.is_postgres and self._postgres.pool is None:
            await self._postgres.start_connection_pool(
                min_size=self.config.pool_min_size,
                max_size=self.config.pool_max_size,
                connection_class=_pool_connection_class(),
                server_settings=self._server_settings(),
            )
        if self.replica is not None and self.replica.read_pool is None:
            await self.replica.start_read_pool(
                max_size=self.config.pool_max_size,
                connection_class=_pool_connection_class(),
                server_settings=self._server_settings(),
            )

    def _server_settings(self) -> dict[str, str]:
        # A web request's queries are short: starting parallel workers (new processes)
        # costs more than they save, and a generic plan that guesses thousands of matches
        # for a rare search word starts them every time (measured at 1M listings: 7 ms
        # instead of 0.1 ms; see docs/performance.md).
        return {"max_parallel_workers_per_gather": str(self.config.postgres_parallel_workers)}

    async def close(self) -> None:
        if self.replica is not None:
            await self.replica.close_read_pool()
        if isinstance(self.engine, SiteSQLiteEngine):
            await self.engine.close()
        elif self.is_postgres and self._postgres.pool is not None:
            await self._postgres.close_connection_pool()

    async def ping(self) -> None:
        """Round-trip a trivial query; raises when the database is unreachable."""
        await self.engine.run_ddl("SELECT 1")

    def replica_state(self) -> str | None:
        """The read replica's state: None without one, "ok" while reads go to it, else
        what is wrong (its reads then go to the primary); see
        :meth:`~agorakit.db.replica.ReplicaPostgresEngine.replica_state`."""
        return None if self.replica is None else self.replica.replica_state()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """A read-write transaction; every query inside it joins it.

        On SQLite it starts with ``BEGIN IMMEDIATE`` so that a writer takes the lock at
        the start instead of failing to upgrade a read lock halfway through.
        """
        if isinstance(self.engine, SQLiteEngine):
            tx = self.engine.transaction(transaction_type=TransactionType.immediate)
        else:
            tx = self.engine.transaction()
        try:
            async with tx:
                yield
        except BaseException:
            await self._discard(tx)
            raise

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A savepoint in the current transaction: an exception inside the block undoes
        the block's statements (and only them) and is raised again; the transaction goes on.
        """
        tx = self.engine.current_transaction.get()
        if tx is None:
            raise RuntimeError("a savepoint needs an open transaction")
        point = await tx.savepoint()
        try:
            yield
        except BaseException:
            await point.rollback_to()
            raise
        await point.release()

    async def _discard(self, tx: Any) -> None:
        """Clean up after a transaction whose BEGIN, COMMIT or ROLLBACK raised.

        Piccolo gives the connection back (and forgets the transaction) only when those
        succeed.  A COMMIT can fail, e.g. when PostgreSQL's deferred balanced-ledger
        trigger refuses it; without this the pooled connection would never be released
        (the pool shrinks for good and closing it hangs) and later queries of the same
        task would still run on the dead transaction's connection.
        """
        if isinstance(self.engine, SiteSQLiteEngine):
            return  # its transactions clean up after themselves (a shared writer connection)
        connection = getattr(tx, "connection", None)
        if connection is None:
            return  # a nested transaction, or no connection was made
        context = getattr(tx, "context", None)
        if context is not None:
            if tx.engine.current_transaction.get() is not tx:
                return  # Piccolo's exit ran to the end and cleaned up
            tx.engine.current_transaction.reset(context)
        pool = self._postgres.pool if self.is_postgres else None
        if pool is not None:
            await pool.release(connection)  # asyncpg rolls back what is left
        else:
            await connection.close()


def _make_engine(config: DatabaseSection, source: str) -> tuple[EngineKind, Engine]:
    """The engine of ``[database] url``: SQLite or PostgreSQL (the section refuses other
    schemes and an SQLite URL without a file)."""
    url = config.url
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        path = url.removeprefix("sqlite://").removeprefix("/")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = SiteSQLiteEngine(
            path,
            timeout=config.sqlite_timeout_seconds,
            read_connections=config.sqlite_read_connections,
            synchronous=config.sqlite_synchronous,
            group_commit=config.sqlite_group_commit,
        )
        return "sqlite", engine
    try:
        from piccolo.engine.postgres import PostgresEngine
    except ImportError as exc:  # asyncpg missing
        message = f"{source}: database.url: PostgreSQL needs the 'postgres' extra (pip install 'agorakit[postgres]')"
        raise ConfigError(message) from exc
    if config.read_url:
        return "postgres", ReplicaPostgresEngine(config={"dsn": url}, read_dsn=config.read_url)
    return "postgres", PostgresEngine(config={"dsn": url}, log_queries=False)


def for_update(query: Any) -> Any:
    """``query`` (a piccolo select) locking the rows it reads for the rest of the
    transaction: ``FOR UPDATE`` on PostgreSQL, so concurrent transactions that lock the
    same rows wait for each other; unchanged on SQLite, whose single writer serialises
    writing transactions instead."""
    if query.table._meta.db.engine_type == "postgres":
        return query.lock_rows()
    return query


def is_unique_violation(exc: BaseException) -> bool:
    """True when ``exc`` is a unique-constraint violation on either engine."""
    import sqlite3

    if isinstance(exc, sqlite3.IntegrityError):
        return "UNIQUE" in str(exc)
    try:
        from asyncpg.exceptions import UniqueViolationError
    except ImportError:  # pragma: no cover - no PostgreSQL driver installed
        return False
    return isinstance(exc, UniqueViolationError)


#: PostgreSQL's answers when concurrent transactions got in each other's way: a deadlock,
#: a serialization failure, a lock that could not be taken (lock_timeout / NOWAIT)
LOCK_CONFLICTS = frozenset({"40P01", "40001", "55P03"})


def is_lock_conflict(exc: BaseException) -> bool:
    """True when ``exc`` says this transaction lost to a concurrent one (on PostgreSQL: a
    deadlock or a serialization failure); running the same work again can succeed."""
    return getattr(exc, "sqlstate", None) in LOCK_CONFLICTS


def _pool_connection_class() -> type:
    """asyncpg connections that skip the reset query when they go back to the pool.

    asyncpg resets a released connection with ``SELECT pg_advisory_unlock_all(); CLOSE
    ALL; UNLISTEN *; RESET ALL`` — one more round trip for every query Piccolo runs
    outside a transaction (a page of listings runs 6 to 8).  agorakit sets no session
    state, takes no advisory locks and listens to nothing, so there is nothing to reset;
    an open transaction is still rolled back (asyncpg always does that on release).
    """
    import asyncpg

    class PoolConnection(asyncpg.Connection):
        def get_reset_query(self) -> str:
            return ""

    return PoolConnection
