"""The console's withdrawals, support and system pages, over HTTP (both databases).

Each page shows its items; each action goes through the page to the API, which shows the
result (states, exact cents); a refused action shows the API's message and changes nothing.
"""

from __future__ import annotations

import pytest
from api_world import IBAN_ACCOUNT
from console_helpers import CONSOLE_SITE, Console, error_of, ok, text_of, usd

from agorakit.events.tables import StoredEvent
from agorakit.notifications.tables import EmailOutbox
from agorakit.orders.tables import OrderTimer


@pytest.fixture
def site_config():
    return {**CONSOLE_SITE, "plugins": {"bank_transfer": {"payout_fee": "1.00"}}}


async def withdraw(client, member, amount: str) -> dict:
    body = {"method": "bank_transfer", "amount": usd(amount), "destination": IBAN_ACCOUNT}
    return await ok(await client.post("/withdrawals", json=body, headers=member.headers), 201)


async def available(client, member) -> str:
    answer = await ok(await client.get("/me/balance", headers=member.headers))
    return next(item["available"] for item in answer["balances"] if item["currency"] == "USD")


# -- withdrawals -------------------------------------------------------------------------


async def test_withdrawals_are_marked_paid_or_failed(client, clock, make_operator, make_member, fund_member):
    operator = await make_operator()
    ada = await make_member()
    await fund_member(ada, 20000)
    first = await withdraw(client, ada, "60.00")
    second = await withdraw(client, ada, "75.00")
    assert await available(client, ada) == "65.00"
    async with Console(client) as browser:
        await browser.sign_in(operator.member.email, operator.password)
        page = await browser.get("/console/withdrawals", status="requested")
        text = text_of(page)
        assert f"#{first['id']} 60.00 USD by {ada.member.display_name}" in text
        assert "Fee 1.00 USD To send 59.00 USD" in text
        assert "iban DE89370400440532013000" in text and "account holder Ada Lovelace" in text
        assert "No withdrawal matches." in text_of(await browser.get("/console/withdrawals", overdue="true"))
        clock.advance(days=30)
        stuck = text_of(await browser.get("/console/withdrawals", overdue="true"))
        assert f"#{first['id']} 60.00 USD" in stuck and "overdue" in stuck

        # a requested one is paid only once it is batched: the API's 409, shown
        early = await browser.post(f"/console/withdrawals/{first['id']}/complete", {})
        assert early.headers["location"] == "/console/withdrawals"
        assert "is requested; it cannot become completed" in error_of(
            await browser.get("/console/withdrawals")
        )
        batch = await client.post(
            "/bank-transfer/payout-batches", json={"currency": "USD"}, headers=operator.headers
        )
        assert batch.status_code == 201, batch.text
        assert "Mark paid" in text_of(await browser.get("/console/withdrawals", status="processing"))
        paid = await browser.post(
            f"/console/withdrawals/{first['id']}/complete",
            {"provider_ref": "SEPA-2026-0001", "back": "/console/withdrawals?status=requested"},
        )
        assert paid.headers["location"] == "/console/withdrawals?status=requested"
        assert f"Withdrawal #{first['id']} marked paid." in text_of(await browser.get("/console/withdrawals"))
        # failing one without a reason: the API's 422; nothing changes
        await browser.get("/console/withdrawals")
        bare = await browser.post(f"/console/withdrawals/{second['id']}/fail", {"reason": ""})
        assert bare.headers["location"] == "/console/withdrawals"
        assert "reason" in error_of(await browser.get("/console/withdrawals"))
        assert await available(client, ada) == "65.00"
        failed = await browser.post(
            f"/console/withdrawals/{second['id']}/fail",
            {"reason": "The bank returned it", "back": "https://evil.example/"},
        )
        assert failed.headers["location"] == "/console/withdrawals"  # never another site
        # settling it again: the API's 409, shown
        again = await browser.post(f"/console/withdrawals/{second['id']}/complete", {})
        assert again.status_code == 303
        assert error_of(await browser.get("/console/withdrawals"))
    mine = {w["id"]: w for w in (await ok(await client.get("/withdrawals", headers=ada.headers)))["items"]}
    assert (mine[first["id"]]["status"], mine[first["id"]]["provider_ref"]) == ("completed", "SEPA-2026-0001")
    assert (mine[second["id"]]["status"], mine[second["id"]]["failure_reason"]) == (
        "failed",
        "The bank returned it",
    )
    assert await available(client, ada) == "140.00"  # the failed 75.00 came back


# -- support -----------------------------------------------------------------------------


