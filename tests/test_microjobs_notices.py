"""Who the microjobs plugin tells, in their inbox and by email, and with which words."""

from __future__ import annotations

from datetime import timedelta

import pytest
from microjobs_helpers import (
    approve,
    create_campaign,
    live_campaign,
    market,
    microjobs_config,
    rate,
    submit,
    taken_and_submitted,
)

from agorakit.plugins.microjobs.events import GroupMemberAdded
from agorakit.worker import sweep

__all__ = ["market"]


@pytest.fixture
def site_config(tmp_path):
    return microjobs_config(tmp_path)


async def inbox(client, member) -> list[dict]:
    """The member's notifications, oldest first (but the account's, such as the welcome)."""
    items = (await client.get("/notifications?limit=100", headers=member.headers)).json()["items"]
    return [n for n in reversed(items) if n["category"] != "account"]


async def templates(client, member) -> list[str]:
    return [n["template"] for n in await inbox(client, member)]


async def emails_to(member) -> list[str]:
    from agorakit.notifications.tables import EmailOutbox

    rows = (
        await EmailOutbox.select(EmailOutbox.subject)
        .where(EmailOutbox.member_id == member.id)
        .order_by(EmailOutbox.id)
    )
    return [row["subject"] for row in rows]


async def test_a_proof_to_rate_and_its_rating_reach_the_right_inboxes(client, runtime, market):
    campaign = await live_campaign(client, market, positions=2)
    employer, worker = market.employer, market.gb
    before = len(await inbox(client, employer))
    order_id = await taken_and_submitted(client, market, campaign["id"], worker)

    [to_rate] = (await inbox(client, employer))[before:]
    assert to_rate["template"] == "microjobs_proof_to_rate"  # instead of the core's proof_submitted
    assert (
        to_rate["title"]
        == f'New proof to rate for "Follow our page and like the pinned post" (task {order_id})'
    )
    assert "within 7 days is satisfied and paid automatically" in to_rate["body"]
    assert to_rate["link"].endswith(f"/microjobs/tasks/{order_id}")
    assert to_rate["title"] in await emails_to(employer)

    await rate(client, employer, order_id, False, reason="The username does not exist")
    [correction] = await inbox(client, worker)
    assert correction["template"] == "microjobs_proof_rated"
    assert correction["title"] == f"Task {order_id}: correction requested"
    assert "Their reason: The username does not exist" in correction["body"]
    assert "resubmit your proof within 72 hours" in correction["body"]

    await submit(client, worker, order_id)
    resubmitted = (await inbox(client, employer))[-1]
    assert resubmitted["title"].startswith("Corrected proof to rate")

    await rate(client, employer, order_id, False, reason="Still not following us")
    rejected = (await inbox(client, worker))[-1]
    assert rejected["title"] == f"Task {order_id} not satisfied (paid 0.50 USD)"
    assert "you cannot take this campaign again" in rejected["body"]
    assert "Still not following us" in rejected["body"]
    # nobody heard the core's generic proof or order notices as well
    assert set(await templates(client, worker)) == {"microjobs_proof_rated"}
    assert "proof_submitted" not in await templates(client, employer)


async def test_satisfied_tells_the_worker_what_they_earned(client, runtime, market):
    campaign = await live_campaign(client, market, positions=2)
    order_id = await taken_and_submitted(client, market, campaign["id"], market.us)
    await rate(client, market.employer, order_id, True, feedback="Great, thanks")
    [paid] = await inbox(client, market.us)
    assert paid["title"] == f"Task {order_id} satisfied: you earned 0.50 USD"
    assert "Their feedback: Great, thanks" in paid["body"]


async def test_auto_satisfied_tells_both(client, runtime, market, clock):
    campaign = await live_campaign(client, market, positions=2)
    order_id = await taken_and_submitted(client, market, campaign["id"], market.fr)
    before = len(await inbox(client, market.employer))
    clock.advance(timedelta(days=7))
    await sweep(runtime)
    [worker_notice] = await inbox(client, market.fr)
    assert worker_notice["template"] == "microjobs_auto_satisfied"
    assert worker_notice["title"] == f"Task {order_id} satisfied automatically"
    assert "was not rated within 7 days, so it counts as satisfied: 0.50 USD" in worker_notice["body"]
    [employer_notice] = (await inbox(client, market.employer))[before:]
    assert employer_notice["template"] == "microjobs_auto_satisfied"
    assert "You did not rate the proof" in employer_notice["body"]


