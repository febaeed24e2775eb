"""The event feed: the stored events read in id order from a consumer's own position
(``read_feed``, ``feed_head``, ``feed_backlog``), on both engines; on PostgreSQL with real
concurrent transactions that commit out of order or roll back; and the followers every
served app process runs (``agorakit_event_followers``)."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from event_helpers import make_event

from agorakit import hookimpl
from agorakit.app import app_for_runtime
from agorakit.events import (
    DomainEvent,
    EventFollower,
    FeedBatch,
    FeedGap,
    FeedNotSettled,
    FeedPosition,
    feed_backlog,
    feed_head,
    last_event_id,
    read_feed,
)
from agorakit.events import feed as event_feed
from agorakit.events.outbox import store
from agorakit.events.tables import StoredEvent


async def record(runtime, *names: str) -> list[int]:
    """One unit of work recording events named ``names``; returns their ids."""
    async with runtime.unit_of_work() as uow:
        for name in names:
            uow.record(make_event(name), subject="test:1")
    rows = (
        await StoredEvent.select(StoredEvent.id).order_by(StoredEvent.id, ascending=False).limit(len(names))
    )
    return sorted(row["id"] for row in rows)


def names_of(batch: FeedBatch) -> list[str]:
    return [event.name for event in batch.events]


def ids_of(batch: FeedBatch) -> list[int]:
    return [event.id for event in batch.events if event.id is not None]


async def until(check, what: str, seconds: float = 10) -> None:
    """Poll ``check()`` until it is true, at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() >= deadline:
            pytest.fail(f"not within {seconds} s: {what}")
        await asyncio.sleep(0.02)


class OpenTransaction:
    """A transaction of its own (another connection, in a task) that stores one event and
    stays open until told to commit or roll back: a request that is slower than others."""

    def __init__(self, runtime, name: str = "test.slow") -> None:
        self.runtime = runtime
        self.name = name
        self.stored = asyncio.Event()
        self.finish = asyncio.Event()
        self.roll_back = False
        self.event_id: int | None = None
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> OpenTransaction:
        self.task = asyncio.get_running_loop().create_task(self._run())
        await asyncio.wait_for(self.stored.wait(), 10)
        return self

    async def _run(self) -> None:
        try:
            async with self.runtime.db.transaction():
                event = DomainEvent(name=self.name, at=self.runtime.clock.now(), subject="test:slow")
                [stored] = await store([event])
                self.event_id = stored.id
                self.stored.set()
                await self.finish.wait()
                if self.roll_back:
                    raise _RolledBack
        except _RolledBack:
            pass

    async def end(self, *, roll_back: bool = False) -> None:
        self.roll_back = roll_back
        self.finish.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, 10)

    async def __aexit__(self, *exc_info) -> None:
        if not self.finish.is_set():
            await self.end(roll_back=True)


class _RolledBack(Exception):
    pass


# --------------------------------------------------------------------------------------
# Reading (both engines)
# --------------------------------------------------------------------------------------


async def test_the_feed_returns_the_events_after_a_position_in_id_order(runtime):
    first = await record(runtime, "test.a", "test.b")
    second = await record(runtime, "test.c")

    batch = await read_feed(runtime, FeedPosition())
    assert ids_of(batch) == [*first, *second]
    assert names_of(batch) == ["test.a", "test.b", "test.c"]
    assert batch.position == FeedPosition(after=second[0]) and not batch.more
    event = batch.events[0]
    assert (event.subject, event.actor_id, event.data) == ("test:1", None, {})

    # nothing new: the same position, no events
    again = await read_feed(runtime, batch.position)
    assert again.events == [] and again.position == batch.position and not again.more
    later = await record(runtime, "test.d")
    assert ids_of(await read_feed(runtime, batch.position)) == later


async def test_a_limit_cuts_the_read_and_says_there_is_more(runtime):
    ids = await record(runtime, "test.a", "test.b", "test.c", "test.d", "test.e")
    batch = await read_feed(runtime, FeedPosition(), limit=2)
    assert ids_of(batch) == ids[:2] and batch.more and batch.position.after == ids[1]
    batch = await read_feed(runtime, batch.position, limit=2)
    assert ids_of(batch) == ids[2:4] and batch.more
    batch = await read_feed(runtime, batch.position, limit=2)
    assert ids_of(batch) == ids[4:] and not batch.more and batch.position.after == ids[4]
    with pytest.raises(ValueError, match="limit must be at least 1"):
        await read_feed(runtime, FeedPosition(), limit=0)


