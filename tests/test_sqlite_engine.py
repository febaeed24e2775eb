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
    pool = await engine.engine._pool()
    # Readers wait for another process's lock up to the timeout; the writer never blocks
    # the loop (it retries with asyncio pauses, see test_writes_wait_for_another_process...).
    assert pool.loop_reader.raw.execute("PRAGMA busy_timeout").fetchone() == (2000,)
    assert pool.writer.raw.execute("PRAGMA busy_timeout").fetchone() == (0,)


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


#: A read far over the loop's budget: it counts to a million (~0.1-0.3 s here).
_LONG_READ = (
    "SELECT (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) "
    "SELECT count(*) FROM c) AS n"
)


async def _while_ticking(action):
    """Run ``action`` while another task counts how often the loop got to run it."""
    ticks, done = 0, False

    async def ticker() -> None:
        nonlocal ticks
        while not done:
            await asyncio.sleep(0)
            ticks += 1

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    try:
        result = await action()
    finally:
        done = True
        await task
    return result, ticks


async def test_short_reads_run_on_the_loop_and_long_ones_move_to_a_thread(engine):
    sqlite_engine = engine.engine
    before = sqlite_engine.moved_reads
    rows, _ = await _while_ticking(lambda: sqlite_engine.run_ddl("SELECT value FROM counter"))
    assert rows == [{"value": 0}]
    assert sqlite_engine.moved_reads == before  # it fitted the budget

    rows, ticks = await _while_ticking(lambda: sqlite_engine.run_ddl(_LONG_READ))
    assert rows == [{"n": 1_000_000}]  # interrupted on the loop, run again in full in a thread
    assert sqlite_engine.moved_reads == before + 1
    assert ticks > 10  # the loop kept serving other tasks meanwhile


async def test_a_long_read_inside_a_transaction_keeps_the_transaction(engine):
    sqlite_engine = engine.engine
    before = sqlite_engine.moved_reads

    async def work():
        async with engine.transaction():
            await sqlite_engine.run_ddl("UPDATE counter SET value = 41 WHERE id = 1")
            rows = await sqlite_engine.run_ddl(_LONG_READ)
            await sqlite_engine.run_ddl("UPDATE counter SET value = value + 1 WHERE id = 1")
            return rows

    rows, ticks = await _while_ticking(work)
    assert rows == [{"n": 1_000_000}]
    assert sqlite_engine.moved_reads == before + 1
    assert ticks > 10
    # Interrupting the read on the loop did not roll back the transaction's first update.
    assert await sqlite_engine.run_ddl("SELECT value FROM counter WHERE id = 1") == [{"value": 42}]


async def test_a_failing_read_raises_the_database_error(engine):
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        await engine.engine.run_ddl("SELECT * FROM missing")
    with pytest.raises(sqlite3.OperationalError, match="no such column"):
        async with engine.transaction():
            await engine.engine.run_ddl("SELECT missing FROM counter")
    assert await engine.engine.run_ddl("SELECT value FROM counter") == [{"value": 0}]


async def test_column_values_keep_their_python_types(tmp_path):
    """The lean converters give what Piccolo's gave: int, bool, aware datetime, None."""
    from datetime import UTC, datetime

    from piccolo.columns import Boolean, Integer, Timestamptz, Varchar
    from piccolo.table import Table

    database = Database(DatabaseSection(url=f"sqlite:///{tmp_path}/types.sqlite3"))
    await database.start()

    class Thing(Table, tablename="thing", db=database.engine):
        count = Integer(null=True)
        flag = Boolean(null=True)
        at = Timestamptz(null=True)
        name = Varchar(null=True)

    try:
        await Thing.create_table()
        moment = datetime(2026, 11, 22, 15, 30, 12, 345678, tzinfo=UTC)
        await Thing.insert(
            Thing(count=9_007_199_254_740_993, flag=True, at=moment, name="12"),
            Thing(count=-3, flag=False, at=moment, name=None),
            Thing(count=None, flag=None, at=None, name=None),
        )
        rows = await Thing.select(Thing.count, Thing.flag, Thing.at, Thing.name).order_by(Thing.id)
        assert rows == [
            {"count": 9_007_199_254_740_993, "flag": True, "at": moment, "name": "12"},
            {"count": -3, "flag": False, "at": moment, "name": None},
            {"count": None, "flag": None, "at": None, "name": None},
        ]
        assert type(rows[0]["count"]) is int and type(rows[0]["flag"]) is bool
        assert rows[0]["at"].tzinfo == UTC
    finally:
        await database.close()


