"""The fixed-price order process, which several models share through the core.

An order is placed at a fixed price and waits for its payment (``awaiting_payment``);
the payment's settlement starts the seller's delivery clock (``in_progress``, the
deadline is the payment time plus ``data["delivery_days"]``); the seller delivers a
message and files (``delivered``), which the buyer accepts or which completes by itself
after ``auto_complete_days`` (``completed``: the escrow is released to the seller, minus
the fees agreed when the order was placed).  After the deadline the buyer may cancel an
undelivered order (full refund to credit); an order nobody pays is cancelled after
``unpaid_expiry_hours``; a delivery can be reported (disputed) for ``report_window_days``.

:func:`fixed_price_process` builds such a process for a model plugin, which passes its
settings and may add transitions of its own.  The guards and effects it names are the
core's, registered by the orders area (``agorakit_order_guards``/``_effects``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from agorakit.errors import Conflict, FieldError, Forbidden, ValidationFailed
from agorakit.orders.data import merge_order_data
from agorakit.orders.process import DisputePolicy, Process, Timer, Transition
from agorakit.orders.process_registry import registry, set_form
from agorakit.orders.proofs import accept_submitted_proofs_many, has_submitted_proof, submit_proof
from agorakit.orders.queries import get_order
from agorakit.orders.schemas import OrderOut, SubmitProof

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts.schemas import MemberOut
    from agorakit.orders.engine import TransitionContext
    from agorakit.runtime import Runtime

#: the reasons a delivery can be reported for, unless the plugin names its own
REPORT_REASONS = {
    "not_delivered": "The order was marked complete without a delivery",
    "not_as_described": "The delivery is not what was ordered",
}

#: the core's guards and effects the process names
START_CLOCK = "fixed_price_start_clock"
DEADLINE_PASSED = "fixed_price_deadline_passed"
HAS_DELIVERY = "fixed_price_has_delivery"
ACCEPT_DELIVERY = "fixed_price_accept_delivery"


class NoDeliveries(Conflict):
    code = "no_deliveries"
    title = "The order's process takes no deliveries"


class FixedPriceProcess(Process, frozen=True, kw_only=True):
    """A process :func:`fixed_price_process` built: where its orders are delivered."""

    #: the route a seller delivers with, ``{id}`` standing for the order's id
    delivery_route: str = "/orders/{id}/delivery"


def fixed_price_process(
    name: str,
    *,
    version: int = 1,
    auto_complete_days: int,
    unpaid_expiry_hours: int,
    report_window_days: int,
    report_review_hours: int,
    report_reasons: dict[str, str] | None = None,
    extra_transitions: tuple[Transition, ...] = (),
    delivery_route: str = "/orders/{id}/delivery",
) -> Process:
    """The fixed-price order process named ``name`` (see the module), with the plugin's
    numbers and its own ``extra_transitions`` (e.g. a mutual cancellation).

    ``delivery_route`` is the route the plugin's sellers deliver with (it is named in the
    refusal of ``deliver`` without a delivery); the core's ``POST /orders/{id}/delivery``
    works for every order of the process.
    """
    return FixedPriceProcess(
        name=name,
        version=version,
        states=(
            "awaiting_payment",
            "in_progress",
            "delivered",
            "reported",
            "completed",
            "cancelled",
            "refunded",
        ),
        initial="awaiting_payment",
        final=("completed", "cancelled", "refunded"),
        transitions=(
            Transition(
                name="paid",
                sources=("awaiting_payment",),
                target="in_progress",
                actors=("system",),
                effects=(START_CLOCK,),
                summary="the payment settled: the seller's clock starts",
            ),
            Transition(
                name="cancel_unpaid",
                sources=("awaiting_payment",),
                target="cancelled",
                actors=("buyer",),
                summary="the buyer drops an order that is not paid yet",
            ),
            Transition(
                name="expire",
                sources=("awaiting_payment",),
                target="cancelled",
                actors=("system",),
                summary="nobody paid in time",
            ),
            Transition(
                name="deliver",
                sources=("in_progress",),
                target="delivered",
                actors=("seller",),
                guards=(HAS_DELIVERY,),
                summary=f"the seller delivers (POST {delivery_route}) and marks the order complete",
            ),
            Transition(
                name="accept",
                sources=("delivered",),
                target="completed",
                actors=("buyer",),
                effects=(ACCEPT_DELIVERY, "release_escrow"),
                summary="the buyer accepts the delivery: the seller is paid",
            ),
            Transition(
                name="auto_complete",
                sources=("delivered",),
                target="completed",
                actors=("system",),
                effects=(ACCEPT_DELIVERY, "release_escrow"),
                summary=f"{auto_complete_days} days after delivery the order completes by itself",
            ),
            Transition(
                name="cancel_late",
                sources=("in_progress",),
                target="cancelled",
                actors=("buyer",),
                guards=(DEADLINE_PASSED,),
                effects=("refund_escrow",),
                summary="after the delivery deadline the buyer may cancel: full refund to credit",
            ),
            *extra_transitions,
        ),
        timers=(
            Timer(
                state="awaiting_payment",
                after=timedelta(hours=unpaid_expiry_hours),
                transition="expire",
            ),
            Timer(
                state="delivered",
                after=timedelta(days=auto_complete_days),
                transition="auto_complete",
            ),
        ),
        on_payment="paid",
        on_proof={"submitted": "deliver"},
        reviewable=("completed",),
        disputes=DisputePolicy(
            reasons=dict(report_reasons if report_reasons is not None else REPORT_REASONS),
            states=("delivered",),
            openers=("buyer",),
            window=timedelta(days=report_window_days),
            review_within=timedelta(hours=report_review_hours),
            hold="reported",
            refunded="refunded",
            released="completed",
        ),
        delivery_route=delivery_route,
    )


def deadline_of(order: Any) -> datetime | None:
    """When the seller of a paid fixed-price order must have delivered (None before the
    payment): ``data["deadline"]``, set by ``paid``."""
    deadline = order.data.get("deadline")
    return datetime.fromisoformat(deadline) if deadline else None


# --------------------------------------------------------------------------------------
# Guards and effects (registered by the orders area)
# --------------------------------------------------------------------------------------


async def start_clock(ctx: TransitionContext) -> None:
    """Effect of ``paid``: the delivery deadline counts from the payment (not the order)."""
    order = ctx.order
    deadline = ctx.uow.now + timedelta(days=order.data.get("delivery_days", 1))
    patch = {"deadline": deadline.isoformat(), "paid_at": ctx.uow.now.isoformat()}
    data = await merge_order_data(order, patch)
    ctx.order = msgspec.structs.replace(order, data=data)


def deadline_passed(ctx: TransitionContext) -> str | None:
    """Guard of ``cancel_late``: the deadline has passed."""
    deadline = deadline_of(ctx.order)
    if deadline is not None and ctx.runtime.clock.now() < deadline:
        return f"the seller has until {deadline.isoformat()} to deliver; you can cancel after that"
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


GUARDS = {DEADLINE_PASSED: deadline_passed, HAS_DELIVERY: has_delivery}
EFFECTS = {START_CLOCK: start_clock, ACCEPT_DELIVERY: accept_delivery}


# --------------------------------------------------------------------------------------
# Delivering
# --------------------------------------------------------------------------------------


def is_fixed_price(runtime: Runtime, order: OrderOut) -> bool:
    """Whether the order follows a process :func:`fixed_price_process` built."""
    process = registry(runtime).processes.get((order.process, order.process_version))
    return isinstance(process, FixedPriceProcess)


async def deliver_order(
    runtime: Runtime,
    order_id: int,
    *,
    message: str,
    attachments: list[int],
    caller: MemberOut,
    order: OrderOut | None = None,
) -> OrderOut:
    """The seller delivers a fixed-price order: a message and files (ids uploaded with
    scope ``order:<id>``), kept as its proof, which fires ``deliver``.

    404 for an order the caller may not see, 409 ``no_deliveries`` for an order of
    another process, 403 unless the caller is its seller, 409 unless it is in progress,
    422 without a message and files.  ``order``: the order as :func:`get_order` just gave
    it to ``caller`` (saves reading it again).
    """
    if order is None or order.id != order_id:
        order = await get_order(runtime, order_id, caller=caller)
    if not is_fixed_price(runtime, order):
        raise NoDeliveries(
            f"order {order_id} follows process {order.process}, which takes no deliveries; "
            f"see GET /orders/{order_id} for what it allows",
            extra={"process": order.process},
        )
    if caller.id != order.seller_id:
        raise Forbidden("only the seller delivers the order")
    if order.state != "in_progress":
        raise Conflict(f"order {order_id} is {order.state}; only an order in progress can be delivered")
    if not message.strip() and not attachments:
        raise ValidationFailed([FieldError("message", "a delivery needs a message or files")])
    await submit_proof(
        runtime, order_id, SubmitProof(text=message, attachments=attachments), caller=caller, order=order
    )
    return await get_order(runtime, order_id, caller=caller)


__all__ = [
    "EFFECTS",
    "GUARDS",
    "FixedPriceProcess",
    "NoDeliveries",
    "deadline_of",
    "deliver_order",
    "fixed_price_process",
    "is_fixed_price",
]
