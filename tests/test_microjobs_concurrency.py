"""Concurrent takes and ratings of a campaign (PostgreSQL, real concurrent requests).

Every request runs as its own asyncio task through the ASGI app, each unit of work on
its own pooled connection: the campaign's conditional counter update, the unique
(campaign, worker) task and the order's state machine are what keep positions and money
right.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from microjobs_helpers import (
    balances,
    books_are_sound,
    live_campaign,
    market,
    microjobs_config,
    rate,
    take,
    taken_and_submitted,
)

from agorakit.money import escrow_balance
from agorakit.plugins.microjobs.tables import Task
from agorakit.worker import sweep

__all__ = ["market"]

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def site_config(tmp_path):
    config = microjobs_config(tmp_path)
    config["database"] = {"pool_max_size": 40}
    return config


async def test_thirty_workers_race_for_five_positions(client, runtime, market, make_member, problem):
    campaign = await live_campaign(client, market, positions=5)
    workers = [await make_member(country="GB") for _ in range(30)]
    responses = await asyncio.gather(*(take(client, worker, campaign["id"]) for worker in workers))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 5, 409: 25}, [r.text for r in responses if r.status_code not in (201, 409)]
    for response in responses:
        if response.status_code == 409:
            problem(response, 409, "no_free_position")
    got = (await client.get(f"/microjobs/campaigns/{campaign['id']}", headers=market.employer.headers)).json()
    assert (got["positions"], got["taken"], got["free"]) == (5, 5, 0)
    assert await escrow_balance(f"campaign:{campaign['id']}", "USD") == 0
    winners = [r.json()["order_id"] for r in responses if r.status_code == 201]
    for order_id in winners:
        assert await escrow_balance(f"order:{order_id}", "USD") == 55
    assert await Task.count() == 5
    await books_are_sound(runtime)


async def test_one_worker_taking_ten_times_at_once_gets_one_task(client, runtime, market, problem):
    campaign = await live_campaign(client, market, positions=5)
    responses = await asyncio.gather(*(take(client, market.fr, campaign["id"]) for _ in range(10)))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 9}, [r.text for r in responses if r.status_code not in (201, 409)]
    for response in responses:
        if response.status_code == 409:
            problem(response, 409, "already_taken")
    got = (await client.get(f"/microjobs/campaigns/{campaign['id']}", headers=market.employer.headers)).json()
    assert (got["taken"], got["free"]) == (1, 4)
    assert await escrow_balance(f"campaign:{campaign['id']}", "USD") == 4 * 55
    assert await Task.count() == 1
    await books_are_sound(runtime)


async def test_a_rating_racing_the_auto_satisfy_sweep_pays_once(client, runtime, market, clock):
    campaign = await live_campaign(client, market, positions=3)
    orders = [await taken_and_submitted(client, market, campaign["id"], w) for w in (market.us, market.gb)]
    clock.advance(timedelta(days=7))
    results = await asyncio.gather(
        rate(client, market.employer, orders[0], True),
        rate(client, market.employer, orders[1], False, reason="Not what we asked"),
        sweep(runtime),
    )
    satisfied, unsatisfied = results[0], results[1]
    assert satisfied.status_code in (200, 409), satisfied.text
    assert unsatisfied.status_code in (200, 409), unsatisfied.text
    # On PostgreSQL the sweep and a rating may deadlock: the rating then answers 409 and
    # the sweep leaves that timer for its next batch, so one more sweep settles it.
    await sweep(runtime)
    first = (await client.get(f"/microjobs/tasks/{orders[0]}", headers=market.us.headers)).json()
    # satisfied either way: by the employer (200) or by the sweep first (409, auto)
    assert (first["status"], first["auto"]) == ("satisfied", satisfied.status_code == 409)
    assert await balances(market.us.id) == (50, 0)  # paid once, whoever won
    second = (await client.get(f"/microjobs/tasks/{orders[1]}", headers=market.gb.headers)).json()
    if unsatisfied.status_code == 200:  # the employer's "not satisfied" came first: a correction
        assert (second["status"], await balances(market.gb.id)) == ("correcting", (0, 0))
    else:  # the sweep came first: satisfied and paid, once
        assert (second["status"], second["auto"], await balances(market.gb.id)) == (
            "satisfied",
            True,
            (50, 0),
        )
    await books_are_sound(runtime)
