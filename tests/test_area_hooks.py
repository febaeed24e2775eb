"""The hooks core areas define for the areas above them: the catalog's ratings and
listing creation (answered by reviews), the attachments' scope access (answered by orders
and messaging)."""

from __future__ import annotations

import pytest
from catalog_helpers import CatalogTestPlugin, gig, make_categories

from agorakit import hookimpl
from agorakit.attachments.service import check_scope_access
from agorakit.catalog.listings import listing_rating_summaries, rating_summaries
from agorakit.catalog.schemas import RatingSummary
from agorakit.catalog.tables import Listing
from agorakit.errors import NotFound


class FixedRatings:
    async def sellers(self, member_ids):
        return {i: RatingSummary(average="4.50", count=2) for i in member_ids}

    async def listings(self, listing_ids):
        return {i: RatingSummary(average="3.00", count=1) for i in listing_ids}


class AreaHooksPlugin:
    def __init__(self) -> None:
        self.created: list[tuple[int, int, bool]] = []

    @hookimpl(tryfirst=True)
    def agorakit_listing_ratings(self):
        return FixedRatings()

    @hookimpl
    async def agorakit_listing_created(self, uow, listing_id, owner_id, runtime):
        # inside the transaction: the new row is visible
        row = await Listing.select(Listing.status).where(Listing.id == listing_id).first()
        self.created.append((listing_id, owner_id, row["status"] == "draft"))

    @hookimpl(tryfirst=True)
    def agorakit_scope_access(self, scope, member, write, runtime):
        # an archive reader: operators may read the files of orders that no longer exist
        if scope == "order:999999" and not write and member.role == "operator":
            return True
        return None


@pytest.fixture
def hooks_plugin():
    return AreaHooksPlugin()


@pytest.fixture
def extra_plugins(hooks_plugin):
    return [("catalog-test", CatalogTestPlugin()), ("area-hooks", hooks_plugin)]


async def test_hook_agorakit_listing_ratings(runtime):
    assert await rating_summaries([7]) == {7: RatingSummary(average="4.50", count=2)}
    assert await listing_rating_summaries([3, 4]) == {
        3: RatingSummary(average="3.00", count=1),
        4: RatingSummary(average="3.00", count=1),
    }


async def test_hook_agorakit_listing_created(client, runtime, make_member, hooks_plugin):
    operator, seller = await make_member(role="operator"), await make_member()
    await make_categories(client, operator)
    created = await client.post("/listings", json=gig(), headers=seller.headers)
    assert created.status_code == 201, created.text
    assert hooks_plugin.created == [(created.json()["id"], seller.id, True)]
    # the listing shows the ratings the provider gives
    assert created.json()["seller"]["rating"] == {"average": "4.50", "count": 2}


async def test_hook_agorakit_scope_access(runtime, make_member):
    operator, member = await make_member(role="operator"), await make_member()
    await check_scope_access(runtime, "order:999999", operator.member, write=False)
    with pytest.raises(NotFound, match="there is no order 999999"):
        await check_scope_access(runtime, "order:999999", operator.member, write=True)
    with pytest.raises(NotFound, match="there is no order 999999"):
        await check_scope_access(runtime, "order:999999", member.member, write=False)
    with pytest.raises(NotFound, match="there is no conversation 999999"):
        await check_scope_access(runtime, "conversation:999999", member.member, write=False)
