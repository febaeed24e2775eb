"""Every change of a listing's status runs ``agorakit_listing_status_changed`` in its
transaction; operators pause, resume and close any listing; a plugin creates a listing
and its own row in one transaction."""

from __future__ import annotations

import msgspec
import pytest
from catalog_helpers import CatalogTestPlugin, gig, make_categories, publish

from agorakit import hookimpl
from agorakit.catalog import CreateListing, create_listing, move_listing, submit_listing
from agorakit.catalog.tables import Category, Listing
from agorakit.errors import Conflict, NotFound


class StatusPlugin:
    """Records each status change with the status the transaction shows; fails on demand."""

    def __init__(self) -> None:
        self.changes: list[tuple[int, str, int, str | None, str, str]] = []
        self.refuse: str | None = None

    @hookimpl
    async def agorakit_listing_status_changed(
        self, uow, listing_id, kind, owner_id, old_status, new_status, runtime
    ):
        row = await Listing.select(Listing.status).where(Listing.id == listing_id).first()
        self.changes.append((listing_id, kind, owner_id, old_status, new_status, row["status"]))
        if new_status == self.refuse:
            raise Conflict(f"the plugin cannot follow listing {listing_id} to {new_status} now")


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, int | None, dict]] = []

    @hookimpl
    def agorakit_on_event(self, event, runtime):
        if event.subject.startswith("listing:"):
            self.seen.append((event.name, event.subject, event.actor_id, event.data))


@pytest.fixture
def status_plugin():
    return StatusPlugin()


@pytest.fixture
def events():
    return Events()


@pytest.fixture
def extra_plugins(status_plugin, events):
    return [("catalog-test", CatalogTestPlugin()), ("status", status_plugin), ("events", events)]


@pytest.fixture
async def people(client, make_member):
    operator, seller, other = await make_member(role="operator"), await make_member(), await make_member()
    await make_categories(client, operator)
    return operator, seller, other


async def test_hook_agorakit_listing_status_changed(client, people, status_plugin):
    operator, seller, _ = people
    created = (await client.post("/listings", json=gig(), headers=seller.headers)).json()
    lid = created["id"]

    async def post(path, who, **body):
        response = await client.post(path, headers=who.headers, **body)
        assert response.status_code == 200, response.text

    await post(f"/listings/{lid}/submit", seller)
    await post(f"/operator/listings/{lid}/reject", operator, json={"reason": "Show samples"})
    edited = await client.patch(f"/listings/{lid}", json={"title": "A new logo"}, headers=seller.headers)
    assert edited.json()["status"] == "draft"
    await post(f"/listings/{lid}/submit", seller)
    await post(f"/operator/listings/{lid}/approve", operator)
    await post(f"/listings/{lid}/pause", seller)
    await post(f"/listings/{lid}/resume", seller)
    edited = await client.patch(f"/listings/{lid}", json={"title": "A newer logo"}, headers=seller.headers)
    assert edited.json()["status"] == "pending_review"
    await post(f"/operator/listings/{lid}/approve", operator)
    await post(f"/operator/listings/{lid}/pause", operator, json={"reason": "Checking a complaint"})
    await post(f"/operator/listings/{lid}/close", operator, json={"reason": "Copied artwork"})
    # an edit that leaves the status alone is no status change
    offer = (
        await client.post("/listings", json=gig(kind="offer", attributes={}), headers=seller.headers)
    ).json()
    await post(f"/listings/{offer['id']}/submit", seller)  # no review: published at once
    await client.patch(f"/listings/{offer['id']}", json={"title": "A cheaper offer"}, headers=seller.headers)
    moves = [(old, new) for _, _, _, old, new, _ in status_plugin.changes]
    assert moves == [
        (None, "draft"),
        ("draft", "pending_review"),
        ("pending_review", "rejected"),
        ("rejected", "draft"),
        ("draft", "pending_review"),
        ("pending_review", "published"),
        ("published", "paused"),
        ("paused", "published"),
        ("published", "pending_review"),
        ("pending_review", "published"),
        ("published", "paused"),
        ("paused", "closed"),
        (None, "draft"),
        ("draft", "published"),
    ]
    # called in the transaction, after the change is written; with the listing's facts
    assert all(new == seen for _, _, _, _, new, seen in status_plugin.changes)
    assert {(i, kind, owner) for i, kind, owner, *_ in status_plugin.changes} == {
        (lid, "gig", seller.id),
        (offer["id"], "offer", seller.id),
    }


async def test_a_failing_status_hook_rolls_the_change_back(client, people, status_plugin, events, problem):
    operator, seller, _ = people
    listing = await publish(client, seller, operator)
    lid = listing["id"]
    status_plugin.refuse = "paused"
    before = len(events.seen)
    body = problem(await client.post(f"/listings/{lid}/pause", headers=seller.headers), 409, "conflict")
    assert "cannot follow" in body["detail"]
    body = problem(
        await client.post(f"/operator/listings/{lid}/pause", json={"reason": "x"}, headers=operator.headers),
        409,
        "conflict",
    )
    assert (await client.get(f"/listings/{lid}")).json()["status"] == "published"
    assert events.seen[before:] == []  # no listing.paused
    # a refused creation leaves no listing behind
    status_plugin.refuse = "draft"
    count = await Listing.count()
    problem(await client.post("/listings", json=gig(), headers=seller.headers), 409, "conflict")
    assert await Listing.count() == count


