"""Messaging: a sender edits or deletes their message within [messaging] edit_minutes."""

from __future__ import annotations

import pytest
from catalog_helpers import CatalogTestPlugin
from test_messaging import say, start, upload
from test_orders import TestGigPlugin as GigPlugin
from test_orders import fire_path, gig_process

from agorakit import orders
from agorakit.attachments.tables import Attachment
from agorakit.events.tables import StoredEvent
from agorakit.messaging.tables import Conversation, ConversationParticipant, Message
from agorakit.orders.process import Process, Transition
from agorakit.orders.schemas import ItemIn
from agorakit.testing import TEST_EPOCH


def pool_process() -> Process:
    """A request a seller locks and may hand back to the pool (their conversation ends)."""
    return Process(
        name="testpool",
        version=1,
        states=("open", "locked", "done"),
        initial="open",
        final=("done",),
        transitions=(
            Transition(name="lock", sources=("open",), target="locked", actors=("candidate",)),
            Transition(
                name="release", sources=("locked",), target="open", actors=("seller",), clears_seller=True
            ),
            Transition(name="finish", sources=("locked",), target="done", actors=("buyer",)),
        ),
    )


@pytest.fixture
def extra_plugins():
    return [("testgig", GigPlugin([gig_process(), pool_process()])), ("catalog", CatalogTestPlugin())]


@pytest.fixture
def site_config(tmp_path):
    return {"attachments": {"path": str(tmp_path / "files")}}


def message_path(conversation_id, message_id):
    return f"/conversations/{conversation_id}/messages/{message_id}"


async def edit(client, member, conversation_id, message_id, body):
    return await client.patch(
        message_path(conversation_id, message_id), json={"body": body}, headers=member.headers
    )


async def delete(client, member, conversation_id, message_id):
    return await client.delete(message_path(conversation_id, message_id), headers=member.headers)


async def messages(client, member, conversation_id):
    response = await client.get(f"/conversations/{conversation_id}/messages", headers=member.headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def snapshot() -> dict:
    """Every row of the conversations, participants, attachments and events."""
    return {
        "conversations": await Conversation.select().order_by(Conversation.id),
        "participants": await ConversationParticipant.select().order_by(ConversationParticipant.id),
        "attachments": await Attachment.select().order_by(Attachment.id),
    }


async def test_sender_edits_their_message(client, make_member, clock):
    alice, bob = await make_member(display_name="Alice"), await make_member()
    conversation = (await start(client, alice, member_id=bob.id, body="See you at 5")).json()
    message_id = conversation["last_message"]["id"]
    reply = (await say(client, bob, conversation["id"], "ok")).json()
    before = await snapshot()

    clock.advance(minutes=14, seconds=59)
    edited = await edit(client, alice, conversation["id"], message_id, "  See you at 6  ")
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["id"], body["body"], body["deleted_at"]) == (message_id, "See you at 6", None)
    assert body["edited_at"] == "2026-01-05T09:14:59Z"
    assert body["created_at"] == "2026-01-05T09:00:00Z"

    seen = await messages(client, bob, conversation["id"])
    assert [(m["body"], m["edited_at"] is not None) for m in seen] == [("ok", False), ("See you at 6", True)]
    assert await snapshot() == before  # only the message's own row changed
    assert await Message.select(Message.body).where(Message.id == reply["id"]).first() == {"body": "ok"}

    stored = await StoredEvent.select().where(StoredEvent.name == "message.edited").output(load_json=True)
    assert [(e["subject"], e["actor_id"], e["data"]) for e in stored] == [
        (
            f"conversation:{conversation['id']}",
            alice.id,
            {
                "conversation_id": conversation["id"],
                "message_id": message_id,
                "excerpt": "See you at 6",
                "flagged": False,
            },
        )
    ]


