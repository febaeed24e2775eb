"""Members' reports on a conversation or a member in it: filing (with the conversation
captured), duplicates, permissions, bad input, the operators' queue against the review
target, decisions acting on the member, and the reporter's notice."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from agorakit.accounts.tables import Member, MemberWarning
from agorakit.messaging.tables import Message
from agorakit.notifications.tables import Notification
from agorakit.reports.tables import Report


@pytest.fixture
def site_config():
    return {"reports": {"review_hours": 24}}


async def direct(client, sender, other, body="Hello"):
    started = await client.post(
        "/conversations", json={"member_id": other.id, "body": body}, headers=sender.headers
    )
    assert started.status_code == 201, started.text
    return started.json()["id"]


def report(client, member, **body):
    body = {"reason": "abuse", "text": "Insults in every message.", **body}
    return client.post("/reports", json=body, headers=member.headers)


def decide(client, operator, report_id, **body):
    return client.post(f"/operator/reports/{report_id}/decide", json=body, headers=operator.headers)


async def notices(member) -> list[dict]:
    return await Notification.select(Notification.template, Notification.body).where(
        Notification.member_id == member.id
    )


async def test_report_a_member_round_trip(client, runtime, make_member, clock):
    alice, bob = await make_member(display_name="Alice"), await make_member(display_name="Bob")
    operator = await make_member(role="operator")
    conversation_id = await direct(client, bob, alice, "You are an idiot")

    filed = await report(client, alice, conversation_id=conversation_id, member_id=bob.id)
    assert filed.status_code == 201, filed.text
    mine = filed.json()
    assert (mine["status"], mine["outcome"], mine["member_id"], mine["reason"]) == (
        "open",
        None,
        bob.id,
        "abuse",
    )
    assert "evidence" not in mine

    # The evidence is a copy: later edits and messages leave it as it was.
    await Message.update({Message.body: "Have a nice day"}).where(Message.conversation == conversation_id)
    await client.post(
        f"/conversations/{conversation_id}/messages", json={"body": "sorry"}, headers=bob.headers
    )
    clock.advance(timedelta(hours=25))
    queue = (await client.get("/operator/reports", headers=operator.headers)).json()
    assert [r["id"] for r in queue["items"]] == [mine["id"]]
    item = queue["items"][0]
    assert (item["reporter_id"], item["age_hours"], item["overdue"]) == (alice.id, 25.0, True)
    assert [m["body"] for m in item["evidence"]["messages"]] == ["You are an idiot"]
    assert {p["display_name"] for p in item["evidence"]["participants"]} == {"Alice", "Bob"}

    decided = await decide(client, operator, mine["id"], action="warn", note="Keep it civil")
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert (body["status"], body["action"], body["acted_on"], body["overdue"]) == (
        "closed",
        "warn",
        bob.id,
        False,
    )
    warnings = await MemberWarning.select().where(MemberWarning.member_id == bob.id)
    assert [(w["reason"], w["source"]) for w in warnings] == [("Keep it civil", f"report:{mine['id']}")]
    assert "member_warned" in [n["template"] for n in await notices(bob)]
    told = [n for n in await notices(alice) if n["template"] == "report_decided"]
    assert len(told) == 1 and "We took action" in told[0]["body"] and "Keep it civil" not in told[0]["body"]

    mine = (await client.get("/reports", headers=alice.headers)).json()["items"]
    assert [(r["status"], r["outcome"]) for r in mine] == [("closed", "action_taken")]
    assert (await client.get("/reports", headers=bob.headers)).json()["items"] == []
    assert (await client.get("/operator/reports", headers=operator.headers)).json()["items"] == []
    closed = (
        await client.get("/operator/reports", params={"status": "closed"}, headers=operator.headers)
    ).json()
    assert [r["id"] for r in closed["items"]] == [body["id"]]


async def test_report_on_a_conversation_then_suspend_a_named_participant(client, make_member, problem):
    alice, bob, carol = await make_member(), await make_member(), await make_member()
    operator = await make_member(role="operator")
    conversation_id = await direct(client, bob, alice, "Send me money on another site")
    filed = await report(client, alice, conversation_id=conversation_id, reason="off_platform")
    assert filed.status_code == 201, filed.text
    report_id = filed.json()["id"]

    problem(
        await decide(client, operator, report_id, action="suspend", note="Scam"),
        422,
        "validation_error",
        fields={"member_id"},
    )
    problem(
        await decide(client, operator, report_id, action="suspend", note="Scam", member_id=carol.id),
        422,
        "validation_error",
        fields={"member_id"},
    )
    problem(
        await decide(client, operator, report_id, action="suspend", note="Scam", member_id=alice.id),
        422,
        "validation_error",
        fields={"member_id"},
    )
    problem(
        await decide(client, operator, report_id, action="warn", member_id=bob.id),
        422,
        "validation_error",
        fields={"note"},
    )
    problem(await decide(client, alice, report_id, action="dismiss"), 403, "forbidden")
    assert (await Report.select(Report.status).where(Report.id == report_id).first())["status"] == "open"

    decided = await decide(client, operator, report_id, action="suspend", note="Scam", member_id=bob.id)
    assert decided.status_code == 200, decided.text
    assert (await Member.select(Member.status).where(Member.id == bob.id).first())["status"] == "suspended"
    problem(await decide(client, operator, report_id, action="dismiss"), 409, "report_closed")
    mine = (await client.get("/reports", headers=alice.headers)).json()["items"]
    assert mine[0]["outcome"] == "action_taken"


async def test_dismissal_tells_the_reporter_no_action(client, make_member):
    alice, bob, operator = await make_member(), await make_member(), await make_member(role="operator")
    conversation_id = await direct(client, bob, alice)
    report_id = (
        await report(client, alice, conversation_id=conversation_id, member_id=bob.id, reason="spam")
    ).json()["id"]
    decided = await decide(client, operator, report_id, action="dismiss", note="A greeting is fine")
    assert decided.status_code == 200, decided.text
    assert decided.json()["acted_on"] is None
    told = [n for n in await notices(alice) if n["template"] == "report_decided"]
    assert len(told) == 1 and "no action" in told[0]["body"].lower()
    assert await MemberWarning.count() == 0
    mine = (await client.get("/reports", headers=alice.headers)).json()["items"]
    assert mine[0]["outcome"] == "no_action"


async def test_one_open_report_per_reporter_and_target(client, make_member, problem):
    alice, bob, operator = await make_member(), await make_member(), await make_member(role="operator")
    conversation_id = await direct(client, bob, alice)
    first = await report(client, alice, conversation_id=conversation_id, member_id=bob.id)
    assert first.status_code == 201
    problem(
        await report(client, alice, conversation_id=conversation_id, member_id=bob.id), 409, "report_open"
    )
    # the conversation as a whole is another target; the other participant may report too
    assert (await report(client, alice, conversation_id=conversation_id)).status_code == 201
    problem(await report(client, alice, conversation_id=conversation_id), 409, "report_open")
    assert (await report(client, bob, conversation_id=conversation_id, member_id=alice.id)).status_code == 201
    # once decided, a new report may be filed
    await decide(client, operator, first.json()["id"], action="dismiss")
    assert (await report(client, alice, conversation_id=conversation_id, member_id=bob.id)).status_code == 201
    assert await Report.count() == 4


async def test_reports_permissions_and_bad_input(client, runtime, make_member, problem):
    alice, bob, carol = await make_member(), await make_member(), await make_member()
    operator = await make_member(role="operator")
    conversation_id = await direct(client, bob, alice)

    # not taking part: 404 (also for an operator, who only reads it); unknown: 404
    problem(await report(client, carol, conversation_id=conversation_id, member_id=bob.id), 404, "not_found")
    problem(await report(client, operator, conversation_id=conversation_id), 404, "not_found")
    problem(await report(client, alice, conversation_id=999999), 404, "not_found")
    problem(
        await report(client, alice, conversation_id=conversation_id, member_id=alice.id),
        422,
        "validation_error",
        fields={"member_id"},
    )
    problem(
        await report(client, alice, conversation_id=conversation_id, member_id=carol.id),
        422,
        "validation_error",
        fields={"member_id"},
    )
    problem(
        await report(client, alice, conversation_id=conversation_id, text=" short "),
        422,
        "validation_error",
        fields={"text"},
    )
    for body in (
        {"conversation_id": conversation_id, "reason": "rude"},
        {"conversation_id": 0},
        {"conversation_id": conversation_id, "member_id": -1},
        {"conversation_id": conversation_id, "colour": "red"},
    ):
        response = await report(client, alice, **body)
        assert response.status_code == 422, (body, response.text)
    assert (
        await client.post("/reports", json={"text": "no conversation"}, headers=alice.headers)
    ).status_code == 422

    # a conversation where only the site writes (a listing's moderation thread): nothing to report
    from agorakit.messaging import ensure_conversation, post_system_message

    async with runtime.unit_of_work() as uow:
        lonely = await ensure_conversation(
            uow, subject=f"moderation:listing:{alice.id}", participant_ids=[alice.id]
        )
        await post_system_message(
            uow, subject=f"moderation:listing:{alice.id}", body="Your listing was approved"
        )
    problem(
        await report(client, alice, conversation_id=lonely),
        422,
        "validation_error",
        fields={"conversation_id"},
    )
    assert await Report.count() == 0

    # operators only for the queue; members do not see others' reports
    problem(await client.get("/operator/reports", headers=alice.headers), 403, "forbidden")
    report_id = (await report(client, alice, conversation_id=conversation_id, member_id=bob.id)).json()["id"]
    problem(await client.get(f"/operator/reports/{report_id}", headers=bob.headers), 403, "forbidden")
    problem(await client.get("/operator/reports/999999", headers=operator.headers), 404, "not_found")
    assert (await client.get(f"/operator/reports/{report_id}", headers=operator.headers)).json()[
        "member_id"
    ] == bob.id
    problem(await decide(client, operator, 999999, action="dismiss"), 404, "not_found")
    bad = await client.get("/operator/reports", params={"status": "pending"}, headers=operator.headers)
    assert bad.status_code in (400, 422)


async def test_queue_pages_oldest_first(client, make_member, clock):
    operator = await make_member(role="operator")
    members = [await make_member() for _ in range(4)]
    target = await make_member()
    ids = []
    for member in members:
        conversation_id = await direct(client, target, member)
        ids.append(
            (await report(client, member, conversation_id=conversation_id, member_id=target.id)).json()["id"]
        )
        clock.advance(timedelta(hours=10))
    first = (await client.get("/operator/reports", params={"limit": 3}, headers=operator.headers)).json()
    assert [r["id"] for r in first["items"]] == ids[:3]
    assert [r["overdue"] for r in first["items"]] == [True, True, False]
    rest = (
        await client.get(
            "/operator/reports", params={"limit": 3, "cursor": first["next_cursor"]}, headers=operator.headers
        )
    ).json()
    assert [r["id"] for r in rest["items"]] == ids[3:] and rest["next_cursor"] is None


@pytest.mark.postgres_only("proves the unique index and row locking under concurrency on PostgreSQL")
async def test_concurrent_reports_and_decisions_one_wins(client, make_member):
    alice, bob = await make_member(), await make_member()
    first, second = await make_member(role="operator"), await make_member(role="operator")
    conversation_id = await direct(client, bob, alice)
    filed = await asyncio.gather(
        *(report(client, alice, conversation_id=conversation_id, member_id=bob.id) for _ in range(3))
    )
    assert sorted(r.status_code for r in filed) == [201, 409, 409]
    assert await Report.count() == 1
    report_id = next(r for r in filed if r.status_code == 201).json()["id"]
    decided = await asyncio.gather(
        decide(client, first, report_id, action="warn", note="Be civil"),
        decide(client, second, report_id, action="warn", note="Be nice"),
    )
    assert sorted(r.status_code for r in decided) == [200, 409]
    assert await MemberWarning.count() == 1
    told = [n for n in await notices(alice) if n["template"] == "report_decided"]
    assert len(told) == 1
