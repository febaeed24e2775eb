"""Customers' jobs: posting (every bad input a 422 that writes nothing), screening, the
review queue, the generic listing routes, editing, closing and expiring."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from leads_helpers import approve, books_are_sound, job_body, leads_config, market, open_job, post_job

from agorakit.catalog.tables import Listing
from agorakit.plugins.leads.tables import Lead
from agorakit.testing import TEST_EPOCH
from agorakit.worker import sweep

__all__ = ["market"]


@pytest.fixture
def site_config(tmp_path, request):
    settings = dict(getattr(request, "param", {}))
    listings = settings.pop("listings", None)
    config = leads_config(tmp_path, **settings)
    if listings is not None:
        config["listings"] = listings
    return config


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def nothing_written() -> None:
    assert await Lead.count() == 0
    assert await Listing.count() == 0


async def get_lead(client, member, lead_id: int):
    return await client.get(f"/leads/{lead_id}", headers=member.headers)


async def pending_leads(client, operator) -> list[dict]:
    got = await client.get("/operator/listings/pending?kind=lead", headers=operator.headers)
    assert got.status_code == 200, got.text
    return got.json()["items"]


# --------------------------------------------------------------------------------------
# Posting: bad input
# --------------------------------------------------------------------------------------


async def test_every_bad_input_is_a_422_with_its_fields_and_writes_nothing(client, runtime, market, problem):
    customer = market.customer
    cases = [
        ({"category": "gardening"}, {"category"}),
        ({"category": "Not A Slug"}, None),
        ({"location": {"country": "US", "postal_code": "94110", "city": "San Francisco"}}, {"location"}),
        ({"location": {"country": "US"}}, {"location"}),
        ({"location": {"country": "US", "postal_code": "941#10"}}, {"location.postal_code"}),
        ({"location": {"country": "USA", "postal_code": "94110"}}, None),
        ({"location": {"country": "US", "city": "\x07"}}, {"location.city"}),
        ({"details": {"rooms": 3, "when": "Within a week", "pets": "a cat"}}, {"details.pets"}),
        ({"details": {"when": "Within a week"}}, {"details.rooms"}),
        ({"details": {"rooms": "three", "when": "Within a week"}}, {"details.rooms"}),
        ({"details": {"rooms": 3.5, "when": "Within a week"}}, {"details.rooms"}),
        ({"details": {"rooms": 0, "when": "Within a week"}}, {"details.rooms"}),
        ({"details": {"rooms": 21, "when": "Within a week"}}, {"details.rooms"}),
        ({"details": {"rooms": 3, "when": "Tomorrow"}}, {"details.when"}),
        ({"details": {"rooms": 3, "when": "Within a week", "notes": "x" * 501}}, {"details.notes"}),
        ({"text": "Too short a text"}, {"text"}),
        ({"text": "  " + "a" * 19 + "        "}, {"text"}),
        ({"text": "a" * 5001}, {"text"}),
    ]
    for changes, fields in cases:
        response = await post_job(client, customer, **changes)
        if fields is None:  # the body's own shape (msgspec)
            assert response.status_code in (400, 422), (changes, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
        else:
            problem(response, 422, "validation_error", fields=fields)
    # every problem at once
    body = problem(
        await post_job(
            client,
            customer,
            category="cleaning",
            location={"country": "US"},
            details={"rooms": 99, "when": "Never", "extra": 1},
            text="short",
        ),
        422,
        "validation_error",
    )
    assert {e["field"] for e in body["errors"]} == {
        "location",
        "details.rooms",
        "details.when",
        "details.extra",
        "text",
    }
    # a field left out of the body entirely, and a body that is no job at all
    missing = {k: v for k, v in job_body().items() if k != "details"}
    response = await client.post("/leads", json=missing, headers=customer.headers)
    assert response.status_code in (400, 422), response.text
    response = await client.post("/leads", json={**job_body(), "price": 1}, headers=customer.headers)
    assert response.status_code in (400, 422), response.text
    # signed-out visitors may not post
    problem(await client.post("/leads", json=job_body()), 401, "unauthenticated")
    await nothing_written()
    await books_are_sound(runtime)


async def test_the_form_and_the_price_of_a_category(client, market, problem):
    form = await client.get("/leads/forms/cleaning", headers=market.customer.headers)
    assert form.status_code == 200, form.text
    assert [f["name"] for f in form.json()["fields"]] == ["rooms", "when", "notes"]
    assert form.json()["lead_price"] == {"amount": "12.00", "currency": "USD"}
    # a category without its own form takes the default one and the default price
    home = (await client.get("/leads/forms/home", headers=market.customer.headers)).json()
    assert [f["name"] for f in home["fields"]] == ["when"]
    assert home["lead_price"] == {"amount": "15.00", "currency": "USD"}
    problem(
        await client.get("/leads/forms/gardening", headers=market.customer.headers), 422, "validation_error"
    )


async def test_a_posted_job_keeps_the_cleaned_place_and_details(client, runtime, market):
    created = await post_job(
        client,
        market.customer,
        location={"country": "us", "postal_code": " 941-10 "},
        details={"rooms": 2, "when": "I'm flexible", "notes": "Two cats live here"},
        text="   We need the windows and floors done before the new tenants arrive.   ",
    )
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["location"] == {"country": "US", "postal_code": "94110", "city": None}
    assert job["details"] == {"rooms": 2, "when": "I'm flexible", "notes": "Two cats live here"}
    assert job["text"] == "We need the windows and floors done before the new tenants arrive."
    assert (job["status"], job["customer_id"], job["unlocks"], job["max_unlocks"]) == (
        "pending_review",
        market.customer.id,
        0,
        5,
    )
    assert job["price"] == {"amount": "12.00", "currency": "USD"}
    assert job["title"] == "House cleaning in 94110, US"
    by_city = await post_job(
        client, market.customer, location={"country": "US", "city": "  San   Francisco "}
    )
    assert by_city.status_code == 201, by_city.text
    assert by_city.json()["location"] == {"country": "US", "postal_code": None, "city": "san francisco"}
    assert by_city.json()["title"] == "House cleaning in San Francisco, US"
    mine = (await client.get("/leads/mine", headers=market.customer.headers)).json()["items"]
    assert [j["id"] for j in mine] == [by_city.json()["id"], job["id"]]
    await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# Screening
# --------------------------------------------------------------------------------------


async def test_contact_details_in_the_text_or_a_text_detail_are_refused(client, runtime, market, problem):
    customer = market.customer
    body = problem(
        await post_job(client, customer, text="Please mail me at ann@example.com to arrange a visit."),
        422,
        "validation_error",
        fields={"text"},
    )
    assert "e-mail address ('ann@example.com')" in body["detail"]
    problem(
        await post_job(client, customer, text="Call me on +1 415 555 0199 to arrange the cleaning."),
        422,
        "validation_error",
        fields={"text"},
    )
    problem(
        await post_job(client, customer, text="Photos of the flat are on https://my.photos.example/flat"),
        422,
        "validation_error",
        fields={"text"},
    )
    problem(
        await post_job(
            client, customer, details={"rooms": 2, "when": "I'm flexible", "notes": "text 415 555 0199"}
        ),
        422,
        "validation_error",
        fields={"details.notes"},
    )
    problem(
        await post_job(client, customer, title="Cleaning, see www.flat.example"),
        422,
        "validation_error",
        fields={"title"},
    )
    await nothing_written()


@pytest.mark.parametrize("site_config", [{"listings": {"banned_words": ["crypto mining"]}}], indirect=True)
async def test_a_banned_word_is_refused(client, runtime, market, problem):
    body = problem(
        await post_job(client, market.customer, text="Clean the room where our CRYPTO  mining rigs stand."),
        422,
        "validation_error",
        fields={"text"},
    )
    assert "banned word" in body["detail"]
    await nothing_written()


@pytest.mark.parametrize(
    "site_config", [{"review_required": False, "listings": {"screening": "flag"}}], indirect=True
)
async def test_flag_mode_sends_a_job_with_contact_details_to_review_with_its_flags(client, runtime, market):
    created = await post_job(client, market.customer, text="Please mail me at ann@example.com to arrange it.")
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "pending_review"
    [item] = await pending_leads(client, market.operator)
    assert item["listing"]["id"] == created.json()["listing_id"]
    assert {f["reason"] for f in item["screening_flags"]} == {"e-mail address"}
    assert {f["match"] for f in item["screening_flags"]} == {"ann@example.com"}
    # a clean one opens at once (no review on this site)
    clean = await post_job(client, market.customer)
    assert clean.json()["status"] == "open"
    feed = (await client.get("/leads/feed", headers=market.business.headers)).json()["items"]
    assert [j["id"] for j in feed] == [clean.json()["id"]]


@pytest.mark.parametrize("site_config", [{"review_required": False}], indirect=True)
async def test_without_review_a_job_opens_at_once(client, runtime, market, clock):
    created = await post_job(client, market.customer)
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["status"] == "open"
    assert at(job["opened_at"]) == TEST_EPOCH
    assert at(job["expires_at"]) == TEST_EPOCH + timedelta(days=30)
    assert await pending_leads(client, market.operator) == []
    feed = (await client.get("/leads/feed", headers=market.business.headers)).json()["items"]
    assert [j["id"] for j in feed] == [job["id"]]


# --------------------------------------------------------------------------------------
# Review
# --------------------------------------------------------------------------------------


async def test_the_review_queue_shows_jobs_with_their_age_and_approval_opens_them(
    client, runtime, market, clock, problem
):
    first = (await post_job(client, market.customer)).json()
    clock.advance(hours=1)
    second = (
        await post_job(client, market.customer, location={"country": "US", "postal_code": "10001"})
    ).json()
    # businesses see nothing yet; the customer sees both pending
    assert (await client.get("/leads/feed", headers=market.business.headers)).json()["items"] == []
    problem(await get_lead(client, market.business, first["id"]), 404, "not_found")
    problem(
        await client.post(f"/leads/{first['id']}/unlock", headers=market.business.headers),
        404,
        "not_found",
    )
    clock.advance(hours=23, minutes=30)  # Tuesday 09:30: 24.5 and 23.5 working hours
    queue = await pending_leads(client, market.operator)
    assert [(i["listing"]["id"], i["age_working_hours"], i["overdue"]) for i in queue] == [
        (first["listing_id"], 24.5, True),
        (second["listing_id"], 23.5, False),
    ]
    # only operators read the queue; other kinds' queues leave the jobs out
    problem(
        await client.get("/operator/listings/pending?kind=lead", headers=market.customer.headers),
        403,
        "forbidden",
    )
    approved_at = clock.now()
    await approve(client, market.operator, first["listing_id"])
    job = (await get_lead(client, market.customer, first["id"])).json()
    assert job["status"] == "open"
    assert at(job["opened_at"]) == approved_at
    assert at(job["expires_at"]) == approved_at + timedelta(days=30)
    assert [i["listing"]["id"] for i in await pending_leads(client, market.operator)] == [
        second["listing_id"]
    ]
    feed = (await client.get("/leads/feed", headers=market.business.headers)).json()["items"]
    assert [j["id"] for j in feed] == [first["id"]]
    # the generic listing shows it open (published) to the customer and operators
    listing = await client.get(f"/listings/{first['listing_id']}", headers=market.customer.headers)
    assert listing.json()["status"] == "published"
    await books_are_sound(runtime)


async def test_a_rejected_job_shows_its_reason_to_the_customer(client, runtime, market, problem):
    job = (await post_job(client, market.customer)).json()
    rejected = await client.post(
        f"/operator/listings/{job['listing_id']}/reject",
        json={"reason": "Please describe the flat, not your neighbours"},
        headers=market.operator.headers,
    )
    assert rejected.status_code == 200, rejected.text
    got = (await get_lead(client, market.customer, job["id"])).json()
    assert (got["status"], got["reason"]) == ("rejected", "Please describe the flat, not your neighbours")
    assert (await client.get("/leads/mine?status=rejected", headers=market.customer.headers)).json()["items"][
        0
    ]["id"] == job["id"]
    assert (await client.get("/leads/feed", headers=market.business.headers)).json()["items"] == []
    problem(await get_lead(client, market.business, job["id"]), 404, "not_found")
    # edited, it goes back to review
    edited = await client.put(
        f"/leads/{job['id']}",
        json={"text": "A three-room flat: kitchen, bathroom and two bedrooms to clean."},
        headers=market.customer.headers,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["status"] == "pending_review"
    assert [i["listing"]["id"] for i in await pending_leads(client, market.operator)] == [job["listing_id"]]
    await approve(client, market.operator, job["listing_id"])
    assert (await get_lead(client, market.customer, job["id"])).json()["status"] == "open"


# --------------------------------------------------------------------------------------
# The generic listing routes
# --------------------------------------------------------------------------------------


async def test_the_generic_listing_routes_point_at_the_job_routes(client, runtime, market, problem):
    pending = (await post_job(client, market.customer)).json()
    job = await open_job(client, market)
    for lead in (pending, job):
        listing_id = lead["listing_id"]
        body = problem(
            await client.patch(
                f"/listings/{listing_id}", json={"title": "A new title here"}, headers=market.customer.headers
            ),
            409,
            "conflict",
        )
        assert f"PUT /leads/{lead['id']}" in body["detail"]
    for action in ("pause", "close"):
        body = problem(
            await client.post(f"/listings/{job['listing_id']}/{action}", headers=market.customer.headers),
            409,
            "conflict",
        )
        assert f"POST /leads/{job['id']}/close" in body["detail"]
    listing = await client.get(f"/listings/{job['listing_id']}", headers=market.customer.headers)
    assert (listing.json()["status"], listing.json()["title"]) == ("published", job["title"])
    pending_listing = await client.get(f"/listings/{pending['listing_id']}", headers=market.customer.headers)
    assert (pending_listing.json()["status"], pending_listing.json()["title"]) == (
        "pending_review",
        pending["title"],
    )
    # nor is a job posted through the generic listing routes
    body = problem(
        await client.post(
            "/listings",
            json={
                "kind": "lead",
                "title": "A job of my own",
                "description": "Posted around the job routes, with no lead behind it.",
                "category": "cleaning",
                "price": {"amount": "12.00", "currency": "USD"},
                "attributes": {"country": "US", "postal_code": "94110"},
            },
            headers=market.customer.headers,
        ),
        409,
        "conflict",
    )
    assert body["detail"] == "jobs are posted with POST /leads"
    assert await Listing.count() == 2
    assert (await get_lead(client, market.customer, job["id"])).json()["status"] == "open"
    # who sees the lead's listing: its customer and operators; a business never (it uses /leads)
    assert (
        await client.get(f"/listings/{job['listing_id']}", headers=market.operator.headers)
    ).status_code == 200
    problem(
        await client.get(f"/listings/{job['listing_id']}", headers=market.business.headers),
        403,
        "not_eligible",
    )
    problem(
        await client.get(f"/listings/{job['listing_id']}", headers=market.outsider.headers),
        403,
        "not_eligible",
    )
    problem(await client.get(f"/listings/{job['listing_id']}"), 401, "unauthenticated")
    # and it is in no public search
    found = (await client.get("/listings?kind=lead")).json()
    assert found["items"] == []
    await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# Editing, closing, expiring
# --------------------------------------------------------------------------------------


async def test_an_edit_is_screened_again_and_goes_back_to_review(client, runtime, market, problem):
    job = await open_job(client, market)
    path = f"/leads/{job['id']}"
    problem(
        await client.put(
            path,
            json={"text": "Reach me at ann@example.com instead, please."},
            headers=market.customer.headers,
        ),
        422,
        "validation_error",
        fields={"text"},
    )
    problem(
        await client.put(path, json={"details": {"rooms": 30}}, headers=market.customer.headers),
        422,
        "validation_error",
        fields={"details.rooms", "details.when"},
    )
    problem(
        await client.put(path, json={"location": {"country": "US"}}, headers=market.customer.headers),
        422,
        "validation_error",
        fields={"location"},
    )
    unchanged = (await get_lead(client, market.customer, job["id"])).json()
    assert (unchanged["status"], unchanged["text"], unchanged["details"]) == (
        "open",
        job["text"],
        job["details"],
    )
    # others may not edit it
    for other in (market.business, market.operator):
        problem(await client.put(path, json={"title": "Mine now"}, headers=other.headers), 404, "not_found")
    edited = await client.put(
        path,
        json={
            "details": {"rooms": 4, "when": "As soon as possible"},
            "location": {"country": "US", "postal_code": "94107"},
        },
        headers=market.customer.headers,
    )
    assert edited.status_code == 200, edited.text
    out = edited.json()
    assert out["status"] == "pending_review"
    assert out["details"] == {"rooms": 4, "when": "As soon as possible"}
    assert out["location"]["postal_code"] == "94107"
    assert out["expires_at"] == job["expires_at"]
    assert (await client.get("/leads/feed", headers=market.business.headers)).json()["items"] == []
    await approve(client, market.operator, job["listing_id"])
    again = (await get_lead(client, market.customer, job["id"])).json()
    assert (again["status"], again["expires_at"], again["opened_at"]) == (
        "open",
        job["expires_at"],
        job["opened_at"],
    )
    feed = (await client.get("/leads/feed", headers=market.business.headers)).json()["items"]
    assert [(j["id"], j["details"]["rooms"]) for j in feed] == [(job["id"], 4)]
    await books_are_sound(runtime)


async def test_closing_a_job(client, runtime, market, problem):
    job = await open_job(client, market)
    other = await open_job(client, market)
    path = f"/leads/{job['id']}/close"
    for stranger in (market.business, market.outsider):
        problem(await client.post(path, headers=stranger.headers), 404, "not_found")
    problem(await client.post("/leads/999999/close", headers=market.customer.headers), 404, "not_found")
    closed = await client.post(
        path, json={"reason": "  Hired my neighbour  "}, headers=market.customer.headers
    )
    assert closed.status_code == 200, closed.text
    assert (closed.json()["status"], closed.json()["reason"]) == ("closed", "Hired my neighbour")
    assert closed.json()["closed_at"] is not None
    body = problem(await client.post(path, headers=market.customer.headers), 409, "conflict")
    assert body["detail"] == f"job {job['id']} is already closed"
    problem(
        await client.put(
            f"/leads/{job['id']}", json={"title": "Again please"}, headers=market.customer.headers
        ),
        409,
        "conflict",
    )
    listing = await client.get(f"/listings/{job['listing_id']}", headers=market.customer.headers)
    assert listing.json()["status"] == "closed"
    feed = (await client.get("/leads/feed", headers=market.business.headers)).json()["items"]
    assert [j["id"] for j in feed] == [other["id"]]
    body = problem(
        await client.post(f"/leads/{job['id']}/unlock", headers=market.business.headers), 409, "lead_not_open"
    )
    assert body["detail"] == f"job {job['id']} is closed; only open jobs can be unlocked"
    # an operator closes a job too (no body needed)
    by_operator = await client.post(f"/leads/{other['id']}/close", headers=market.operator.headers)
    assert (by_operator.status_code, by_operator.json()["status"], by_operator.json()["reason"]) == (
        200,
        "closed",
        None,
    )
    assert (await client.get("/leads/feed", headers=market.business.headers)).json()["items"] == []
    await books_are_sound(runtime)


@pytest.mark.parametrize("site_config", [{"lead_days": 3}], indirect=True)
async def test_the_worker_expires_open_jobs_after_lead_days(client, runtime, market, clock, problem):
    job = await open_job(client, market)
    clock.advance(hours=1)
    later = await open_job(client, market)
    pending = (await post_job(client, market.customer)).json()
    clock.advance(days=3, hours=-1, minutes=-1)
    assert (await sweep(runtime)).plugins.get("leads_expired", 0) == 0
    clock.advance(minutes=1)  # the first one's expires_at, exactly
    assert (await sweep(runtime)).plugins == {"leads_expired": 1}
    got = (await get_lead(client, market.customer, job["id"])).json()
    assert (got["status"], got["reason"]) == ("expired", None)
    assert (await get_lead(client, market.customer, later["id"])).json()["status"] == "open"
    assert (await get_lead(client, market.customer, pending["id"])).json()["status"] == "pending_review"
    assert [
        j["id"] for j in (await client.get("/leads/feed", headers=market.business.headers)).json()["items"]
    ] == [later["id"]]
    listing = await client.get(f"/listings/{job['listing_id']}", headers=market.customer.headers)
    assert listing.json()["status"] == "closed"
    problem(await client.post(f"/leads/{job['id']}/close", headers=market.customer.headers), 409, "conflict")
    clock.advance(hours=1)
    assert (await sweep(runtime)).plugins == {"leads_expired": 1}
    assert (await sweep(runtime)).plugins == {}
    assert (await get_lead(client, market.customer, later["id"])).json()["status"] == "expired"
    await books_are_sound(runtime)
