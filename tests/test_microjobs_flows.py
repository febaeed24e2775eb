"""The model's rules end to end, through the HTTP API and the test clock: who may take,
expired and given-up positions, the correction path both ways, auto-satisfy, stopping,
pausing, adding positions, and the core routes that must not bypass the plugin.

Every amount is exact cents; every flow ends with the books checked
(``books_are_sound``: check-ledger's checks and each campaign's escrow)."""

from __future__ import annotations

import asyncio
import sys
from asyncio.subprocess import PIPE
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from microjobs_helpers import (
    balances,
    books_are_sound,
    live_campaign,
    market,
    microjobs_config,
    rate,
    submit,
    take,
    taken_and_submitted,
    usd,
)

from agorakit.catalog.tables import Listing
from agorakit.money import ledger
from agorakit.worker import sweep

__all__ = ["market"]


@pytest.fixture
def site_config(tmp_path):
    return microjobs_config(tmp_path)


async def campaign_of(client, market, campaign_id: int) -> dict:
    got = await client.get(f"/microjobs/campaigns/{campaign_id}", headers=market.employer.headers)
    assert got.status_code == 200, got.text
    return got.json()


async def task_of(client, member, order_id: int) -> dict:
    got = await client.get(f"/microjobs/tasks/{order_id}", headers=member.headers)
    assert got.status_code == 200, got.text
    return got.json()


async def escrow_of(campaign_id: int) -> int:
    return await ledger.balance_of(ledger.escrow(f"campaign:{campaign_id}"), "USD")


# --------------------------------------------------------------------------------------
# Taking a position
# --------------------------------------------------------------------------------------


async def test_a_worker_takes_once_and_never_their_own_campaign(client, runtime, market, problem):
    campaign = await live_campaign(client, market, positions=3)
    first = await take(client, market.us, campaign["id"])
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "taken"
    problem(await take(client, market.us, campaign["id"]), 409, "already_taken")
    body = problem(await take(client, market.employer, campaign["id"]), 403, "not_eligible")
    assert "your own campaign" in body["detail"]
    got = await campaign_of(client, market, campaign["id"])
    assert (got["taken"], got["free"]) == (1, 2)
    assert await escrow_of(campaign["id"]) == 2 * 55
    assert await ledger.balance_of(ledger.escrow(f"order:{first.json()['order_id']}"), "USD") == 55
    await books_are_sound(runtime)


async def test_an_expired_take_frees_the_position_and_is_not_taken_again(
    client, runtime, market, clock, problem
):
    campaign = await live_campaign(client, market, positions=2, submit_minutes=30)
    taken = await take(client, market.gb, campaign["id"])
    order_id = taken.json()["order_id"]
    assert taken.json()["due_at"] == "2026-01-05T09:30:00Z"  # the test clock's epoch + 30 minutes
    assert await escrow_of(campaign["id"]) == 55
    clock.advance(timedelta(minutes=30) - timedelta(seconds=1))
    await sweep(runtime)
    assert (await task_of(client, market.gb, order_id))["status"] == "taken"
    assert (await campaign_of(client, market, campaign["id"]))["free"] == 1
    clock.advance(timedelta(seconds=1))
    report = await sweep(runtime)
    assert len(report.timers_fired) == 1
    assert (await task_of(client, market.gb, order_id))["status"] == "expired"
    got = await campaign_of(client, market, campaign["id"])
    assert (got["taken"], got["free"], got["done"]) == (0, 2, 0)
    assert await escrow_of(campaign["id"]) == 2 * 55  # the money is back in the campaign
    assert await balances(market.gb.id) == (0, 0)
    problem(await take(client, market.gb, campaign["id"]), 409, "already_taken")
    problem(await submit(client, market.gb, order_id), 409, "conflict")
    again = await take(client, market.us, campaign["id"])  # the position is free for others
    assert again.status_code == 201, again.text
    await books_are_sound(runtime)


async def test_giving_up_frees_the_position(client, runtime, market, problem):
    campaign = await live_campaign(client, market, positions=1)
    order_id = (await take(client, market.fr, campaign["id"])).json()["order_id"]
    problem(await take(client, market.us, campaign["id"]), 409, "no_free_position")
    gave_up = await client.post(f"/microjobs/tasks/{order_id}/give-up", headers=market.fr.headers)
    assert gave_up.status_code == 200, gave_up.text
    assert gave_up.json()["status"] == "given_up"
    assert await escrow_of(campaign["id"]) == 55
    assert (await campaign_of(client, market, campaign["id"]))["free"] == 1
    assert (await take(client, market.us, campaign["id"])).status_code == 201
    problem(await take(client, market.fr, campaign["id"]), 409, "already_taken")
    await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# Rating: the correction path both ways, auto-satisfy
