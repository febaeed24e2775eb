"""The fixed-price order process, which several models share through the core.

An order is placed at a fixed price and waits for its payment (``awaiting_payment``);
the payment's settlement starts the seller's delivery clock (``in_progress``, the
deadline is the payment time plus ``data["delivery_days"]``, or ``data["delivery_hours"]``
for a process counting in hours); the seller delivers a message and files
(``delivered``), which the buyer accepts or which completes by itself after
``auto_complete_days`` (``completed``: the escrow is released to the seller, minus the
fees agreed when the order was placed).  After the deadline the buyer may cancel an
undelivered order (full refund to credit); an order nobody pays is cancelled after
``unpaid_expiry_hours``; a delivery can be reported (disputed) for ``report_window_days``.

A *pooled* process sells to no one in particular: the paid order waits in ``open``
without a seller, a candidate locks it (exactly one of concurrent candidates wins) and
their clock starts then; before the deadline the seller may release it back to the pool,
after it the buyer may return it to the pool (or cancel it); while it waits the buyer
may cancel it, and with ``open_expiry_days`` it is cancelled when nobody takes it.

:func:`fixed_price_process` builds such a process for a model plugin, which passes its
settings and may add transitions of its own, and guards and effects of its own to the
core's transitions.  The guards and effects it names are the core's, registered by the
orders area (``agorakit_order_guards``/``_effects``, :mod:`.fixed_price_rules`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

import msgspec

from agorakit.orders.process import DisputePolicy, Process, ProcessError, Timer, Transition

#: the reasons a delivery can be reported for, unless the plugin names its own
REPORT_REASONS = {
    "not_delivered": "The order was marked complete without a delivery",
    "not_as_described": "The delivery is not what was ordered",
}

#: the core's guards and effects the process names
START_CLOCK = "fixed_price_start_clock"
STOP_CLOCK = "fixed_price_stop_clock"
RECORD_PAYMENT = "fixed_price_record_payment"
DEADLINE_PASSED = "fixed_price_deadline_passed"
DEADLINE_NOT_PASSED = "fixed_price_deadline_not_passed"
HAS_DELIVERY = "fixed_price_has_delivery"
ACCEPT_DELIVERY = "fixed_price_accept_delivery"

DeliveryUnit = Literal["days", "hours"]


class FixedPriceProcess(Process, frozen=True, kw_only=True):
    """A process :func:`fixed_price_process` built: where its orders are delivered, and
    what its delivery times count in."""

    #: the route a seller delivers with, ``{id}`` standing for the order's id
    delivery_route: str = "/orders/{id}/delivery"
    #: ``days``: the deadline is the clock's start plus ``data["delivery_days"]``;
    #: ``hours``: plus ``data["delivery_hours"]``
    delivery_unit: DeliveryUnit = "days"
    #: whether paid orders wait in ``open`` for a candidate to lock them
    pooled: bool = False


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
    pooled: bool = False,
    delivery_unit: DeliveryUnit = "days",
    extra_guards: Mapping[str, tuple[str, ...]] | None = None,
    extra_effects: Mapping[str, tuple[str, ...]] | None = None,
    open_expiry_days: int | None = None,
    seller_cancel: bool = False,
    report_after_completion_days: int | None = None,
) -> FixedPriceProcess:
    """The fixed-price order process named ``name`` (see the module), with the plugin's
    numbers and its own ``extra_transitions`` (e.g. a mutual cancellation).

    ``delivery_route`` is the route the plugin's sellers deliver with (it is named in the
    refusal of ``deliver`` without a delivery); the core's ``POST /orders/{id}/delivery``
    works for every order of the process.  ``delivery_unit`` says whether an order's
    delivery time is ``data["delivery_days"]`` or ``data["delivery_hours"]``.

    ``pooled``: paid orders wait in ``open`` for a candidate to ``lock`` them (the clock
    starts then); the seller may ``release`` one before the deadline, the buyer
    ``return_to_pool`` it after the deadline, both handing it back to the pool without a
    seller; the buyer or an operator may ``cancel_open`` it (full refund), and with
    ``open_expiry_days`` it is cancelled (``expire_open``, full refund) once it has waited
    that long in ``open``.

    ``seller_cancel``: the seller may cancel a paid order they have not delivered
    (``seller_cancel`` from ``in_progress``, before or after the deadline): full refund of
    the escrow to the buyer's credit.  Not with ``pooled``, where the seller's way out is
    ``release`` (the order goes back to the pool for another seller).

    ``report_after_completion_days``: the buyer may still report a ``completed`` order for
    that many days after it completed (the dispute policy's ``after_states``); an
    operator's refund then comes back from the seller and the site's fees
    (:mod:`agorakit.disputes.clawback`).

    ``extra_guards``/``extra_effects`` map names of the process's transitions to the
    names of the plugin's own guards and effects (``agorakit_order_guards``/``_effects``)
    appended to theirs, e.g. ``{"lock": ("prepaid_lock_limit",)}``.  Raises
    :class:`ProcessError` for a transition the process does not have, an unknown
    ``delivery_unit``, or ``open_expiry_days`` without ``pooled``.
    """
    if delivery_unit not in ("days", "hours"):
        raise ProcessError(f"process {name}: delivery_unit is 'days' or 'hours', not {delivery_unit!r}")
    if open_expiry_days is not None and not pooled:
        raise ProcessError(f"process {name}: open_expiry_days applies to pooled processes only")
    if seller_cancel and pooled:
        raise ProcessError(f"process {name}: a pooled process's seller releases the order; no seller_cancel")
    unit = delivery_unit.removesuffix("s")
    transitions: list[Transition] = [
        Transition(
            name="paid",
            sources=("awaiting_payment",),
            target="open" if pooled else "in_progress",
            actors=("system",),
            effects=(RECORD_PAYMENT,) if pooled else (START_CLOCK,),
            summary="the payment settled: the order waits for a seller to take it"
            if pooled
            else "the payment settled: the seller's clock starts",
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
    ]
    if pooled:
        transitions += _pool_transitions(unit, open_expiry_days)
    transitions += [
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
        *((SELLER_CANCEL,) if seller_cancel else ()),
        *extra_transitions,
    ]
    timers = [
        Timer(state="awaiting_payment", after=timedelta(hours=unpaid_expiry_hours), transition="expire"),
        Timer(state="delivered", after=timedelta(days=auto_complete_days), transition="auto_complete"),
    ]
    if open_expiry_days is not None:
        timers.append(Timer(state="open", after=timedelta(days=open_expiry_days), transition="expire_open"))
    states = ("awaiting_payment", *(("open",) if pooled else ()), "in_progress", "delivered", "reported")
    return FixedPriceProcess(
        name=name,
        version=version,
        states=(*states, "completed", "cancelled", "refunded"),
        initial="awaiting_payment",
        final=("completed", "cancelled", "refunded"),
        transitions=_with_extras(name, tuple(transitions), extra_guards or {}, extra_effects or {}),
        timers=tuple(timers),
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
            after_states=("completed",) if report_after_completion_days else (),
            after_window=timedelta(days=report_after_completion_days or 14),
        ),
        delivery_route=delivery_route,
        delivery_unit=delivery_unit,
        pooled=pooled,
    )


#: the seller cancels a paid order they have not delivered (``seller_cancel=True``)
SELLER_CANCEL = Transition(
    name="seller_cancel",
    sources=("in_progress",),
    target="cancelled",
    actors=("seller",),
    effects=("refund_escrow",),
    summary="the seller cancels an order they have not delivered: full refund to the buyer's credit",
)


def _pool_transitions(unit: str, open_expiry_days: int | None) -> list[Transition]:
    """The transitions of a pooled process between ``open`` and ``in_progress``, and out
    of ``open``."""
    pool = [
        Transition(
            name="lock",
            sources=("open",),
            target="in_progress",
            actors=("candidate",),
            effects=(START_CLOCK,),
            summary=f"a seller takes the order: their clock starts (the order's delivery {unit}s)",
        ),
        Transition(
            name="release",
            sources=("in_progress",),
            target="open",
            actors=("seller",),
            guards=(DEADLINE_NOT_PASSED,),
            effects=(STOP_CLOCK,),
            clears_seller=True,
            summary="before the deadline the seller hands the order back: it waits for another seller",
        ),
        Transition(
            name="return_to_pool",
            sources=("in_progress",),
            target="open",
            actors=("buyer",),
            guards=(DEADLINE_PASSED,),
            effects=(STOP_CLOCK,),
            clears_seller=True,
            summary="after the deadline the buyer takes the order from its seller: it waits for another",
        ),
        Transition(
            name="cancel_open",
            sources=("open",),
            target="cancelled",
            actors=("buyer", "operator"),
            effects=("refund_escrow",),
            summary="the buyer (or an operator) withdraws the order while nobody has taken it: full refund to credit",
        ),
    ]
    if open_expiry_days is not None:
        pool.append(
            Transition(
                name="expire_open",
                sources=("open",),
                target="cancelled",
                actors=("system",),
                effects=("refund_escrow",),
                summary=f"nobody took the order within {open_expiry_days} days: full refund to credit",
            )
        )
    return pool


def _with_extras(
    name: str,
    transitions: tuple[Transition, ...],
    guards: Mapping[str, tuple[str, ...]],
    effects: Mapping[str, tuple[str, ...]],
) -> tuple[Transition, ...]:
    """``transitions`` with the plugin's guards and effects appended to the named ones."""
    known = [t.name for t in transitions]
    for what, extras in (("extra_guards", guards), ("extra_effects", effects)):
        unknown = sorted(set(extras) - set(known))
        if unknown:
            message = (
                f"process {name}: {what} names transition(s) {', '.join(map(repr, unknown))} "
                f"it does not have; it has: {', '.join(known)}"
            )
            raise ProcessError(message)
    return tuple(
        msgspec.structs.replace(
            t,
            guards=(*t.guards, *guards.get(t.name, ())),
            effects=(*t.effects, *effects.get(t.name, ())),
        )
        if t.name in guards or t.name in effects
        else t
        for t in transitions
    )


def deadline_of(order: Any) -> datetime | None:
    """When the seller of a paid fixed-price order must have delivered (None before the
    clock starts, and while a pooled order waits for a seller): ``data["deadline"]``, set
    by ``paid`` (``lock`` in a pooled process)."""
    deadline = order.data.get("deadline")
    return datetime.fromisoformat(deadline) if deadline else None


__all__ = [
    "ACCEPT_DELIVERY",
    "DEADLINE_NOT_PASSED",
    "DEADLINE_PASSED",
    "HAS_DELIVERY",
    "RECORD_PAYMENT",
    "REPORT_REASONS",
    "START_CLOCK",
    "STOP_CLOCK",
    "FixedPriceProcess",
    "deadline_of",
    "fixed_price_process",
]
