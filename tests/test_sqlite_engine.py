"""The embedded SQLite engine: one queued writer, persistent readers, pragmas set once."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from agorakit.db import Database
from agorakit.settings import DatabaseSection


@pytest.fixture
async def engine(tmp_path):
    database = Database(
        DatabaseSection(url=f"sqlite:///{tmp_path}/engine.sqlite3", sqlite_timeout_seconds=2.0)
    )
    await database.start()
    await database.engine.run_ddl("CREATE TABLE counter (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)")
    await database.engine.run_ddl("INSERT INTO counter (id, value) VALUES (1, 0)")
    yield database
    await database.close()


async def test_connections_use_wal_and_foreign_keys_once(engine):
    rows = await engine.engine.run_ddl("PRAGMA journal_mode")
    assert rows == [{"journal_mode": "wal"}]
    assert await engine.engine.run_ddl("PRAGMA foreign_keys") == [{"foreign_keys": 1}]
    assert await engine.engine.run_ddl("PRAGMA busy_timeout") == [{"timeout": 2000}]


async def test_concurrent_write_transactions_queue_instead_of_failing(engine):
    """64 read-modify-write transactions at once: none is lost, none sees 'database is locked'."""

    async def increment() -> None:
        async with engine.transaction():
            rows = await engine.engine.run_ddl("SELECT value FROM counter WHERE id = 1")
            await asyncio.sleep(0)  # let the other tasks pile up behind the lock
            await engine.engine.run_ddl(f"UPDATE counter SET value = {rows[0]['value'] + 1} WHERE id = 1")

    await asyncio.gather(*(increment() for _ in range(64)))
    assert await engine.engine.run_ddl("SELECT value FROM counter WHERE id = 1") == [{"value": 64}]


async def test_a_failed_transaction_leaves_the_writer_usable(engine):
    with pytest.raises(sqlite3.IntegrityError):
        async with engine.transaction():
            await engine.engine.run_ddl("UPDATE counter SET value = 5 WHERE id = 1")
            await engine.engine.run_ddl("INSERT INTO counter (id, value) VALUES (1, 1)")
    assert await engine.engine.run_ddl("SELECT value FROM counter WHERE id = 1") == [{"value": 0}]
    async with engine.transaction():
        await engine.engine.run_ddl("UPDATE counter SET value = 7 WHERE id = 1")
    assert await engine.engine.run_ddl("SELECT value FROM counter WHERE id = 1") == [{"value": 7}]


async def test_reads_do_not_wait_for_an_open_write_transaction(engine):
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow_writer() -> None:
        async with engine.transaction():
            await engine.engine.run_ddl("UPDATE counter SET value = 99 WHERE id = 1")
            entered.set()
            await release.wait()

    writer = asyncio.create_task(slow_writer())
    await entered.wait()
    # WAL: a reader sees the last committed value at once, without waiting for the writer.
    from agorakit.db.sqlite import SiteSQLiteEngine

    assert isinstance(engine.engine, SiteSQLiteEngine)
    read = await asyncio.wait_for(
        engine.engine._run_in_new_connection("SELECT value FROM counter", query_type="select"), 1
    )
    assert read == [{"value": 0}]
    release.set()
    await writer
    assert await engine.engine.run_ddl("SELECT value FROM counter WHERE id = 1") == [{"value": 99}]


async def test_another_process_waits_for_the_lock_up_to_the_timeout(engine, tmp_path):
    """Two processes (here: a second connection) still share one file through busy_timeout."""
    entered, release = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with engine.transaction():
            await engine.engine.run_ddl("UPDATE counter SET value = 1 WHERE id = 1")
            entered.set()
            await release.wait()

    task = asyncio.create_task(holder())
    await entered.wait()

    def other_process_write() -> str:
        other = sqlite3.connect(tmp_path / "engine.sqlite3", timeout=0.2)
        try:
            other.execute("UPDATE counter SET value = 2 WHERE id = 1")
            other.commit()
            return "written"
        except sqlite3.OperationalError as exc:
            return str(exc)
        finally:
            other.close()

    assert await asyncio.to_thread(other_process_write) == "database is locked"
    release.set()
    await task
    assert await asyncio.to_thread(other_process_write) == "written"


async def test_piccolo_selects_go_to_a_reader_while_a_write_transaction_is_open(tmp_path):
    """Piccolo marks its selects 'generic': the engine must still send them to a reader."""
    from piccolo.columns import Integer
    from piccolo.table import Table

    database = Database(DatabaseSection(url=f"sqlite:///{tmp_path}/piccolo.sqlite3"))
    await database.start()

    class Counter(Table, tablename="counter", db=database.engine):
        value = Integer()

    try:
        await Counter.create_table()
        await Counter.insert(Counter(value=0))
        entered, release = asyncio.Event(), asyncio.Event()

        async def slow_writer() -> None:
            async with database.transaction():
                await Counter.update({Counter.value: 99}, force=True)
                entered.set()
                await release.wait()

        writer = asyncio.create_task(slow_writer())
        await entered.wait()
        rows = await asyncio.wait_for(Counter.select(Counter.value), 1)  # waited forever behind the writer
        assert rows == [{"value": 0}]
        release.set()
        await writer
        assert await Counter.select(Counter.value) == [{"value": 99}]
        assert await asyncio.wait_for(Counter.raw("SELECT value FROM counter"), 1) == [{"value": 99}]
    finally:
        await database.close()
