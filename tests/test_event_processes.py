"""The process registry: the worker publishes at once what a gone process left pending,
and leaves a live process's recent events to it (both engines)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from event_helpers import make_event

from agorakit import hookimpl
from agorakit.events import DomainEvent
from agorakit.events.outbox import REPUBLISH_AFTER, republish_events, store
from agorakit.events.processes import ProcessRegistration, host_key, pid_started
from agorakit.events.tables import ServerProcess, StoredEvent
from agorakit.worker import sweep


class Recorder:
    def __init__(self) -> None:
        self.seen: list[int] = []
        self.failing = False
        self.gate: asyncio.Event | None = None

    @hookimpl
    async def agorakit_on_event(self, event):
        if self.gate is not None:
            await self.gate.wait()
        if self.failing:
            raise RuntimeError("handler down")
        self.seen.append(event.id)


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def extra_plugins(recorder):
    return [("recorder", recorder)]


@pytest.fixture
async def worker(runtime):
    """The sweeping process: the runtime registered as a worker (no heartbeat task; the
    tests beat by hand with the frozen clock)."""
    runtime.process = ProcessRegistration(runtime, "worker")
    await runtime.process.register()
    yield runtime.process
    runtime.process = None


async def other_process(runtime, kind: str = "app") -> ProcessRegistration:
    """Another registered process on this host (it shares this test's pid)."""
    process = ProcessRegistration(runtime, kind)
    await process.register()
    return process


async def left_pending(runtime, process_id: int | None, subject: str = "test:1") -> int:
    """An event committed by ``process_id`` that it never published: it died in between."""
    event = DomainEvent(name="test.happened", at=runtime.clock.now(), subject=subject)
    async with runtime.db.transaction():
        [stored] = await store([event], process_id)
    return stored.id


async def event_row(event_id: int) -> dict:
    return await StoredEvent.select().where(StoredEvent.id == event_id).first()


async def registered() -> list[int]:
    return sorted(row["id"] for row in await ServerProcess.select(ServerProcess.id))


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


async def test_events_of_a_killed_process_are_republished_by_the_next_sweep_at_once(
    runtime, worker, recorder
):
    app = await other_process(runtime)
    await ServerProcess.update({ServerProcess.pid: dead_pid()}).where(ServerProcess.id == app.id)
    first = await left_pending(runtime, app.id, "test:1")
    second = await left_pending(runtime, app.id, "test:2")

    report = await sweep(runtime)  # same instant: its heartbeat is fresh, but the pid is gone

    assert report.events_republished == [first, second]
    assert recorder.seen == [first, second]
    for event_id in (first, second):
        row = await event_row(event_id)
        assert (row["status"], row["attempts"], row["process_id"]) == ("published", 0, worker.id)
        assert row["claimed_at"] == runtime.clock.now()
    assert await registered() == [worker.id]  # the gone process's row is deleted
    assert (await sweep(runtime)).events_republished == []


async def test_a_reused_pid_does_not_keep_a_dead_process_alive(runtime, worker, recorder):
    app = await other_process(runtime)  # our own pid, but started at another time
    await ServerProcess.update({ServerProcess.pid_started: app._row()["pid_started"] + 1}).where(
        ServerProcess.id == app.id
    )
    event_id = await left_pending(runtime, app.id)
    assert (await sweep(runtime)).events_republished == [event_id]
    assert recorder.seen == [event_id]


async def test_a_process_without_heartbeat_counts_as_gone_after_the_timeout(runtime, worker, recorder, clock):
    app = await other_process(runtime)  # its pid runs: only the heartbeat tells
    event_id = await left_pending(runtime, app.id)
    timeout = runtime.settings.events.process_timeout_seconds
    assert timeout == 15 and timedelta(seconds=timeout) < REPUBLISH_AFTER

    clock.advance(seconds=timeout - 1)
    assert (await sweep(runtime)).events_republished == []
    clock.advance(seconds=2)  # no heartbeat for longer than the timeout
    assert (await sweep(runtime)).events_republished == [event_id]
    assert recorder.seen == [event_id]
    assert await registered() == [worker.id]


async def test_a_live_process_keeps_its_recent_events_for_thirty_seconds(runtime, worker, recorder, clock):
    app = await other_process(runtime)
    event_id = await left_pending(runtime, app.id)  # being published by its request right now
    for _ in range(2):
        clock.advance(seconds=10)
        await app.beat()
        assert (await ServerProcess.select().where(ServerProcess.id == app.id).first())[
            "heartbeat_at"
        ] == clock.now()
        assert (await sweep(runtime)).events_republished == []
    assert recorder.seen == []
    assert (await event_row(event_id))["status"] == "pending"

    clock.advance(seconds=10)  # 30 s after it happened: the worker takes it after all
    await app.beat()
    assert (await sweep(runtime)).events_republished == [event_id]
    assert await registered() == sorted([worker.id, app.id])


async def test_a_clean_stop_deregisters_and_its_pending_events_go_out_at_once(
    runtime, worker, recorder, clock
):
    app = ProcessRegistration(runtime, "app")
    await app.start()
    assert app.task is not None and await registered() == sorted([worker.id, app.id])
    event_id = await left_pending(runtime, app.id)
    app_id = app.id

    await app.stop()

    assert app.id is None and app.task is None
    assert await registered() == [worker.id]
    assert (await event_row(event_id))["process_id"] == app_id
    assert (await sweep(runtime)).events_republished == [event_id]
    assert recorder.seen == [event_id]


async def test_a_served_process_left_events_queued_at_shutdown_the_sweep_takes_them_at_once(
    runtime, recorder
):
    recorder.gate = asyncio.Event()  # the handler hangs: the dispatcher cannot finish
    await runtime.start_process("app")
    await runtime.dispatcher.start()
    try:
        async with runtime.unit_of_work() as uow:
            uow.record(make_event("test.queued"), subject="test:1")
        [row] = await StoredEvent.select().where(StoredEvent.name == "test.queued")
        assert (row["status"], row["process_id"]) == ("pending", runtime.process_id)
        await runtime.dispatcher.stop(timeout=0.05)
        await runtime.stop_process()
        assert runtime.process_id is None and await registered() == []
    finally:
        await runtime.dispatcher.stop(timeout=0.05)
        await runtime.stop_process()

    recorder.gate = None
    await runtime.start_process("worker")  # the next sweep, at the same instant
    try:
        assert (await sweep(runtime)).events_republished == [row["id"]]
        assert recorder.seen == [row["id"]]
    finally:
        await runtime.stop_process()


async def test_a_republished_event_that_fails_again_waits_while_its_worker_lives(
    runtime, worker, recorder, clock
):
    event_id = await left_pending(runtime, dead_process_id := 10_000)  # never registered
    recorder.failing = True
    assert (await sweep(runtime)).events_republished == [event_id]
    row = await event_row(event_id)
    assert (row["status"], row["attempts"], row["process_id"]) == ("pending", 1, worker.id)

    clock.advance(seconds=29)
    await worker.beat()
    assert (await sweep(runtime)).events_republished == []  # its (live) worker may retry it
    recorder.failing = False
    clock.advance(seconds=1)
    assert (await sweep(runtime)).events_republished == [event_id]
    assert (await event_row(event_id))["status"] == "published"
    assert dead_process_id not in await registered()


async def test_events_of_no_registered_process_wait_thirty_seconds(runtime, worker, recorder, clock):
    event_id = await left_pending(runtime, None)  # a one-off command or an older version
    clock.advance(REPUBLISH_AFTER - timedelta(seconds=1))
    await worker.beat()
    assert (await sweep(runtime)).events_republished == []
    clock.advance(seconds=1)
    assert (await sweep(runtime)).events_republished == [event_id]


async def test_a_process_taken_for_gone_registers_again_under_its_id(runtime, worker, clock):
    app = await other_process(runtime)
    clock.advance(seconds=60)  # its loop stalled past the timeout
    await worker.beat()
    await sweep(runtime)
    assert await registered() == [worker.id]
    await app.beat()
    [row] = await ServerProcess.select().where(ServerProcess.id == app.id)
    assert (row["kind"], row["pid"], row["host"], row["heartbeat_at"]) == (
        "app",
        os.getpid(),
        host_key(),
        clock.now(),
    )
    assert row["pid_started"] == pid_started(os.getpid()) > 0


async def test_a_unit_of_work_stores_its_events_with_the_process_id(runtime, worker, recorder):
    async with runtime.unit_of_work() as uow:
        uow.record(make_event("test.one"), subject="test:1")
        uow.record(make_event("test.two"), subject="test:1")
    rows = await StoredEvent.select(StoredEvent.process_id, StoredEvent.status).order_by(StoredEvent.id)
    assert rows == [{"process_id": worker.id, "status": "published"}] * 2


def test_a_timeout_shorter_than_two_heartbeats_is_a_config_error():
    from agorakit.settings import ConfigError, settings_from_dict

    data = {
        "auth": {"jwt_secret": "k" * 40},
        "events": {"heartbeat_seconds": 10, "process_timeout_seconds": 15},
    }
    with pytest.raises(ConfigError) as raised:
        settings_from_dict(data, source="site.toml", environ={})
    assert "process_timeout_seconds (15) must be at least twice heartbeat_seconds (10)" in str(raised.value)


async def test_two_sweeps_at_once_take_each_left_event_once(runtime, worker, recorder):
    left = [await left_pending(runtime, 10_000, f"test:{n}") for n in range(12)]  # an unknown, gone process
    first, second = await asyncio.gather(
        republish_events(runtime, limit=8), republish_events(runtime, limit=8)
    )
    assert sorted(first + second) == left  # claimed for this worker by one sweep: not by the other
    assert sorted(recorder.seen) == left
    rows = await StoredEvent.select(StoredEvent.status, StoredEvent.process_id)
    assert {(row["status"], row["process_id"]) for row in rows} == {("published", worker.id)}
