"""A lock that ends without a delivery: it is kept in the seller's history with who ended
it and why, and it no longer counts against the seller's ``max_open_locks``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prepaid_helpers import books_are_sound, lock, market, open_request, prepaid_config

__all__ = ["market"]


@pytest.fixture
def site_config(tmp_path):
    return prepaid_config(tmp_path, max_open_locks=1)


async def release(client, seller, request_id: int, reason: str = ""):
    return await client.post(
        f"/prepaid/requests/{request_id}/release", json={"reason": reason}, headers=seller.headers
    )


async def test_ended_locks_are_in_the_history_and_free_the_sellers_place(
    client, runtime, market, clock, problem
):
    seller, other = market.sellers[0], market.sellers[1]
    first = await open_request(client, market)
    second = await open_request(client, market)
    assert (await lock(client, seller, first["id"])).status_code == 200
    full = problem(await lock(client, seller, second["id"]), 409, "guard_failed")
    assert "1 undelivered locks" in full["detail"]
    locked_at = clock.now()

    clock.advance(timedelta(hours=2))
    released = await release(client, seller, first["id"], "My account got banned")
    assert released.status_code == 200, released.text
    assert (released.json()["status"], released.json()["seller_id"]) == ("open", None)
    assert (await lock(client, seller, second["id"])).status_code == 200  # the released one no longer counts

    assert (await lock(client, other, first["id"])).status_code == 200
    clock.advance(timedelta(hours=73))
    returned = await client.post(f"/prepaid/requests/{first['id']}/return", headers=market.buyer.headers)
    assert returned.status_code == 200, returned.text
    assert (await lock(client, other, first["id"])).status_code == 200  # their place is free again

    history = await client.get(f"/prepaid/sellers/{seller.id}/releases", headers=seller.headers)
    assert history.status_code == 200, history.text
    [mine] = history.json()["items"]
    assert (mine["request_id"], mine["by"], mine["reason"]) == (
        first["id"],
        "seller",
        "My account got banned",
    )
    assert mine["locked_at"].replace("Z", "+00:00") == locked_at.isoformat()
    theirs = await client.get(f"/prepaid/sellers/{other.id}/releases", headers=market.operator.headers)
    [returned_row] = theirs.json()["items"]
    assert (returned_row["request_id"], returned_row["by"], returned_row["reason"]) == (
        first["id"],
        "buyer",
        "",
    )
    problem(
        await client.get(f"/prepaid/sellers/{other.id}/releases", headers=seller.headers), 404, "not_found"
    )
    await books_are_sound(runtime)
