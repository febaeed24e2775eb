"""The order engine: create orders, fire transitions, run timers, keep proofs.

Firing a transition is one unit of work: the caller's role is worked out (buyer, seller,
operator, or system for timers), the transition is checked against the order's state and
the process's actors and guards, the order moves with an optimistic version check (of two
concurrent transitions from one state exactly one wins; the other gets a 409), the history
gets an event, the old state's timers are cancelled and the new state's are set, and the
transition's effects (ledger postings, ...) run — all committed together or not at all.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import msgspec

from agorakit.accounts.roles import is_operator
from agorakit.db import is_lock_conflict
from agorakit.db.prepared import Prepared, PreparedInsert, any_of, none_of
from agorakit.errors import AgorakitError, Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from agorakit.hooks import collect, maybe_await
from agorakit.money import ledger
from agorakit.money.amounts import money
from agorakit.money.fees import Quote, compute_fees
from agorakit.orders.process import Process, ProcessError, Transition
from agorakit.orders.schemas import (
    ItemIn,
    OrderEventOut,
    OrderItemOut,
    OrderOut,
    ProofOut,
    SubmitProof,
    TimerOut,
)
from agorakit.orders.tables import Order, OrderEvent, OrderItem, OrderTimer, Proof
from agorakit.pagination import decode_cursor, encode_cursor
from agorakit.settings import ConfigError

log = logging.getLogger("agorakit.orders")

#: Attempts before a failing timer is marked ``failed`` (and shown to operators).
TIMER_MAX_ATTEMPTS = 5


class TransitionNotAllowed(Conflict):
    code = "transition_not_allowed"
    title = "The transition is not allowed in the order's state"


class ActorNotAllowed(Forbidden):
    code = "actor_not_allowed"
    title = "You may not fire this transition"


class GuardFailed(Conflict):
    code = "guard_failed"
    title = "A condition of the transition is not met"


class UnknownTransition(NotFound):
    code = "unknown_transition"
    title = "The process has no such transition"


# --------------------------------------------------------------------------------------
# Registry: processes, guards and effects, collected once per runtime
# --------------------------------------------------------------------------------------


class Registry:
    """The processes, guards and effects of a site, checked against each other."""

    def __init__(self, runtime: Any) -> None:
        try:
            self._collect(runtime)
        except (ValueError, ProcessError) as exc:
            raise ConfigError(f"{runtime.settings.source}: {exc}") from exc

    def _collect(self, runtime: Any) -> None:
        self.processes: dict[tuple[str, int], Process] = {}
        for process in collect(runtime.pm.hook.agorakit_processes(runtime=runtime)):
            key = (process.name, process.version)
            if key in self.processes:
                message = f"two plugins define process {process.name} v{process.version}"
                raise ValueError(message)
            self.processes[key] = process
        self.guards = _named(runtime.pm.hook.agorakit_order_guards(), "guard")
        self.effects = _named(runtime.pm.hook.agorakit_order_effects(), "effect")
        for process in self.processes.values():
            for t in process.transitions:
                for name in t.guards:
                    if name not in self.guards:
                        raise ValueError(f"process {process.name}: no plugin provides guard {name!r}")
                for name in t.effects:
                    if name not in self.effects:
                        raise ValueError(f"process {process.name}: no plugin provides effect {name!r}")

    def latest(self, name: str) -> Process:
        versions = [p for (n, _), p in self.processes.items() if n == name]
        if not versions:
            message = f"there is no process {name!r}"
            raise LookupError(message)
        return max(versions, key=lambda p: p.version)

    def get(self, name: str, version: int) -> Process:
        process = self.processes.get((name, version))
        if process is None:
            message = (
                f"this order follows process {name} v{version}, which no enabled plugin provides any more; "
                "re-enable the plugin version that defines it"
            )
            raise Conflict(message)
        return process


def _named(results: list[dict[str, Any] | None], what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for result in results:
        for name, function in (result or {}).items():
            if name in out:
                message = f"two plugins provide an order {what} named {name!r}"
                raise ValueError(message)
            out[name] = function
    return out


def registry(runtime: Any) -> Registry:
    found = getattr(runtime, "_orders_registry", None)
    if found is None:
        found = runtime._orders_registry = Registry(runtime)
    return found


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


_ORDER = Prepared(lambda id: Order.select().where(Order.id == id).first().output(load_json=True))
#: ``FOR UPDATE`` on PostgreSQL; SQLite has no row locks (its one writer serialises instead)
_ORDER_FOR_UPDATE = Prepared(
    lambda id: Order.select().where(Order.id == id).first().output(load_json=True).lock_rows()
)
_ITEMS = Prepared(
    lambda order: (
        OrderItem.select().where(OrderItem.order == order).order_by(OrderItem.position).output(load_json=True)
    )
)


async def _order_row(order_id: int, *, for_update: bool = False) -> dict[str, Any]:
    locking = for_update and Order._meta.db.engine_type == "postgres"
    row = await (_ORDER_FOR_UPDATE if locking else _ORDER).run(order_id)
    if row is None:
        raise NotFound(f"there is no order {order_id}")
    return row


async def order_by_id(order_id: int) -> dict[str, Any] | None:
    """An order's row (JSON decoded), or None."""
    return await _ORDER.run(order_id)


async def locked_order_row(order_id: int) -> dict[str, Any]:
    """An order's row, locked for the rest of the transaction (``FOR UPDATE`` on PostgreSQL)."""
    return await _order_row(order_id, for_update=True)