async def test_a_support_request_is_answered_assigned_and_closed(client, make_operator, make_member):
    operator, colleague = await make_operator(), await make_operator()
    ada = await make_member()
    ticket = await ok(
        await client.post(
            "/support",
            json={"category": "payment", "subject": "Where is my money?", "body": "My payment vanished."},
            headers=ada.headers,
        ),
        201,
    )
    async with Console(client) as browser:
        await browser.sign_in(operator.member.email, operator.password)
        queue = text_of(await browser.get("/console/support", box="unassigned"))
        assert f"#{ticket['id']} Where is my money?" in queue and ada.member.display_name in queue
        assert "No support request matches." in text_of(
            await browser.get("/console/support", category="order")
        )
        page = await browser.get(f"/console/support/{ticket['id']}")
        assert "My payment vanished." in text_of(page)
        assert f'<option value="{colleague.member.id}">' in page.text

        empty = await browser.post(f"/console/support/{ticket['id']}/reply", {"body": ""})
        assert empty.headers["location"] == f"/console/support/{ticket['id']}"
        assert error_of(await browser.get(f"/console/support/{ticket['id']}"))
        replied = await browser.post(f"/console/support/{ticket['id']}/reply", {"body": "It is on its way."})
        assert replied.headers["location"] == f"/console/support/{ticket['id']}"
        page = await browser.get(f"/console/support/{ticket['id']}")
        assert "It is on its way." in text_of(page) and "Support" in text_of(page)
        mine = await ok(await client.get(f"/operator/support/{ticket['id']}", headers=operator.headers))
        assert mine["assignee_id"] == operator.member.id  # answering took it

        given = await browser.post(
            f"/console/support/{ticket['id']}/assign", {"operator_id": str(colleague.member.id)}
        )
        assert given.status_code == 303
        answer = await ok(await client.get(f"/operator/support/{ticket['id']}", headers=operator.headers))
        assert answer["assignee_id"] == colleague.member.id
        await browser.get(f"/console/support/{ticket['id']}")
        # a member is not an operator: the API's 400, shown; the assignee stays
        refused = await browser.post(
            f"/console/support/{ticket['id']}/assign", {"operator_id": str(ada.member.id)}
        )
        assert refused.headers["location"] == f"/console/support/{ticket['id']}"
        assert error_of(await browser.get(f"/console/support/{ticket['id']}"))
        me = await browser.post(f"/console/support/{ticket['id']}/assign", {"operator_id": "me"})
        assert me.status_code == 303
        answer = await ok(await client.get(f"/operator/support/{ticket['id']}", headers=operator.headers))
        assert answer["assignee_id"] == operator.member.id

        await browser.get(f"/console/support/{ticket['id']}")
        closed = await browser.post(f"/console/support/{ticket['id']}/close")
        assert closed.headers["location"] == "/console/support"
    theirs = await ok(await client.get(f"/support/{ticket['id']}", headers=ada.headers))
    assert theirs["status"] == "closed"
    messages = await ok(
        await client.get(f"/conversations/{ticket['conversation_id']}/messages", headers=ada.headers)
    )
    newest = messages["items"][0]
    assert (newest["sender_name"], newest["body"]) == ("Support", "It is on its way.")


# -- system ------------------------------------------------------------------------------


async def test_failed_timers_emails_and_events_are_listed_and_retried(client, make_operator, make_order):
    operator = await make_operator()
    order = await make_order(kind="gig", state="in_progress")
    email = await EmailOutbox.select(EmailOutbox.id).first()
    event = await StoredEvent.select(StoredEvent.id).where(StoredEvent.name != "").first()
    timer = await OrderTimer.select(OrderTimer.id).where(OrderTimer.order == order["id"]).first()
    assert email and event and timer
    await EmailOutbox.update(
        {EmailOutbox.status: "failed", EmailOutbox.attempts: 3, EmailOutbox.last_error: "mailbox full"}
    ).where(EmailOutbox.id == email["id"])
    await StoredEvent.update(
        {StoredEvent.status: "failed", StoredEvent.attempts: 5, StoredEvent.last_error: "handler crashed"}
    ).where(StoredEvent.id == event["id"])
    await OrderTimer.update(
        {OrderTimer.status: "failed", OrderTimer.attempts: 2, OrderTimer.last_error: "boom"}
    ).where(OrderTimer.id == timer["id"])
    async with Console(client) as browser:
        await browser.sign_in(operator.member.email, operator.password)
        timers = text_of(await browser.get("/console/system"))
        assert f"#{timer['id']} #{order['id']} (awaiting payment) expire" in timers and "boom" in timers
        emails = await browser.get("/console/system", tab="emails")
        assert f"#{email['id']}" in text_of(emails) and "mailbox full" in text_of(emails)
        retried = await browser.post(f"/console/system/emails/{email['id']}/retry")
        assert retried.headers["location"] == "/console/system?tab=emails"
        assert "No email in this status." in text_of(await browser.get("/console/system", tab="emails"))
        # twice: the API's 409, shown
        again = await browser.post(f"/console/system/emails/{email['id']}/retry")
        assert again.status_code == 303
        assert "only failed" in error_of(await browser.get("/console/system", tab="emails"))

        events = text_of(await browser.get("/console/system", tab="events"))
        assert f"#{event['id']}" in events and "handler crashed" in events
        retried = await browser.post(f"/console/system/events/{event['id']}/retry")
        assert retried.headers["location"] == "/console/system?tab=events"
    emails = await ok(
        await client.get("/operator/emails", params={"status": "failed"}, headers=operator.headers)
    )
    assert emails["items"] == []
    events = await ok(
        await client.get("/operator/events", params={"status": "failed"}, headers=operator.headers)
    )
    assert events["items"] == []


async def test_the_home_page_links_each_queue_to_its_page(client, make_operator):
    operator = await make_operator()
    async with Console(client) as browser:
        await browser.sign_in(operator.member.email, operator.password)
        page = await browser.get("/console")
    assert page.status_code == 200
    for href in (
        "/console/qualifications",
        "/console/disputes",
        "/console/reports",
        "/console/withdrawals?status=requested",
        "/console/withdrawals?overdue=true",
        "/console/support",
        "/console/messages",
        "/console/system?tab=timers",
        "/console/system?tab=emails",
        "/console/system?tab=events",
    ):
        assert f'href="{href}"' in page.text, href
