"""Messaging: finding conversations (filters, text search) in GET /conversations."""

from __future__ import annotations

import pytest
from catalog_helpers import CatalogTestPlugin, make_categories, publish
from test_messaging import say, start
from test_messaging_editing import delete
from test_orders import TestGigPlugin as GigPlugin
from test_orders import gig_process, new_order

from agorakit.messaging import ensure_conversation


@pytest.fixture
def extra_plugins():
    return [("testgig", GigPlugin([gig_process()])), ("catalog", CatalogTestPlugin())]


async def find(client, member, **params):
    response = await client.get("/conversations", params=params, headers=member.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def ids(client, member, **params):
    return [c["id"] for c in (await find(client, member, **params))["items"]]


async def module_conversation(runtime, subject, members):
    async with runtime.unit_of_work() as uow:
        return await ensure_conversation(uow, subject=subject, participant_ids=[m.id for m in members])


async def test_filters_narrow_your_conversations(client, runtime, make_member):
    seller = await make_member(display_name="Sam's Studio")
    buyer = await make_member(display_name="Bea Buyer")
    asker, friend, stranger = await make_member(), await make_member(display_name="Fred"), await make_member()
    operator = await make_member(role="operator")
    await make_categories(client, operator)
    listing = await publish(client, seller, operator)

    order = await new_order(runtime, buyer, seller)
    on_order = (await start(client, buyer, order_id=order.id, body="Can you use blue?")).json()["id"]
    question = (await start(client, asker, listing_id=listing["id"], body="Icons too?")).json()["id"]
    direct = (await start(client, seller, member_id=friend.id, body="Lunch at noon?")).json()["id"]
    lead_a = await module_conversation(runtime, "lead:12:business:3", [buyer, seller])
    lead_b = await module_conversation(runtime, "lead:12:business:4", [friend, seller])
    lead_c = await module_conversation(runtime, "lead:123:business:3", [buyer, seller])
    support = await module_conversation(runtime, "support:1", [seller])
    for conversation_id in (lead_a, lead_b, lead_c):
        await say(client, seller, conversation_id, f"Quote for you ({conversation_id})")
    await say(client, seller, support, "Where is my payout? 50%_of it is late")
    # another member's conversation with the same words: never found by the seller
    await start(client, stranger, member_id=asker.id, body="Lunch at noon? Quote for you")

    everything = await ids(client, seller)
    moderation = [
        i for i in everything if i not in {on_order, question, direct, lead_a, lead_b, lead_c, support}
    ]
    assert len(moderation) == 1  # the listing's approval
    assert everything == [support, lead_c, lead_b, lead_a, direct, question, on_order, *moderation]

    assert await ids(client, seller, counterpart=buyer.id) == [lead_c, lead_a, on_order]
    assert await ids(client, seller, counterpart=friend.id) == [lead_b, direct]
    assert await ids(client, seller, counterpart=stranger.id) == []
    assert await ids(client, seller, listing=listing["id"]) == [question]
    assert await ids(client, seller, order=order.id) == [on_order]
    assert await ids(client, seller, order=order.id + 1000) == []
    assert await ids(client, seller, subject="lead:12:") == [lead_b, lead_a]
    assert await ids(client, seller, subject="lead:1:") == []
    assert await ids(client, seller, subject="lead:12:business:3") == [lead_a]
    assert await ids(client, seller, subject="lead:12") == []  # exact without the colon
    assert await ids(client, seller, subject="lead:") == [lead_c, lead_b, lead_a]
    assert await ids(client, seller, kind="lead") == [lead_c, lead_b, lead_a]
    assert await ids(client, seller, kind="support") == [support]
    assert await ids(client, seller, kind="direct") == [direct]
    assert await ids(client, seller, kind="order") == [on_order]
    assert await ids(client, seller, kind="listing") == [question]
    assert await ids(client, seller, kind="nothing_like_it") == []
    # combined: every filter holds
    assert await ids(client, seller, kind="lead", counterpart=buyer.id, subject="lead:12:") == [lead_a]
    assert await ids(client, seller, listing=listing["id"], order=order.id) == []

    # unread: the seller has not read the buyer's and the asker's messages (and the approval)
    assert await ids(client, seller, unread="true") == [question, on_order, *moderation]
    assert await ids(client, seller, unread="false") == [support, lead_c, lead_b, lead_a, direct]
    assert await ids(client, buyer, unread="true") == [lead_c, lead_a]
    assert await ids(client, buyer, unread="true", counterpart=seller.id, subject="lead:12:") == [lead_a]

    # text: any case, in the messages you can read
    assert await ids(client, seller, q="LUNCH") == [direct]
    assert await ids(client, seller, q="quote for") == [lead_c, lead_b, lead_a]
    assert await ids(client, seller, q=f"({lead_b})") == [lead_b]
    assert await ids(client, seller, q="blue", counterpart=buyer.id) == [on_order]
    assert await ids(client, seller, q="%%") == [] and await ids(client, seller, q="__") == []
    assert await ids(client, seller, q="0%_OF") == [support]  # % and _ are plain characters
    assert await ids(client, stranger, q="quote") == await ids(client, stranger, counterpart=asker.id)
    assert await ids(client, operator, q="quote") == []  # operators see only their own list
    # a deleted message is not searched
    seen = await find(client, seller, q="lunch")
    await delete(client, seller, direct, seen["items"][0]["last_message"]["id"])
    assert await ids(client, seller, q="lunch") == []
    assert await ids(client, friend, q="lunch") == []

    # the counterpart's name, for a client to show "the customer"
    on_order_out = (await find(client, seller, order=order.id))["items"][0]
    assert on_order_out["counterpart"] == {"id": buyer.id, "display_name": "Bea Buyer"}
    assert (await find(client, buyer, order=order.id))["items"][0]["counterpart"] == {
        "id": seller.id,
        "display_name": "Sam's Studio",
    }
    assert (await find(client, seller, kind="support"))["items"][0]["counterpart"] is None
    looked_at = await client.get(f"/conversations/{on_order}", headers=operator.headers)
    assert looked_at.json()["counterpart"] is None


async def test_filters_keep_pages(client, runtime, make_member):
    me = await make_member()
    others = [await make_member() for _ in range(5)]
    leads = [
        await module_conversation(runtime, f"lead:7:business:{n}", [me, o]) for n, o in enumerate(others)
    ]
    for conversation_id in leads:
        await say(client, me, conversation_id, "hello there")
    await start(client, others[0], member_id=me.id, body="hello there")  # not a lead
    seen, cursor = [], None
    while True:
        params = {"kind": "lead", "q": "HELLO", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await find(client, me, **params)
        assert len(page["items"]) <= 2
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == leads[::-1]
    first = await find(client, me, subject="lead:7:", limit=3)
    rest = await find(client, me, subject="lead:7:", limit=3, cursor=first["next_cursor"])
    assert [c["id"] for c in first["items"] + rest["items"]] == leads[::-1]
    assert rest["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"counterpart": "-1"}, {"counterpart"}),
        ({"counterpart": "abc"}, {"counterpart"}),
        ({"counterpart": "0"}, {"counterpart"}),
        ({"counterpart": "99999999999"}, {"counterpart"}),
        ({"listing": "0"}, {"listing"}),
        ({"listing": "-5"}, {"listing"}),
        ({"order": "1.5"}, {"order"}),
        ({"order": ""}, {"order"}),
        ({"subject": ""}, {"subject"}),
        ({"subject": " lead:1:"}, {"subject"}),
        ({"subject": "x" * 121}, {"subject"}),
        ({"subject": "lead:\t1"}, {"subject"}),
        ({"kind": "lead generation"}, {"kind"}),
        ({"kind": ""}, {"kind"}),
        ({"kind": "x" * 41}, {"kind"}),
        ({"unread": "maybe"}, {"unread"}),
        ({"unread": ""}, {"unread"}),
        ({"q": "a"}, {"q"}),
        ({"q": "  a  "}, {"q"}),
        ({"q": "x" * 201}, {"q"}),
        ({"counterpart": "-1", "kind": "?", "q": "a"}, {"counterpart", "kind", "q"}),
    ],
)
async def test_bad_filters_are_422(client, make_member, problem, params, fields):
    me = await make_member()
    response = await client.get("/conversations", params=params, headers=me.headers)
    body = problem(response, 422, "validation_error", fields=fields)
    assert all(e["source"] == "query" for e in body["errors"])


async def test_yourself_is_not_a_counterpart(client, make_member, problem):
    me, other = await make_member(), await make_member()
    await start(client, me, member_id=other.id, body="hi")
    response = await client.get("/conversations", params={"counterpart": me.id}, headers=me.headers)
    problem(response, 422, "validation_error", fields={"counterpart"})
    assert (await client.get("/conversations", params={"kind": "direct"})).status_code == 401
