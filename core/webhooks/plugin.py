"""The core's own plugin for webhooks: its tables, routes, event, notices, queue, and
the worker's part (the fan-out of new events to the endpoints, then the sending)."""

from __future__ import annotations

from pathlib import Path

from agorakit import hookimpl
from agorakit.webhooks import sender
from agorakit.webhooks.controllers import OperatorWebhooksController
from agorakit.webhooks.events import EVENTS
from agorakit.webhooks.fanout import fan_out
from agorakit.webhooks.notices import failing_queue, webhook_notices
from agorakit.webhooks.piccolo_app import APP_CONFIG


@hookimpl
def agorakit_tables():

    return [APP_CONFIG]


@hookimpl
def agorakit_routes():

    return [OperatorWebhooksController]


@hookimpl
def agorakit_event_types():

    return EVENTS


@hookimpl
def agorakit_template_dirs():

    return [Path(__file__).parent / "templates"]


@hookimpl
async def agorakit_notify(event, runtime):
    """Operators hear of an endpoint that is failing."""

    return await webhook_notices(event)


@hookimpl
async def agorakit_operator_queues():
    """Webhook endpoints failing (no due rule: the longest failing first)."""

    return [await failing_queue()]


@hookimpl
async def agorakit_sweep(runtime):
    """A lone sweep (``agorakit tick``, a test clock's advance): queue the deliveries of
    the events stored since, then send what is due and wait for it.  A long-running
    worker leaves both to its loop (``agorakit_worker_loops``)."""

    if "webhooks" in runtime.worker_loops:
        return None
    queued = await fan_out(runtime)
    return {"webhooks_queued": queued, **await sender.send_due(runtime)}


@hookimpl
def agorakit_worker_loops():
    """The long-running worker sends webhooks beside its sweeps, so that a slow endpoint
    never holds up timers and emails."""

    return {"webhooks": sender.send_loop}


@hookimpl
async def agorakit_next_due(after, until):
    """When an endpoint's next delivery may be sent (a retry's time)."""

    return await sender.next_due(after, until)
