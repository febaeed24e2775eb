"""Who the leads plugin tells, in their inbox and by email, and with which words: new jobs
to the matching businesses who asked for them, the review's decision to the customer,
receipts and interested businesses on an unlock, a customer writing first, a job closed
or expired, an unpaid unlock cancelled."""

from __future__ import annotations

import importlib.util
from datetime import UTC, timedelta

import pytest
from leads_helpers import (
    books_are_sound,
    fund,
    leads_config,
    market,
    open_job,
    post_job,
    save_profile,
    unlock,
)

from agorakit import messaging
from agorakit.money import ledger
from agorakit.notifications.tables import EmailOutbox, Notification
from agorakit.worker import sweep

__all__ = ["market"]

OPENED = "leads_lead_opened"

#: a customer writes first through the messaging area's posting (declared by the core's
#: messaging capabilities), and a business's reply is charged in ``agorakit_message_posting``
can_contact = pytest.mark.skipif(
    not all(hasattr(messaging, name) for name in ("PostMessage", "post_message")),
    reason="agorakit.messaging does not declare post_message/PostMessage on this core",
)
charges_replies = pytest.mark.skipif(
    importlib.util.find_spec("agorakit.messaging.hookspecs") is None,
    reason="the core has no agorakit_message_posting hook yet",
)
SF = [{"country": "US", "postal_prefix": "941"}]


@pytest.fixture
def site_config(tmp_path):
    return leads_config(tmp_path)


async def told(client, member) -> list[dict]:
    """The member's notifications but account ones, oldest first."""
    response = await client.get("/notifications?limit=100", headers=member.headers)
    assert response.status_code == 200, response.text
    return [n for n in reversed(response.json()["items"]) if n["category"] != "account"]


async def templates(client, member) -> list[str]:
    return [n["template"] for n in await told(client, member)]


async def emails_to(member) -> list[str]:
    notices = await Notification.select(Notification.id).where(
        (Notification.member_id == member.id) & (Notification.category != "account")
    )
    rows = (
        await EmailOutbox.select(EmailOutbox.subject)
        .where(EmailOutbox.notification_id.is_in([n["id"] for n in notices] or [0]))
        .order_by(EmailOutbox.id)
    )
    return [row["subject"] for row in rows]


def name(member) -> str:
    return member.member.display_name


def when(at) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


async def write(client, member, conversation_id: int, body: str):
    return await client.post(
        f"/conversations/{conversation_id}/messages", json={"body": body}, headers=member.headers
    )


