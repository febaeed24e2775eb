"""Hired groups: employers group workers (from their workers list or by id); a
``hired_group`` job exists only for the group's members."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from microjobs_helpers import (
    books_are_sound,
    live_campaign,
    market,
    microjobs_config,
    rate,
    submit,
    take,
    taken_and_submitted,
)

from agorakit.events.tables import StoredEvent
from agorakit.plugins.microjobs.events import GroupMemberAdded
from agorakit.plugins.microjobs.tables import GroupMember

__all__ = ["market"]


@pytest.fixture
def site_config(tmp_path):
    return microjobs_config(tmp_path, max_groups=2, max_group_members=2)


async def new_group(client, employer, name: str):
    return await client.post("/microjobs/groups", json={"name": name}, headers=employer.headers)


async def add(client, employer, group_id: int, member_id: int):
    return await client.post(
        f"/microjobs/groups/{group_id}/members", json={"member_id": member_id}, headers=employer.headers
    )


async def test_a_hired_group_job_is_only_for_the_groups_members(client, runtime, market, problem):
    group = await new_group(client, market.employer, "Trusted testers")
    assert group.status_code == 201, group.text
    group_id = group.json()["id"]
    campaign = await live_campaign(client, market, mode="hired_group", group_id=group_id, positions=2)
    # nobody is in the group yet: invisible, 403 to open and to take
    for worker in (market.us, market.gb):
        listed = await client.get("/microjobs/jobs", headers=worker.headers)
        assert listed.json()["items"] == []
        refused = await client.get(f"/microjobs/jobs/{campaign['id']}", headers=worker.headers)
        assert "group" in problem(refused, 403, "not_eligible")["detail"]
        problem(await take(client, worker, campaign["id"]), 403, "not_eligible")
    added = await add(client, market.employer, group_id, market.gb.id)
    assert added.status_code == 201, added.text
    assert added.json()["member_id"] == market.gb.id and added.json()["display_name"]
    # GB is in: sees it, opens it, takes it; US still does not
    listed = (await client.get("/microjobs/jobs", headers=market.gb.headers)).json()["items"]
    assert [job["campaign_id"] for job in listed] == [campaign["id"]]
    assert (
        await client.get(f"/microjobs/jobs/{campaign['id']}", headers=market.gb.headers)
    ).status_code == 200
    taken = await take(client, market.gb, campaign["id"])
    assert taken.status_code == 201, taken.text
    assert (await client.get("/microjobs/jobs", headers=market.us.headers)).json()["items"] == []
    problem(await take(client, market.us, campaign["id"]), 403, "not_eligible")
    await books_are_sound(runtime)


async def test_adding_a_worker_is_recorded_and_the_worker_sees_the_group(client, runtime, market):
    group_id = (await new_group(client, market.employer, "Regulars")).json()["id"]
    assert (await add(client, market.employer, group_id, market.fr.id)).status_code == 201
    [event] = (
        await StoredEvent.select().where(StoredEvent.name == GroupMemberAdded.name).output(load_json=True)
    )
    assert (event["subject"], event["actor_id"]) == (f"group:{group_id}", market.employer.id)
    for key, value in {"group_id": group_id, "group_name": "Regulars", "member_id": market.fr.id}.items():
        assert event["data"][key] == value
    mine = (await client.get("/microjobs/me/groups", headers=market.fr.headers)).json()
    assert [(g["group_id"], g["group_name"], g["employer_id"]) for g in mine["items"]] == [
        (group_id, "Regulars", market.employer.id)
    ]
    assert mine["items"][0]["employer_name"] and mine["next_cursor"] is None
    assert (await client.get("/microjobs/me/groups", headers=market.us.headers)).json()["items"] == []


async def test_groups_are_named_counted_limited_and_private(client, market, problem):
    employer = market.employer
    first = (await new_group(client, employer, "  Trusted   testers ")).json()
    assert first["name"] == "Trusted testers" and first["members"] == 0
    problem(await new_group(client, employer, "Trusted testers"), 409, "group_name_taken")
    problem(await new_group(client, employer, "   "), 422, "validation_error")
    second = (await new_group(client, employer, "Alpha")).json()
    problem(await new_group(client, employer, "Third"), 409, "too_many_groups")  # max_groups = 2
    # another employer may use the same name; they never see these groups
    other = (await new_group(client, market.us, "Alpha")).json()
    assert other["id"] not in (first["id"], second["id"])
    problem(await client.get(f"/microjobs/groups/{first['id']}", headers=market.us.headers), 404, "not_found")
    problem(await add(client, market.us, first["id"], market.fr.id), 404, "not_found")
    # members: unknown member, yourself, twice, too many
    problem(await add(client, employer, first["id"], 999999), 422, "validation_error")
    problem(await add(client, employer, first["id"], employer.id), 422, "validation_error")
    assert (await add(client, employer, first["id"], market.fr.id)).status_code == 201
    problem(await add(client, employer, first["id"], market.fr.id), 409, "already_in_group")
    assert (await add(client, employer, first["id"], market.gb.id)).status_code == 201
    problem(await add(client, employer, first["id"], market.us.id), 409, "group_full")  # max 2
    listed = (await client.get("/microjobs/groups", headers=employer.headers)).json()
    assert [(g["name"], g["members"]) for g in listed] == [("Alpha", 0), ("Trusted testers", 2)]
    members = (await client.get(f"/microjobs/groups/{first['id']}/members", headers=employer.headers)).json()
    assert [m["member_id"] for m in members["items"]] == [market.gb.id, market.fr.id]
    paged = (
        await client.get(
            f"/microjobs/groups/{first['id']}/members", params={"limit": 1}, headers=employer.headers
        )
    ).json()
    assert [m["member_id"] for m in paged["items"]] == [market.gb.id] and paged["next_cursor"]
    rest = (
        await client.get(
            f"/microjobs/groups/{first['id']}/members",
            params={"limit": 1, "cursor": paged["next_cursor"]},
            headers=employer.headers,
        )
    ).json()
    assert [m["member_id"] for m in rest["items"]] == [market.fr.id] and rest["next_cursor"] is None
    # removing
    removed = await client.delete(
        f"/microjobs/groups/{first['id']}/members/{market.fr.id}", headers=employer.headers
    )
    assert removed.status_code == 204, removed.text
    problem(
        await client.delete(
            f"/microjobs/groups/{first['id']}/members/{market.fr.id}", headers=employer.headers
        ),
        404,
        "not_found",
    )
    assert (await add(client, employer, first["id"], market.us.id)).status_code == 201


async def test_a_group_an_open_campaign_uses_is_not_deleted(client, runtime, market, problem):
    employer = market.employer
    group_id = (await new_group(client, employer, "Testers")).json()["id"]
    await add(client, employer, group_id, market.fr.id)
    campaign = await live_campaign(client, market, mode="hired_group", group_id=group_id, positions=1)
    body = problem(
        await client.delete(f"/microjobs/groups/{group_id}", headers=employer.headers), 409, "group_in_use"
    )
    assert f"campaign {campaign['id']}" in body["detail"]
    stopped = await client.post(f"/microjobs/campaigns/{campaign['id']}/stop", headers=employer.headers)
    assert stopped.status_code == 200, stopped.text
    deleted = await client.delete(f"/microjobs/groups/{group_id}", headers=employer.headers)
    assert deleted.status_code == 204, deleted.text
    assert await GroupMember.count() == 0
    problem(await client.delete(f"/microjobs/groups/{group_id}", headers=employer.headers), 404, "not_found")
    assert (await client.get("/microjobs/me/groups", headers=market.fr.headers)).json()["items"] == []
    await books_are_sound(runtime)


async def test_the_workers_list_holds_who_did_your_tasks(client, runtime, market):
    employer = market.employer
    campaign = await live_campaign(client, market, positions=4)
    satisfied = await taken_and_submitted(client, market, campaign["id"], market.fr)
    assert (await rate(client, employer, satisfied, True)).status_code == 200
    await taken_and_submitted(client, market, campaign["id"], market.gb)
    await take(client, market.us, campaign["id"])  # taken, nothing submitted: not in the list
    workers = (await client.get("/microjobs/workers", headers=employer.headers)).json()
    assert [(w["member_id"], w["country"], w["tasks"], w["satisfied"]) for w in workers["items"]] == [
        (market.gb.id, "GB", 1, 0),
        (market.fr.id, "FR", 1, 1),
    ]
    first = (await client.get("/microjobs/workers", params={"limit": 1}, headers=employer.headers)).json()
    assert [w["member_id"] for w in first["items"]] == [market.gb.id]
    rest = (
        await client.get(
            "/microjobs/workers",
            params={"limit": 1, "cursor": first["next_cursor"]},
            headers=employer.headers,
        )
    ).json()
    assert [w["member_id"] for w in rest["items"]] == [market.fr.id] and rest["next_cursor"] is None
    # a worker sees no workers list of their own
    assert (await client.get("/microjobs/workers", headers=market.fr.headers)).json()["items"] == []
    # and the employer groups them straight from it
    group_id = (await new_group(client, employer, "Good ones")).json()["id"]
    assert (await add(client, employer, group_id, workers["items"][1]["member_id"])).status_code == 201


@pytest.mark.postgres_only("concurrency is proven on PostgreSQL")
async def test_concurrent_adds_never_overfill_a_group(client, market, make_member, problem):
    group_id = (await new_group(client, market.employer, "Race")).json()["id"]
    workers = [await make_member(country="GB") for _ in range(6)]
    responses = await asyncio.gather(*(add(client, market.employer, group_id, w.id) for w in workers))
    assert Counter(r.status_code for r in responses) == {201: 2, 409: 4}, [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            problem(response, 409, "group_full")
    assert await GroupMember.count().where(GroupMember.group_id == group_id) == 2


async def test_a_worker_removed_from_the_group_cannot_submit(client, runtime, market, problem):
    """Eligibility holds on every path: submitting too."""
    group = await client.post("/microjobs/groups", json={"name": "Testers"}, headers=market.employer.headers)
    assert group.status_code == 201, group.text
    group_id = group.json()["id"]
    added = await client.post(
        f"/microjobs/groups/{group_id}/members",
        json={"member_id": market.fr.id},
        headers=market.employer.headers,
    )
    assert added.status_code == 201, added.text
    campaign = await live_campaign(client, market, mode="hired_group", group_id=group_id, positions=2)
    taken = await take(client, market.fr, campaign["id"])
    assert taken.status_code == 201, taken.text
    removed = await client.delete(
        f"/microjobs/groups/{group_id}/members/{market.fr.id}", headers=market.employer.headers
    )
    assert removed.status_code in (200, 204), removed.text
    refused = await submit(client, market.fr, taken.json()["order_id"])
    body = problem(refused, 403, "not_eligible")
    assert "invited" in body["detail"]
    assert (
        await client.get(f"/microjobs/tasks/{taken.json()['order_id']}", headers=market.fr.headers)
    ).json()["status"] == "taken"
