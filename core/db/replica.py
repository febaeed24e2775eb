"""Read replicas: public reads go to a PostgreSQL standby (``[database] read_url``).

A site with ``read_url`` runs :class:`ReplicaPostgresEngine`: the primary's engine with a
second asyncpg pool on the replica.  A read goes to that pool only when all of these hold:

- the code runs inside :func:`read_routing` with ``replica=True`` (the HTTP layer opens
  one per request for the routes marked ``opt={"read_replica": True}``; outside a
  request, in the worker or a CLI command, nothing is routed);
- it runs outside a transaction (a transaction always runs on the primary);
- the request has written nothing yet: a transaction, or any statement that is not a
  plain ``SELECT``, makes the rest of the request read from the primary, so what it just
  wrote is what it reads; :func:`read_from_primary` does the same without writing;
- the statement is a plain read (:func:`is_read_statement`): ``SELECT`` or ``WITH``, no
  row locks, no data-changing keyword, no sequence or advisory-lock function.

Piccolo's queries and the core's :mod:`prepared` statements alike reach the database
through the engine's ``_run_in_pool`` when no transaction is open; that is the one place
routed here.

When the replica cannot be reached (connecting fails, the connection drops, it restarts)
the read runs on the primary instead, a warning is logged (at most once a minute), and
reads stay on the primary for :data:`RETRY_SECONDS`; then a background check tries the
replica again while requests keep reading from the primary, and the replica is used
again once it answers.  A statement the standby cancelled because of replication
(a recovery conflict) runs again on the primary.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

from piccolo.engine.postgres import PostgresEngine, PostgresTransaction

__all__ = [
    "RETRY_SECONDS",
    "ReadRouting",
    "ReplicaPostgresEngine",
    "is_read_statement",
    "read_from_primary",
    "read_routing",
]

log = logging.getLogger("agorakit.db")

#: seconds reads stay on the primary after the replica failed, before it is tried again
RETRY_SECONDS = 10.0
#: seconds a new connection to the replica may take before the replica counts as down
CONNECT_TIMEOUT_SECONDS = 5.0
#: at most one warning about an unreachable replica per this many seconds (per process)
WARNING_INTERVAL_SECONDS = 60.0


class ReadRouting:
    """Where one request's reads may go: ``replica`` while it may read from the replica,
    ``wrote`` once it has opened a transaction or run a statement that is not a read."""

    __slots__ = ("replica", "wrote")

    def __init__(self, *, replica: bool) -> None:
        self.replica = replica
        self.wrote = False

    @property
    def reads_replica(self) -> bool:
        return self.replica and not self.wrote


_ROUTING: ContextVar[ReadRouting | None] = ContextVar("agorakit_read_routing", default=None)


@contextmanager
def read_routing(*, replica: bool) -> Iterator[ReadRouting]:
    """Route the reads of the code inside (one request) by a fresh :class:`ReadRouting`:
    to the replica when ``replica`` (and the rules of the module hold), else to the
    primary; afterwards ``wrote`` says whether the code wrote."""
    routing = ReadRouting(replica=replica)
    token = _ROUTING.set(routing)
    try:
        yield routing
    finally:
        _ROUTING.reset(token)


def read_from_primary() -> None:
    """Read the rest of this request from the primary: for a read that must see the
    latest rows (who the caller is, what only they may see).  Does nothing outside a
    routed request."""
    routing = _ROUTING.get()
    if routing is not None:
        routing.replica = False


# A word that changes data or takes locks: INSERT/UPDATE/DELETE/MERGE (also in a WITH),
# SELECT ... INTO, FOR UPDATE / FOR SHARE / FOR KEY SHARE, sequences, advisory locks,
# NOTIFY.  A false match only sends a read to the primary.
_NOT_A_READ = re.compile(
    r"\b(INSERT|UPDATE|DELETE|MERGE|INTO|SHARE|NEXTVAL|SETVAL|PG_ADVISORY_\w*|PG_NOTIFY)\b", re.IGNORECASE
)


@lru_cache(maxsize=4096)  # the app's statements have a few hundred shapes; values are parameters
def is_read_statement(sql: str) -> bool:
    """Whether ``sql`` only reads, so that a standby can run it."""
    head = sql.lstrip(" \t\r\n(")[:6].upper()
    if head != "SELECT" and not head.startswith("WITH"):
        return False
    return _NOT_A_READ.search(sql) is None


class ReplicaPostgresEngine(PostgresEngine):
    """The primary's engine, sending the reads of routed requests to a replica's pool.

    Everything else (transactions, writes, DDL run in a transaction, connections of its
    own) is Piccolo's ``PostgresEngine`` on the primary.
    """

    def __init__(self, config: dict[str, Any], *, read_dsn: str) -> None:
        super().__init__(config=config, log_queries=False)
        self.read_dsn = read_dsn
        #: the replica's asyncpg pool, open between :meth:`start_read_pool` and
        #: :meth:`close_read_pool`
        self.read_pool: Any = None
        #: ``time.monotonic()`` until which reads stay on the primary (None: the replica is up)
        self._down_until: float | None = None
        self._last_warning = -WARNING_INTERVAL_SECONDS
        self._retry: asyncio.Task[bool] | None = None

    @property
    def replica_up(self) -> bool:
        """Whether routed reads go to the replica now."""
        return self.read_pool is not None and self._down_until is None

    async def start_read_pool(self, **pool_options: Any) -> None:
        """Open the replica's pool (``pool_options`` as for asyncpg's ``create_pool``) and
        check that the replica answers; a replica that does not leaves the app reading
        from the primary until it does."""
        import asyncpg

        if self.read_pool is not None:
            return
        # No connection floor: creating the pool connects nothing, so a replica that is
        # down when the app starts does not stop it; connections open as reads need them.
        self.read_pool = await asyncpg.create_pool(
            self.read_dsn, min_size=0, timeout=CONNECT_TIMEOUT_SECONDS, **pool_options
        )
        await self.check_replica()

    async def close_read_pool(self) -> None:
        retry, self._retry = self._retry, None
        if retry is not None:
            retry.cancel()
            await asyncio.gather(retry, return_exceptions=True)
        pool, self.read_pool = self.read_pool, None
        if pool is not None:
            await pool.close()

    async def check_replica(self) -> bool:
        """Run ``SELECT 1`` on the replica: True when it answers (routed reads go there
        again), else False (they stay on the primary)."""
        if self.read_pool is None:
            return False
        try:
            async with self.read_pool.acquire() as connection:
                await connection.fetchval("SELECT 1")
        except Exception as exc:
            await self._replica_failed(exc)
            return False
        if self._down_until is not None:
            log.info("read replica: answering again; public reads go to it")
        self._down_until = None
        return True

    def replica_state(self) -> str:
        """The replica's state: "ok" while routed reads go to it, else what is wrong.

        It does not wait for the replica: each call starts a check in the background (one
        at a time), whose result the next call tells."""
        if self.read_pool is None:
            return "not started; reads go to the primary"
        self._check_in_background()
        if self._down_until is None:
            return "ok"
        return "unreachable; reads go to the primary"

    def transaction(self, allow_nested: bool = True) -> PostgresTransaction:
        routing = _ROUTING.get()
        if routing is not None:
            # A transaction reads and writes on the primary, and so does the rest of the request.
            routing.wrote = True
        return super().transaction(allow_nested=allow_nested)

    async def _run_in_pool(self, query: str, args: Sequence[Any] | None = None) -> Any:
        """A statement outside a transaction: a routed read on the replica when it can."""
        routing = _ROUTING.get()
        if routing is not None:
            if not is_read_statement(query):
                routing.wrote = True
            elif routing.reads_replica and self._replica_usable():
                rows = await self._read_on_replica(query, args or ())
                if rows is not None:
                    return rows
        return await super()._run_in_pool(query, args)

    def _replica_usable(self) -> bool:
        if self.read_pool is None:
            return False
        if self._down_until is None:
            return True
        if time.monotonic() >= self._down_until:
            # The check runs beside the request, which reads from the primary: no request
            # waits on a replica that may not answer.
            self._check_in_background()
        return False

    def _check_in_background(self) -> None:
        if self._retry is None:
            self._retry = asyncio.get_running_loop().create_task(self._check_again())

    async def _check_again(self) -> bool:
        try:
            return await self.check_replica()
        finally:
            self._retry = None

    async def _read_on_replica(self, query: str, args: Sequence[Any]) -> Any:
        """The rows of ``query`` from the replica, or None when it cannot answer (the
        caller then runs it on the primary)."""
        import asyncpg

        pool = self.read_pool
        try:
            connection = await pool.acquire()
        except Exception as exc:  # whatever stops a connection: the replica is not usable
            await self._replica_failed(exc)
            return None
        try:
            return await connection.fetch(query, *args)
        except Exception as exc:
            if isinstance(exc, _connection_lost()) or connection.is_closed():
                await self._replica_failed(exc)
                return None
            if isinstance(
                exc, asyncpg.exceptions.SerializationError | asyncpg.exceptions.DeadlockDetectedError
            ):
                # On a standby these mean a recovery conflict: replaying the primary's
                # changes cancelled the query.  The primary has the rows.
                log.info("read replica: a recovery conflict cancelled a read, read from the primary: %r", exc)
                return None
            raise  # the statement's own error: the primary would refuse it too
        finally:
            await pool.release(connection)

    async def _replica_failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._down_until = now + RETRY_SECONDS
        if self.read_pool is not None:
            # A restarted replica leaves every pooled connection dead: open new ones.
            await self.read_pool.expire_connections()
        if now - self._last_warning >= WARNING_INTERVAL_SECONDS:
            self._last_warning = now
            log.warning(
                "read replica unreachable, public reads go to the primary (next try in %.0f s): %r",
                RETRY_SECONDS,
                exc,
            )
        else:
            log.debug("read replica unreachable: %r", exc)


def _connection_lost() -> tuple[type[BaseException], ...]:
    """The errors of a query whose connection to the replica broke (not of the query)."""
    import asyncpg.exceptions as errors

    return (
        OSError,
        TimeoutError,
        # a connection the server closed under it: the next query may fail in the client
        # (a protocol state the closed connection left behind)
        errors.InternalClientError,
        errors.PostgresConnectionError,
        errors.AdminShutdownError,
        errors.CrashShutdownError,
        errors.CannotConnectNowError,
    )
