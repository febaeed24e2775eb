"""Webhooks end to end: a gig order's events reach a real local receiver, signed and in
order; retries by the site's clock; a hanging endpoint delays no other; replays; giving
up and resuming; two workers fanning out at once; the long-running worker sending in a
loop beside its sweeps."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest
from standardwebhooks.webhooks import Webhook
from test_orders import TestGigPlugin, fire_path, fund_credit, new_order
from webhook_receiver import Receiver, Reply, wait_until

from agorakit import worker as agorakit_worker
from agorakit.clock import FrozenClock
from agorakit.events import last_event_id
from agorakit.events.tables import StoredEvent
from agorakit.webhooks.fanout import fan_out
from agorakit.webhooks.tables import WebhookDelivery
from agorakit.worker import run_worker, sweep

SCHEDULE = [60, 600, 3600]


@pytest.fixture
def clock():
    # the real time: receivers check webhook-timestamp against their own clock
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def extra_plugins():
    return [("testgig", TestGigPlugin())]


@pytest.fixture
def site_config():
    return {
        "database": {"pool_max_size": 16},
        "webhooks": {
            "allow_private_addresses": True,
            "retry_schedule_seconds": SCHEDULE,
            "timeout_seconds": 5,
            "connect_timeout_seconds": 1,
        },
    }


@pytest.fixture
def receivers():
    started: list[Receiver] = []

    def start(*script: Reply, default: Reply | None = None) -> Receiver:
        started.append(Receiver(*script, default=default))
        return started[-1]

    yield start
    for receiver in started:
        receiver.close()


@pytest.fixture
async def operator(make_member):
    return await make_member(role="operator")


async def register(client, operator, url, event_types=("order.*",), **fields):
    response = await client.post(
        "/operator/webhooks",
        json={"url": url, "event_types": list(event_types), **fields},
        headers=operator.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def deliveries(client, operator, endpoint_id, **params):
    response = await client.get(
        f"/operator/webhooks/{endpoint_id}/deliveries", params=params, headers=operator.headers
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def gig_order(client, runtime, make_member):
    """A gig order paid, delivered and accepted: its events are stored."""
    buyer, seller = await make_member(), await make_member()
    await fund_credit(runtime, buyer.id)
    order = await new_order(runtime, buyer, seller)
    for who, name in ((buyer, "pay"), (seller, "deliver"), (buyer, "accept")):
        response = await client.post(fire_path(order.id, name), headers=who.headers)
        assert response.status_code == 200, response.text
    return order


async def stored_ids(prefix: str, after: int = 0) -> list[int]:
    rows = (
        await StoredEvent.select(StoredEvent.id, StoredEvent.name)
        .where(StoredEvent.id > after)
        .order_by(StoredEvent.id)
    )
    return [row["id"] for row in rows if row["name"].startswith(prefix)]


async def test_a_gig_orders_events_arrive_in_order_and_signed(
    client, runtime, make_member, operator, receivers
):
    before = await gig_order(client, runtime, make_member)  # stored before the endpoint: not sent
    receiver = receivers()
    endpoint = await register(client, operator, receiver.url)
    assert endpoint["secret"].startswith("whsec_") and endpoint["status"] == "active"
    registered_after = await last_event_id(runtime)
    order = await gig_order(client, runtime, make_member)
    report = await sweep(runtime)
    assert report.plugins["webhooks_delivered"] == len(receiver.requests) == 4

    expected = await stored_ids("order.", after=registered_after)
    assert [r.headers["webhook-id"] for r in receiver.requests] == [f"evt_{i}" for i in expected]
    verifier = Webhook(endpoint["secret"])
    for request in receiver.requests:
        body = verifier.verify(request.body, request.headers)
        assert body["id"] == request.headers["webhook-id"]
        assert body["data"]["order_id"] == order.id != before.id
        assert request.headers["content-type"] == "application/json"
        assert request.headers["user-agent"].startswith("agorakit-webhooks/")
    assert [e["type"] for e in receiver.events()] == ["order.created"] + ["order.transitioned"] * 3
    assert [e["data"].get("transition") for e in receiver.events()[1:]] == ["pay", "deliver", "accept"]

    listed = await deliveries(client, operator, endpoint["id"])
    assert [d["status"] for d in listed] == ["delivered"] * 4
    assert [d["event_id"] for d in listed] == [f"evt_{i}" for i in reversed(expected)]
    # nothing more to send: a second sweep sends nothing again
    await sweep(runtime)
    assert len(receiver.requests) == 4


async def test_a_receiver_that_fails_three_times_gets_the_event_when_it_recovers(
    client, runtime, make_member, operator, receivers, clock
):
    receiver = receivers(Reply(500, b"down"), Reply(500), Reply(502))
    endpoint = await register(client, operator, receiver.url, ["order.created"])
    await new_order(runtime, await make_member(), await make_member())
    await sweep(runtime)
    [delivery] = await deliveries(client, operator, endpoint["id"])
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("pending", 1, 500)
    assert delivery["next_attempt_at"] == (clock.now() + timedelta(seconds=60)).isoformat().replace(
        "+00:00", "Z"
    )
    await sweep(runtime)  # not due yet
    assert len(receiver.requests) == 1
    for wait in SCHEDULE:
        clock.advance(seconds=wait)
        await sweep(runtime)
    assert len(receiver.requests) == 4
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    detail = (
        await client.get(
            f"/operator/webhooks/{endpoint['id']}/deliveries/{delivery['id']}", headers=operator.headers
        )
    ).json()
    assert detail["delivery"]["status"] == "delivered"
    assert [a["status_code"] for a in detail["attempts"]] == [500, 500, 502, 200]
    assert [a["error"] for a in detail["attempts"]] == [
        "the endpoint answered 500",
        "the endpoint answered 500",
        "the endpoint answered 502",
        None,
    ]
    assert detail["attempts"][0]["response_body"] == "down"


async def test_the_workers_next_due_is_the_next_retry(
    client, runtime, make_member, operator, receivers, clock
):
    from agorakit.worker import next_due

    receiver = receivers(Reply(503))
    await register(client, operator, receiver.url, ["order.created"])
    await new_order(runtime, await make_member(), await make_member())
    await sweep(runtime)
    assert await next_due(runtime, after=clock.now()) == clock.now() + timedelta(seconds=60)


async def test_a_hanging_endpoint_does_not_delay_another(client, runtime, make_member, operator, receivers):
    hanging = receivers(Reply(hang=True))
    quick = receivers()
    slow_endpoint = await register(client, operator, hanging.url)
    await register(client, operator, quick.url)
    await gig_order(client, runtime, make_member)
    worker = asyncio.create_task(sweep(runtime))
    try:
        await wait_until(lambda: len(quick.requests) == 4, seconds=4)
        # the other endpoint got every event while the first answer is still awaited
        assert len(hanging.requests) == 1 and not worker.done()
        waiting = await deliveries(client, operator, slow_endpoint["id"])
        assert [(d["status"], d["attempts"]) for d in waiting] == [("pending", 0)] * 4
    finally:
        hanging.release()
        report = await worker
    assert report.plugins["webhooks_delivered"] == 8
    assert [r.headers["webhook-id"] for r in hanging.requests] == [
        r.headers["webhook-id"] for r in quick.requests
    ]


class TestTimeout:
    @pytest.fixture
    def site_config(self):
        return {"webhooks": {"allow_private_addresses": True, "timeout_seconds": 0.3}}

    async def test_an_answer_later_than_the_timeout_is_a_failed_attempt(
        self, client, runtime, make_member, operator, receivers
    ):
        hanging = receivers(Reply(hang=True))
        endpoint = await register(client, operator, hanging.url, ["order.created"])
        await new_order(runtime, await make_member(), await make_member())
        report = await sweep(runtime)
        assert report.plugins["webhooks_retried"] == 1
        [delivery] = await deliveries(client, operator, endpoint["id"])
        assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == (
            "pending",
            1,
            None,
        )
        assert delivery["last_error"] == "no answer within 0.3 s"


async def test_replay_resends_with_the_same_webhook_id(client, runtime, make_member, operator, receivers):
    receiver = receivers()
    endpoint = await register(client, operator, receiver.url)
    await gig_order(client, runtime, make_member)
    await sweep(runtime)
    oldest = (await deliveries(client, operator, endpoint["id"]))[-1]
    replayed = await client.post(
        f"/operator/webhooks/{endpoint['id']}/deliveries/{oldest['id']}/replay", headers=operator.headers
    )
    assert replayed.status_code == 201, replayed.text
    assert (replayed.json()["status"], replayed.json()["replay"]) == ("pending", True)
    assert replayed.json()["event_id"] == oldest["event_id"]
    await sweep(runtime)
    assert len(receiver.requests) == 5
    assert receiver.requests[-1].headers["webhook-id"] == oldest["event_id"]
    assert receiver.requests[-1].body == receiver.requests[0].body

    start = datetime(2000, 1, 1, tzinfo=UTC).isoformat()
    # in another timezone: the same instant a day from now
    end = (datetime.now(UTC) + timedelta(days=1)).astimezone(timezone(timedelta(hours=-5))).isoformat()
    ranged = await client.post(
        f"/operator/webhooks/{endpoint['id']}/replay",
        json={"from": start, "to": end},
        headers=operator.headers,
    )
    assert ranged.status_code == 200, ranged.text
    assert ranged.json() == {"queued": 4}
    await sweep(runtime)
    assert [r.headers["webhook-id"] for r in receiver.requests[5:]] == [
        r.headers["webhook-id"] for r in receiver.requests[:4]
    ]
    empty = await client.post(
        f"/operator/webhooks/{endpoint['id']}/replay",
        json={"from": start, "to": "2000-01-02T00:00:00Z"},
        headers=operator.headers,
    )
    assert empty.json() == {"queued": 0}


async def test_giving_up_makes_the_endpoint_failing_until_resumed(
    client, runtime, make_member, operator, receivers, clock
):
    receiver = receivers(default=Reply(500))
    endpoint = await register(client, operator, receiver.url, ["order.created", "webhook.*"])
    watcher = receivers()
    await register(client, operator, watcher.url, ["*"])  # "*" does not take webhook.* events
    watcher_explicit = receivers()
    await register(client, operator, watcher_explicit.url, ["webhook.endpoint_failing"])
    buyer, seller = await make_member(), await make_member()
    await new_order(runtime, buyer, seller)
    await sweep(runtime)
    for wait in SCHEDULE:
        clock.advance(seconds=wait)
        await sweep(runtime)
    assert len(receiver.requests) == 1 + len(SCHEDULE)
    shown = (await client.get(f"/operator/webhooks/{endpoint['id']}", headers=operator.headers)).json()
    assert (shown["status"], shown["failing_since"], shown["failed"]) == (
        "failing",
        clock.now().isoformat().replace("+00:00", "Z"),
        1,
    )
    # operators are told: a notice, the queue, the event (to the endpoint that asked for it)
    notices = (await client.get("/notifications", headers=operator.headers)).json()["items"]
    told = [n for n in notices if n["template"] == "webhook_endpoint_failing"]
    assert len(told) == 1 and told[0]["link"] == f"/operator/webhooks/{endpoint['id']}"
    queues = (await client.get("/operator/queues", headers=operator.headers)).json()["queues"]
    [queue] = [q for q in queues if q["key"] == "webhooks.failing"]
    assert (queue["count"], queue["list_path"]) == (1, "/operator/webhooks?status=failing")
    await sweep(runtime)
    assert [e["type"] for e in watcher_explicit.events()] == ["webhook.endpoint_failing"]
    assert watcher_explicit.events()[0]["data"]["endpoint_id"] == endpoint["id"]
    assert "order.created" in [e["type"] for e in watcher.events()]
    assert not [e for e in watcher.events() if e["type"].startswith("webhook.")]

    # later deliveries wait (queued, not sent), even once the receiver works again
    receiver.default = Reply(200)
    await new_order(runtime, buyer, seller)
    await new_order(runtime, buyer, seller)
    clock.advance(days=1)
    await sweep(runtime)
    assert len(receiver.requests) == 1 + len(SCHEDULE)
    waiting = await deliveries(client, operator, endpoint["id"], status="pending")
    assert len(waiting) == 2  # its own webhook.endpoint_failing is not sent to it
    failing = await client.get("/operator/webhooks", params={"status": "failing"}, headers=operator.headers)
    assert [e["id"] for e in failing.json()["items"]] == [endpoint["id"]]

    resumed = await client.post(f"/operator/webhooks/{endpoint['id']}/resume", headers=operator.headers)
    assert resumed.status_code == 200, resumed.text
    assert (resumed.json()["status"], resumed.json()["failing_since"]) == ("active", None)
    await sweep(runtime)
    sent = [r.json()["id"] for r in receiver.requests[1 + len(SCHEDULE) :]]
    assert sent == [d["event_id"] for d in reversed(waiting)]
    assert await deliveries(client, operator, endpoint["id"], status="pending") == []


async def test_disabled_endpoints_get_nothing_queued(client, runtime, make_member, operator, receivers):
    receiver = receivers()
    endpoint = await register(client, operator, receiver.url, enabled=False)
    assert endpoint["status"] == "disabled"
    await gig_order(client, runtime, make_member)
    await sweep(runtime)
    assert receiver.requests == [] and await deliveries(client, operator, endpoint["id"]) == []
    enabled = await client.patch(
        f"/operator/webhooks/{endpoint['id']}", json={"enabled": True}, headers=operator.headers
    )
    assert enabled.json()["status"] == "active"
    await new_order(runtime, await make_member(), await make_member())
    await sweep(runtime)
    assert [e["type"] for e in receiver.events()] == ["order.created"]


@pytest.mark.postgres_only("two workers' transactions interleave only on PostgreSQL")
async def test_two_fan_outs_at_once_queue_each_delivery_once(
    client, runtime, make_member, operator, receivers
):
    endpoints = [await register(client, operator, receivers().url, ["*"]) for _ in range(3)]
    registered_after = await last_event_id(runtime)
    for _ in range(3):
        await gig_order(client, runtime, make_member)
    events = await stored_ids("", after=registered_after)
    results = await asyncio.gather(*(fan_out(runtime) for _ in range(4)))
    rows = await WebhookDelivery.select(WebhookDelivery.endpoint_id, WebhookDelivery.event_id)
    pairs = [(row["endpoint_id"], row["event_id"]) for row in rows]
    assert len(pairs) == len(set(pairs)) == sum(results)
    assert {endpoint_id for endpoint_id, _ in pairs} == {e["id"] for e in endpoints}
    assert len(pairs) == 3 * len(events)  # every event stored after the endpoints, to each


async def test_retry_after_within_the_schedule_is_honoured(
    client, runtime, make_member, operator, receivers, clock
):
    polite = receivers(Reply(429, headers={"Retry-After": "600"}))
    pushy = receivers(Reply(503, b"\x00busy", headers={"Retry-After": "999999"}))
    honoured = await register(client, operator, polite.url, ["order.created"])
    beyond = await register(client, operator, pushy.url, ["order.created"])
    await new_order(runtime, await make_member(), await make_member())
    await sweep(runtime)
    [first] = await deliveries(client, operator, honoured["id"])
    [second] = await deliveries(client, operator, beyond["id"])
    later = clock.now() + timedelta(seconds=600)
    assert first["next_attempt_at"] == later.isoformat().replace("+00:00", "Z")
    # beyond the schedule's longest wait: the schedule's own first wait
    assert second["next_attempt_at"] == (clock.now() + timedelta(seconds=60)).isoformat().replace(
        "+00:00", "Z"
    )
    detail = (
        await client.get(
            f"/operator/webhooks/{beyond['id']}/deliveries/{second['id']}", headers=operator.headers
        )
    ).json()
    assert detail["attempts"][0]["response_body"] == "\ufffdbusy"


async def test_an_endpoint_nobody_listens_on_is_a_failed_attempt(
    client, runtime, make_member, operator, receivers
):
    gone = receivers()
    url = gone.url
    gone.close()
    endpoint = await register(client, operator, url, ["order.created"])
    await new_order(runtime, await make_member(), await make_member())
    await sweep(runtime)
    [delivery] = await deliveries(client, operator, endpoint["id"])
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("pending", 1, None)
    assert delivery["last_error"].startswith("connection failed: ")


async def test_two_senders_at_once_send_each_delivery_once_in_order(
    client, runtime, make_member, operator, receivers
):
    from agorakit.webhooks.sender import send_due

    started = [receivers() for _ in range(3)]
    for receiver in started:
        await register(client, operator, receiver.url)
    await gig_order(client, runtime, make_member)
    await gig_order(client, runtime, make_member)
    await fan_out(runtime)
    reports = await asyncio.gather(*(send_due(runtime) for _ in range(3)))
    assert sum(report.get("webhooks_delivered", 0) for report in reports) == 3 * 8
    for receiver in started:
        ids = [int(r.headers["webhook-id"].removeprefix("evt_")) for r in receiver.requests]
        assert len(ids) == 8 and ids == sorted(set(ids))


class TestOnATestClock:
    @pytest.fixture
    def site_config(self):
        return {
            "site": {"environment": "development"},
            "dev": {"test_clock": True},
            "webhooks": {"allow_private_addresses": True, "retry_schedule_seconds": SCHEDULE},
        }

    async def test_advancing_the_clock_stops_at_each_retry(
        self, client, runtime, make_member, operator, receivers
    ):
        receiver = receivers(Reply(500), Reply(500))
        endpoint = await register(client, operator, receiver.url, ["order.created"])
        await new_order(runtime, await make_member(), await make_member())
        answer = await client.post("/operator/clock/advance", json={"by": "1h"}, headers=operator.headers)
        assert answer.status_code == 200, answer.text
        started = datetime.fromisoformat(answer.json()["started"])
        steps = [
            (datetime.fromisoformat(step["at"]) - started, step["report"]["plugins"])
            for step in answer.json()["steps"]
            if step["report"]["plugins"]
        ]
        assert steps == [
            (timedelta(0), {"webhooks_queued": 1, "webhooks_retried": 1}),
            (timedelta(seconds=60), {"webhooks_retried": 1}),
            (timedelta(seconds=660), {"webhooks_delivered": 1}),
        ]
        [delivery] = await deliveries(client, operator, endpoint["id"])
        assert (delivery["status"], delivery["attempts"]) == ("delivered", 3)


@pytest.fixture
def sweeps(monkeypatch):
    """Counts the worker's sweeps."""
    done: list[object] = []
    real = agorakit_worker.sweep

    async def counted(runtime, **kwargs):
        report = await real(runtime, **kwargs)
        done.append(report)
        return report

    monkeypatch.setattr(agorakit_worker, "sweep", counted)
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
    report = await agorakit_worker.sweep(runtime)
    assert report.plugins["webhooks_delivered"] == 4
    assert len(quick.requests) == 4
