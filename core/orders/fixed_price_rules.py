"""The guards and effects of the fixed-price process (:mod:`.fixed_price`), registered by
the orders area: the delivery clock, its deadline, and the delivery."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import msgspec

from agorakit.orders.data import merge_order_data
from agorakit.orders.fixed_price import (
    ACCEPT_DELIVERY,
    DEADLINE_NOT_PASSED,
    DEADLINE_PASSED,
    HAS_DELIVERY,
    RECORD_PAYMENT,
    START_CLOCK,
    STOP_CLOCK,
    deadline_of,
)
from agorakit.orders.process_registry import set_form
from agorakit.orders.proofs import accept_submitted_proofs_many, has_submitted_proof

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.orders.engine import TransitionContext

#: what the buyer may do once the deadline has passed, by transition (for the refusal before)
_AFTER_DEADLINE = {"cancel_late": "cancel", "return_to_pool": "hand the order to another seller"}


def delivery_time(ctx: TransitionContext) -> timedelta:
    """The order's delivery time: ``data["delivery_hours"]`` (default 24) for a process
    counting in hours, else ``data["delivery_days"]`` (default 1)."""
    data = ctx.order.data
    if getattr(ctx.process, "delivery_unit", "days") == "hours":
        return timedelta(hours=data.get("delivery_hours", 24))
    return timedelta(days=data.get("delivery_days", 1))


async def _merge(ctx: TransitionContext, patch: dict) -> None:
    data = await merge_order_data(ctx.order, patch)
    ctx.order = msgspec.structs.replace(ctx.order, data=data)


async def start_clock(ctx: TransitionContext) -> None:
    """Effect of ``paid`` (``lock`` in a pooled process): the delivery deadline counts
    from now — the payment, or the seller taking the order — not from the order."""
    patch = {"deadline": (ctx.uow.now + delivery_time(ctx)).isoformat()}
    if ctx.transition.name == ctx.process.on_payment:
        patch["paid_at"] = ctx.uow.now.isoformat()
    await _merge(ctx, patch)


async def record_payment(ctx: TransitionContext) -> None:
    """Effect of a pooled process's ``paid``: when the order was paid (its clock waits for
    a seller)."""
    await _merge(ctx, {"paid_at": ctx.uow.now.isoformat()})


async def stop_clock(ctx: TransitionContext) -> None:
    """Effect of ``release``/``return_to_pool``: an order back in the pool has no deadline
    (the next seller's starts when they take it)."""
    await _merge(ctx, {"deadline": None})


def deadline_passed(ctx: TransitionContext) -> str | None:
    """Guard of ``cancel_late`` and ``return_to_pool``: the deadline has passed."""
    deadline = deadline_of(ctx.order)
    if deadline is not None and ctx.runtime.clock.now() < deadline:
        name = ctx.transition.name
        what = _AFTER_DEADLINE.get(name, name.replace("_", " "))
        return f"the seller has until {deadline.isoformat()} to deliver; you can {what} after that"
    return None


def deadline_not_passed(ctx: TransitionContext) -> str | None:
    """Guard of ``release``: the deadline has not passed yet (after it, the order is the
    buyer's to cancel or hand to another seller)."""
    deadline = deadline_of(ctx.order)
    if deadline is not None and ctx.runtime.clock.now() >= deadline:
        name = ctx.transition.name.replace("_", " ")
        return (
            f"the deadline to deliver was {deadline.isoformat()}; {name} is possible only before it "
            "(now the buyer may cancel the order or hand it to another seller)"
        )
    return None


async def has_delivery(ctx: TransitionContext) -> str | None:
    """Guard of ``deliver``: a delivery (a proof) waits, submitted through the delivery route."""
    if await has_submitted_proof(ctx.order.id):
        return None
    route = getattr(ctx.process, "delivery_route", "/orders/{id}/delivery")
    return f"deliver with POST {route.replace('{id}', str(ctx.order.id))} (a message and files)"


async def accept_deliveries(contexts: list[TransitionContext]) -> None:
    """:func:`accept_delivery` for several orders: one update per actor (the timer's
    completions are all the system's)."""
    if contexts:
        await accept_submitted_proofs_many(
            contexts[0].uow, [(ctx.order.id, ctx.actor_id) for ctx in contexts]
        )


@set_form(accept_deliveries)
async def accept_delivery(ctx: TransitionContext) -> None:
    """Effect of ``accept``/``auto_complete``: the delivery counts as accepted (by the
    buyer, or by the timer)."""
    await accept_deliveries([ctx])


GUARDS = {
    DEADLINE_PASSED: deadline_passed,
    DEADLINE_NOT_PASSED: deadline_not_passed,
    HAS_DELIVERY: has_delivery,
}
EFFECTS = {
    START_CLOCK: start_clock,
    STOP_CLOCK: stop_clock,
    RECORD_PAYMENT: record_payment,
    ACCEPT_DELIVERY: accept_delivery,
}

__all__ = ["EFFECTS", "GUARDS", "delivery_time"]
