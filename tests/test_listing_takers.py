"""Listing kinds only qualified members take (``takers="qualified"``), and moving a
listing inside a plugin's unit of work (``move_listing_in``)."""

from __future__ import annotations

import asyncio

import pytest
from takers_helpers import RequestPlugin, listing, make_categories, qualify, request

from agorakit import hookimpl
from agorakit.catalog import (
    category_slugs,
    is_qualified,
    move_listing,
    move_listing_in,
    qualified_category_ids,
    qualified_kinds,
)
from agorakit.catalog.errors import WrongListingState
from agorakit.catalog.tables import Listing
from agorakit.errors import NotFound, ValidationFailed
from tests.test_event_batches import statements

NO_ACCESS = "you have no approved access to category 'valorant'; apply for it with POST /qualifications"


class StatusChanges:
    """Records each status change and each listing event."""

    def __init__(self) -> None:
        self.changes: list[tuple[int, str, str]] = []
        self.events: list[tuple[str, int | None, dict]] = []

    @hookimpl
    def agorakit_listing_status_changed(self, listing_id, old_status, new_status):
        self.changes.append((listing_id, old_status, new_status))

    @hookimpl
    def agorakit_on_event(self, event):
        if event.subject.startswith("listing:"):
            self.events.append((event.name, event.actor_id, event.data))


@pytest.fixture
def plugin():
    return RequestPlugin()


@pytest.fixture
def status():
    return StatusChanges()


@pytest.fixture
def extra_plugins(plugin, status):
    return [("requests", plugin), ("status", status)]


@pytest.fixture
def site_config():
    return {"database": {"pool_max_size": 15}}


@pytest.fixture
async def people(client, make_member):
    operator, buyer, seller = await make_member(role="operator"), await make_member(), await make_member()
    await make_categories(client, operator)
    return operator, buyer, seller


def fire_path(order_id: int, name: str) -> str:
    return f"/orders/{order_id}/transitions/{name}"


async def test_a_member_without_approved_access_may_neither_see_nor_take_a_request(
    client, runtime, people, problem
):
    operator, buyer, seller = people
    order = await request(runtime, buyer, "valorant")
    path = f"/listings/{order.listing_id}"
    body = problem(await client.get(path, headers=seller.headers), 403, "not_eligible")
    assert (body["detail"], body["extra"]["reasons"]) == (NO_ACCESS, [NO_ACCESS])
    eligibility = (await client.get(f"{path}/eligibility", headers=seller.headers)).json()
    assert eligibility == {"eligible": False, "reasons": [NO_ACCESS]}
    locked = problem(
        await client.post(fire_path(order.id, "lock"), headers=seller.headers), 403, "not_eligible"
    )
    assert locked["extra"]["reasons"] == [NO_ACCESS]
    # the order itself is not shown to a member who may not take it: 404, as for anyone's
    problem(await client.get(f"/orders/{order.id}", headers=seller.headers), 404, "not_found")
    # a pending application, a rejected one and an approval for a sibling give no access
    await qualify(client, operator, seller, "valorant", approve=False)
    await qualify(client, operator, seller, "lol")
    pending = await client.post("/qualifications", json={"category": "valorant"}, headers=seller.headers)
    assert pending.status_code == 201
    problem(await client.get(path, headers=seller.headers), 403, "not_eligible")
    problem(await client.post(fire_path(order.id, "lock"), headers=seller.headers), 403, "not_eligible")
    # its owner and operators see it; a visitor must sign in
    assert (await client.get(path, headers=buyer.headers)).status_code == 200
    assert (await client.get(path, headers=operator.headers)).status_code == 200
    problem(await client.get(path), 401, "unauthenticated")
    # once approved, the member sees the order they may lock, with the transition
    await qualify(client, operator, seller, "games")
    seen = await client.get(f"/orders/{order.id}", headers=seller.headers)
    assert seen.status_code == 200 and seen.json()["allowed_transitions"] == ["lock"], seen.text
    view = (await client.get(f"/orders/{order.id}", headers=buyer.headers)).json()
    assert (view["state"], view["seller_id"]) == ("open", None)


async def test_approved_access_to_a_category_covers_the_categories_below_it(client, runtime, people):
    operator, buyer, seller = people
    order = await request(runtime, buyer, "valorant")
    await qualify(client, operator, seller, "games")
    seen = await client.get(f"/listings/{order.listing_id}", headers=seller.headers)
    assert (seen.status_code, seen.json()["category"]) == (200, "valorant")
    eligibility = (
        await client.get(f"/listings/{order.listing_id}/eligibility", headers=seller.headers)
    ).json()
    assert eligibility == {"eligible": True, "reasons": []}
    locked = await client.post(fire_path(order.id, "lock"), headers=seller.headers)
    assert locked.status_code == 200, locked.text
    assert (locked.json()["state"], locked.json()["seller_id"]) == ("locked", seller.id)


