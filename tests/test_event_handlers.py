"""Which events a handler takes and when it runs (``agorakit.events.event_handler``), on
both engines: names and conditions, handlers inside the transaction that records the
events, events stored published when no handler takes them after the commit, failures
delivered again after the commit; and the rows a unit of work holds (``uow.hold``)."""

from __future__ import annotations

import pytest
from event_helpers import make_event

from agorakit import hookimpl
from agorakit.events import EventsFailed, event_handler, handler_options
from agorakit.events import outbox as event_outbox
from agorakit.events.tables import StoredEvent
from agorakit.notifications.tables import Notification
from agorakit.runtime import current_unit_of_work


class Listener:
    """An after-commit handler of ``test.listened.*`` events only."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl
    @event_handler("test.listened.*")
    async def agorakit_on_events(self, events, runtime):
        self.seen += [e.name for e in events]


class Inside:
    """A handler in the transaction of the ``test.inside*`` events with ``size`` >= 2: it
    stores a notification for each (the transaction's own rows, with the event's id) and
    fails ``test.inside.unlucky``."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], bool]] = []

    @hookimpl
    @event_handler("test.inside*", where=lambda e: e.data.get("size", 0) >= 2, in_transaction=True)
    async def agorakit_on_events(self, events, runtime):
        self.calls.append(([e.name for e in events], current_unit_of_work() is not None))
        async with runtime.unit_of_work() as uow:
            for event in events:
                await Notification.insert(
                    Notification(
                        member_id=1,
                        event_id=event.id,
                        category="account",
                        template=f"inside-{event.name}",
                        title="t",
                        body="b",
                        created_at=uow.now,
                    )
                ).on_conflict(action="DO NOTHING")  # idempotent on the event: delivered again after a failure
        unlucky = {e.id: "no luck" for e in events if e.name == "test.inside.unlucky"}
        if unlucky:
            raise EventsFailed(unlucky)


class Broken:
    """A handler in the transaction of ``test.broken*`` events that writes a notification,
    then fails: with a bad SQL statement (``test.broken.sql``) or an exception."""

    def __init__(self) -> None:
        self.calls: list[bool] = []

    @hookimpl
    @event_handler("test.broken*", in_transaction=True)
    async def agorakit_on_event(self, event, runtime):
        inside = current_unit_of_work() is not None
        self.calls.append(inside)
        async with runtime.unit_of_work() as uow:
            await Notification.insert(
                Notification(
                    member_id=1,
                    event_id=event.id,
                    category="account",
                    template=f"broken-{'inside' if inside else 'after'}",
                    title="t",
                    body="b",
                    created_at=uow.now,
                )
            )
            if inside and event.name == "test.broken.sql":
                await Notification.raw("SELECT no_such_column FROM core_notification")
            if inside:
                raise RuntimeError("the handler broke")


@pytest.fixture
def listener():
    return Listener()


@pytest.fixture
def broken():
    return Broken()


@pytest.fixture
def inside():
    return Inside()


@pytest.fixture
def extra_plugins(listener, inside, broken):
    return [("listener", listener), ("inside", inside), ("broken", broken)]


async def record(runtime, *events) -> None:
    async with runtime.unit_of_work() as uow:
        for event in events:
            uow.record(event, subject="test:1")


async def stored(name: str) -> dict:
    [row] = await StoredEvent.select().where(StoredEvent.name == name)
    return row


async def notified(name: str) -> int:
    return await Notification.count().where(Notification.template == f"inside-{name}")


def test_event_handler_records_what_a_handler_takes():
    options = handler_options(Listener.agorakit_on_events)
    assert options.names == ("test.listened.*",) and not options.in_transaction
    assert handler_options(Inside.agorakit_on_events).in_transaction
    assert handler_options(lambda events: None).names == ()  # undecorated: every event, after the commit


async def test_a_handler_gets_only_the_events_it_names(runtime, listener):
    await record(
        runtime, make_event("test.listened.one"), make_event("test.other"), make_event("test.listened.two")
    )
    assert listener.seen == ["test.listened.one", "test.listened.two"]


async def test_an_event_no_handler_takes_after_the_commit_is_stored_published(runtime, listener):
    await record(runtime, make_event("test.unheard", size=1), make_event("test.listened.one"))
    unheard, listened = await stored("test.unheard"), await stored("test.listened.one")
    assert unheard["status"] == "published" and unheard["published_at"] is not None
    # the listener's event was delivered after the commit, then marked published
    assert listened["status"] == "published" and listener.seen == ["test.listened.one"]