# --------------------------------------------------------------------------------------


async def test_a_corrected_proof_rated_satisfied_is_paid(client, runtime, market, problem):
    campaign = await live_campaign(client, market, positions=2)
    order_id = await taken_and_submitted(client, market, campaign["id"], market.us)
    problem(await rate(client, market.us, order_id, True), 403, "forbidden")  # only the employer
    first = await rate(client, market.employer, order_id, False, reason="Wrong profile link")
    assert first.json()["status"] == "correcting"
    assert first.json()["reason"] == "Wrong profile link"
    problem(await rate(client, market.employer, order_id, True), 409, "conflict")  # nothing to rate
    again = await submit(client, market.us, order_id)
    assert again.json()["status"] == "submitted", again.text
    assert again.json()["answers"] == {"username": "ada_bakes", "profile": "https://social.example/ada"}
    satisfied = await rate(client, market.employer, order_id, True, feedback="Thanks")
    assert satisfied.json()["status"] == "satisfied", satisfied.text
    assert satisfied.json()["corrections"] == 1
    assert await balances(market.us.id) == (50, 0)
    assert await ledger.balance_of(ledger.PLATFORM_FEES, "USD") == 5
    got = await campaign_of(client, market, campaign["id"])
    assert (got["done"], got["free"]) == (1, 1)
    await books_are_sound(runtime)


async def test_a_correction_not_resubmitted_in_time_ends_unpaid(client, runtime, market, clock, problem):
    campaign = await live_campaign(client, market, positions=2)
    order_id = await taken_and_submitted(client, market, campaign["id"], market.gb)
    rated = await rate(client, market.employer, order_id, False, reason="Screenshot missing")
    rated_at = datetime.fromisoformat(rated.json()["rated_at"])
    assert datetime.fromisoformat(rated.json()["due_at"]) == rated_at + timedelta(hours=72)
    clock.advance(timedelta(hours=72) - timedelta(seconds=1))
    await sweep(runtime)
    assert (await task_of(client, market.gb, order_id))["status"] == "correcting"
    clock.advance(timedelta(seconds=1))
    await sweep(runtime)
    assert (await task_of(client, market.gb, order_id))["status"] == "abandoned"
    assert await balances(market.gb.id) == (0, 0)
    got = await campaign_of(client, market, campaign["id"])
    assert (got["taken"], got["done"], got["free"]) == (0, 0, 2)
    assert await escrow_of(campaign["id"]) == 2 * 55
    problem(await submit(client, market.gb, order_id), 409, "conflict")
    await books_are_sound(runtime)


async def test_an_unrated_proof_is_satisfied_after_seven_days(client, runtime, market, clock):
    campaign = await live_campaign(client, market, positions=1)
    order_id = await taken_and_submitted(client, market, campaign["id"], market.fr)
    clock.advance(timedelta(days=7) - timedelta(seconds=1))
    await sweep(runtime)
    assert (await task_of(client, market.fr, order_id))["status"] == "submitted"
    assert await balances(market.fr.id) == (0, 0)
    clock.advance(timedelta(seconds=1))
    await sweep(runtime)
    task = await task_of(client, market.fr, order_id)
    assert (task["status"], task["auto"]) == ("satisfied", True)
    assert await balances(market.fr.id) == (50, 0)
    got = await campaign_of(client, market, campaign["id"])
    assert (got["state"], got["done"], got["free"]) == ("finished", 1, 0)
    await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# Stopping and finishing
# --------------------------------------------------------------------------------------


