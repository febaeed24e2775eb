"""The sellers' feed of prepaid requests and who may see and lock a request.

The market's sellers have approved access to ``valorant``, its games seller to the whole
``games`` tree (``valorant`` and ``league``), its outsider to nothing.
"""

from __future__ import annotations

import pytest
from prepaid_helpers import (
    books_are_sound,
    fund,
    grant_access,
    lock,
    market,
    open_request,
    post_request,
    prepaid_config,
    usd,
)

from agorakit.money import ledger

__all__ = ["market"]

NO_ACCESS = "you have no approved access to category 'valorant'; apply for it with POST /qualifications"


@pytest.fixture
def site_config(tmp_path):
    return prepaid_config(tmp_path)


async def feed(client, member, query: str = "") -> list[int]:
    got = await client.get(f"/prepaid/feed{query}", headers=member.headers)
    assert got.status_code == 200, got.text
    return [r["id"] for r in got.json()["items"]]


async def classic(client, buyer, **changes) -> dict:
    created = await post_request(client, buyer, mode="classic", method=None, **changes)
    assert created.status_code == 201, created.text
    return created.json()


async def test_a_seller_sees_the_open_requests_of_their_categories_newest_first_never_their_own(
    client, runtime, market
):
    await fund(runtime, ledger.credit(market.games_seller.id), 10000)
    valorant = await open_request(client, market, price=usd("20.00"))
    league = await open_request(client, market, category="league", price=usd("15.00"))
    music = await open_request(
        client, market, category="music", service_type="custom", details={"task": "Teach me a scale"}
    )
    unpaid = (await post_request(client, market.buyer, method=None)).json()
    assert unpaid["status"] == "awaiting_payment"
    talk = await classic(client, market.buyer, price=usd("30.00"))
    own = (await post_request(client, market.games_seller, price=usd("12.00"))).json()
    assert own["status"] == "open"

    assert await feed(client, market.seller) == [own["id"], talk["id"], valorant["id"]]
    # access to games covers valorant and league; never the seller's own request
    assert await feed(client, market.games_seller) == [talk["id"], league["id"], valorant["id"]]
    assert await feed(client, market.outsider) == []
    assert await feed(client, market.buyer) == []  # no access, and the requests are theirs anyway
    assert music["status"] == "open"  # in the feed of nobody: no seller has access to music
    item = (await client.get("/prepaid/feed", headers=market.seller.headers)).json()["items"][-1]
    assert (item["id"], item["status"], item["price"], item["category"], item["buyer_id"]) == (
        valorant["id"],
        "open",
        usd("20.00"),
        "valorant",
        market.buyer.id,
    )
    await books_are_sound(runtime)


async def test_the_feeds_filters_give_exact_sets(client, runtime, market, problem):
    await fund(runtime, ledger.credit(market.buyer.id), 20000)
    boost_5 = await open_request(client, market, price=usd("5.00"))
    boost_40 = await open_request(client, market, price=usd("40.00"))
    coach_25 = await open_request(
        client, market, service_type="coaching", details={"hours": 2, "task": "Aim"}, price=usd("25.00")
    )
    league_60 = await open_request(client, market, category="league", price=usd("60.00"))
    talk_25 = await classic(client, market.buyer, price=usd("25.00"))
    seller = market.games_seller

    assert await feed(client, seller, "?category=games") == [
        talk_25["id"],
        league_60["id"],
        coach_25["id"],
        boost_40["id"],
        boost_5["id"],
    ]
    assert await feed(client, seller, "?category=league") == [league_60["id"]]
    assert await feed(client, seller, "?category=valorant") == [
        talk_25["id"],
        coach_25["id"],
        boost_40["id"],
        boost_5["id"],
    ]
    assert await feed(client, seller, "?service_type=coaching") == [coach_25["id"]]
    assert await feed(client, seller, "?service_type=rank_boost&category=valorant") == [
        talk_25["id"],
        boost_40["id"],
        boost_5["id"],
    ]
    assert await feed(client, seller, "?mode=classic") == [talk_25["id"]]
    assert await feed(client, seller, "?mode=prepaid&category=valorant") == [
        coach_25["id"],
        boost_40["id"],
        boost_5["id"],
    ]
    # price bounds are inclusive
    assert await feed(client, seller, "?min_price=25.00") == [
        talk_25["id"],
        league_60["id"],
        coach_25["id"],
        boost_40["id"],
    ]
    assert await feed(client, seller, "?max_price=25") == [talk_25["id"], coach_25["id"], boost_5["id"]]
    assert await feed(client, seller, "?min_price=25.01&max_price=59.99") == [boost_40["id"]]
    assert await feed(client, seller, "?min_price=61") == []
    # a seller with access to valorant only: league is not theirs to filter on
    body = problem(
        await client.get("/prepaid/feed?category=league", headers=market.seller.headers), 403, "not_eligible"
    )
    assert body["detail"] == (
        "you have no approved access to category 'league' or a category below it; "
        "apply for it with POST /qualifications"
    )
    bad = problem(
        await client.get("/prepaid/feed?min_price=cheap", headers=seller.headers), 422, "validation_error"
    )
    assert [e["field"] for e in bad["errors"]] == ["min_price"]
    await books_are_sound(runtime)


