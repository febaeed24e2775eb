"""The job list and one job: a worker sees only the jobs they may do, filtered, sorted
and paged; a direct request for a job they may not do is a 403 saying why."""

from __future__ import annotations

import pytest
from microjobs_helpers import create_campaign, live_campaign, market, microjobs_config, take, usd

from agorakit import hookimpl

__all__ = ["market"]


@pytest.fixture
def site_config(tmp_path):
    return microjobs_config(tmp_path)


async def jobs(client, worker, **params):
    response = await client.get("/microjobs/jobs", params=params, headers=worker.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def job_ids(client, worker, **params) -> list[int]:
    return [job["campaign_id"] for job in (await jobs(client, worker, **params))["items"]]


async def test_a_worker_from_fr_cannot_see_open_or_take_a_basic_job(client, runtime, market, problem):
    basic = await live_campaign(client, market, mode="basic", positions=3)
    assert await job_ids(client, market.fr) == []
    refused = await client.get(f"/microjobs/jobs/{basic['id']}", headers=market.fr.headers)
    body = problem(refused, 403, "not_eligible")
    assert "US, GB, AU, CA" in body["detail"] and "FR" in body["detail"]
    problem(await take(client, market.fr, basic["id"]), 403, "not_eligible")
    # a US worker sees it, with everything needed to do it
    [job] = (await jobs(client, market.us))["items"]
    assert job["campaign_id"] == basic["id"]
    assert job["free_positions"] == 3 and job["positions"] == 3
    assert job["earns"] == usd("0.50")
    assert job["mode"] == "basic" and job["category"] == "follow"
    assert job["instructions"] == ["Open our page", "Follow it", "Like the pinned post"]
    assert [field["name"] for field in job["proof"]] == ["username", "profile"]
    assert job["employer_id"] == market.employer.id and job["employer_name"]
    assert job["title"] == "Follow our page and like the pinned post"
    assert job["published_at"] is not None and job["my_task_id"] is None
    one = await client.get(f"/microjobs/jobs/{basic['id']}", headers=market.gb.headers)
    assert one.status_code == 200, one.text
    assert one.json() == {**job}


async def test_limited_jobs_follow_the_campaigns_countries(client, market, problem):
    limited = await live_campaign(client, market, mode="limited", countries=["FR", "DE"], positions=2)
    assert await job_ids(client, market.fr) == [limited["id"]]
    assert await job_ids(client, market.us) == []
    refused = problem(
        await client.get(f"/microjobs/jobs/{limited['id']}", headers=market.gb.headers), 403, "not_eligible"
    )
    assert "DE, FR" in refused["detail"]
    problem(await take(client, market.gb, limited["id"]), 403, "not_eligible")


async def test_own_full_taken_and_unpublished_jobs_are_not_listed(client, market, make_member, problem):
    one = await live_campaign(client, market, positions=1)
    two = await live_campaign(client, market, positions=2)
    pending = (await create_campaign(client, market.employer, positions=1)).json()
    assert pending["state"] == "pending_review"
    assert await job_ids(client, market.fr) == [two["id"], one["id"]]
    assert await job_ids(client, market.employer) == []
    problem(
        await client.get(f"/microjobs/jobs/{one['id']}", headers=market.employer.headers), 403, "not_eligible"
    )
    problem(await client.get(f"/microjobs/jobs/{pending['id']}", headers=market.fr.headers), 404, "not_found")
    problem(await client.get("/microjobs/jobs/999999", headers=market.fr.headers), 404, "not_found")
    # the only position of one is taken: nobody else sees it, the taker sees neither it nor
    # its free twin ... unless they ask for theirs too
    taken = await take(client, market.gb, one["id"])
    assert taken.status_code == 201, taken.text
    assert await job_ids(client, market.fr) == [two["id"]]
    assert await job_ids(client, market.gb) == [two["id"]]
    mine = (await jobs(client, market.gb, mine="true"))["items"]
    assert [(j["campaign_id"], j["my_task_id"], j["free_positions"]) for j in mine] == [
        (two["id"], None, 2),
        (one["id"], taken.json()["order_id"], 0),
    ]
    got = await client.get(f"/microjobs/jobs/{one['id']}", headers=market.gb.headers)
    assert got.json()["my_task_id"] == taken.json()["order_id"]
    # a paused job is not listed
    paused = await client.post(f"/microjobs/campaigns/{two['id']}/pause", headers=market.employer.headers)
    assert paused.status_code == 200, paused.text
    assert await job_ids(client, market.fr) == []


async def test_filters_category_country_mode_and_skills(client, market, problem):
    follow = await live_campaign(client, market, positions=1, category="follow")
    social = await live_campaign(client, market, positions=1, category="social", mode="basic")
    testing = await live_campaign(
        client, market, positions=1, category="testing", mode="ptc", url="https://shop.example/", proof=[]
    )
    us = market.us
    assert await job_ids(client, us) == [testing["id"], social["id"], follow["id"]]
    # a category holds its sub-categories
    assert await job_ids(client, us, category="social") == [social["id"], follow["id"]]
    assert await job_ids(client, us, category="follow") == [follow["id"]]
    body = problem(
        await client.get("/microjobs/jobs", params={"category": "cooking"}, headers=us.headers),
        422,
        "validation_error",
    )
    assert {e["field"] for e in body["errors"]} == {"category"}
    assert await job_ids(client, us, mode="ptc") == [testing["id"]]
    assert await job_ids(client, us, mode="limited") == []
    # jobs open to members in FR: not the basic one
    assert await job_ids(client, us, country="FR") == [testing["id"], follow["id"]]
    assert await job_ids(client, us, country="GB") == [testing["id"], social["id"], follow["id"]]
    # skills: none yet, then social (with its sub-category follow)
    assert await job_ids(client, us, skills="true") == []
    put = await client.put("/microjobs/me/skills", json={"categories": ["social"]}, headers=us.headers)
    assert put.status_code == 200, put.text
    assert await job_ids(client, us, skills="true") == [social["id"], follow["id"]]
    assert await job_ids(client, us, skills="true", category="follow") == [follow["id"]]
    assert await job_ids(client, us, skills="true", category="testing") == []


async def test_sorted_newest_or_best_paid_and_paged(client, market, problem):
    rewards = ["0.30", "0.90", "0.50", "0.90", "0.10"]
    made = [(await live_campaign(client, market, positions=1, reward=usd(r)))["id"] for r in rewards]
    newest = list(reversed(made))
    best = [made[3], made[1], made[2], made[0], made[4]]  # 0.90 (newest first), 0.90, 0.50, 0.30, 0.10
    for sort, expected in (("newest", newest), ("best_paid", best)):
        seen, cursor, pages = [], None, 0
        while True:
            params = {"sort": sort, "limit": 2} | ({"cursor": cursor} if cursor else {})
            got = await jobs(client, market.fr, **params)
            seen += [job["campaign_id"] for job in got["items"]]
            pages += 1
            cursor = got["next_cursor"]
            if cursor is None:
                break
        assert (seen, pages) == (expected, 3), sort
    assert await job_ids(client, market.fr) == newest
    earns = [job["earns"]["amount"] for job in (await jobs(client, market.fr, sort="best_paid"))["items"]]
    assert earns == ["0.90", "0.90", "0.50", "0.30", "0.10"]


@pytest.mark.parametrize(
    "params",
    [
        {"mode": "everything"},
        {"sort": "cheapest"},
        {"country": "france"},
        {"limit": 0},
        {"limit": 101},
        {"skills": "maybe"},
        {"cursor": "not-a-cursor"},
        {"category": ""},
    ],
)
async def test_bad_query_values_are_refused(client, market, params):
    response = await client.get("/microjobs/jobs", params=params, headers=market.fr.headers)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_best_paid_cursor_is_not_a_newest_cursor(client, market, problem):
    for _ in range(2):
        await live_campaign(client, market, positions=1)
    got = await jobs(client, market.fr, limit=1)
    refused = await client.get(
        "/microjobs/jobs",
        params={"sort": "best_paid", "cursor": got["next_cursor"]},
        headers=market.fr.headers,
    )
    problem(refused, 422, "validation_error")


async def test_the_job_list_needs_a_signed_in_member(client, market):
    assert (await client.get("/microjobs/jobs")).status_code == 401


class VetoPlugin:
    """Another plugin that keeps member ``vetoed`` away from every campaign."""

    vetoed: int | None = None

    @hookimpl
    def agorakit_can_take(self, listing, member):
        if listing.kind == "campaign" and member.id == self.vetoed:
            return "your account is not verified for paid tasks"
        return None


class TestAnotherPluginsVeto:
    @pytest.fixture
    def extra_plugins(self):
        VetoPlugin.vetoed = None
        return [("veto", VetoPlugin())]

    async def test_a_veto_hides_the_job_and_refuses_it(self, client, market, problem):
        campaign = await live_campaign(client, market, positions=2)
        VetoPlugin.vetoed = market.gb.id
        assert await job_ids(client, market.us) == [campaign["id"]]
        assert await job_ids(client, market.gb) == []
        refused = await client.get(f"/microjobs/jobs/{campaign['id']}", headers=market.gb.headers)
        assert "not verified" in problem(refused, 403, "not_eligible")["detail"]
        problem(await take(client, market.gb, campaign["id"]), 403, "not_eligible")


async def test_skills_are_category_slugs_that_exist(client, market, problem):
    us = market.us
    assert (await client.get("/microjobs/me/skills", headers=us.headers)).json() == {"categories": []}
    bad = await client.put(
        "/microjobs/me/skills",
        json={"categories": ["testing", "cooking", "social", "gardening"]},
        headers=us.headers,
    )
    body = problem(bad, 422, "validation_error")
    assert {e["field"] for e in body["errors"]} == {"categories[1]", "categories[3]"}
    assert (await client.get("/microjobs/me/skills", headers=us.headers)).json() == {"categories": []}
    ok = await client.put(
        "/microjobs/me/skills", json={"categories": ["testing", "follow", "testing"]}, headers=us.headers
    )
    assert ok.json() == {"categories": ["follow", "testing"]}
    again = await client.put("/microjobs/me/skills", json={"categories": ["social"]}, headers=us.headers)
    assert again.json() == {"categories": ["social"]}
    assert (await client.get("/microjobs/me/skills", headers=us.headers)).json() == {"categories": ["social"]}
    malformed = await client.put(
        "/microjobs/me/skills", json={"categories": ["Not A Slug"]}, headers=us.headers
    )
    assert 400 <= malformed.status_code < 500
