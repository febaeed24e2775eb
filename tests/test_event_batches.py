"""Events delivered a batch at a time (``agorakit_on_events``): the hook's contract, and the
core's two batch handlers, notifications and order system messages, on both engines."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from unittest import mock

import pytest
from event_helpers import make_event
from test_notifications import paid_order
from test_orders import TestGigPlugin as GigPlugin
from test_orders import fire_path

from agorakit import hookimpl
from agorakit.events import EventsFailed
from agorakit.events import outbox as event_outbox
from agorakit.events.tables import StoredEvent
from agorakit.messaging.tables import Conversation, ConversationParticipant, Message
from agorakit.notifications.tables import EmailOutbox, Notification
from agorakit.orders.events import OrderTransitioned


class Batches:
    """Records each batch it gets; fails ``test.unlucky`` events by name (EventsFailed) and
    raises for any batch holding a ``test.boom`` event."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    @hookimpl
    async def agorakit_on_events(self, events, runtime):
        self.calls.append([e.name for e in events if e.name.startswith("test.")])
        if any(e.name == "test.boom" for e in events):
            raise RuntimeError("boom")
        unlucky = {e.id: "no luck" for e in events if e.name == "test.unlucky"}
        if unlucky:
            raise EventsFailed(unlucky)


@pytest.fixture
def batches():
    return Batches()


@pytest.fixture
def extra_plugins(batches):
    return [("batches", batches), ("testgig", GigPlugin())]


async def record(runtime, *names: str) -> None:
    """One unit of work recording ``names``: they are published together after its commit."""
    async with runtime.unit_of_work() as uow:
        for name in names:
            uow.record(make_event(name), subject="test:1")


async def outcome(*names: str) -> dict[str, tuple[str, int, str | None]]:
    rows = await StoredEvent.select().where(StoredEvent.name.is_in(list(names)))
    return {r["name"]: (r["status"], r["attempts"], r["last_error"]) for r in rows}


@contextlib.contextmanager
def statements(runtime) -> Iterator[list[str]]:
    """The SQL of every statement run through the site's engine inside the block."""
    engine = Notification._meta.db
    seen: list[str] = []
    run = type(engine).run_querystring

    async def recording(self, querystring, in_pool=True):
        seen.append(querystring.compile_string(engine_type=self.engine_type)[0])
        return await run(self, querystring, in_pool=in_pool)

    with mock.patch.object(type(engine), "run_querystring", recording):
        yield seen


def count(seen: list[str], start: str) -> int:
    return sum(1 for sql in seen if sql.lstrip().upper().startswith(start.upper()))


def writing(seen: list[str], write: str) -> int:
    """Statements that do ``write`` (as themselves, or in a ``WITH`` clause)."""
    return sum(1 for sql in seen if write.upper() in sql.upper())


# --------------------------------------------------------------------------------------
# The hook
# --------------------------------------------------------------------------------------


async def test_hook_agorakit_on_events(runtime, batches):
    """A unit of work's events reach a batch handler in one call, in commit order."""
    await record(runtime, "test.a", "test.b", "test.c")
    assert batches.calls == [["test.a", "test.b", "test.c"]]
    assert await outcome("test.a", "test.b", "test.c") == {
        "test.a": ("published", 0, None),
        "test.b": ("published", 0, None),
        "test.c": ("published", 0, None),
    }


async def test_events_failed_fails_only_the_events_it_names(runtime, batches):
    await record(runtime, "test.a", "test.unlucky", "test.b")
    assert batches.calls == [["test.a", "test.unlucky", "test.b"]]  # no second round
    found = await outcome("test.a", "test.unlucky", "test.b")
    assert found["test.a"] == found["test.b"] == ("published", 0, None)
    assert found["test.unlucky"] == ("pending", 1, "batches: no luck")


