"""Review targets per listing kind and the review queue by kind; ``update_listing`` as
plugins call it; ``agorakit.db.for_update`` under concurrent transactions."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from catalog_helpers import CatalogTestPlugin, GigAttributes, gig, make_categories, publish

from agorakit import hookimpl
from agorakit.catalog import ListingKind, UpdateListing, update_listing
from agorakit.catalog.tables import Listing
from agorakit.db import for_update
from agorakit.errors import NotFound, ValidationFailed


class QuickKind:
    """A reviewed kind with its own target of 2 working hours."""

    @hookimpl
    def agorakit_listing_kinds(self):
        return [
            ListingKind(name="quick", attributes=GigAttributes, review_required=True, review_target_hours=2)
        ]


@pytest.fixture
def site_config():
    return {"listings": {"review_target_hours": 24, "banned_words": ["casino"]}}


@pytest.fixture
def extra_plugins():
    return [("catalog-test", CatalogTestPlugin()), ("quick-kind", QuickKind())]


@pytest.fixture
async def people(client, make_member):
    operator, seller = await make_member(role="operator"), await make_member()
    await make_categories(client, operator)
    return operator, seller


async def submitted(client, seller, **changes) -> int:
    created = await client.post("/listings", json=gig(**changes), headers=seller.headers)
    assert created.status_code == 201, created.text
    listing_id = created.json()["id"]
    sent = await client.post(f"/listings/{listing_id}/submit", headers=seller.headers)
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "pending_review"
    return listing_id


async def queue(client, operator, query: str = "") -> dict:
    response = await client.get(f"/operator/listings/pending{query}", headers=operator.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_each_kind_is_overdue_past_its_own_target(client, people, clock):
    operator, seller = people
    a_gig = await submitted(client, seller)
    a_quick = await submitted(client, seller, kind="quick")
    clock.advance(timedelta(hours=3))  # Monday 09:00 → 12:00: three working hours
    page = await queue(client, operator)
    assert page["review_target_hours"] == 24  # the site's
    overdue = {item["listing"]["id"]: (item["overdue"], item["age_working_hours"]) for item in page["items"]}
    assert overdue == {a_gig: (False, 3.0), a_quick: (True, 3.0)}


async def test_the_queue_filters_by_kind(client, people, problem):
    operator, seller = people
    first_gig = await submitted(client, seller)
    quick = await submitted(client, seller, kind="quick")
    second_gig = await submitted(client, seller, title="I will draw a mascot")
    assert [i["listing"]["id"] for i in (await queue(client, operator))["items"]] == [
        first_gig,
        quick,
        second_gig,
    ]
    assert [i["listing"]["id"] for i in (await queue(client, operator, "?kind=gig"))["items"]] == [
        first_gig,
        second_gig,
    ]
    assert [i["listing"]["id"] for i in (await queue(client, operator, "?kind=quick"))["items"]] == [quick]
    assert (await queue(client, operator, "?kind=offer"))["items"] == []  # a known kind, none waiting
    paged = await queue(client, operator, "?kind=gig&limit=1")
    assert [i["listing"]["id"] for i in paged["items"]] == [first_gig]
    rest = await queue(client, operator, f"?kind=gig&limit=1&cursor={paged['next_cursor']}")
    assert [i["listing"]["id"] for i in rest["items"]] == [second_gig]

    unknown = await client.get("/operator/listings/pending?kind=lead", headers=operator.headers)
    body = problem(unknown, 422, "validation_error", fields={"kind"})
    assert body["errors"][0]["message"] == "unknown listing kind 'lead'; the kinds are gig, offer, quick"
    member = await client.get("/operator/listings/pending?kind=gig", headers=seller.headers)
    assert member.status_code == 403, member.text


async def test_update_listing_edits_as_the_owner_and_joins_the_callers_transaction(client, runtime, people):
    operator, seller = people
    listing = await publish(client, seller, operator)
    edited = await update_listing(
        runtime, listing["id"], UpdateListing(title="A new title"), owner=seller.member
    )
    assert (edited.title, edited.status) == ("A new title", "pending_review")  # a reviewed kind goes back

    with pytest.raises(ValidationFailed) as caught:
        await update_listing(runtime, listing["id"], UpdateListing(title="Casino logos"), owner=seller.member)
    assert [e.field for e in caught.value.errors] == ["title"]

    with pytest.raises(RuntimeError):
        async with runtime.unit_of_work():
            await update_listing(
                runtime,
                listing["id"],
                UpdateListing(description="Rolled back with its caller."),
                owner=seller.member,
            )
            raise RuntimeError("the caller fails after the edit")
    got = await client.get(f"/listings/{listing['id']}", headers=seller.headers)
    assert (got.json()["title"], got.json()["description"]) == ("A new title", gig()["description"])

    with pytest.raises(NotFound):  # only its owner edits it
        await update_listing(runtime, listing["id"], UpdateListing(title="Not mine"), owner=operator.member)


async def test_for_update_leaves_sqlite_queries_alone(runtime, database_url):
    query = Listing.select().where(Listing.id == 1)
    if database_url.startswith("sqlite"):
        assert for_update(query) is query
    else:
        assert "FOR UPDATE" in str(for_update(Listing.select().where(Listing.id == 1)))


@pytest.mark.postgres_only(reason="row locks are PostgreSQL's; SQLite has a single writer")
async def test_for_update_serialises_concurrent_read_modify_writes(client, runtime, people):
    operator, seller = people
    listing = await publish(client, seller, operator)
    start = (await Listing.select(Listing.price).where(Listing.id == listing["id"]).first())["price"]
    ready = asyncio.Event()

    async def add_one() -> None:
        async with runtime.unit_of_work():
            row = await for_update(Listing.select(Listing.price).where(Listing.id == listing["id"])).first()
            await ready.wait()  # every transaction has started before any writes
            await Listing.update({Listing.price: row["price"] + 1}).where(Listing.id == listing["id"])

    tasks = [asyncio.create_task(add_one()) for _ in range(6)]
    for _ in range(20):
        await asyncio.sleep(0)
    ready.set()
    await asyncio.gather(*tasks)
    after = (await Listing.select(Listing.price).where(Listing.id == listing["id"]).first())["price"]
    assert after == start + 6  # no update lost: each read waited for the previous write
