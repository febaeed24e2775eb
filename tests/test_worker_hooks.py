"""Plugins' work on the worker's sweep (``agorakit_sweep``), the instants it falls due
(``agorakit_next_due``), which a test clock advancing through time stops at, and the loops
a long-running worker runs beside its sweeps (``agorakit_worker_loops``)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from agorakit import hookimpl
from agorakit.hooks import get_plugin_manager
from agorakit.runtime import Runtime
from agorakit.worker import next_due, run_worker, sweep


class Reminders:
    """A plugin with one reminder due at a fixed instant."""

    def __init__(self, due):
        self.due = due
        self.sent = 0

    @hookimpl
    async def agorakit_sweep(self, runtime):
        if self.due is not None and runtime.clock.now() >= self.due:
            self.sent += 1
            self.due = None
            return {"reminders_sent": 1, "reminders_skipped": 0}
        return {"reminders_sent": 0}

    @hookimpl
    def agorakit_next_due(self, runtime, after, until):
        if self.due is None:
            return None
        if after is not None:
            return self.due if self.due > after else None
        return self.due if until is not None and self.due <= until else None


def _runtime(runtime, plugin) -> Runtime:
    pm = get_plugin_manager([], extra=[("reminders", plugin)])
    return Runtime(runtime.settings, pm=pm, clock=runtime.clock)


async def test_hook_agorakit_sweep(runtime):
    now = runtime.clock.now()
    plugin = Reminders(now + timedelta(hours=1))
    rt = _runtime(runtime, plugin)

    report = await sweep(rt, refresh_clock=False)
    assert report.plugins == {}  # nothing due: zero counts are not reported
    assert plugin.sent == 0

    runtime.clock.advance(timedelta(hours=1))
    report = await sweep(rt, refresh_clock=False)
    assert report.plugins == {"reminders_sent": 1}
    assert plugin.sent == 1
    assert (await sweep(rt, refresh_clock=False)).plugins == {}  # done once


async def test_hook_agorakit_next_due(runtime):
    now = runtime.clock.now()
    plugin = Reminders(now + timedelta(minutes=90))
    rt = _runtime(runtime, plugin)

    assert await next_due(rt, after=now) == now + timedelta(minutes=90)
    assert await next_due(rt, after=now + timedelta(hours=2)) is None
    assert await next_due(rt, until=now) is None
    assert await next_due(rt, until=now + timedelta(hours=2)) == now + timedelta(minutes=90)


class Heartbeat:
    """A plugin with a loop that beats until the worker stops it."""

    def __init__(self):
        self.beats = 0
        self.stopped = False
        self.names_seen: frozenset[str] = frozenset()

    async def loop(self, runtime, stop):
        self.names_seen = runtime.worker_loops
        while not stop.is_set():
            self.beats += 1
            try:
                await asyncio.wait_for(stop.wait(), timeout=0.01)
            except TimeoutError:
                pass
        self.stopped = True

    @hookimpl
    def agorakit_worker_loops(self, runtime):
        return {"heartbeat": self.loop}


async def test_hook_agorakit_worker_loops(runtime):
    plugin = Heartbeat()
    rt = _runtime(runtime, plugin)
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(rt, interval=0.01, stop=stop))
    deadline = asyncio.get_running_loop().time() + 5
    while plugin.beats < 3:
        assert asyncio.get_running_loop().time() < deadline, "the loop never ran"
        await asyncio.sleep(0.01)
    assert "heartbeat" in rt.worker_loops and "webhooks" in rt.worker_loops  # the core sends webhooks
    stop.set()
    sweeps = await worker
    assert sweeps >= 1
    assert plugin.stopped and "heartbeat" in plugin.names_seen
    assert rt.worker_loops == frozenset()  # the loops stopped with the worker


async def test_two_worker_loops_of_one_name_are_refused(runtime):
    class Twin(Heartbeat):
        pass

    pm = get_plugin_manager([], extra=[("a", Heartbeat()), ("b", Twin())])
    rt = Runtime(runtime.settings, pm=pm, clock=runtime.clock)
    with pytest.raises(ValueError, match="two plugins contribute a worker loop named 'heartbeat'"):
        await run_worker(rt, interval=0.01, sweeps=1)
