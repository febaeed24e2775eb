"""The customer writes first: the businesses matching a job, contacting one (a place
taken, the conversation opened, nothing charged), and the business's reply charged once
in its own transaction (credit first; too little money refuses the reply and writes
nothing; a pending bank transfer or a closed job refuses it too), with concurrent replies
on PostgreSQL.  A job is never asked about through its listing."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from leads_helpers import (
    balances,
    books_are_sound,
    fees,
    fund,
    leads_config,
    market,
    open_job,
    save_profile,
    unlock,
    usd,
)

from agorakit.messaging.tables import Conversation, Message
from agorakit.money import ledger
from agorakit.money.tables import LedgerTransaction
from agorakit.notifications.tables import Notification
from agorakit.orders.tables import Order
from agorakit.plugins.leads.tables import Lead, Unlock

__all__ = ["market"]

SF = [{"country": "US", "postal_prefix": "941"}]


@pytest.fixture
def site_config(tmp_path, request):
    settings = dict(getattr(request, "param", {}))
    database = settings.pop("database", None)
    config = leads_config(tmp_path, **settings)
    if database is not None:
        config["database"] = database
    return config


async def places(lead_id: int) -> int:
    row = await Lead.select(Lead.unlocks).where(Lead.id == lead_id).first()
    return row["unlocks"]


async def unlock_row(lead_id: int, business_id: int):
    return (
        await Unlock.select()
        .where((Unlock.lead_id == lead_id) & (Unlock.business_id == business_id))
        .first()
        .output(load_json=True)
    )


async def charges() -> int:
    """Ledger postings of lead charges (escrow to the site's fees)."""
    rows = await LedgerTransaction.select(LedgerTransaction.idempotency_key)
    return sum(1 for r in rows if r["idempotency_key"].startswith("lead_unlock:"))


async def business_in_sf(client, runtime, make_member, *, credit: int = 0, available: int = 0):
    member = await make_member(country="US")
    await save_profile(client, member, ["cleaning"], SF)
    if credit:
        await fund(runtime, ledger.credit(member.id), credit)
    if available:
        await fund(runtime, ledger.available(member.id), available)
    return member


async def contact(client, customer, lead_id: int, business_id: int, body: str = "Could you come on Friday?"):
    return await client.post(
        f"/leads/{lead_id}/contact", json={"business_id": business_id, "body": body}, headers=customer.headers
    )


async def write(client, member, conversation_id: int, body: str):
    return await client.post(
        f"/conversations/{conversation_id}/messages", json={"body": body}, headers=member.headers
    )


async def bodies(conversation_id: int) -> list[tuple[int, str]]:
    rows = (
        await Message.select(Message.sender_id, Message.body)
        .where(Message.conversation == conversation_id)
        .order_by(Message.id)
    )
    return [(r["sender_id"], r["body"]) for r in rows]


async def matching(client, member, lead_id: int, **params):
    return await client.get(f"/leads/{lead_id}/businesses", params=params, headers=member.headers)


# --------------------------------------------------------------------------------------
# The businesses matching a job
# --------------------------------------------------------------------------------------


async def test_the_matching_businesses_are_listed_exactly_with_pages(client, market, problem):
    # the customer is a cleaner in SF too: never listed on their own job
    await save_profile(client, market.customer, ["cleaning"], SF)
    await save_profile(client, market.businesses[2], ["cleaning"], SF, active=False)
    job = await open_job(client, market)
    expected = sorted([market.businesses[0].id, market.businesses[1].id, market.home_pro.id])
    listed = await matching(client, market.customer, job["id"])
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [b["member_id"] for b in items] == expected
    assert listed.json()["next_cursor"] is None
    first = items[0]
    assert (first["headline"], first["in_contact"]) == ("Fast and careful", False)
    assert first["display_name"] == market.businesses[0].member.display_name
    # pages of two, then the rest
    one = (await matching(client, market.customer, job["id"], limit=2)).json()
    assert [b["member_id"] for b in one["items"]] == expected[:2]
    assert one["next_cursor"]
    two = (await matching(client, market.customer, job["id"], limit=2, cursor=one["next_cursor"])).json()
    assert ([b["member_id"] for b in two["items"]], two["next_cursor"]) == (expected[2:], None)
    # after a contact the business shows as in contact
    assert (await contact(client, market.customer, job["id"], market.home_pro.id)).status_code == 201
    after = (await matching(client, market.customer, job["id"])).json()["items"]
    assert {b["member_id"]: b["in_contact"] for b in after} == {
        market.businesses[0].id: False,
        market.businesses[1].id: False,
        market.home_pro.id: True,
    }
    # only the job's customer sees the list
    for other in (market.business, market.outsider):
        problem(await matching(client, other, job["id"]), 404, "not_found")
    problem(await matching(client, market.customer, 999999), 404, "not_found")
    # a closed job lists nobody
    assert (
        await client.post(f"/leads/{job['id']}/close", headers=market.customer.headers)
    ).status_code == 200
    problem(await matching(client, market.customer, job["id"]), 409, "lead_not_open")


async def test_suspended_businesses_are_neither_listed_nor_contacted(client, market, problem):
    job = await open_job(client, market)
    suspended = market.businesses[0]
    done = await client.post(
        f"/operator/members/{suspended.id}/suspend",
        json={"reason": "fake reviews"},
        headers=market.operator.headers,
    )
    assert done.status_code == 200, done.text
    expected = sorted([market.businesses[1].id, market.businesses[2].id, market.home_pro.id])
    # full pages all the same
    one = (await matching(client, market.customer, job["id"], limit=2)).json()
    assert [b["member_id"] for b in one["items"]] == expected[:2]
    two = (await matching(client, market.customer, job["id"], limit=2, cursor=one["next_cursor"])).json()
    assert ([b["member_id"] for b in two["items"]], two["next_cursor"]) == (expected[2:], None)
    problem(await contact(client, market.customer, job["id"], suspended.id), 404, "not_found")
    assert await Unlock.count() == 0


# --------------------------------------------------------------------------------------
# Contacting a business
# --------------------------------------------------------------------------------------


async def test_a_contact_takes_a_place_opens_the_chat_and_charges_nothing(client, runtime, market, problem):
    job = await open_job(client, market)
    business = market.businesses[1]  # 50.00 credit, 10.00 available
    made = await contact(client, market.customer, job["id"], business.id, "Hello, are you free on Friday?")
    assert made.status_code == 201, made.text
    out = made.json()
    assert (out["status"], out["origin"], out["price"]) == ("contacted", "customer", usd("12.00"))
    assert (out["lead_id"], out["business_id"], out["customer_id"]) == (
        job["id"],
        business.id,
        market.customer.id,
    )
    assert (out["order_id"], out["charged_at"], out["report_until"]) == (None, None, None)
    conversation_id = out["conversation_id"]
    assert conversation_id is not None
    assert await places(job["id"]) == 1
    # not charged yet
    assert await balances(business.id) == (1000, 5000)
    assert (await fees(), await charges(), await Order.count()) == (0, 0, 0)
    # both are in the conversation; the customer's message is there
    for member in (market.customer, business):
        seen = await client.get(f"/conversations/{conversation_id}", headers=member.headers)
        assert seen.status_code == 200, seen.text
        assert {p["id"] for p in seen.json()["participants"]} == {market.customer.id, business.id}
        messages = await client.get(f"/conversations/{conversation_id}/messages", headers=member.headers)
        assert [(m["sender_id"], m["body"]) for m in messages.json()["items"]] == [
            (market.customer.id, "Hello, are you free on Friday?")
        ]
    conversation = await Conversation.select().where(Conversation.id == conversation_id).first()
    assert conversation["subject"] == f"lead:{job['id']}:business:{business.id}"
    problem(
        await client.get(f"/conversations/{conversation_id}", headers=market.business.headers),
        404,
        "not_found",
    )
    # the business is told, and now sees who the customer is
    told = await Notification.select(Notification.template).where(Notification.member_id == business.id)
    assert "leads_business_contacted" in [n["template"] for n in told]
    got = (await client.get(f"/leads/{job['id']}", headers=business.headers)).json()
    assert (got["customer_id"], got["unlock"]["status"]) == (market.customer.id, "contacted")
    # the same business again: 409, nothing more
    again = problem(await contact(client, market.customer, job["id"], business.id), 409, "conflict")
    assert again["extra"]["conversation_id"] == conversation_id
    assert await places(job["id"]) == 1
    assert await bodies(conversation_id) == [(market.customer.id, "Hello, are you free on Friday?")]
    await books_are_sound(runtime)


async def test_contacts_the_customer_may_not_make(client, runtime, market, make_member, problem):
    job = await open_job(client, market)
    conversations = await Conversation.count()
    # a business that does not match (another category, another city, no profile, unknown)
    for member_id in (market.plumber.id, market.new_yorker.id, market.outsider.id, 999999):
        body = problem(await contact(client, market.customer, job["id"], member_id), 404, "not_found")
        assert body["detail"] == f"business {member_id} is not among those matching job {job['id']}"
    # an inactive profile
    await save_profile(client, market.businesses[2], ["cleaning"], SF, active=False)
    problem(await contact(client, market.customer, job["id"], market.businesses[2].id), 404, "not_found")
    # oneself
    problem(await contact(client, market.customer, job["id"], market.customer.id), 403, "forbidden")
    # another member's job, or a job that is not there
    stranger = await make_member(country="US")
    problem(await contact(client, stranger, job["id"], market.business.id), 404, "not_found")
    problem(await contact(client, market.business, job["id"], market.businesses[1].id), 404, "not_found")
    problem(await contact(client, market.customer, 999999, market.business.id), 404, "not_found")
    # a bad body
    empty = await client.post(
        f"/leads/{job['id']}/contact",
        json={"business_id": market.business.id, "body": ""},
        headers=market.customer.headers,
    )
    assert empty.status_code in (400, 422), empty.text
    assert (await places(job["id"]), await Unlock.count()) == (0, 0)
    assert await Conversation.count() == conversations
    # a closed job contacts nobody
    assert (
        await client.post(f"/leads/{job['id']}/close", headers=market.customer.headers)
    ).status_code == 200
    problem(await contact(client, market.customer, job["id"], market.business.id), 409, "lead_not_open")
    assert (await Unlock.count(), await Conversation.count()) == (0, conversations)
    await books_are_sound(runtime)


@pytest.mark.parametrize("site_config", [{"max_unlocks": 2}], indirect=True)
async def test_contacts_count_among_the_places_and_a_dropped_unlock_can_be_contacted(
    client, runtime, market, problem
):
    job = await open_job(client, market)
    dropper = market.businesses[0]
    held = (await unlock(client, dropper, job["id"], method="bank_transfer")).json()
    assert (await contact(client, market.customer, job["id"], market.businesses[1].id)).status_code == 201
    conversations = await Conversation.count()
    # both places are taken: the next contact finds the job full and writes nothing
    problem(await contact(client, market.customer, job["id"], market.home_pro.id), 409, "lead_full")
    assert await unlock_row(job["id"], market.home_pro.id) is None
    assert (await Conversation.count(), await places(job["id"])) == (conversations, 2)
    problem(await unlock(client, market.businesses[2], job["id"]), 409, "lead_full")
    # the business that dropped its unpaid unlock may be contacted again: the same row
    cancel = f"/orders/{held['order_id']}/transitions/cancel_unpaid"
    assert (await client.post(cancel, headers=dropper.headers)).status_code == 200
    assert await places(job["id"]) == 1
    again = await contact(client, market.customer, job["id"], dropper.id)
    assert again.status_code == 201, again.text
    out = again.json()
    assert (out["id"], out["status"], out["origin"], out["order_id"]) == (
        held["id"],
        "contacted",
        "customer",
        None,
    )
    assert await places(job["id"]) == 2
    # its reply is charged from its balance, a new order
    replied = await write(client, dropper, out["conversation_id"], "Sorry for the wait, I can come.")
    assert replied.status_code == 201, replied.text
    row = await unlock_row(job["id"], dropper.id)
    assert row["status"] == "charged" and row["order_id"] != held["order_id"]
    assert await balances(dropper.id) == (0, 3800)
    assert (await fees(), await charges()) == (1200, 1)
    await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# The business replies: charged once
# --------------------------------------------------------------------------------------


async def test_the_reply_is_charged_once_credit_first(client, runtime, market, make_member):
    business = await business_in_sf(client, runtime, make_member, credit=500, available=1000)
    job = await open_job(client, market)
    conversation_id = (await contact(client, market.customer, job["id"], business.id)).json()[
        "conversation_id"
    ]
    before = await LedgerTransaction.count()
    replied = await write(client, business, conversation_id, "Friday works, see you at nine.")
    assert replied.status_code == 201, replied.text
    assert await balances(business.id) == (300, 0)  # 5.00 credit, then 7.00 available
    assert (await fees(), await charges()) == (1200, 1)
    row = await unlock_row(job["id"], business.id)
    assert (row["status"], row["origin"], row["conversation_id"]) == ("charged", "customer", conversation_id)
    assert row["charged_at"] is not None and row["snapshot"]["id"] == job["id"]
    order = (await client.get(f"/orders/{row['order_id']}", headers=business.headers)).json()
    assert (order["state"], order["buyer_id"], order["seller_id"], order["amount"]) == (
        "charged",
        business.id,
        None,
        usd("12.00"),
    )
    # the reply and its charge are one transaction: the payment and the fee posting
    # came with the message
    assert await LedgerTransaction.count() - before == 2
    got = (await client.get(f"/leads/{job['id']}", headers=business.headers)).json()
    assert got["unlock"]["status"] == "charged" and got["unlock"]["report_until"] is not None
    # further messages, either way, never charge again
    for member, text in (
        (market.customer, "Great, the code for the door is on the way."),
        (business, "Thanks, I'll bring my own supplies."),
        (business, "On my way."),
    ):
        assert (await write(client, member, conversation_id, text)).status_code == 201
    assert await balances(business.id) == (300, 0)
    assert (await fees(), await charges(), await Order.count(), await places(job["id"])) == (1200, 1, 1, 1)
    # unlocking the same job now is a replay
    again = await unlock(client, business, job["id"])
    assert (again.status_code, again.json()["status"]) == (200, "charged")
    assert (await fees(), await charges()) == (1200, 1)
    await books_are_sound(runtime)


async def test_a_reply_without_enough_money_writes_nothing(client, runtime, market, make_member, problem):
    poor = await business_in_sf(client, runtime, make_member, credit=500, available=699)
    job = await open_job(client, market)
    made = (await contact(client, market.customer, job["id"], poor.id)).json()
    conversation_id = made["conversation_id"]
    postings = await LedgerTransaction.count()
    body = problem(await write(client, poor, conversation_id, "Yes, I can do it."), 409, "insufficient_funds")
    assert body["detail"]
    assert await bodies(conversation_id) == [(market.customer.id, "Could you come on Friday?")]
    row = await unlock_row(job["id"], poor.id)
    assert (row["status"], row["order_id"], row["charged_at"]) == ("contacted", None, None)
    assert await balances(poor.id) == (699, 500)
    assert (await fees(), await Order.count(), await LedgerTransaction.count()) == (0, 0, postings)
    assert await places(job["id"]) == 1
    # the customer may still write; with one cent more the reply goes through, to the cent
    assert (await write(client, market.customer, conversation_id, "Are you there?")).status_code == 201
    await fund(runtime, ledger.available(poor.id), 1)
    assert (await write(client, poor, conversation_id, "Yes, I can do it.")).status_code == 201
    assert await balances(poor.id) == (0, 0)
    assert (await fees(), await charges()) == (1200, 1)
    assert (await unlock_row(job["id"], poor.id))["status"] == "charged"
    await books_are_sound(runtime)


async def test_a_contacted_business_may_pay_by_bank_transfer_and_reply_once_paid(
    client, runtime, market, make_member, problem
):
    business = await business_in_sf(client, runtime, make_member)  # no balance at all
    job = await open_job(client, market)
    made = (await contact(client, market.customer, job["id"], business.id)).json()
    conversation_id = made["conversation_id"]
    problem(await write(client, business, conversation_id, "Hello!"), 409, "insufficient_funds")
    started = await unlock(client, business, job["id"], method="bank_transfer")
    assert started.status_code == 201, started.text
    out = started.json()
    assert (out["id"], out["status"], out["origin"]) == (made["id"], "awaiting_payment", "customer")
    assert out["conversation_id"] == conversation_id
    assert await places(job["id"]) == 1  # the place it had
    # before the payment arrives the reply is refused, and nothing is written
    body = problem(await write(client, business, conversation_id, "Hello!"), 409, "unlock_payment_pending")
    assert body["extra"]["order_id"] == out["order_id"]
    assert await bodies(conversation_id) == [(market.customer.id, "Could you come on Friday?")]
    assert (await fees(), await charges()) == (0, 0)
    confirmed = await client.post(
        f"/bank-transfer/payments/{out['payment']['id']}/confirm",
        json={"amount": usd("12.00"), "reference": "STMT-7"},
        headers=market.operator.headers,
    )
    assert confirmed.status_code == 200, confirmed.text
    row = await unlock_row(job["id"], business.id)
    assert (row["status"], row["conversation_id"]) == ("charged", conversation_id)
    assert (await fees(), await charges(), await places(job["id"])) == (1200, 1, 1)
    replied = await write(client, business, conversation_id, "Hello! Friday is fine.")
    assert replied.status_code == 201, replied.text
    assert (await fees(), await charges(), await Order.count()) == (1200, 1, 1)
    assert await balances(business.id) == (0, 0)
    await books_are_sound(runtime)


async def test_a_reply_after_the_job_was_closed_is_refused_and_not_charged(client, runtime, market, problem):
    job = await open_job(client, market)
    business = market.businesses[0]
    conversation_id = (await contact(client, market.customer, job["id"], business.id)).json()[
        "conversation_id"
    ]
    closed = await client.post(
        f"/leads/{job['id']}/close", json={"reason": "hired someone"}, headers=market.customer.headers
    )
    assert closed.status_code == 200, closed.text
    body = problem(await write(client, business, conversation_id, "Still need help?"), 409, "lead_not_open")
    assert body["status"] == 409 and "you were not charged" in body["detail"]
    assert await bodies(conversation_id) == [(market.customer.id, "Could you come on Friday?")]
    assert (await unlock_row(job["id"], business.id))["status"] == "contacted"
    assert await balances(business.id) == (0, 5000)
    assert (await fees(), await charges(), await Order.count()) == (0, 0, 0)
    await books_are_sound(runtime)


async def test_a_job_is_not_asked_about_through_its_listing(client, runtime, market, problem):
    job = await open_job(client, market)
    for business in (market.business, market.businesses[1], market.outsider):
        if business is market.businesses[1]:  # in contact with the customer already
            assert (await unlock(client, business, job["id"])).status_code == 201
        asked = await client.post(
            "/conversations",
            json={"listing_id": job["listing_id"], "body": "Is this still available?"},
            headers=business.headers,
        )
        body = problem(asked, 403, "not_eligible")
        assert body["detail"] == "jobs are found in GET /leads/feed and unlocked with POST /leads/{id}/unlock"
    assert not await Conversation.exists().where(Conversation.subject == f"listing:{job['listing_id']}")
    assert await balances(market.business.id) == (0, 5000)
    assert await fees() == 1200
    await books_are_sound(runtime)


async def test_a_contacted_business_replies_in_the_lead_conversation_not_directly(
    client, runtime, market, problem
):
    job = await open_job(client, market)
    business = market.businesses[0]
    conversation_id = (await contact(client, market.customer, job["id"], business.id)).json()[
        "conversation_id"
    ]
    conversations = await Conversation.count()

    async def direct(sender, member_id: int, body: str):
        return await client.post(
            "/conversations", json={"member_id": member_id, "body": body}, headers=sender.headers
        )

    # writing to the customer directly would be a free reply
    body = problem(
        await direct(business, market.customer.id, "Hi, it's me, from your job."), 409, "lead_reply_pending"
    )
    assert body["extra"] == {"lead_id": job["id"], "conversation_id": conversation_id}
    assert await Conversation.count() == conversations
    assert await balances(business.id) == (0, 5000)
    assert (await fees(), await charges()) == (0, 0)
    # the customer may write to the business directly; the business answers in the lead's
    # conversation first
    assert (await direct(market.customer, business.id, "Also, do you do windows?")).status_code == 201
    problem(await direct(business, market.customer.id, "Yes, I do."), 409, "lead_reply_pending")
    # once the business replied in the lead's conversation (and paid), it writes anywhere
    assert (await write(client, business, conversation_id, "Happy to help.")).status_code == 201
    assert (await direct(business, market.customer.id, "Yes, I do windows.")).status_code == 201
    assert (await fees(), await charges()) == (1200, 1)
    # other businesses write to the customer as any member does
    assert (await direct(market.businesses[1], market.customer.id, "Hello there.")).status_code == 201
    await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# Concurrency (PostgreSQL)
# --------------------------------------------------------------------------------------


@pytest.mark.postgres_only("concurrency is proven on PostgreSQL")
@pytest.mark.parametrize("site_config", [{"database": {"pool_max_size": 30}}], indirect=True)
async def test_concurrent_replies_charge_once(client, runtime, market):
    business = market.businesses[1]  # 50.00 credit, 10.00 available
    job = await open_job(client, market)
    conversation_id = (await contact(client, market.customer, job["id"], business.id)).json()[
        "conversation_id"
    ]
    replies = await asyncio.gather(
        *(write(client, business, conversation_id, f"Reply number {i}") for i in range(12))
    )
    assert Counter(r.status_code for r in replies) == {201: 12}, [r.text for r in replies]
    assert await balances(business.id) == (1000, 3800)
    assert (await fees(), await charges(), await Order.count(), await places(job["id"])) == (1200, 1, 1, 1)
    assert (await unlock_row(job["id"], business.id))["status"] == "charged"
    assert len(await bodies(conversation_id)) == 13
    await books_are_sound(runtime)


@pytest.mark.postgres_only("concurrency is proven on PostgreSQL")
@pytest.mark.parametrize("site_config", [{"database": {"pool_max_size": 30}}], indirect=True)
async def test_a_reply_racing_an_unlock_charges_once(client, runtime, market):
    business = market.businesses[1]
    job = await open_job(client, market)
    conversation_id = (await contact(client, market.customer, job["id"], business.id)).json()[
        "conversation_id"
    ]
    results = await asyncio.gather(
        *(write(client, business, conversation_id, f"Reply {i}") for i in range(4)),
        *(unlock(client, business, job["id"]) for _ in range(4)),
    )
    assert {r.status_code for r in results[:4]} <= {201, 409}, [r.text for r in results]
    assert {r.status_code for r in results[4:]} <= {200, 201}, [r.text for r in results]
    assert await balances(business.id) == (1000, 3800)
    assert (await fees(), await charges(), await Order.count(), await places(job["id"])) == (1200, 1, 1, 1)
    assert (await unlock_row(job["id"], business.id))["status"] == "charged"
    await books_are_sound(runtime)
