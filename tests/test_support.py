"""Support: members' requests answered as "Support", the operators' queue, and operators
writing as Support in orders' conversations."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from catalog_helpers import CatalogTestPlugin
from test_orders import TestGigPlugin as GigPlugin
from test_orders import gig_process, new_order

from agorakit import hookimpl
from agorakit.messaging import conversation_evidence, transcript
from agorakit.messaging.tables import Conversation, Message
from agorakit.support.tables import SupportTicket

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


class LeadsPlugin:
    """Vouches for the leads of ``owners`` (lead id -> member id)."""

    def __init__(self) -> None:
        self.owners: dict[int, int] = {}
        self.asked: list[tuple[str, int, int]] = []

    @hookimpl
    def agorakit_support_link(self, kind, id, member):
        self.asked.append((kind, id, member.id))
        if kind != "lead":
            return None
        return self.owners.get(id) == member.id


@pytest.fixture
def leads():
    return LeadsPlugin()


@pytest.fixture
def extra_plugins(leads):
    return [("testgig", GigPlugin([gig_process()])), ("catalog", CatalogTestPlugin()), ("leads", leads)]


@pytest.fixture
def site_config(tmp_path):
    return {"attachments": {"path": str(tmp_path / "files")}}


async def open_ticket(client, member, **body):
    return await client.post(
        "/support", json={"category": "other", "body": "Help!", **body}, headers=member.headers
    )


async def queue(client, operator, **params):
    response = await client.get("/operator/support", params=params, headers=operator.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def messages(client, member, conversation_id):
    response = await client.get(f"/conversations/{conversation_id}/messages", headers=member.headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def notifications(client, member):
    response = await client.get("/notifications", headers=member.headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def say(client, member, conversation_id, body):
    return await client.post(
        f"/conversations/{conversation_id}/messages", json={"body": body}, headers=member.headers
    )


# --------------------------------------------------------------------------------------
# The round trip
# --------------------------------------------------------------------------------------


async def test_round_trip(client, runtime, make_member, clock, problem):
    buyer = await make_member(display_name="Bea Buyer")
    seller = await make_member(display_name="Sam Seller")
    operator = await make_member(role="operator", display_name="Olga Operator")
    other_operator = await make_member(role="operator")
    order = await new_order(runtime, buyer, seller)

    opened = await open_ticket(
        client,
        buyer,
        category="order",
        subject="  Where is   my logo? ",
        body="The seller has not answered for two days.",
        link={"kind": "order", "id": order.id},
    )
    assert opened.status_code == 201, opened.text
    ticket = opened.json()
    assert ticket["category"] == "order" and ticket["subject"] == "Where is my logo?"
    assert ticket["link"] == {"kind": "order", "id": order.id}
    assert (ticket["status"], ticket["waiting"], ticket["closed_at"]) == ("open", True, None)
    assert "member" not in ticket and "assignee_id" not in ticket
    conversation = (
        await client.get(f"/conversations/{ticket['conversation_id']}", headers=buyer.headers)
    ).json()
    assert (conversation["kind"], conversation["subject"]) == ("support", f"support:{ticket['id']}")
    assert [p["id"] for p in conversation["participants"]] == [buyer.id]

    # every operator is told of the new request
    for who in (operator, other_operator):
        told = [n for n in await notifications(client, who) if n["template"] == "support_opened"]
        assert len(told) == 1 and told[0]["link"] == f"/operator/support/{ticket['id']}"
    assert not [n for n in await notifications(client, buyer) if n["template"] == "support_opened"]

    # the unassigned box, with the member and how long they have waited
    clock.advance(timedelta(minutes=30))
    box = await queue(client, operator, box="unassigned")
    assert [t["id"] for t in box["items"]] == [ticket["id"]]
    item = box["items"][0]
    assert item["member"] == {"id": buyer.id, "display_name": "Bea Buyer", "email": buyer.member.email}
    assert (item["assignee_id"], item["age_seconds"], item["waiting"]) == (None, 1800, True)
    assert (await queue(client, operator, box="mine"))["items"] == []

    assigned = await client.post(
        f"/operator/support/{ticket['id']}/assign",
        json={"operator_id": operator.id},
        headers=operator.headers,
    )
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["assignee_id"] == operator.id
    assert (await queue(client, operator, box="unassigned"))["items"] == []
    assert [t["id"] for t in (await queue(client, operator, box="mine"))["items"]] == [ticket["id"]]
    assert (await queue(client, other_operator, box="mine"))["items"] == []

    replied = await client.post(
        f"/operator/support/{ticket['id']}/reply",
        json={"body": "We wrote to the seller; you will hear from us today."},
        headers=operator.headers,
    )
    assert replied.status_code == 200, replied.text
    assert (replied.json()["waiting"], replied.json()["age_seconds"]) == (False, None)
    assert replied.json()["last_reply_at"] is not None

    # the member sees "Support", not who wrote it; operators see who did
    seen = await messages(client, buyer, ticket["conversation_id"])
    assert [(m["kind"], m["sender_name"], m["sender_id"]) for m in seen] == [
        ("support", "Support", None),
        ("member", "Bea Buyer", buyer.id),
    ]
    seen = await messages(client, other_operator, ticket["conversation_id"])
    assert (seen[0]["sender_name"], seen[0]["sender_id"]) == ("Support", operator.id)
    told = [n for n in await notifications(client, buyer) if n["template"] == "message_received"]
    assert len(told) == 1 and told[0]["title"] == "New message from Support"
    assert "Olga" not in told[0]["body"]
    assert (await client.get("/me/unread-messages", headers=buyer.headers)).json() == {
        "conversations": 1,
        "messages": 1,
    }

    # the member answers in the conversation: it waits again, since then
    clock.advance(timedelta(minutes=5))
    answer = await say(client, buyer, ticket["conversation_id"], "Thank you, still nothing.")
    assert answer.status_code == 201, answer.text
    clock.advance(timedelta(minutes=10))
    item = (await queue(client, operator, box="mine"))["items"][0]
    assert (item["waiting"], item["age_seconds"]) == (True, 600)
    # an operator's message in the conversation answers it too
    assert (
        await say(client, other_operator, ticket["conversation_id"], "The seller delivered.")
    ).status_code == 201
    item = (await queue(client, operator, box="mine"))["items"][0]
    assert (item["waiting"], item["assignee_id"]) == (False, operator.id)

    closed = await client.post(f"/operator/support/{ticket['id']}/close", headers=operator.headers)
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed" and closed.json()["closed_at"] is not None
    problem(
        await client.post(f"/operator/support/{ticket['id']}/close", headers=operator.headers),
        409,
        "conflict",
    )
    told = [n for n in await notifications(client, buyer) if n["template"] == "support_closed"]
    assert len(told) == 1 and told[0]["link"] == f"/support/{ticket['id']}"
    assert (await queue(client, operator))["items"] == []
    assert [t["id"] for t in (await queue(client, operator, status="closed"))["items"]] == [ticket["id"]]
    problem(
        await client.post(
            f"/operator/support/{ticket['id']}/reply",
            json={"body": "One more thing"},
            headers=operator.headers,
        ),
        409,
        "conflict",
    )

    # the member writes again: it is open again, waiting
    assert (await say(client, buyer, ticket["conversation_id"], "It came back broken.")).status_code == 201
    again = (await client.get(f"/support/{ticket['id']}", headers=buyer.headers)).json()
    assert (again["status"], again["waiting"], again["closed_at"]) == ("open", True, None)
    assert [t["id"] for t in (await queue(client, operator, box="mine"))["items"]] == [ticket["id"]]

    # the member closes it themselves (nobody is told)
    mine = await client.post(f"/support/{ticket['id']}/close", headers=buyer.headers)
    assert mine.status_code == 200 and mine.json()["status"] == "closed"
    problem(await client.post(f"/support/{ticket['id']}/close", headers=buyer.headers), 409, "conflict")
    assert len([n for n in await notifications(client, buyer) if n["template"] == "support_closed"]) == 1
    listed = (await client.get("/support", headers=buyer.headers)).json()
    assert [t["id"] for t in listed["items"]] == [ticket["id"]] and listed["next_cursor"] is None
    names = [name for (name,) in [(r["name"],) for r in await _events()]]
    assert names.count("support.opened") == 1 and names.count("support.replied") == 2
    assert names.count("support.closed") == 2 and names.count("support.reopened") == 1
    assert names.count("support.assigned") == 1


async def _events():
    from agorakit.events.tables import StoredEvent

    return (
        await StoredEvent.select(StoredEvent.name)
        .where(StoredEvent.name.like("support.%"))
        .order_by(StoredEvent.id)
    )


async def test_reply_assigns_an_unassigned_request_and_files_travel(client, runtime, make_member):
    member = await make_member()
    operator = await make_member(role="operator")
    upload = await client.post(
        "/attachments",
        files={"file": ("screen.png", PNG, "image/png")},
        data={"scope": f"member:{member.id}"},
        headers=member.headers,
    )
    assert upload.status_code == 201, upload.text
    file_id = upload.json()["id"]
    opened = await open_ticket(client, member, category="account", body="", attachments=[file_id])
    assert opened.status_code == 201, opened.text
    ticket = opened.json()
    first = (await messages(client, member, ticket["conversation_id"]))[0]
    assert [a["id"] for a in first["attachments"]] == [file_id]
    assert (await client.get(f"/attachments/{file_id}", headers=operator.headers)).status_code == 200

    # the operator attaches a file of their own, uploaded for the conversation
    scope = f"conversation:{ticket['conversation_id']}"
    mine = await client.post(
        "/attachments",
        files={"file": ("how.png", PNG, "image/png")},
        data={"scope": scope},
        headers=operator.headers,
    )
    assert mine.status_code == 201, mine.text
    replied = await client.post(
        f"/operator/support/{ticket['id']}/reply",
        json={"body": "See the picture", "attachments": [mine.json()["id"]]},
        headers=operator.headers,
    )
    assert replied.status_code == 200, replied.text
    assert replied.json()["assignee_id"] == operator.id
    last = (await messages(client, member, ticket["conversation_id"]))[0]
    assert (last["sender_name"], [a["id"] for a in last["attachments"]]) == ("Support", [mine.json()["id"]])
    assert (await client.get(f"/attachments/{mine.json()['id']}", headers=member.headers)).status_code == 200


# --------------------------------------------------------------------------------------
# Operators write as Support in orders' conversations
# --------------------------------------------------------------------------------------


async def test_operator_writes_as_support_in_an_order_conversation(client, runtime, make_member, problem):
    buyer = await make_member(display_name="Bea Buyer")
    seller = await make_member(display_name="Sam Seller")
    operator = await make_member(role="operator", display_name="Olga Operator")
    order = await new_order(runtime, buyer, seller)
    conversation = (await client.get(f"/orders/{order.id}/conversation", headers=buyer.headers)).json()

    written = await say(client, operator, conversation["id"], "Hello both, Support here.")
    assert written.status_code == 201, written.text
    assert (written.json()["kind"], written.json()["sender_name"]) == ("support", "Support")
    assert written.json()["sender_id"] == operator.id  # the operator sees who wrote it
    for party in (buyer, seller):
        seen = await messages(client, party, conversation["id"])
        assert [(m["kind"], m["sender_name"], m["sender_id"], m["body"]) for m in seen] == [
            ("support", "Support", None, "Hello both, Support here.")
        ]
        told = [n for n in await notifications(client, party) if n["template"] == "message_received"]
        assert [n["title"] for n in told] == [f"New message from Support about order {order.id}"]
        assert (await client.get("/me/unread-messages", headers=party.headers)).json()["messages"] == 1
    # the operator does not take part
    after = (await client.get(f"/conversations/{conversation['id']}", headers=buyer.headers)).json()
    assert sorted(p["id"] for p in after["participants"]) == sorted([buyer.id, seller.id])
    assert after["last_message"]["sender_name"] == "Support" and after["last_message"]["sender_id"] is None
    assert (await client.get("/conversations", headers=operator.headers)).json()["items"] == []
    # the parties answer as themselves
    assert (await say(client, seller, conversation["id"], "Thanks")).json()["sender_name"] == "Sam Seller"
    # the transcript (dispute evidence, which the parties read) does not name the operator
    evidence = await transcript(f"order:{order.id}")
    assert [(m["kind"], m["sender_id"]) for m in evidence] == [("support", None), ("member", seller.id)]
    snapshot = await conversation_evidence(conversation["id"])
    assert [(m["sender_id"], m["sender_name"]) for m in snapshot["messages"]] == [
        (None, "Support"),
        (seller.id, "Sam Seller"),
    ]


async def test_operator_does_not_write_in_direct_or_listing_conversations(client, make_member, problem):
    alice, bob = await make_member(), await make_member()
    operator = await make_member(role="operator")
    direct = (
        await client.post("/conversations", json={"member_id": bob.id, "body": "hi"}, headers=alice.headers)
    ).json()
    problem(await say(client, operator, direct["id"], "moderator here"), 403, "forbidden")
    assert await Message.count().where(Message.conversation == direct["id"]) == 1
    # a member (not an operator) still cannot write in someone else's support request
    ticket = (await open_ticket(client, alice)).json()
    problem(await say(client, bob, ticket["conversation_id"], "me too"), 404, "not_found")


# --------------------------------------------------------------------------------------
# Bad input changes nothing
# --------------------------------------------------------------------------------------


async def test_bad_requests_change_nothing(client, runtime, make_member, problem, leads):
    member, other, third = await make_member(), await make_member(), await make_member()
    operator = await make_member(role="operator")
    foreign = await new_order(runtime, other, third)
    leads.owners = {7: member.id, 8: other.id}

    async def refused(status, code, fields=None, **body):
        problem(await open_ticket(client, member, **body), status, code, fields=fields)

    await refused(422, "validation_error", {"category"}, category="refund")
    await refused(400, "bad_request", {"link.kind"}, link={"kind": "invoice", "id": 1})
    await refused(422, "validation_error", {"link.id"}, link={"kind": "order", "id": 0})
    await refused(
        422, "validation_error", {"link"}, category="order", link={"kind": "order", "id": foreign.id}
    )
    await refused(422, "validation_error", {"link"}, link={"kind": "order", "id": 999999})
    await refused(422, "validation_error", {"link"}, link={"kind": "withdrawal", "id": 999999})
    await refused(422, "validation_error", {"link"}, link={"kind": "listing", "id": 999999})
    await refused(422, "validation_error", {"link"}, link={"kind": "lead", "id": 8})
    await refused(422, "validation_error", {"link"}, link={"kind": "lead", "id": 9})
    await refused(422, "validation_error", {"body"}, body="   ")
    await refused(422, "validation_error", {"attachments"}, attachments=[999999])
    problem(
        await client.post("/support", json={"body": "hi"}, headers=member.headers), 422, "validation_error"
    )
    assert await SupportTicket.count() == 0
    assert await Conversation.count() == 0

    ok = await open_ticket(client, member, link={"kind": "lead", "id": 7}, category="payment")
    assert ok.status_code == 201 and ok.json()["link"] == {"kind": "lead", "id": 7}
    ticket = ok.json()
    for path in (f"/support/{ticket['id'] + 1000}", f"/support/{ticket['id'] + 1000}/close"):
        method = client.get if not path.endswith("close") else client.post
        problem(await method(path, headers=member.headers), 404, "not_found")
    for path in ("", "/assign", "/reply", "/close"):
        method = client.get if not path else client.post
        body = {"operator_id": operator.id} if path == "/assign" else {"body": "x"}
        kwargs = {} if not path or path == "/close" else {"json": body}
        problem(
            await method(f"/operator/support/999999{path}", headers=operator.headers, **kwargs),
            404,
            "not_found",
        )
    empty = await client.post(
        f"/operator/support/{ticket['id']}/reply", json={"body": ""}, headers=operator.headers
    )
    problem(empty, 422, "validation_error", fields={"body"})
    problem(
        await client.post(
            f"/operator/support/{ticket['id']}/assign",
            json={"operator_id": other.id},
            headers=operator.headers,
        ),
        400,
        "bad_request",
        fields={"operator_id"},
    )
    problem(
        await client.get("/operator/support", params={"box": "theirs"}, headers=operator.headers),
        422,
        "validation_error",
    )
    problem(
        await client.get("/operator/support", params={"category": "x"}, headers=operator.headers),
        422,
        "validation_error",
    )
    row = await SupportTicket.select().first()
    assert (row["assignee_id"], row["last_reply_message_id"], row["status"]) == (None, 0, "open")
    assert await Message.count() == 1


# --------------------------------------------------------------------------------------
# Who sees what
# --------------------------------------------------------------------------------------


async def test_members_see_only_their_own_requests(client, make_member, problem):
    member, other = await make_member(), await make_member()
    operator = await make_member(role="operator")
    ticket = (await open_ticket(client, member)).json()
    problem(await client.get(f"/support/{ticket['id']}", headers=other.headers), 404, "not_found")
    problem(await client.post(f"/support/{ticket['id']}/close", headers=other.headers), 404, "not_found")
    problem(
        await client.get(f"/conversations/{ticket['conversation_id']}", headers=other.headers),
        404,
        "not_found",
    )
    assert (await client.get("/support", headers=other.headers)).json()["items"] == []
    # operators use the operator routes; members get 403 there
    problem(await client.get(f"/support/{ticket['id']}", headers=operator.headers), 404, "not_found")
    for method, path, body in [
        (client.get, "/operator/support", None),
        (client.get, f"/operator/support/{ticket['id']}", None),
        (client.post, f"/operator/support/{ticket['id']}/assign", {"operator_id": operator.id}),
        (client.post, f"/operator/support/{ticket['id']}/reply", {"body": "hi"}),
        (client.post, f"/operator/support/{ticket['id']}/close", None),
    ]:
        kwargs = {"json": body} if body is not None else {}
        problem(await method(path, headers=member.headers, **kwargs), 403, "forbidden")
    assert (await client.get("/support")).status_code == 401
    got = await client.get(f"/operator/support/{ticket['id']}", headers=operator.headers)
    assert got.status_code == 200 and got.json()["member"]["id"] == member.id


async def test_an_operator_gives_a_request_to_another(client, make_member):
    member = await make_member()
    first, second = await make_member(role="operator"), await make_member(role="owner")
    ticket = (await open_ticket(client, member)).json()
    given = await client.post(
        f"/operator/support/{ticket['id']}/assign", json={"operator_id": second.id}, headers=first.headers
    )
    assert given.status_code == 200 and given.json()["assignee_id"] == second.id
    told = [n for n in await notifications(client, second) if n["template"] == "support_assigned"]
    assert len(told) == 1
    assert [t["id"] for t in (await queue(client, second, box="mine"))["items"]] == [ticket["id"]]
    # replying does not take it from them
    await client.post(
        f"/operator/support/{ticket['id']}/reply", json={"body": "On it"}, headers=first.headers
    )
    assert (await queue(client, second, box="mine"))["items"][0]["assignee_id"] == second.id


# --------------------------------------------------------------------------------------
# The queue: the longest waiting first, keyset pages
# --------------------------------------------------------------------------------------


async def test_queue_order_and_pages(client, make_member, clock):
    members = [await make_member() for _ in range(4)]
    operator = await make_member(role="operator")
    tickets = []
    for i, member in enumerate(members):
        category = "payment" if i % 2 else "other"
        tickets.append((await open_ticket(client, member, category=category, body=f"Request {i}")).json())
        clock.advance(timedelta(minutes=1))
    # the oldest is answered: it goes after the waiting ones; its member writes again later
    await client.post(
        f"/operator/support/{tickets[0]['id']}/reply", json={"body": "Done"}, headers=operator.headers
    )
    # the second one's member writes again: its oldest unanswered message still counts
    await say(client, members[1], tickets[1]["conversation_id"], "Any news?")
    ids = [t["id"] for t in tickets]

    seen, cursor = [], None
    while True:
        params = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = await queue(client, operator, **params)
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [ids[1], ids[2], ids[3], ids[0]]
    assert [t["id"] for t in (await queue(client, operator, box="unassigned"))["items"]] == ids[1:]
    assert [t["id"] for t in (await queue(client, operator, category="payment"))["items"]] == [ids[1], ids[3]]
    # the first member writes after the answer: it waits again, now the newest
    clock.advance(timedelta(minutes=1))
    await say(client, members[0], tickets[0]["conversation_id"], "One more question")
    assert [t["id"] for t in (await queue(client, operator))["items"]] == [ids[1], ids[2], ids[3], ids[0]]
    assert (await queue(client, operator))["items"][3]["age_seconds"] == 0
    page = (await client.get("/support", params={"limit": 1}, headers=members[0].headers)).json()
    assert [t["id"] for t in page["items"]] == [ids[0]] and page["next_cursor"] is None


# --------------------------------------------------------------------------------------
# The hook
# --------------------------------------------------------------------------------------


async def test_hook_agorakit_support_link(client, make_member, leads, problem):
    member = await make_member()
    leads.owners = {3: member.id}
    ok = await open_ticket(client, member, link={"kind": "lead", "id": 3})
    assert ok.status_code == 201, ok.text
    assert leads.asked == [("lead", 3, member.id)]
    problem(await open_ticket(client, member, link={"kind": "lead", "id": 4}), 422, "validation_error")
    # the core checks orders, listings and withdrawals itself: the hook is not asked
    await open_ticket(client, member, link={"kind": "withdrawal", "id": 5})
    assert [kind for kind, _, _ in leads.asked] == ["lead", "lead"]


# --------------------------------------------------------------------------------------
# Concurrency
# --------------------------------------------------------------------------------------


@pytest.mark.postgres_only("proves the ticket's queue state under concurrent writes on PostgreSQL")
async def test_concurrent_messages_and_closings_keep_the_queue_right(client, make_member, problem):
    import asyncio

    member = await make_member()
    operators = [await make_member(role="operator") for _ in range(3)]
    ticket = (await open_ticket(client, member)).json()
    conversation_id = ticket["conversation_id"]

    async def reply(operator, n):
        return await client.post(
            f"/operator/support/{ticket['id']}/reply", json={"body": f"answer {n}"}, headers=operator.headers
        )

    answers = await asyncio.gather(
        *(reply(operators[n % 3], n) for n in range(6)),
        *(say(client, member, conversation_id, f"question {n}") for n in range(6)),
    )
    assert [r.status_code for r in answers] == [200] * 6 + [201] * 6
    rows = await Message.select(Message.id, Message.kind).where(Message.conversation == conversation_id)
    last_support = max(r["id"] for r in rows if r["kind"] == "support")
    last_member = max(r["id"] for r in rows if r["kind"] == "member")
    row = await SupportTicket.select().where(SupportTicket.id == ticket["id"]).first()
    assert (row["last_reply_message_id"], row["last_member_message_id"]) == (last_support, last_member)
    assert row["waiting"] == (last_member > last_support)
    assert row["assignee_id"] in {o.id for o in operators}  # the first answer took it, once
    assigned = await _events()
    assert [e["name"] for e in assigned].count("support.assigned") == 1
    assert [e["name"] for e in assigned].count("support.replied") == 6

    closings = await asyncio.gather(
        *(client.post(f"/operator/support/{ticket['id']}/close", headers=o.headers) for o in operators),
        client.post(f"/support/{ticket['id']}/close", headers=member.headers),
    )
    assert sorted(r.status_code for r in closings) == [200, 409, 409, 409]
    assert [e["name"] for e in await _events()].count("support.closed") == 1