async def test_only_the_names_asked_for_are_returned_and_the_position_moves_over_the_others(runtime):
    ids = await record(runtime, "test.a", "test.other", "test.b", "test.other")
    batch = await read_feed(runtime, FeedPosition(), names={"test.a", "test.b"})
    assert names_of(batch) == ["test.a", "test.b"] and ids_of(batch) == [ids[0], ids[2]]
    assert batch.position == FeedPosition(after=ids[3])
    # a limit counts every event read, whatever its name
    batch = await read_feed(runtime, FeedPosition(), names={"test.b"}, limit=2)
    assert batch.events == [] and batch.position.after == ids[1] and batch.more
    batch = await read_feed(runtime, batch.position, names={"test.b"}, limit=2)
    assert ids_of(batch) == [ids[2]] and batch.position.after == ids[3]
    assert (await read_feed(runtime, FeedPosition(), names=set())).events == []


async def test_the_backlog_counts_what_a_position_has_not_read(runtime):
    ids = await record(runtime, "test.a", "test.other", "test.b")
    assert await feed_backlog(runtime, FeedPosition()) == 3
    assert await feed_backlog(runtime, FeedPosition(), names={"test.a", "test.b"}) == 2
    assert await feed_backlog(runtime, FeedPosition(after=ids[0]), names={"test.a", "test.b"}) == 1
    assert await feed_backlog(runtime, FeedPosition(after=ids[2])) == 0
    assert await feed_backlog(runtime, FeedPosition(), names=[]) == 0
    # a missing id that has been committed since counts too
    awaited = FeedPosition(after=ids[2], missing=(FeedGap(ids[0], runtime.wall_clock.now()),))
    assert await feed_backlog(runtime, awaited) == 1
    assert await feed_backlog(runtime, awaited, names={"test.b"}) == 0


async def test_the_head_is_after_the_last_event(runtime):
    assert await last_event_id(runtime) == 0
    assert await feed_head(runtime, settle_seconds=0) == FeedPosition()
    ids = await record(runtime, "test.a", "test.b")
    assert await last_event_id(runtime) == ids[1]
    head = await feed_head(runtime, settle_seconds=0)
    assert head == FeedPosition(after=ids[1])
    later = await record(runtime, "test.c")
    assert ids_of(await read_feed(runtime, head)) == later


def test_a_position_is_stored_as_json_and_read_back():
    from datetime import UTC, datetime

    position = FeedPosition(
        after=42,
        missing=(
            FeedGap(40, datetime(2026, 1, 5, 9, 0, tzinfo=UTC)),
            FeedGap(41, datetime(2026, 1, 5, 9, 1, tzinfo=UTC), waits_for=9),
        ),
    )
    text = position.encode()
    assert text == (
        b'{"after":42,"missing":[[40,"2026-01-05T09:00:00Z",null],[41,"2026-01-05T09:01:00Z",9]]}'
    )
    assert FeedPosition.decode(text) == position
    assert FeedPosition.decode(b"{}") == FeedPosition()
    import msgspec

    with pytest.raises(msgspec.DecodeError):
        FeedPosition.decode(b'{"after": "x"}')


async def test_on_sqlite_a_rolled_back_id_leaves_nothing_to_await(runtime, db_kind):
    """One writer: an id below one that was read was read too, or never committed."""
    if db_kind != "sqlite":
        pytest.skip("PostgreSQL awaits missing ids: see the tests below")
    with pytest.raises(RuntimeError):
        async with runtime.db.transaction():
            await store([DomainEvent(name="test.lost", at=runtime.clock.now(), subject="test:1")])
            raise RuntimeError("rolled back")
    ids = await record(runtime, "test.kept")
    batch = await read_feed(runtime, FeedPosition())
    assert ids_of(batch) == ids and batch.position == FeedPosition(after=ids[0])


# --------------------------------------------------------------------------------------
# PostgreSQL: transactions that commit out of order, or roll back
# --------------------------------------------------------------------------------------


@pytest.fixture
def postgres(db_kind):
    if db_kind != "postgres":
        pytest.skip("ids commit out of order on PostgreSQL only")


async def test_an_event_committed_after_a_higher_one_is_still_read(runtime, postgres):
    before = await record(runtime, "test.before")
    position = (await read_feed(runtime, FeedPosition())).position
    async with OpenTransaction(runtime) as slow:
        faster = await record(runtime, "test.fast")  # a higher id, committed first
        assert slow.event_id is not None and slow.event_id < faster[0]
        batch = await read_feed(runtime, position)
        assert ids_of(batch) == faster
        assert batch.position.after == faster[0]
        assert [gap.id for gap in batch.position.missing] == [slow.event_id]
        assert batch.position.missing[0].seen_at == runtime.wall_clock.now()
        # asked again every read while it is open; the position keeps it
        again = await read_feed(runtime, batch.position)
        assert again.events == [] and again.position == batch.position
        await slow.end()
    caught = await read_feed(runtime, again.position)
    assert ids_of(caught) == [slow.event_id] and names_of(caught) == ["test.slow"]
    assert caught.position == FeedPosition(after=faster[0])
    assert before[0] < slow.event_id


