"""The events feed outside systems read: ``GET /events`` pages through every stored event
in order with a cursor, one whose transaction commits late included, and ``GET
/events/types`` describes them.  Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime

import msgspec
import pytest

from agorakit.events import DomainEvent, FeedGap, FeedPosition
from agorakit.events.outbox import store
from agorakit.events.tables import StoredEvent
from agorakit.integrations import feed


@pytest.fixture
def site_config(tmp_path):
    return {"site": {"plugins": ["gigs"]}, "attachments": {"path": str(tmp_path / "files")}}


@pytest.fixture
async def reader(client, make_operator):
    """The headers of an integration token with ``events:read``."""
    operator = await make_operator()
    body = {"name": "warehouse", "scopes": ["events:read"]}
    made = await client.post("/operator/integration-tokens", json=body, headers=operator.headers)
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['token']}"}


async def stored() -> list[tuple[str, str]]:
    """Every stored event as the feed names it: (public id, type), by id."""
    rows = await StoredEvent.select(StoredEvent.id, StoredEvent.name).order_by(StoredEvent.id)
    return [(f"evt_{row['id']}", row["name"]) for row in rows]


async def read_all(client, headers, *, after=None, limit=3, **params) -> tuple[list[dict], str, int]:
    """Follow ``next_cursor`` until ``has_more`` is false: the items, the last cursor and
    the pages read."""
    items, pages = [], 0
    while True:
        query = {"limit": limit, **params, **({"after": after} if after else {})}
        response = await client.get("/events", params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"items", "next_cursor", "has_more"}
        assert len(body["items"]) <= limit
        items += body["items"]
        after, pages = body["next_cursor"], pages + 1
        if not body["has_more"]:
            return items, after, pages


def position_of(cursor: str) -> FeedPosition:
    return FeedPosition.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


def cursor_of(data: object) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(data)).decode().rstrip("=")


async def test_a_gig_orders_events_page_through_the_feed_once_and_a_poll_gets_only_newer_ones(
    client, reader, make_member, make_order
):
    buyer = await make_member(display_name="Bea Buyer")
    order = await make_order(kind="gig", state="paid", buyer=buyer)
    expected = await stored()
    assert [name for _, name in expected if name.startswith("order.")] == [
        "order.created",
        "order.transitioned",
    ]

    items, cursor, pages = await read_all(client, reader, limit=3)
    assert [(item["id"], item["type"]) for item in items] == expected
    assert pages == len(expected) // 3 + 1
    created = next(item for item in items if item["type"] == "order.created")
    assert created["data"] == {"order_id": order["id"], "process": "gig_order", "state": "awaiting_payment"}
    assert created["created_at"] == "2026-01-05T09:00:00Z"

    # nothing new: the same cursor again gives nothing, and says so
    again = (await client.get("/events", params={"after": cursor}, headers=reader)).json()
    assert again == {"items": [], "next_cursor": cursor, "has_more": False}

    said = await client.post(
        "/conversations", json={"order_id": order["id"], "body": "Can you use blue?"}, headers=buyer.headers
    )
    assert said.status_code == 201, said.text
    newer = (await client.get("/events", params={"after": cursor}, headers=reader)).json()
    assert [(item["id"], item["type"]) for item in newer["items"]] == (await stored())[len(expected) :]
    [posted] = [item for item in newer["items"] if item["type"] == "message.posted"]
    # a private conversation's text stays on the site
    assert set(posted["data"]) == {
        "conversation_id",
        "message_id",
        "recipients",
        "sender_name",
        "sender_role",
        "attachments",
        "flagged",
    }
    assert posted["data"]["sender_name"] == "Bea Buyer" and posted["data"]["recipients"] == [
        order["seller_id"]
    ]
    assert "blue" not in str(newer)


async def test_types_filter_without_skipping(client, reader, make_order):
    await make_order(kind="gig", state="paid")
    everything = await stored()
    items, cursor, _ = await read_all(client, reader, limit=2, types="order.*")
    assert [(item["id"], item["type"]) for item in items] == [
        e for e in everything if e[1].startswith("order.")
    ]
    several, _, _ = await read_all(client, reader, limit=50, types="order.created, payment.*")
    assert [item["type"] for item in several] == ["order.created", "payment.started", "payment.completed"]
    # the position moved over the other events: nothing before it comes again
    assert (await client.get("/events", params={"after": cursor}, headers=reader)).json()["items"] == []
    assert position_of(cursor).after == int(everything[-1][0][4:])


async def test_bad_cursors_types_and_limits_are_422(client, reader, make_order, problem):
    await make_order(kind="gig", state="paid")
    last = int((await stored())[-1][0][4:])
    bad_cursors = [
        "garbage!",
        "e30",  # {}
        cursor_of({"id": 5}),
        cursor_of({"after": last + 1}),  # past the last event: another site's feed
        cursor_of({"after": -1}),
        cursor_of({"after": 2, "missing": [[3, "2026-01-05T09:00:00Z", None]]}),  # awaited above the mark
        cursor_of({"after": 2**70}),
        cursor_of(
            [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]
        ),
    ]
    for cursor in bad_cursors:
        response = await client.get("/events", params={"after": cursor}, headers=reader)
        problem(response, 422, "validation_error", fields={"after"})
    for types in ("nope.*", "order.*,", "", "order created"):
        response = await client.get("/events", params={"types": types}, headers=reader)
        problem(response, 422, "validation_error", fields={"types"})
    for limit in ("0", "501", "-3", "many"):
        response = await client.get("/events", params={"limit": limit}, headers=reader)
        problem(response, 422, "validation_error", fields={"limit"})
    full = await client.get("/events", params={"limit": "500"}, headers=reader)
    assert len(full.json()["items"]) == last


async def test_event_types_describe_every_registered_type_without_private_fields(client, reader, runtime):
    response = await client.get("/events/types", headers=reader)
    assert response.status_code == 200
    types = {item["name"]: item for item in response.json()["items"]}
    assert sorted(types) == sorted(runtime.event_types.by_name)
    posted = types["message.posted"]
    assert posted["registered_by"] == "messaging"
    assert (
        posted["description"] == "A member (or an operator, as Support) posted a message in a conversation."
    )
    assert posted["fields"] == [
        {"name": "conversation_id", "type": "int"},
        {"name": "message_id", "type": "int"},
        {"name": "recipients", "type": "list[int]"},
        {"name": "sender_name", "type": "str"},
        {"name": "sender_role", "type": "str"},
        {"name": "attachments", "type": "int"},
        {"name": "flagged", "type": "bool"},
    ]
    assert types["integration_token.created"]["registered_by"] == "integrations"
    assert {"name": "token_name", "type": "str"} in types["integration_token.created"]["fields"]
    assert any(item["registered_by"] == "gigs" for item in types.values())


class OpenTransaction:
    """A transaction of its own (another connection) that stores one event and stays open
    until told to commit: a request slower than others."""

    def __init__(self, runtime) -> None:
        self.runtime = runtime
        self.stored = asyncio.Event()
        self.finish = asyncio.Event()
        self.event_id: int | None = None
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> OpenTransaction:
        self.task = asyncio.get_running_loop().create_task(self._run())
        await asyncio.wait_for(self.stored.wait(), 10)
        return self

    async def _run(self) -> None:
        async with self.runtime.db.transaction():
            data = {"member_id": 999, "role": "member"}
            event = DomainEvent(
                name="member.registered", at=self.runtime.clock.now(), subject="member:999", data=data
            )
            [saved] = await store([event])
            self.event_id = saved.id
            self.stored.set()
            await self.finish.wait()

    async def __aexit__(self, *exc_info) -> None:
        self.finish.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, 10)


async def test_an_event_committed_late_shows_up_on_a_later_page(
    client, reader, runtime, make_member, db_kind
):
    if db_kind != "postgres":
        pytest.skip("ids commit out of order on PostgreSQL only")
    _, cursor, _ = await read_all(client, reader)
    async with OpenTransaction(runtime) as slow:
        faster = await make_member()  # a higher id, committed first
        page = (await client.get("/events", params={"after": cursor}, headers=reader)).json()
        fast_ids = [item["id"] for item in page["items"]]
        assert fast_ids and all(int(i[4:]) > slow.event_id for i in fast_ids)
        assert page["items"][0]["data"] == {"member_id": faster.id, "role": "member"}
        cursor = page["next_cursor"]
        waiting = (await client.get("/events", params={"after": cursor}, headers=reader)).json()
        assert waiting["items"] == [] and not waiting["has_more"]
        cursor = waiting["next_cursor"]
    late = (await client.get("/events", params={"after": cursor}, headers=reader)).json()
    assert [(item["id"], item["type"]) for item in late["items"]] == [
        (f"evt_{slow.event_id}", "member.registered")
    ]
    assert late["items"][0]["data"] == {"member_id": 999, "role": "member"}
    done = (await client.get("/events", params={"after": late["next_cursor"]}, headers=reader)).json()
    assert done["items"] == []


def test_a_cursor_keeps_the_highest_awaited_ids_and_stays_short(caplog):
    seen = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    gaps = tuple(FeedGap(i, seen, 77) for i in range(1, 1 + feed.MAX_CURSOR_GAPS + 5))
    cursor = feed.encode_cursor(FeedPosition(after=10_000, missing=gaps))
    assert len(cursor) < feed.MAX_CURSOR_LENGTH
    assert position_of(cursor) == FeedPosition(after=10_000, missing=gaps[5:])
    assert "gives up 5 awaited event ids (1 to 5)" in caplog.text
    plain = FeedPosition(after=3, missing=(FeedGap(2, seen),))
    assert position_of(feed.encode_cursor(plain)) == plain
