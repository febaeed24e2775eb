"""Who the core tells about its own events (the core's ``agorakit_notify``).

Each function takes a committed event and returns notices; facts that the event's data
does not carry (an order's parties, a payment's amount) are read from
the database.  The rules that keep members from being told the same thing twice:

- nobody is told about what they did themselves (``event.actor_id``), except receipts
  of account changes (welcome, password changed);
- an order transition fired by a proof (its history data has ``proof``) is announced by
  the ``proof.*`` event instead, which carries the reviewer's reason;
- an order transition fired by a payment (``payment`` in its data) is announced to the
  seller only; the payer hears of the payment itself (``payment.completed``) when someone
  else settled it (an operator confirming a bank transfer);
- order moves outside the process's transitions (a dispute putting an order on hold or
  resolving it) are announced by the dispute's own events.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from agorakit.db.prepared import Prepared, any_of
from agorakit.events import DomainEvent
from agorakit.notifications import Notice

ACTOR_LABELS = {
    "buyer": "the buyer",
    "seller": "the seller",
    "candidate": "the seller",
    "operator": "an operator",
    "system": "the site, automatically",
}


def humanize(name: str) -> str:
    """``auto_complete`` → ``auto complete``."""
    return name.replace("_", " ").replace("-", " ").strip()


def _subject_id(event: DomainEvent) -> int | None:
    _, _, value = event.subject.partition(":")
    return int(value) if value.isdigit() else None


@functools.cache
def _display_name_row() -> Prepared:
    from agorakit.accounts.tables import Member

    return Prepared(lambda id: Member.select(Member.display_name).where(Member.id == id).first())


async def display_name(member_id: int | None) -> str:
    if member_id is None:
        return "someone"
    row = await _display_name_row().run(member_id)
    return row["display_name"] if row else "a former member"


# --------------------------------------------------------------------------------------
# Orders and proofs
# --------------------------------------------------------------------------------------


class _Ahead:
    """What :func:`read_ahead` read for a batch of events: order rows by id, and their
    history rows of the batch's transitions by (order, transition)."""

    def __init__(
        self, orders: dict[int, dict[str, Any]], history: dict[tuple[int, str], list[dict[str, Any]]]
    ):
        self.orders = orders
        self.history = history


_AHEAD: ContextVar[_Ahead | None] = ContextVar("agorakit_notices_ahead", default=None)


@functools.cache
def _ahead_queries() -> tuple[Prepared, Prepared]:
    from agorakit.orders.tables import Order, OrderEvent

    orders = Prepared(lambda ids: Order.select().where(any_of(Order.id, ids)).output(load_json=True))
    history = Prepared(
        lambda ids, names: (
            OrderEvent.select(
                OrderEvent.order, OrderEvent.transition, OrderEvent.seq, OrderEvent.at, OrderEvent.data
            )
            .where(any_of(OrderEvent.order, ids) & any_of(OrderEvent.transition, names))
            .output(load_json=True)
        )
    )
    return orders, history


@contextlib.asynccontextmanager
async def read_ahead(events: list[DomainEvent]) -> AsyncIterator[None]:
    """Inside the block, the notices of ``events`` find their orders and order history
    read already: two statements for the batch instead of two per order event."""
    order_ids = sorted(
        {i for e in events if e.subject.startswith("order:") and (i := _subject_id(e)) is not None}
    )
    if len(order_ids) < 2:  # one order: nothing to save
        yield
        return
    orders_query, history_query = _ahead_queries()
    orders = {row["id"]: row for row in await orders_query.run(order_ids)}
    names = sorted({e.data.get("transition") for e in events if e.name == "order.transitioned"} - {None, ""})
    history: dict[tuple[int, str], list[dict[str, Any]]] = {}
    if names:
        for row in await history_query.run(order_ids, names):
            history.setdefault((row["order"], row["transition"]), []).append(row)
    token = _AHEAD.set(_Ahead(orders, history))
    try:
        yield
    finally:
        _AHEAD.reset(token)


