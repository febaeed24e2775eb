"""Locking a prepaid request, giving a lock up, and sending a late one back to the pool.

Each is a transition of the request's order (``lock`` as candidate, ``release`` as its
seller before the timeframe ends, ``return_to_pool`` as its buyer after it); the core's
engine decides who may fire it and gives exactly one of concurrent lockers the lock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agorakit.catalog import qualified_category_ids
from agorakit.errors import Conflict, NotFound
from agorakit.orders import fire
from agorakit.pagination import decode_cursor, page
from agorakit.plugins.prepaid.requests import is_party, known_request, request_row, to_request
from agorakit.plugins.prepaid.schemas import ReleaseOut
from agorakit.plugins.prepaid.tables import Release

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts import MemberOut
    from agorakit.plugins.prepaid.schemas import PrepaidRequestOut
    from agorakit.runtime import Runtime


def _order_of(row: dict[str, Any]) -> int:
    """The order of a prepaid request (a classic one has none to lock: 409)."""
    if row["mode"] != "prepaid" or row["order_id"] is None:
        raise Conflict(
            f"request {row['id']} is a classic request: send an offer instead"
            f" (POST /prepaid/requests/{row['id']}/offers)"
        )
    return row["order_id"]


async def lock_request(runtime: Runtime, request_id: int, *, caller: MemberOut) -> PrepaidRequestOut:
    """A qualified seller locks a paid request: 403 ``not_eligible`` without access to its
    category, 409 when another seller was first or the seller holds too many locks (404
    for a request that left the feed to a member who could never have seen it)."""
    row = await request_row(request_id)
    if row is None or (
        row["status"] != "open"
        and not is_party(row, caller)
        and row["category_id"] not in await qualified_category_ids(caller.id)
    ):
        raise NotFound(f"there is no request {request_id}")
    if row["buyer_id"] == caller.id:
        raise Conflict("you cannot lock your own request")
    if row["status"] != "open":
        if row["seller_id"] == caller.id:
            message = f"you already hold the lock on request {request_id}"
        elif row["seller_id"] is not None:
            message = f"request {request_id} was taken by another seller"
        else:
            message = f"request {request_id} is not open for locking (it is {row['status']})"
        raise Conflict(message, extra={"state": row["status"]})
    order_id = _order_of(row)
    await fire(runtime, order_id, "lock", caller=caller)
    fresh = await request_row(request_id)
    assert fresh is not None
    return await to_request(runtime, fresh, viewer=caller)


async def release_request(
    runtime: Runtime, request_id: int, *, caller: MemberOut, reason: str = ""
) -> PrepaidRequestOut:
    """The seller gives up a lock before its timeframe ends; the request goes back to the feed."""
    order_id = _order_of(await known_request(request_id, caller=caller))
    await fire(runtime, order_id, "release", caller=caller, data={"reason": reason.strip()})
    fresh = await request_row(request_id)
    assert fresh is not None
    return await to_request(runtime, fresh, viewer=caller)


async def return_request(runtime: Runtime, request_id: int, *, caller: MemberOut) -> PrepaidRequestOut:
    """After the timeframe passed without a delivery, the buyer sends the request back to
    the feed for another seller (the alternative is ``cancel_late``: a full refund)."""
    order_id = _order_of(await known_request(request_id, caller=caller))
    await fire(runtime, order_id, "return_to_pool", caller=caller)
    fresh = await request_row(request_id)
    assert fresh is not None
    return await to_request(runtime, fresh, viewer=caller)


async def seller_releases(
    seller_id: int, *, cursor: str | None, limit: int
) -> tuple[list[ReleaseOut], str | None]:
    """The locks a seller held that ended without a delivery, newest first."""
    query = (
        Release.select()
        .where(Release.seller_id == seller_id)
        .order_by(Release.id, ascending=False)
        .limit(limit + 1)
    )
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Release.id < position["id"])
    rows, next_cursor = page(await query, limit, lambda r: {"id": r["id"]})
    return [
        ReleaseOut(
            request_id=r["request_id"],
            order_id=r["order_id"],
            seller_id=r["seller_id"],
            by=r["by"],
            reason=r["reason"],
            locked_at=r["locked_at"],
            at=r["at"],
        )
        for r in rows
    ], next_cursor