def _hold_write_lock(path):
    """Another process's connection holding the file's write lock until it commits."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE counter SET value = value + 100 WHERE id = 1")
    return other


async def test_writes_wait_for_another_process_without_blocking_the_loop(engine, tmp_path):
    sqlite_engine = engine.engine
    loop = asyncio.get_running_loop()

    other = _hold_write_lock(tmp_path / "engine.sqlite3")
    loop.call_later(0.3, other.execute, "COMMIT")

    async def unit_of_work():
        async with engine.transaction():  # BEGIN IMMEDIATE: retried while the other holds the lock
            await sqlite_engine.run_ddl("UPDATE counter SET value = value + 1 WHERE id = 1")

    _, ticks = await _while_ticking(unit_of_work)
    assert ticks > 10  # the loop kept running other tasks while the transaction waited
    assert await sqlite_engine.run_ddl("SELECT value FROM counter WHERE id = 1") == [{"value": 101}]

    # A write outside a transaction is retried the same way.
    other.execute("BEGIN IMMEDIATE")
    loop.call_later(0.3, other.execute, "COMMIT")
    _, ticks = await _while_ticking(
        lambda: sqlite_engine.run_ddl("UPDATE counter SET value = 7 WHERE id = 1")
    )
    assert ticks > 10
    assert await sqlite_engine.run_ddl("SELECT value FROM counter WHERE id = 1") == [{"value": 7}]
    other.close()


async def test_a_write_transaction_gives_up_after_the_timeout(tmp_path):
    database = Database(
        DatabaseSection(url=f"sqlite:///{tmp_path}/locked.sqlite3", sqlite_timeout_seconds=0.3)
    )
    await database.start()
    try:
        await database.engine.run_ddl("CREATE TABLE counter (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)")
        await database.engine.run_ddl("INSERT INTO counter (id, value) VALUES (1, 0)")
        other = _hold_write_lock(tmp_path / "locked.sqlite3")
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            async with database.transaction():
                await database.engine.run_ddl("UPDATE counter SET value = 1 WHERE id = 1")
        assert 0.3 <= loop.time() - started < 2.0
        other.execute("ROLLBACK")
        other.close()
        # The writer and its lock are free again.
        async with database.transaction():
            await database.engine.run_ddl("UPDATE counter SET value = 2 WHERE id = 1")
        assert await database.engine.run_ddl("SELECT value FROM counter") == [{"value": 2}]
    finally:
        await database.close()


async def test_commits_move_to_the_writers_thread_when_the_disk_is_slow(engine, monkeypatch):
    import agorakit.db.sqlite_connections as site_sqlite

    sqlite_engine = engine.engine
    monkeypatch.setattr(site_sqlite, "COMMIT_ON_LOOP_SECONDS", 0.0)  # every commit counts as slow
    writer = (await sqlite_engine._pool()).writer
    in_thread = []
    original = writer.in_thread

    async def spy(sql, args=()):
        in_thread.append(sql.strip().upper())
        return await original(sql, args)

    monkeypatch.setattr(writer, "in_thread", spy)
    for _ in range(3):
        async with engine.transaction():
            await sqlite_engine.run_ddl("UPDATE counter SET value = value + 1 WHERE id = 1")
    # (the fixture's writes, timed on the loop, were "slow": every COMMIT is in the thread)
    assert in_thread == ["COMMIT", "COMMIT", "COMMIT"]
    assert await sqlite_engine.run_ddl("SELECT value FROM counter WHERE id = 1") == [{"value": 3}]
    # A change outside a transaction is a unit of work of its own: its COMMIT follows.
    await sqlite_engine.run_ddl("UPDATE counter SET value = 9 WHERE id = 1")
    assert in_thread == ["COMMIT"] * 4
    assert await sqlite_engine.run_ddl("SELECT value FROM counter WHERE id = 1") == [{"value": 9}]
    # Other writes outside a transaction: in the writer's thread, with the busy timeout.
    threaded = []
    monkeypatch.setattr(
        writer, "_write_waiting", lambda sql, args: threaded.append(sql) or writer.fetch(sql, args)
    )
    await sqlite_engine.run_ddl("CREATE INDEX counter_value ON counter (value)")
    assert threaded == ["CREATE INDEX counter_value ON counter (value)"]
    assert await sqlite_engine.run_ddl("PRAGMA index_list(counter)") != []


async def test_commits_and_writes_run_on_the_loop_while_the_disk_is_fast(engine, monkeypatch):
    """Nothing holds the write lock across a hop to a thread: no writer then ever queues.

    "Fast" is what the writer measured; a loaded machine's disk may measure slow, so the
    test says the disk is fast rather than hoping it is."""
    sqlite_engine = engine.engine
    writer = (await sqlite_engine._pool()).writer
    monkeypatch.setattr("agorakit.db.sqlite_connections.COMMIT_ON_LOOP_SECONDS", 3600.0)
    threaded = []
    monkeypatch.setattr(writer, "in_thread", lambda *a: threaded.append(a))
    monkeypatch.setattr(writer, "_write_waiting", lambda *a: threaded.append(a))
    for _ in range(5):
        async with engine.transaction():
            await sqlite_engine.run_ddl("UPDATE counter SET value = value + 1 WHERE id = 1")
        await sqlite_engine.run_ddl("UPDATE counter SET value = value + 10 WHERE id = 1")
    assert threaded == []
    assert await sqlite_engine.run_ddl("SELECT value FROM counter WHERE id = 1") == [{"value": 55}]


class TestWriteLock:
    """The writer's lock: a newcomer takes a free lock at once; no waiter is passed over twice."""

    @staticmethod
    def lock():
        from agorakit.db.sqlite import _WriteLock

        return _WriteLock()

    @staticmethod
    def taker(lock, order):
        """A task body that takes the lock, notes its name and lets go."""

        async def take(name):
            await lock.acquire()
            order.append(name)
            lock.release()

        return take

    async def test_a_free_lock_is_taken_at_once_though_a_woken_waiter_has_not_run_yet(self):
        lock, order = self.lock(), []
        await lock.acquire()

        async def waiter():
            await lock.acquire()
            order.append("waiter")
            lock.release()

        task = asyncio.ensure_future(waiter())
        await asyncio.sleep(0)  # the waiter queues
        lock.release()  # wakes it; it runs only at the loop's next turn
        assert not lock.locked()
        acquiring = lock.acquire()
        with pytest.raises(StopIteration):  # done at its first step, no wait (asyncio.Lock would queue)
            acquiring.send(None)
        order.append("newcomer")
        lock.release()
        await task
        assert order == ["newcomer", "waiter"]
        assert not lock.locked()

    async def test_a_waiter_passed_over_once_is_handed_the_lock_next(self):
        lock, order = self.lock(), []
        await lock.acquire()

        take = self.taker(lock, order)

        first = asyncio.ensure_future(take("first waiter"))
        await asyncio.sleep(0)
        lock.release()  # the first waiter is woken ...
        await lock.acquire()  # ... and a newcomer takes the lock first, then pauses holding it
        order.append("newcomer")
        await asyncio.sleep(0)  # the woken waiter finds it taken: it waits again, at the head
        late = asyncio.ensure_future(take("late newcomer"))
        await asyncio.sleep(0)  # the late one queues behind it
        lock.release()  # handed to the first waiter, though the late one is also waiting
        assert lock.locked()
        await asyncio.gather(first, late)
        assert order == ["newcomer", "first waiter", "late newcomer"]
        assert not lock.locked()

    async def test_a_cancelled_waiter_passes_its_turn_on(self):
        lock, order = self.lock(), []
        await lock.acquire()

        take = self.taker(lock, order)

        cancelled = asyncio.ensure_future(take("cancelled"))
        second = asyncio.ensure_future(take("second"))
        await asyncio.sleep(0)
        lock.release()  # wakes "cancelled" ...
        cancelled.cancel()  # ... which is cancelled before it runs: "second" gets the turn
        await asyncio.gather(second, return_exceptions=True)
        assert order == ["second"]
        assert cancelled.cancelled()
        assert not lock.locked()
        with pytest.raises(RuntimeError, match="not held"):
            lock.release()


