"""Evidence from conversations: a conversation captured as a copy, disputes capturing the
conversation a report was made from, plugins' additions (``agorakit_dispute_evidence``),
and resolutions acting on a member in their transaction."""

from __future__ import annotations

import pytest
from test_attachments import PNG
from test_disputes import DisputePlugin, balances, delivered_order, open_dispute, resolve

import agorakit
from agorakit.accounts.tables import Member, MemberFlag, MemberWarning
from agorakit.disputes.tables import Dispute
from agorakit.messaging import conversation_evidence
from agorakit.messaging.tables import Message
from agorakit.notifications.tables import Notification


class EvidencePlugin:
    """A plugin adding what it knows about the order (as the leads plugin adds its lead)."""

    def __init__(self) -> None:
        self.state = {"lead": "as unlocked"}

    @agorakit.hookimpl
    async def agorakit_dispute_evidence(self, order, runtime):
        return {"order_id": order["id"], "lead": dict(self.state)}


@pytest.fixture
def evidence_plugin():
    return EvidencePlugin()


@pytest.fixture
def extra_plugins(evidence_plugin):
    return [("disputetest", DisputePlugin()), ("leadsish", evidence_plugin)]


@pytest.fixture
def site_config(tmp_path):
    return {"attachments": {"path": str(tmp_path / "files")}}


async def direct(client, sender, other, body):
    started = await client.post(
        "/conversations", json={"member_id": other.id, "body": body}, headers=sender.headers
    )
    assert started.status_code == 201, started.text
    return started.json()["id"]


async def say(client, member, conversation_id, body, attachments=()):
    said = await client.post(
        f"/conversations/{conversation_id}/messages",
        json={"body": body, "attachments": list(attachments)},
        headers=member.headers,
    )
    assert said.status_code == 201, said.text
    return said.json()


