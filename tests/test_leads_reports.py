"""Refund reports on leads: the window (``report_days`` after the charge, on the test
clock), one report per lead per business, the reasons, who may report, the evidence as it
was when reported (messages edited or deleted afterwards, the job as unlocked and as now),
the operators' queue and its overdue flag, refunds to the business's credit (full and
partial, never withdrawable, good for the next unlock), rejections, and actions on the
customer taken with the resolution."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta

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

from agorakit.accounts.tables import Member, MemberFlag
from agorakit.disputes.tables import Dispute
from agorakit.money import ledger
from agorakit.money.tables import LedgerTransaction
from agorakit.notifications.tables import Notification

__all__ = ["market"]

SF = [{"country": "US", "postal_prefix": "941"}]
IBAN = {"account_holder": "Ada Lovelace", "iban": "DE89370400440532013000", "bic": "DEUTDEFF"}


@pytest.fixture
def site_config(tmp_path, request):
    settings = dict(getattr(request, "param", {}))
    database = settings.pop("database", None)
    config = leads_config(tmp_path, **settings)
    if database is not None:
        config["database"] = database
    return config


async def charged(client, business, lead_id: int) -> dict:
    response = await unlock(client, business, lead_id)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "charged"
    return response.json()


async def report(client, business, lead_id: int, reason: str = "job_changed", text: str | None = None):
    body = {"reason": reason} if text is None else {"reason": reason, "text": text}
    return await client.post(f"/leads/{lead_id}/report", json=body, headers=business.headers)


async def reported(
    client, business, lead_id: int, reason: str = "job_changed", text: str | None = None
) -> dict:
    response = await report(client, business, lead_id, reason, text)
    assert response.status_code == 201, response.text
    return response.json()


async def resolve(client, operator, dispute_id: int, **body):
    return await client.post(f"/operator/disputes/{dispute_id}/resolve", json=body, headers=operator.headers)


async def queue(client, operator, **params):
    response = await client.get(
        "/operator/disputes", params={"process": "lead_unlock", **params}, headers=operator.headers
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def postings(prefix: str) -> int:
    rows = await LedgerTransaction.select(LedgerTransaction.idempotency_key)
    return sum(1 for r in rows if r["idempotency_key"].startswith(prefix))


async def status_of(member_id: int) -> str:
    return (await Member.select(Member.status).where(Member.id == member_id).first())["status"]


async def write(client, member, conversation_id: int, body: str) -> dict:
    response = await client.post(
        f"/conversations/{conversation_id}/messages", json={"body": body}, headers=member.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


# --------------------------------------------------------------------------------------
# Opening a report
# --------------------------------------------------------------------------------------


async def test_a_report_is_accepted_until_day_30_after_the_charge(client, runtime, market, clock, problem):
    job = await open_job(client, market)
    first, late, later = market.businesses
    unlocked = [await charged(client, b, job["id"]) for b in (first, late, later)]
    charged_at = clock.now()
    assert unlocked[0]["report_until"] is not None
    clock.advance(timedelta(days=30))  # the last instant of the window
    dispute = await reported(client, first, job["id"])
    assert (dispute["status"], dispute["reason"], dispute["order_id"]) == (
        "open",
        "job_changed",
        unlocked[0]["order_id"],
    )
    assert dispute["opener_role"] == "buyer" and dispute["opened_by"] == first.id
    clock.advance(timedelta(minutes=1))
    body = problem(await report(client, late, job["id"]), 409, "dispute_window_closed")
    assert body["extra"]["closed_at"] == (charged_at + timedelta(days=30)).isoformat()
    clock.advance(timedelta(days=1))  # day 31
    problem(await report(client, later, job["id"], "tos_violation"), 409, "dispute_window_closed")
    assert await Dispute.count() == 1
    await books_are_sound(runtime)


async def test_one_report_per_lead_per_business(client, runtime, market, problem):
    job = await open_job(client, market)
    business = market.business
    await charged(client, business, job["id"])
    dispute = await reported(client, business, job["id"])
    problem(await report(client, business, job["id"], "tos_violation"), 409, "dispute_open")
    rejected = await resolve(
        client, market.operator, dispute["id"], outcome="reject", note="The job is as posted."
    )
    assert rejected.status_code == 200, rejected.text
    problem(
        await report(client, business, job["id"], "other", "Let me try once more."), 409, "already_disputed"
    )
    assert await Dispute.count() == 1
    # another business on the same lead reports on its own
    other = market.businesses[1]
    await charged(client, other, job["id"])
    assert (await report(client, other, job["id"])).status_code == 201
    assert await Dispute.count() == 2
    await books_are_sound(runtime)


async def test_the_reasons_and_their_texts(client, runtime, market, problem):
    job = await open_job(client, market)
    b0, b1, b2 = market.businesses
    for business in (b0, b1, b2, market.home_pro):
        await charged(client, business, job["id"])
    # other needs at least ten characters
    problem(await report(client, b2, job["id"], "other"), 422, "validation_error", fields={"text"})
    problem(
        await report(client, b2, job["id"], "other", "  too short "), 422, "validation_error", fields={"text"}
    )
    # a text, when given, says something
    problem(
        await report(client, b0, job["id"], "job_changed", "nope"), 422, "validation_error", fields={"text"}
    )
    # unknown reasons, and "the customer didn't hire me", are not reasons
    for reason in ("not_hired", "", "JOB_CHANGED"):
        response = await report(client, b0, job["id"], reason)
        problem(response, 422, "validation_error")
    extra = await client.post(
        f"/leads/{job['id']}/report", json={"reason": "job_changed", "amount": "12.00"}, headers=b0.headers
    )
    assert extra.status_code in (400, 422), extra.text
    assert await Dispute.count() == 0
    # job_changed and tos_violation need no text: the reason's label stands for it
    changed = await reported(client, b0, job["id"], "job_changed")
    assert changed["text"].startswith("The job is drastically different")
    violation = await reported(client, b1, job["id"], "tos_violation")
    assert violation["text"].startswith("The job or the customer violates the terms")
    assert violation["reason_label"] == violation["text"]
    other = await reported(client, b2, job["id"], "other", "The customer asked me to work for free.")
    assert (other["reason"], other["text"]) == ("other", "The customer asked me to work for free.")
    own = await reported(client, market.home_pro, job["id"], "job_changed", "They now want the garden done.")
    assert own["text"] == "They now want the garden done."
    assert await Dispute.count() == 4
    await books_are_sound(runtime)


async def test_only_a_business_charged_for_the_lead_may_report_it(
    client, runtime, market, make_member, problem
):
    job = await open_job(client, market)
    # the customer wrote first and the business has not replied: not charged
    contacted = market.businesses[0]
    made = await client.post(
        f"/leads/{job['id']}/contact",
        json={"business_id": contacted.id, "body": "Could you come on Friday?"},
        headers=market.customer.headers,
    )
    assert made.status_code == 201, made.text
    body = problem(await report(client, contacted, job["id"]), 409, "conflict")
    assert body["extra"]["status"] == "contacted"
    # a bank transfer not yet confirmed: not charged
    paying = market.businesses[1]
    waiting = await unlock(client, paying, job["id"], method="bank_transfer")
    assert waiting.status_code == 201, waiting.text
    body = problem(await report(client, paying, job["id"]), 409, "conflict")
    assert body["extra"]["status"] == "awaiting_payment"
    # dropped: still not charged
    cancel = await client.post(
        f"/orders/{waiting.json()['order_id']}/transitions/cancel_unpaid", headers=paying.headers
    )
    assert cancel.status_code == 200, cancel.text
    problem(await report(client, paying, job["id"]), 409, "conflict")
    # never unlocked, though another business did; the customer; an unknown job
    await charged(client, market.home_pro, job["id"])
    for member in (market.businesses[2], market.customer, market.outsider):
        problem(await report(client, member, job["id"]), 404, "not_found")
    problem(await report(client, market.home_pro, 999999), 404, "not_found")
    # another customer's lead the business unlocked is not this one
    other_job = await open_job(client, market)
    problem(await report(client, market.home_pro, other_job["id"]), 404, "not_found")
    assert await Dispute.count() == 0
    await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# Evidence
# --------------------------------------------------------------------------------------


async def test_the_evidence_is_the_chat_and_the_job_as_they_were(client, runtime, market, problem):
    job = await open_job(client, market)
    business = market.business
    unlocked = await charged(client, business, job["id"])
    conversation_id = unlocked["conversation_id"]
    hello = await write(client, business, conversation_id, "Hello, I can come on Tuesday at nine.")
    change = await write(client, market.customer, conversation_id, "Actually it is a house with 9 rooms now.")
    answer = await write(client, business, conversation_id, "That is not the job you posted.")
    # the customer changes the job after the unlock
    edited = await client.put(
        f"/leads/{job['id']}",
        json={
            "details": {"rooms": 9, "when": "As soon as possible"},
            "text": "Deep clean of a nine-room house, garden included, this week.",
        },
        headers=market.customer.headers,
    )
    assert edited.status_code == 200, edited.text
    dispute = await reported(
        client, business, job["id"], "job_changed", "Three rooms became nine and a garden."
    )
    # afterwards, within edit_minutes, messages are edited and deleted
    patched = await client.patch(
        f"/conversations/{conversation_id}/messages/{answer['id']}",
        json={"body": "Fine, I will do it."},
        headers=business.headers,
    )
    assert patched.status_code == 200, patched.text
    deleted = await client.delete(
        f"/conversations/{conversation_id}/messages/{change['id']}", headers=market.customer.headers
    )
    assert deleted.status_code == 204, deleted.text
    now = await client.get(f"/conversations/{conversation_id}/messages", headers=business.headers)
    assert [m["body"] for m in reversed(now.json()["items"])] == [hello["body"], "", "Fine, I will do it."]

    as_it_was = [
        (business.id, "Hello, I can come on Tuesday at nine."),
        (market.customer.id, "Actually it is a house with 9 rooms now."),
        (business.id, "That is not the job you posted."),
    ]
    for viewer in (business, market.operator):
        got = await client.get(f"/disputes/{dispute['id']}", headers=viewer.headers)
        assert got.status_code == 200, got.text
        evidence = got.json()["evidence"]
        [chat] = [c for c in evidence["conversations"] if c["conversation"]["id"] == conversation_id]
        assert [(m["sender_id"], m["body"]) for m in chat["messages"]] == as_it_was
        assert all(m.get("edited_at") is None and m.get("deleted_at") is None for m in chat["messages"])
        assert {p["id"] for p in chat["participants"]} == {business.id, market.customer.id}
        leads = evidence["plugins"]["leads"]
        assert (leads["lead_id"], leads["unlock_id"], leads["origin"]) == (
            job["id"],
            unlocked["id"],
            "business",
        )
        then, later = leads["lead_when_unlocked"], leads["lead_now"]
        assert then["details"] == {"rooms": 3, "when": "Within a week"}
        assert then["text"] == job["text"] and then["status"] == "open"
        assert later["details"] == {"rooms": 9, "when": "As soon as possible"}
        assert later["text"] == "Deep clean of a nine-room house, garden included, this week."
        assert later["customer_id"] == then["customer_id"] == market.customer.id
    # the customer is not a party of the order: the dispute is not theirs to read
    problem(await client.get(f"/disputes/{dispute['id']}", headers=market.customer.headers), 404, "not_found")
    await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# The operators' queue
# --------------------------------------------------------------------------------------


async def test_operators_see_lead_reports_oldest_first_overdue_after_48_hours(
    client, runtime, market, clock, problem
):
    job = await open_job(client, market)
    b0, b1, b2 = market.businesses
    for business in (b0, b1, b2):
        await charged(client, business, job["id"])
    first = await reported(client, b1, job["id"])
    clock.advance(timedelta(hours=1))
    second = await reported(client, b0, job["id"], "tos_violation")
    clock.advance(timedelta(hours=1))
    third = await reported(client, b2, job["id"], "other", "Customer never answers the phone.")
    items = await queue(client, market.operator)
    assert [d["id"] for d in items] == [first["id"], second["id"], third["id"]]
    assert [d["overdue"] for d in items] == [False, False, False]
    for item in items:
        opened, due = (datetime.fromisoformat(item[k]) for k in ("opened_at", "due_at"))
        assert due - opened == timedelta(hours=48)
    # 48 hours after the first was opened it is due; a minute later, overdue
    clock.advance(timedelta(hours=46))
    assert [d["overdue"] for d in await queue(client, market.operator)] == [False, False, False]
    clock.advance(timedelta(minutes=1))
    assert [d["overdue"] for d in await queue(client, market.operator)] == [True, False, False]
    assert [d["id"] for d in await queue(client, market.operator, overdue="true")] == [first["id"]]
    clock.advance(timedelta(hours=1))
    assert [d["overdue"] for d in await queue(client, market.operator)] == [True, True, False]
    # resolved ones leave the open queue
    assert (
        await resolve(client, market.operator, first["id"], outcome="reject", note="As posted.")
    ).status_code == 200
    assert [d["id"] for d in await queue(client, market.operator)] == [second["id"], third["id"]]
    # another process's queue has none of them; members do not see the queue
    other = await client.get("/operator/disputes", params={"process": "gig"}, headers=market.operator.headers)
    assert other.json()["items"] == []
    problem(await client.get("/operator/disputes", headers=b0.headers), 403, "forbidden")
    await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# Resolving: refunds to the credit
# --------------------------------------------------------------------------------------


async def test_a_refund_goes_from_the_site_fees_to_the_business_credit(client, runtime, market, problem):
    job = await open_job(client, market)
    full, partial = market.businesses[0], market.businesses[1]  # 50.00 credit; 50.00 credit + 10.00
    full_unlock = await charged(client, full, job["id"])
    await charged(client, partial, job["id"])
    assert (await balances(full.id), await balances(partial.id), await fees()) == (
        (0, 3800),
        (1000, 3800),
        2400,
    )
    a = await reported(client, full, job["id"])
    b = await reported(client, partial, job["id"], "tos_violation")
    before = await LedgerTransaction.count()

    done = await resolve(client, market.operator, a["id"], outcome="refund", note="The job changed.")
    assert done.status_code == 200, done.text
    out = done.json()
    assert (out["status"], out["outcome"], out["refunded"], out["released"]) == (
        "resolved",
        "refund",
        usd("12.00"),
        usd("0.00"),
    )
    assert await balances(full.id) == (0, 5000)
    assert await fees() == 1200
    assert (await LedgerTransaction.count() - before, await postings(f"dispute:{a['id']}:")) == (1, 1)
    order = (await client.get(f"/orders/{full_unlock['order_id']}", headers=full.headers)).json()
    assert order["state"] == "charged"  # the order stays charged either way
    told = await Notification.select(Notification.template, Notification.body).where(
        (Notification.member_id == full.id) & (Notification.category == "disputes")
    )
    assert [n["template"] for n in told] == ["dispute_resolved"]
    assert "The operator's note: The job changed." in told[0]["body"]

    # partial: more than was charged is refused and moves nothing
    problem(
        await resolve(client, market.operator, b["id"], outcome="refund", amount="12.01"),
        422,
        "validation_error",
        fields={"amount"},
    )
    problem(
        await resolve(client, market.operator, b["id"], outcome="refund", amount="0.001"),
        422,
        "validation_error",
    )
    assert (await balances(partial.id), await fees()) == ((1000, 3800), 1200)
    half = await resolve(client, market.operator, b["id"], outcome="refund", amount="4.50", note="Partly.")
    assert half.status_code == 200, half.text
    assert half.json()["refunded"] == usd("4.50")
    assert await balances(partial.id) == (1000, 4250)
    assert await fees() == 750
    assert await postings(f"dispute:{b['id']}:") == 1
    # a resolved report is not resolved twice
    problem(await resolve(client, market.operator, b["id"], outcome="refund"), 409, "dispute_resolved")
    assert await fees() == 750
    await books_are_sound(runtime)


async def test_refunded_credit_is_not_withdrawn_but_pays_the_next_unlock(client, runtime, market, problem):
    business = market.outsider
    await save_profile(client, business, ["cleaning"], SF)
    await fund(runtime, ledger.credit(business.id), 1200)
    await fund(runtime, ledger.available(business.id), 5000)
    job = await open_job(client, market)
    await charged(client, business, job["id"])
    assert await balances(business.id) == (5000, 0)
    dispute = await reported(client, business, job["id"], "tos_violation")
    assert (await resolve(client, market.operator, dispute["id"], outcome="refund")).status_code == 200
    assert await balances(business.id) == (5000, 1200)

    async def withdraw(amount: str):
        return await client.post(
            "/withdrawals",
            json={"method": "bank_transfer", "amount": usd(amount), "destination": IBAN},
            headers=business.headers,
        )

    # the credit is not cash: withdrawing more than the available money is refused
    problem(await withdraw("62.00"), 409, "insufficient_funds")
    problem(await withdraw("50.01"), 409, "insufficient_funds")
    assert await balances(business.id) == (5000, 1200)
    # the available money alone goes out; the credit stays
    assert (await withdraw("50.00")).status_code == 201
    assert await balances(business.id) == (0, 1200)
    problem(await withdraw("50.00"), 409, "insufficient_funds")
    assert await balances(business.id) == (0, 1200)
    # it pays for the next lead
    next_job = await open_job(client, market)
    await charged(client, business, next_job["id"])
    assert await balances(business.id) == (0, 0)
    assert await fees() == 1200
    await books_are_sound(runtime)


async def test_a_rejection_moves_nothing_and_tells_the_business(client, runtime, market, problem):
    job = await open_job(client, market)
    business = market.business
    unlocked = await charged(client, business, job["id"])
    dispute = await reported(client, business, job["id"], "other", "The customer hired someone else.")
    before = (await balances(business.id), await fees(), await LedgerTransaction.count())
    problem(await resolve(client, market.operator, dispute["id"], outcome="reject"), 422, "validation_error")
    problem(
        await resolve(client, market.operator, dispute["id"], outcome="reject", note="No.", amount="1.00"),
        422,
        "validation_error",
    )
    # a lead's report is a charge: nothing to release to anyone
    problem(
        await resolve(client, market.operator, dispute["id"], outcome="release", note="Pay out."),
        422,
        "validation_error",
        fields={"outcome"},
    )
    assert (await Dispute.select(Dispute.status).first())["status"] == "open"
    note = "Not being hired is not a reason for a refund."
    done = await resolve(client, market.operator, dispute["id"], outcome="reject", note=note)
    assert done.status_code == 200, done.text
    out = done.json()
    assert (out["outcome"], out["refunded"], out["resolution_note"]) == ("reject", usd("0.00"), note)
    assert (await balances(business.id), await fees(), await LedgerTransaction.count()) == before
    order = (await client.get(f"/orders/{unlocked['order_id']}", headers=business.headers)).json()
    assert order["state"] == "charged"
    [notice] = await Notification.select(Notification.title, Notification.body).where(
        (Notification.member_id == business.id) & (Notification.template == "dispute_resolved")
    )
    assert "rejected" in notice["title"]
    assert f"The operator's note: {note}" in notice["body"]
    await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# Acting on the customer
# --------------------------------------------------------------------------------------


async def test_a_tos_violation_may_suspend_or_flag_the_customer_with_the_resolution(
    client, runtime, market, make_member, problem
):
    job = await open_job(client, market)
    b0, b1, b2 = market.businesses
    for business in (b0, b1, b2):
        await charged(client, business, job["id"])
    suspend = await reported(client, b0, job["id"], "tos_violation")
    flag = await reported(client, b1, job["id"], "tos_violation")
    again = await reported(client, b2, job["id"], "tos_violation")
    before = (await fees(), await balances(b0.id))
    # someone outside the conversation (another business on the same lead; a stranger; an operator)
    stranger = await make_member(country="US")
    for member_id in (b1.id, stranger.id, market.operator.id):
        problem(
            await resolve(
                client,
                market.operator,
                suspend["id"],
                outcome="refund",
                note="Looking for employees.",
                member_action={"member_id": member_id, "action": "suspend"},
            ),
            400,
            "member_not_involved",
        )
    # nothing of the resolution happened
    assert (await fees(), await balances(b0.id)) == before
    assert (await Dispute.select(Dispute.status).where(Dispute.id == suspend["id"]).first())[
        "status"
    ] == "open"
    assert await status_of(b1.id) == "active"

    done = await resolve(
        client,
        market.operator,
        suspend["id"],
        outcome="refund",
        note="A business looking for employees.",
        member_action={"member_id": market.customer.id, "action": "suspend"},
    )
    assert done.status_code == 200, done.text
    assert done.json()["member_action"] == {
        "member_id": market.customer.id,
        "action": "suspend",
        "note": "A business looking for employees.",
    }
    assert await status_of(market.customer.id) == "suspended"
    assert await balances(b0.id) == (0, 5000)
    assert await fees() == 2400
    # the business that reported sees the refund, not what happened to the customer
    seen = (await client.get(f"/disputes/{suspend['id']}", headers=b0.headers)).json()
    assert (seen["outcome"], seen["member_action"]) == ("refund", None)

    flagged = await resolve(
        client,
        market.operator,
        flag["id"],
        outcome="refund",
        amount="6.00",
        note="Half back.",
        member_action={
            "member_id": market.customer.id,
            "action": "flag",
            "note": "Posts job offers as leads.",
        },
    )
    assert flagged.status_code == 200, flagged.text
    row = await MemberFlag.select().where(MemberFlag.member_id == market.customer.id).first()
    assert (row["reason"], row["source"]) == ("Posts job offers as leads.", f"dispute:{flag['id']}")
    assert await balances(b1.id) == (1000, 3800 + 600)
    assert await fees() == 1800

    # suspending a suspended customer fails, and takes the refund down with it
    problem(
        await resolve(
            client,
            market.operator,
            again["id"],
            outcome="refund",
            note="Same customer.",
            member_action={"member_id": market.customer.id, "action": "suspend"},
        ),
        409,
        "conflict",
    )
    assert (await balances(b2.id), await fees()) == ((0, 3800), 1800)
    assert (await Dispute.select(Dispute.status).where(Dispute.id == again["id"]).first())["status"] == "open"
    await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# Concurrency (PostgreSQL)
# --------------------------------------------------------------------------------------


@pytest.mark.postgres_only("concurrency is proven on PostgreSQL")
@pytest.mark.parametrize("site_config", [{"database": {"pool_max_size": 30}}], indirect=True)
async def test_concurrent_reports_and_resolutions_count_once(client, runtime, market, problem):
    job = await open_job(client, market)
    business = market.business
    await charged(client, business, job["id"])
    reports = await asyncio.gather(*(report(client, business, job["id"]) for _ in range(8)))
    assert Counter(r.status_code for r in reports) == {201: 1, 409: 7}, [r.text for r in reports]
    assert await Dispute.count() == 1
    [opened] = [r.json() for r in reports if r.status_code == 201]
    refunds = await asyncio.gather(
        *(resolve(client, market.operator, opened["id"], outcome="refund", note="ok") for _ in range(8))
    )
    assert Counter(r.status_code for r in refunds) == {200: 1, 409: 7}, [r.text for r in refunds]
    for response in refunds:
        if response.status_code == 409:
            problem(response, 409, "dispute_resolved")
    assert await postings(f"dispute:{opened['id']}:") == 1
    assert (await balances(business.id), await fees()) == ((0, 5000), 0)
    await books_are_sound(runtime)
