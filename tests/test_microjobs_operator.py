"""Operators and microjobs: the campaigns list, pausing and stopping any campaign, a
worker's record, disputed tasks settled in the core's disputes, and the country lock."""

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
    take,
    taken_and_submitted,
)

from agorakit.orders import OrderTransitioned
from agorakit.plugins.microjobs.sync import apply_move

__all__ = ["market"]


@pytest.fixture
def site_config(tmp_path):
    return microjobs_config(tmp_path)


async def campaign_of(client, market, campaign_id: int) -> dict:
    return (await client.get(f"/microjobs/campaigns/{campaign_id}", headers=market.employer.headers)).json()


async def task_of(client, member, order_id: int) -> dict:
    return (await client.get(f"/microjobs/tasks/{order_id}", headers=member.headers)).json()


async def act(
    client, member, campaign_id: int, action: str, reason: str | None = "Reported by several workers"
):
    body = {} if reason is None else {"reason": reason}
    return await client.post(
        f"/operator/microjobs/campaigns/{campaign_id}/{action}", json=body, headers=member.headers
    )


async def test_operators_list_campaigns_with_their_budgets(client, runtime, market, problem):
    waiting = (await create_campaign(client, market.employer, positions=4)).json()
    live = await live_campaign(client, market, positions=2, title="Review our bakery app in the store")
    listed = await client.get("/operator/microjobs/campaigns", headers=market.operator.headers)
    assert listed.status_code == 200, listed.text
    assert [c["id"] for c in listed.json()["items"]] == [live["id"], waiting["id"]]
    pending = (
        await client.get(
            "/operator/microjobs/campaigns?state=pending_review", headers=market.operator.headers
        )
    ).json()["items"]
    assert [(c["id"], c["budget"]["escrow"]) for c in pending] == [
        (waiting["id"], {"amount": "2.20", "currency": "USD"})
    ]
    bad = await client.get("/operator/microjobs/campaigns?state=sleeping", headers=market.operator.headers)
    problem(bad, 422, "validation_error", fields={"state"})
    problem(
        await client.get("/operator/microjobs/campaigns", headers=market.employer.headers), 403, "forbidden"
    )