async def test_access_is_one_query_whatever_the_depth(client, runtime, people):
    operator, _, seller = people
    parent = "valorant"
    for depth in range(4):  # valorant > v0 > v1 > v2 > v3
        slug = f"v{depth}"
        created = await client.post(
            "/operator/categories",
            json={"slug": slug, "name": slug, "parent": parent},
            headers=operator.headers,
        )
        assert created.status_code == 201
        parent = slug
    await qualify(client, operator, seller, "games")
    with statements(runtime) as seen:
        assert await is_qualified(seller.id, "v3") is True
    assert len(seen) <= 2, seen  # the category tree and one lookup, whatever the depth
    assert await is_qualified(seller.id, "design") is False
    assert await is_qualified(seller.id, "no-such-category") is False
    assert await is_qualified(operator.id, "v3") is False
    with statements(runtime) as seen:
        ids = await qualified_category_ids(seller.id)
    assert len(seen) <= 2
    slugs = await category_slugs()
    assert sorted(slugs[i] for i in ids) == ["games", "lol", "v0", "v1", "v2", "v3", "valorant"]
    assert await qualified_category_ids(operator.id) == set()
    assert qualified_kinds(runtime) == ("request",)


async def test_kinds_anyone_takes_need_no_access(client, runtime, people):
    _, buyer, seller = people
    order = await request(runtime, buyer, "valorant", kind="task")
    assert (await client.get(f"/listings/{order.listing_id}", headers=seller.headers)).status_code == 200
    grabbed = await client.post(fire_path(order.id, "grab"), headers=seller.headers)
    assert grabbed.status_code == 200, grabbed.text


async def test_a_plugin_veto_adds_its_reason_to_the_missing_access(client, runtime, people, plugin, problem):
    _, buyer, seller = people
    order = await request(runtime, buyer, "valorant")
    plugin.vetoes[(seller.id, None)] = "your account is under review"
    body = problem(
        await client.post(fire_path(order.id, "lock"), headers=seller.headers), 403, "not_eligible"
    )
    assert body["extra"]["reasons"] == [NO_ACCESS, "your account is under review"]


# --------------------------------------------------------------------------------------
# move_listing_in
# --------------------------------------------------------------------------------------


async def _status(listing_id: int) -> str:
    row = await Listing.select(Listing.status, Listing.published_at).where(Listing.id == listing_id).first()
    return row["status"]


class Rollback(Exception):
    pass


async def test_move_listing_in_publishes_pauses_resumes_and_closes_in_the_callers_transaction(
    client, runtime, people, status, clock
):
    _, buyer, seller = people
    draft = (
        await client.post(
            "/listings",
            json={
                "kind": "request",
                "title": "Boost my valorant account",
                "description": "From Silver to Gold.",
                "price": {"amount": "20.00", "currency": "USD"},
                "category": "valorant",
            },
            headers=buyer.headers,
        )
    ).json()
    lid = draft["id"]
    status.changes.clear()
    clock.advance(minutes=5)
    async with runtime.unit_of_work() as uow:
        await move_listing_in(uow, lid, "publish", actor_id=None)
        assert await _status(lid) == "published"  # the caller's transaction sees it
    row = await Listing.select().where(Listing.id == lid).first()
    assert (row["status"], row["published_at"]) == ("published", clock.now())
    async with runtime.unit_of_work() as uow:
        await move_listing_in(uow, lid, "pause", actor_id=seller.id, reason="locked by a seller")
    async with runtime.unit_of_work() as uow:
        await move_listing_in(uow, lid, "resume", actor_id=buyer.id, reason="ignored: the owner acts")
    async with runtime.unit_of_work() as uow:
        await move_listing_in(uow, lid, "close", actor_id=None)
    assert await _status(lid) == "closed"
    assert status.changes == [
        (lid, "draft", "published"),
        (lid, "published", "paused"),
        (lid, "paused", "published"),
        (lid, "published", "closed"),
    ]
    assert [(name, actor, data.get("reason")) for name, actor, data in status.events[-4:]] == [
        ("listing.published", None, None),
        ("listing.paused", seller.id, "locked by a seller"),
        ("listing.resumed", buyer.id, None),
        ("listing.closed", None, None),
    ]
    # the owner is told only of an operator's moves (a seller's or the site's are the
    # plugin's to tell about)
    notices = (await client.get("/notifications", headers=buyer.headers)).json()["items"]
    assert [n["template"] for n in notices if n["template"] == "listing_moved"] == []


