"""Unlocking leads: the charge in exact cents (credit first, then available), replays and
Idempotency-Keys, refusals that write nothing, bank transfers (held places, confirmation,
cancellation and expiry), the places of a lead, and concurrency on PostgreSQL."""

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

from agorakit.money import ledger
from agorakit.money.tables import LedgerTransaction
from agorakit.orders.tables import Order
from agorakit.plugins.leads.tables import Lead, Unlock
from agorakit.worker import sweep

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


async def unlocks_of(lead_id: int) -> dict[int, str]:
    rows = await Unlock.select(Unlock.business_id, Unlock.status).where(Unlock.lead_id == lead_id)
    return {r["business_id"]: r["status"] for r in rows}


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


# --------------------------------------------------------------------------------------
# Paying from the balance
# --------------------------------------------------------------------------------------


async def test_credit_is_spent_first_then_available_money(client, runtime, market, make_member):
    business = await business_in_sf(client, runtime, make_member, credit=500, available=1000)
    job = await open_job(client, market)  # 12.00
    unlocked = await unlock(client, business, job["id"])
    assert unlocked.status_code == 201, unlocked.text
    out = unlocked.json()
    assert (out["status"], out["origin"], out["price"]) == ("charged", "business", usd("12.00"))
    assert (out["lead_id"], out["business_id"], out["customer_id"]) == (
        job["id"],
        business.id,
        market.customer.id,
    )
    assert out["charged_at"] is not None and out["conversation_id"] is not None
    assert await balances(business.id) == (300, 0)
    assert await fees() == 1200
    order = (await client.get(f"/orders/{out['order_id']}", headers=business.headers)).json()
    assert (order["state"], order["buyer_id"], order["seller_id"]) == ("charged", business.id, None)
    assert await places(job["id"]) == 1
    # the customer and the business are in one conversation
    conversation = await client.get(
        f"/conversations/{out['conversation_id']}", headers=market.customer.headers
    )
    assert conversation.status_code == 200, conversation.text
    await books_are_sound(runtime)


async def test_a_second_unlock_and_an_idempotency_key_replay_charge_nothing(client, runtime, market, problem):
    business = market.businesses[1]  # 50.00 credit, 10.00 available
    job = await open_job(client, market)
    other = await open_job(client, market)
    first = await unlock(client, business, job["id"], key="unlock-1")
    assert first.status_code == 201, first.text
    assert await balances(business.id) == (1000, 3800)
    again = await unlock(client, business, job["id"])
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (again.json()["id"], again.json()["status"]) == (first.json()["id"], "charged")
    replay = await unlock(client, business, job["id"], key="unlock-1")
    assert (replay.status_code, replay.json()["id"]) == (200, first.json()["id"])
    body = problem(await unlock(client, business, other["id"], key="unlock-1"), 409, "conflict")
    assert body["detail"] == "this Idempotency-Key was used to unlock another lead"
    assert await balances(business.id) == (1000, 3800)
    assert await fees() == 1200
    assert (await charges(), await places(job["id"]), await places(other["id"])) == (1, 1, 0)
    assert await Order.count() == 1
    # a fresh key on the other lead is a new unlock
    second = await unlock(client, business, other["id"], key="unlock-2")
    assert second.status_code == 201, second.text
    assert await balances(business.id) == (1000, 2600)
    assert await fees() == 2400
    mine = (await client.get("/leads/unlocks", headers=business.headers)).json()["items"]
    assert [u["lead_id"] for u in mine] == [other["id"], job["id"]]
    await books_are_sound(runtime)


async def test_without_enough_money_nothing_is_written(client, runtime, market, make_member, problem):
    poor = await business_in_sf(client, runtime, make_member, credit=500, available=699)
    job = await open_job(client, market)
    body = problem(await unlock(client, poor, job["id"]), 409, "insufficient_funds")
    assert body["detail"]
    assert await balances(poor.id) == (699, 500)
    assert (await fees(), await places(job["id"]), await unlocks_of(job["id"])) == (0, 0, {})
    assert await Order.count() == 0
    got = (await client.get(f"/leads/{job['id']}", headers=poor.headers)).json()
    assert (got["unlock"], got["customer_id"], got["unlocks"]) == (None, None, 0)
    # with one cent more it goes through, to the cent
    await fund(runtime, ledger.available(poor.id), 1)
    assert (await unlock(client, poor, job["id"])).status_code == 201
    assert await balances(poor.id) == (0, 0)
    assert (await fees(), await places(job["id"])) == (1200, 1)
    await books_are_sound(runtime)


