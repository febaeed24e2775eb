"""Listings: drafts, review, publication, edits, screening, moderation and eligibility."""

from __future__ import annotations

from datetime import timedelta

import pytest
from catalog_helpers import CatalogTestPlugin, GigAttributes, gig, make_categories, publish

from agorakit import hookimpl
from agorakit.catalog import listings
from agorakit.catalog.errors import NotEligible
from agorakit.catalog.kinds import listing_kinds
from agorakit.catalog.moderation import working_seconds
from agorakit.catalog.screening import ScreenFlag, agorakit_screen_text
from agorakit.catalog.tables import Listing
from agorakit.testing import TEST_EPOCH


class Events:
    def __init__(self) -> None:
        self.names: list[tuple[str, str, dict]] = []

    @hookimpl
    def agorakit_on_event(self, event, runtime):
        self.names.append((event.name, event.subject, event.data))


@pytest.fixture
def kinds_plugin():
    return CatalogTestPlugin()


@pytest.fixture
def events():
    return Events()


@pytest.fixture
def extra_plugins(kinds_plugin, events):
    return [("catalog-test", kinds_plugin), ("catalog-events", events)]


@pytest.fixture
async def people(client, make_member):
    operator, seller, buyer = await make_member(role="operator"), await make_member(), await make_member()
    await make_categories(client, operator)
    return operator, seller, buyer


async def test_hook_agorakit_listing_kinds(client, runtime, people, problem):
    _, seller, _ = people
    kinds = listing_kinds(runtime)
    assert set(kinds) == {"gig", "offer"}
    assert (kinds["gig"].attributes, kinds["gig"].review_required, kinds["offer"].review_required) == (
        GigAttributes,
        True,
        False,
    )
    created = await client.post("/listings", json=gig(), headers=seller.headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["kind"], body["status"], body["price"], body["category"]) == (
        "gig",
        "draft",
        {"amount": "25.00", "currency": "USD"},
        "logo-design",
    )
    assert body["attributes"] == {
        "delivery_days": 3,
        "extras": [{"title": "Express", "price": "10.00", "days": 1}],
        "countries": [],
    }
    assert body["seller"] == {
        "id": seller.id,
        "display_name": seller.member.display_name,
        "country": "US",
        "rating": {"average": None, "count": 0},
    }
    assert body["created_at"].startswith("2026-01-05T09:00:00")
    assert (body["submitted_at"], body["published_at"]) == (None, None)
    # An unknown kind and attributes that break the kind's Struct: all field errors at once.
    response = await client.post(
        "/listings",
        json=gig(kind="lead", title="  "),
        headers=seller.headers,
    )
    problem(response, 422, "validation_error", fields={"kind", "title"})
    response = await client.post(
        "/listings", json=gig(attributes={"delivery_days": 0}), headers=seller.headers
    )
    problem(response, 422, "validation_error", fields={"attributes.delivery_days"})
    response = await client.post(
        "/listings",
        json=gig(attributes={"delivery_days": 2, "extras": [{"title": "x", "price": "cheap"}]}),
        headers=seller.headers,
    )
    problem(response, 422, "validation_error", fields={"attributes.extras[0].price"})
    response = await client.post("/listings", json=gig(attributes={}), headers=seller.headers)
    problem(response, 422, "validation_error", fields={"attributes"})
    assert await Listing.count() == 1


async def test_hook_agorakit_validate_listing(client, people, problem, kinds_plugin):
    _, seller, _ = people
    response = await client.post(
        "/listings",
        json=gig(price={"amount": "4.99", "currency": "USD"}),
        headers=seller.headers,
    )
    body = problem(response, 422, "validation_error", fields={"price.amount"})
    assert "at least 5.00" in body["detail"]
    draft = kinds_plugin.validated[-1]
    assert (draft.id, draft.owner_id, draft.kind, draft.price, draft.currency, draft.category) == (
        None,
        seller.id,
        "gig",
        499,
        "USD",
        "logo-design",
    )
    assert isinstance(draft.attributes, GigAttributes) and draft.attributes.delivery_days == 3
    # Plugin problems and core problems come together.
    response = await client.post(
        "/listings",
        json=gig(price={"amount": "1.00", "currency": "USD"}, description="mail me at bob@example.com"),
        headers=seller.headers,
    )
    problem(response, 422, "validation_error", fields={"price.amount", "description"})
    # Money rules at the edge.
    for price, field in [
        ({"amount": "25.00", "currency": "EUR"}, "price.currency"),
        ({"amount": "-1", "currency": "USD"}, "price.amount"),
        ({"amount": "20000.00", "currency": "USD"}, "price.amount"),
        ({"amount": "1.234", "currency": "USD"}, "price.amount"),
    ]:
        problem(
            await client.post("/listings", json=gig(price=price), headers=seller.headers),
            422,
            "validation_error",
            fields={field},
        )
    problem(
        await client.post("/listings", json=gig(category="nope"), headers=seller.headers),
        422,
        "validation_error",
        fields={"category"},
    )
    assert await Listing.count() == 0
    # Offers have no price floor.
    ok = await client.post(
        "/listings",
        json=gig(kind="offer", attributes={}, price={"amount": "1.00", "currency": "USD"}),
        headers=seller.headers,
    )
    assert ok.status_code == 201


