"""The declared batch look-ups plugins use to keep a page's reads bounded:
``agorakit.catalog.get_listings``, ``agorakit.catalog.category_subtree`` and
``agorakit.accounts.get_members``."""

from __future__ import annotations

import pytest
from catalog_helpers import CatalogTestPlugin, make_categories, publish

from agorakit.accounts import get_members
from agorakit.catalog import category_subtree, get_listings
from agorakit.errors import ValidationFailed


@pytest.fixture
def extra_plugins():
    return [("catalog-test", CatalogTestPlugin())]


async def test_listings_members_and_category_subtrees_by_batch(client, make_member):
    operator = await make_member(role="operator")
    seller = await make_member(country="DE")
    await make_categories(client, operator)
    first = await publish(client, seller, operator, title="I will design a bold logo")
    second = await publish(client, seller, operator, title="I will design a quiet logo")
    listings = await get_listings([second["id"], 999999, first["id"]])
    assert [(item.id, item.title) for item in listings] == [
        (second["id"], "I will design a quiet logo"),
        (first["id"], "I will design a bold logo"),
    ]
    assert listings[0].seller.id == seller.id and listings[0].category == "logo-design"
    assert await get_listings([]) == []
    members = await get_members([seller.id, operator.id, 999999, seller.id])
    assert sorted(members) == sorted([seller.id, operator.id])
    assert members[seller.id].country == "DE"
    assert await get_members([]) == {}
    assert sorted(await category_subtree(["design"])) == ["design", "logo-design"]
    assert sorted(await category_subtree(["logo-design", "writing"])) == ["logo-design", "writing"]
    assert await category_subtree(["cooking", "writing"], skip_unknown=True) == ["writing"]
    with pytest.raises(ValidationFailed) as refused:
        await category_subtree(["cooking"], field="skills")
    assert [error.field for error in refused.value.errors] == ["skills"]