async def test_bad_unlocks_are_refused(client, runtime, market, problem):
    job = await open_job(client, market)
    problem(await unlock(client, market.business, 999999), 404, "not_found")
    problem(
        await unlock(client, market.business, job["id"], method="carrier-pigeon"), 422, "validation_error"
    )
    response = await client.post(
        f"/leads/{job['id']}/unlock", json={"method": "balance", "tip": 5}, headers=market.business.headers
    )
    assert response.status_code in (400, 422), response.text
    problem(await client.post(f"/leads/{job['id']}/unlock"), 401, "unauthenticated")
    assert (await places(job["id"]), await unlocks_of(job["id"]), await fees()) == (0, {}, 0)
    # a closed job is no longer unlocked
    assert (
        await client.post(f"/leads/{job['id']}/close", headers=market.customer.headers)
    ).status_code == 200
    body = problem(await unlock(client, market.business, job["id"]), 409, "lead_not_open")
    assert body["detail"] == f"job {job['id']} is closed; only open jobs can be unlocked"
    assert (await places(job["id"]), await unlocks_of(job["id"]), await fees()) == (0, {}, 0)
    await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# Bank transfers
# --------------------------------------------------------------------------------------


async def confirm(client, operator, payment_id: int, amount: str = "12.00"):
    return await client.post(
        f"/bank-transfer/payments/{payment_id}/confirm",
        json={"amount": usd(amount), "reference": "STMT-1"},
        headers=operator.headers,
    )


async def test_a_bank_transfer_holds_the_place_until_an_operator_confirms_it(
    client, runtime, market, problem
):
    business = market.outsider
    await save_profile(client, business, ["cleaning"], SF)
    job = await open_job(client, market)
    started = await unlock(client, business, job["id"], method="bank_transfer")
    assert started.status_code == 201, started.text
    out = started.json()
    assert (out["status"], out["charged_at"], out["conversation_id"]) == ("awaiting_payment", None, None)
    payment = out["payment"]
    assert (payment["method"], payment["amount"]) == ("bank_transfer", usd("12.00"))
    assert await places(job["id"]) == 1
    assert (await fees(), await charges()) == (0, 0)
    got = (await client.get(f"/leads/{job['id']}", headers=business.headers)).json()
    assert (got["customer_id"], got["unlock"]["status"]) == (None, "awaiting_payment")
    # a replay shows the same unlock; nobody but operators confirms
    replay = await unlock(client, business, job["id"], method="bank_transfer")
    assert (replay.status_code, replay.json()["id"], replay.json()["status"]) == (
        200,
        out["id"],
        "awaiting_payment",
    )
    problem(await confirm(client, business, payment["id"]), 403, "forbidden")
    confirmed = await confirm(client, market.operator, payment["id"])
    assert confirmed.status_code == 200, confirmed.text
    charged = (await client.get(f"/leads/{job['id']}", headers=business.headers)).json()
    assert (charged["customer_id"], charged["unlock"]["status"]) == (market.customer.id, "charged")
    assert charged["unlock"]["conversation_id"] is not None
    assert await fees() == 1200
    assert (await charges(), await places(job["id"])) == (1, 1)
    assert await balances(business.id) == (0, 0)
    order = (await client.get(f"/orders/{out['order_id']}", headers=business.headers)).json()
    assert order["state"] == "charged"
    await books_are_sound(runtime)