async def test_operators_pause_resume_and_close_any_listing(client, runtime, people, events, problem):
    operator, seller, other = people
    listing = await publish(client, seller, operator)
    lid = listing["id"]
    url = f"/operator/listings/{lid}"
    # members may not; a reason is needed; the status rules are the owner's
    problem(await client.post(f"{url}/pause", json={"reason": "x"}, headers=other.headers), 403, "forbidden")
    problem(
        await client.post(f"{url}/pause", json={"reason": "  "}, headers=operator.headers),
        422,
        "validation_error",
        fields={"reason"},
    )
    problem(await client.post(f"{url}/pause", json={}, headers=operator.headers), 422, "validation_error")
    problem(
        await client.post(f"{url}/resume", json={"reason": "x"}, headers=operator.headers), 409, "wrong_state"
    )
    problem(
        await client.post("/operator/listings/999999/close", json={"reason": "x"}, headers=operator.headers),
        404,
        "not_found",
    )
    # another member cannot move it through the owner's route either
    problem(await client.post(f"/listings/{lid}/pause", headers=other.headers), 404, "not_found")
    assert (await client.get(f"/listings/{lid}")).json()["status"] == "published"

    before = len(events.seen)
    paused = await client.post(
        f"{url}/pause", json={"reason": " Checking a complaint "}, headers=operator.headers
    )
    assert (paused.status_code, paused.json()["status"]) == (200, "paused"), paused.text
    resumed = await client.post(
        f"/listings/{lid}/resume", headers=seller.headers
    )  # the owner's route still works
    assert resumed.json()["status"] == "published"
    closed = await client.post(f"{url}/close", json={"reason": "Copied artwork"}, headers=operator.headers)
    assert closed.json()["status"] == "closed"
    subject = f"listing:{lid}"
    assert events.seen[before:] == [
        (
            "listing.paused",
            subject,
            operator.id,
            {"listing_id": lid, "owner_id": seller.id, "reason": "Checking a complaint"},
        ),
        ("listing.resumed", subject, seller.id, {"listing_id": lid, "owner_id": seller.id, "reason": None}),
        (
            "listing.closed",
            subject,
            operator.id,
            {"listing_id": lid, "owner_id": seller.id, "reason": "Copied artwork"},
        ),
    ]
    # the owner is told when an operator acted, with the reason
    inbox = (await client.get("/notifications", headers=seller.headers)).json()["items"]
    moved = [item for item in inbox if item["template"] == "listing_moved"]
    assert [item["title"] for item in moved] == [
        'Your listing "I will design a minimalist logo" was closed by our operators',
        'Your listing "I will design a minimalist logo" was paused by our operators',
    ]
    assert "Reason: Copied artwork" in moved[0]["body"]
    assert moved[0]["link"] == f"/listings/{lid}"

    # the function plugins call: the owner or an operator
    second = await publish(client, seller, operator, title="I will draw a mascot")
    with pytest.raises(NotFound):
        await move_listing(runtime, second["id"], "pause", actor=other.member)
    out = await move_listing(runtime, second["id"], "pause", actor=operator.member, reason="Too many orders")
    assert out.status == "paused"
    assert (await move_listing(runtime, second["id"], "close", actor=seller.member)).status == "closed"


async def test_a_plugin_creates_a_listing_and_its_own_row_in_one_transaction(
    runtime, people, status_plugin, events
):
    _, seller, _ = people
    listings, categories = await Listing.count(), await Category.count()
    body = msgspec.convert(gig(kind="offer", attributes={}), CreateListing)

    async def create_with_own_row(fail: bool) -> int:
        async with runtime.unit_of_work() as uow:
            draft = await create_listing(runtime, body, owner=seller.member)
            published = await submit_listing(runtime, draft.id, owner=seller.member)
            assert published.status == "published"
            # the plugin's own row, in the same transaction
            await Category.insert(
                Category(slug=f"own-{draft.id}", name="Own row", position=0, created_at=uow.now)
            )
            if fail:
                raise RuntimeError("the plugin's part failed")
            return draft.id

    with pytest.raises(RuntimeError):
        await create_with_own_row(fail=True)
    assert (await Listing.count(), await Category.count()) == (listings, categories)
    assert events.seen == []  # nothing was published: the whole unit rolled back
    listing_id = await create_with_own_row(fail=False)
    assert (await Listing.count(), await Category.count()) == (listings + 1, categories + 1)
    assert await Category.exists().where(Category.slug == f"own-{listing_id}")
    assert [name for name, *_ in events.seen] == ["listing.created", "listing.published"]
