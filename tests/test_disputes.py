"""Disputes and reports: opening with a reason inside the window, evidence, the operator queue,
and every outcome (full or partial refund to credit, release, rejection) as ledger postings."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

import agorakit
from agorakit import orders
from agorakit.money import ledger
from agorakit.orders.escrow import escrow_problem_lines
from agorakit.orders.process import DisputePolicy, Process, Timer, Transition
from agorakit.orders.schemas import ItemIn
from agorakit.worker import sweep

REASONS = {"not_delivered": "Marked complete without delivery", "quality": "Not what was ordered"}


def job_process() -> Process:
    """A gig-like process: paid from balance, delivered, auto-completed after 3 days."""
    return Process(
        name="disputejob",
        version=1,
        states=("awaiting_payment", "in_progress", "delivered", "disputed", "completed", "refunded"),
        initial="awaiting_payment",
        final=("completed", "refunded"),
        transitions=(
            Transition(name="paid", sources=("awaiting_payment",), target="in_progress", actors=("system",)),
            Transition(name="deliver", sources=("in_progress",), target="delivered", actors=("seller",)),
            Transition(
                name="auto_complete",
                sources=("delivered",),
                target="completed",
                actors=("system",),
                effects=("release_escrow",),
            ),
        ),
        timers=(Timer(state="delivered", after=timedelta(days=3), transition="auto_complete"),),
        on_payment="paid",
        disputes=DisputePolicy(
            reasons=REASONS,
            states=("delivered",),
            openers=("buyer", "seller"),
            window=timedelta(days=2),
            review_within=timedelta(hours=48),
            hold="disputed",
            refunded="refunded",
            released="completed",
        ),
    )


def lead_process() -> Process:
    """A charge: unlocking a lead moves the price from the buyer's credit to the platform."""
    return Process(
        name="disputelead",
        version=1,
        states=("offered", "unlocked"),
        initial="offered",
        final=("unlocked",),
        transitions=(
            Transition(
                name="unlock", sources=("offered",), target="unlocked", actors=("buyer",), effects=("charge",)
            ),
        ),
        disputes=DisputePolicy(
            reasons={"job_changed": "The job changed significantly", "terms": "The lead breaks the terms"},
            states=("unlocked",),
            window=timedelta(days=30),
            review_within=timedelta(hours=48),
            refund_from="fees",
        ),
    )


def plain_process() -> Process:
    return Process(
        name="nodispute",
        version=1,
        states=("open", "done"),
        initial="open",
        final=("done",),
        transitions=(Transition(name="finish", sources=("open",), target="done", actors=("seller",)),),
    )


class DisputePlugin:
    @agorakit.hookimpl
    def agorakit_processes(self, runtime):
        return [job_process(), lead_process(), plain_process()]

    @agorakit.hookimpl
    def agorakit_order_effects(self):
        async def charge(ctx):
            order = ctx.order
            await ledger.post(
                ctx.uow,
                key=f"order:{order.id}:charge",
                kind="lead_charge",
                description="lead",
                lines=ledger.move(ledger.credit(order.buyer_id), ledger.PLATFORM_FEES, 300, "USD"),
                refs={"order": order.id},
            )

        return {"charge": charge}


@pytest.fixture
def extra_plugins():
    return [("disputetest", DisputePlugin())]


async def fund(runtime, account: str, cents: int) -> None:
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key=f"fund:{account}:{cents}:{uow.now.isoformat()}",
            kind="test_funding",
            description="test",
            lines=ledger.move(ledger.external("test"), account, cents, "USD"),
        )


async def balances(buyer, seller, order_id) -> dict[str, int]:
    return {
        "buyer_credit": await ledger.balance_of(ledger.credit(buyer.id), "USD"),
        "seller_available": await ledger.balance_of(ledger.available(seller.id), "USD"),
        "escrow": await ledger.balance_of(ledger.escrow(f"order:{order_id}"), "USD"),
        "fees": await ledger.balance_of(ledger.PLATFORM_FEES, "USD"),
    }


async def delivered_order(client, runtime, buyer, seller) -> int:
    """A 5.00 order paid from the buyer's credit and delivered by the seller."""
    await fund(runtime, ledger.credit(buyer.id), 500)
    order = await orders.create_order(
        runtime,
        process="disputejob",
        buyer_id=buyer.id,
        seller_id=seller.id,
        currency="USD",
        items=[ItemIn(description="Logo", unit_price=500)],
    )
    paid = await client.post(
        f"/orders/{order.id}/payments", json={"method": "balance"}, headers=buyer.headers
    )
    assert paid.status_code == 201, paid.text
    delivered = await client.post(f"/orders/{order.id}/transitions/deliver", headers=seller.headers)
    assert delivered.json()["state"] == "delivered"
    return order.id


