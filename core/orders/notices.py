"""Who the orders area tells about its own events (its ``agorakit_notify``).

The rules that keep members from being told the same thing twice:

- nobody is told about what they did themselves (``event.actor_id``);
- an order transition fired by a proof (its history data has ``proof``) is announced by
  the ``proof.*`` event instead, which carries the reviewer's reason;
- an order transition fired by a payment (``payment`` in its data) is announced to the
  seller only; the payer hears of the payment itself;
- order moves outside the process's transitions (a dispute putting an order on hold or
  resolving it) are announced by the dispute's own events;
- the seller told of a transition is the one it concerns, even when the order has
  changed hands since: the seller a ``clears_seller`` transition took it from, nobody for
  the candidate who took it (they did it themselves).

A batch of events reads its orders and their history ahead, in two statements
(:func:`read_ahead`, entered by notifications through ``agorakit_notices_read_ahead``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from agorakit.db.prepared import Prepared, any_of
from agorakit.events import DomainEvent
from agorakit.money import format_amount
from agorakit.notifications import ACTOR_LABELS, Notice, display_name, humanize
from agorakit.orders.events import (
    OrderCreated,
    OrderTransitioned,
    ProofAccepted,
    ProofCorrectionRequested,
    ProofRejected,
    ProofSubmitted,
)
from agorakit.orders.process_registry import registry
from agorakit.orders.queries import order_by_id
from agorakit.orders.tables import Order, OrderEvent, Proof
from agorakit.runtime import current_unit_of_work

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

ProofReviewed = ProofAccepted | ProofRejected | ProofCorrectionRequested
_OUTCOMES = {
    ProofAccepted: "accepted",
    ProofRejected: "rejected",
    ProofCorrectionRequested: "sent back for a correction",
}


class _Ahead:
    """What :func:`read_ahead` read for a batch of events: order rows by id, and their
    history rows of the batch's transitions by (order, transition)."""

    def __init__(
        self, orders: dict[int, dict[str, Any]], history: dict[tuple[int, str], list[dict[str, Any]]]
    ):
        self.orders = orders
        self.history = history


_AHEAD: ContextVar[_Ahead | None] = ContextVar("agorakit_notices_ahead", default=None)


_AHEAD_ORDERS = Prepared(lambda ids: Order.select().where(any_of(Order.id, ids)).output(load_json=True))
_AHEAD_HISTORY = Prepared(
    lambda ids, names: (
        OrderEvent.select(
            OrderEvent.order, OrderEvent.transition, OrderEvent.seq, OrderEvent.at, OrderEvent.data
        )
        .where(any_of(OrderEvent.order, ids) & any_of(OrderEvent.transition, names))
        .output(load_json=True)
    )
)


@contextlib.asynccontextmanager
async def read_ahead(events: list[DomainEvent]) -> AsyncIterator[None]:
    """Inside the block, the notices of ``events`` find their orders and order history
    read already: two statements for the batch instead of two per order event."""
    uow = current_unit_of_work()
    order_ids = sorted(
        {
            order_id
            for e in events
            if (order_id := _order_id(e)) is not None and (uow is None or uow.held("order", order_id) is None)
        }
    )
    if len(order_ids) < 2:  # one order (or the transaction holds them): nothing to save
        yield
        return
    orders = {row["id"]: row for row in await _AHEAD_ORDERS.run(order_ids)}
    names = sorted({e.payload.transition for e in events if isinstance(e.payload, OrderTransitioned)} - {""})
    history: dict[tuple[int, str], list[dict[str, Any]]] = {}
    if names:
        for row in await _AHEAD_HISTORY.run(order_ids, names):
            history.setdefault((row["order"], row["transition"]), []).append(row)
    token = _AHEAD.set(_Ahead(orders, history))
    try:
        yield
    finally:
        _AHEAD.reset(token)


def _order_id(event: DomainEvent) -> int | None:
    """The order an event of this area is about (None for other events)."""
    payload = event.payload
    if isinstance(payload, OrderCreated | OrderTransitioned | ProofSubmitted | ProofReviewed):
        return payload.order_id
    return None


async def _order(order_id: int | None) -> dict[str, Any] | None:
    if order_id is None:
        return None
    uow = current_unit_of_work()  # notices made in the events' transaction: its rows
    held = uow.held("order", order_id) if uow is not None else None
    if held is not None:
        return held
    ahead = _AHEAD.get()
    if ahead is not None and order_id in ahead.orders:
        return ahead.orders[order_id]
    return await order_by_id(order_id)


async def _facts(order_id: int, transition: str, at: Any) -> dict[str, Any]:
    """The data of the order's latest history row of ``transition`` up to ``at``."""
    uow = current_unit_of_work()
    held = uow.held("order_history", (order_id, transition)) if uow is not None else None
    if held is not None:
        return held
    ahead = _AHEAD.get()
    if ahead is not None and order_id in ahead.orders and transition:
        rows = [r for r in ahead.history.get((order_id, transition), ()) if r["at"] <= at]
        latest = max(rows, key=lambda r: r["seq"], default=None)
        return (latest or {}).get("data") or {}
    history = await _TRANSITION_FACTS.run(order_id, transition, at)
    return (history or {}).get("data") or {}