async def test_an_edit_is_screened_again(client, make_member, problem):
    alice, bob = await make_member(), await make_member()
    operator = await make_member(role="operator")
    conversation = (await start(client, alice, member_id=bob.id, body="hello")).json()
    message_id = conversation["last_message"]["id"]
    edited = await edit(client, alice, conversation["id"], message_id, "call +1 555 123 4567")
    assert edited.status_code == 200, edited.text
    assert edited.json()["flags"] == []  # flags are for operators
    flagged = (await client.get("/operator/messages", headers=operator.headers)).json()["items"]
    assert [(m["id"], m["flags"]) for m in flagged] == [
        (message_id, [{"reason": "phone number", "match": "+1 555 123 4567"}])
    ]
    # edited back to harmless text, it leaves the operators' list
    assert (await edit(client, alice, conversation["id"], message_id, "hello again")).status_code == 200
    assert (await client.get("/operator/messages", headers=operator.headers)).json()["items"] == []
    problem(await edit(client, alice, conversation["id"], message_id, "   "), 422, "validation_error",
            fields={"body"})  # fmt: skip
    problem(await edit(client, alice, conversation["id"], message_id, "bell\x07"), 422, "validation_error",
            fields={"body"})  # fmt: skip
    bad = await client.patch(message_path(conversation["id"], message_id), json={"body": "x", "kind": "system"},
                             headers=alice.headers)  # fmt: skip
    problem(bad, 422, "validation_error")
    assert (await Message.select(Message.body).where(Message.id == message_id).first())[
        "body"
    ] == "hello again"


class TestEditBlocked:
    @pytest.fixture
    def site_config(self, tmp_path):
        return {"attachments": {"path": str(tmp_path / "files")}, "messaging": {"screening": "block"}}

    async def test_a_blocked_edit_changes_nothing(self, client, make_member, problem):
        alice, bob = await make_member(), await make_member()
        conversation = (await start(client, alice, member_id=bob.id, body="hello")).json()
        message_id = conversation["last_message"]["id"]
        refused = await edit(client, alice, conversation["id"], message_id, "mail me: alice@example.com")
        assert "e-mail address" in problem(refused, 422, "validation_error", fields={"body"})["detail"]
        row = await Message.select(Message.body, Message.edited_at).where(Message.id == message_id).first()
        assert row == {"body": "hello", "edited_at": None}
        assert await StoredEvent.count().where(StoredEvent.name == "message.edited") == 0


async def test_sender_deletes_their_message(client, runtime, make_member, problem):
    alice, bob = await make_member(), await make_member()
    conversation = (await start(client, alice, member_id=bob.id, body="first")).json()
    file_id = await upload(client, alice, f"conversation:{conversation['id']}")
    with_file = (await say(client, alice, conversation["id"], "the photo", [file_id])).json()
    assert (await client.get("/me/unread-messages", headers=bob.headers)).json() == {
        "conversations": 1,
        "messages": 2,
    }
    before = await snapshot()

    deleted = await delete(client, alice, conversation["id"], with_file["id"])
    assert deleted.status_code == 204, deleted.text
    seen = await messages(client, bob, conversation["id"])
    assert [(m["id"], m["body"], m["attachments"], m["deleted_at"]) for m in seen] == [
        (with_file["id"], "", [], "2026-01-05T09:00:00Z"),
        (conversation["last_message"]["id"], "first", [], None),
    ]
    listed = (await client.get(f"/conversations/{conversation['id']}", headers=bob.headers)).json()
    assert (listed["last_message"]["id"], listed["last_message"]["body"]) == (with_file["id"], "")
    # a deleted message no longer counts as unread
    assert listed["unread_count"] == 1
    assert (await client.get("/me/unread-messages", headers=bob.headers)).json() == {
        "conversations": 1,
        "messages": 1,
    }
    # the row stays as it was, with its deletion time; nothing else changed
    row = await Message.select().where(Message.id == with_file["id"]).first().output(load_json=True)
    assert (row["body"], row["attachments"], row["deleted_at"] is not None) == ("the photo", [file_id], True)
    assert await snapshot() == before
    stored = await StoredEvent.select().where(StoredEvent.name == "message.deleted").output(load_json=True)
    assert [(e["actor_id"], e["data"]) for e in stored] == [
        (alice.id, {"conversation_id": conversation["id"], "message_id": with_file["id"]})
    ]
    # operators see it deleted too
    operator = await make_member(role="operator")
    assert (await messages(client, operator, conversation["id"]))[0]["body"] == ""

    problem(await delete(client, alice, conversation["id"], with_file["id"]), 409, "conflict")
    problem(await edit(client, alice, conversation["id"], with_file["id"], "back"), 409, "conflict")