async def test_a_missing_id_is_awaited_while_its_transaction_runs_however_long(runtime, postgres, clock):
    await record(runtime, "test.before")
    async with OpenTransaction(runtime) as slow:
        faster = await record(runtime, "test.fast")
        batch = await read_feed(runtime, FeedPosition())
        clock.advance(hours=2)  # far past the settling time: the transaction is still open
        for _ in range(3):
            batch = await read_feed(runtime, batch.position)
            assert [gap.id for gap in batch.position.missing] == [slow.event_id]
        assert batch.position.missing[0].waits_for is not None  # the transactions to wait for are noted
        await slow.end()
    caught = await read_feed(runtime, batch.position)
    assert ids_of(caught) == [slow.event_id] and caught.position == FeedPosition(after=faster[0])


async def test_a_rolled_back_id_is_given_up_once_settled(runtime, postgres, clock):
    async with OpenTransaction(runtime) as lost:
        kept = await record(runtime, "test.kept")
        await lost.end(roll_back=True)
    batch = await read_feed(runtime, FeedPosition())
    assert ids_of(batch) == kept and [gap.id for gap in batch.position.missing] == [lost.event_id]
    # younger than the settling time: still awaited, even with no transaction running
    batch = await read_feed(runtime, batch.position)
    assert [gap.id for gap in batch.position.missing] == [lost.event_id]
    clock.advance(seconds=event_feed.SETTLE_SECONDS)
    # given up once every transaction running at that read has ended (others may run on the
    # test server: read again until they have, at most a few seconds)
    deadline = time.monotonic() + 20
    while batch.position.missing and time.monotonic() < deadline:
        batch = await read_feed(runtime, batch.position)
        await asyncio.sleep(0.05)
    assert batch.position == FeedPosition(after=kept[0]) and batch.events == []


async def test_at_most_so_many_missing_ids_are_kept_the_highest(runtime, postgres, monkeypatch, caplog):
    monkeypatch.setattr(event_feed, "MAX_MISSING", 3)
    first = await record(runtime, "test.a")
    await StoredEvent.insert(
        StoredEvent(
            id=first[0] + 10, name="test.far", subject="test:1", at=runtime.clock.now(), status="published"
        )
    )
    batch = await read_feed(runtime, FeedPosition())
    assert names_of(batch) == ["test.a", "test.far"]
    assert [gap.id for gap in batch.position.missing] == [first[0] + 7, first[0] + 8, first[0] + 9]


async def test_the_head_waits_for_the_transactions_that_may_add_below_it(runtime, postgres):
    async with OpenTransaction(runtime) as slow:
        faster = await record(runtime, "test.fast")
        head = asyncio.get_running_loop().create_task(feed_head(runtime, settle_seconds=0.1))
        await asyncio.sleep(0.5)
        assert not head.done()  # the open transaction holds an id below the head
        await slow.end()
        assert await asyncio.wait_for(head, 10) == FeedPosition(after=faster[0])
    # what a consumer reads after the head returned has the slow event committed
    assert await StoredEvent.exists().where(StoredEvent.id == slow.event_id)

    async with OpenTransaction(runtime):
        with pytest.raises(FeedNotSettled, match=r"is open after 0\.3 s"):
            await feed_head(runtime, settle_seconds=0, timeout=0.3)


# --------------------------------------------------------------------------------------
# Followers
# --------------------------------------------------------------------------------------


class MemoryFollower(EventFollower):
    """Keeps its position and the events it applied in memory."""

    name = "memory"
    names = frozenset({"test.wanted"})
    interval = 0.05

    def __init__(self) -> None:
        super().__init__()
        self.stored = FeedPosition()
        self.applied: list[int] = []
        self.failures = 0

    async def position(self, runtime):
        return self.stored

    async def apply(self, runtime, batch):
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the store is away")
        self.applied += ids_of(batch)
        self.stored = batch.position


class Following:
    def __init__(self) -> None:
        self.follower = MemoryFollower()
        self.runtimes: list = []

    @hookimpl
    async def agorakit_event_followers(self, runtime):
        self.runtimes.append(runtime)
        return [self.follower]


@pytest.fixture
def following():
    return Following()


