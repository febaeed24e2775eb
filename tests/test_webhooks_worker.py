"""Webhooks in a long-running worker: they are sent by the worker's loop, beside its
sweeps, so that a hanging endpoint holds up neither another endpoint nor the sweeps
(timers, emails)."""

from __future__ import annotations

import asyncio

import pytest
from test_webhooks import (  # noqa: F401 - fixtures
    clock,
    deliveries,
    extra_plugins,
    gig_order,
    operator,
    receivers,
    register,
    site_config,
)
from webhook_receiver import Reply, wait_until

from agorakit import worker
from agorakit.worker import run_worker


@pytest.fixture
def sweeps(monkeypatch):
    """Counts the worker's sweeps."""
    done: list[object] = []
    real = worker.sweep

    async def counted(runtime, **kwargs):
        report = await real(runtime, **kwargs)
        done.append(report)
        return report

    monkeypatch.setattr(worker, "sweep", counted)
    return done


async def test_the_worker_sends_beside_its_sweeps_and_a_hanging_endpoint_holds_up_neither(
    client, runtime, make_member, operator, receivers, sweeps
):
    hanging = receivers(Reply(hang=True))
    quick = receivers()
    slow_endpoint = await register(client, operator, hanging.url)
    await register(client, operator, quick.url)
    stop = asyncio.Event()
    running = asyncio.create_task(run_worker(runtime, interval=0.05, stop=stop))
    try:
        await wait_until(lambda: runtime.worker_loops == {"webhooks"}, seconds=5)
        await gig_order(client, runtime, make_member)
        # the loop picks the events up by itself (no sweep sends them) ...
        await wait_until(lambda: len(quick.requests) == 4, seconds=10)
        assert len(hanging.requests) == 1
        # ... and the sweeps go on while the first endpoint's answer is still awaited
        seen = len(sweeps)
        await wait_until(lambda: len(sweeps) >= seen + 3, seconds=5)
        assert len(hanging.requests) == 1
        assert all("webhooks_delivered" not in report.plugins for report in sweeps)
        waiting = await deliveries(client, operator, slow_endpoint["id"])
        assert [(d["status"], d["attempts"]) for d in waiting] == [("pending", 0)] * 4
        hanging.release()
        await wait_until(lambda: len(hanging.requests) == 4, seconds=10)
    finally:
        hanging.release()
        stop.set()
        await running
    assert runtime.worker_loops == frozenset()
    assert [r.headers["webhook-id"] for r in hanging.requests] == [
        r.headers["webhook-id"] for r in quick.requests
    ]
    sent = await deliveries(client, operator, slow_endpoint["id"])
    assert [d["status"] for d in sent] == ["delivered"] * 4


async def test_a_lone_sweep_still_sends(client, runtime, make_member, operator, receivers):
    quick = receivers()
    await register(client, operator, quick.url)
    await gig_order(client, runtime, make_member)
    report = await worker.sweep(runtime)
    assert report.plugins["webhooks_delivered"] == 4
    assert len(quick.requests) == 4