async def test_dropping_or_never_paying_a_bank_transfer_frees_the_place(
    client, runtime, market, clock, problem
):
    job = await open_job(client, market)
    dropper, sleeper = market.businesses[0], market.businesses[1]
    dropped = (await unlock(client, dropper, job["id"], method="bank_transfer")).json()
    clock.advance(hours=1)
    slept = (await unlock(client, sleeper, job["id"], method="bank_transfer")).json()
    assert await places(job["id"]) == 2
    # the business drops its unpaid unlock; nobody else may
    path = f"/orders/{dropped['order_id']}/transitions/cancel_unpaid"
    problem(await client.post(path, headers=market.customer.headers), 404, "not_found")
    cancelled = await client.post(path, headers=dropper.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    assert await places(job["id"]) == 1
    assert await unlocks_of(job["id"]) == {dropper.id: "cancelled", sleeper.id: "awaiting_payment"}
    # the other one is cancelled by the timer after unpaid_expiry_hours (72)
    clock.advance(hours=71, minutes=59)
    await sweep(runtime)
    assert await unlocks_of(job["id"]) == {dropper.id: "cancelled", sleeper.id: "awaiting_payment"}
    clock.advance(minutes=1)
    report = await sweep(runtime)
    assert report.timers_failed == []
    assert await unlocks_of(job["id"]) == {dropper.id: "cancelled", sleeper.id: "cancelled"}
    assert await places(job["id"]) == 0
    order = (await client.get(f"/orders/{slept['order_id']}", headers=sleeper.headers)).json()
    assert order["state"] == "cancelled"
    assert (await fees(), await charges()) == (0, 0)
    # the dropped business unlocks again from its balance: a new charge
    again = await unlock(client, dropper, job["id"])
    assert again.status_code == 201, again.text
    assert (again.json()["id"], again.json()["status"]) == (dropped["id"], "charged")
    assert again.json()["order_id"] != dropped["order_id"]
    assert (await fees(), await charges(), await places(job["id"])) == (1200, 1, 1)
    assert await balances(dropper.id) == (0, 5000 - 1200)
    await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# The places of a lead
# --------------------------------------------------------------------------------------


async def test_the_sixth_business_finds_the_lead_full(client, runtime, market, make_member, problem):
    extra = [await business_in_sf(client, runtime, make_member, credit=2000) for _ in range(2)]
    job = await open_job(client, market)
    first_five = [*market.businesses, market.home_pro, extra[0]]
    for business in first_five:
        response = await unlock(client, business, job["id"])
        assert response.status_code == 201, response.text
    body = problem(await unlock(client, extra[1], job["id"]), 409, "lead_full")
    assert body["detail"] == f"job {job['id']} already has 5 businesses in contact, the most it takes"
    assert await balances(extra[1].id) == (0, 2000)
    assert (await places(job["id"]), await fees(), await charges()) == (5, 6000, 5)
    assert extra[1].id not in await unlocks_of(job["id"])
    got = (await client.get(f"/leads/{job['id']}", headers=extra[1].headers)).json()
    assert (got["unlocks"], got["max_unlocks"]) == (5, 5)
    # the ones in already replay without a charge
    assert (await unlock(client, market.business, job["id"])).status_code == 200
    assert (await fees(), await charges()) == (6000, 5)
    await books_are_sound(runtime)


@pytest.mark.parametrize("site_config", [{"max_unlocks": 1}], indirect=True)
async def test_a_place_held_by_a_bank_transfer_counts(client, runtime, market, problem):
    job = await open_job(client, market)
    held = (await unlock(client, market.businesses[0], job["id"], method="bank_transfer")).json()
    problem(await unlock(client, market.businesses[1], job["id"]), 409, "lead_full")
    assert await balances(market.businesses[1].id) == (1000, 5000)
    cancel = f"/orders/{held['order_id']}/transitions/cancel_unpaid"
    assert (await client.post(cancel, headers=market.businesses[0].headers)).status_code == 200
    assert (await unlock(client, market.businesses[1], job["id"])).status_code == 201
    assert (await places(job["id"]), await fees()) == (1, 1200)
    await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# Concurrency (PostgreSQL)
# --------------------------------------------------------------------------------------


@pytest.mark.postgres_only("concurrency is proven on PostgreSQL")
@pytest.mark.parametrize("site_config", [{"database": {"pool_max_size": 30}}], indirect=True)
async def test_twenty_concurrent_unlocks_by_one_business_charge_once(client, runtime, market):
    job = await open_job(client, market)
    business = market.businesses[1]
    responses = await asyncio.gather(*(unlock(client, business, job["id"]) for _ in range(20)))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 200: 19}, [r.text for r in responses if r.status_code not in (200, 201)]
    assert len({r.json()["id"] for r in responses}) == 1
    assert {r.json()["status"] for r in responses} == {"charged"}
    assert await charges() == 1
    assert await Unlock.count() == 1
    assert await Order.count() == 1
    assert await places(job["id"]) == 1
    assert await fees() == 1200
    assert await balances(business.id) == (1000, 3800)
    await books_are_sound(runtime)


@pytest.mark.postgres_only("concurrency is proven on PostgreSQL")
@pytest.mark.parametrize("site_config", [{"database": {"pool_max_size": 30}}], indirect=True)
async def test_twelve_businesses_at_once_exactly_five_are_charged(
    client, runtime, market, make_member, problem
):
    rivals = [await business_in_sf(client, runtime, make_member, credit=1200) for _ in range(12)]
    job = await open_job(client, market)
    responses = await asyncio.gather(*(unlock(client, b, job["id"]) for b in rivals))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 5, 409: 7}, [r.text for r in responses if r.status_code not in (201, 409)]
    for response in responses:
        if response.status_code == 409:
            problem(response, 409, "lead_full")
    winners = {b.id for b, r in zip(rivals, responses, strict=True) if r.status_code == 201}
    assert set((await unlocks_of(job["id"])).keys()) == winners
    assert set((await unlocks_of(job["id"])).values()) == {"charged"}
    assert (await places(job["id"]), await charges(), await fees()) == (5, 5, 6000)
    for business in rivals:
        assert await balances(business.id) == ((0, 0) if business.id in winners else (0, 1200))
    await books_are_sound(runtime)