class TestFollowers:
    @pytest.fixture
    def extra_plugins(self, following):
        return [("following", following)]

    async def test_hook_agorakit_event_followers(self, runtime, following):
        """A served app starts the plugins' followers with its lifespan: each catches up
        from its position at once, follows every ``interval``, and stops with the app."""
        follower = following.follower
        early = await record(runtime, "test.wanted", "test.other")
        app = app_for_runtime(runtime)
        try:
            async with app.lifespan():
                assert following.runtimes == [runtime] and follower.running
                assert await follower.catch_up(timeout=10)
                assert follower.applied == [early[0]]
                later = await record(runtime, "test.other", "test.wanted")
                # the next poll, without being asked
                await until(lambda: follower.applied == [early[0], later[1]], "the next poll applies it")
                assert follower.stored == FeedPosition(after=later[1])
            assert not follower.running and "event_followers" not in app.state
            await record(runtime, "test.wanted")
            assert not await follower.catch_up(timeout=1)
            assert follower.applied == [early[0], later[1]]
        finally:
            await runtime.db.start()  # the app's shut-down closed the test's database

    async def test_a_round_that_fails_is_tried_again(self, runtime, following, caplog):
        follower = following.follower
        follower.failures = 1
        ids = await record(runtime, "test.wanted")
        await follower.start(runtime)
        try:
            await until(lambda: follower.applied == ids, "the round after the failed one applies it")
            assert "follower memory could not read the events" in caplog.text
        finally:
            await follower.stop()
        assert not follower.running

    async def test_catch_up_waits_for_a_round_begun_after_it(self, runtime, following):
        follower = following.follower
        follower.interval = 3600  # only when asked
        await follower.start(runtime)
        try:
            assert await follower.catch_up(timeout=10)
            ids = await record(runtime, "test.wanted")
            assert await follower.catch_up(timeout=10)
            assert follower.applied == ids
            follower.nudge()  # asks without waiting
            more = await record(runtime, "test.wanted")
            follower.nudge()
            await until(lambda: follower.applied == [*ids, *more], "the nudged round applies it")
        finally:
            await follower.stop()


async def test_a_follower_that_is_not_an_event_follower_is_refused(runtime):
    from agorakit.events.follow import start_followers
    from agorakit.hooks import Hooks, get_plugin_manager

    class Wrong:
        @hookimpl
        def agorakit_event_followers(self, runtime):
            return ["not a follower"]

    runtime.hooks = Hooks(get_plugin_manager([], extra=[("wrong", Wrong())]))
    with pytest.raises(TypeError, match="agorakit_event_followers returned 'not a follower'"):
        await start_followers(runtime)


async def test_the_base_follower_asks_its_subclass(runtime):
    follower = EventFollower()
    with pytest.raises(NotImplementedError):
        await follower.step(runtime)
    with pytest.raises(NotImplementedError):
        await follower.apply(runtime, FeedBatch(events=[], position=FeedPosition(), more=False))
    assert not await follower.catch_up(timeout=0.1)
    await follower.stop()  # not started: nothing to do


def test_missing_ids_are_the_holes_below_the_last_read():
    assert event_feed._holes(0, [1, 2, 3]) == []
    assert event_feed._holes(3, [5, 8]) == [4, 6, 7]
    assert event_feed._holes(10, []) == []


async def test_a_gap_noted_is_dropped_when_no_transaction_that_old_runs(runtime, postgres):
    """The settling rule on its own: noted once old enough, dropped once the transactions
    running then have ended."""
    now = runtime.wall_clock.now()
    young = FeedGap(5, now)
    old = FeedGap(6, now - timedelta(seconds=5))
    passed = FeedGap(7, now - timedelta(seconds=5), waits_for=1)  # long ended
    async with OpenTransaction(runtime) as slow:
        [running] = await event_feed.running_transactions()
        kept = {gap.id: gap for gap in await event_feed._settle([young, old, passed], now, 1.0)}
        assert kept == {5: young, 6: FeedGap(6, old.seen_at, waits_for=running)}
        assert await event_feed._settle([kept[6]], now, 1.0) == [kept[6]]
        await slow.end()
    assert await event_feed.running_transactions() == []
    assert await event_feed._settle([kept[6]], now, 1.0) == []


def test_the_event_reference_keeps_its_part_written_by_hand():
    """``agorakit docs events`` writes the reference anew and keeps what is between the marks."""
    from agorakit.docgen import HAND_WRITTEN_END, HAND_WRITTEN_START, event_reference, hand_written_part

    current = f"# an old reference\n{HAND_WRITTEN_START}## Mine\n\nwritten by hand\n{HAND_WRITTEN_END}"
    text = event_reference(current)
    assert text.startswith("# Domain events\n") and "an old reference" not in text
    assert text.endswith(f"\n{HAND_WRITTEN_START}## Mine\n\nwritten by hand\n{HAND_WRITTEN_END}")
    assert hand_written_part(text) == "## Mine\n\nwritten by hand\n"
    assert hand_written_part("no marks") == ""
    assert event_reference("").endswith(f"{HAND_WRITTEN_START}{HAND_WRITTEN_END}")
