"""Matching and the feed: who sees a job (category and its subtree, postal prefixes,
cities, whole countries, active profiles), what they see of it, the category filter,
pages, and the service profile's validation."""

from __future__ import annotations

import pytest
from leads_helpers import (
    books_are_sound,
    leads_config,
    market,
    open_job,
    post_job,
    save_profile,
    unlock,
)

from agorakit.money import ledger
from agorakit.plugins.leads.tables import Unlock

__all__ = ["market"]


@pytest.fixture
def site_config(tmp_path, request):
    return leads_config(tmp_path, **dict(getattr(request, "param", {})))


async def feed_ids(client, member, **params) -> list[int]:
    got = await client.get("/leads/feed", params=params, headers=member.headers)
    assert got.status_code == 200, got.text
    return [j["id"] for j in got.json()["items"]]


async def never_sees(client, problem, member, job: dict, reason: str) -> None:
    """The business does not see the job anywhere and cannot unlock it."""
    assert job["id"] not in await feed_ids(client, member, limit=100)
    body = problem(await client.get(f"/leads/{job['id']}", headers=member.headers), 403, "forbidden")
    assert reason in body["detail"], body
    body = problem(await unlock(client, member, job["id"]), 403, "not_eligible")
    assert reason in body["detail"], body
    assert not await Unlock.exists().where(Unlock.business_id == member.id)


async def sees(client, member, job: dict) -> None:
    assert job["id"] in await feed_ids(client, member, limit=100)
    got = await client.get(f"/leads/{job['id']}", headers=member.headers)
    assert got.status_code == 200, got.text
    assert got.json()["customer_id"] is None


OUT_OF_AREA = "outside your service areas"
NOT_SERVED = "a category your service profile does not serve"


# --------------------------------------------------------------------------------------
# Who sees a job
# --------------------------------------------------------------------------------------


async def test_only_matching_businesses_see_a_job(client, runtime, market, problem):
    job = await open_job(client, market)  # cleaning, US 94110
    for business in market.businesses:
        await sees(client, business, job)
    await sees(client, market.home_pro, job)  # "home" covers cleaning; the whole US
    await never_sees(client, problem, market.plumber, job, NOT_SERVED)
    await never_sees(client, problem, market.new_yorker, job, OUT_OF_AREA)
    await never_sees(client, problem, market.outsider, job, NOT_SERVED)  # no profile at all
    # the customer reads their own job but never sees it in a feed, nor unlocks it
    await save_profile(client, market.customer, ["cleaning"], [{"country": "US"}])
    assert await feed_ids(client, market.customer) == []
    mine = (await client.get(f"/leads/{job['id']}", headers=market.customer.headers)).json()
    assert mine["customer_id"] == market.customer.id
    body = problem(await unlock(client, market.customer, job["id"]), 403, "not_eligible")
    assert body["detail"] == "this is your own job"
    await books_are_sound(runtime)


