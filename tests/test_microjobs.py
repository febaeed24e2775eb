"""The microjobs model's campaign and task flows, through the HTTP API, with exact cents."""

from __future__ import annotations

import pytest
from microjobs_helpers import (
    balances,
    books_are_sound,
    create_campaign,
    live_campaign,
    market,
    microjobs_config,
    rate,
    submit,
    take,
    taken_and_submitted,
)

__all__ = ["market"]


@pytest.fixture
def site_config(tmp_path):
    return microjobs_config(tmp_path)


async def test_a_campaign_is_funded_from_credit_first_then_reviewed(client, runtime, market):
    created = await create_campaign(client, market.employer, positions=10)
    assert created.status_code == 201, created.text
    campaign = created.json()
    # 10 positions x (0.50 reward + 0.05 fee (10%)) = 5.50, all from the 100.00 of credit
    assert campaign["budget"]["per_position"] == {"amount": "0.55", "currency": "USD"}
    assert campaign["budget"]["fee_per_position"] == {"amount": "0.05", "currency": "USD"}
    assert campaign["budget"]["worker_earns"] == {"amount": "0.50", "currency": "USD"}
    assert campaign["budget"]["escrow"] == {"amount": "5.50", "currency": "USD"}
    assert campaign["state"] == "pending_review"
    assert (campaign["positions"], campaign["free"]) == (10, 10)
    assert await balances(market.employer.id) == (5000, 10000 - 550)
    await books_are_sound(runtime)


async def test_satisfied_pays_the_worker_at_once(client, runtime, market):
    campaign = await live_campaign(client, market, positions=2)
    order_id = await taken_and_submitted(client, market, campaign["id"], market.fr)
    rated = await rate(client, market.employer, order_id, True, feedback="Great, thanks")
    assert rated.status_code == 200, rated.text
    assert rated.json()["status"] == "satisfied"
    assert await balances(market.fr.id) == (50, 0)
    got = (await client.get(f"/microjobs/campaigns/{campaign['id']}", headers=market.employer.headers)).json()
    assert (got["taken"], got["done"], got["free"]) == (1, 1, 1)
    assert got["budget"]["escrow"]["amount"] == "0.55"
    await books_are_sound(runtime)


async def test_correction_then_still_unsatisfied_is_paid_anyway(client, runtime, market):
    campaign = await live_campaign(client, market, positions=2)
    order_id = await taken_and_submitted(client, market, campaign["id"], market.gb)
    no_reason = await rate(client, market.employer, order_id, False)
    assert no_reason.status_code == 422
    first = await rate(client, market.employer, order_id, False, reason="The username does not exist")
    assert first.json()["status"] == "correcting", first.text
    again = await submit(client, market.gb, order_id)
    assert again.json()["status"] == "submitted", again.text
    second = await rate(client, market.employer, order_id, False, reason="Still not following us")
    assert second.json()["status"] == "unsatisfied", second.text
    assert await balances(market.gb.id) == (50, 0)
    retake = await take(client, market.gb, campaign["id"])
    assert retake.status_code == 409
    await books_are_sound(runtime)


async def test_stop_refunds_free_positions_to_the_wallet(client, runtime, market):
    campaign = await live_campaign(client, market, positions=5)
    await taken_and_submitted(client, market, campaign["id"], market.us)
    await take(client, market.gb, campaign["id"])
    stopped = await client.post(
        f"/microjobs/campaigns/{campaign['id']}/stop", headers=market.employer.headers
    )
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["state"] == "stopped"
    # 3 free positions x 0.55 back to credit: 100.00 - 2.75 + 1.65
    assert await balances(market.employer.id) == (5000, 10000 - 275 + 165)
    await books_are_sound(runtime)
