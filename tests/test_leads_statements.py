"""How many SQL statements the hot leads requests run, on SQLite and PostgreSQL.

A business's feed page, an unlock paid from its balance and the reply that charges a
business the customer wrote to first are what a busy site runs most; their statements
are counted at the engine (``statements``: everything the request runs, its event
handlers after the commit included; ``BEGIN``/``COMMIT`` are not statements there) and
pinned here, so a change that adds one fails until the number is updated on purpose.
The feed's count does not grow with the page, the categories served or the open jobs.
"""

from __future__ import annotations

import pytest
from leads_helpers import balances, books_are_sound, fees, leads_config, market, open_job, unlock

from tests.test_event_batches import statements

__all__ = ["market"]

#: the business (1), its active profile's categories (1), the category tree (1), its
#: areas (1), the page of jobs (1), its unlocks of them (1)
FEED = 6
#: request -> statements on (SQLite, PostgreSQL); PostgreSQL writes a posting's
#: transaction, accounts and entries, an order with its items, history and timers, and a
#: move with its history and timers, in one statement each (SQLite: a posting's
#: transaction and its legs through a view, an order a statement per table, a move's
#: history row whose insert moves the order); a notification with its email is one
#: statement on both
UNLOCK = {"sqlite": 36, "postgres": 32}
REPLY = {"sqlite": 35, "postgres": 31}


@pytest.fixture
def site_config(tmp_path):
    return leads_config(tmp_path)


async def site_in_use(client, market) -> None:
    """Another business was charged for a lead already: the site's accounts exist, as on
    a site in use (the first charge ever also creates the site's fee account)."""
    other = await open_job(client, market)
    assert (await unlock(client, market.businesses[1], other["id"])).status_code == 201


def listing(seen: list[str]) -> str:
    return "\n".join(f"  {sql.strip()[:160]}" for sql in seen)


async def test_a_feed_page_runs_six_statements(client, runtime, market):
    jobs = [await open_job(client, market) for _ in range(3)]
    plumbing = await open_job(client, market, category="plumbing", details={"when": "Within a week"})
    for business, limit, want in [
        (market.business, 2, [jobs[2]["id"], jobs[1]["id"]]),
        (market.home_pro, 3, [plumbing["id"], jobs[2]["id"], jobs[1]["id"]]),  # two categories
    ]:
        with statements(runtime) as seen:
            page = await client.get("/leads/feed", params={"limit": limit}, headers=business.headers)
        assert page.status_code == 200, page.text
        assert [job["id"] for job in page.json()["items"]] == want
        assert len(seen) == FEED, listing(seen)
        with statements(runtime) as seen:
            rest = await client.get(
                "/leads/feed",
                params={"limit": limit, "cursor": page.json()["next_cursor"]},
                headers=business.headers,
            )
        assert rest.status_code == 200, rest.text
        assert len(seen) == FEED, listing(seen)
    assert [job["id"] for job in rest.json()["items"]] == [jobs[0]["id"]]


async def test_an_unlock_from_the_balance(client, runtime, market, db_kind):
    await site_in_use(client, market)
    job = await open_job(client, market)
    with statements(runtime) as seen:
        unlocked = await unlock(client, market.business, job["id"])
    assert unlocked.status_code == 201, unlocked.text
    assert unlocked.json()["status"] == "charged"
    assert len(seen) == UNLOCK[db_kind], listing(seen)
    assert await balances(market.business.id) == (0, 5000 - 1200)
    assert await fees() == 2 * 1200
    await books_are_sound(runtime)


async def test_a_reply_that_charges(client, runtime, market, db_kind):
    await site_in_use(client, market)
    job = await open_job(client, market)
    contact = await client.post(
        f"/leads/{job['id']}/contact",
        json={"business_id": market.business.id, "body": "Hello, could you come on Monday?"},
        headers=market.customer.headers,
    )
    assert contact.status_code == 201, contact.text
    conversation_id = contact.json()["conversation_id"]
    with statements(runtime) as seen:
        reply = await client.post(
            f"/conversations/{conversation_id}/messages",
            json={"body": "Monday works for me."},
            headers=market.business.headers,
        )
    assert reply.status_code == 201, reply.text
    assert len(seen) == REPLY[db_kind], listing(seen)
    assert await balances(market.business.id) == (0, 5000 - 1200)
    assert await fees() == 2 * 1200
    await books_are_sound(runtime)