async def _to_order(
    row: dict[str, Any],
    *,
    roles: frozenset[str] = frozenset(),
    process: Process | None = None,
    items: list[dict[str, Any]] | None = None,
) -> OrderOut:
    """The API view of an order row; ``items`` when the caller has them (they never change
    after the order is created)."""
    if items is None:
        items = await _ITEMS.run(row["id"])
    currency = row["currency"]
    return OrderOut(
        id=row["id"],
        process=row["process"],
        process_version=row["process_version"],
        state=row["state"],
        version=row["version"],
        buyer_id=row["buyer_id"],
        seller_id=row["seller_id"],
        listing_id=row["listing_id"],
        amount=money(row["amount"], currency),
        items=[
            OrderItemOut(
                position=i["position"],
                kind=i["kind"],
                description=i["description"],
                unit_price=money(i["unit_price"], currency),
                quantity=i["quantity"],
                amount=money(i["amount"], currency),
            )
            for i in items
        ],
        data=row["data"] or {},
        state_entered_at=row["state_entered_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        allowed_transitions=process.available(row["state"], roles) if process and roles else [],
    )


def roles_of(order: dict[str, Any], caller: Any | None, process: Process | None = None) -> frozenset[str]:
    """What the caller is to this order: buyer, seller, operator, or system (no caller).

    ``candidate`` only while the order has no seller and its process lets a candidate
    fire something from the current state: other orders stay invisible to non-parties.
    """
    if caller is None:
        return frozenset({"system"})
    roles = set()
    if caller.id == order["buyer_id"]:
        roles.add("buyer")
    if order["seller_id"] is not None and caller.id == order["seller_id"]:
        roles.add("seller")
    if is_operator(caller):
        roles.add("operator")
    if (
        order["seller_id"] is None
        and caller.id != order["buyer_id"]
        and getattr(caller, "status", "active") == "active"
        and process is not None
        and process.available(order["state"], frozenset({"candidate"}))
    ):
        roles.add("candidate")  # may take the order (and become its seller)
    return frozenset(roles)


async def get_order(runtime: Any, order_id: int, *, caller: Any | None) -> OrderOut:
    """An order for one of its parties or an operator; 404 for anyone else."""
    row = await _order_row(order_id)
    process = registry(runtime).processes.get((row["process"], row["process_version"]))
    roles = roles_of(row, caller, process)
    if not roles:
        raise NotFound(f"there is no order {order_id}")
    return await _to_order(row, roles=roles, process=process)


async def visible_row(runtime: Any, order_id: int, *, caller: Any | None) -> dict[str, Any]:
    """The order's row if ``caller`` may see the order (as :func:`get_order` decides), else
    a 404: for a check that needs no more than the row."""
    row = await _order_row(order_id)
    if not roles_of(row, caller, registry(runtime).processes.get((row["process"], row["process_version"]))):
        raise NotFound(f"there is no order {order_id}")
    return row


async def history(runtime: Any, order_id: int, *, caller: Any | None) -> list[OrderEventOut]:
    await get_order(runtime, order_id, caller=caller)
    rows = (
        await OrderEvent.select()
        .where(OrderEvent.order == order_id)
        .order_by(OrderEvent.seq)
        .output(load_json=True)
    )
    return [
        OrderEventOut(
            seq=r["seq"],
            transition=r["transition"],
            from_state=r["from_state"],
            to_state=r["to_state"],
            actor_role=r["actor_role"],
            actor_id=r["actor_id"],
            data=r["data"] or {},
            at=r["at"],
        )
        for r in rows
    ]


async def list_orders(
    runtime: Any,
    *,
    caller: Any,
    cursor: str | None,
    limit: int,
    role: str | None = None,
    state: str | None = None,
) -> tuple[list[OrderOut], str | None]:
    """The caller's orders (as buyer, seller or either), newest first."""
    query = Order.select().order_by(Order.id, ascending=False).limit(limit + 1)
    if role == "buyer":
        query = query.where(Order.buyer_id == caller.id)
    elif role == "seller":
        query = query.where(Order.seller_id == caller.id)
    else:
        query = query.where((Order.buyer_id == caller.id) | (Order.seller_id == caller.id))
    if state:
        query = query.where(Order.state == state)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Order.id < position["id"])
    rows = await query.output(load_json=True)
    reg = registry(runtime)
    items = [
        await _to_order(
            r,
            roles=roles_of(r, caller, reg.processes.get((r["process"], r["process_version"]))),
            process=reg.processes.get((r["process"], r["process_version"])),
        )
        for r in rows[:limit]
    ]
    return items, encode_cursor({"id": items[-1].id}) if len(rows) > limit else None


# --------------------------------------------------------------------------------------
# Creating and transitioning
# --------------------------------------------------------------------------------------


@dataclass
class TransitionContext:
    """What guards and effects see."""

    runtime: Any
    uow: Any
    order: OrderOut
    process: Process
    transition: Transition
    actor_role: str
    actor_id: int | None
    data: dict[str, Any] = field(default_factory=dict)


def set_form(many: Any) -> Any:
    """Give a guard or an effect its set form, which the worker uses to fire a batch of
    due timers' transitions together instead of one order at a time::

        async def release_escrow_many(contexts): ...  # one posting call for all of them

        @set_form(release_escrow_many)
        async def release_escrow(ctx): ...

    ``many(contexts)`` gets the :class:`TransitionContext` of every order of the batch
    (one process, one transition, in order) and must leave the database as calling the
    single form on each in turn would: an effect returns nothing, a guard returns one
    reason (or None) per context.  A transition fires as a set only when all its guards
    and effects have one; if ``many`` raises, the batch's set is rolled back and its
    orders fire one at a time, so the single form decides what fails.
    """

    def attach(single: Any) -> Any:
        single.many = many
        return single

    return attach


def fires_as_set(runtime: Any, transition: Transition) -> bool:
    """Whether the worker may fire ``transition`` on a batch of orders at once."""
    reg = registry(runtime)
    return all(callable(getattr(reg.guards[name], "many", None)) for name in transition.guards) and all(
        callable(getattr(reg.effects[name], "many", None)) for name in transition.effects
    )


async def create_order(
    runtime: Any,
    *,
    process: str,
    buyer_id: int,
    currency: str,
    items: list[ItemIn],
    seller_id: int | None = None,
    listing_id: int | None = None,
    data: dict[str, Any] | None = None,
    uow: Any | None = None,
    caller: Any | None = None,
) -> OrderOut:
    """Create an order in its process's initial state (inside ``uow`` if given).

    Returns the order as :func:`get_order` shows it to ``caller`` (its allowed
    transitions), or without them when no caller is given.
    """
    if not items:
        raise ValidationFailed([FieldError("items", "an order needs at least one item")])
    for index, item in enumerate(items):
        if item.unit_price < 0 or item.quantity < 1:
            message = "unit price must not be negative and quantity must be at least 1"
            raise ValidationFailed([FieldError(f"items[{index}]", message)])
    definition = registry(runtime).latest(process)
    if uow is None:
        async with runtime.unit_of_work() as own:
            order_id = await _create(own, definition, buyer_id, seller_id, listing_id, currency, items, data)
    else:
        order_id = await _create(uow, definition, buyer_id, seller_id, listing_id, currency, items, data)
    row = await _order_row(order_id)
    if caller is None:
        return await _to_order(row)
    process = registry(runtime).processes.get((row["process"], row["process_version"]))
    return await _to_order(row, roles=roles_of(row, caller, process), process=process)


