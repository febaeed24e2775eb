"""Background delivery of committed events (``agorakit.events.dispatcher``), on both engines."""

from __future__ import annotations

import asyncio

import pytest
from event_helpers import make_event

from agorakit import hookimpl
from agorakit.accounts.events import MemberRegistered
from agorakit.events.dispatcher import EventDispatcher
from agorakit.events.outbox import republish_events
from agorakit.events.tables import StoredEvent


class Gate:
    """Records events; ``test.slow`` and ``member.registered`` wait until the gate opens."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.open = asyncio.Event()

    @hookimpl
    async def agorakit_on_event(self, event, runtime):
        if event.name == "test.slow" or isinstance(event.payload, MemberRegistered):
            await self.open.wait()
        if event.name == "test.parent":  # a handler with its own unit of work
            async with runtime.unit_of_work() as uow:
                uow.record(make_event("test.child"), subject="test:1")
        self.seen.append(event.name)


@pytest.fixture
def gate():
    return Gate()


@pytest.fixture
def extra_plugins(gate):
    return [("gate", gate)]


@pytest.fixture
async def background(runtime):
    await runtime.dispatcher.start()
    yield runtime.dispatcher
    await runtime.dispatcher.stop(timeout=1)


async def record(runtime, name: str) -> None:
    async with runtime.unit_of_work() as uow:
        uow.record(make_event(name), subject="test:1")


async def statuses(*names: str) -> list[str]:
    rows = await StoredEvent.select(StoredEvent.status).where(StoredEvent.name.is_in(list(names)))
    return sorted(r["status"] for r in rows)


async def test_a_unit_of_work_returns_before_its_events_are_delivered(runtime, background, gate):
    await record(runtime, "test.slow")
    await record(runtime, "test.two")
    await record(runtime, "test.three")
    assert gate.seen == []  # committed and queued; nothing delivered inside the unit of work
    assert await statuses("test.slow", "test.two", "test.three") == ["pending"] * 3
    gate.open.set()
    await background.drain()
    assert gate.seen == ["test.slow", "test.two", "test.three"]  # commit order
    assert await statuses("test.slow", "test.two", "test.three") == ["published"] * 3


async def test_a_request_is_answered_while_its_handlers_wait(runtime, background, gate, client):
    """The HTTP request commits and answers; the handler runs after the response."""
    body = {
        "email": "ada@example.com",
        "password": "correct-horse-battery",
        "display_name": "Ada",
        "country": "GB",
    }
    response = await asyncio.wait_for(client.post("/auth/register", json=body), 10)
    assert response.status_code == 202, response.text
    assert gate.seen == []  # inline delivery would still be waiting at the gate
    gate.open.set()
    await background.drain()
    assert gate.seen == ["member.registered"]


async def test_a_handler_that_commits_its_own_events_does_not_wait_on_itself(runtime, background, gate):
    await record(runtime, "test.parent")
    await asyncio.wait_for(background.drain(), 5)
    assert gate.seen == ["test.child", "test.parent"]  # the child is delivered inline, inside
    assert await statuses("test.parent", "test.child") == ["published", "published"]


async def test_a_full_queue_makes_the_committer_deliver_its_own_events(runtime, gate):
    runtime.dispatcher = dispatcher = EventDispatcher(runtime, max_pending=1)
    await dispatcher.start()
    try:
        await record(runtime, "test.slow")  # taken by the task, which waits at the gate
        await asyncio.sleep(0.01)
        await record(runtime, "test.queued")  # fills the queue
        await record(runtime, "test.inline")  # no room: delivered before the unit of work returns
        assert gate.seen == ["test.inline"]
        gate.open.set()
        await dispatcher.drain()
        assert gate.seen == ["test.inline", "test.slow", "test.queued"]
    finally:
        await dispatcher.stop(timeout=1)


async def test_events_still_queued_at_shutdown_stay_pending_for_the_worker(runtime, gate, clock):
    await runtime.dispatcher.start()
    await record(runtime, "test.slow")
    await asyncio.sleep(0.01)
    await record(runtime, "test.after")
    await runtime.dispatcher.stop(timeout=0.05)  # the gate never opened
    assert not runtime.dispatcher.running
    assert gate.seen == []
    assert await statuses("test.slow", "test.after") == ["pending", "pending"]
    gate.open.set()
    clock.advance(seconds=31)
    assert len(await republish_events(runtime)) == 2  # what the worker's sweep does
    assert sorted(gate.seen) == ["test.after", "test.slow"]
    assert await statuses("test.slow", "test.after") == ["published", "published"]


async def test_inline_delivery_is_used_when_configured_or_not_served(runtime, gate):
    assert not runtime.dispatcher.running  # the tests' in-process client does not start it
    await record(runtime, "test.two")
    assert gate.seen == ["test.two"]
    assert runtime.settings.events.delivery == "background"


class TestInlineSetting:
    @pytest.fixture
    def site_config(self):
        return {"events": {"delivery": "inline"}}

    async def test_start_leaves_delivery_inline(self, runtime, gate):
        await runtime.start_background_delivery()
        assert not runtime.dispatcher.running
        await record(runtime, "test.two")
        assert gate.seen == ["test.two"]


async def test_a_nested_unit_of_work_publishes_when_the_outermost_commits(runtime, gate):
    """Inline or in the background, no handler sees an event before its transaction commits."""
    async with runtime.unit_of_work() as outer:
        outer.record(make_event("test.outer"), subject="test:1")
        async with runtime.unit_of_work() as inner:
            inner.record(make_event("test.inner"), subject="test:1")
        assert gate.seen == []  # the inner block is part of the outer transaction
    assert gate.seen == ["test.inner", "test.outer"]


async def test_a_nested_unit_of_work_rolled_back_with_its_outer_publishes_nothing(runtime, gate):
    with pytest.raises(RuntimeError):
        async with runtime.unit_of_work() as outer:
            outer.record(make_event("test.outer"), subject="test:1")
            async with runtime.unit_of_work() as inner:
                inner.record(make_event("test.inner"), subject="test:1")
            raise RuntimeError("roll back")
    assert gate.seen == []
    assert await statuses("test.outer", "test.inner") == []