async def test_stopping_refunds_to_credit_and_a_later_expiry_too(client, runtime, market, clock, problem):
    campaign = await live_campaign(client, market, positions=5, submit_minutes=60)
    paid_id = await taken_and_submitted(client, market, campaign["id"], market.us)
    running = (await take(client, market.gb, campaign["id"])).json()["order_id"]
    assert await balances(market.employer.id) == (5000, 10000 - 275)
    stopped = await client.post(
        f"/microjobs/campaigns/{campaign['id']}/stop", headers=market.employer.headers
    )
    assert stopped.status_code == 200, stopped.text
    got = stopped.json()
    assert (got["state"], got["positions"], got["taken"], got["free"]) == ("stopped", 2, 2, 0)
    assert got["budget"]["escrow"] == usd("0.00")
    # 3 free positions x 0.55 = 1.65 back to the wallet credit, none to the earned balance
    assert await balances(market.employer.id) == (5000, 10000 - 275 + 165)
    problem(await take(client, market.fr, campaign["id"]), 409, "campaign_not_open")
    problem(
        await client.post(f"/microjobs/campaigns/{campaign['id']}/stop", headers=market.employer.headers),
        409,
        "campaign_closed",
    )
    # the task in progress expires later: its position goes to the wallet as well
    clock.advance(timedelta(minutes=60))
    await sweep(runtime)
    assert (await task_of(client, market.gb, running))["status"] == "expired"
    assert await balances(market.employer.id) == (5000, 10000 - 275 + 165 + 55)
    got = await campaign_of(client, market, campaign["id"])
    assert (got["state"], got["positions"], got["taken"]) == ("stopped", 1, 1)
    # the submitted proof is still rated and paid
    assert (await rate(client, market.employer, paid_id, True)).json()["status"] == "satisfied"
    assert await balances(market.us.id) == (50, 0)
    assert await balances(market.employer.id) == (5000, 10000 - 275 + 165 + 55)
    await books_are_sound(runtime)


async def test_a_campaign_finishes_when_every_position_is_done(client, runtime, market):
    campaign = await live_campaign(client, market, positions=2)
    first = await taken_and_submitted(client, market, campaign["id"], market.us)
    second = await taken_and_submitted(client, market, campaign["id"], market.gb)
    await rate(client, market.employer, first, True)
    assert (await campaign_of(client, market, campaign["id"]))["state"] == "active"
    await rate(client, market.employer, second, False, reason="Not following")
    await submit(client, market.gb, second)
    assert (await rate(client, market.employer, second, False, reason="Still not")).json()["status"] == (
        "unsatisfied"
    )
    got = await campaign_of(client, market, campaign["id"])
    assert (got["state"], got["done"], got["free"]) == ("finished", 2, 0)
    assert got["stopped_at"] is not None
    listing = await Listing.select(Listing.status).where(Listing.id == campaign["listing_id"]).first()
    assert listing == {"status": "closed"}
    assert await balances(market.us.id) == (50, 0)
    assert await balances(market.gb.id) == (50, 0)  # paid anyway after the correction
    assert await balances(market.employer.id) == (5000, 10000 - 110)  # nothing refunded: all done
    await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# Pause, resume, add positions
# --------------------------------------------------------------------------------------


async def test_pause_resume_and_add_positions(client, runtime, market, problem):
    campaign = await live_campaign(client, market, positions=1)
    path = f"/microjobs/campaigns/{campaign['id']}"
    paused = await client.post(f"{path}/pause", headers=market.employer.headers)
    assert paused.json()["state"] == "paused", paused.text
    problem(await take(client, market.us, campaign["id"]), 409, "campaign_not_open")
    resumed = await client.post(f"{path}/resume", headers=market.employer.headers)
    assert resumed.json()["state"] == "active", resumed.text
    assert (await take(client, market.us, campaign["id"])).status_code == 201
    problem(await take(client, market.gb, campaign["id"]), 409, "no_free_position")
    added = await client.post(f"{path}/positions", json={"positions": 3}, headers=market.employer.headers)
    assert added.status_code == 200, added.text
    got = added.json()
    assert (got["positions"], got["taken"], got["free"]) == (4, 1, 3)
    assert got["budget"]["escrow"] == usd("1.65")
    assert await balances(market.employer.id) == (5000, 10000 - 55 - 165)
    assert (await take(client, market.gb, campaign["id"])).status_code == 201
    # only the employer adds positions, never more than the balance pays
    problem(
        await client.post(f"{path}/positions", json={"positions": 1}, headers=market.us.headers),
        404,
        "not_found",
    )
    problem(
        await client.post(f"{path}/positions", json={"positions": 500}, headers=market.employer.headers),
        409,
        "insufficient_funds",
    )
    assert (await campaign_of(client, market, campaign["id"]))["positions"] == 4
    await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# The core's generic routes cannot bypass the plugin
# --------------------------------------------------------------------------------------


async def test_a_campaign_listing_is_not_made_with_post_listings(client, runtime, market, problem):
    body = {
        "kind": "campaign",
        "title": "Free positions",
        "description": "No budget",
        "price": usd("0.50"),
        "category": "follow",
        "attributes": {"instructions": ["Do it"], "proof": []},
    }
    problem(await client.post("/listings", json=body, headers=market.employer.headers), 403, "forbidden")
    assert await Listing.count() == 0


