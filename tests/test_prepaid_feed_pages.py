"""The prepaid feed's page query: each category's newest matches merged newest first, page
after page, with the filters; the same pages from the one query over every category that a
seller with many categories gets."""

from __future__ import annotations

from typing import Any

import pytest
from prepaid_helpers import market, prepaid_config, usd

from agorakit.plugins.prepaid import feed as feed_module

__all__ = ["market"]


@pytest.fixture
def site_config(tmp_path):
    return prepaid_config(tmp_path)


def classic(category: str, *, service_type: str = "rank_boost", price: str = "20.00") -> dict[str, Any]:
    details: dict[str, Any] = {"current_rank": "Gold", "target_rank": "Platinum"}
    if service_type == "coaching":
        details = {"hours": 2, "task": "Crosshair placement"}
    if category == "music":  # the site's default service type
        service_type, details = "custom", {"task": "Guitar lessons"}
    return {
        "mode": "classic",
        "category": category,
        "service_type": service_type,
        "details": details,
        "price": usd(price),
    }


async def post(client, member, body: dict[str, Any]) -> int:
    created = await client.post("/prepaid/requests", json=body, headers=member.headers)
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def pages(client, member, query: str, limit: int = 3) -> list[list[int]]:
    """Every page of the member's feed, following the cursors."""
    found, cursor = [], ""
    while True:
        response = await client.get(f"/prepaid/feed?limit={limit}{query}{cursor}", headers=member.headers)
        assert response.status_code == 200, response.text
        found.append([item["id"] for item in response.json()["items"]])
        if response.json()["next_cursor"] is None:
            return found
        cursor = f"&cursor={response.json()['next_cursor']}"


async def test_the_feed_merges_the_newest_requests_of_every_category_page_by_page(
    client, market, monkeypatch
):
    # games, valorant and league (the games_seller's access covers the tree): league's alone at first
    first = [await post(client, market.buyer, classic("league")) for _ in range(4)]
    assert await pages(client, market.games_seller, "") == [first[:0:-1], first[:1]]
    # music is not theirs; the newest page is mostly league's
    categories = ["valorant", "games", "music", "league", "valorant", "league", "league", "league", "games"]
    ids = [await post(client, market.buyer, classic(category)) for category in categories]
    theirs = first + [i for i, category in zip(ids, categories, strict=True) if category != "music"]
    newest = theirs[::-1]
    found = await pages(client, market.games_seller, "", limit=4)
    assert found == [newest[0:4], newest[4:8], newest[8:12]]
    assert [categories[ids.index(i)] for i in found[0]] == ["games", "league", "league", "league"]
    # a seller of valorant alone: one category
    assert await pages(client, market.seller, "", limit=10) == [[ids[4], ids[0]]]
    # past MERGED_CATEGORIES categories, one query over all of them: the same pages
    monkeypatch.setattr(feed_module, "MERGED_CATEGORIES", 1)
    assert await pages(client, market.games_seller, "", limit=4) == found


async def test_the_feed_filters_within_each_category(client, market):
    boost_cheap = await post(client, market.buyer, classic("valorant", price="10.00"))
    coaching = await post(client, market.buyer, classic("league", service_type="coaching", price="30.00"))
    boost_dear = await post(client, market.buyer, classic("league", price="60.00"))
    coaching_dear = await post(client, market.buyer, classic("games", service_type="coaching", price="80.00"))
    own = await post(client, market.games_seller, classic("valorant"))  # never in the seller's own feed
    seller = market.games_seller
    assert await pages(client, seller, "&service_type=coaching") == [[coaching_dear, coaching]]
    assert await pages(client, seller, "&service_type=rank_boost") == [[boost_dear, boost_cheap]]
    assert await pages(client, seller, "&min_price=20.00&max_price=60.00") == [[boost_dear, coaching]]
    assert await pages(client, seller, "&service_type=coaching&min_price=50") == [[coaching_dear]]
    assert await pages(client, seller, "&mode=prepaid") == [[]]
    assert await pages(client, seller, "&category=league", limit=1) == [[boost_dear], [coaching]]
    assert own in [i for page in await pages(client, market.seller, "") for i in page]