async def open_dispute(client, member, order_id, reason="not_delivered", text="The files were never sent."):
    return await client.post(
        f"/orders/{order_id}/disputes", json={"reason": reason, "text": text}, headers=member.headers
    )


def resolve(client, operator, dispute_id, key=None, **body):
    headers = {**operator.headers, **({"Idempotency-Key": key} if key else {})}
    return client.post(f"/operator/disputes/{dispute_id}/resolve", json=body, headers=headers)


async def test_open_dispute_holds_the_order_and_captures_evidence(client, runtime, make_member, clock):
    buyer, seller, stranger = await make_member(), await make_member(), await make_member()
    order_id = await delivered_order(client, runtime, buyer, seller)
    reasons = (await client.get(f"/orders/{order_id}/disputes/reasons", headers=buyer.headers)).json()
    assert [r["code"] for r in reasons["reasons"]] == ["not_delivered", "quality"]
    assert reasons["window_days"] == 2

    opened = await open_dispute(client, buyer, order_id)
    assert opened.status_code == 201, opened.text
    dispute = opened.json()
    assert dispute["status"] == "open" and dispute["outcome"] is None
    assert (dispute["opener_role"], dispute["from_state"], dispute["reason_label"]) == (
        "buyer",
        "delivered",
        "Marked complete without delivery",
    )
    assert dispute["overdue"] is False
    evidence = dispute["evidence"]
    assert evidence["order"]["amount"] == "5.00"
    assert [h["transition"] for h in evidence["history"]] == ["create", "paid", "deliver"]
    assert "messages" in evidence and "proofs" in evidence
    assert evidence["listing"] is None  # an order without a listing (a gig's carries its text)

    order = (await client.get(f"/orders/{order_id}", headers=buyer.headers)).json()
    assert order["state"] == "disputed"
    # The hold stops the auto-completion: days later the seller still has not been paid.
    clock.advance(timedelta(days=4))
    await sweep(runtime)
    assert (await client.get(f"/orders/{order_id}", headers=buyer.headers)).json()["state"] == "disputed"
    assert (await balances(buyer, seller, order_id))["escrow"] == 500

    # The other party sees it; a stranger gets 404 for the dispute and the order's disputes.
    assert (await client.get(f"/disputes/{dispute['id']}", headers=seller.headers)).status_code == 200
    listed = await client.get(f"/orders/{order_id}/disputes", headers=seller.headers)
    assert [d["id"] for d in listed.json()] == [dispute["id"]]
    assert (await client.get(f"/disputes/{dispute['id']}", headers=stranger.headers)).status_code == 404
    assert (await client.get(f"/orders/{order_id}/disputes", headers=stranger.headers)).status_code == 404
    assert (await open_dispute(client, stranger, order_id)).status_code == 404


async def test_open_dispute_bad_input_changes_nothing(client, runtime, make_member, problem):
    buyer, seller = await make_member(), await make_member()
    order_id = await delivered_order(client, runtime, buyer, seller)
    problem(
        await open_dispute(client, buyer, order_id, reason="because"),
        422,
        "validation_error",
        fields={"reason"},
    )
    problem(
        await open_dispute(client, buyer, order_id, text="  bad  "), 422, "validation_error", fields={"text"}
    )
    body = await client.post(
        f"/orders/{order_id}/disputes", json={"text": "no reason given"}, headers=buyer.headers
    )
    assert body.status_code in (400, 422)
    assert (await client.get(f"/orders/{order_id}/disputes", headers=buyer.headers)).json() == []
    assert (await client.get(f"/orders/{order_id}", headers=buyer.headers)).json()["state"] == "delivered"


async def test_open_dispute_in_wrong_state_or_process_is_refused(client, runtime, make_member, problem):
    buyer, seller = await make_member(), await make_member()
    await fund(runtime, ledger.credit(buyer.id), 500)
    order = await orders.create_order(
        runtime,
        process="disputejob",
        buyer_id=buyer.id,
        seller_id=seller.id,
        currency="USD",
        items=[ItemIn(description="Logo", unit_price=500)],
    )
    body = problem(await open_dispute(client, buyer, order.id), 409, "not_disputable")
    assert "delivered" in body["detail"]
    plain = await orders.create_order(
        runtime,
        process="nodispute",
        buyer_id=buyer.id,
        seller_id=seller.id,
        currency="USD",
        items=[ItemIn(description="x", unit_price=100)],
    )
    problem(await open_dispute(client, buyer, plain.id), 409, "not_disputable")
    problem(
        await client.get(f"/orders/{plain.id}/disputes/reasons", headers=buyer.headers), 409, "not_disputable"
    )


