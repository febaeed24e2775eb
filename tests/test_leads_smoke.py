"""The leads model end to end, briefly: post, review, feed, unlock, chat."""

from __future__ import annotations

import pytest
from leads_helpers import balances, books_are_sound, fees, leads_config, market, open_job, unlock

__all__ = ["market"]


@pytest.fixture
def site_config(tmp_path):
    return leads_config(tmp_path)


async def test_a_lead_from_posting_to_a_chat(client, runtime, market):
    job = await open_job(client, market)
    assert job["price"] == {"amount": "12.00", "currency": "USD"}
    feed = await client.get("/leads/feed", headers=market.business.headers)
    assert feed.status_code == 200, feed.text
    assert [j["id"] for j in feed.json()["items"]] == [job["id"]]
    assert feed.json()["items"][0]["customer_id"] is None
    for other in (market.plumber, market.new_yorker, market.outsider):
        seen = await client.get("/leads/feed", headers=other.headers)
        assert seen.json()["items"] == [], other
    home = await client.get("/leads/feed", headers=market.home_pro.headers)
    assert [j["id"] for j in home.json()["items"]] == [job["id"]]
    unlocked = await unlock(client, market.business, job["id"])
    assert unlocked.status_code == 201, unlocked.text
    assert unlocked.json()["status"] == "charged"
    assert await balances(market.business.id) == (0, 5000 - 1200)
    assert await fees() == 1200
    again = await unlock(client, market.business, job["id"])
    assert again.status_code == 200, again.text
    assert await balances(market.business.id) == (0, 5000 - 1200)
    conversation_id = unlocked.json()["conversation_id"]
    wrote = await client.post(
        f"/conversations/{conversation_id}/messages",
        json={"body": "Hi! I can come on Tuesday."},
        headers=market.business.headers,
    )
    assert wrote.status_code == 201, wrote.text
    answer = await client.post(
        f"/conversations/{conversation_id}/messages",
        json={"body": "Tuesday works, thanks."},
        headers=market.customer.headers,
    )
    assert answer.status_code == 201, answer.text
    # the charge's order tells its transitions nowhere: the business's only conversation
    # is the one with the customer (process lead_unlock has order_conversation=False)
    mine = await client.get("/conversations", headers=market.business.headers)
    assert [c["id"] for c in mine.json()["items"]] == [conversation_id], mine.text
    await books_are_sound(runtime)
