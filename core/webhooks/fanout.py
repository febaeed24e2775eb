"""The fan-out: every stored event becomes a delivery to each endpoint that takes it.

The worker reads the event feed (:func:`agorakit.events.read_feed`) from the position
kept in ``core_webhook_feed`` and, in one transaction, queues a delivery per event and
enabled endpoint whose patterns match (and that existed when the event was stored), and
moves the position.  The position carries a version: the move is a compare-and-set, so
when two workers (two hosts) fan out at once, one of them moves it and the other rolls
back and reads again; no delivery is queued twice and no event is skipped.  The unique
index on (endpoint, event) of first deliveries makes a second insert a no-op besides.

Nothing here runs on a request's path: requests only store their events.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from agorakit.events import FeedPosition, read_feed
from agorakit.webhooks.service import FEED_ROW, patterns_of, subscribes
from agorakit.webhooks.tables import WebhookDelivery, WebhookEndpoint, WebhookFeed

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.events import DomainEvent
    from agorakit.runtime import Runtime

log = logging.getLogger("agorakit.webhooks")

#: feed reads one fan-out makes at most (each of ``[webhooks] fanout_batch`` events)
MAX_ROUNDS = 20


class _PositionMoved(Exception):
    """Another worker moved the fan-out's position since it was read."""


def _takes(endpoint: dict, patterns: list[str], event: DomainEvent) -> bool:
    """Whether ``endpoint`` gets ``event``: stored after it was registered, of a type it
    subscribes to, and not a ``webhook.*`` event about itself."""
    assert event.id is not None
    if event.id <= endpoint["start_after_event_id"] or not subscribes(patterns, event.name):
        return False
    return not (event.name.startswith("webhook.") and event.data.get("endpoint_id") == endpoint["id"])


async def fan_out(runtime: Runtime) -> int:
    """Queue the deliveries of the events stored since the last fan-out; how many were
    queued.  Call it outside a transaction (it reads the feed)."""
    queued = 0
    for _ in range(MAX_ROUNDS):
        row = await WebhookFeed.select().where(WebhookFeed.id == FEED_ROW).first()
        if row is None:  # no endpoint was ever registered
            return queued
        position = FeedPosition.decode(row["position"])
        batch = await read_feed(runtime, position, limit=runtime.settings.webhooks.fanout_batch)
        moved = batch.position.encode().decode()
        if not batch.events and moved == row["position"]:
            return queued
        endpoints = await WebhookEndpoint.select(
            WebhookEndpoint.id, WebhookEndpoint.event_types, WebhookEndpoint.start_after_event_id
        ).where((WebhookEndpoint.enabled == True) & WebhookEndpoint.deleted_at.is_null())  # noqa: E712
        subscribed = [(endpoint, patterns_of(endpoint)) for endpoint in endpoints]
        try:
            async with runtime.unit_of_work() as uow:
                won = await (
                    WebhookFeed.update({WebhookFeed.position: moved, WebhookFeed.version: row["version"] + 1})
                    .where((WebhookFeed.id == FEED_ROW) & (WebhookFeed.version == row["version"]))
                    .returning(WebhookFeed.id)
                )
                if not won:
                    raise _PositionMoved
                deliveries = [
                    WebhookDelivery(
                        endpoint_id=endpoint["id"],
                        event_id=event.id,
                        event_type=event.name,
                        status="pending",
                        attempts=0,
                        next_attempt_at=uow.now,
                        created_at=uow.now,
                        replay=False,
                    )
                    for event in batch.events
                    for endpoint, patterns in subscribed
                    if _takes(endpoint, patterns, event)
                ]
                for start in range(0, len(deliveries), 500):
                    await WebhookDelivery.insert(*deliveries[start : start + 500]).on_conflict(
                        action="DO NOTHING"
                    )
        except _PositionMoved:
            log.debug("webhooks fan-out: another worker moved the position; reading again")
            continue
        queued += len(deliveries)
        if not batch.more:
            break
    return queued