def quote_order(
    runtime: Any,
    *,
    process: str,
    amount: int,
    currency: str,
    buyer_id: int,
    seller_id: int | None,
    data: dict[str, Any],
) -> dict[str, Any]:
    """The fee breakdown agreed when the order is placed (kept in ``data["quote"]``).

    ``data["fee_kind"]`` names the kind fee plugins see (default: the process name);
    ``data["charge_fees"] = False`` (e.g. free offers) means no fee at all.
    """
    if not data.get("charge_fees", True):
        return {"buyer_total": amount, "seller_net": amount, "platform_total": 0, "lines": []}
    breakdown = compute_fees(
        runtime.pm,
        Quote(
            amount=amount,
            currency=currency,
            kind=data.get("fee_kind", process),
            buyer_id=buyer_id,
            seller_id=seller_id,
        ),
    )
    return {
        "buyer_total": breakdown.buyer_total,
        "seller_net": breakdown.seller_net,
        "platform_total": breakdown.platform_total,
        "lines": msgspec.to_builtins(breakdown.lines),
    }


_INSERT_ORDER = PreparedInsert(Order)
_INSERT_ITEMS = PreparedInsert(OrderItem, returning=())


async def _create(uow, definition, buyer_id, seller_id, listing_id, currency, items, data) -> int:
    now = uow.now
    amount = sum(item.unit_price * item.quantity for item in items)
    data = dict(data or {})
    data["quote"] = quote_order(
        uow.runtime,
        process=definition.name,
        amount=amount,
        currency=currency,
        buyer_id=buyer_id,
        seller_id=seller_id,
        data=data,
    )
    rows = await _INSERT_ORDER.run(
        {
            "process": definition.name,
            "process_version": definition.version,
            "state": definition.initial,
            "version": 1,
            "buyer_id": buyer_id,
            "seller_id": seller_id,
            "listing_id": listing_id,
            "currency": currency,
            "amount": amount,
            "data": data,
            "state_entered_at": now,
            "created_at": now,
            "updated_at": now,
        }
    )
    order_id = rows[0]["id"]
    await _INSERT_ITEMS.run(
        *[
            {
                "order": order_id,
                "position": index,
                "kind": item.kind,
                "description": item.description,
                "unit_price": item.unit_price,
                "quantity": item.quantity,
                "amount": item.unit_price * item.quantity,
            }
            for index, item in enumerate(items, start=1)
        ]
    )
    await _INSERT_HISTORY.run(
        {
            "order": order_id,
            "seq": 1,
            "transition": "create",
            "from_state": None,
            "to_state": definition.initial,
            "actor_role": "buyer",
            "actor_id": buyer_id,
            "data": {},
            "at": now,
        }
    )
    await _set_timers(uow, order_id, definition, definition.initial)
    uow.record(
        "order.created",
        subject=f"order:{order_id}",
        actor_id=buyer_id,
        process=definition.name,
        state=definition.initial,
    )
    return order_id


async def fire(
    runtime: Any, order_id: int, transition: str, *, caller: Any | None, data: dict[str, Any] | None = None
) -> OrderOut:
    """Fire ``transition`` on an order as ``caller`` (None = system); one unit of work."""
    async with runtime.unit_of_work() as uow:
        row, items = await _fire(uow, order_id, transition, caller=caller, data=data)
    process = registry(runtime).get(row["process"], row["process_version"])
    return await _to_order(row, roles=roles_of(row, caller, process), process=process, items=items)