async def test_campaign_approved_finished_and_stopped(client, runtime, market):
    created = (await create_campaign(client, market.employer, positions=1)).json()
    await approve(client, market.operator, created)
    [approved] = await inbox(client, market.employer)
    assert approved["template"] == "microjobs_campaign_approved"  # not also listing_approved
    assert approved["title"] == 'Your campaign "Follow our page and like the pinned post" is live'

    order_id = await taken_and_submitted(client, market, created["id"], market.us)
    await rate(client, market.employer, order_id, True)
    finished = (await inbox(client, market.employer))[-1]
    assert finished["template"] == "microjobs_campaign_finished"
    assert "All 1 positions" in finished["body"]

    other = await live_campaign(client, market, positions=3, title="Review our bakery app in the store")
    before = len(await inbox(client, market.employer))
    stopped = await client.post(
        f"/operator/microjobs/campaigns/{other['id']}/stop",
        json={"reason": "Fake reviews are not allowed"},
        headers=market.operator.headers,
    )
    assert stopped.status_code == 200, stopped.text
    [notice] = (await inbox(client, market.employer))[before:]  # once, not also listing_moved
    assert notice["template"] == "microjobs_campaign_stopped"
    assert (
        notice["title"] == 'Your campaign "Review our bakery app in the store" was stopped by our operators'
    )
    assert "Reason: Fake reviews are not allowed" in notice["body"]

    mine = await live_campaign(client, market, positions=1, title="Share our post with your friends")
    before = len(await inbox(client, market.employer))
    await client.post(f"/microjobs/campaigns/{mine['id']}/stop", headers=market.employer.headers)
    assert len(await inbox(client, market.employer)) == before  # they did it themselves


async def test_a_rejected_campaign_says_why_and_what_came_back(client, runtime, market):
    created = (await create_campaign(client, market.employer, positions=4)).json()
    rejected = await client.post(
        f"/operator/listings/{created['listing_id']}/reject",
        json={"reason": "Buying followers breaks the rules"},
        headers=market.operator.headers,
    )
    assert rejected.status_code == 200, rejected.text
    [notice] = await inbox(client, market.employer)
    assert notice["template"] == "microjobs_campaign_rejected"
    assert "Reason: Buying followers breaks the rules" in notice["body"]
    assert "Its budget, 2.20 USD, is back in your wallet credit" in notice["body"]


async def test_a_group_invitation_reaches_the_worker(client, runtime, market):
    async with runtime.unit_of_work() as uow:
        uow.record(
            GroupMemberAdded(
                group_id=3,
                group_name="Trusted testers",
                employer_id=market.employer.id,
                member_id=market.fr.id,
            ),
            subject="group:3",
            actor_id=market.employer.id,
        )
    [notice] = await inbox(client, market.fr)
    assert notice["template"] == "microjobs_group_invitation"
    assert notice["title"].endswith('added you to their group "Trusted testers"')
    assert notice["link"].endswith("/microjobs/me/groups")
    assert await inbox(client, market.employer) == []


async def test_a_campaign_paid_by_bank_transfer_tells_the_employer_when_it_arrives(client, runtime, market):
    created = await create_campaign(client, market.employer, positions=10, method="bank_transfer")
    assert created.status_code == 201, created.text
    campaign = created.json()
    assert campaign["state"] == "awaiting_funds"
    confirmed = await client.post(
        f"/bank-transfer/payments/{campaign['pending_payment_id']}/confirm",
        json={"amount": {"amount": "5.50", "currency": "USD"}, "reference": "STMT-0042"},
        headers=market.operator.headers,
    )
    assert confirmed.status_code == 200, confirmed.text
    [notice] = await inbox(client, market.employer)  # instead of the core's payment_settled
    assert notice["template"] == "microjobs_campaign_funded"
    assert notice["title"] == 'Your payment for "Follow our page and like the pinned post" arrived'
    assert "Your payment of 5.50 USD" in notice["body"]
    assert "it funds 10 positions. The campaign now waits for our operators' review." in notice["body"]