async def test_who_may_edit_or_delete(client, runtime, make_member, problem, clock):
    alice, bob, eve = await make_member(), await make_member(), await make_member()
    operator = await make_member(role="operator")
    conversation = (await start(client, alice, member_id=bob.id, body="mine")).json()
    cid, mid = conversation["id"], conversation["last_message"]["id"]
    other = (await start(client, eve, member_id=bob.id, body="eve's")).json()

    for act in (lambda m, c, i: edit(client, m, c, i, "changed"), lambda m, c, i: delete(client, m, c, i)):
        problem(await act(bob, cid, mid), 403, "forbidden")  # another participant
        problem(await act(operator, cid, mid), 403, "forbidden")  # operators read only
        problem(await act(eve, cid, mid), 404, "not_found")  # not theirs to see
        problem(await act(alice, cid, other["last_message"]["id"]), 404, "not_found")  # another conversation
        problem(await act(alice, other["id"], mid), 404, "not_found")
        problem(await act(alice, cid, 999999), 404, "not_found")
        problem(await act(alice, 999999, mid), 404, "not_found")
    assert (await client.patch(message_path(cid, mid), json={"body": "x"})).status_code == 401
    problem(await client.patch(message_path(cid, 0), json={"body": "x"}, headers=alice.headers), 422,
            "validation_error")  # fmt: skip
    problem(await client.delete(message_path(cid, -1), headers=alice.headers), 422, "validation_error")

    clock.advance(minutes=15)
    body = problem(await edit(client, alice, cid, mid, "too late"), 409, "conflict")
    assert body["extra"] == {"edit_minutes": 15}
    problem(await delete(client, alice, cid, mid), 409, "conflict")
    row = (
        await Message.select(Message.body, Message.edited_at, Message.deleted_at)
        .where(Message.id == mid)
        .first()
    )
    assert row == {"body": "mine", "edited_at": None, "deleted_at": None}


async def test_system_messages_and_closed_conversations(client, runtime, make_member, problem):
    buyer, seller = await make_member(), await make_member()
    order = await orders.create_order(
        runtime, process="testpool", buyer_id=buyer.id, currency="USD",
        items=[ItemIn(description="Boost", unit_price=900)],
    )  # fmt: skip
    created = (await start(client, buyer, order_id=order.id, body="Rank 20 please")).json()
    assert (await client.post(fire_path(order.id, "lock"), headers=seller.headers)).status_code == 200
    mine = (await say(client, seller, created["id"], "On it")).json()
    system = await Message.select(Message.id).where(Message.kind == "system").first()
    problem(await edit(client, buyer, created["id"], system["id"], "rewritten"), 403, "forbidden")
    problem(await delete(client, seller, created["id"], system["id"]), 403, "forbidden")

    released = await client.post(fire_path(order.id, "release"), headers=seller.headers)
    assert released.status_code == 200, released.text
    closed = (await client.get(f"/conversations/{created['id']}", headers=seller.headers)).json()
    assert closed["closed"] is True
    problem(await edit(client, seller, created["id"], mine["id"], "Sorry"), 409, "conflict")
    problem(await delete(client, seller, created["id"], mine["id"]), 409, "conflict")
    assert (await Message.select(Message.body).where(Message.id == mine["id"]).first())["body"] == "On it"


class TestEditingOff:
    @pytest.fixture
    def site_config(self, tmp_path):
        return {"attachments": {"path": str(tmp_path / "files")}, "messaging": {"edit_minutes": 0}}

    async def test_zero_minutes_means_never(self, client, make_member, problem):
        alice, bob = await make_member(), await make_member()
        conversation = (await start(client, alice, member_id=bob.id, body="final")).json()
        mid = conversation["last_message"]["id"]
        problem(await edit(client, alice, conversation["id"], mid, "changed"), 403, "forbidden")
        problem(await delete(client, alice, conversation["id"], mid), 403, "forbidden")


class TestLongerWindow:
    @pytest.fixture
    def site_config(self, tmp_path):
        return {"attachments": {"path": str(tmp_path / "files")}, "messaging": {"edit_minutes": 60}}

    async def test_the_window_is_the_setting(self, client, make_member, clock):
        alice, bob = await make_member(), await make_member()
        conversation = (await start(client, alice, member_id=bob.id, body="draft")).json()
        mid = conversation["last_message"]["id"]
        clock.advance(minutes=59)
        assert (await edit(client, alice, conversation["id"], mid, "final")).status_code == 200
        assert (await delete(client, alice, conversation["id"], mid)).status_code == 204
        assert clock.now() > TEST_EPOCH