async def fire_in(
    uow: Any, order_id: int, name: str, *, caller: Any | None, data: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Fire a transition inside an existing unit of work; returns the order's new row."""
    return (await _fire(uow, order_id, name, caller=caller, data=data))[0]


async def _fire(
    uow: Any,
    order_id: int,
    name: str,
    *,
    caller: Any | None,
    data: dict[str, Any] | None,
    row: dict[str, Any] | None = None,
    items: list[dict[str, Any]] | None = None,
    settling: bool = False,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """:func:`fire_in`, also returning the order's item rows (``row``: the order's row,
    when the caller has just read it with its lock; ``items``: its item rows, when the
    caller has them — they never change after the order is created; ``settling``: the
    order's payment is settling, the one thing that may fire its ``on_payment``)."""
    runtime = uow.runtime
    if row is None:
        row = await _order_row(order_id, for_update=True)
    process = registry(runtime).get(row["process"], row["process_version"])
    roles = roles_of(row, caller, process)
    transition = process.transition(name)
    if name == process.on_payment and not settling and roles:
        # Fired bare, it would move the order on with nothing in its escrow.
        message = (
            f"{name} happens when the order's payment settles; pay it with POST /orders/{order_id}/payments"
        )
        raise TransitionNotAllowed(message, extra={"state": row["state"]})
    if not roles:
        if transition is not None and "candidate" in transition.actors and row["seller_id"] is not None:
            # A candidate who lost the race: the order was open a moment ago.
            raise Conflict(f"order {order_id} was taken by another seller", extra={"state": row["state"]})
        raise NotFound(f"there is no order {order_id}")
    allowed = process.available(row["state"], roles)
    if transition is None:
        names = ", ".join(t.name for t in process.transitions)
        raise UnknownTransition(
            f"process {process.name} has no transition {name!r}; it has: {names}",
            extra={"allowed_transitions": allowed},
        )
    if row["state"] not in transition.sources:
        message = (
            f"order {order_id} is {row['state']}; {name} is possible only from "
            f"{', '.join(transition.sources)}"
        )
        raise TransitionNotAllowed(message, extra={"state": row["state"], "allowed_transitions": allowed})
    acting = [role for role in transition.actors if role in roles]
    if not acting:
        message = f"{name} is for the {' or '.join(transition.actors)} of the order"
        raise ActorNotAllowed(message, extra={"state": row["state"], "allowed_transitions": allowed})
    actor_role = acting[0]
    actor_id = getattr(caller, "id", None)
    new_seller = actor_id if actor_role == "candidate" else row["seller_id"]
    if actor_role == "candidate" and row["listing_id"] is not None:
        await _check_eligible(runtime, row["listing_id"], caller)
    reg = registry(runtime)
    if items is None:
        items = await _ITEMS.run(order_id)
    before = await _to_order(row, items=items)
    context = TransitionContext(runtime, uow, before, process, transition, actor_role, actor_id, data or {})
    for guard in transition.guards:
        reason = await maybe_await(reg.guards[guard](context))
        if reason:
            raise GuardFailed(str(reason), extra={"guard": guard, "state": row["state"]})

    await _enter(uow, row, transition.target, name, actor_role, actor_id, data, seller_id=new_seller)
    await _set_timers(uow, order_id, process, transition.target)
    # The row as _enter left it (the lock, and the version check, say no one else moved it)
    after = {
        **row,
        "state": transition.target,
        "version": row["version"] + 1,
        "seller_id": new_seller,
        "state_entered_at": uow.now,
        "updated_at": uow.now,
    }
    context.order = await _to_order(after, items=items)
    for effect in transition.effects:
        await maybe_await(reg.effects[effect](context))
    _record_transition(uow, row, process, name, transition.target, actor_role, actor_id)
    return after, items


_INSERT_HISTORY = PreparedInsert(OrderEvent, returning=())
#: the move itself, unless someone else moved the order since it was read (version)
_MOVE = Prepared(
    lambda state, version, seller_id, at, id, read_version: (
        Order.update(
            {
                Order.state: state,
                Order.version: version,
                Order.seller_id: seller_id,
                Order.state_entered_at: at,
                Order.updated_at: at,
            }
        )
        .where((Order.id == id) & (Order.version == read_version))
        .returning(Order.id)
    )
)
_CANCEL_TIMERS = Prepared(
    lambda order: OrderTimer.update({OrderTimer.status: "cancelled"}).where(
        (OrderTimer.order == order) & (OrderTimer.status == "pending")
    )
)


async def _enter(
    uow: Any,
    row: dict[str, Any],
    target: str,
    name: str,
    actor_role: str,
    actor_id: int | None,
    data: dict[str, Any] | None,
    *,
    seller_id: int | None,
) -> None:
    """Move a locked order row to ``target``: bump its version, write history, stop its timers."""
    order_id = row["id"]
    now = uow.now
    moved = await _MOVE.run(target, row["version"] + 1, seller_id, now, order_id, row["version"])
    if not moved:
        raise Conflict(f"order {order_id} changed while {name} was being fired; reload it and try again")
    await _INSERT_HISTORY.run(_history_row(row, target, name, actor_role, actor_id, data, now))
    await _CANCEL_TIMERS.run(order_id)


def _history_row(
    row: dict[str, Any],
    target: str,
    name: str,
    actor_role: str,
    actor_id: int | None,
    data: dict[str, Any] | None,
    now: Any,
) -> dict[str, Any]:
    """The history entry of an order (its row before the move) entering ``target``."""
    return {
        "order": row["id"],
        "seq": row["version"] + 1,
        "transition": name,
        "from_state": row["state"],
        "to_state": target,
        "actor_role": actor_role,
        "actor_id": actor_id,
        "data": data or {},
        "at": now,
    }


def _record_transition(
    uow: Any,
    row: dict[str, Any],
    process: Process,
    name: str,
    target: str,
    actor_role: str,
    actor_id: int | None,
) -> None:
    """The ``order.transitioned`` event of an order (its row before the move)."""
    from agorakit.orders.events import OrderTransitioned

    transitioned = OrderTransitioned(
        order_id=row["id"],
        process=process.name,
        transition=name,
        from_state=row["state"],
        to_state=target,
        actor_role=actor_role,
    )
    uow.record(transitioned, subject=f"order:{row['id']}", actor_id=actor_id)


async def move_in(
    uow: Any,
    order_id: int,
    target: str,
    *,
    name: str,
    actor_role: str,
    actor_id: int | None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Move an order to ``target`` outside its transitions (the dispute engine's moves).

    The caller has checked that the move is allowed; the order's history, timers and the
    ``order.transitioned`` event are written as for a transition.  Returns the new row.
    """
    row = await _order_row(order_id, for_update=True)
    process = registry(uow.runtime).get(row["process"], row["process_version"])
    await _enter(uow, row, target, name, actor_role, actor_id, data, seller_id=row["seller_id"])
    await _set_timers(uow, order_id, process, target)
    _record_transition(uow, row, process, name, target, actor_role, actor_id)
    return await _order_row(order_id)


async def _check_eligible(runtime: Any, listing_id: int, member: Any) -> None:
    """A candidate must be allowed to take the order's listing (``agorakit_can_take``)."""
    from agorakit.catalog.listings import check_can_take, get_listing

    await check_can_take(runtime, await get_listing(listing_id), member)


_INSERT_TIMERS = PreparedInsert(OrderTimer, returning=())


async def _set_timers(uow: Any, order_id: int, process: Process, state: str) -> None:
    timers = _timer_rows(order_id, process, state, uow.now)
    if timers:
        await _INSERT_TIMERS.run(*timers)


def _timer_rows(order_id: int, process: Process, state: str, now: Any) -> list[dict[str, Any]]:
    """The timer rows of an order that enters ``state`` at ``now``."""
    return [
        {
            "order": order_id,
            "state": state,
            "transition": timer.transition,
            "due_at": now + timer.after,
            "status": "pending",
            "attempts": 0,
            "created_at": now,
        }
        for timer in process.timers_for(state)
    ]


# --------------------------------------------------------------------------------------
# Timers
# --------------------------------------------------------------------------------------


class TimerReport(msgspec.Struct):
    fired: list[int] = []
    retried: list[int] = []
    failed: list[int] = []


async def fire_due_timers(runtime: Any, *, limit: int = 1000) -> TimerReport:
    """Fire pending timers that are due (at most ``limit``), in batches.

    A batch is one unit of work: it claims up to ``[worker] timer_batch`` due timers
    (on PostgreSQL with ``FOR UPDATE SKIP LOCKED``, so several workers can run at once
    and each timer fires exactly once; SQLite runs one writer at a time), fires each in a
    savepoint, marks them, and commits once; the events of the whole batch are delivered
    together afterwards.  A batch takes no further timers once it has run
    ``[worker] batch_seconds``.  On PostgreSQL ``[worker] timer_concurrency`` batches run
    at once, each on its own connection.

    A timer whose transition fails is rolled back to its savepoint alone: the others of
    the batch still fire, and it is retried with backoff and, after
    ``TIMER_MAX_ATTEMPTS``, marked ``failed`` for operators — never dropped silently.
    If the batch's commit itself fails (PostgreSQL's balanced-ledger check runs at
    commit), its timers are fired again one per transaction, so the one at fault is the
    only one retried.  A timer that loses a deadlock (another worker's batch, a request)
    ends its batch early: the timers before it commit, and it waits for the next batch
    without counting an attempt.
    """
    report = TimerReport()
    concurrency = runtime.settings.worker.timer_concurrency if runtime.db.is_postgres else 1
    if concurrency > 1:
        # Each task claims its own batches (SKIP LOCKED keeps them apart) in a transaction
        # of its own: the transaction is per task (a context variable).
        shares = [limit // concurrency + (i < limit % concurrency) for i in range(concurrency)]
        try:
            async with asyncio.TaskGroup() as group:  # one failing cancels the others
                tasks = [group.create_task(_fire_due(runtime, share)) for share in shares if share]
        except ExceptionGroup as failed:  # the sweep reports the first error, as with one task
            raise failed.exceptions[0] from failed
        for task in tasks:
            part = task.result()
            report.fired += part.fired
            report.retried += part.retried
            report.failed += part.failed
        return report
    return await _fire_due(runtime, limit)


async def _fire_due(runtime: Any, limit: int) -> TimerReport:
    """Fire due timers batch after batch until none is left or ``limit`` were handled."""
    report = TimerReport()
    handled = 0
    size = runtime.settings.worker.timer_batch
    while handled < limit:
        claimed: list[int] = []
        try:
            outcomes = await _fire_batch(runtime, min(size, limit - handled), claimed)
        except Exception:
            if not claimed:
                raise  # the claim itself failed: nothing of ours is at fault
            log.exception("a batch of %d timers did not commit; firing them one at a time", len(claimed))
            outcomes = []
            for timer_id in claimed:
                outcomes += await _fire_alone(runtime, timer_id)
        if not outcomes:
            break
        for timer_id, result in outcomes:
            handled += 1
            if result != "cancelled":  # its state was left before it fired: nothing to report
                getattr(report, result).append(timer_id)
    return report


def _claim_query(locking: bool, size: int | None) -> Prepared:
    """The claim of up to ``size`` due timers, oldest first (run with the time), or with
    ``size`` None of the due timer with a given id (run with the time and the id);
    ``locking``: PostgreSQL's ``FOR UPDATE SKIP LOCKED``."""

    def due(now: Any) -> Any:
        return OrderTimer.select(
            OrderTimer.id, OrderTimer.order, OrderTimer.transition, OrderTimer.state
        ).where((OrderTimer.status == "pending") & (OrderTimer.due_at <= now))

    def locked(query: Any) -> Any:
        return query.lock_rows(skip_locked=True) if locking else query

    if size is None:
        return Prepared(lambda now, id: locked(due(now).where(OrderTimer.id == id)))
    return Prepared(
        lambda now: locked(due(now).order_by(OrderTimer.due_at).order_by(OrderTimer.id).limit(size))
    )


@functools.cache
def _claim(locking: bool, size: int | None) -> Prepared:
    return _claim_query(locking, size)


#: what a batch groups and orders its timers by (read without a lock)
_BATCH_ORDERS = Prepared(
    lambda ids: Order.select(
        Order.id, Order.seller_id, Order.state, Order.process, Order.process_version
    ).where(any_of(Order.id, ids))
)
#: the items of several orders, each order's in position order
_ITEMS_OF = Prepared(
    lambda orders: (
        OrderItem.select()
        .where(any_of(OrderItem.order, orders))
        .order_by(OrderItem.order)
        .order_by(OrderItem.position)
        .output(load_json=True)
    )
)
_MARK_TIMERS = Prepared(
    lambda status, at, ids: OrderTimer.update({OrderTimer.status: status, OrderTimer.fired_at: at}).where(
        any_of(OrderTimer.id, ids)
    )
)


async def _fire_batch(
    runtime: Any, size: int, claimed: list[int], *, only: int | None = None
) -> list[tuple[int, str]]:
    """Claim up to ``size`` due timers (or the timer ``only``) and fire them in one unit
    of work; ``claimed`` gets their ids before any is fired."""
    started = time.perf_counter()
    budget = runtime.settings.worker.batch_seconds
    outcomes: list[tuple[int, str]] = []
    async with runtime.unit_of_work() as uow:
        claim = _claim(runtime.db.is_postgres, None if only is not None else size)
        timers = await (claim.run(uow.now) if only is None else claim.run(uow.now, only))
        # Fired by seller, then order: concurrent batches lock the sellers' accounts (and
        # the orders of each seller) in one order, so they cannot deadlock on them.
        order_ids = sorted({t["order"] for t in timers})
        orders = {r["id"]: r for r in await _BATCH_ORDERS.run(order_ids)} if timers else {}
        timers.sort(key=lambda t: (_seller(orders, t), t["order"], t["id"]))
        items: dict[int, list[dict[str, Any]]] = {order_id: [] for order_id in order_ids}
        for item in await _ITEMS_OF.run(order_ids) if timers else []:
            items[item["order"]].append(item)
        claimed.extend(t["id"] for t in timers)
        fired: list[int] = []
        cancelled: list[int] = []
        singles = timers
        if runtime.settings.worker.fire_in_sets:
            sets, singles = _sets(runtime, timers, orders)
            for (process, transition), group in sets:
                if outcomes and time.perf_counter() - started > budget:
                    singles = []  # the rest stay pending (and unlocked at commit)
                    break
                mark = uow.mark()
                try:
                    async with runtime.db.savepoint():
                        done, gone, rest = await _fire_set(uow, process, transition, group, items)
                except Exception as exc:
                    uow.cut_back(mark)
                    if is_lock_conflict(exc):  # as below: commit the timers before it
                        log.info("a set of %d timers met a concurrent transaction (%s)", len(group), exc)
                        singles = []
                        break
                    # The single forms decide which of its timers fails, and how.
                    log.warning(
                        "a set of %d %s timers failed (%r); firing them one by one",
                        len(group),
                        transition.name,
                        exc,
                    )
                    done, gone, rest = [], [], group
                fired += done
                cancelled += gone
                outcomes += [(timer_id, "fired") for timer_id in done]
                outcomes += [(timer_id, "cancelled") for timer_id in gone]
                singles += rest
            singles.sort(key=lambda t: (_seller(orders, t), t["order"], t["id"]))
        for timer in singles:
            if outcomes and time.perf_counter() - started > budget:
                break  # the rest stay pending (and unlocked at commit) for the next batch
            timer_id = timer["id"]
            mark = uow.mark()
            try:
                async with runtime.db.savepoint():
                    row = await _order_row(timer["order"], for_update=True)
                    if row["state"] != timer["state"]:
                        cancelled.append(timer_id)
                        outcomes.append((timer_id, "cancelled"))
                        continue
                    await _fire(
                        uow,
                        row["id"],
                        timer["transition"],
                        caller=None,
                        data={"timer": timer_id},
                        row=row,
                        items=items[row["id"]],
                    )
                fired.append(timer_id)
                outcomes.append((timer_id, "fired"))
            except Exception as exc:
                uow.cut_back(mark)  # what the rolled-back part recorded
                if is_lock_conflict(exc):
                    # A deadlock with another worker or a request (the batch holds the rows
                    # of the timers before this one): commit those, and let this timer wait
                    # for the next batch; it is not the timer's failure.
                    log.info(
                        "timer %s met a concurrent transaction (%s); it fires in the next batch",
                        timer_id,
                        exc,
                    )
                    break
                if not isinstance(exc, AgorakitError):
                    log.exception("timer %s failed", timer_id)
                    exc = AgorakitError(f"unexpected error: {exc!r}")
                outcomes.append(await _record_timer_failure(runtime, timer_id, exc))
        if fired:
            await _MARK_TIMERS.run("fired", uow.now, fired)
        if cancelled:
            await _MARK_TIMERS.run("cancelled", None, cancelled)
    return outcomes


def _seller(orders: dict[int, dict[str, Any]], timer: dict[str, Any]) -> int:
    row = orders.get(timer["order"])
    return (row["seller_id"] or 0) if row else 0


def _sets(
    runtime: Any, timers: list[dict[str, Any]], orders: dict[int, dict[str, Any]]
) -> tuple[list[tuple[tuple[Process, Transition], list[dict[str, Any]]]], list[dict[str, Any]]]:
    """The timers whose transitions fire as sets, grouped by process and transition (an
    order at most once per group), and the others."""
    reg = registry(runtime)
    groups: dict[tuple[Any, ...], tuple[tuple[Process, Transition], list[dict[str, Any]]]] = {}
    seen: set[tuple[Any, ...]] = set()
    singles = []
    for timer in timers:
        row = orders.get(timer["order"])
        process = reg.processes.get((row["process"], row["process_version"])) if row else None
        transition = process.transition(timer["transition"]) if process else None
        key = (row["process"], row["process_version"], timer["transition"]) if row else None
        if (
            transition is None
            or "system" not in transition.actors
            or (key, timer["order"]) in seen
            or not fires_as_set(runtime, transition)
        ):
            singles.append(timer)
            continue
        seen.add((key, timer["order"]))
        groups.setdefault(key, ((process, transition), []))[1].append(timer)
    return list(groups.values()), singles


def _locked_orders(locking: bool) -> Prepared:
    def build(ids: Any) -> Any:
        query = Order.select().where(any_of(Order.id, ids)).order_by(Order.id).output(load_json=True)
        return query.lock_rows() if locking else query

    return Prepared(build)


#: orders' rows by id, locked in id order (``FOR UPDATE`` on PostgreSQL)
_LOCKED_ORDERS = {locking: _locked_orders(locking) for locking in (False, True)}
_MOVE_ALL = Prepared(
    lambda state, at, ids: (
        Order.update(
            {
                Order.state: state,
                Order.version: Order.version + 1,
                Order.state_entered_at: at,
                Order.updated_at: at,
            }
        )
        .where(any_of(Order.id, ids))
        .returning(Order.id)
    )
)
#: the pending timers of orders that leave their state, but the ones firing (marked fired
#: by the batch: one update of their rows instead of two)
_CANCEL_TIMERS_OF = Prepared(
    lambda orders, firing: OrderTimer.update({OrderTimer.status: "cancelled"}).where(
        any_of(OrderTimer.order, orders) & (OrderTimer.status == "pending") & none_of(OrderTimer.id, firing)
    )
)


async def _fire_set(
    uow: Any,
    process: Process,
    transition: Transition,
    timers: list[dict[str, Any]],
    items: dict[int, list[dict[str, Any]]],
) -> tuple[list[int], list[int], list[dict[str, Any]]]:
    """Fire the timers' ``transition`` on their orders (one each) together, as
    :func:`_fire` does one at a time, in a fixed number of statements: the orders locked
    at once, one move, one history insert, one timer cancel and set, and each guard's and
    effect's set form once.  Returns the timers fired, those whose order had left their
    state (cancelled), and those a guard refused (left to fire one by one, which records
    why)."""
    runtime = uow.runtime
    reg = registry(runtime)
    rows = {
        row["id"]: row
        for row in await _LOCKED_ORDERS[runtime.db.is_postgres].run(sorted(t["order"] for t in timers))
    }
    cancelled, firing = [], []
    for timer in timers:
        row = rows[timer["order"]]
        if row["state"] != timer["state"]:
            cancelled.append(timer["id"])
            continue
        before = await _to_order(row, items=items[row["id"]])
        context = TransitionContext(
            runtime, uow, before, process, transition, "system", None, {"timer": timer["id"]}
        )
        firing.append((timer, row, context))
    refused: list[dict[str, Any]] = []
    for guard in transition.guards if firing else ():
        reasons = await maybe_await(reg.guards[guard].many([context for _, _, context in firing]))
        passing = []
        for entry, reason in zip(firing, reasons, strict=True):
            if reason:
                refused.append(entry[0])
            else:
                passing.append(entry)
        firing = passing
    if not firing:
        return [], cancelled, refused
    now = uow.now
    ids = [row["id"] for _, row, _ in firing]
    moved = await _MOVE_ALL.run(transition.target, now, ids)
    if len(moved) != len(ids):
        raise Conflict(f"orders changed while {transition.name} was being fired; firing them one by one")
    await _INSERT_HISTORY.run(
        *(
            _history_row(row, transition.target, transition.name, "system", None, context.data, now)
            for _, row, context in firing
        )
    )
    await _CANCEL_TIMERS_OF.run(ids, [timer["id"] for timer, _, _ in firing])
    new_timers = [t for order_id in ids for t in _timer_rows(order_id, process, transition.target, now)]
    if new_timers:
        await _INSERT_TIMERS.run(*new_timers)
    for _, row, context in firing:
        after = {
            **row,
            "state": transition.target,
            "version": row["version"] + 1,
            "state_entered_at": now,
            "updated_at": now,
        }
        context.order = await _to_order(after, items=items[row["id"]])
    contexts = [context for _, _, context in firing]
    for effect in transition.effects:
        await maybe_await(reg.effects[effect].many(contexts))
    for _, row, _ in firing:
        _record_transition(uow, row, process, transition.name, transition.target, "system", None)
    return [timer["id"] for timer, _, _ in firing], cancelled, refused


async def _fire_alone(runtime: Any, timer_id: int) -> list[tuple[int, str]]:
    """Fire one timer in a unit of work of its own; a commit that fails counts as its failure."""
    try:
        return await _fire_batch(runtime, 1, [], only=timer_id)
    except Exception as exc:
        log.exception("timer %s did not commit", timer_id)
        error = exc if isinstance(exc, AgorakitError) else AgorakitError(f"unexpected error: {exc!r}")
        return [await _record_timer_failure(runtime, timer_id, error)]


async def _record_timer_failure(runtime: Any, timer_id: int, error: AgorakitError) -> tuple[int, str]:
    async with runtime.unit_of_work() as uow:
        row = await OrderTimer.select(OrderTimer.attempts).where(OrderTimer.id == timer_id).first()
        attempts = row["attempts"] + 1
        failed = attempts >= TIMER_MAX_ATTEMPTS
        await OrderTimer.update(
            {
                OrderTimer.attempts: attempts,
                OrderTimer.last_error: error.detail,
                OrderTimer.status: "failed" if failed else "pending",
                OrderTimer.due_at: uow.now + timedelta(minutes=2**attempts),
            }
        ).where(OrderTimer.id == timer_id)
        log.warning("timer %s failed (attempt %s): %s", timer_id, attempts, error.detail)
        if failed:
            uow.record("order.timer_failed", subject=f"timer:{timer_id}", error=error.detail)
    return timer_id, "failed" if failed else "retried"


async def list_timers(
    *, status: str | None, cursor: str | None, limit: int
) -> tuple[list[TimerOut], str | None]:
    query = OrderTimer.select().order_by(OrderTimer.id).limit(limit + 1)
    if status:
        query = query.where(OrderTimer.status == status)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(OrderTimer.id > position["id"])
    rows = await query
    items = [
        TimerOut(
            id=r["id"],
            order_id=r["order"],
            state=r["state"],
            transition=r["transition"],
            due_at=r["due_at"],
            status=r["status"],
            attempts=r["attempts"],
            last_error=r["last_error"],
        )
        for r in rows[:limit]
    ]
    return items, encode_cursor({"id": items[-1].id}) if len(rows) > limit else None


# --------------------------------------------------------------------------------------
# Proofs
# --------------------------------------------------------------------------------------


def _to_proof(row: dict[str, Any]) -> ProofOut:
    return ProofOut(
        id=row["id"],
        order_id=row["order"],
        submitted_by=row["submitted_by"],
        text=row["text"],
        urls=row["urls"] or [],
        attachments=row["attachments"] or [],
        status=row["status"],
        review_reason=row["review_reason"],
        reviewed_by=row["reviewed_by"],
        reviewed_at=row["reviewed_at"],
        created_at=row["created_at"],
    )


_WAITING_PROOF = Prepared(
    lambda order: Proof.select(Proof.id).where((Proof.order == order) & (Proof.status == "submitted")).first()
)
_INSERT_PROOF = PreparedInsert(Proof)


async def submit_proof(
    runtime: Any, order_id: int, proof: SubmitProof, *, caller: Any, order: OrderOut | None = None
) -> ProofOut:
    """The seller (worker) submits evidence of the work; checked by ``agorakit_validate_proof``.

    ``order``: the order as :func:`get_order` just gave it to ``caller`` (saves reading
    it again); the transition the proof fires reads it again with its lock anyway.
    """
    if order is None or order.id != order_id:
        order = await get_order(runtime, order_id, caller=caller)
    if caller.id != order.seller_id:
        raise Forbidden("only the seller of the order submits proofs")
    if not (proof.text.strip() or proof.urls or proof.attachments):
        raise ValidationFailed([FieldError("text", "a proof needs text, URLs or attachments")])
    problems = [
        p
        for result in runtime.pm.hook.agorakit_validate_proof(order=order, proof=proof)
        for p in (await maybe_await(result) or [])
    ]
    if problems:
        raise ValidationFailed(problems)
    if proof.attachments:
        from agorakit.attachments.service import check_attachments

        await check_attachments(list(proof.attachments), scope=f"order:{order_id}", member_id=caller.id)
    async with runtime.unit_of_work() as uow:
        if await _WAITING_PROOF.run(order_id) is not None:
            raise Conflict("a proof of this order is waiting for review; wait for the review first")
        rows = await _INSERT_PROOF.run(
            {
                "order": order_id,
                "submitted_by": caller.id,
                "text": proof.text.strip(),
                "urls": list(proof.urls),
                "attachments": list(dict.fromkeys(proof.attachments)),
                "status": "submitted",
                "created_at": uow.now,
            }
        )
        proof_id = rows[0]["id"]
        await _proof_transition(uow, order, "submitted", caller, proof_id)
        uow.record("proof.submitted", subject=f"order:{order_id}", actor_id=caller.id, proof=proof_id)
    return await _proof(order_id, proof_id)  # the caller was checked above


async def review_proof(
    runtime: Any, order_id: int, proof_id: int, *, decision: str, reason: str, caller: Any
) -> ProofOut:
    """The buyer accepts a proof, rejects it, or asks for a correction (with a reason)."""
    order = await get_order(runtime, order_id, caller=caller)
    if caller.id != order.buyer_id:
        raise Forbidden("only the buyer of the order reviews its proofs")
    reason = " ".join(reason.split())
    if decision != "accept" and not reason:
        raise ValidationFailed([FieldError("reason", "say why, so the seller can act on it")])
    status = {"accept": "accepted", "reject": "rejected", "request_correction": "correction_requested"}[
        decision
    ]
    async with runtime.unit_of_work() as uow:
        updated = (
            await Proof.update(
                {
                    Proof.status: status,
                    Proof.review_reason: reason or None,
                    Proof.reviewed_by: caller.id,
                    Proof.reviewed_at: uow.now,
                }
            )
            .where((Proof.id == proof_id) & (Proof.order == order_id) & (Proof.status == "submitted"))
            .returning(Proof.id)
        )
        if not updated:
            current = (
                await Proof.select(Proof.status)
                .where((Proof.id == proof_id) & (Proof.order == order_id))
                .first()
            )
            if current is None:
                raise NotFound(f"order {order_id} has no proof {proof_id}")
            raise Conflict(f"proof {proof_id} is already {current['status']}")
        await _proof_transition(uow, order, status, caller, proof_id)
        uow.record(f"proof.{status}", subject=f"order:{order_id}", actor_id=caller.id, proof=proof_id)
    return await _proof(order_id, proof_id)  # the caller was checked above


async def _proof_transition(uow: Any, order: OrderOut, event: str, caller: Any, proof_id: int) -> None:
    process = registry(uow.runtime).get(order.process, order.process_version)
    name = process.on_proof.get(event)
    if name:
        await fire_in(uow, order.id, name, caller=caller, data={"proof": proof_id})


async def get_proof(runtime: Any, order_id: int, proof_id: int, *, caller: Any) -> ProofOut:
    await get_order(runtime, order_id, caller=caller)
    return await _proof(order_id, proof_id)


_PROOF = Prepared(
    lambda order, id: (
        Proof.select().where((Proof.id == id) & (Proof.order == order)).first().output(load_json=True)
    )
)


async def _proof(order_id: int, proof_id: int) -> ProofOut:
    row = await _PROOF.run(order_id, proof_id)
    if row is None:
        raise NotFound(f"order {order_id} has no proof {proof_id}")
    return _to_proof(row)


async def list_proofs(runtime: Any, order_id: int, *, caller: Any) -> list[ProofOut]:
    await get_order(runtime, order_id, caller=caller)
    rows = await Proof.select().where(Proof.order == order_id).order_by(Proof.id).output(load_json=True)
    return [_to_proof(r) for r in rows]


# --------------------------------------------------------------------------------------
# The core's effects
# --------------------------------------------------------------------------------------


def _release_posting(ctx: TransitionContext) -> ledger.NewPosting:
    """Pay the seller: escrow → seller available (net of fees) + escrow → platform:fees."""
    order = ctx.order
    if order.seller_id is None:
        raise Conflict(f"order {order.id} has no seller to pay")
    currency = order.amount.currency
    quote = order.data.get("quote") or quote_order(
        ctx.runtime,
        process=order.process,
        amount=sum(item_amount(i) for i in order.items),
        currency=currency,
        buyer_id=order.buyer_id,
        seller_id=order.seller_id,
        data=order.data,
    )
    net, fees = quote["seller_net"], quote["platform_total"]
    escrow = ledger.escrow(f"order:{order.id}")
    lines = ledger.move(escrow, ledger.available(order.seller_id), net, currency)
    if fees:
        lines += ledger.move(escrow, ledger.PLATFORM_FEES, fees, currency)
    return ledger.NewPosting(
        key=f"order:{order.id}:release",
        kind="escrow_released",
        description=f"Order {order.id} completed: payment to the seller",
        lines=lines,
        refs={"order": order.id},
        actor_id=ctx.actor_id,
    )


async def release_escrow_many(contexts: list[TransitionContext]) -> None:
    """:func:`release_escrow` for several orders: their postings in one call."""
    if contexts:
        await ledger.post_many(contexts[0].uow, [_release_posting(ctx) for ctx in contexts])


@set_form(release_escrow_many)
async def release_escrow(ctx: TransitionContext) -> None:
    """Pay the seller: escrow → seller available (net of fees) + escrow → platform:fees."""
    await ledger.post_one(ctx.uow, _release_posting(ctx))


def _refund_posting(ctx: TransitionContext, held: int) -> ledger.NewPosting:
    order = ctx.order
    escrow = ledger.escrow(f"order:{order.id}")
    return ledger.NewPosting(
        key=f"order:{order.id}:refund",
        kind="escrow_refunded",
        description=f"Order {order.id} cancelled: refund to your credit",
        lines=ledger.move(escrow, ledger.credit(order.buyer_id), held, order.amount.currency),
        refs={"order": order.id},
        actor_id=ctx.actor_id,
    )


async def refund_escrow_many(contexts: list[TransitionContext]) -> None:
    """:func:`refund_escrow` for several orders: their escrows read at once, their
    postings in one call."""
    if not contexts:
        return
    held = await ledger.balances_of(
        [(ledger.escrow(f"order:{ctx.order.id}"), ctx.order.amount.currency) for ctx in contexts]
    )
    postings = []
    for ctx in contexts:
        amount = held[(ledger.escrow(f"order:{ctx.order.id}"), ctx.order.amount.currency)]
        if amount:
            postings.append(_refund_posting(ctx, amount))
    await ledger.post_many(contexts[0].uow, postings)


@set_form(refund_escrow_many)
async def refund_escrow(ctx: TransitionContext) -> None:
    """Give the buyer back everything in the escrow, as site credit."""
    order = ctx.order
    held = await ledger.balance_of(ledger.escrow(f"order:{order.id}"), order.amount.currency)
    if held:
        await ledger.post_one(ctx.uow, _refund_posting(ctx, held))


def item_amount(item: OrderItemOut) -> int:
    from agorakit.money.amounts import parse_amount

    return parse_amount(item.amount.amount, item.amount.currency, allow_zero=True)