async def test_postal_prefixes_cities_and_countries(client, runtime, market, make_member, problem):
    by_city = await open_job(client, market, location={"country": "US", "city": "San Francisco"})
    by_code = await open_job(client, market)  # 94110
    in_london = await open_job(client, market, location={"country": "GB", "postal_code": "sw1a 1aa"})
    near = await open_job(client, market, location={"country": "US", "postal_code": "94-107"})
    far = await open_job(client, market, location={"country": "US", "postal_code": "10001"})

    city_pro = await make_member(country="US")
    await save_profile(client, city_pro, ["cleaning"], [{"country": "us", "city": " san  FRANCISCO "}])
    londoner = await make_member(country="GB")
    await save_profile(client, londoner, ["cleaning"], [{"country": "GB", "postal_prefix": "sw1"}])
    narrow = await make_member(country="US")
    await save_profile(client, narrow, ["cleaning"], [{"country": "US", "postal_prefix": "94110"}])

    # a city area sees jobs given by that city only (not by a postal code in it)
    assert await feed_ids(client, city_pro) == [by_city["id"]]
    await never_sees(client, problem, city_pro, by_code, OUT_OF_AREA)
    # a prefix area sees postal codes starting with it (case and spaces ignored), never a city
    assert await feed_ids(client, market.business) == [near["id"], by_code["id"]]
    await never_sees(client, problem, market.business, by_city, OUT_OF_AREA)
    await never_sees(client, problem, market.business, far, OUT_OF_AREA)
    await never_sees(client, problem, market.business, in_london, OUT_OF_AREA)
    assert await feed_ids(client, narrow) == [by_code["id"]]
    await never_sees(client, problem, narrow, near, OUT_OF_AREA)
    assert await feed_ids(client, londoner) == [in_london["id"]]
    await never_sees(client, problem, londoner, by_code, OUT_OF_AREA)
    # a whole-country area sees every job of that country, and no other country's
    assert await feed_ids(client, market.home_pro) == [far["id"], near["id"], by_code["id"], by_city["id"]]
    await never_sees(client, problem, market.home_pro, in_london, OUT_OF_AREA)
    assert await feed_ids(client, market.new_yorker) == [far["id"]]
    # the customer lists the matching businesses of a job the same way
    listed = await client.get(f"/leads/{by_city['id']}/businesses", headers=market.customer.headers)
    assert [b["member_id"] for b in listed.json()["items"]] == [market.home_pro.id, city_pro.id]
    listed = await client.get(f"/leads/{by_code['id']}/businesses", headers=market.customer.headers)
    assert [b["member_id"] for b in listed.json()["items"]] == sorted(
        [*(b.id for b in market.businesses), market.home_pro.id, narrow.id]
    )
    await books_are_sound(runtime)


async def test_a_parent_category_covers_its_subtree_and_the_category_filter(client, runtime, market, problem):
    cleaning = await open_job(client, market)
    plumbing = await open_job(
        client, market, category="plumbing", details={"when": "Within a week"}, title="Leaking tap"
    )
    home = await open_job(client, market, category="home", details={"when": "I'm flexible"}, title="Odd jobs")
    assert plumbing["price"] == {"amount": "20.00", "currency": "USD"}
    assert home["price"] == {"amount": "15.00", "currency": "USD"}
    assert await feed_ids(client, market.home_pro) == [home["id"], plumbing["id"], cleaning["id"]]
    assert await feed_ids(client, market.home_pro, category="plumbing") == [plumbing["id"]]
    assert await feed_ids(client, market.home_pro, category="home") == [
        home["id"],
        plumbing["id"],
        cleaning["id"],
    ]
    assert await feed_ids(client, market.plumber) == [plumbing["id"]]
    # a child category's business does not see the parent's jobs
    await never_sees(client, problem, market.plumber, home, NOT_SERVED)
    await never_sees(client, problem, market.plumber, cleaning, NOT_SERVED)
    # filtering by a category above the ones served keeps the served ones
    assert await feed_ids(client, market.business, category="home") == [cleaning["id"]]
    body = problem(
        await client.get("/leads/feed?category=lessons", headers=market.home_pro.headers), 403, "not_eligible"
    )
    assert "does not serve 'lessons'" in body["detail"]
    problem(
        await client.get("/leads/feed?category=plumbing", headers=market.business.headers),
        403,
        "not_eligible",
    )
    problem(
        await client.get("/leads/feed?category=gardening", headers=market.business.headers),
        422,
        "validation_error",
    )
    await books_are_sound(runtime)


async def test_an_inactive_profile_sees_nothing(client, runtime, market, problem):
    job = await open_job(client, market)
    business = market.businesses[2]
    profile = await save_profile(
        client, business, ["cleaning"], [{"country": "US", "postal_prefix": "941"}], active=False
    )
    assert profile["active"] is False
    await never_sees(client, problem, business, job, NOT_SERVED)
    listed = await client.get(f"/leads/{job['id']}/businesses", headers=market.customer.headers)
    assert business.id not in [b["member_id"] for b in listed.json()["items"]]
    await save_profile(client, business, ["cleaning"], [{"country": "US", "postal_prefix": "941"}])
    await sees(client, business, job)
    assert await ledger.balance_of(ledger.credit(business.id), "USD") == 5000
    await books_are_sound(runtime)