async def test_open_dispute_after_the_window_is_refused(client, runtime, make_member, clock, problem):
    buyer, seller = await make_member(), await make_member()
    order_id = await delivered_order(client, runtime, buyer, seller)
    clock.advance(timedelta(days=2, seconds=1))
    body = problem(await open_dispute(client, buyer, order_id), 409, "dispute_window_closed")
    assert body["extra"]["closed_at"].startswith("2026-01-07T09:00")
    assert (await client.get(f"/orders/{order_id}/disputes", headers=buyer.headers)).json() == []


async def test_only_one_open_dispute_and_one_per_party(client, runtime, make_member, problem):
    buyer, seller, operator = await make_member(), await make_member(), await make_member(role="operator")
    order_id = await delivered_order(client, runtime, buyer, seller)
    first = (await open_dispute(client, buyer, order_id)).json()
    # The order is on hold: neither party can open another one.
    problem(await open_dispute(client, seller, order_id), 409, "not_disputable")
    rejected = await resolve(
        client, operator, first["id"], outcome="reject", note="The delivery is in the chat."
    )
    assert rejected.status_code == 200, rejected.text
    problem(await open_dispute(client, buyer, order_id), 409, "already_disputed")
    second = await open_dispute(client, seller, order_id, reason="quality", text="The buyer will not accept.")
    assert second.status_code == 201


async def test_resolve_with_full_refund_credits_the_buyer(client, runtime, make_member, problem):
    buyer, seller = await make_member(), await make_member()
    operator = await make_member(role="operator")
    order_id = await delivered_order(client, runtime, buyer, seller)
    dispute = (await open_dispute(client, buyer, order_id)).json()
    problem(await resolve(client, buyer, dispute["id"], outcome="refund"), 403, "forbidden")
    before = await balances(buyer, seller, order_id)

    done = await resolve(
        client, operator, dispute["id"], key="resolve-1", outcome="refund", note="No delivery."
    )
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["status"], body["outcome"], body["refunded"], body["released"]) == (
        "resolved",
        "refund",
        {"amount": "5.00", "currency": "USD"},
        {"amount": "0.00", "currency": "USD"},
    )
    after = await balances(buyer, seller, order_id)
    assert after["buyer_credit"] == before["buyer_credit"] + 500
    assert after["escrow"] == 0 and after["seller_available"] == 0 and after["fees"] == before["fees"]
    order = (await client.get(f"/orders/{order_id}", headers=buyer.headers)).json()
    assert order["state"] == "refunded"
    history = (await client.get(f"/orders/{order_id}/history", headers=buyer.headers)).json()["items"]
    assert [h["transition"] for h in history][-2:] == ["dispute", "dispute_refund"]

    # A replay with the same key answers with the resolution; anything else is a conflict.
    replay = await resolve(client, operator, dispute["id"], key="resolve-1", outcome="refund")
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
    problem(await resolve(client, operator, dispute["id"], outcome="release"), 409, "dispute_resolved")
    assert await balances(buyer, seller, order_id) == after
    assert await ledger.check_ledger() == []
    assert await escrow_problem_lines(runtime) == []


async def test_resolve_with_partial_refund_releases_the_rest_at_the_fee_rate(
    client, runtime, make_member, problem
):
    buyer, seller = await make_member(), await make_member()
    operator = await make_member(role="operator")
    order_id = await delivered_order(client, runtime, buyer, seller)
    dispute = (await open_dispute(client, buyer, order_id, reason="quality")).json()
    problem(
        await resolve(client, operator, dispute["id"], outcome="refund", amount="5.01"),
        422,
        "validation_error",
        fields={"amount"},
    )
    problem(
        await resolve(client, operator, dispute["id"], outcome="refund", amount="-1"),
        422,
        "validation_error",
        fields={"amount"},
    )
    problem(
        await resolve(client, operator, dispute["id"], outcome="release", amount="1.00"),
        422,
        "validation_error",
        fields={"amount"},
    )
    before = await balances(buyer, seller, order_id)

    done = await resolve(client, operator, dispute["id"], outcome="refund", amount="2.00", note="Half done.")
    assert done.status_code == 200, done.text
    assert done.json()["refunded"]["amount"] == "2.00" and done.json()["released"]["amount"] == "3.00"
    after = await balances(buyer, seller, order_id)
    # 3.00 released at the order's rate (seller net 4.00 of 5.00): 2.40 to the seller, 0.60 fee.
    assert after["buyer_credit"] - before["buyer_credit"] == 200
    assert after["seller_available"] == 240
    assert after["fees"] - before["fees"] == 60
    assert after["escrow"] == 0
    assert (await client.get(f"/orders/{order_id}", headers=seller.headers)).json()["state"] == "refunded"
    assert await ledger.check_ledger() == []