async def test_a_batch_handler_that_raises_gets_the_events_again_one_at_a_time(runtime, batches, clock):
    await record(runtime, "test.a", "test.boom", "test.b")
    # The batch, then each event alone: only the culprit counts a failure.
    assert batches.calls == [["test.a", "test.boom", "test.b"], ["test.a"], ["test.boom"], ["test.b"]]
    found = await outcome("test.a", "test.boom", "test.b")
    assert found["test.a"] == found["test.b"] == ("published", 0, None)
    assert found["test.boom"] == ("pending", 1, "batches: RuntimeError('boom')")
    # The worker publishes what is left pending again, together, and counts the attempt.
    await record(runtime, "test.c")
    await record(runtime, "test.unlucky")
    batches.calls.clear()
    clock.advance(event_outbox.REPUBLISH_AFTER * 2)
    await event_outbox.republish_events(runtime)
    assert batches.calls[0] == ["test.boom", "test.unlucky"]
    found = await outcome("test.boom", "test.unlucky")
    assert found["test.boom"] == ("pending", 2, "batches: RuntimeError('boom')")
    assert found["test.unlucky"] == ("pending", 2, "batches: no luck")


async def test_deliver_hands_one_event_to_batch_handlers_as_a_batch_of_one(runtime, batches):
    await record(runtime, "test.a")
    [stored] = await StoredEvent.select().where(StoredEvent.name == "test.a")
    batches.calls.clear()
    assert await event_outbox.deliver(runtime, event_outbox._to_event(runtime, stored)) == []
    assert batches.calls == [["test.a"]]


# --------------------------------------------------------------------------------------
# Notifications and system messages, set-wise
# --------------------------------------------------------------------------------------


async def three_paid_orders(client, runtime, make_member):
    """Three paid orders between distinct members, and their ``pay`` events."""
    orders = []
    for _ in range(3):
        buyer, seller = await make_member(), await make_member()
        orders.append((await paid_order(client, runtime, buyer, seller), buyer, seller))
    rows = await (
        StoredEvent.select()
        .where(StoredEvent.name == "order.transitioned")
        .where(StoredEvent.subject.is_in([f"order:{o.id}" for o, _, _ in orders]))
        .order_by(StoredEvent.id)
    )
    events = [event_outbox._to_event(runtime, r) for r in rows if r["data"] and "pay" in str(r["data"])]
    assert len(events) == 3
    return orders, events


async def notified(event_ids: list[int]) -> list[tuple]:
    rows = await Notification.select().where(Notification.event_id.is_in(event_ids)).order_by(Notification.id)
    return sorted((r["event_id"], r["member_id"], r["template"], r["title"], r["body"]) for r in rows)


async def emailed(event_ids: list[int]) -> list[tuple]:
    ids = [
        r["id"]
        for r in await Notification.select(Notification.id).where(Notification.event_id.is_in(event_ids))
    ]
    rows = await EmailOutbox.select().where(EmailOutbox.notification_id.is_in(ids or [0]))
    return sorted((r["member_id"], r["to_address"], r["subject"]) for r in rows)


async def system_messages(event_ids: list[int]) -> list[tuple]:
    rows = await Message.select().where(Message.event_id.is_in(event_ids))
    return sorted((r["event_id"], r["conversation"], r["kind"], r["body"]) for r in rows)


async def test_a_batch_notifies_each_member_once_in_a_few_statements(client, runtime, make_member):
    orders, events = await three_paid_orders(client, runtime, make_member)
    ids = [e.id for e in events]
    before_notified, before_emailed = await notified(ids), await emailed(ids)
    assert {(n[0], n[1]) for n in before_notified} >= {
        (e.id, s.id) for e, (_, _, s) in zip(events, orders, strict=True)
    }
    before_messages = await system_messages(ids)
    assert len(before_messages) == 3
    # Undo what the handlers stored, then deliver the three events as one batch.
    notifications = [
        r["id"] for r in await Notification.select(Notification.id).where(Notification.event_id.is_in(ids))
    ]
    await EmailOutbox.delete().where(EmailOutbox.notification_id.is_in(notifications))
    await Notification.delete().where(Notification.event_id.is_in(ids))
    await Message.delete().where(Message.event_id.is_in(ids))
    with statements(runtime) as seen:
        await event_outbox.publish(runtime, events)
    assert await notified(ids) == before_notified
    assert await emailed(ids) == before_emailed
    after_messages = await system_messages(ids)
    assert after_messages == before_messages  # the same conversations and texts
    # Set-wise: one statement for all notifications and their emails (on PostgreSQL a WITH,
    # on SQLite an insert into the view core_notice, whose trigger writes both), one for the
    # messages.
    if runtime.db.is_postgres:
        assert writing(seen, 'INSERT INTO "core_notification"') == 1
        assert writing(seen, 'INSERT INTO "core_email_outbox"') == 1
    else:
        assert writing(seen, "INSERT INTO core_notice") == 1
        assert not any(
            "core_notification" in sql or "core_email_outbox" in sql for sql in seen if "INSERT" in sql
        )
    assert count(seen, 'INSERT INTO "core_message"') == 1
    # The core's notices read the three orders and their history once, not once per event.
    assert sum('FROM "core_order" ' in sql for sql in seen) == 1
    assert sum('FROM "core_order_event" ' in sql for sql in seen) == 1
    # Each conversation's activity points at its new message.
    for event_id, conversation_id, _, _ in after_messages:
        [message] = await Message.select(Message.id).where(Message.event_id == event_id)
        [conversation] = await Conversation.select().where(Conversation.id == conversation_id)
        assert conversation["last_message_id"] == message["id"]
    # Delivered again (at least once): nothing more.
    await event_outbox.publish(runtime, events)
    assert await notified(ids) == before_notified
    assert await emailed(ids) == before_emailed
    assert await system_messages(ids) == after_messages