def test_default_screening_finds_emails_phones_and_urls():
    flags = agorakit_screen_text(
        text="Write to bob.smith@example.com or call +1 (555) 123-4567, see https://my.site/x and shop.io",
        context="listing.description",
    )
    assert flags == [
        ScreenFlag("e-mail address", "bob.smith@example.com"),
        ScreenFlag("URL", "https://my.site/x"),
        ScreenFlag("URL", "shop.io"),
        ScreenFlag("phone number", "+1 (555) 123-4567"),
    ]
    clean = "Delivery in 3 days, 2 revisions, 1080p files for $25.50 (version 2.0)"
    assert agorakit_screen_text(text=clean, context="listing.title") == []


async def test_hook_agorakit_screen_text(client, people, problem, kinds_plugin):
    _, seller, _ = people
    response = await client.post(
        "/listings",
        json=gig(title="Logo design, call 555 123 4567", description="Details on www.mylogos.example"),
        headers=seller.headers,
    )
    body = problem(response, 422, "validation_error", fields={"title", "description"})
    assert "phone number ('555 123 4567')" in body["detail"]
    assert "URL ('www.mylogos.example')" in body["detail"]
    # Every plugin sees both texts with their context.
    assert ("listing.title", "Logo design, call 555 123 4567") in kinds_plugin.screened
    assert ("listing.description", "Details on www.mylogos.example") in kinds_plugin.screened
    assert await Listing.count() == 0


@pytest.mark.parametrize("site_config", [{"listings": {"screening": "flag"}}])
async def test_flag_mode_saves_and_shows_flags_to_moderators(client, people, site_config):
    operator, seller, _ = people
    created = await client.post(
        "/listings",
        json=gig(kind="offer", attributes={}, description="Mail me: ann@example.com"),
        headers=seller.headers,
    )
    assert created.status_code == 201, created.text
    listing_id = created.json()["id"]
    # An offer normally publishes at once; a flagged one goes to review.
    submitted = await client.post(f"/listings/{listing_id}/submit", headers=seller.headers)
    assert submitted.json()["status"] == "pending_review"
    queue = (await client.get("/operator/listings/pending", headers=operator.headers)).json()
    assert queue["items"][0]["screening_flags"] == [
        {"field": "description", "reason": "e-mail address", "match": "ann@example.com"}
    ]