async def test_an_in_transaction_handler_writes_with_the_change(runtime, inside):
    await record(runtime, make_event("test.inside", size=2), make_event("test.inside.small", size=1))
    assert inside.calls == [(["test.inside"], True)]  # its condition left the small one out
    event = await stored("test.inside")
    assert event["status"] == "published"  # nothing left after the commit
    [notification] = await Notification.select().where(Notification.template == "inside-test.inside")
    assert notification["event_id"] == event["id"]  # the events are stored before it runs


async def test_an_in_transaction_handlers_rows_roll_back_with_the_change(runtime, inside):
    with pytest.raises(RuntimeError):
        async with runtime.unit_of_work() as uow:
            uow.record(make_event("test.inside", size=2), subject="test:1")

            async def fail() -> None:
                raise RuntimeError("the commit's last step failed")

            uow.before_commit("test.fail", fail)  # runs after the handlers, before the commit
    assert inside.calls == [(["test.inside"], True)]
    assert await notified("test.inside") == 0
    assert await StoredEvent.count().where(StoredEvent.name == "test.inside") == 0


async def test_an_event_its_in_transaction_handler_failed_is_delivered_after_the_commit(
    runtime, inside, clock
):
    await record(runtime, make_event("test.inside.unlucky", size=2), make_event("test.inside", size=3))
    # in the transaction, then again after the commit for the failed one only (its own unit of work)
    assert inside.calls == [(["test.inside.unlucky", "test.inside"], True), (["test.inside.unlucky"], False)]
    unlucky, lucky = await stored("test.inside.unlucky"), await stored("test.inside")
    assert lucky["status"] == "published"
    assert (unlucky["status"], unlucky["attempts"]) == ("pending", 1)
    assert "no luck" in unlucky["last_error"]
    # the worker's sweep hands it to every handler that takes it; handlers stay idempotent
    clock.advance(seconds=31)
    await event_outbox.republish_events(runtime)
    assert inside.calls[-1] == (["test.inside.unlucky"], False)
    assert await notified("test.inside.unlucky") == 1  # written in the transaction; the retries add nothing


async def test_a_unit_of_work_holds_rows_until_a_savepoint_rolls_back(runtime):
    async with runtime.unit_of_work() as uow:
        uow.hold("order", 1, {"id": 1, "state": "open"})
        mark = uow.mark()
        async with runtime.unit_of_work() as inner:  # joins the transaction and its rows
            inner.hold("order", 1, {"id": 1, "state": "moved"})
            assert uow.held("order", 1)["state"] == "moved"
        uow.cut_back(mark)  # as a savepoint rolled back
        assert uow.held("order", 1) == {"id": 1, "state": "open"}
        assert current_unit_of_work() is uow
    assert current_unit_of_work() is None


class TestHandlersAfterTheCommit:
    """``[events] in_transaction = false``: every handler runs after the commit."""

    @pytest.fixture
    def site_config(self):
        return {"events": {"in_transaction": False}}

    async def test_an_in_transaction_handler_runs_after_the_commit(self, runtime, inside):
        await record(runtime, make_event("test.inside", size=2))
        assert inside.calls == [(["test.inside"], False)]  # its own unit of work, after the commit
        event = await stored("test.inside")
        assert event["status"] == "published" and event["attempts"] == 0
        assert await notified("test.inside") == 1


@pytest.mark.parametrize("name", ["test.broken", "test.broken.sql"])
async def test_a_failing_in_transaction_handler_is_undone_and_the_change_commits(runtime, broken, name):
    """A handler that fails inside the transaction (an exception, or a bad statement, which
    on PostgreSQL would abort the transaction) has its writes undone in its savepoint; the
    member's change commits, and the handler gets the event again after the commit."""
    async with runtime.unit_of_work() as uow:
        uow.record(make_event(name, size=2), subject="test:1")
        await Notification.insert(
            Notification(
                member_id=1,
                category="account",
                template="the-change",
                title="t",
                body="b",
                created_at=uow.now,
            )
        )
    assert broken.calls == [True, False]  # in the transaction, then after the commit
    assert await Notification.count().where(Notification.template == "the-change") == 1
    assert await Notification.count().where(Notification.template == "broken-inside") == 0
    assert await Notification.count().where(Notification.template == "broken-after") == 1
    assert (await stored(name))["status"] == "published"
