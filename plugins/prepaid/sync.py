"""Keeping a request in step with its order: the plugin's guard and effects.

Every transition of the two processes runs :func:`request_moved` in its transaction: the
request row (its status, its seller, when it entered the feed), its listing (published
while in the feed, paused while locked, closed when it ends), the seller's count of
undelivered locks, and the plugin's events.  The dispute engine moves orders outside
their transitions (reported, refunded, completed by an operator); those moves reach the
request after the commit (:func:`on_order_events`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from agorakit.catalog import move_listing_in
from agorakit.errors import Conflict
from agorakit.orders import OrderTransitioned
from agorakit.plugins.prepaid.events import RequestClosed, RequestLocked, RequestOpened, RequestReleased
from agorakit.plugins.prepaid.process import PROCESSES, REQUEST_PROCESS
from agorakit.plugins.prepaid.tables import Release, Request, SellerLocks

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.events import DomainEvent
    from agorakit.orders import TransitionContext
    from agorakit.runtime import Runtime, UnitOfWork

#: order states in which the request is over (its listing closes)
FINAL = ("completed", "cancelled", "refunded")
#: transitions that end a seller's undelivered lock
LOCK_ENDS = ("deliver", "release", "return_to_pool", "cancel_late")


async def request_of_order(order_id: int) -> dict[str, Any] | None:
    return await Request.select().where(Request.order_id == order_id).first().output(load_json=True)


async def lock_limit(ctx: TransitionContext) -> str | None:
    """A seller holds at most ``max_open_locks`` undelivered locks.  Counted atomically: the
    seller's counter only grows while under the limit, so concurrent locks cannot pass it."""
    limit = ctx.runtime.plugin_settings("prepaid").max_open_locks
    seller_id = ctx.actor_id
    assert seller_id is not None  # a candidate is a member
    await SellerLocks.insert(
        SellerLocks(member_id=seller_id, open_locks=0, updated_at=ctx.uow.now)
    ).on_conflict(target=SellerLocks.member_id, action="DO NOTHING")
    counted = (
        await SellerLocks.update(
            {SellerLocks.open_locks: SellerLocks.open_locks + 1, SellerLocks.updated_at: ctx.uow.now}
        )
        .where((SellerLocks.member_id == seller_id) & (SellerLocks.open_locks < limit))
        .returning(SellerLocks.id)
    )
    if not counted:
        return (
            f"you already hold {limit} undelivered locks (the most a seller may hold); "
            "deliver or release one first"
        )
    return None


async def _end_lock(uow: UnitOfWork, seller_id: int | None) -> None:
    if seller_id is None:
        return
    await SellerLocks.update(
        {SellerLocks.open_locks: SellerLocks.open_locks - 1, SellerLocks.updated_at: uow.now}
    ).where((SellerLocks.member_id == seller_id) & (SellerLocks.open_locks > 0))


def seller_before(ctx: TransitionContext) -> int | None:
    """The order's seller before the move (``ctx.order`` is the order after it: a
    transition that clears the seller names who left in ``former_seller_id``)."""
    if ctx.transition.clears_seller:
        former = ctx.data.get("former_seller_id")
        return int(former) if former is not None else None
    return ctx.order.seller_id


async def record_release(ctx: TransitionContext) -> None:
    """Keep the ended lock in the seller's history (who ended it, when they had locked
    it, and why).  Runs before :func:`request_moved`, while the request still has the
    lock's deadline."""
    order = ctx.order
    request = await request_of_order(order.id)
    seller_id = seller_before(ctx)
    if request is None or seller_id is None:
        return
    due = request["due_at"]
    await Release.insert(
        Release(
            request_id=request["id"],
            order_id=order.id,
            seller_id=seller_id,
            by="seller" if ctx.actor_role == "seller" else "buyer",
            reason=str(ctx.data.get("reason", ""))[:1000],
            locked_at=due - timedelta(hours=request["timeframe_hours"]) if due is not None else None,
            at=ctx.uow.now,
        )
    )
    ctx.uow.record(
        RequestReleased(
            request_id=request["id"],
            order_id=order.id,
            buyer_id=order.buyer_id,
            seller_id=seller_id,
            by="seller" if ctx.actor_role == "seller" else "buyer",
        ),
        subject=f"request:{request['id']}",
        actor_id=ctx.actor_id,
    )


