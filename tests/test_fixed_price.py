"""The fixed-price order process as a core capability: a second model shares it with gigs.

A throw-away "offers" plugin registers its own fixed-price process, ``offer_order``
(auto-completion after 2 days, no site fee: its orders carry ``charge_fees = False``),
through ``agorakit.orders.fixed_price_process``, without the gigs plugin.  Its orders are
paid from the balance, delivered through the core's ``POST /orders/{id}/delivery``,
accepted, completed by the worker, cancelled late and reported like gig orders, and both
processes run side by side with the gigs plugin enabled and with it disabled.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest

import agorakit
from agorakit import orders
from agorakit.money import ledger
from agorakit.orders import ItemIn, Process, Transition
from agorakit.worker import sweep

OFFER = "offer_order"


class OffersPlugin:
    """A model plugin's side of it: one fixed-price process, and one plain process whose
    orders take no deliveries."""

    @agorakit.hookimpl
    def agorakit_processes(self, runtime):
        plain = Process(
            name="plain_order",
            version=1,
            states=("open", "done"),
            initial="open",
            final=("done",),
            transitions=(Transition(name="finish", sources=("open",), target="done", actors=("buyer",)),),
        )
        offer = orders.fixed_price_process(
            OFFER,
            auto_complete_days=2,
            unpaid_expiry_hours=24,
            report_window_days=2,
            report_review_hours=24,
        )
        return [offer, plain]


@pytest.fixture
def extra_plugins():
    return [("offers", OffersPlugin())]


@pytest.fixture(params=["with-gigs", "without-gigs"])
def site_config(request):
    return {"site": {"plugins": ["gigs"] if request.param == "with-gigs" else []}}


@pytest.fixture
async def parties(runtime, make_member):
    """A seller and a buyer with 100.00 of site credit."""
    seller, buyer = await make_member(), await make_member()
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key=f"fund:{buyer.id}",
            kind="test_funding",
            description="test",
            lines=ledger.move(ledger.external("test"), ledger.credit(buyer.id), 10000, "USD"),
        )
    return seller, buyer


async def offer_order(runtime, seller, buyer, *, cents=1234, days=3, process=OFFER, fees=False) -> int:
    placed = await orders.create_order(
        runtime,
        process=process,
        buyer_id=buyer.id,
        seller_id=seller.id,
        currency="USD",
        items=[ItemIn(kind="base", description="A second-hand bicycle", unit_price=cents, quantity=1)],
        data={"charge_fees": fees, "delivery_days": days},
    )
    return placed.id


async def pay(client, buyer, order_id) -> None:
    paid = await client.post(
        f"/orders/{order_id}/payments", json={"method": "balance"}, headers=buyer.headers
    )
    assert paid.status_code == 201, paid.text


async def deliver(client, seller, order_id, message="Here it is: pick it up on Monday."):
    return await client.post(
        f"/orders/{order_id}/delivery", json={"message": message, "attachments": []}, headers=seller.headers
    )


async def fire(client, member, order_id, name):
    return await client.post(f"/orders/{order_id}/transitions/{name}", headers=member.headers)


async def get(client, member, order_id) -> dict:
    response = await client.get(f"/orders/{order_id}", headers=member.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def money(seller, buyer, order_id) -> dict[str, int]:
    return {
        "buyer_credit": await ledger.balance_of(ledger.credit(buyer.id), "USD"),
        "seller_available": await ledger.balance_of(ledger.available(seller.id), "USD"),
        "escrow": await ledger.balance_of(ledger.escrow(f"order:{order_id}"), "USD"),
        "fees": await ledger.balance_of(ledger.PLATFORM_FEES, "USD"),
    }


def test_the_factory_builds_the_fixed_price_process():
    process = orders.fixed_price_process(
        "x_order",
        version=2,
        auto_complete_days=4,
        unpaid_expiry_hours=10,
        report_window_days=5,
        report_review_hours=12,
        report_reasons={"broken": "It arrived broken"},
        extra_transitions=(
            Transition(name="withdraw", sources=("in_progress",), target="cancelled", actors=("seller",)),
        ),
        delivery_route="/x/orders/{id}/delivery",
    )
    assert (process.name, process.version, process.initial) == ("x_order", 2, "awaiting_payment")
    assert process.final == ("completed", "cancelled", "refunded")
    assert [t.name for t in process.transitions] == [
        "paid",
        "cancel_unpaid",
        "expire",
        "deliver",
        "accept",
        "auto_complete",
        "cancel_late",
        "withdraw",
    ]
    assert [(t.state, t.after, t.transition) for t in process.timers] == [
        ("awaiting_payment", timedelta(hours=10), "expire"),
        ("delivered", timedelta(days=4), "auto_complete"),
    ]
    assert (process.on_payment, process.on_proof, process.reviewable) == (
        "paid",
        {"submitted": "deliver"},
        ("completed",),
    )
    policy = process.disputes
    assert policy is not None
    assert (policy.reasons, policy.states, policy.hold, policy.window, policy.review_within) == (
        {"broken": "It arrived broken"},
        ("delivered",),
        "reported",
        timedelta(days=5),
        timedelta(hours=12),
    )
    effects = {t.name: (t.guards, t.effects) for t in process.transitions}
    assert effects["paid"] == ((), ("fixed_price_start_clock",))
    assert effects["deliver"] == (("fixed_price_has_delivery",), ())
    assert (
        effects["accept"]
        == effects["auto_complete"]
        == ((), ("fixed_price_accept_delivery", "release_escrow"))
    )
    assert effects["cancel_late"] == (("fixed_price_deadline_passed",), ("refund_escrow",))
    deliver = process.transition("deliver")
    assert deliver is not None
    assert (
        deliver.summary == "the seller delivers (POST /x/orders/{id}/delivery) and marks the order complete"
    )


async def test_offer_paid_delivered_and_accepted_pays_the_seller_exactly_the_price(
    client, runtime, parties, clock
):
    seller, buyer = parties
    order_id = await offer_order(runtime, seller, buyer, cents=1234, days=3)
    placed = await get(client, buyer, order_id)
    assert placed["state"] == "awaiting_payment"
    assert orders.deadline_of(SimpleNamespace(**placed)) is None
    assert placed["data"]["quote"]["buyer_total"] == 1234
    assert placed["data"]["quote"]["seller_net"] == 1234
    clock.advance(timedelta(hours=5))
    await pay(client, buyer, order_id)
    running = await get(client, seller, order_id)
    assert running["state"] == "in_progress"
    assert running["allowed_transitions"] == ["deliver"]
    assert orders.deadline_of(SimpleNamespace(**running)) == clock.now() + timedelta(days=3)
    assert await money(seller, buyer, order_id) == {
        "buyer_credit": 10000 - 1234,
        "seller_available": 0,
        "escrow": 1234,
        "fees": 0,
    }
    delivered = await deliver(client, seller, order_id)
    assert delivered.status_code == 200, delivered.text
    assert delivered.json()["state"] == "delivered"
    accepted = await fire(client, buyer, order_id, "accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["state"] == "completed"
    assert await money(seller, buyer, order_id) == {
        "buyer_credit": 10000 - 1234,
        "seller_available": 1234,
        "escrow": 0,
        "fees": 0,
    }
    proofs = (await client.get(f"/orders/{order_id}/proofs", headers=buyer.headers)).json()
    assert [(p["text"], p["status"], p["reviewed_by"]) for p in proofs] == [
        ("Here it is: pick it up on Monday.", "accepted", buyer.id)
    ]
    assert await ledger.check_ledger() == []


async def test_who_may_deliver_what(client, runtime, parties, make_member, problem):
    seller, buyer = parties
    operator, stranger = await make_member(role="operator"), await make_member()
    order_id = await offer_order(runtime, seller, buyer)
    problem(await deliver(client, seller, order_id), 409, "conflict")  # not paid yet
    await pay(client, buyer, order_id)
    problem(await deliver(client, stranger, order_id), 404, "not_found")
    problem(await deliver(client, seller, 99999), 404, "not_found")
    problem(await deliver(client, buyer, order_id), 403, "forbidden")
    problem(await deliver(client, operator, order_id), 403, "forbidden")
    problem(
        await deliver(client, seller, order_id, message="  "), 422, "validation_error", fields={"message"}
    )
    body = problem(await fire(client, seller, order_id, "deliver"), 409, "guard_failed")
    assert body["detail"] == f"deliver with POST /orders/{order_id}/delivery (a message and files)"
    assert (await get(client, seller, order_id))["state"] == "in_progress"
    assert (await deliver(client, seller, order_id)).status_code == 200
    problem(await deliver(client, seller, order_id), 409, "conflict")  # delivered already
    plain = await orders.create_order(
        runtime,
        process="plain_order",
        buyer_id=buyer.id,
        seller_id=seller.id,
        currency="USD",
        items=[ItemIn(kind="base", description="Something", unit_price=100, quantity=1)],
        data={"charge_fees": False},
    )
    body = problem(await deliver(client, seller, plain.id), 409, "no_deliveries")
    assert body["extra"] == {"process": "plain_order"}
    assert await ledger.balance_of(ledger.escrow(f"order:{order_id}"), "USD") == 1234


async def test_a_delivered_offer_completes_after_two_days_not_a_second_before(
    client, runtime, parties, clock
):
    seller, buyer = parties
    order_id = await offer_order(runtime, seller, buyer, cents=500)
    await pay(client, buyer, order_id)
    assert (await deliver(client, seller, order_id)).status_code == 200
    clock.advance(timedelta(days=2) - timedelta(seconds=1))
    await sweep(runtime)
    assert (await get(client, buyer, order_id))["state"] == "delivered"
    clock.advance(timedelta(seconds=1))
    report = await sweep(runtime)
    assert len(report.timers_fired) == 1
    assert (await get(client, buyer, order_id))["state"] == "completed"
    proofs = (await client.get(f"/orders/{order_id}/proofs", headers=buyer.headers)).json()
    assert [(p["status"], p["reviewed_by"]) for p in proofs] == [("accepted", None)]
    assert await money(seller, buyer, order_id) == {
        "buyer_credit": 10000 - 500,
        "seller_available": 500,
        "escrow": 0,
        "fees": 0,
    }


async def test_late_cancellation_refunds_the_buyers_credit(client, runtime, parties, clock, problem):
    seller, buyer = parties
    order_id = await offer_order(runtime, seller, buyer, cents=2000, days=1)
    await pay(client, buyer, order_id)
    deadline = clock.now() + timedelta(days=1)
    clock.advance(timedelta(days=1) - timedelta(seconds=1))
    body = problem(await fire(client, buyer, order_id, "cancel_late"), 409, "guard_failed")
    assert (
        body["detail"] == f"the seller has until {deadline.isoformat()} to deliver; you can cancel after that"
    )
    problem(await fire(client, seller, order_id, "cancel_late"), 403, "actor_not_allowed")
    assert await ledger.balance_of(ledger.credit(buyer.id), "USD") == 8000
    clock.advance(timedelta(seconds=1))
    cancelled = await fire(client, buyer, order_id, "cancel_late")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    assert await money(seller, buyer, order_id) == {
        "buyer_credit": 10000,
        "seller_available": 0,
        "escrow": 0,
        "fees": 0,
    }
    assert await ledger.check_ledger() == []


async def test_an_unpaid_offer_expires_and_a_reported_delivery_waits(client, runtime, parties, clock):
    seller, buyer = parties
    unpaid = await offer_order(runtime, seller, buyer)
    reported = await offer_order(runtime, seller, buyer, cents=700)
    await pay(client, buyer, reported)
    assert (await deliver(client, seller, reported)).status_code == 200
    opened = await client.post(
        f"/orders/{reported}/disputes",
        json={"reason": "not_as_described", "text": "It is a tricycle."},
        headers=buyer.headers,
    )
    assert opened.status_code == 201, opened.text
    reasons = (await client.get(f"/orders/{reported}/disputes/reasons", headers=buyer.headers)).json()
    assert [r["code"] for r in reasons["reasons"]] == ["not_delivered", "not_as_described"]
    assert reasons["window_days"] == 2
    clock.advance(timedelta(days=3))
    await sweep(runtime)
    assert (await get(client, buyer, unpaid))["state"] == "cancelled"
    assert (await get(client, buyer, reported))["state"] == "reported"  # no auto-completion
    assert await ledger.balance_of(ledger.escrow(f"order:{reported}"), "USD") == 700


async def test_gig_and_offer_processes_side_by_side(client, runtime, parties, site_config):
    seller, buyer = parties
    registered = orders.registry(runtime).processes
    gigs = "gigs" in site_config["site"]["plugins"]
    assert ((OFFER, 1) in registered, ("gig_order", 1) in registered) == (True, gigs)
    assert registered[(OFFER, 1)].transition("cancel_mutual") is None
    offer_id = await offer_order(runtime, seller, buyer, cents=1000)
    await pay(client, buyer, offer_id)
    if gigs:
        gig_process = registered[("gig_order", 1)]
        assert [t.name for t in gig_process.transitions] == [
            *(t.name for t in registered[(OFFER, 1)].transitions),
            "seller_cancel",
            "cancel_mutual",
        ]
        # A gig order (fees charged) delivered through the core's route, next to the offer.
        gig_id = await offer_order(runtime, seller, buyer, cents=1000, process="gig_order", fees=True)
        await pay(client, buyer, gig_id)
        body = (await fire(client, seller, gig_id, "deliver")).json()
        assert body["detail"] == f"deliver with POST /gigs/orders/{gig_id}/delivery (a message and files)"
        assert (await deliver(client, seller, gig_id)).json()["state"] == "delivered"
        assert (await fire(client, buyer, gig_id, "accept")).json()["state"] == "completed"
    assert (await deliver(client, seller, offer_id)).json()["state"] == "delivered"
    assert (await fire(client, buyer, offer_id, "accept")).json()["state"] == "completed"
    # the offer pays exactly its price; the gig its price less the default 20% commission
    assert await ledger.balance_of(ledger.available(seller.id), "USD") == 1000 + (800 if gigs else 0)
    assert await ledger.balance_of(ledger.PLATFORM_FEES, "USD") == (200 if gigs else 0)
    assert await ledger.check_ledger() == []


@pytest.mark.postgres_only("concurrency is proven on PostgreSQL")
@pytest.mark.parametrize("site_config", [{"database": {"pool_max_size": 20}}])
async def test_concurrent_deliveries_deliver_once(client, runtime, parties, problem):
    seller, buyer = parties
    order_id = await offer_order(runtime, seller, buyer)
    await pay(client, buyer, order_id)
    responses = await asyncio.gather(*(deliver(client, seller, order_id, f"take {n}") for n in range(10)))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 1, 409: 9}, [r.text for r in responses if r.status_code >= 500]
    proofs = (await client.get(f"/orders/{order_id}/proofs", headers=buyer.headers)).json()
    assert len(proofs) == 1
    assert (await get(client, buyer, order_id))["state"] == "delivered"


@pytest.mark.postgres_only("concurrency is proven on PostgreSQL")
@pytest.mark.parametrize("site_config", [{"database": {"pool_max_size": 20}}])
async def test_concurrent_payments_of_an_order_pay_it_once(client, runtime, parties):
    """The payment's transaction locks the order first: of ten at once, one pays it."""
    seller, buyer = parties
    order_id = await offer_order(runtime, seller, buyer)
    responses = await asyncio.gather(
        *(
            client.post(f"/orders/{order_id}/payments", json={"method": "balance"}, headers=buyer.headers)
            for _ in range(10)
        )
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 9}, [r.text for r in responses if r.status_code >= 500]
    assert {r.json()["code"] for r in responses if r.status_code == 409} <= {
        "order_already_paid",
        "transition_not_allowed",
    }
    assert await money(seller, buyer, order_id) == {
        "buyer_credit": 10000 - 1234,
        "seller_available": 0,
        "escrow": 1234,
        "fees": 0,
    }
    assert (await get(client, buyer, order_id))["state"] == "in_progress"
    assert await ledger.check_ledger() == []


@pytest.mark.postgres_only("concurrency is proven on PostgreSQL")
@pytest.mark.parametrize("site_config", [{"database": {"pool_max_size": 20}}])
async def test_concurrent_accepts_pay_the_seller_once(client, runtime, parties):
    seller, buyer = parties
    order_id = await offer_order(runtime, seller, buyer)
    await pay(client, buyer, order_id)
    assert (await deliver(client, seller, order_id)).status_code == 200
    responses = await asyncio.gather(*(fire(client, buyer, order_id, "accept") for _ in range(10)))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 1, 409: 9}, [r.text for r in responses if r.status_code >= 500]
    assert await money(seller, buyer, order_id) == {
        "buyer_credit": 10000 - 1234,
        "seller_available": 1234,
        "escrow": 0,
        "fees": 0,
    }
    assert await ledger.check_ledger() == []


def test_deadline_of_reads_the_orders_deadline():
    paid = SimpleNamespace(data={"deadline": "2026-01-08T09:00:00+00:00"})
    assert orders.deadline_of(paid) == datetime.fromisoformat("2026-01-08T09:00:00+00:00")
    assert orders.deadline_of(SimpleNamespace(data={})) is None