async def test_operators_pause_resume_and_stop_any_campaign(client, runtime, market, problem):
    campaign = await live_campaign(client, market, positions=5)
    await taken_and_submitted(client, market, campaign["id"], market.us)
    assert await balances(market.employer.id) == (5000, 10000 - 275)

    problem(await act(client, market.us, campaign["id"], "stop"), 403, "forbidden")
    problem(
        await act(client, market.operator, campaign["id"], "pause", reason=" no "), 422, "validation_error"
    )
    problem(await act(client, market.operator, campaign["id"], "pause", reason=None), 422, "validation_error")
    problem(await act(client, market.operator, 999_999, "pause"), 404, "not_found")

    paused = await act(client, market.operator, campaign["id"], "pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["state"] == "paused"
    problem(await take(client, market.gb, campaign["id"]), 409, "campaign_not_open")
    resumed = await act(client, market.operator, campaign["id"], "resume")
    assert resumed.json()["state"] == "active"

    stopped = await act(
        client, market.operator, campaign["id"], "stop", reason="Buying reviews breaks the rules"
    )
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["state"] == "stopped"
    # the 4 free positions x 0.55 go back to the employer's wallet credit, not to earnings
    assert await balances(market.employer.id) == (5000, 10000 - 275 + 220)
    problem(await act(client, market.operator, campaign["id"], "stop"), 409, "campaign_closed")
    await books_are_sound(runtime)

    notices = (await client.get("/notifications?limit=100", headers=market.employer.headers)).json()["items"]
    moved = [n for n in notices if n["template"] == "listing_moved"]
    assert {n["title"].rsplit(" was ", 1)[1] for n in moved} == {
        "paused by our operators",
        "resumed by our operators",
    }
    assert all("Reason: Reported by several workers" in n["body"] for n in moved)


async def test_operators_see_a_workers_rate_and_tasks(client, runtime, market, problem):
    first = await live_campaign(client, market, positions=2)
    second = await live_campaign(client, market, positions=2, title="Review our bakery app in the store")
    done = await taken_and_submitted(client, market, first["id"], market.fr)
    await rate(client, market.employer, done, True)
    waiting = await taken_and_submitted(client, market, second["id"], market.fr)

    got = await client.get(
        f"/operator/microjobs/workers/{market.fr.id}?limit=1", headers=market.operator.headers
    )
    assert got.status_code == 200, got.text
    body = got.json()
    assert (body["member_id"], body["country"]) == (market.fr.id, "FR")
    assert body["stats"]["success_rate"] == "100.0"
    assert (body["stats"]["rated"], body["stats"]["in_progress"]) == (1, 1)
    assert [t["order_id"] for t in body["tasks"]] == [waiting]
    more = await client.get(
        f"/operator/microjobs/workers/{market.fr.id}?limit=1&cursor={body['next_cursor']}",
        headers=market.operator.headers,
    )
    assert [t["order_id"] for t in more.json()["tasks"]] == [done]
    assert more.json()["next_cursor"] is None
    problem(
        await client.get("/operator/microjobs/workers/999999", headers=market.operator.headers),
        404,
        "not_found",
    )
    problem(
        await client.get(f"/operator/microjobs/workers/{market.fr.id}", headers=market.employer.headers),
        403,
        "forbidden",
    )


async def open_unfair_correction_dispute(client, market, campaign_id: int, worker) -> tuple[int, dict]:
    """The worker's proof gets an unfair correction request; the worker disputes it."""
    order_id = await taken_and_submitted(client, market, campaign_id, worker)
    await rate(client, market.employer, order_id, False, reason="We cannot find you among our followers")
    opened = await client.post(
        f"/orders/{order_id}/disputes",
        json={"reason": "unfair_rating", "text": "I follow the page: my profile link shows it."},
        headers=worker.headers,
    )
    assert opened.status_code == 201, opened.text
    return order_id, opened.json()


async def resolve(client, operator, dispute_id: int, outcome: str):
    return await client.post(
        f"/operator/disputes/{dispute_id}/resolve",
        json={"outcome": outcome, "note": "Checked the profile link against the instructions"},
        headers=operator.headers,
    )


async def test_a_disputed_correction_released_pays_the_worker(client, runtime, market):
    campaign = await live_campaign(client, market, positions=2)
    order_id, dispute = await open_unfair_correction_dispute(client, market, campaign["id"], market.gb)
    assert (await task_of(client, market.gb, order_id))["status"] == "disputed"

    # the operator sees the campaign's instructions and proof fields, and the proof
    seen = (await client.get(f"/disputes/{dispute['id']}", headers=market.operator.headers)).json()
    data = seen["evidence"]["order"]["data"]
    assert data["instructions"] == ["Open our page", "Follow it", "Like the pinned post"]
    assert [f["name"] for f in data["proof_fields"]] == ["username", "profile"]
    [proof] = seen["evidence"]["proofs"]
    assert proof["text"] == "Your username: ada_bakes\nLink to your profile: https://social.example/ada"
    assert proof["review_reason"] == "We cannot find you among our followers"

    resolved = await resolve(client, market.operator, dispute["id"], "release")
    assert resolved.status_code == 200, resolved.text
    assert await balances(market.gb.id) == (50, 0)
    assert (await task_of(client, market.gb, order_id))["status"] == "satisfied"
    got = await campaign_of(client, market, campaign["id"])
    assert (got["taken"], got["done"], got["state"]) == (1, 1, "active")
    stats = (await client.get(f"/microjobs/workers/{market.gb.id}/stats", headers=market.gb.headers)).json()
    assert (stats["rated"], stats["satisfied"]) == (1, 1)
    await books_are_sound(runtime)

    # the release delivered again (delivery is at least once) counts nothing twice
    again = OrderTransitioned(
        order_id=order_id,
        process="microjob_task",
        transition="dispute_release",
        from_state="disputed",
        to_state="satisfied",
        actor_role="operator",
    )
    assert await apply_move(runtime, again) is False
    assert (await campaign_of(client, market, campaign["id"]))["done"] == 1


async def test_a_disputed_task_refunded_goes_back_to_the_employer(client, runtime, market):
    campaign = await live_campaign(client, market, positions=1)
    credit_before = (await balances(market.employer.id))[1]
    order_id, dispute = await open_unfair_correction_dispute(client, market, campaign["id"], market.us)
    resolved = await resolve(client, market.operator, dispute["id"], "refund")
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["refunded"] == {"amount": "0.55", "currency": "USD"}
    # the whole position (reward and fee) back to the employer's wallet credit
    assert await balances(market.employer.id) == (5000, credit_before + 55)
    assert await balances(market.us.id) == (0, 0)
    assert (await task_of(client, market.us, order_id))["status"] == "refunded"
    got = await campaign_of(client, market, campaign["id"])
    assert (got["done"], got["state"]) == (1, "finished")  # its only position is done
    stats = (await client.get(f"/microjobs/workers/{market.us.id}/stats", headers=market.us.headers)).json()
    assert (stats["rated"], stats["satisfied"], stats["success_rate"]) == (1, 0, "0.0")
    await books_are_sound(runtime)


async def test_a_country_is_locked_once_a_task_is_taken(client, runtime, market, problem):
    worker = market.fr
    before = await client.patch("/me", json={"country": "DE"}, headers=worker.headers)
    assert before.status_code == 200, before.text
    assert before.json()["country"] == "DE"
    campaign = await live_campaign(client, market, positions=2)
    assert (await take(client, worker, campaign["id"])).status_code == 201
    refused = problem(
        await client.patch("/me", json={"country": "US"}, headers=worker.headers),
        409,
        "profile_change_refused",
    )
    assert "only an operator can change it" in refused["detail"]
    assert (await client.get("/me", headers=worker.headers)).json()["country"] == "DE"
    # other fields still change, and an operator changes the country
    assert (
        await client.patch("/me", json={"display_name": "Zoé"}, headers=worker.headers)
    ).status_code == 200
    by_operator = await client.patch(
        f"/operator/members/{worker.id}", json={"country": "FR"}, headers=market.operator.headers
    )
    assert by_operator.status_code == 200, by_operator.text
    assert (await client.get("/me", headers=worker.headers)).json()["country"] == "FR"
