"""The raw driver: asyncpg or stdlib sqlite3, SQL written once with ``$n`` placeholders.

PostgreSQL runs through an asyncpg pool of ``BENCH_FLOOR_POOL_SIZE`` connections (the
app's pool size); SQLite through **one stdlib sqlite3 connection** used synchronously on
the event loop (WAL, ``synchronous = FULL``, like the app), so a transaction never
interleaves with another and never waits for a lock.  Each placeholder is used once and
in order (SQLite's ``?`` are positional).
"""

from __future__ import annotations

import functools
import json
import os
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

DATABASE = os.environ.get("BENCH_FLOOR_DATABASE", "sqlite:///bench.sqlite3")
POOL_SIZE = int(os.environ.get("BENCH_FLOOR_POOL_SIZE", "10"))

_LOCK = re.compile(r" FOR (NO KEY )?UPDATE( OF \w+)?")


@functools.lru_cache(maxsize=512)
def sqlite_sql(sql: str) -> str:
    """The PostgreSQL statement in SQLite's dialect (what Piccolo and ``any_of`` write there).

    Row locks are dropped: a SQLite write transaction (``BEGIN IMMEDIATE``) holds the
    database's one write lock from its start."""
    sql = re.sub(r"(\S+) = ANY\(\$\d+\)", r"\1 IN (SELECT value FROM json_each($0))", sql)
    sql = re.sub(r"\$\d+", "?", sql)
    return _LOCK.sub("", sql)


class PgSession:
    def __init__(self, connection: Any) -> None:
        self.connection = connection

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        return await self.connection.fetch(sql, *args)

    async def row(self, sql: str, *args: Any) -> Any:
        return await self.connection.fetchrow(sql, *args)


class SqliteSession:
    """Statements run synchronously: a transaction never yields to another request."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    @staticmethod
    def _arg(value: Any) -> Any:
        if isinstance(value, list):  # an = ANY($n) list: json_each reads it
            return json.dumps(value)
        return str(value.astimezone(UTC)) if isinstance(value, datetime) else value

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        return self.connection.execute(sqlite_sql(sql), [self._arg(a) for a in args]).fetchall()

    async def row(self, sql: str, *args: Any) -> Any:
        return self.connection.execute(sqlite_sql(sql), [self._arg(a) for a in args]).fetchone()


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = url.startswith("sqlite:")
        self.pool: Any = None
        self.connection: sqlite3.Connection | None = None

    async def start(self) -> None:
        if self.sqlite:
            path = self.url.removeprefix("sqlite://").removeprefix("/")
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
            connection.row_factory = sqlite3.Row
            for pragma in (
                "journal_mode = WAL",
                "foreign_keys = ON",
                "busy_timeout = 30000",
                "synchronous = FULL",
            ):
                connection.execute(f"PRAGMA {pragma}")
            self.connection = connection
        else:
            import asyncpg

            # The server settings the app's connections use ([database] postgres_parallel_workers):
            # the floor compares code, not PostgreSQL configurations.
            self.pool = await asyncpg.create_pool(
                self.url,
                min_size=POOL_SIZE,
                max_size=POOL_SIZE,
                server_settings={"max_parallel_workers_per_gather": "0"},
            )

    async def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
        if self.pool is not None:
            await self.pool.close()

    @asynccontextmanager
    async def reads(self) -> AsyncIterator[Any]:
        """Statements outside a transaction (browse)."""
        if self.connection is not None:
            yield SqliteSession(self.connection)
            return
        async with self.pool.acquire() as connection:
            yield PgSession(connection)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        """One transaction (``BEGIN IMMEDIATE`` on SQLite, like the app's writer)."""
        if self.connection is not None:
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteSession(self.connection)
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
            self.connection.execute("COMMIT")
            return
        async with self.pool.acquire() as connection, connection.transaction():
            yield PgSession(connection)


#: the database the routes use (``bench.floor.configure`` points it elsewhere)
db = Database(DATABASE)


def in_list(start: int, count: int) -> str:
    return ", ".join(f"${i}" for i in range(start, start + count))


async def insert(
    s: Any, table: str, values: dict[str, Any], returning: str = '"id"', on_conflict: str = ""
) -> Any:
    """``INSERT ... RETURNING``: the row as written (``returning="*"``) or its id; with
    ``on_conflict`` (``"DO NOTHING"``), None when the row was there already."""
    columns = ", ".join(f'"{c}"' for c in values)
    conflict = f" ON CONFLICT {on_conflict}" if on_conflict else ""
    return await s.row(
        f'INSERT INTO "{table}" ({columns}) VALUES ({in_list(1, len(values))}){conflict} RETURNING {returning}',
        *values.values(),
    )
