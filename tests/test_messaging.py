"""Messaging: order, listing and direct conversations, read state, screening, system messages."""

from __future__ import annotations

import asyncio
import base64

import pytest
from catalog_helpers import CatalogTestPlugin, gig, make_categories, publish
from test_orders import TestGigPlugin as GigPlugin
from test_orders import fire_path, fund_credit, gig_process, new_order

from agorakit import orders
from agorakit.events import DomainEvent
from agorakit.events.outbox import deliver
from agorakit.events.tables import StoredEvent
from agorakit.messaging import plugin as messaging_plugin
from agorakit.messaging import service
from agorakit.messaging.schemas import PostMessage
from agorakit.messaging.tables import Conversation, ConversationParticipant, Message
from agorakit.orders.process import Process, Transition
from agorakit.orders.schemas import ItemIn

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def open_process() -> Process:
    """A request without a seller that a candidate locks (as a prepaid request is)."""
    return Process(
        name="testopen",
        version=1,
        states=("open", "locked", "done"),
        initial="open",
        final=("done",),
        transitions=(
            Transition(name="lock", sources=("open",), target="locked", actors=("candidate",)),
            Transition(name="finish", sources=("locked",), target="done", actors=("buyer",)),
        ),
    )


@pytest.fixture
def extra_plugins(tmp_path):
    return [("testgig", GigPlugin([gig_process(), open_process()])), ("catalog", CatalogTestPlugin())]


@pytest.fixture
def site_config(tmp_path):
    return {"attachments": {"path": str(tmp_path / "files")}}


async def start(client, member, **body):
    return await client.post("/conversations", json=body, headers=member.headers)


async def say(client, member, conversation_id, body="", attachments=()):
    return await client.post(
        f"/conversations/{conversation_id}/messages",
        json={"body": body, "attachments": list(attachments)},
        headers=member.headers,
    )


