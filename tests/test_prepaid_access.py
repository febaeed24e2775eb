"""Who may know of a prepaid request: its buyer, its seller, operators, and while it is in
the feed the sellers with access to its category.

A member who could never have seen a request (no access to its category, and it is not
open) gets the same 404 as for a request that does not exist, whatever they call on it;
a seller with access who lost the race for it is told it was taken (409).  Operators
read everything but take no work: an offer or a lock needs access like anyone's.
"""

from __future__ import annotations

import pytest
from prepaid_helpers import locked_request, market, open_request, prepaid_config, usd

__all__ = ["market"]

OFFER = {"price": usd("25.00"), "timeframe_hours": 24, "message": "I coach Valorant"}
CLASSIC = {
    "mode": "classic",
    "category": "valorant",
    "service_type": "coaching",
    "details": {"hours": 2, "task": "Crosshair placement"},
    "price": usd("30.00"),
}


@pytest.fixture
def site_config(tmp_path):
    return prepaid_config(tmp_path)


async def calls(client, member, request_id: int) -> dict[str, int]:
    """Every route on one request, as ``member``: name -> status."""
    base = f"/prepaid/requests/{request_id}"
    answers = {
        "get": await client.get(base, headers=member.headers),
        "lock": await client.post(f"{base}/lock", headers=member.headers),
        "release": await client.post(f"{base}/release", headers=member.headers),
        "return": await client.post(f"{base}/return", headers=member.headers),
        "cancel": await client.post(f"{base}/cancel", headers=member.headers),
        "offers": await client.get(f"{base}/offers", headers=member.headers),
        "offer": await client.post(f"{base}/offers", json=OFFER, headers=member.headers),
    }
    for name, response in answers.items():
        if response.status_code == 404:
            assert response.json()["code"] == "not_found", (name, response.text)
            assert response.json()["detail"] == f"there is no request {request_id}", (name, response.text)
    return {name: response.status_code for name, response in answers.items()}


NOTHING = {name: 404 for name in ("get", "lock", "release", "return", "cancel", "offers", "offer")}


async def test_a_request_out_of_the_feed_does_not_exist_for_other_members(client, market):
    locked = await locked_request(client, market)
    assert await calls(client, market.outsider, 999_999) == NOTHING
    assert await calls(client, market.outsider, locked["id"]) == NOTHING
    # another seller with access saw it in the feed: the lock was taken, the rest is not theirs
    rival = await calls(client, market.sellers[1], locked["id"])
    assert rival == {**NOTHING, "lock": 409}
    lost = await client.post(f"/prepaid/requests/{locked['id']}/lock", headers=market.sellers[1].headers)
    assert lost.json()["extra"]["state"] == "in_progress"


async def test_a_closed_classic_request_keeps_only_its_offers_for_their_sellers(client, market):
    posted = await client.post("/prepaid/requests", json=CLASSIC, headers=market.buyer.headers)
    assert posted.status_code == 201, posted.text
    request_id = posted.json()["id"]
    made = await client.post(
        f"/prepaid/requests/{request_id}/offers", json=OFFER, headers=market.sellers[1].headers
    )
    assert made.status_code == 201, made.text
    cancelled = await client.post(f"/prepaid/requests/{request_id}/cancel", headers=market.buyer.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert await calls(client, market.outsider, request_id) == NOTHING
    # a seller with access saw it in the feed: it is not open any more, the rest is not theirs
    assert await calls(client, market.sellers[2], request_id) == {**NOTHING, "lock": 409}
    mine = await client.get(f"/prepaid/requests/{request_id}/offers", headers=market.sellers[1].headers)
    assert mine.status_code == 200, mine.text
    assert [(o["id"], o["status"]) for o in mine.json()["items"]] == [(made.json()["id"], "declined")]


async def test_an_open_request_is_seen_only_by_those_who_may_take_it(client, market):
    request = await open_request(client, market)
    url = f"/prepaid/requests/{request['id']}"
    refused = await client.get(url, headers=market.outsider.headers)
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "not_eligible"
    assert "'valorant'" in refused.json()["detail"]
    taken = await client.post(f"{url}/lock", headers=market.outsider.headers)
    assert (taken.status_code, taken.json()["code"]) == (403, "not_eligible")
    # the offers on it are the buyer's and their sellers' business
    assert (await client.get(f"{url}/offers", headers=market.outsider.headers)).status_code == 404
    empty = await client.get(f"{url}/offers", headers=market.sellers[1].headers)
    assert (empty.status_code, empty.json()["items"]) == (200, [])
    assert (await client.get(url, headers=market.games_seller.headers)).status_code == 200


async def test_operators_read_requests_but_take_no_work_without_access(client, market):
    request = await open_request(client, market)
    posted = await client.post("/prepaid/requests", json=CLASSIC, headers=market.buyer.headers)
    classic = posted.json()
    operator = market.operator
    assert (
        await client.get(f"/prepaid/requests/{request['id']}", headers=operator.headers)
    ).status_code == 200
    locked = await client.post(f"/prepaid/requests/{request['id']}/lock", headers=operator.headers)
    assert (locked.status_code, locked.json()["code"]) == (403, "not_eligible")
    offered = await client.post(
        f"/prepaid/requests/{classic['id']}/offers", json=OFFER, headers=operator.headers
    )
    assert (offered.status_code, offered.json()["code"]) == (403, "not_eligible")
    assert "'valorant'" in offered.json()["detail"]
    listed = await client.get(f"/prepaid/requests/{classic['id']}/offers", headers=operator.headers)
    assert (listed.status_code, listed.json()["items"]) == (200, [])
    cancelled = await client.post(f"/prepaid/requests/{classic['id']}/cancel", headers=operator.headers)
    assert cancelled.status_code == 403, cancelled.text
    still = await client.get(f"/prepaid/requests/{classic['id']}", headers=market.buyer.headers)
    assert (still.json()["status"], still.json()["offers"]) == ("open", 0)