async def test_a_business_job_is_never_in_its_own_feed(client, runtime, market, problem):
    business = market.businesses[0]
    own = await post_job(client, business)
    assert own.status_code == 201, own.text
    await client.post(
        f"/operator/listings/{own.json()['listing_id']}/approve", headers=market.operator.headers
    )
    other = await open_job(client, market)
    assert await feed_ids(client, business) == [other["id"]]
    assert own.json()["id"] in await feed_ids(client, market.businesses[1])
    body = problem(await unlock(client, business, own.json()["id"]), 403, "not_eligible")
    assert body["detail"] == "this is your own job"
    # reading it as its customer shows everything
    got = (await client.get(f"/leads/{own.json()['id']}", headers=business.headers)).json()
    assert got["customer_id"] == business.id
    await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# What a business sees
# --------------------------------------------------------------------------------------


async def test_the_customer_is_hidden_until_the_business_unlocks(client, runtime, market):
    job = await open_job(client, market)
    [item] = (await client.get("/leads/feed", headers=market.business.headers)).json()["items"]
    assert (item["customer_id"], item["unlock"]) == (None, None)
    assert item["text"] == job["text"] and item["details"] == job["details"]
    got = (await client.get(f"/leads/{job['id']}", headers=market.business.headers)).json()
    assert got["customer_id"] is None
    assert (await unlock(client, market.business, job["id"])).status_code == 201
    [item] = (await client.get("/leads/feed", headers=market.business.headers)).json()["items"]
    assert item["customer_id"] == market.customer.id
    assert (item["unlock"]["status"], item["unlocks"]) == ("charged", 1)
    got = (await client.get(f"/leads/{job['id']}", headers=market.business.headers)).json()
    assert (got["customer_id"], got["unlock"]["business_id"]) == (market.customer.id, market.business.id)
    # the other businesses still do not learn who the customer is
    [other] = (await client.get("/leads/feed", headers=market.businesses[1].headers)).json()["items"]
    assert (other["customer_id"], other["unlock"], other["unlocks"]) == (None, None, 1)
    # after the job closes, the business in contact still reads it; the others no longer
    assert (
        await client.post(f"/leads/{job['id']}/close", headers=market.customer.headers)
    ).status_code == 200
    closed = (await client.get(f"/leads/{job['id']}", headers=market.business.headers)).json()
    assert (closed["status"], closed["customer_id"]) == ("closed", market.customer.id)
    gone = await client.get(f"/leads/{job['id']}", headers=market.businesses[1].headers)
    assert gone.status_code == 404, gone.text
    await books_are_sound(runtime)