async def request_moved(ctx: TransitionContext) -> None:
    """The request row, its listing and the lock counter follow the order's move."""
    uow, order, transition = ctx.uow, ctx.order, ctx.transition
    request = await request_of_order(order.id)
    if request is None:
        return
    name, target = transition.name, transition.target
    changes: dict[Any, Any] = {Request.status: target, Request.updated_at: uow.now}
    if target == "in_progress":  # locked, or an accepted offer paid: the timeframe runs
        changes[Request.due_at] = uow.now + timedelta(hours=request["timeframe_hours"])
    else:  # the deadline holds only while in progress
        changes[Request.due_at] = None
    subject = f"request:{request['id']}"
    listing_move: str | None = None
    if name == "lock":
        changes[Request.seller_id] = ctx.actor_id
        listing_move = "pause"
        uow.record(
            RequestLocked(
                request_id=request["id"],
                order_id=order.id,
                buyer_id=order.buyer_id,
                seller_id=ctx.actor_id or 0,
            ),
            subject=subject,
            actor_id=ctx.actor_id,
        )
    elif target == "open":
        returned = name != "paid"
        changes.update({Request.seller_id: None, Request.opened_at: uow.now})
        listing_move = "resume" if returned else "publish"
        uow.record(opened_event(request, returned=returned), subject=subject, actor_id=ctx.actor_id)
    elif target in FINAL:
        listing_move = "close"
        if target == "cancelled":
            kind = "expired" if name == "expire" else "cancelled"
            # the role the transition was fired in (owners fire as operators too)
            by_operator = ctx.actor_role in ("operator",)
            uow.record(
                RequestClosed(
                    request_id=request["id"],
                    buyer_id=order.buyer_id,
                    status=kind,
                    by_operator=by_operator,
                    reason=str(ctx.data.get("reason", "")) if by_operator else "",
                ),
                subject=subject,
                actor_id=ctx.actor_id,
            )
    if name in LOCK_ENDS and order.process == REQUEST_PROCESS:
        await _end_lock(uow, seller_before(ctx))
    await Request.update(changes).where(Request.id == request["id"])
    if listing_move is not None:
        await _move_listing(uow, request["listing_id"], listing_move, None)


async def _move_listing(uow: UnitOfWork, listing_id: int, action: str, actor_id: int | None) -> None:
    """Move the request's listing unless it is there already (an operator may have closed it).

    The request moves its listing (``actor_id`` None, the site's own move): who moved the
    request is on the order's and the request's events, and the plugin tells the owner,
    not the core's notice of an operator moving a listing as well."""
    try:
        await move_listing_in(uow, listing_id, action, actor_id=actor_id)
    except Conflict:  # not in a state this move leaves (e.g. closed by an operator): keep it
        pass


def opened_event(request: dict[str, Any], *, returned: bool = False) -> RequestOpened:
    return RequestOpened(
        request_id=request["id"],
        buyer_id=request["buyer_id"],
        mode=request["mode"],
        category_id=request["category_id"],
        category=request["category"],
        service_type=request["service_type"],
        price=request["price"],
        currency=request["currency"],
        returned=returned,
    )


def is_dispute_move(event: DomainEvent) -> bool:
    """Whether ``event`` is a move the dispute engine made of an order of the plugin."""
    moved = event.payload
    return (
        isinstance(moved, OrderTransitioned)
        and moved.process in PROCESSES
        and moved.transition.startswith("dispute")
    )


async def on_order_events(runtime: Runtime, events: list[DomainEvent]) -> None:
    """After the commit: moves the dispute engine made (reported, refunded, completed by an
    operator, back to delivered) reach the request row, and a finished request's listing
    closes."""
    moves = [e.payload for e in events if is_dispute_move(e)]
    for moved in moves:
        order_id, state = moved.order_id, moved.to_state
        async with runtime.unit_of_work() as uow:
            request = await request_of_order(order_id)
            if request is None or request["status"] == state:
                continue
            await Request.update({Request.status: state, Request.updated_at: uow.now}).where(
                Request.id == request["id"]
            )
            if state in FINAL:
                await _move_listing(uow, request["listing_id"], "close", None)