async def contact(client, market, lead_id: int, business, body: str = "Could you come on Friday?"):
    response = await client.post(
        f"/leads/{lead_id}/contact",
        json={"business_id": business.member.id, "body": body},
        headers=market.customer.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


# --------------------------------------------------------------------------------------
# A job opens: the matching businesses who asked; the customer hears the decision
# --------------------------------------------------------------------------------------


async def test_a_new_job_tells_the_matching_businesses_who_asked(client, market):
    quiet = market.businesses[2]
    await save_profile(client, quiet, ["cleaning"], SF, notify=False)
    no_email = await client.put(
        "/me/notification-settings", json={"email": {"listings": False}}, headers=market.businesses[1].headers
    )
    assert no_email.status_code == 200, no_email.text

    job = await open_job(client, market)
    title = f"New job near you: {job['title']}, 12.00 USD to unlock"
    for business in (market.businesses[0], market.businesses[1], market.home_pro):
        [notice] = await told(client, business)
        assert (notice["template"], notice["category"], notice["title"]) == (OPENED, "listings", title)
        assert notice["link"].endswith(f"/leads/{job['id']}")
        assert "A customer posted a job in House cleaning in 94110, US" in notice["body"]
        assert "unlock it for 12.00 USD" in notice["body"]
        assert "Up to 5 businesses may unlock a job" in notice["body"]
    # another category, another area, no profile, notify off: nothing
    for member in (quiet, market.plumber, market.new_yorker, market.outsider):
        assert await told(client, member) == [], member
    assert await emails_to(market.businesses[0]) == [title]
    assert await emails_to(market.businesses[1]) == []  # email off for listings; the inbox has it

    # the customer hears the review's decision once, in the words of a job
    [approved] = await told(client, market.customer)
    assert approved["template"] == "leads_lead_approved"
    assert approved["title"] == f'Your job "{job["title"]}" is open'
    assert "It stays open for 30 days" in approved["body"]


async def test_an_inactive_profile_and_the_customer_are_not_told(client, market):
    await save_profile(client, market.businesses[0], ["cleaning"], SF, active=False)
    await save_profile(client, market.customer, ["cleaning"], SF)  # a customer who is a business too
    job = await open_job(client, market)
    assert await told(client, market.businesses[0]) == []
    assert await templates(client, market.customer) == ["leads_lead_approved"]
    assert await templates(client, market.businesses[1]) == [OPENED]
    assert (await told(client, market.businesses[1]))[0]["link"].endswith(f"/leads/{job['id']}")


async def test_a_rejected_job_tells_its_customer_why_and_nobody_else(client, market):
    created = await post_job(client, market.customer)
    assert created.status_code == 201, created.text
    job = created.json()
    rejected = await client.post(
        f"/operator/listings/{job['listing_id']}/reject",
        json={"reason": "Say which rooms need cleaning"},
        headers=market.operator.headers,
    )
    assert rejected.status_code == 200, rejected.text
    [notice] = await told(client, market.customer)  # and not the core's listing_rejected
    assert notice["template"] == "leads_lead_rejected"
    assert notice["title"] == f'Your job "{job["title"]}" needs changes'
    assert "Reason: Say which rooms need cleaning" in notice["body"]
    assert notice["link"].endswith(f"/leads/{job['id']}")
    for business in (*market.businesses, market.home_pro):
        assert await told(client, business) == []


# --------------------------------------------------------------------------------------
# Unlocks: a receipt for the business, the customer hears who is interested
# --------------------------------------------------------------------------------------


async def test_an_unlock_from_credit_and_available_gives_a_receipt(client, runtime, market, clock):
    payer = market.outsider
    await save_profile(client, payer, ["cleaning"], SF)
    await fund(runtime, ledger.credit(payer.member.id), 500)
    await fund(runtime, ledger.available(payer.member.id), 1000)
    job = await open_job(client, market)
    unlocked = await unlock(client, payer, job["id"])
    assert unlocked.status_code == 201, unlocked.text
    body = unlocked.json()

    receipt = (await told(client, payer))[-1]
    assert receipt["template"] == "leads_lead_unlocked"
    assert receipt["category"] == "orders"
    assert receipt["title"] == f'Receipt: 12.00 USD for the lead "{job["title"]}"'
    assert f'You unlocked the lead "{job["title"]}" (94110, US) for 12.00 USD.' in receipt["body"]
    assert (
        "Paid from your balance: 5.00 USD from your credit and 7.00 USD from your available balance."
        in receipt["body"]
    )
    assert f"Order #{body['order_id']}." in receipt["body"]
    until = when(clock.now() + timedelta(days=30))
    assert f"report it from the job until {until} (30 days)" in receipt["body"]
    assert receipt["link"].endswith(f"/conversations/{body['conversation_id']}")

    interested = (await told(client, market.customer))[-1]
    assert interested["template"] == "leads_business_interested"
    assert interested["title"] == f'{name(payer)} is interested in your job "{job["title"]}"'
    assert interested["link"].endswith(f"/conversations/{body['conversation_id']}")
    # the core tells nobody of the order (no seller; the payer paid it themselves)
    for member in (payer, market.customer):
        assert not {"order_created", "order_transitioned", "payment_settled"} & set(
            await templates(client, member)
        )
    await books_are_sound(runtime)


async def test_a_receipt_from_credit_alone_names_only_the_credit(client, runtime, market):
    job = await open_job(client, market)
    assert (await unlock(client, market.business, job["id"])).status_code == 201
    receipt = (await told(client, market.business))[-1]
    assert "Paid from your balance: 12.00 USD from your credit." in receipt["body"]


async def test_a_bank_transfer_unlock_is_told_when_confirmed_or_cancelled(client, runtime, market, clock):
    job = await open_job(client, market)
    business = market.businesses[0]
    waiting = await unlock(client, business, job["id"], method="bank_transfer")
    assert waiting.status_code == 201, waiting.text
    assert waiting.json()["status"] == "awaiting_payment"
    assert await templates(client, business) == [OPENED]  # nothing charged yet
    assert await templates(client, market.customer) == ["leads_lead_approved"]

    clock.advance(timedelta(hours=73))  # unpaid_expiry_hours is 72
    await sweep(runtime)
    unlocks = await client.get("/leads/unlocks", headers=business.headers)
    assert unlocks.json()["items"][0]["status"] == "cancelled"
    # the payment's own expiry is the core's; the order's is told in the words of an unlock
    assert sorted(await templates(client, business)) == [OPENED, "leads_unlock_cancelled", "payment_expired"]
    [cancelled] = [n for n in await told(client, business) if n["template"] == "leads_unlock_cancelled"]
    assert cancelled["title"] == f'Your unlock of "{job["title"]}" was cancelled'
    assert (
        f'The payment of 12.00 USD for the lead "{job["title"]}" (order #{waiting.json()["order_id"]}) '
        "did not arrive within 72 hours" in cancelled["body"]
    )
    assert "The job is still open: unlock it again" in cancelled["body"]
    assert await templates(client, market.customer) == ["leads_lead_approved"]

    # a business dropping its own unpaid unlock is not told
    other = market.businesses[1]
    dropped = await unlock(client, other, job["id"], method="bank_transfer")
    assert dropped.status_code == 201, dropped.text
    fired = await client.post(
        f"/orders/{dropped.json()['order_id']}/transitions/cancel_unpaid", json={}, headers=other.headers
    )
    assert fired.status_code == 200, fired.text
    assert await templates(client, other) == [OPENED]
    await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# The customer writes first
# --------------------------------------------------------------------------------------


@can_contact
async def test_a_contacted_business_is_told_the_price(client, runtime, market):
    job = await open_job(client, market)
    business = market.businesses[1]
    made = await contact(client, market, job["id"], business)
    [notice] = [n for n in await told(client, business) if n["template"] == "leads_business_contacted"]
    assert notice["title"] == f'{name(market.customer)} wants you for "{job["title"]}"'
    assert "your reply is charged the lead price of 12.00 USD from your balance" in notice["body"]
    assert "If you do not reply, you pay nothing." in notice["body"]
    assert notice["link"].endswith(f"/conversations/{made['conversation_id']}")
    for other in (market.businesses[0], market.businesses[2], market.home_pro, market.customer):
        assert "leads_business_contacted" not in await templates(client, other)


@can_contact
@charges_replies
async def test_a_reply_to_a_customer_who_wrote_first_gives_a_receipt(client, runtime, market):
    job = await open_job(client, market)
    business = market.businesses[1]
    made = await contact(client, market, job["id"], business)
    before = await templates(client, market.customer)
    replied = await write(client, business, made["conversation_id"], "Happy to help, Friday works.")
    assert replied.status_code == 201, replied.text
    receipt = (await told(client, business))[-1]
    assert receipt["template"] == "leads_lead_unlocked"
    assert (
        f'You replied to {name(market.customer)} about "{job["title"]}" (94110, US), so you were '
        "charged the lead price of 12.00 USD." in receipt["body"]
    )
    assert "Paid from your balance: 12.00 USD from your credit." in receipt["body"]
    # the customer hears the reply (a message), not that the business is "interested"
    after = await templates(client, market.customer)
    assert "leads_business_interested" not in after
    assert after[len(before) :] == ["message_received"]
    await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# A job ends
# --------------------------------------------------------------------------------------


async def close(client, market, job):
    closed = await client.post(
        f"/leads/{job['id']}/close", json={"reason": "I found someone"}, headers=market.customer.headers
    )
    assert closed.status_code == 200, closed.text


async def test_a_closed_job_tells_the_businesses_in_contact(client, runtime, market):
    job = await open_job(client, market)
    charged = market.businesses[0]
    assert (await unlock(client, charged, job["id"])).status_code == 201
    await close(client, market, job)
    told_charged = (await told(client, charged))[-1]
    assert told_charged["template"] == "leads_lead_closed"
    assert told_charged["title"] == f'The job "{job["title"]}" was closed'
    assert "Reason: I found someone" in told_charged["body"]
    assert "Your conversation with the customer stays open." in told_charged["body"]
    for other in (market.businesses[1], market.businesses[2], market.home_pro):
        assert "leads_lead_closed" not in await templates(client, other)
    customer = await templates(client, market.customer)  # they closed it themselves
    assert "leads_lead_closed" not in customer
    assert "leads_lead_expired" not in customer


@can_contact
async def test_a_closed_job_tells_a_contacted_business_it_was_not_charged(client, runtime, market):
    job = await open_job(client, market)
    contacted_one = market.businesses[1]
    await contact(client, market, job["id"], contacted_one)
    await close(client, market, job)
    told_contacted = (await told(client, contacted_one))[-1]
    assert told_contacted["template"] == "leads_lead_closed"
    assert "You had not replied, so you were not charged." in told_contacted["body"]
    assert "leads_lead_closed" not in await templates(client, market.businesses[0])


async def test_an_expired_job_tells_its_customer_and_the_businesses_in_contact(
    client, runtime, market, clock
):
    job = await open_job(client, market)
    assert (await unlock(client, market.business, job["id"])).status_code == 201
    clock.advance(timedelta(days=30, minutes=1))
    await sweep(runtime)
    assert (await client.get(f"/leads/{job['id']}", headers=market.customer.headers)).json()[
        "status"
    ] == "expired"
    expired = (await told(client, market.customer))[-1]
    assert expired["template"] == "leads_lead_expired"
    assert expired["title"] == f'Your job "{job["title"]}" expired'
    assert "was open for 30 days" in expired["body"]
    assert "Your conversations with the 1 business in contact stay open." in expired["body"]
    business = (await told(client, market.business))[-1]
    assert business["template"] == "leads_lead_closed"
    assert business["title"] == f'The job "{job["title"]}" expired'
    assert "leads_lead_closed" not in await templates(client, market.businesses[1])
    await books_are_sound(runtime)