async def test_paging_through_the_feed_misses_nothing_and_repeats_nothing(client, runtime, market):
    ids = [(await open_request(client, market, price=usd(f"{5 + i}.00")))["id"] for i in range(7)]
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        got = (await client.get(f"/prepaid/feed{query}", headers=market.seller.headers)).json()
        seen += [r["id"] for r in got["items"]]
        pages += 1
        cursor = got["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(ids))
    # a request locked between two pages does not shift the next page
    first = (await client.get("/prepaid/feed?limit=3", headers=market.seller.headers)).json()
    assert (await lock(client, market.sellers[1], ids[6])).status_code == 200
    second = await client.get(
        f"/prepaid/feed?limit=3&cursor={first['next_cursor']}", headers=market.seller.headers
    )
    assert [r["id"] for r in second.json()["items"]] == [ids[3], ids[2], ids[1]]
    await books_are_sound(runtime)


async def test_a_seller_without_access_sees_nothing_and_may_neither_read_nor_lock(
    client, runtime, market, problem
):
    request = await open_request(client, market)
    assert await feed(client, market.outsider) == []
    body = problem(await lock(client, market.outsider, request["id"]), 403, "not_eligible")
    assert (body["detail"], body["extra"]["reasons"]) == (NO_ACCESS, [NO_ACCESS])
    body = problem(
        await client.get(f"/prepaid/requests/{request['id']}", headers=market.outsider.headers),
        403,
        "not_eligible",
    )
    assert body["detail"] == NO_ACCESS
    body = problem(
        await client.get(f"/listings/{request['listing_id']}", headers=market.outsider.headers),
        403,
        "not_eligible",
    )
    assert body["detail"] == NO_ACCESS
    # a seller with access reads it
    got = await client.get(f"/prepaid/requests/{request['id']}", headers=market.seller.headers)
    assert (got.status_code, got.json()["status"]) == (200, "open")
    # the buyer cannot lock their own request
    body = problem(await lock(client, market.buyer, request["id"]), 409, "conflict")
    assert body["detail"] == "you cannot lock your own request"
    order = (await client.get(f"/orders/{request['order_id']}", headers=market.buyer.headers)).json()
    assert (order["state"], order["seller_id"]) == ("open", None)
    await books_are_sound(runtime)


async def test_revoked_access_empties_the_feed_and_blocks_locking(client, runtime, market, problem):
    request = await open_request(client, market)
    seller = market.sellers[1]
    assert await feed(client, seller) == [request["id"]]
    [access] = (await client.get("/me/qualifications", headers=seller.headers)).json()["items"]
    revoked = await client.post(
        f"/operator/qualifications/{access['id']}/revoke",
        json={"reason": "Boosting with a shared account"},
        headers=market.operator.headers,
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"
    assert await feed(client, seller) == []
    body = problem(await lock(client, seller, request["id"]), 403, "not_eligible")
    assert body["extra"]["reasons"] == [NO_ACCESS]
    problem(
        await client.get(f"/prepaid/requests/{request['id']}", headers=seller.headers), 403, "not_eligible"
    )
    # the other sellers keep theirs
    assert await feed(client, market.seller) == [request["id"]]
    assert (await lock(client, market.seller, request["id"])).status_code == 200
    await books_are_sound(runtime)


async def test_a_pending_or_rejected_application_gives_no_access(
    client, runtime, market, make_member, problem
):
    request = await open_request(client, market)
    pending, rejected = await make_member(), await make_member()
    for member in (pending, rejected):
        applied = await client.post(
            "/qualifications", json={"category": "valorant", "note": "Radiant main"}, headers=member.headers
        )
        assert applied.status_code == 201, applied.text
    [application] = (await client.get("/me/qualifications", headers=rejected.headers)).json()["items"]
    refused = await client.post(
        f"/operator/qualifications/{application['id']}/reject",
        json={"reason": "No proof of your rank"},
        headers=market.operator.headers,
    )
    assert refused.status_code == 200, refused.text
    for member in (pending, rejected):
        assert await feed(client, member) == []
        body = problem(await lock(client, member, request["id"]), 403, "not_eligible")
        assert body["extra"]["reasons"] == [NO_ACCESS]
    # approved later: the request shows up
    [waiting] = (await client.get("/me/qualifications", headers=pending.headers)).json()["items"]
    approved = await client.post(
        f"/operator/qualifications/{waiting['id']}/approve", headers=market.operator.headers
    )
    assert approved.status_code == 200, approved.text
    assert await feed(client, pending) == [request["id"]]
    await books_are_sound(runtime)


async def test_access_to_a_parent_category_covers_a_request_in_its_child(
    client, runtime, market, make_member
):
    request = await open_request(client, market, category="league")
    newcomer = await make_member()
    assert await feed(client, newcomer) == []
    await grant_access(client, market.operator, newcomer, "games")
    assert await feed(client, newcomer) == [request["id"]]
    locked = await lock(client, newcomer, request["id"])
    assert (locked.status_code, locked.json()["seller_id"]) == (200, newcomer.id)
    await books_are_sound(runtime)