async def test_a_rolled_back_transaction_leaves_the_listing_as_it_was(runtime, people, status):
    _, buyer, _ = people
    published = await listing(runtime, buyer, "valorant")
    lid = published.id
    for action, then in (("pause", "published"), ("close", "published")):
        status.changes.clear()
        events_before = len(status.events)
        with pytest.raises(Rollback):
            async with runtime.unit_of_work() as uow:
                await move_listing_in(uow, lid, action, actor_id=None)
                assert await _status(lid) != then
                raise Rollback
        assert await _status(lid) == then, action
        assert len(status.events) == events_before  # nothing was published
    async with runtime.unit_of_work() as uow:
        await move_listing_in(uow, lid, "pause", actor_id=None)
    with pytest.raises(Rollback):
        async with runtime.unit_of_work() as uow:
            await move_listing_in(uow, lid, "publish", actor_id=None)
            raise Rollback
    row = await Listing.select(Listing.status, Listing.published_at).where(Listing.id == lid).first()
    assert (row["status"], row["published_at"]) == ("paused", published.published_at)


@pytest.mark.postgres_only("row locks under concurrent requests")
async def test_of_concurrent_moves_of_one_listing_exactly_one_happens(client, runtime, people, status):
    """A move reads the listing with its row lock: of six concurrent pauses one pauses
    it and five find it paused (without the lock each read 'published' and all six
    paused it, six events, six hook calls)."""
    _, buyer, _ = people
    published = await listing(runtime, buyer, "valorant")
    status.changes.clear()
    responses = await asyncio.gather(
        *(client.post(f"/listings/{published.id}/pause", headers=buyer.headers) for _ in range(6))
    )
    assert sorted(r.status_code for r in responses) == [200] + [409] * 5, [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"wrong_state"}
    assert status.changes == [(published.id, "published", "paused")]


async def test_invalid_moves_are_wrong_state_and_change_nothing(runtime, people, status):
    _, buyer, _ = people
    published = await listing(runtime, buyer, "valorant")
    status.changes.clear()
    cases = [("publish", "published"), ("resume", "published")]
    for action, current in cases:
        with pytest.raises(WrongListingState) as refused:
            async with runtime.unit_of_work() as uow:
                await move_listing_in(uow, published.id, action, actor_id=None)
        assert refused.value.extra == {"status": current}
        assert refused.value.status == 409
    async with runtime.unit_of_work() as uow:
        await move_listing_in(uow, published.id, "close", actor_id=None)
    for action in ("publish", "pause", "resume", "close"):
        with pytest.raises(WrongListingState):
            async with runtime.unit_of_work() as uow:
                await move_listing_in(uow, published.id, action, actor_id=None)
    assert status.changes == [(published.id, "published", "closed")]
    with pytest.raises(ValidationFailed) as unknown:
        async with runtime.unit_of_work() as uow:
            await move_listing_in(uow, published.id, "approve", actor_id=None)
    assert [e.field for e in unknown.value.errors] == ["action"]
    with pytest.raises(NotFound):
        async with runtime.unit_of_work() as uow:
            await move_listing_in(uow, 999_999, "close", actor_id=None)


async def test_an_operators_move_in_a_transaction_tells_the_owner(client, runtime, people):
    operator, buyer, _ = people
    published = await listing(runtime, buyer, "valorant")
    async with runtime.unit_of_work() as uow:
        await move_listing_in(uow, published.id, "pause", actor_id=operator.id, reason="a complaint")
    notices = (await client.get("/notifications", headers=buyer.headers)).json()["items"]
    moved = [n for n in notices if n["template"] == "listing_moved"]
    assert len(moved) == 1 and "a complaint" in moved[0]["body"], notices


async def test_publish_is_for_a_plugins_code_not_for_members(client, runtime, people, problem):
    """The routes and ``move_listing`` still only pause, resume and close."""
    operator, buyer, _ = people
    draft = (
        await client.post(
            "/listings",
            json={
                "kind": "request",
                "title": "Boost my valorant account",
                "description": "From Silver to Gold.",
                "price": {"amount": "20.00", "currency": "USD"},
                "category": "valorant",
            },
            headers=buyer.headers,
        )
    ).json()
    for actor in (buyer.member, operator.member):
        with pytest.raises(ValidationFailed) as refused:
            await move_listing(runtime, draft["id"], "publish", actor=actor)
        assert refused.value.errors[0].message == "unknown action 'publish'; one of: pause, resume, close"
    problem(await client.post(f"/listings/{draft['id']}/resume", headers=buyer.headers), 409, "wrong_state")
    assert await _status(draft["id"]) == "draft"