async def upload(client, member, scope):
    response = await client.post(
        "/attachments",
        files={"file": ("pic.png", PNG, "image/png")},
        data={"scope": scope},
        headers=member.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def unread(client, member):
    return (await client.get("/me/unread-messages", headers=member.headers)).json()


# --------------------------------------------------------------------------------------
# Conversations of the three kinds
# --------------------------------------------------------------------------------------


async def test_order_conversation_between_buyer_and_seller(client, runtime, make_member):
    buyer, seller = await make_member(display_name="Bea Buyer"), await make_member(display_name="Sam Seller")
    order = await new_order(runtime, buyer, seller)
    created = await start(client, buyer, order_id=order.id, body="  Can you use blue?  ")
    assert created.status_code == 201, created.text
    conversation = created.json()
    assert (conversation["kind"], conversation["subject"]) == ("order", f"order:{order.id}")
    assert {p["id"]: p["display_name"] for p in conversation["participants"]} == {
        buyer.id: "Bea Buyer",
        seller.id: "Sam Seller",
    }
    assert conversation["last_message"]["body"] == "Can you use blue?"
    assert conversation["last_message"]["sender_name"] == "Bea Buyer"
    assert conversation["unread_count"] == 0

    seen = (await client.get(f"/orders/{order.id}/conversation", headers=seller.headers)).json()
    assert (seen["id"], seen["unread_count"]) == (conversation["id"], 1)
    reply = await say(client, seller, conversation["id"], "Sure, navy or sky?")
    assert reply.status_code == 201, reply.text
    assert reply.json()["kind"] == "member" and reply.json()["sender_id"] == seller.id
    again = await start(client, buyer, order_id=order.id, body="Navy please")
    assert again.json()["id"] == conversation["id"]

    page = (await client.get(f"/conversations/{conversation['id']}/messages", headers=buyer.headers)).json()
    assert [m["body"] for m in page["items"]] == ["Navy please", "Sure, navy or sky?", "Can you use blue?"]
    assert page["next_cursor"] is None
    assert await Conversation.count() == 1


async def test_listing_question_goes_to_the_owner(client, runtime, make_member, problem):
    owner, asker, other = await make_member(), await make_member(), await make_member()
    operator = await make_member(role="operator")
    await make_categories(client, operator)
    listing = await publish(client, owner, operator)

    asked = await start(client, asker, listing_id=listing["id"], body="Do you also do icons?")
    assert asked.status_code == 201, asked.text
    conversation = asked.json()
    assert (conversation["kind"], conversation["subject"]) == ("listing", f"listing:{listing['id']}")
    assert {p["id"] for p in conversation["participants"]} == {owner.id, asker.id}
    again = await start(client, asker, listing_id=listing["id"], body="And favicons?")
    assert again.json()["id"] == conversation["id"]
    second = await start(client, other, listing_id=listing["id"], body="Hi!")
    assert second.json()["id"] != conversation["id"]

    inbox = (await client.get("/conversations", headers=owner.headers)).json()["items"]
    questions = [c for c in inbox if c["kind"] == "listing"]
    assert [(c["id"], c["unread_count"]) for c in questions] == [
        (second.json()["id"], 1),
        (conversation["id"], 2),
    ]
    # Besides the questions, the owner has the moderation conversation (approved, 1 unread).
    assert [(c["kind"], c["unread_count"]) for c in inbox if c["kind"] != "listing"] == [("moderation", 1)]
    problem(await start(client, owner, listing_id=listing["id"], body="Hi me"), 422, "validation_error",
            fields={"listing_id"})  # fmt: skip
    problem(await start(client, asker, listing_id=999999, body="Hi"), 404, "not_found")
    paused = await client.post(f"/listings/{listing['id']}/pause", headers=owner.headers)
    assert paused.status_code == 200, paused.text
    problem(await start(client, other, listing_id=listing["id"], body="Still there?"), 409, "conflict")


async def test_direct_messages_between_members(client, make_member, problem):
    alice, bob = await make_member(), await make_member()
    first = await start(client, alice, member_id=bob.id, body="Hello Bob")
    assert first.status_code == 201, first.text
    conversation = first.json()
    assert (conversation["kind"], conversation["subject"]) == ("direct", None)
    back = await start(client, bob, member_id=alice.id, body="Hi Alice")
    assert back.json()["id"] == conversation["id"]
    problem(
        await start(client, alice, member_id=alice.id, body="me"),
        422,
        "validation_error",
        fields={"member_id"},
    )
    problem(await start(client, alice, member_id=999999, body="anyone?"), 404, "not_found")
    problem(
        await start(client, alice, member_id=bob.id, order_id=1, body="both"),
        422,
        "validation_error",
        fields={"member_id", "order_id"},
    )
    problem(await start(client, alice, body="nobody"), 422, "validation_error", fields={"order_id"})


async def test_suspended_member_cannot_be_messaged_directly(client, make_member, problem):
    alice, bob = await make_member(), await make_member()
    operator = await make_member(role="operator")
    suspended = await client.post(
        f"/operator/members/{bob.id}/suspend", json={"reason": "spam"}, headers=operator.headers
    )
    assert suspended.status_code == 200, suspended.text
    problem(await start(client, alice, member_id=bob.id, body="Hello"), 404, "not_found")


# --------------------------------------------------------------------------------------
# Read state and lists
# --------------------------------------------------------------------------------------


async def test_unread_counts_and_marking_read(client, make_member, problem):
    alice, bob, carol = await make_member(), await make_member(), await make_member()
    conversation = (await start(client, alice, member_id=bob.id, body="one")).json()
    first_id = conversation["last_message"]["id"]
    await say(client, alice, conversation["id"], "two")
    other = (await start(client, carol, member_id=bob.id, body="from carol")).json()
    assert await unread(client, bob) == {"conversations": 2, "messages": 3}
    assert await unread(client, alice) == {"conversations": 0, "messages": 0}

    marked = await client.post(
        f"/conversations/{conversation['id']}/read", json={"up_to": first_id}, headers=bob.headers
    )
    assert marked.status_code == 200, marked.text
    assert marked.json()["unread_count"] == 1
    everything = await client.post(f"/conversations/{conversation['id']}/read", headers=bob.headers)
    assert everything.json()["unread_count"] == 0
    backwards = await client.post(
        f"/conversations/{conversation['id']}/read", json={"up_to": first_id}, headers=bob.headers
    )
    assert backwards.json()["unread_count"] == 0
    assert await unread(client, bob) == {"conversations": 1, "messages": 1}
    foreign = other["last_message"]["id"]
    problem(
        await client.post(
            f"/conversations/{conversation['id']}/read", json={"up_to": foreign}, headers=bob.headers
        ),
        422,
        "validation_error",
        fields={"up_to"},
    )
    # Writing marks your own conversation read up to your message.
    await say(client, bob, other["id"], "hi carol")
    assert await unread(client, bob) == {"conversations": 0, "messages": 0}


async def test_conversations_are_listed_by_latest_activity_with_a_cursor(client, make_member, problem):
    me = await make_member()
    others = [await make_member() for _ in range(3)]
    ids = [(await start(client, other, member_id=me.id, body="hello")).json()["id"] for other in others]
    await say(client, others[0], ids[0], "news")  # the oldest becomes the most recent
    first = (await client.get("/conversations", params={"limit": 2}, headers=me.headers)).json()
    assert [c["id"] for c in first["items"]] == [ids[0], ids[2]]
    assert first["items"][0]["last_message"]["body"] == "news"
    rest = await client.get(
        "/conversations", params={"limit": 2, "cursor": first["next_cursor"]}, headers=me.headers
    )
    assert [c["id"] for c in rest.json()["items"]] == [ids[1]]
    assert rest.json()["next_cursor"] is None
    problem(
        await client.get("/conversations", params={"cursor": "nonsense"}, headers=me.headers),
        422,
        "validation_error",
    )


async def test_messages_page_back_and_poll_forward(client, make_member):
    alice, bob = await make_member(), await make_member()
    conversation = (await start(client, alice, member_id=bob.id, body="m1")).json()
    for n in range(2, 6):
        await say(client, alice if n % 2 else bob, conversation["id"], f"m{n}")
    path = f"/conversations/{conversation['id']}/messages"
    newest = (await client.get(path, params={"limit": 2}, headers=bob.headers)).json()
    assert [m["body"] for m in newest["items"]] == ["m5", "m4"]
    older = (
        await client.get(path, params={"limit": 2, "cursor": newest["next_cursor"]}, headers=bob.headers)
    ).json()
    assert [m["body"] for m in older["items"]] == ["m3", "m2"]
    after = older["items"][-1]["id"]
    newer = (await client.get(path, params={"after": after, "limit": 10}, headers=bob.headers)).json()
    assert [m["body"] for m in newer["items"]] == ["m3", "m4", "m5"]


# --------------------------------------------------------------------------------------
# Validation, attachments, screening
# --------------------------------------------------------------------------------------


class TestLimits:
    @pytest.fixture
    def site_config(self, tmp_path):
        return {
            "attachments": {"path": str(tmp_path / "files")},
            "messaging": {"max_message_length": 100, "max_attachments": 1},
        }

    async def test_empty_too_long_or_overloaded_message_is_422(self, client, runtime, make_member, problem):
        buyer, seller = await make_member(), await make_member()
        order = await new_order(runtime, buyer, seller)
        conversation = (await start(client, buyer, order_id=order.id, body="hi")).json()
        problem(
            await say(client, buyer, conversation["id"], "  \n "), 422, "validation_error", fields={"body"}
        )
        problem(
            await say(client, buyer, conversation["id"], "x" * 101), 422, "validation_error", fields={"body"}
        )
        problem(
            await say(client, buyer, conversation["id"], "bell\x07"), 422, "validation_error", fields={"body"}
        )
        files = [await upload(client, buyer, f"order:{order.id}") for _ in range(2)]
        problem(await say(client, buyer, conversation["id"], "two", files), 422, "validation_error",
                fields={"attachments"})  # fmt: skip
        problem(
            await start(client, buyer, order_id=order.id, body=""), 422, "validation_error", fields={"body"}
        )
        assert (await say(client, buyer, conversation["id"], "x" * 100)).status_code == 201
        assert (await say(client, buyer, conversation["id"], "", files[:1])).status_code == 201
        assert await Message.count() == 3


async def test_message_attachments_must_be_own_uploads_of_the_order(client, runtime, make_member, problem):
    buyer, seller = await make_member(), await make_member()
    order, other_order = await new_order(runtime, buyer, seller), await new_order(runtime, buyer, seller)
    mine = await upload(client, buyer, f"order:{order.id}")
    created = await start(client, buyer, order_id=order.id, body="see the sketch", attachments=[mine])
    assert created.status_code == 201, created.text
    message = created.json()["last_message"]
    assert [(a["id"], a["content_type"]) for a in message["attachments"]] == [(mine, "image/png")]
    conversation_id = created.json()["id"]

    elsewhere = await upload(client, buyer, f"order:{other_order.id}")
    problem(
        await say(client, buyer, conversation_id, "x", [elsewhere]),
        422,
        "validation_error",
        fields={"attachments"},
    )
    sellers = await upload(client, seller, f"order:{order.id}")
    problem(
        await say(client, buyer, conversation_id, "x", [sellers]),
        422,
        "validation_error",
        fields={"attachments"},
    )
    # The seller can read the buyer's file because it belongs to their order.
    assert (await client.get(f"/attachments/{mine}/content", headers=seller.headers)).content == PNG


async def test_direct_conversation_files_use_its_own_scope(client, runtime, make_member, problem):
    alice, bob, eve = await make_member(), await make_member(), await make_member()
    conversation = (await start(client, alice, member_id=bob.id, body="hi")).json()
    scope = f"conversation:{conversation['id']}"
    file_id = await upload(client, alice, scope)
    posted = await say(client, alice, conversation["id"], "", [file_id])
    assert posted.status_code == 201, posted.text
    assert (await client.get(f"/attachments/{file_id}", headers=bob.headers)).status_code == 200
    problem(await client.get(f"/attachments/{file_id}", headers=eve.headers), 404, "not_found")
    eves = await client.post(
        "/attachments",
        files={"file": ("a.png", PNG, "image/png")},
        data={"scope": scope},
        headers=eve.headers,
    )
    problem(eves, 404, "not_found")
    # A new conversation has no scope to upload to yet.
    carol = await make_member()
    problem(await start(client, carol, member_id=alice.id, body="hi", attachments=[file_id]), 422,
            "validation_error", fields={"attachments"})  # fmt: skip
    # An order's conversation keeps its files under the order.
    buyer, seller = await make_member(), await make_member()
    order = await new_order(runtime, buyer, seller)
    order_conversation = (await start(client, buyer, order_id=order.id, body="hi")).json()
    wrong_scope = await client.post(
        "/attachments",
        files={"file": ("a.png", PNG, "image/png")},
        data={"scope": f"conversation:{order_conversation['id']}"},
        headers=buyer.headers,
    )
    problem(wrong_scope, 422, "validation_error", fields={"scope"})


class TestScreeningBlock:
    @pytest.fixture
    def site_config(self, tmp_path):
        return {"attachments": {"path": str(tmp_path / "files")}, "messaging": {"screening": "block"}}

    async def test_block_refuses_contact_details(self, client, make_member, problem):
        alice, bob = await make_member(), await make_member()
        body = problem(
            await start(client, alice, member_id=bob.id, body="mail me at alice@example.com"),
            422,
            "validation_error",
            fields={"body"},
        )
        assert "e-mail address" in body["detail"] and "alice@example.com" in body["detail"]
        assert await Message.count() == 0


class TestScreeningFlag:
    async def test_flag_delivers_and_lists_for_operators(self, client, make_member):
        alice, bob = await make_member(), await make_member()
        operator = await make_member(role="operator")
        created = (await start(client, alice, member_id=bob.id, body="call +1 555 123 4567")).json()
        await say(client, bob, created["id"], "no thanks")
        seen_by_bob = (
            await client.get(f"/conversations/{created['id']}/messages", headers=bob.headers)
        ).json()
        assert [m["flags"] for m in seen_by_bob["items"]] == [[], []]
        flagged = (await client.get("/operator/messages", headers=operator.headers)).json()
        assert [(m["body"], m["flags"]) for m in flagged["items"]] == [
            ("call +1 555 123 4567", [{"reason": "phone number", "match": "+1 555 123 4567"}])
        ]
        everything = await client.get(
            "/operator/messages", params={"flagged": "false"}, headers=operator.headers
        )
        assert len(everything.json()["items"]) == 2
        assert (await client.get("/operator/messages", headers=alice.headers)).status_code == 403


class TestScreeningOff:
    @pytest.fixture
    def site_config(self, tmp_path):
        return {"attachments": {"path": str(tmp_path / "files")}, "messaging": {"screening": "off"}}

    async def test_off_does_not_screen(self, client, make_member, extra_plugins):
        alice, bob = await make_member(), await make_member()
        created = await start(client, alice, member_id=bob.id, body="www.example.com")
        assert created.status_code == 201
        assert await Message.count().where(Message.flagged == True) == 0  # noqa: E712
        catalog = dict(extra_plugins)["catalog"]
        assert not [c for c, _ in catalog.screened if c == "message.body"]


async def test_screening_hook_sees_message_bodies(client, make_member, extra_plugins):
    alice, bob = await make_member(), await make_member()
    await start(client, alice, member_id=bob.id, body="plain words")
    catalog = dict(extra_plugins)["catalog"]
    assert ("message.body", "plain words") in catalog.screened


# --------------------------------------------------------------------------------------
# Who may read
# --------------------------------------------------------------------------------------


async def test_non_participant_gets_404(client, runtime, make_member, problem):
    buyer, seller, stranger = await make_member(), await make_member(), await make_member()
    order = await new_order(runtime, buyer, seller)
    conversation = (await start(client, buyer, order_id=order.id, body="hi")).json()
    path = f"/conversations/{conversation['id']}"
    problem(await client.get(path, headers=stranger.headers), 404, "not_found")
    problem(await client.get(f"{path}/messages", headers=stranger.headers), 404, "not_found")
    problem(await say(client, stranger, conversation["id"], "let me in"), 404, "not_found")
    problem(await client.post(f"{path}/read", headers=stranger.headers), 404, "not_found")
    problem(await client.get(f"/orders/{order.id}/conversation", headers=stranger.headers), 404, "not_found")
    problem(await start(client, stranger, order_id=order.id, body="hi"), 404, "not_found")
    assert (await client.get("/conversations", headers=stranger.headers)).json()["items"] == []
    problem(await client.get("/conversations/999999", headers=buyer.headers), 404, "not_found")
    assert (await client.get("/conversations")).status_code == 401


async def test_operator_reads_but_does_not_write(client, make_member, problem):
    alice, bob = await make_member(), await make_member()
    operator = await make_member(role="operator")
    conversation = (await start(client, alice, member_id=bob.id, body="hello")).json()
    seen = await client.get(f"/conversations/{conversation['id']}", headers=operator.headers)
    assert seen.status_code == 200 and seen.json()["unread_count"] == 0
    messages = await client.get(f"/conversations/{conversation['id']}/messages", headers=operator.headers)
    assert [m["body"] for m in messages.json()["items"]] == ["hello"]
    problem(await say(client, operator, conversation["id"], "moderator here"), 403, "forbidden")
    problem(
        await client.post(f"/conversations/{conversation['id']}/read", headers=operator.headers),
        403,
        "forbidden",
    )
    assert (await client.get("/conversations", headers=operator.headers)).json()["items"] == []


# --------------------------------------------------------------------------------------
# Orders: parties, system messages
# --------------------------------------------------------------------------------------


async def test_order_transition_posts_one_system_message(client, runtime, make_member):
    buyer, seller = await make_member(), await make_member()
    await fund_credit(runtime, buyer.id)
    order = await new_order(runtime, buyer, seller)
    paid = await client.post(fire_path(order.id, "pay"), headers=buyer.headers)
    assert paid.status_code == 200, paid.text

    conversation = (await client.get(f"/orders/{order.id}/conversation", headers=seller.headers)).json()
    assert conversation["unread_count"] == 1
    system = conversation["last_message"]
    assert system["kind"] == "system" and system["sender_id"] is None
    assert system["body"] == f"Order {order.id}: awaiting payment → in progress (pay by the buyer)"

    stored = (
        await StoredEvent.select()
        .where(StoredEvent.name == "order.transitioned")
        .first()
        .output(load_json=True)
    )
    event = DomainEvent(
        id=stored["id"],
        name=stored["name"],
        at=stored["at"],
        subject=stored["subject"],
        actor_id=stored["actor_id"],
        data=stored["data"],
        payload=runtime.event_types.payload(stored["name"], stored["data"]),
    )
    assert await deliver(runtime, event) == []
    assert await deliver(runtime, event) == []
    assert await Message.count().where(Message.event_id == stored["id"]) == 1
    assert await Message.count().where(Message.kind == "system") == 1


async def test_system_message_wording():
    data = {"from_state": "delivered", "to_state": "completed", "transition": "accept", "actor_role": "buyer"}
    assert service.transition_text(12, data) == "Order 12: delivered → completed (accept by the buyer)"
    timer = {**data, "transition": "auto_complete", "actor_role": "system"}
    assert (
        service.transition_text(12, timer) == "Order 12: delivered → completed (auto complete automatically)"
    )


async def test_seller_joins_the_conversation_of_an_open_order_when_locking(client, runtime, make_member):
    buyer, seller, other = await make_member(), await make_member(), await make_member()
    order = await orders.create_order(
        runtime,
        process="testopen",
        buyer_id=buyer.id,
        currency="USD",
        items=[ItemIn(description="Boost", unit_price=900)],
    )
    created = (await start(client, buyer, order_id=order.id, body="Rank 20 please")).json()
    assert [p["id"] for p in created["participants"]] == [buyer.id]
    locked = await client.post(fire_path(order.id, "lock"), headers=seller.headers)
    assert locked.status_code == 200, locked.text

    inbox = (await client.get("/conversations", headers=seller.headers)).json()["items"]
    assert [c["id"] for c in inbox] == [created["id"]]
    assert {p["id"] for p in inbox[0]["participants"]} == {buyer.id, seller.id}
    bodies = [m["body"] for m in (await client.get(f"/conversations/{created['id']}/messages", headers=seller.headers)).json()["items"]]  # fmt: skip
    assert bodies == [f"Order {order.id}: open → locked (lock by the seller)", "Rank 20 please"]
    assert (await say(client, seller, created["id"], "On it")).status_code == 201
    assert (await client.get(f"/conversations/{created['id']}", headers=other.headers)).status_code == 404


# --------------------------------------------------------------------------------------
# Service functions other modules call
# --------------------------------------------------------------------------------------


async def test_ensure_conversation_post_system_message_and_transcript(runtime, make_member):
    customer, business = await make_member(), await make_member()
    async with runtime.unit_of_work() as uow:
        first = await service.ensure_conversation(
            uow, subject="lead:3:member:7", participant_ids=[customer.id]
        )
        again = await service.ensure_conversation(
            uow, subject="lead:3:member:7", participant_ids=[customer.id, business.id]
        )
        message_id = await service.post_system_message(
            uow, subject="lead:3:member:7", body="Lead unlocked", event_id=77
        )
        duplicate = await service.post_system_message(
            uow, subject="lead:3:member:7", body="again", event_id=77
        )
        missing = await service.post_system_message(uow, subject="lead:999", body="nobody")
    assert first == again and message_id is not None
    assert (duplicate, missing) == (None, None)
    participants = await ConversationParticipant.select(ConversationParticipant.member_id).where(
        ConversationParticipant.conversation == first
    )
    assert sorted(p["member_id"] for p in participants) == sorted([customer.id, business.id])
    conversation = await service.get_conversation(runtime, first, viewer=business.member)
    assert conversation.kind == "lead"
    await service.post_message(
        runtime, first, PostMessage(body="When can you start?"), sender=customer.member
    )

    transcript = await service.transcript("lead:3:member:7")
    assert [(m["kind"], m["sender_id"], m["body"]) for m in transcript] == [
        ("system", None, "Lead unlocked"),
        ("member", customer.id, "When can you start?"),
    ]
    assert set(transcript[0]) == {
        *("id", "sender_id", "kind", "body", "attachments", "flags", "created_at", "edited_at", "deleted_at")
    }
    assert await service.transcript("lead:404") == []


@pytest.mark.postgres_only("proves the unique key under concurrency on PostgreSQL")
async def test_ensure_conversation_concurrently_creates_one(runtime, make_member):
    a, b = await make_member(), await make_member()

    async def ensure(participants):
        async with runtime.unit_of_work() as uow:
            conversation_id = await service.ensure_conversation(
                uow, subject="lead:1:member:2", participant_ids=participants
            )
            await asyncio.sleep(0)  # let the other transaction run into the same key
            return conversation_id

    results = await asyncio.gather(*(ensure([a.id, b.id]) for _ in range(5)))
    assert len(set(results)) == 1
    assert await Conversation.count().where(Conversation.key == "lead:1:member:2") == 1
    assert await ConversationParticipant.count() == 2


# --------------------------------------------------------------------------------------
# Events and notifications
# --------------------------------------------------------------------------------------


async def test_message_posted_event_and_notices(client, runtime, make_member):
    alice, bob = await make_member(display_name="Alice"), await make_member()
    conversation = (await start(client, alice, member_id=bob.id, body="Hello\nBob, " + "x" * 300)).json()
    stored = (
        await StoredEvent.select().where(StoredEvent.name == "message.posted").first().output(load_json=True)
    )
    assert stored["subject"] == f"conversation:{conversation['id']}"
    assert stored["actor_id"] == alice.id
    data = stored["data"]
    assert (data["conversation_id"], data["message_id"], data["recipients"]) == (
        conversation["id"],
        conversation["last_message"]["id"],
        [bob.id],
    )
    assert data["conversation_subject"] is None
    assert data["excerpt"].startswith("Hello Bob, x") and len(data["excerpt"]) == 200

    event = DomainEvent(id=stored["id"], name=stored["name"], at=stored["at"], subject=stored["subject"],
                        actor_id=stored["actor_id"], data=data,
                        payload=runtime.event_types.payload(stored["name"], data))  # fmt: skip
    notices = messaging_plugin.agorakit_notify(event=event, runtime=runtime)
    assert [(n.member_id, n.category, n.template, n.link) for n in notices] == [
        (bob.id, "messages", "message_received", f"/conversations/{conversation['id']}")
    ]
    assert notices[0].context["sender_name"] == "Alice"
    assert messaging_plugin.agorakit_notify(event=DomainEvent(name="order.created", at=stored["at"], subject="order:1"),
                                            runtime=runtime) is None  # fmt: skip


def test_message_received_template_renders():
    from pathlib import Path

    import jinja2

    import agorakit.notifications

    folder = Path(agorakit.notifications.__file__).parent / "templates"
    base = "{% block subject %}{% endblock %}\n---\n{% block text %}{% endblock %}"
    # A stand-in base template that shows the two blocks (the real one adds a footer).
    loader = jinja2.ChoiceLoader(
        [jinja2.DictLoader({"notifications/_base.jinja2": base}), jinja2.FileSystemLoader(folder)]
    )
    environment = jinja2.Environment(loader=loader, autoescape=False, undefined=jinja2.StrictUndefined)
    text = environment.get_template("notifications/message_received.jinja2").render(
        site={"name": "Acme market"},
        member={"display_name": "Bob"},
        link="https://market.example.com/conversations/5",
        sender_name="Alice",
        excerpt="Can you use blue?",
        conversation_id=5,
        conversation_subject="order:12",
        attachments=2,
    )
    subject, body = text.split("\n---\n", 1)
    assert subject == "New message from Alice about order 12"
    assert "Hello Bob," in body and '"Can you use blue?"' in body and "(2 attached files)" in body
    assert body.rstrip().endswith("Read and reply: https://market.example.com/conversations/5")


async def test_moderation_decisions_reach_the_owner_in_site_messaging(client, make_member):
    owner, stranger = await make_member(), await make_member()
    operator = await make_member(role="operator")
    await make_categories(client, operator)
    created = (await client.post("/listings", json=gig(), headers=owner.headers)).json()
    await client.post(f"/listings/{created['id']}/submit", headers=owner.headers)
    rejected = await client.post(
        f"/operator/listings/{created['id']}/reject",
        json={"reason": "Show examples of your work."},
        headers=operator.headers,
    )
    assert rejected.status_code == 200, rejected.text
    mine = (await client.get("/conversations", headers=owner.headers)).json()["items"]
    moderation = [c for c in mine if c["subject"] == f"moderation:listing:{created['id']}"]
    assert len(moderation) == 1
    messages = (
        await client.get(f"/conversations/{moderation[0]['id']}/messages", headers=owner.headers)
    ).json()
    bodies = [m["body"] for m in messages["items"]]
    assert len(bodies) == 1 and "Show examples of your work." in bodies[0]
    assert (
        await client.get(f"/conversations/{moderation[0]['id']}", headers=stranger.headers)
    ).status_code == 404

    await client.post(f"/listings/{created['id']}/submit", headers=owner.headers)
    await client.post(f"/operator/listings/{created['id']}/approve", headers=operator.headers)
    messages = (
        await client.get(f"/conversations/{moderation[0]['id']}/messages", headers=owner.headers)
    ).json()
    assert len(messages["items"]) == 2
    assert any("approved" in m["body"] for m in messages["items"])


async def test_one_message_is_written_with_one_insert_and_one_update(client, runtime, make_member):
    """Posting one message is the set-wise write of one row: the message (whose insert
    moves its conversation's activity: a trigger of the table) and the sender's read
    mark, a statement each."""
    from unittest import mock

    alice, bob = await make_member(), await make_member()
    conversation = (await start(client, alice, member_id=bob.id, body="first")).json()
    engine = Message._meta.db
    seen: list[str] = []
    run = type(engine).run_querystring

    async def recording(self, querystring, in_pool=True):
        seen.append(querystring.compile_string(engine_type=self.engine_type)[0].lstrip().upper())
        return await run(self, querystring, in_pool=in_pool)

    with mock.patch.object(type(engine), "run_querystring", recording):
        response = await say(client, bob, conversation["id"], "second")
    assert response.status_code == 201, response.text
    writes = [
        sql.split("(")[0].split(" SET")[0].strip() for sql in seen if sql.startswith(("INSERT", "UPDATE"))
    ]
    assert sorted(w for w in writes if "CORE_MESSAGE" in w or "CORE_CONVERSATION" in w) == [
        'INSERT INTO "CORE_MESSAGE"',
        'UPDATE "CORE_CONVERSATION_PARTICIPANT"',
    ]
    listed = (await client.get(f"/conversations/{conversation['id']}", headers=alice.headers)).json()
    assert listed["last_message"]["body"] == "second" and listed["unread_count"] == 1