async def test_listing_lifecycle_with_review(client, people, problem, clock, events):
    operator, seller, buyer = people
    created = (await client.post("/listings", json=gig(), headers=seller.headers)).json()
    listing_id = created["id"]

    # A draft exists only for its owner (and operators).
    problem(await client.get(f"/listings/{listing_id}"), 404, "not_found")
    problem(await client.get(f"/listings/{listing_id}", headers=buyer.headers), 404, "not_found")
    assert (await client.get(f"/listings/{listing_id}", headers=seller.headers)).json()["status"] == "draft"
    assert (await client.get(f"/listings/{listing_id}", headers=operator.headers)).status_code == 200
    problem(
        await client.get(f"/listings/{listing_id}", headers={"Authorization": "Bearer nonsense"}),
        401,
        "unauthenticated",
    )
    # Wrong-state moves are 409; other members' listings are 404.
    problem(
        await client.post(f"/operator/listings/{listing_id}/approve", headers=operator.headers),
        409,
        "wrong_state",
    )
    problem(await client.post(f"/listings/{listing_id}/pause", headers=seller.headers), 409, "wrong_state")
    problem(await client.post(f"/listings/{listing_id}/submit", headers=buyer.headers), 404, "not_found")
    problem(
        await client.patch(f"/listings/{listing_id}", json={"title": "Mine now"}, headers=buyer.headers),
        404,
        "not_found",
    )

    clock.advance(hours=1)
    submitted = await client.post(f"/listings/{listing_id}/submit", headers=seller.headers)
    assert (submitted.json()["status"], submitted.json()["submitted_at"][:19]) == (
        "pending_review",
        "2026-01-05T10:00:00",
    )
    problem(await client.post(f"/listings/{listing_id}/submit", headers=seller.headers), 409, "wrong_state")
    problem(await client.get(f"/listings/{listing_id}", headers=buyer.headers), 404, "not_found")

    # Only operators moderate.
    problem(await client.get("/operator/listings/pending", headers=seller.headers), 403, "forbidden")
    problem(
        await client.post(f"/operator/listings/{listing_id}/approve", headers=seller.headers),
        403,
        "forbidden",
    )
    problem(
        await client.post(f"/operator/listings/{listing_id}/reject", json={}, headers=operator.headers),
        422,
        "validation_error",
    )
    problem(
        await client.post(
            f"/operator/listings/{listing_id}/reject", json={"reason": "   "}, headers=operator.headers
        ),
        422,
        "validation_error",
        fields={"reason"},
    )
    rejected = await client.post(
        f"/operator/listings/{listing_id}/reject",
        json={"reason": "Show real samples"},
        headers=operator.headers,
    )
    assert (rejected.json()["status"], rejected.json()["rejection_reason"]) == (
        "rejected",
        "Show real samples",
    )
    mine = (await client.get(f"/listings/{listing_id}", headers=seller.headers)).json()
    assert (mine["status"], mine["rejection_reason"]) == ("rejected", "Show real samples")
    problem(await client.get(f"/listings/{listing_id}", headers=buyer.headers), 404, "not_found")

    # The owner fixes it (→ draft), resubmits, an operator approves.
    edited = await client.patch(
        f"/listings/{listing_id}", json={"title": "A better logo"}, headers=seller.headers
    )
    assert (edited.json()["status"], edited.json()["title"]) == ("draft", "A better logo")
    await client.post(f"/listings/{listing_id}/submit", headers=seller.headers)
    clock.advance(hours=2)
    approved = await client.post(f"/operator/listings/{listing_id}/approve", headers=operator.headers)
    assert (approved.json()["status"], approved.json()["rejection_reason"]) == ("published", None)
    assert approved.json()["published_at"][:19] == "2026-01-05T12:00:00"
    public = await client.get(f"/listings/{listing_id}")
    assert public.status_code == 200 and public.json()["title"] == "A better logo"

    # Editing a published listing of a reviewed kind sends it back to review.
    problem(
        await client.patch(
            f"/listings/{listing_id}", json={"attributes": {"delivery_days": 0}}, headers=seller.headers
        ),
        422,
        "validation_error",
        fields={"attributes.delivery_days"},
    )
    edited = await client.patch(
        f"/listings/{listing_id}",
        json={"price": {"amount": "30.00", "currency": "USD"}},
        headers=seller.headers,
    )
    assert (edited.json()["status"], edited.json()["price"]["amount"]) == ("pending_review", "30.00")
    problem(await client.get(f"/listings/{listing_id}"), 404, "not_found")
    await client.post(f"/operator/listings/{listing_id}/approve", headers=operator.headers)

    # Pause, resume, close.
    assert (await client.post(f"/listings/{listing_id}/pause", headers=seller.headers)).json()[
        "status"
    ] == "paused"
    problem(await client.post(f"/listings/{listing_id}/pause", headers=seller.headers), 409, "wrong_state")
    assert (await client.get(f"/listings/{listing_id}")).json()["status"] == "paused"
    assert (await client.post(f"/listings/{listing_id}/resume", headers=seller.headers)).json()[
        "status"
    ] == "published"
    assert (await client.post(f"/listings/{listing_id}/close", headers=seller.headers)).json()[
        "status"
    ] == "closed"
    problem(await client.post(f"/listings/{listing_id}/close", headers=seller.headers), 409, "wrong_state")
    problem(
        await client.patch(f"/listings/{listing_id}", json={"title": "x y z"}, headers=seller.headers),
        409,
        "wrong_state",
    )
    problem(await client.post("/operator/listings/999/approve", headers=operator.headers), 404, "not_found")

    names = [n for n, s, _ in events.names if s == f"listing:{listing_id}"]
    assert names == [
        "listing.created",
        "listing.submitted",
        "listing.rejected",
        "listing.updated",
        "listing.submitted",
        "listing.approved",
        "listing.submitted",
        "listing.updated",
        "listing.approved",
        "listing.paused",
        "listing.resumed",
        "listing.closed",
    ]
    rejected_event = next(d for n, s, d in events.names if n == "listing.rejected")
    assert rejected_event == {"listing_id": listing_id, "owner_id": seller.id, "reason": "Show real samples"}

    own = (await client.get("/me/listings", headers=seller.headers)).json()
    assert [(i["id"], i["status"]) for i in own["items"]] == [(listing_id, "closed")]


