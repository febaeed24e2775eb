"""The console's reports, flagged messages and reviews pages, over HTTP (both databases).

Each page shows its items with their evidence; each decision goes through the page to the
API, which shows the result; a refused decision shows the API's message and changes nothing.
"""

from __future__ import annotations

import pytest
from console_helpers import CONSOLE_SITE, Console, error_of, ok, text_of


@pytest.fixture
def site_config():
    return {**CONSOLE_SITE, "messaging": {"screening": "flag"}}


async def direct(client, sender, other, body: str) -> dict:
    return await ok(
        await client.post(
            "/conversations", json={"member_id": other.id, "body": body}, headers=sender.headers
        ),
        201,
    )


async def test_a_report_shows_the_captured_conversation_and_is_decided(client, make_operator, make_member):
    operator = await make_operator()
    alice, bob = await make_member(), await make_member()
    talk = await direct(client, bob, alice, "Pay me outside the site and skip the fees")
    body = {
        "conversation_id": talk["id"],
        "member_id": bob.id,
        "reason": "off_platform",
        "text": "He asked me to pay him elsewhere.",
    }
    report = await ok(await client.post("/reports", json=body, headers=alice.headers), 201)
    async with Console(client) as browser:
        await browser.sign_in(operator.member.email, operator.password)
        queue = await browser.get("/console/reports")
        text = text_of(queue)
        assert f"#{report['id']} off platform" in text and bob.member.display_name in text
        page = await browser.get(f"/console/reports/{report['id']}")
        text = text_of(page)
        assert "He asked me to pay him elsewhere." in text
        assert "Pay me outside the site and skip the fees" in text  # the captured conversation
        assert f"About {bob.member.display_name}" in text

        # warning without a note: the API's 422, shown on the report; it stays open
        bare = await browser.post(
            f"/console/reports/{report['id']}/decide", {"action": "warn", "member_id": str(bob.id)}
        )
        assert bare.headers["location"] == f"/console/reports/{report['id']}"
        page = await browser.get(f"/console/reports/{report['id']}")
        assert "note" in error_of(page) and "Decide" in text_of(page)
        assert (await ok(await client.get(f"/operator/reports/{report['id']}", headers=operator.headers)))[
            "status"
        ] == "open"

        warned = await browser.post(
            f"/console/reports/{report['id']}/decide",
            {"action": "warn", "member_id": str(bob.id), "note": "Payments go through the site."},
        )
        assert warned.headers["location"] == "/console/reports"
        assert f"Report #{report['id']} decided: the member is warned." in text_of(
            await browser.get("/console/reports")
        )
    decided = await ok(await client.get(f"/operator/reports/{report['id']}", headers=operator.headers))
    assert (decided["status"], decided["action"], decided["acted_on"], decided["decision_note"]) == (
        "closed",
        "warn",
        bob.id,
        "Payments go through the site.",
    )
    member = await ok(await client.get(f"/operator/members/{bob.id}", headers=operator.headers))
    assert [w["reason"] for w in member["warnings"]] == ["Payments go through the site."]


async def test_a_report_is_dismissed_without_its_csrf_token_refused(client, make_operator, make_member):
    operator = await make_operator()
    alice, bob = await make_member(), await make_member()
    talk = await direct(client, bob, alice, "Hello there")
    body = {"conversation_id": talk["id"], "reason": "spam", "text": "This whole conversation is spam."}
    report = await ok(await client.post("/reports", json=body, headers=alice.headers), 201)
    async with Console(client) as browser:
        await browser.sign_in(operator.member.email, operator.password)
        page = await browser.get(f"/console/reports/{report['id']}")
        assert f'<option value="{bob.id}">' in page.text  # the participants to act on
        refused = await browser.post(
            f"/console/reports/{report['id']}/decide", {"action": "dismiss"}, csrf=False
        )
        assert refused.status_code == 403
        assert (await ok(await client.get(f"/operator/reports/{report['id']}", headers=operator.headers)))[
            "status"
        ] == "open"
        dismissed = await browser.post(
            f"/console/reports/{report['id']}/decide", {"action": "dismiss", "member_id": ""}
        )
        assert dismissed.headers["location"] == "/console/reports"
    decided = await ok(await client.get(f"/operator/reports/{report['id']}", headers=operator.headers))
    assert (decided["status"], decided["action"], decided["acted_on"]) == ("closed", "dismiss", None)


async def test_flagged_messages_show_their_flags_and_conversation(client, make_operator, make_member):
    operator = await make_operator()
    alice, bob = await make_member(), await make_member()
    talk = await direct(client, alice, bob, "call +1 555 123 4567")
    await ok(
        await client.post(
            f"/conversations/{talk['id']}/messages", json={"body": "no thanks"}, headers=bob.headers
        ),
        201,
    )
    async with Console(client) as browser:
        await browser.sign_in(operator.member.email, operator.password)
        page = await browser.get("/console/messages")
        text = text_of(page)
        assert "call +1 555 123 4567" in text and "phone number (“+1 555 123 4567”)" in text
        assert "no thanks" not in text  # only the flagged one
        assert f'href="/console/conversations/{talk["id"]}#message-' in page.text
        conversation = await browser.get(f"/console/conversations/{talk['id']}")
        text = text_of(conversation)
    assert f"Conversation #{talk['id']}" in text
    assert text.index("call +1 555 123 4567") < text.index("no thanks")  # oldest first
    assert alice.member.display_name in text and bob.member.display_name in text


async def test_a_review_is_hidden_and_shown_again(client, make_operator, make_member, make_order):
    operator = await make_operator()
    buyer = await make_member()
    order = await make_order(kind="gig", state="completed", buyer=buyer)
    body = {"rating": 1, "text": "Terrible, and here is the seller's phone number"}
    review = await ok(
        await client.post(f"/orders/{order['id']}/reviews", json=body, headers=buyer.headers), 201
    )
    async with Console(client) as browser:
        await browser.sign_in(operator.member.email, operator.password)
        page = await browser.get("/console/reviews")
        assert f"#{review['id']}: 1 of 5 by {buyer.member.display_name}" in text_of(page)
        assert body["text"] in text_of(page)
        empty = await browser.post(
            f"/console/reviews/{review['id']}/hide", {"reason": "", "back": "/console/reviews"}
        )
        assert empty.headers["location"] == "/console/reviews"
        assert "reason" in error_of(await browser.get("/console/reviews"))
        assert not (
            await ok(await client.get(f"/operator/reviews/{review['id']}", headers=operator.headers))
        )["hidden"]
        hidden = await browser.post(
            f"/console/reviews/{review['id']}/hide",
            {"reason": "Personal details", "back": "/console/reviews?hidden=false"},
        )
        assert hidden.headers["location"] == "/console/reviews?hidden=false"
        page = await browser.get("/console/reviews", hidden="true")
        assert "Hidden: Personal details" in text_of(page) and "Show again" in text_of(page)
        answer = await ok(await client.get(f"/operator/reviews/{review['id']}", headers=operator.headers))
        assert (answer["hidden"], answer["hidden_reason"]) == (True, "Personal details")
        shown = await browser.post(
            f"/console/reviews/{review['id']}/unhide", {"back": "https://evil.example/"}
        )
        assert shown.headers["location"] == "/console/reviews"  # never another site
    answer = await ok(await client.get(f"/operator/reviews/{review['id']}", headers=operator.headers))
    assert answer["hidden"] is False