async def test_a_short_read_run_many_times_stays_on_the_loop(engine):
    """SQLite's step counter of a cached statement grows from run to run: the budget is per
    run, so a short read is never taken for a long one."""
    sqlite_engine = engine.engine
    before = sqlite_engine.moved_reads
    for _ in range(6_000):  # well over LOOP_STEPS steps in all
        await sqlite_engine.run_ddl("SELECT value FROM counter WHERE id = 1")
    assert sqlite_engine.moved_reads == before


class TestGroupCommit:
    """Units of work that finish in the same turn of the loop share one COMMIT (one disk
    sync); each returns only once its changes are on disk."""

    @staticmethod
    async def commits(engine, monkeypatch) -> list[str]:
        """The COMMITs the writer runs, from now on."""
        writer = (await engine.engine._pool()).writer
        seen: list[str] = []
        original = writer._commit

        async def spy(sql, args):
            seen.append(sql)
            return await original(sql, args)

        monkeypatch.setattr(writer, "_commit", spy)
        return seen

    @staticmethod
    def on_disk(tmp_path, sql="SELECT id, value FROM counter ORDER BY id"):
        """What another process sees in the file."""
        other = sqlite3.connect(tmp_path / "engine.sqlite3")
        try:
            return other.execute(sql).fetchall()
        finally:
            other.close()

    @staticmethod
    async def until_waiting(pool, count):
        """Let the loop turn until ``count`` units wait for the group's COMMIT."""
        for _ in range(10):
            if len(pool.group) >= count:
                return
            await asyncio.sleep(0)
        raise AssertionError(f"{len(pool.group)} units wait for the commit, not {count}")

    @staticmethod
    async def insert(engine, row_id, *, fail=False):
        async with engine.transaction():
            await engine.engine.run_ddl(f"INSERT INTO counter (id, value) VALUES ({row_id}, {row_id})")
            if fail:
                raise ValueError(f"unit {row_id} fails")

    async def test_units_finishing_together_share_one_commit(self, engine, tmp_path, monkeypatch):
        commits = await self.commits(engine, monkeypatch)
        await asyncio.gather(*(self.insert(engine, n) for n in range(2, 12)))
        assert commits == ["COMMIT"]
        assert self.on_disk(tmp_path) == [(1, 0), *((n, n) for n in range(2, 12))]
        # One after another, each unit is a group of its own.
        for n in (12, 13):
            await self.insert(engine, n)
        assert commits == ["COMMIT"] * 3

    async def test_a_unit_returns_only_once_its_changes_are_on_disk(self, engine, tmp_path):
        pool = await engine.engine._pool()
        unit = asyncio.ensure_future(self.insert(engine, 2))
        await self.until_waiting(pool, 1)  # the unit is done and waits for the group's COMMIT
        assert not unit.done()
        assert self.on_disk(tmp_path) == [(1, 0)]
        await unit
        assert self.on_disk(tmp_path) == [(1, 0), (2, 2)]
        assert not pool.group_open and not pool.writer.raw.in_transaction

    async def test_a_failing_unit_rolls_back_only_its_own_changes(self, engine, tmp_path, monkeypatch):
        commits = await self.commits(engine, monkeypatch)
        results = await asyncio.gather(
            self.insert(engine, 2),
            self.insert(engine, 3, fail=True),
            self.insert(engine, 4),
            return_exceptions=True,
        )
        assert results[0] is None and results[2] is None
        assert isinstance(results[1], ValueError)
        assert commits == ["COMMIT"]
        assert self.on_disk(tmp_path) == [(1, 0), (2, 2), (4, 4)]

    async def test_a_unit_that_rolls_back_alone_leaves_no_transaction_open(self, engine, tmp_path):
        with pytest.raises(ValueError):
            await self.insert(engine, 2, fail=True)
        pool = await engine.engine._pool()
        assert not pool.group_open and not pool.writer.raw.in_transaction
        other = sqlite3.connect(tmp_path / "engine.sqlite3", timeout=0)
        other.execute("BEGIN IMMEDIATE")  # the file's write lock is free at once
        other.execute("ROLLBACK")
        other.close()

    async def test_a_failed_commit_fails_every_unit_of_its_group(self, engine, tmp_path, monkeypatch):
        writer = (await engine.engine._pool()).writer

        async def disk_full(sql, args):
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(writer, "_commit", disk_full)
        results = await asyncio.gather(self.insert(engine, 2), self.insert(engine, 3), return_exceptions=True)
        for result in results:
            assert isinstance(result, sqlite3.OperationalError)
            assert "not committed: database or disk is full" in str(result)
        monkeypatch.undo()
        assert self.on_disk(tmp_path) == [(1, 0)]
        await self.insert(engine, 4)  # the writer is clean again
        assert self.on_disk(tmp_path) == [(1, 0), (4, 4)]

    async def test_units_waiting_for_a_transaction_sqlite_rolled_back_fail(self, engine, tmp_path):
        """SQLite itself rolls the whole transaction back on some errors (I/O, a full disk):
        the units released into it are lost, and they say so instead of returning."""
        pool = await engine.engine._pool()
        first = asyncio.ensure_future(self.insert(engine, 2))
        await self.until_waiting(pool, 1)

        with pytest.raises(ValueError):
            async with engine.transaction():
                await engine.engine.run_ddl("INSERT INTO counter (id, value) VALUES (3, 3)")
                pool.writer.raw.execute("ROLLBACK")  # what SQLite does on SQLITE_IOERR
                raise ValueError("an I/O error")
        with pytest.raises(sqlite3.OperationalError, match="not committed"):
            await first
        assert self.on_disk(tmp_path) == [(1, 0)]
        assert not pool.group_open and not pool.writer.raw.in_transaction
        await self.insert(engine, 4)
        assert self.on_disk(tmp_path) == [(1, 0), (4, 4)]

    async def test_a_change_outside_a_transaction_joins_the_group(self, engine, tmp_path, monkeypatch):
        commits = await self.commits(engine, monkeypatch)
        await asyncio.gather(
            self.insert(engine, 2),
            engine.engine.run_ddl("UPDATE counter SET value = 10 WHERE id = 1"),
            engine.engine.run_ddl("INSERT INTO counter (id, value) VALUES (3, 3)"),
        )
        assert commits == ["COMMIT"]
        assert self.on_disk(tmp_path) == [(1, 10), (2, 2), (3, 3)]
        # One that fails changes nothing, and the writer goes on.
        with pytest.raises(sqlite3.IntegrityError):
            await engine.engine.run_ddl("INSERT INTO counter (id, value) VALUES (3, 30)")
        pool = await engine.engine._pool()
        assert not pool.group_open and not pool.writer.raw.in_transaction
        await engine.engine.run_ddl("DELETE FROM counter WHERE id = 3")
        assert self.on_disk(tmp_path) == [(1, 10), (2, 2)]

    async def test_other_writes_outside_a_transaction_commit_the_waiting_group_first(self, engine, tmp_path):
        """DDL and pragmas may not run inside a transaction: the group commits, then they
        run on their own."""
        pool = await engine.engine._pool()
        unit = asyncio.ensure_future(self.insert(engine, 2))
        await self.until_waiting(pool, 1)
        waiter = pool.group[0]
        await engine.engine.run_ddl("CREATE INDEX counter_value ON counter (value)")
        assert waiter.done() and waiter.exception() is None  # committed before the statement ran
        assert not pool.writer.raw.in_transaction  # and the statement committed by itself
        await unit
        assert self.on_disk(tmp_path) == [(1, 0), (2, 2)]
        assert self.on_disk(tmp_path, "SELECT name FROM sqlite_master WHERE type = 'index'") == [
            ("counter_value",)
        ]

    async def test_a_cancelled_unit_still_joins_the_commit(self, engine, tmp_path):
        """Cancelled while it waits (a client gone), a unit's changes are committed with its
        group, like a unit cancelled just after its own COMMIT."""
        pool = await engine.engine._pool()
        unit = asyncio.ensure_future(self.insert(engine, 2))
        other = asyncio.ensure_future(self.insert(engine, 3))
        await self.until_waiting(pool, 2)
        unit.cancel()
        await other
        with pytest.raises(asyncio.CancelledError):
            await unit
        assert self.on_disk(tmp_path) == [(1, 0), (2, 2), (3, 3)]

    async def test_without_group_commit_each_unit_commits_alone(self, tmp_path, monkeypatch):
        database = Database(
            DatabaseSection(url=f"sqlite:///{tmp_path}/engine.sqlite3", sqlite_group_commit=False)
        )
        await database.start()
        try:
            await database.engine.run_ddl(
                "CREATE TABLE counter (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)"
            )
            commits = await self.commits(database, monkeypatch)
            await asyncio.gather(*(self.insert(database, n) for n in range(1, 6)))
            assert commits == ["COMMIT"] * 5
            assert self.on_disk(tmp_path) == [(n, n) for n in range(1, 6)]
        finally:
            await database.close()