async def test_kind_without_review_publishes_on_submit(client, people):
    _, seller, _ = people
    created = (
        await client.post(
            "/listings", json=gig(kind="offer", attributes={"exchange": True}), headers=seller.headers
        )
    ).json()
    submitted = await client.post(f"/listings/{created['id']}/submit", headers=seller.headers)
    assert submitted.json()["status"] == "published"
    edited = await client.patch(
        f"/listings/{created['id']}", json={"title": "Still an offer"}, headers=seller.headers
    )
    assert edited.json()["status"] == "published"  # no review needed for this kind


def test_working_hours_skip_weekends():
    friday_noon = TEST_EPOCH + timedelta(days=4, hours=3)  # 2026-01-09 is a Friday
    assert friday_noon.weekday() == 4
    monday_noon = friday_noon + timedelta(days=3)
    assert working_seconds(friday_noon, monday_noon) == 24 * 3600
    assert working_seconds(friday_noon, friday_noon + timedelta(hours=5)) == 5 * 3600
    assert working_seconds(monday_noon, friday_noon) == 0


async def test_moderation_queue_oldest_first_with_working_hour_age(client, people, clock, site_config):
    operator, seller, _ = people
    clock.set(TEST_EPOCH + timedelta(days=4, hours=3))  # Friday 12:00 UTC
    ids = []
    for title in ("First logo offer", "Second logo offer"):
        created = (await client.post("/listings", json=gig(title=title), headers=seller.headers)).json()
        await client.post(f"/listings/{created['id']}/submit", headers=seller.headers)
        ids.append(created["id"])
        clock.advance(hours=1)
    clock.set(TEST_EPOCH + timedelta(days=7, hours=3, minutes=30))  # Monday 12:30
    queue = (await client.get("/operator/listings/pending", headers=operator.headers)).json()
    assert queue["review_target_hours"] == 24
    assert [(i["listing"]["id"], i["age_working_hours"], i["overdue"]) for i in queue["items"]] == [
        (ids[0], 24.5, True),
        (ids[1], 23.5, False),
    ]
    page = (await client.get("/operator/listings/pending?limit=1", headers=operator.headers)).json()
    assert [i["listing"]["id"] for i in page["items"]] == [ids[0]]
    rest = (
        await client.get(
            f"/operator/listings/pending?limit=1&cursor={page['next_cursor']}", headers=operator.headers
        )
    ).json()
    assert [i["listing"]["id"] for i in rest["items"]] == [ids[1]] and rest["next_cursor"] is None


async def test_hook_agorakit_can_take(client, runtime, people, problem, kinds_plugin):
    operator, seller, buyer = people
    listing = await publish(client, seller, operator)
    uk_only = await publish(client, seller, operator, attributes={"delivery_days": 2, "countries": ["GB"]})

    ok = await client.get(f"/listings/{listing['id']}/eligibility", headers=buyer.headers)
    assert ok.json() == {"eligible": True, "reasons": []}
    own = await client.get(f"/listings/{listing['id']}/eligibility", headers=seller.headers)
    assert own.json() == {"eligible": False, "reasons": ["this is your own listing"]}
    vetoed = await client.get(f"/listings/{uk_only['id']}/eligibility", headers=buyer.headers)
    assert vetoed.json() == {"eligible": False, "reasons": ["this listing is only for members in GB"]}

    out = await listings.get_listing(uk_only["id"])
    with pytest.raises(NotEligible) as info:
        await listings.check_can_take(runtime, out, buyer.member)
    assert info.value.status == 403 and info.value.code == "not_eligible"
    assert info.value.extra["reasons"] == ["this listing is only for members in GB"]
    kinds_plugin.vetoes[buyer.id] = "complete your profile first"
    vetoed = await client.get(f"/listings/{listing['id']}/eligibility", headers=buyer.headers)
    assert vetoed.json() == {"eligible": False, "reasons": ["complete your profile first"]}
    with pytest.raises(NotEligible):
        await listings.check_can_take(runtime, await listings.get_listing(listing["id"]), seller.member)
    del kinds_plugin.vetoes[buyer.id]
    await listings.check_can_take(runtime, await listings.get_listing(listing["id"]), buyer.member)
    # A listing that is not published cannot be taken.
    await client.post(f"/listings/{listing['id']}/pause", headers=seller.headers)
    paused = await client.get(f"/listings/{listing['id']}/eligibility", headers=buyer.headers)
    assert paused.json() == {"eligible": False, "reasons": ["the listing is paused, not published"]}
