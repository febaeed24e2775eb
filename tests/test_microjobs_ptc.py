"""Paid to click: open the job, visit the employer's page through the site, confirm after
``ptc_min_seconds``, paid at once; once per worker and campaign, however often they click."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from microjobs_helpers import balances, books_are_sound, live_campaign, market, microjobs_config, take

from agorakit.money import escrow_balance, ledger
from agorakit.plugins.microjobs.tables import Campaign, Task
from agorakit.worker import sweep

__all__ = ["market"]

PAGE = "https://shop.example/spring-sale"


@pytest.fixture
def site_config(tmp_path):
    return microjobs_config(tmp_path, min_reward="0.01")


async def ptc_campaign(client, market, **changes):
    fields = {"mode": "ptc", "url": PAGE, "proof": [], "reward": {"amount": "0.05", "currency": "USD"}}
    return await live_campaign(client, market, **(fields | changes))


async def visit(client, worker, campaign_id: int):
    return await client.post(f"/microjobs/jobs/{campaign_id}/visit", headers=worker.headers)


async def go(client, go_url: str):
    return await client.get(go_url, follow_redirects=False)


async def confirm(client, worker, order_id: int):
    return await client.post(f"/microjobs/tasks/{order_id}/confirm", headers=worker.headers)


async def test_visit_wait_confirm_is_paid_once(client, runtime, market, clock, problem):
    campaign = await ptc_campaign(client, market, positions=3)
    # 0.05 reward + 0.01 fee (10% of 5 cents, half up) per position
    assert campaign["budget"]["per_position"]["amount"] == "0.06"
    opened = await visit(client, market.fr, campaign["id"])
    assert opened.status_code == 201, opened.text
    body = opened.json()
    assert body["confirm_after_seconds"] == 10
    assert body["go_url"].startswith("/microjobs/go/")
    task = body["task"]
    assert (task["status"], task["ptc"], task["visited_at"]) == ("visited", True, None)
    order_id = task["order_id"]
    stored = await Task.select().where(Task.order_id == order_id).first()
    token = body["go_url"].removeprefix("/microjobs/go/")
    assert stored["visit_token"] != token and len(stored["visit_token"]) == 64  # only its SHA-256
    # confirming before the page was opened is refused
    early = problem(await confirm(client, market.fr, order_id), 409, "guard_failed")
    assert "go_url" in early["detail"]
    redirected = await go(client, body["go_url"])
    assert redirected.status_code == 303, redirected.text
    assert redirected.headers["location"] == PAGE
    # 9.999 seconds on the page: refused, with the seconds to go
    clock.advance(timedelta(seconds=9.999))
    too_soon = problem(await confirm(client, market.fr, order_id), 409, "guard_failed")
    assert "at least 10 seconds" in too_soon["detail"] and "1 to go" in too_soon["detail"]
    assert await balances(market.fr.id) == (0, 0)
    clock.advance(timedelta(milliseconds=1))
    paid = await confirm(client, market.fr, order_id)
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "paid"
    assert await balances(market.fr.id) == (5, 0)
    # a second confirm pays nothing
    problem(await confirm(client, market.fr, order_id), 409, "transition_not_allowed")
    assert await balances(market.fr.id) == (5, 0)
    # never rated: no rating, no rated_at, counted as a click
    row = await Task.select().where(Task.order_id == order_id).first()
    assert (row["status"], row["ptc"], row["rated_at"], row["reason"]) == ("paid", True, None, None)
    assert await ledger.balance_of(ledger.PLATFORM_FEES, "USD") == 1
    got = await client.get(f"/microjobs/campaigns/{campaign['id']}", headers=market.employer.headers)
    assert (got.json()["taken"], got.json()["done"], got.json()["free"]) == (1, 1, 2)
    assert await escrow_balance(f"campaign:{campaign['id']}", "USD") == 2 * 6
    await books_are_sound(runtime)


async def test_a_second_visit_is_the_same_task_never_a_second_payment(
    client, runtime, market, clock, problem
):
    campaign = await ptc_campaign(client, market, positions=2)
    first = (await visit(client, market.gb, campaign["id"])).json()
    assert (await go(client, first["go_url"])).status_code == 303
    visited_at = (await Task.select(Task.visited_at).first())["visited_at"]
    clock.advance(timedelta(seconds=30))
    again = await visit(client, market.gb, campaign["id"])
    assert again.status_code == 200, again.text
    assert again.json()["task"]["order_id"] == first["task"]["order_id"]
    assert again.json()["go_url"] != first["go_url"]
    problem(await go(client, first["go_url"]), 404, "not_found")  # the old link is gone
    assert (await go(client, again.json()["go_url"])).status_code == 303
    # the visit began the first time
    assert (await Task.select(Task.visited_at).first())["visited_at"] == visited_at
    assert (await Campaign.select(Campaign.taken).first())["taken"] == 1
    paid = await confirm(client, market.gb, first["task"]["order_id"])
    assert paid.json()["status"] == "paid", paid.text
    after = await visit(client, market.gb, campaign["id"])
    assert after.status_code == 200 and after.json()["task"]["status"] == "paid"
    problem(await confirm(client, market.gb, first["task"]["order_id"]), 409, "transition_not_allowed")
    assert await balances(market.gb.id) == (5, 0)
    await books_are_sound(runtime)


async def test_an_unconfirmed_visit_lapses_and_frees_its_position(client, runtime, market, clock, problem):
    campaign = await ptc_campaign(client, market, positions=1)
    opened = (await visit(client, market.us, campaign["id"])).json()
    order_id = opened["task"]["order_id"]
    await go(client, opened["go_url"])
    # the only position is held: nobody else can open it
    problem(await visit(client, market.gb, campaign["id"]), 409, "no_free_position")
    clock.advance(timedelta(minutes=60) - timedelta(seconds=1))
    await sweep(runtime)
    assert (await client.get(f"/microjobs/tasks/{order_id}", headers=market.us.headers)).json()[
        "status"
    ] == "visited"
    clock.advance(timedelta(seconds=1))
    await sweep(runtime)
    assert (await client.get(f"/microjobs/tasks/{order_id}", headers=market.us.headers)).json()[
        "status"
    ] == "lapsed"
    problem(await confirm(client, market.us, order_id), 409, "transition_not_allowed")
    assert await balances(market.us.id) == (0, 0)
    # the position is free again for someone else; the lapsed worker keeps their one task
    again = await visit(client, market.us, campaign["id"])
    assert again.status_code == 200 and again.json()["task"]["order_id"] == order_id
    other = await visit(client, market.gb, campaign["id"])
    assert other.status_code == 201, other.text
    await books_are_sound(runtime)


async def test_ptc_and_proof_jobs_do_not_mix(client, market, problem):
    clicks = await ptc_campaign(client, market, positions=1)
    proofs = await live_campaign(client, market, positions=1)
    problem(await take(client, market.fr, clicks["id"]), 409, "conflict")
    problem(await visit(client, market.fr, proofs["id"]), 409, "conflict")
    taken = await take(client, market.fr, proofs["id"])
    problem(await confirm(client, market.fr, taken.json()["order_id"]), 404, "not_found")
    problem(await visit(client, market.fr, proofs["id"]), 409, "already_taken")
    problem(await visit(client, market.employer, clicks["id"]), 403, "not_eligible")


async def test_only_the_visiting_worker_confirms(client, market, make_member, clock, problem):
    campaign = await ptc_campaign(client, market, positions=1)
    opened = (await visit(client, market.fr, campaign["id"])).json()
    await go(client, opened["go_url"])
    clock.advance(timedelta(seconds=10))
    order_id = opened["task"]["order_id"]
    problem(await confirm(client, market.gb, order_id), 404, "not_found")
    problem(await confirm(client, market.employer, order_id), 403, "forbidden")
    problem(await confirm(client, market.fr, 999999), 404, "not_found")


async def test_an_unknown_visit_link_is_a_404_without_signing_in(client, market, problem):
    problem(await client.get("/microjobs/go/" + "x" * 43), 404, "not_found")
    problem(await client.get("/microjobs/go/short"), 404, "not_found")


@pytest.mark.postgres_only("concurrency is proven on PostgreSQL")
async def test_concurrent_visits_and_confirms_pay_once(client, runtime, market, clock, problem):
    campaign = await ptc_campaign(client, market, positions=3)
    visits = await asyncio.gather(*(visit(client, market.fr, campaign["id"]) for _ in range(10)))
    assert Counter(r.status_code for r in visits) == {201: 1, 200: 9}, [r.text for r in visits]
    assert len({r.json()["task"]["order_id"] for r in visits}) == 1
    order_id = visits[0].json()["task"]["order_id"]
    latest = (await visit(client, market.fr, campaign["id"])).json()
    await go(client, latest["go_url"])
    clock.advance(timedelta(seconds=10))
    confirms = await asyncio.gather(*(confirm(client, market.fr, order_id) for _ in range(10)))
    assert Counter(r.status_code for r in confirms) == {200: 1, 409: 9}, [r.text for r in confirms]
    assert await balances(market.fr.id) == (5, 0)
    assert (await Campaign.select(Campaign.taken, Campaign.done).first()) == {"taken": 1, "done": 1}
    await books_are_sound(runtime)