async def test_a_task_proof_is_not_submitted_through_the_orders_route(client, runtime, market, problem):
    campaign = await live_campaign(client, market, positions=1)
    order_id = (await take(client, market.us, campaign["id"])).json()["order_id"]
    refused = await client.post(
        f"/orders/{order_id}/proofs", json={"text": "done", "urls": []}, headers=market.us.headers
    )
    problem(refused, 422, "validation_error")
    assert (await task_of(client, market.us, order_id))["status"] == "taken"
    await books_are_sound(runtime)


async def test_a_campaign_reward_is_not_changed_through_the_listing(client, runtime, market, problem):
    campaign = await live_campaign(client, market, positions=2)
    refused = await client.patch(
        f"/listings/{campaign['listing_id']}", json={"price": usd("5.00")}, headers=market.employer.headers
    )
    problem(refused, 422, "validation_error", fields={"price"})
    got = await campaign_of(client, market, campaign["id"])
    assert got["budget"]["reward"] == usd("0.50")
    assert got["budget"]["escrow"] == usd("1.10")


async def test_closing_the_listing_is_a_stop_with_its_refund(client, runtime, market, problem):
    campaign = await live_campaign(client, market, positions=4)
    await take(client, market.fr, campaign["id"])
    closed = await client.post(f"/listings/{campaign['listing_id']}/close", headers=market.employer.headers)
    assert closed.status_code == 200, closed.text
    got = await campaign_of(client, market, campaign["id"])
    assert (got["state"], got["positions"], got["free"]) == ("stopped", 1, 0)
    assert await balances(market.employer.id) == (5000, 10000 - 220 + 165)
    problem(await take(client, market.us, campaign["id"]), 409, "campaign_not_open")
    await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# agorakit check-ledger
# --------------------------------------------------------------------------------------

AGORAKIT = Path(sys.executable).parent / "agorakit"


async def test_check_ledger_passes_after_a_flow(client, runtime, market, clock, tmp_path):
    campaign = await live_campaign(client, market, positions=3)
    paid = await taken_and_submitted(client, market, campaign["id"], market.us)
    await rate(client, market.employer, paid, True)
    await taken_and_submitted(client, market, campaign["id"], market.gb)
    await take(client, market.fr, campaign["id"])
    await client.post(f"/microjobs/campaigns/{campaign['id']}/stop", headers=market.employer.headers)
    clock.advance(timedelta(days=7))
    await sweep(runtime)  # the FR take expired (to the wallet), the GB proof auto-satisfied
    assert await balances(market.gb.id) == (50, 0)
    await books_are_sound(runtime)
    config = tmp_path / "site.toml"
    config.write_text(
        '[site]\nplugins = ["microjobs", "bank_transfer"]\n'
        f'[database]\nurl = "{runtime.settings.database.url}"\n'
        f'[auth]\njwt_secret = "{"k" * 40}"\n',
        encoding="utf-8",
    )
    process = await asyncio.create_subprocess_exec(
        str(AGORAKIT), "--config", str(config), "check-ledger", stdout=PIPE, stderr=PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, (out + err).decode()
    assert b"ledger ok" in out and b"every plugin's" in out


async def test_hook_agorakit_escrow_checks(client, runtime, market, tmp_path):
    """A campaign's escrow that does not hold its free positions is a problem the
    plugin reports to ``check-ledger`` (``agorakit_escrow_checks``)."""
    campaign = await live_campaign(client, market, positions=3)
    async with runtime.unit_of_work() as uow:  # money leaves the escrow behind the plugin's back
        await ledger.post(
            uow,
            key="test:leak",
            kind="test",
            description="test",
            lines=ledger.move(f"campaign:{campaign['id']}:escrow", ledger.external("test"), 10, "USD"),
        )
    config = tmp_path / "site.toml"
    config.write_text(
        '[site]\nplugins = ["microjobs", "bank_transfer"]\n'
        f'[database]\nurl = "{runtime.settings.database.url}"\n'
        f'[auth]\njwt_secret = "{"k" * 40}"\n',
        encoding="utf-8",
    )
    process = await asyncio.create_subprocess_exec(
        str(AGORAKIT), "--config", str(config), "check-ledger", stdout=PIPE, stderr=PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 1, (out + err).decode()
    line = f"campaign:{campaign['id']}:escrow USD: campaign {campaign['id']} is active with 3 free positions"
    assert line in err.decode()
    assert "must hold 1.65 USD; it holds 1.55 USD" in err.decode()
