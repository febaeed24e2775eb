"""Listing kinds only eligible members see: kept out of browsing, search and search
indexes; one listing shown only to its owner, operators and the members no plugin vetoes."""

from __future__ import annotations

from typing import Annotated

import msgspec
import pytest
from catalog_helpers import CatalogTestPlugin, gig, make_categories, publish

from agorakit import hookimpl
from agorakit.catalog import ListingKind, get_listing, listing_texts, published_listing_texts
from agorakit.catalog.errors import NotEligible
from agorakit.catalog.kinds import listing_kinds
from agorakit.errors import Unauthenticated


class CampaignAttributes(msgspec.Struct, forbid_unknown_fields=True):
    tasks: Annotated[int, msgspec.Meta(ge=1)]
    countries: list[Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")]] = []


class CampaignPlugin:
    """A throw-away kind only eligible members see; a veto list; an optional ranking."""

    def __init__(self) -> None:
        self.kinds_runtime = None
        self.vetoes: dict[int, str] = {}
        self.rank_all = False

    @hookimpl
    def agorakit_listing_kinds(self, runtime):
        self.kinds_runtime = runtime
        return [ListingKind(name="campaign", attributes=CampaignAttributes, visible_to="eligible")]

    @hookimpl
    def agorakit_can_take(self, listing, member):
        return self.vetoes.get(member.id) if listing.kind == "campaign" else None

    @hookimpl
    async def agorakit_rank_listings(self, words, offset, limit):
        if not self.rank_all:
            return None
        from agorakit.catalog.tables import Listing

        rows = await Listing.select(Listing.id).order_by(Listing.id, ascending=False)
        return [row["id"] for row in rows][offset : offset + limit]


@pytest.fixture
def campaigns():
    return CampaignPlugin()


@pytest.fixture
def extra_plugins(campaigns):
    return [("catalog-test", CatalogTestPlugin()), ("campaigns", campaigns)]


def campaign(**changes):
    body = gig(
        kind="campaign",
        title="Logo feedback from German shoppers",
        description="Look at three logo drafts and say which you trust most.",
        price={"amount": "0.50", "currency": "USD"},
        attributes={"tasks": 100, "countries": ["DE"]},
    )
    body.update(changes)
    return body


@pytest.fixture
async def world(client, make_member):
    operator, employer = await make_member(role="operator"), await make_member()
    german, american = await make_member(country="DE"), await make_member(country="US")
    await make_categories(client, operator)
    listed = await publish(client, employer, operator, title="I will design a logo for your shop")
    hidden = await publish(client, employer, operator, **campaign())
    assert (listed["status"], hidden["status"]) == ("published", "published")
    return operator, employer, german, american, listed, hidden


async def ids(client, **params) -> list[int]:
    response = await client.get("/listings", params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_eligible_kinds_never_appear_in_browse_or_search(client, runtime, world, campaigns):
    operator, employer, _, _, listed, hidden = world
    assert listing_kinds(runtime)["campaign"].visible_to == "eligible"
    assert listing_kinds(runtime)["gig"].visible_to == "everyone"
    assert campaigns.kinds_runtime is runtime  # agorakit_listing_kinds may take the runtime
    gid = listed["id"]
    assert await ids(client) == [gid]
    assert await ids(client, kind="campaign") == []
    assert await ids(client, kind="gig") == [gid]
    assert await ids(client, q="logo") == [gid]
    assert await ids(client, q="logo", kind="campaign") == []
    assert await ids(client, q="logo", sort="newest") == [gid]
    assert await ids(client, category="design") == [gid]  # a filter: the walk of the newest
    assert await ids(client, owner=employer.id, sort="price_asc") == [gid]
    assert await ids(client, country="DE") == [gid]
    # a search engine plugin's ranking that still holds the campaign: left out too
    campaigns.rank_all = True
    assert await ids(client, q="logo") == [gid]
    # what search indexes are given
    assert [row["id"] for row in await published_listing_texts(runtime, after=0, limit=10)] == [gid]
    texts = {row["id"]: row["listed"] for row in await listing_texts(runtime, [gid, hidden["id"]])}
    assert texts == {gid: True, hidden["id"]: False}
    # the owner's own list and the moderation queue are unchanged
    mine = await client.get("/me/listings", headers=employer.headers)
    assert [item["id"] for item in mine.json()["items"]] == [hidden["id"], gid]
    pending = (await client.post("/listings", json=campaign(), headers=employer.headers)).json()
    await client.post(f"/listings/{pending['id']}/submit", headers=employer.headers)
    queue = await client.get("/operator/listings/pending", headers=operator.headers)
    assert [item["listing"]["id"] for item in queue.json()["items"]] == [pending["id"]]


async def test_one_eligible_only_listing_shows_to_those_who_may_take_it(
    client, runtime, world, campaigns, problem
):
    operator, employer, german, american, listed, hidden = world
    url = f"/listings/{hidden['id']}"
    body = problem(await client.get(url), 401, "unauthenticated")
    assert "sign in" in body["detail"]
    # the test plugin's agorakit_can_take: only members in the listing's countries
    body = problem(await client.get(url, headers=american.headers), 403, "not_eligible")
    assert body["extra"]["reasons"] == ["this listing is only for members in DE"]
    for viewer in (german, employer, operator):
        seen = await client.get(url, headers=viewer.headers)
        assert (seen.status_code, seen.json()["id"]) == (200, hidden["id"]), seen.text
    campaigns.vetoes[german.id] = "you have not joined this employer's group"
    body = problem(await client.get(url, headers=german.headers), 403, "not_eligible")
    assert body["extra"]["reasons"] == ["you have not joined this employer's group"]
    # why not, on the eligibility route
    why = await client.get(f"{url}/eligibility", headers=american.headers)
    assert why.json() == {"eligible": False, "reasons": ["this listing is only for members in DE"]}
    # a paused one: the owner and operators see it, an eligible member too
    del campaigns.vetoes[german.id]
    await client.post(f"{url}/pause", headers=employer.headers)
    seen = await client.get(url, headers=german.headers)
    assert (seen.status_code, seen.json()["status"]) == (200, "paused")
    problem(await client.get(url, headers=american.headers), 403, "not_eligible")
    # listings of other kinds: anyone, as before
    assert (await client.get(f"/listings/{listed['id']}")).status_code == 200
    # the function: the same with the runtime, an unchecked read without it
    with pytest.raises(Unauthenticated):
        await get_listing(hidden["id"], runtime=runtime)
    with pytest.raises(NotEligible):
        await get_listing(hidden["id"], viewer=american.member, runtime=runtime)
    assert (await get_listing(hidden["id"], viewer=american.member)).id == hidden["id"]
    # asking the owner about it is for those who may see it
    asked = await client.post(
        "/conversations",
        json={"listing_id": hidden["id"], "body": "How long per task?"},
        headers=american.headers,
    )
    problem(asked, 403, "not_eligible")
