"""A plugin's own typed events leave the site like the core's: to a webhook endpoint that
subscribes to them and through the events feed, without the fields the class keeps
private."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook
from webhook_receiver import Receiver

from agorakit import hookimpl
from agorakit.clock import FrozenClock
from agorakit.events import Event
from agorakit.worker import sweep


class ParcelShipped(Event, frozen=True, kw_only=True):
    """A parcel left the warehouse."""

    name = "shipping.parcel_shipped"
    private_fields = frozenset({"recipient_phone"})
    parcel_id: int
    carrier: str
    weight_grams: int
    recipient_phone: str


class ShippingPlugin:
    @hookimpl
    def agorakit_event_types(self):
        return [ParcelShipped]


@pytest.fixture
def clock():
    # the real time: the receiver's verifier checks webhook-timestamp against its clock
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def extra_plugins():
    return [("shipping", ShippingPlugin())]


@pytest.fixture
def site_config():
    return {"webhooks": {"allow_private_addresses": True}}


@pytest.fixture
def receiver():
    started = Receiver()
    yield started
    started.close()


async def ship(runtime, parcel_id: int) -> None:
    async with runtime.unit_of_work() as uow:
        uow.record(
            ParcelShipped(parcel_id=parcel_id, carrier="DHL", weight_grams=1250, recipient_phone="+33 6 12"),
            subject=f"parcel:{parcel_id}",
        )


async def test_a_plugins_event_is_delivered_and_listed_like_the_cores(
    client, runtime, make_operator, receiver
):
    operator = await make_operator()
    made = await client.post(
        "/operator/webhooks",
        json={"url": receiver.url, "event_types": ["shipping.*"]},
        headers=operator.headers,
    )
    assert made.status_code == 201, made.text
    secret = made.json()["secret"]
    await ship(runtime, 7)
    report = await sweep(runtime)
    assert report.plugins["webhooks_delivered"] == 1

    [request] = receiver.requests
    verified = Webhook(secret).verify(request.body, request.headers)
    assert verified["type"] == "shipping.parcel_shipped"
    assert verified["data"] == {"parcel_id": 7, "carrier": "DHL", "weight_grams": 1250}
    assert request.headers["webhook-id"] == verified["id"]

    feed = await client.get("/events", params={"types": "shipping.*"}, headers=operator.headers)
    assert feed.status_code == 200, feed.text
    [item] = feed.json()["items"]
    assert item == verified  # the feed and the webhook send the same public form

    types = await client.get("/events/types", headers=operator.headers)
    [described] = [t for t in types.json()["items"] if t["name"] == "shipping.parcel_shipped"]
    assert [field["name"] for field in described["fields"]] == ["parcel_id", "carrier", "weight_grams"]