@pytest.mark.parametrize("site_config", [{"review_required": False}], indirect=True)
async def test_pages_of_the_feed_have_no_duplicates_and_no_gaps(client, runtime, market, clock):
    posted = []
    for n in range(7):
        category = "plumbing" if n % 3 == 0 else "cleaning"
        details = (
            {"when": "I'm flexible"} if category == "plumbing" else {"rooms": n + 1, "when": "I'm flexible"}
        )
        created = await post_job(client, market.customer, category=category, details=details)
        assert created.status_code == 201, created.text
        posted.append(created.json()["id"])
        clock.advance(minutes=5)
    for business, expected in (
        (market.home_pro, list(reversed(posted))),  # several categories merged
        (market.business, [i for n, i in reversed(list(enumerate(posted))) if n % 3 != 0]),
    ):
        seen: list[int] = []
        cursor = None
        pages = 0
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            got = await client.get("/leads/feed", params=params, headers=business.headers)
            assert got.status_code == 200, got.text
            items = [j["id"] for j in got.json()["items"]]
            assert 0 < len(items) <= 2
            seen += items
            pages += 1
            cursor = got.json()["next_cursor"]
            if cursor is None:
                break
        assert seen == expected
        assert pages == (len(expected) + 1) // 2
    # a job that closes between pages does not shift the next page
    first = (await client.get("/leads/feed?limit=2", headers=market.home_pro.headers)).json()
    assert (
        await client.post(f"/leads/{posted[4]}/close", headers=market.customer.headers)
    ).status_code == 200
    second = (
        await client.get(
            f"/leads/feed?limit=2&cursor={first['next_cursor']}", headers=market.home_pro.headers
        )
    ).json()
    assert [j["id"] for j in first["items"]] == [posted[6], posted[5]]
    assert [j["id"] for j in second["items"]] == [posted[3], posted[2]]
    bad = await client.get("/leads/feed?cursor=not-a-cursor", headers=market.home_pro.headers)
    assert bad.status_code in (400, 422), bad.text
    await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# The profile
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "site_config", [{"max_profile_categories": 2, "max_profile_areas": 2}], indirect=True
)
async def test_profile_validation(client, runtime, market, problem):
    member = market.outsider
    problem(await client.get("/leads/profile", headers=member.headers), 404, "not_found")

    async def put(categories, areas, **extra):
        return await client.put(
            "/leads/profile", json={"categories": categories, "areas": areas, **extra}, headers=member.headers
        )

    us = [{"country": "US"}]
    problem(await put([], []), 422, "validation_error", fields={"categories", "areas"})
    problem(await put(["gardening", "cleaning"], us), 422, "validation_error", fields={"categories[0]"})
    problem(await put(["home", "cleaning", "plumbing"], us), 422, "validation_error", fields={"categories"})
    problem(
        await put(["cleaning"], [{"country": "US"}, {"country": "GB"}, {"country": "CA"}]),
        422,
        "validation_error",
        fields={"areas"},
    )
    problem(
        await put(["cleaning"], [{"country": "US", "postal_prefix": "941", "city": "San Francisco"}]),
        422,
        "validation_error",
        fields={"areas[0]"},
    )
    problem(
        await put(["cleaning"], [{"country": "US"}, {"country": "US", "postal_prefix": "9#1"}]),
        422,
        "validation_error",
        fields={"areas[1].postal_prefix"},
    )
    problem(
        await put(["cleaning"], [{"country": "US", "city": "\x01\x02"}]),
        422,
        "validation_error",
        fields={"areas[0].city"},
    )
    for body in (
        {"categories": ["cleaning"], "areas": [{"country": "USA"}]},
        {"categories": ["Cleaning!"], "areas": us},
        {"categories": ["cleaning"], "areas": us, "rating": 5},
        {"categories": ["cleaning"]},
    ):
        response = await client.put("/leads/profile", json=body, headers=member.headers)
        assert response.status_code in (400, 422), response.text
    problem(await client.get("/leads/profile", headers=member.headers), 404, "not_found")
    # a good one, with duplicates folded and the prices of its categories
    saved = await put(
        ["cleaning", "cleaning", "plumbing"],
        [{"country": "us", "postal_prefix": "941 0"}, {"country": "US", "postal_prefix": "9410"}],
        headline="  Spotless homes  ",
    )
    assert saved.status_code == 200, saved.text
    out = saved.json()
    assert out["categories"] == ["cleaning", "plumbing"]
    assert out["areas"] == [{"country": "US", "postal_prefix": "9410", "city": None}]
    assert out["headline"] == "Spotless homes"
    assert out["prices"] == [
        {"category": "cleaning", "price": {"amount": "12.00", "currency": "USD"}},
        {"category": "plumbing", "price": {"amount": "20.00", "currency": "USD"}},
    ]
    assert (await client.get("/leads/profile", headers=member.headers)).json() == out
    # a bad save leaves the saved profile as it was
    problem(await put([], us), 422, "validation_error")
    assert (await client.get("/leads/profile", headers=member.headers)).json() == out
    await books_are_sound(runtime)