async def order_created(event: DomainEvent, runtime: Runtime) -> list[Notice]:

    order = await _order(event.payload.order_id)
    if order is None or order["seller_id"] is None or order["seller_id"] == event.actor_id:
        return []  # an open request has no seller yet: its plugin tells the candidates
    return [
        Notice(
            member_id=order["seller_id"],
            category="orders",
            template="order_created",
            context={
                "order_id": order["id"],
                "process": order["process"],
                "buyer_name": await display_name(order["buyer_id"]),
                "amount": format_amount(order["amount"], order["currency"]),
                "currency": order["currency"],
            },
            link=f"/orders/{order['id']}",
        )
    ]


#: the data of an order's latest history row of a transition, up to an instant
_TRANSITION_FACTS = Prepared(
    lambda order, transition, at: (
        OrderEvent.select(OrderEvent.data)
        .where(
            (OrderEvent.order == order)
            & (OrderEvent.transition == transition)
            & (OrderEvent.at <= at)  # written just before the event, in its transaction
        )
        .order_by(OrderEvent.seq, ascending=False)
        .first()
        .output(load_json=True)
    )
)


async def order_transitioned(event: DomainEvent, runtime: Runtime) -> list[Notice]:
    moved = event.payload
    order = await _order(moved.order_id)
    if order is None:
        return []
    name = moved.transition
    process = registry(runtime).processes.get((order["process"], order["process_version"]))
    transition = process.transition(name) if process is not None else None
    if transition is None:
        return []  # a move outside the process (disputes): its own events tell the parties
    facts = await _facts(order["id"], name, event.at)
    if "proof" in facts:
        return []  # the proof.* event tells the other party, with the reviewer's reason
    parties = [("buyer", order["buyer_id"]), ("seller", _seller_told(moved, order))]
    if "payment" in facts:
        parties = [("seller", order["seller_id"])]  # the payer hears of the payment itself
    context = {
        "order_id": order["id"],
        "process": order["process"],
        "transition": name,
        "what": transition.summary or humanize(name),
        "from_state": moved.from_state,
        "to_state": moved.to_state,
        "from_state_label": humanize(moved.from_state),
        "to_state_label": humanize(moved.to_state),
        "actor_role": moved.actor_role,
        "actor": ACTOR_LABELS.get(moved.actor_role, "someone"),
        "reason": facts.get("reason") or facts.get("note") or "",
    }
    return [
        Notice(
            member_id=member_id,
            category="orders",
            template="order_transitioned",
            context={**context, "role": role},
            link=f"/orders/{order['id']}",
        )
        for role, member_id in parties
        if member_id is not None and member_id != event.actor_id
    ]


def _seller_told(moved: OrderTransitioned, order: dict[str, Any]) -> int | None:
    """The seller a transition concerns, whoever holds the order by the time its notice
    is made: the one it took the order from (``former_seller_id``), the candidate who took
    it (the actor, who is not told), else the order's seller."""
    if moved.former_seller_id is not None:
        return moved.former_seller_id
    if moved.actor_role == "candidate":
        return None
    return order["seller_id"]


_PROOF = Prepared(lambda id: Proof.select().where(Proof.id == id).first())


async def proof_submitted(event: DomainEvent, runtime: Runtime) -> list[Notice]:
    order = await _order(event.payload.order_id)
    if order is None or order["buyer_id"] == event.actor_id:
        return []
    return [
        Notice(
            member_id=order["buyer_id"],
            category="orders",
            template="proof_submitted",
            context={"order_id": order["id"], "proof_id": event.payload.proof_id},
            link=f"/orders/{order['id']}/proofs",
        )
    ]


async def proof_reviewed(event: DomainEvent, runtime: Runtime) -> list[Notice]:
    proof = await _PROOF.run(event.payload.proof_id)
    if proof is None or proof["submitted_by"] == event.actor_id:
        return []
    outcome = _OUTCOMES[type(event.payload)]
    return [
        Notice(
            member_id=proof["submitted_by"],
            category="orders",
            template="proof_reviewed",
            context={
                "order_id": proof["order"],
                "proof_id": proof["id"],
                "outcome": outcome,
                "reason": proof["review_reason"] or "",
            },
            link=f"/orders/{proof['order']}/proofs",
        )
    ]


async def order_notices(event: DomainEvent, runtime: Runtime) -> list[Notice]:
    """The orders area's notices for one event (none for events of other areas)."""
    payload = event.payload
    if isinstance(payload, OrderCreated):
        return await order_created(event, runtime)
    if isinstance(payload, OrderTransitioned):
        return await order_transitioned(event, runtime)
    if isinstance(payload, ProofSubmitted):
        return await proof_submitted(event, runtime)
    if isinstance(payload, ProofReviewed):
        return await proof_reviewed(event, runtime)
    return []