async def test_resolve_with_release_pays_the_seller(client, runtime, make_member):
    buyer, seller = await make_member(), await make_member()
    operator = await make_member(role="operator")
    order_id = await delivered_order(client, runtime, buyer, seller)
    dispute = (await open_dispute(client, buyer, order_id)).json()
    before = await balances(buyer, seller, order_id)
    done = await resolve(
        client, operator, dispute["id"], outcome="release", note="The files are in the chat."
    )
    assert done.status_code == 200, done.text
    after = await balances(buyer, seller, order_id)
    assert after["seller_available"] == 400 and after["fees"] - before["fees"] == 100
    assert after["buyer_credit"] == before["buyer_credit"] and after["escrow"] == 0
    assert (await client.get(f"/orders/{order_id}", headers=seller.headers)).json()["state"] == "completed"


async def test_resolve_with_rejection_returns_the_order_and_restarts_its_timers(
    client, runtime, make_member, clock, problem
):
    buyer, seller = await make_member(), await make_member()
    operator = await make_member(role="operator")
    order_id = await delivered_order(client, runtime, buyer, seller)
    dispute = (await open_dispute(client, buyer, order_id)).json()
    problem(
        await resolve(client, operator, dispute["id"], outcome="reject"),
        422,
        "validation_error",
        fields={"note"},
    )
    problem(
        await resolve(client, operator, dispute["id"], outcome="maybe"),
        422,
        "validation_error",
        fields={"outcome"},
    )
    clock.advance(timedelta(days=1))
    done = await resolve(client, operator, dispute["id"], outcome="reject", note="The delivery is attached.")
    assert done.status_code == 200 and done.json()["resolution_note"] == "The delivery is attached."
    assert (await client.get(f"/orders/{order_id}", headers=buyer.headers)).json()["state"] == "delivered"
    assert (await balances(buyer, seller, order_id))["escrow"] == 500
    clock.advance(timedelta(days=3))
    await sweep(runtime)
    assert (await client.get(f"/orders/{order_id}", headers=buyer.headers)).json()["state"] == "completed"
    assert (await balances(buyer, seller, order_id))["seller_available"] == 400


async def test_charge_report_refunds_from_the_platform_fees(client, runtime, make_member, clock, problem):
    business, customer = await make_member(), await make_member()
    operator = await make_member(role="operator")
    await fund(runtime, ledger.credit(business.id), 1000)
    lead = await orders.create_order(
        runtime,
        process="disputelead",
        buyer_id=business.id,
        seller_id=customer.id,
        currency="USD",
        items=[ItemIn(description="Lead: kitchen repair", unit_price=300)],
        data={"charge_fees": False},
    )
    unlocked = await client.post(f"/orders/{lead.id}/transitions/unlock", headers=business.headers)
    assert unlocked.json()["state"] == "unlocked"
    assert await ledger.balance_of(ledger.credit(business.id), "USD") == 700
    problem(await open_dispute(client, customer, lead.id, reason="terms"), 403, "forbidden")
    clock.advance(timedelta(days=29))
    report = await open_dispute(client, business, lead.id, reason="job_changed", text="They need a plumber.")
    assert report.status_code == 201, report.text
    # A charge is not held: the order stays unlocked.
    assert (await client.get(f"/orders/{lead.id}", headers=business.headers)).json()["state"] == "unlocked"
    report_id = report.json()["id"]
    problem(
        await resolve(client, operator, report_id, outcome="release"),
        422,
        "validation_error",
        fields={"outcome"},
    )
    problem(
        await resolve(client, operator, report_id, outcome="refund", amount="3.01"), 422, "validation_error"
    )
    fees_before = await ledger.balance_of(ledger.PLATFORM_FEES, "USD")
    done = await resolve(client, operator, report_id, outcome="refund")
    assert done.status_code == 200 and done.json()["refunded"]["amount"] == "3.00"
    assert await ledger.balance_of(ledger.credit(business.id), "USD") == 1000
    assert await ledger.balance_of(ledger.PLATFORM_FEES, "USD") == fees_before - 300
    assert await ledger.check_ledger() == []