async def test_conversation_evidence_is_a_copy(client, runtime, make_member):
    alice, bob = await make_member(display_name="Alice"), await make_member(display_name="Bob")
    conversation_id = await direct(client, alice, bob, "Hello Bob")
    uploaded = await client.post(
        "/attachments",
        files={"file": ("pic.png", PNG, "image/png")},
        data={"scope": f"conversation:{conversation_id}"},
        headers=bob.headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    file_id = uploaded.json()["id"]
    await say(client, bob, conversation_id, "Here is the picture", [file_id])

    evidence = await conversation_evidence(conversation_id)
    assert evidence["conversation"]["id"] == conversation_id
    assert evidence["conversation"]["kind"] == "direct"
    assert sorted((p["id"], p["display_name"]) for p in evidence["participants"]) == sorted(
        [(alice.id, "Alice"), (bob.id, "Bob")]
    )
    messages = evidence["messages"]
    assert [(m["sender_id"], m["sender_name"], m["body"]) for m in messages] == [
        (alice.id, "Alice", "Hello Bob"),
        (bob.id, "Bob", "Here is the picture"),
    ]
    attachment = messages[1]["attachments"][0]
    assert (attachment["id"], attachment["filename"], attachment["content_type"], attachment["size"]) == (
        file_id,
        "pic.png",
        "image/png",
        len(PNG),
    )
    assert len(attachment["sha256"]) == 64
    frozen = repr(evidence)

    # Later changes to the rows (an edit, a new message) never change the copy.
    await Message.update({Message.body: "rewritten"}).where(Message.conversation == conversation_id)
    await say(client, alice, conversation_id, "A later message")
    assert repr(evidence) == frozen
    now = await conversation_evidence(conversation_id)
    assert [m["body"] for m in now["messages"]] == ["rewritten", "rewritten", "A later message"]


async def test_conversation_evidence_of_a_missing_conversation_is_404(runtime):
    from agorakit.errors import NotFound

    with pytest.raises(NotFound):
        await conversation_evidence(999999)


async def test_dispute_captures_the_conversation_it_was_made_from(client, runtime, make_member, problem):
    buyer, seller, stranger = await make_member(), await make_member(), await make_member()
    order_id = await delivered_order(client, runtime, buyer, seller)
    order_conversation = (await client.get(f"/orders/{order_id}/conversation", headers=buyer.headers)).json()
    await say(client, seller, order_conversation["id"], "Delivered, see the files")
    side = await direct(client, seller, buyer, "Pay me outside the site and I send the files")
    theirs = await direct(client, seller, stranger, "Not yours")

    # A conversation the opener does not take part in is refused, and nothing is opened.
    body = {"reason": "not_delivered", "text": "The files were never sent.", "conversation_id": theirs}
    refused = await client.post(f"/orders/{order_id}/disputes", json=body, headers=buyer.headers)
    problem(refused, 404, "not_found")
    body["conversation_id"] = 999999
    problem(
        await client.post(f"/orders/{order_id}/disputes", json=body, headers=buyer.headers), 404, "not_found"
    )
    body["conversation_id"] = 0
    bad = await client.post(f"/orders/{order_id}/disputes", json=body, headers=buyer.headers)
    assert bad.status_code == 422, bad.text
    assert await Dispute.count() == 0

    body["conversation_id"] = side
    opened = await client.post(f"/orders/{order_id}/disputes", json=body, headers=buyer.headers)
    assert opened.status_code == 201, opened.text
    dispute = opened.json()
    captured = {c["conversation"]["id"]: c for c in dispute["evidence"]["conversations"]}
    assert list(captured) == [order_conversation["id"], side]
    assert [m["body"] for m in captured[side]["messages"]] == ["Pay me outside the site and I send the files"]
    assert any(
        m["body"] == "Delivered, see the files" for m in captured[order_conversation["id"]]["messages"]
    )

    # Messages edited or written after the opening leave the evidence as it was.
    await Message.update({Message.body: "nothing to see"}).where(Message.conversation == side)
    await say(client, seller, side, "I never said that")
    again = (await client.get(f"/disputes/{dispute['id']}", headers=buyer.headers)).json()
    assert again["evidence"] == dispute["evidence"]


async def test_hook_agorakit_dispute_evidence(client, runtime, make_member, evidence_plugin):
    buyer, seller = await make_member(), await make_member()
    order_id = await delivered_order(client, runtime, buyer, seller)
    dispute = (await open_dispute(client, buyer, order_id)).json()
    assert dispute["evidence"]["plugins"] == {
        "leadsish": {"order_id": order_id, "lead": {"lead": "as unlocked"}}
    }
    evidence_plugin.state["lead"] = "changed later"
    again = (await client.get(f"/disputes/{dispute['id']}", headers=seller.headers)).json()
    assert again["evidence"]["plugins"]["leadsish"]["lead"] == {"lead": "as unlocked"}


async def test_resolution_warns_a_member_of_the_conversation(client, runtime, make_member, problem):
    buyer, seller = await make_member(), await make_member()
    operator, outsider = await make_member(role="operator"), await make_member()
    order_id = await delivered_order(client, runtime, buyer, seller)
    dispute = (await open_dispute(client, buyer, order_id)).json()

    # Someone the dispute does not involve, an operator, or a bad action: refused, nothing changes.
    for member_id, code, status in (
        (outsider.id, "member_not_involved", 400),
        (operator.id, "member_not_involved", 400),
    ):
        body = problem(
            await resolve(
                client,
                operator,
                dispute["id"],
                outcome="release",
                member_action={"member_id": member_id, "action": "warn", "note": "Be nice"},
            ),
            status,
            code,
        )
        assert str(member_id) in body["detail"]
    bad = await resolve(
        client,
        operator,
        dispute["id"],
        outcome="release",
        member_action={"member_id": seller.id, "action": "ban"},
    )
    assert bad.status_code == 422
    problem(
        await resolve(
            client,
            operator,
            dispute["id"],
            outcome="release",
            member_action={"member_id": seller.id, "action": "warn"},
        ),
        422,
        "validation_error",
        fields={"member_action.note"},
    )
    assert (await client.get(f"/disputes/{dispute['id']}", headers=buyer.headers)).json()["status"] == "open"
    assert await MemberWarning.count() == 0

    done = await resolve(
        client,
        operator,
        dispute["id"],
        outcome="refund",
        note="No delivery.",
        member_action={"member_id": seller.id, "action": "warn", "note": "Deliver what you sell"},
    )
    assert done.status_code == 200, done.text
    assert done.json()["member_action"] == {
        "member_id": seller.id,
        "action": "warn",
        "note": "Deliver what you sell",
    }
    warnings = await MemberWarning.select().where(MemberWarning.member_id == seller.id)
    assert [(w["reason"], w["source"], w["operator_id"]) for w in warnings] == [
        ("Deliver what you sell", f"dispute:{dispute['id']}", operator.id)
    ]
    notices = await Notification.select(Notification.template).where(Notification.member_id == seller.id)
    assert "member_warned" in [n["template"] for n in notices]
    # The member acted on and operators see the action; the other party does not.
    seen_by_seller = (await client.get(f"/disputes/{dispute['id']}", headers=seller.headers)).json()
    assert seen_by_seller["member_action"]["action"] == "warn"
    assert (await client.get(f"/disputes/{dispute['id']}", headers=buyer.headers)).json()[
        "member_action"
    ] is None
    viewed = (await client.get(f"/operator/members/{seller.id}", headers=operator.headers)).json()
    assert [w["reason"] for w in viewed["warnings"]] == ["Deliver what you sell"]


async def test_resolution_flags_a_member(client, runtime, make_member):
    buyer, seller, operator = await make_member(), await make_member(), await make_member(role="operator")
    order_id = await delivered_order(client, runtime, buyer, seller)
    dispute = (await open_dispute(client, buyer, order_id)).json()
    done = await resolve(
        client,
        operator,
        dispute["id"],
        outcome="reject",
        note="Delivered in the chat.",
        member_action={"member_id": buyer.id, "action": "flag"},
    )
    assert done.status_code == 200, done.text
    viewed = (await client.get(f"/operator/members/{buyer.id}", headers=operator.headers)).json()
    assert viewed["flag"]["reason"] == "Delivered in the chat."
    assert viewed["flag"]["source"] == f"dispute:{dispute['id']}"


async def test_a_failing_member_action_rolls_the_resolution_back(client, runtime, make_member, problem):
    buyer, seller, operator = await make_member(), await make_member(), await make_member(role="operator")
    order_id = await delivered_order(client, runtime, buyer, seller)
    dispute = (await open_dispute(client, buyer, order_id)).json()
    before = await balances(buyer, seller, order_id)
    await Member.update({Member.status: "suspended"}).where(Member.id == seller.id)
    problem(
        await resolve(
            client,
            operator,
            dispute["id"],
            outcome="refund",
            note="No delivery.",
            member_action={"member_id": seller.id, "action": "suspend"},
        ),
        409,
        "conflict",
    )
    row = (
        await Dispute.select(Dispute.status, Dispute.member_action).where(Dispute.id == dispute["id"]).first()
    )
    assert row == {"status": "open", "member_action": None}
    assert await balances(buyer, seller, order_id) == before
    assert (await client.get(f"/orders/{order_id}", headers=buyer.headers)).json()["state"] == "disputed"

    await Member.update({Member.status: "active"}).where(Member.id == seller.id)
    done = await resolve(
        client,
        operator,
        dispute["id"],
        outcome="refund",
        note="No delivery.",
        member_action={"member_id": seller.id, "action": "suspend"},
    )
    assert done.status_code == 200, done.text
    assert (await Member.select(Member.status).where(Member.id == seller.id).first())["status"] == "suspended"
    after = await balances(buyer, seller, order_id)
    assert after["buyer_credit"] == before["buyer_credit"] + 500


async def test_operators_warn_flag_and_unflag_members(client, make_member, problem):
    member, operator, other = (
        await make_member(),
        await make_member(role="operator"),
        await make_member(role="operator"),
    )
    problem(
        await client.post(
            f"/operator/members/{member.id}/warnings", json={"reason": "x"}, headers=member.headers
        ),
        403,
        "forbidden",
    )
    problem(
        await client.post(
            f"/operator/members/{member.id}/warnings", json={"reason": "   "}, headers=operator.headers
        ),
        422,
        "validation_error",
        fields={"reason"},
    )
    problem(
        await client.post(
            f"/operator/members/{other.id}/flag", json={"reason": "Odd"}, headers=operator.headers
        ),
        403,
        "forbidden",
    )
    problem(
        await client.post("/operator/members/999999/flag", json={"reason": "Odd"}, headers=operator.headers),
        404,
        "not_found",
    )
    warned = await client.post(
        f"/operator/members/{member.id}/warnings", json={"reason": "Spam"}, headers=operator.headers
    )
    assert warned.status_code == 201, warned.text
    assert warned.json()["reason"] == "Spam"
    flagged = await client.post(
        f"/operator/members/{member.id}/flag", json={"reason": "Check the listings"}, headers=operator.headers
    )
    assert flagged.status_code == 200, flagged.text
    again = await client.post(
        f"/operator/members/{member.id}/flag", json={"reason": "Check the payouts"}, headers=operator.headers
    )
    assert again.json()["reason"] == "Check the payouts"
    assert await MemberFlag.count() == 1
    viewed = (await client.get(f"/operator/members/{member.id}", headers=operator.headers)).json()
    assert viewed["flag"]["reason"] == "Check the payouts" and viewed["warnings"][0]["reason"] == "Spam"
    # the member's own view does not show the flag
    assert "flag" not in (await client.get("/me", headers=member.headers)).json()
    assert (
        await client.delete(f"/operator/members/{member.id}/flag", headers=operator.headers)
    ).status_code == 204
    problem(
        await client.delete(f"/operator/members/{member.id}/flag", headers=operator.headers), 409, "conflict"
    )
    assert (await client.get(f"/operator/members/{member.id}", headers=operator.headers)).json()[
        "flag"
    ] is None
