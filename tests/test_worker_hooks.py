"""Plugins' work on the worker's sweep (``agorakit_sweep``) and the instants it falls due
(``agorakit_next_due``), which a test clock advancing through time stops at."""

from __future__ import annotations

from datetime import timedelta

from agorakit import hookimpl
from agorakit.hooks import get_plugin_manager
from agorakit.runtime import Runtime
from agorakit.worker import next_due, sweep


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