async def test_charge_report_after_thirty_days_is_refused(client, runtime, make_member, clock, problem):
    business, customer = await make_member(), await make_member()
    await fund(runtime, ledger.credit(business.id), 300)
    lead = await orders.create_order(
        runtime,
        process="disputelead",
        buyer_id=business.id,
        seller_id=customer.id,
        currency="USD",
        items=[ItemIn(description="Lead", unit_price=300)],
        data={"charge_fees": False},
    )
    await client.post(f"/orders/{lead.id}/transitions/unlock", headers=business.headers)
    clock.advance(timedelta(days=30, minutes=1))
    problem(
        await open_dispute(client, business, lead.id, reason="terms", text="A minor posted this."),
        409,
        "dispute_window_closed",
    )


async def test_operator_queue_flags_overdue_disputes(client, runtime, make_member, clock, problem):
    buyer, seller = await make_member(), await make_member()
    operator = await make_member(role="operator")
    first = await delivered_order(client, runtime, buyer, seller)
    one = (await open_dispute(client, buyer, first)).json()
    clock.advance(timedelta(hours=24))
    second = await delivered_order(client, runtime, buyer, seller)
    two = (await open_dispute(client, buyer, second)).json()
    problem(await client.get("/operator/disputes", headers=buyer.headers), 403, "forbidden")

    clock.advance(timedelta(hours=24, minutes=1))  # the first is 48h01m old, the second 24h01m
    queue = (await client.get("/operator/disputes", headers=operator.headers)).json()["items"]
    mine = [d for d in queue if d["id"] in (one["id"], two["id"])]
    assert [(d["id"], d["overdue"]) for d in mine] == [(one["id"], True), (two["id"], False)]
    overdue = (await client.get("/operator/disputes?overdue=true", headers=operator.headers)).json()["items"]
    assert one["id"] in [d["id"] for d in overdue] and two["id"] not in [d["id"] for d in overdue]
    await resolve(client, operator, one["id"], outcome="release", note="ok")
    still_open = (await client.get("/operator/disputes", headers=operator.headers)).json()["items"]
    assert one["id"] not in [d["id"] for d in still_open]
    resolved = (await client.get("/operator/disputes?status=resolved", headers=operator.headers)).json()[
        "items"
    ]
    assert [d["overdue"] for d in resolved if d["id"] == one["id"]] == [False]
    problem(
        await client.get("/operator/disputes?status=lost", headers=operator.headers),
        422,
        "validation_error",
        fields={"status"},
    )
    # one model's reports: the disputes of its processes only
    everything = "/operator/disputes?status=resolved"
    of_jobs = (await client.get(f"{everything}&process=disputejob", headers=operator.headers)).json()["items"]
    assert one["id"] in [d["id"] for d in of_jobs]
    of_leads = (await client.get(f"{everything}&process=disputelead", headers=operator.headers)).json()[
        "items"
    ]
    assert of_leads == []
    both = (
        await client.get(f"{everything}&process=disputelead&process=disputejob", headers=operator.headers)
    ).json()["items"]
    assert one["id"] in [d["id"] for d in both]


@pytest.mark.postgres_only("proves row locking under concurrency on PostgreSQL")
async def test_concurrent_disputes_one_wins(client, runtime, make_member):
    buyer, seller = await make_member(), await make_member()
    order_id = await delivered_order(client, runtime, buyer, seller)
    results = await asyncio.gather(
        open_dispute(client, buyer, order_id), open_dispute(client, seller, order_id, reason="quality")
    )
    assert sorted(r.status_code for r in results) == [201, 409]
    assert len((await client.get(f"/orders/{order_id}/disputes", headers=buyer.headers)).json()) == 1


@pytest.mark.postgres_only("proves row locking under concurrency on PostgreSQL")
async def test_concurrent_resolutions_move_money_once(client, runtime, make_member):
    buyer, seller = await make_member(), await make_member()
    operator = await make_member(role="operator")
    order_id = await delivered_order(client, runtime, buyer, seller)
    dispute = (await open_dispute(client, buyer, order_id)).json()
    results = await asyncio.gather(
        resolve(client, operator, dispute["id"], outcome="refund"),
        resolve(client, operator, dispute["id"], outcome="release", note="x"),
        resolve(client, operator, dispute["id"], outcome="refund", amount="1.00"),
    )
    assert sorted(r.status_code for r in results) == [200, 409, 409]
    after = await balances(buyer, seller, order_id)
    assert after["escrow"] == 0
    assert after["buyer_credit"] + after["seller_available"] + after["fees"] >= 500
    assert await ledger.check_ledger() == []