async def _order(order_id: int | None) -> dict[str, Any] | None:
    from agorakit.orders.service import order_by_id

    if order_id is None:
        return None
    ahead = _AHEAD.get()
    if ahead is not None and order_id in ahead.orders:
        return ahead.orders[order_id]
    return await order_by_id(order_id)


async def _facts(order_id: int, transition: str, at: Any) -> dict[str, Any]:
    """The data of the order's latest history row of ``transition`` up to ``at``."""
    ahead = _AHEAD.get()
    if ahead is not None and order_id in ahead.orders and transition:
        rows = [r for r in ahead.history.get((order_id, transition), ()) if r["at"] <= at]
        latest = max(rows, key=lambda r: r["seq"], default=None)
        return (latest or {}).get("data") or {}
    history = await _transition_facts().run(order_id, transition, at)
    return (history or {}).get("data") or {}


async def order_created(event: DomainEvent, runtime: Any) -> list[Notice]:
    from agorakit.money.amounts import format_amount

    order = await _order(_subject_id(event))
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


@functools.cache
def _transition_facts() -> Prepared:
    """The data of an order's latest history row of a transition, up to an instant."""
    from agorakit.orders.tables import OrderEvent

    return Prepared(
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


async def order_transitioned(event: DomainEvent, runtime: Any) -> list[Notice]:
    from agorakit.orders.service import registry

    order = await _order(_subject_id(event))
    if order is None:
        return []
    data = event.data
    name = data.get("transition", "")
    process = registry(runtime).processes.get((order["process"], order["process_version"]))
    transition = process.transition(name) if process is not None else None
    if transition is None:
        return []  # a move outside the process (disputes): its own events tell the parties
    facts = await _facts(order["id"], name, event.at)
    if "proof" in facts:
        return []  # the proof.* event tells the other party, with the reviewer's reason
    parties = [("buyer", order["buyer_id"]), ("seller", order["seller_id"])]
    if "payment" in facts:
        parties = [("seller", order["seller_id"])]  # the payer hears of the payment itself
    context = {
        "order_id": order["id"],
        "process": order["process"],
        "transition": name,
        "what": transition.summary or humanize(name),
        "from_state": data.get("from_state"),
        "to_state": data.get("to_state"),
        "from_state_label": humanize(data.get("from_state") or ""),
        "to_state_label": humanize(data.get("to_state") or ""),
        "actor_role": data.get("actor_role"),
        "actor": ACTOR_LABELS.get(data.get("actor_role", ""), "someone"),
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


async def _proof(proof_id: Any) -> dict[str, Any] | None:
    from agorakit.orders.tables import Proof

    if not isinstance(proof_id, int):
        return None
    return await Proof.select().where(Proof.id == proof_id).first()


async def proof_submitted(event: DomainEvent, runtime: Any) -> list[Notice]:
    order = await _order(_subject_id(event))
    if order is None or order["buyer_id"] == event.actor_id:
        return []
    return [
        Notice(
            member_id=order["buyer_id"],
            category="orders",
            template="proof_submitted",
            context={"order_id": order["id"], "proof_id": event.data.get("proof")},
            link=f"/orders/{order['id']}/proofs",
        )
    ]


async def proof_reviewed(event: DomainEvent, runtime: Any) -> list[Notice]:
    proof = await _proof(event.data.get("proof"))
    if proof is None or proof["submitted_by"] == event.actor_id:
        return []
    outcome = {
        "proof.accepted": "accepted",
        "proof.rejected": "rejected",
        "proof.correction_requested": "sent back for a correction",
    }[event.name]
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


# --------------------------------------------------------------------------------------
# Money
# --------------------------------------------------------------------------------------


@functools.cache
def _payment_row() -> Prepared:
    from agorakit.money.tables import Payment

    return Prepared(lambda id: Payment.select().where(Payment.id == id).first())


async def _payment_notice(event: DomainEvent, template: str, **context: Any) -> list[Notice]:
    from agorakit.money.amounts import format_amount

    payment_id = _subject_id(event)
    row = await _payment_row().run(payment_id) if payment_id else None
    if row is None:
        return []
    ref = row["escrow_ref"] or ""
    order_id = int(ref.split(":", 1)[1]) if ref.startswith("order:") and ref[6:].isdigit() else None
    return [
        Notice(
            member_id=row["payer_id"],
            category="money",
            template=template,
            context={
                "payment_id": row["id"],
                "reference": row["reference"],
                "method": row["method"],
                "amount": format_amount(row["amount"], row["currency"]),
                "currency": row["currency"],
                "order_id": order_id,
                **context,
            },
            link=f"/orders/{order_id}" if order_id else f"/payments/{row['id']}",
        )
    ]


async def payment_completed(event: DomainEvent, runtime: Any) -> list[Notice]:
    """The payer learns that someone else settled their payment (a confirmed bank transfer)."""
    payer_id = event.data.get("payer_id")
    if payer_id is None or event.actor_id == payer_id:
        return []  # paid by the member themselves (their balance): they know
    return await _payment_notice(event, "payment_settled")


async def payment_expired(event: DomainEvent, runtime: Any) -> list[Notice]:
    return await _payment_notice(event, "payment_expired")


async def payment_refunded(event: DomainEvent, runtime: Any) -> list[Notice]:
    """The payer learns that money that arrived for nothing was handed back as credit
    (whoever settled it: the payment is never reported completed)."""
    return await _payment_notice(event, "payment_refunded", reason=event.data.get("reason") or "")


async def withdrawal_finished(event: DomainEvent, runtime: Any) -> list[Notice]:
    from agorakit.money.amounts import format_amount
    from agorakit.money.tables import Withdrawal

    withdrawal_id = _subject_id(event)
    row = await Withdrawal.select().where(Withdrawal.id == withdrawal_id).first() if withdrawal_id else None
    if row is None or row["member_id"] == event.actor_id:
        return []
    completed = event.name == "withdrawal.completed"
    return [
        Notice(
            member_id=row["member_id"],
            category="money",
            template="withdrawal_completed" if completed else "withdrawal_failed",
            context={
                "withdrawal_id": row["id"],
                "method": row["method"],
                "amount": format_amount(row["amount"], row["currency"]),
                "fee": format_amount(row["fee"], row["currency"]),
                "currency": row["currency"],
                "reason": event.data.get("reason") or row["failure_reason"] or "",
            },
            link=f"/withdrawals/{row['id']}",
        )
    ]


# --------------------------------------------------------------------------------------
# Accounts
# --------------------------------------------------------------------------------------


def _account_notice(template: str) -> Callable[[DomainEvent, Any], Awaitable[list[Notice]]]:
    async def notices(event: DomainEvent, runtime: Any) -> list[Notice]:
        member_id = _subject_id(event)
        if member_id is None:
            return []
        return [Notice(member_id=member_id, category="account", template=template, link="/me")]

    notices.__name__ = template
    return notices


#: event name → the function that says who to tell
CORE_NOTICES: dict[str, Callable[[DomainEvent, Any], Awaitable[list[Notice]]]] = {
    "order.created": order_created,
    "order.transitioned": order_transitioned,
    "proof.submitted": proof_submitted,
    "proof.accepted": proof_reviewed,
    "proof.rejected": proof_reviewed,
    "proof.correction_requested": proof_reviewed,
    "payment.completed": payment_completed,
    "payment.expired": payment_expired,
    "payment.refunded": payment_refunded,
    "withdrawal.completed": withdrawal_finished,
    "withdrawal.failed": withdrawal_finished,
    "member.registered": _account_notice("member_welcome"),
    "member.password_changed": _account_notice("member_password_changed"),
    "member.password_reset": _account_notice("member_password_changed"),
    "member.reactivated": _account_notice("member_reactivated"),
}


async def core_notices(event: DomainEvent, runtime: Any) -> list[Notice]:
    """The core's notices for one event (none for events it does not describe)."""
    function = CORE_NOTICES.get(event.name)
    return await function(event, runtime) if function else []