async def test_two_transitions_of_one_order_in_a_batch_post_both_and_the_last_is_the_activity(
    client, runtime, make_member
):
    orders, _ = await three_paid_orders(client, runtime, make_member)
    order, _, seller = orders[0]
    started = await client.post(fire_path(order.id, "deliver"), headers=seller.headers)
    assert started.status_code == 200, started.text
    rows = await (
        StoredEvent.select()
        .where((StoredEvent.name == "order.transitioned") & (StoredEvent.subject == f"order:{order.id}"))
        .order_by(StoredEvent.id)
    )
    both = [event_outbox._to_event(runtime, r) for r in rows][-2:]
    ids = [e.id for e in both]
    texts = [m[3] for m in await system_messages(ids)]
    assert len(texts) == 2
    await Message.delete().where(Message.event_id.is_in(ids))
    await event_outbox.publish(runtime, both)
    after = await system_messages(ids)
    assert sorted(m[3] for m in after) == sorted(texts)
    latest = await Message.select(Message.id).where(Message.event_id == both[-1].id).first()
    [conversation] = await Conversation.select().where(Conversation.key == f"order:{order.id}")
    assert conversation["last_message_id"] == latest["id"]


async def test_a_conversation_missing_a_party_is_synced_before_its_message(client, runtime, make_member):
    orders, events = await three_paid_orders(client, runtime, make_member)
    order, buyer, seller = orders[1]
    [conversation] = await Conversation.select().where(Conversation.key == f"order:{order.id}")
    await ConversationParticipant.delete().where(
        (ConversationParticipant.conversation == conversation["id"])
        & (ConversationParticipant.member_id == seller.id)
    )
    await Message.delete().where(Message.event_id.is_in([e.id for e in events]))
    await event_outbox.publish(runtime, events)
    members = await ConversationParticipant.select(ConversationParticipant.member_id).where(
        ConversationParticipant.conversation == conversation["id"]
    )
    assert sorted(m["member_id"] for m in members) == sorted([buyer.id, seller.id])
    assert len(await system_messages([e.id for e in events])) == 3


async def test_an_event_about_a_missing_order_fails_alone(client, runtime, make_member):
    _, events = await three_paid_orders(client, runtime, make_member)
    async with runtime.unit_of_work() as uow:
        lost_order = OrderTransitioned(
            order_id=987654,
            process="gig",
            transition="pay",
            from_state="new",
            to_state="paid",
            actor_role="buyer",
        )
        uow.record(lost_order, subject="order:987654")
    [lost] = await StoredEvent.select().where(StoredEvent.subject == "order:987654")
    assert (lost["status"], lost["attempts"]) == ("pending", 1)
    assert "messaging" in lost["last_error"] and "there is no order 987654" in lost["last_error"]
    # In a batch with others: only it fails; the others are recorded.
    await Message.delete().where(Message.event_id.is_in([e.id for e in events]))
    batch = [*events[:2], event_outbox._to_event(runtime, lost), events[2]]
    errors = await event_outbox.deliver_all(runtime, batch)
    assert [bool(e) for e in errors] == [False, False, True, False]
    assert len(await system_messages([e.id for e in events])) == 3
