"""The order engine: fire transitions, move orders (creating them: :mod:`.creation`).

Firing a transition is one unit of work: the caller's role is worked out (buyer, seller,
operator, or system for timers), the transition is checked against the order's state and
the process's actors (:meth:`Process.check`) and guards, the order moves with an
optimistic version check (of two concurrent transitions from one state exactly one wins;
the other gets a 409), the history gets an event, the old state's timers are cancelled
and the new state's are set, and the transition's effects (ledger postings, ...) run —
all committed together or not at all.

Every move goes through one write path, :func:`_enter_all`, whether it moves one order
(a request, a timer, a dispute) or a set of orders (the worker's batch of timers of one
transition, :func:`fire_set`): the same statements, one of each kind, for any number.
"""

from __future__ import annotations

import functools
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from agorakit.catalog import check_can_take, get_listing
from agorakit.db import is_unique_violation
from agorakit.db.prepared import Prepared, PreparedInsert, PreparedRaw, any_of
from agorakit.errors import Conflict, NotFound
from agorakit.hooks import maybe_await
from agorakit.money.ledger import set_escrow_sellers
from agorakit.orders.events import OrderTransitioned
from agorakit.orders.process import GuardFailed, Process, Transition
from agorakit.orders.process_registry import registry
from agorakit.orders.queries import _ITEMS, _order_row, _to_order, hold_order, order_with_items, roles_of
from agorakit.orders.schemas import OrderOut
from agorakit.orders.tables import Order, OrderEvent, OrderTimer

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts.schemas import MemberOut
    from agorakit.runtime import Runtime, UnitOfWork


@dataclass
class TransitionContext:
    """What guards and effects see."""

    runtime: Runtime
    uow: UnitOfWork
    order: OrderOut
    process: Process
    transition: Transition
    actor_role: str
    actor_id: int | None
    data: dict[str, Any] = field(default_factory=dict)


async def fire(
    runtime: Runtime,
    order_id: int,
    transition: str,
    *,
    caller: MemberOut | None,
    data: dict[str, Any] | None = None,
    process: str | None = None,
) -> OrderOut:
    """Fire ``transition`` on an order as ``caller`` (None = system); one unit of work.

    ``process``: a 404 for an order of another process (a model's own route firing its
    orders' transitions), checked on the order's row the transition reads anyway."""
    async with runtime.unit_of_work() as uow:
        row, items = await _fire(uow, order_id, transition, caller=caller, data=data, expected=process)
    definition = registry(runtime).get(row["process"], row["process_version"])
    return await _to_order(row, roles=roles_of(row, caller, definition), process=definition, items=items)


async def fire_in(
    uow: UnitOfWork, order_id: int, name: str, *, caller: MemberOut | None, data: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Fire a transition inside an existing unit of work; returns the order's new row."""
    return (await _fire(uow, order_id, name, caller=caller, data=data))[0]


async def _fire(
    uow: UnitOfWork,
    order_id: int,
    name: str,
    *,
    caller: MemberOut | None,
    data: dict[str, Any] | None,
    row: dict[str, Any] | None = None,
    items: list[dict[str, Any]] | None = None,
    settling: bool = False,
    expected: str | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """:func:`fire_in`, also returning the order's item rows (``row``: the order's row,
    when the caller has just read it with its lock; ``items``: its item rows, when the
    caller has them — they never change after the order is created; ``settling``: the
    order's payment is settling, the one thing that may fire its ``on_payment``)."""
    runtime = uow.runtime
    if row is None:
        row, held_items = await order_with_items(order_id, for_update=True)
        items = held_items if items is None else items
    process = registry(runtime).get(row["process"], row["process_version"])
    roles = roles_of(row, caller, process)
    if not roles:
        transition = process.transition(name)
        if transition is not None and "candidate" in transition.actors and row["seller_id"] is not None:
            # A candidate who lost the race: the order was open a moment ago.
            raise Conflict(f"order {order_id} was taken by another seller", extra={"state": row["state"]})
        raise NotFound(f"there is no order {order_id}")
    check_process(row, expected)
    transition, actor_role = process.check(name, row["state"], roles, order_id=order_id, settling=settling)
    actor_id = getattr(caller, "id", None)
    new_seller = _seller_after(transition, actor_role, actor_id, row)
    if actor_role == "candidate" and row["listing_id"] is not None:
        await _check_eligible(runtime, row["listing_id"], caller)
    reg = registry(runtime)
    if items is None:
        fetched: list[dict[str, Any]] = uow.held("order_items", order_id) or await _ITEMS.run(order_id)
        items = fetched
    if caller is not None:
        hold_member(uow, caller)
    before = await _to_order(row, items=items)
    context = TransitionContext(runtime, uow, before, process, transition, actor_role, actor_id, data or {})
    for guard in transition.guards:
        reason = await maybe_await(reg.guards[guard](context))
        if reason:
            raise GuardFailed(str(reason), extra={"guard": guard, "state": row["state"]})
    [after] = await _transition_all(uow, [_Entry(row, context, items, new_seller)])
    return after, items


def check_process(row: dict[str, Any], expected: str | None) -> None:
    """A 404 unless the order follows the process ``expected`` (None: any), worded after
    it: ``gig_order`` → "there is no gig order 12"."""
    if expected is not None and row["process"] != expected:
        noun = expected if expected.endswith("order") else f"{expected} order"
        raise NotFound(f"there is no {noun.replace('_', ' ')} {row['id']}")


def hold_member(uow: UnitOfWork, member: Any) -> None:
    """Keep the member who acts in the transaction (what notices name them by)."""
    names = ("id", "display_name", "email", "status")
    if all(hasattr(member, name) for name in names):  # (a caller that is a full member)
        held = uow.held("member", member.id) or {}
        uow.hold("member", member.id, {**held, **{name: getattr(member, name) for name in names}})


def _seller_after(
    transition: Transition, actor_role: str, actor_id: int | None, row: dict[str, Any]
) -> int | None:
    """The order's seller once ``transition`` has moved it: the candidate who fired it, no
    one after a ``clears_seller`` transition, else the seller it has."""
    if transition.clears_seller:
        return None
    return actor_id if actor_role == "candidate" else row["seller_id"]


@dataclass
class _Entry:
    """One order entering its transition's target: its row before the move, the context
    its guards saw, its item rows and its seller afterwards."""

    row: dict[str, Any]
    context: TransitionContext
    items: list[dict[str, Any]]
    seller_id: int | None


async def _transition_all(
    uow: UnitOfWork, entries: list[_Entry], *, firing: list[int] | None = None
) -> list[dict[str, Any]]:
    """Move the orders of ``entries`` (one process, one transition) to its target, run
    its effects and record the events; their new rows.  One order runs each effect's
    single form, several orders its set form."""
    first = entries[0].context
    process, transition = first.process, first.transition
    if transition.clears_seller:  # the history's and the effects' data name who left
        for entry in entries:
            entry.context.data = {**entry.context.data, "former_seller_id": entry.row["seller_id"]}
    afters = await _enter_all(
        uow,
        process,
        transition.target,
        transition.name,
        [(e.row, e.context.actor_role, e.context.actor_id, e.context.data, e.seller_id) for e in entries],
        firing=firing,
    )
    for entry, after in zip(entries, afters, strict=True):
        entry.context.order = await _to_order(after, items=entry.items)
    reg = registry(uow.runtime)
    for effect in transition.effects:
        if len(entries) == 1:
            await maybe_await(reg.effects[effect](first))
        else:
            await maybe_await(reg.effects[effect].many([e.context for e in entries]))
    if transition.effects:  # the order's data as the effects left it (``ctx.order``)
        for entry, after in zip(entries, afters, strict=True):
            after["data"] = entry.context.order.data
    for entry, after in zip(entries, afters, strict=True):
        hold_order(uow, after, entry.items)
    for entry in entries:
        _record_transition(
            uow,
            entry.row,
            process,
            transition.name,
            transition.target,
            entry.context.actor_role,
            entry.context.actor_id,
            former_seller_id=entry.row["seller_id"] if transition.clears_seller else None,
        )
    return afters


_JSON = msgspec.json.encode
_INSERT_HISTORY = PreparedInsert(OrderEvent, returning=())
_INSERT_TIMERS = PreparedInsert(OrderTimer, returning=())
#: SQLite: the orders' seller after a move that changed it (a candidate's, or none)
_SET_SELLERS = Prepared(
    lambda seller_id, ids: Order.update({Order.seller_id: seller_id}).where(any_of(Order.id, ids))
)
#: SQLite: the message of the trigger that refuses a history row of an order moved since
_MOVED_MEANWHILE = "the order moved since it was read"


async def _enter_all(
    uow: UnitOfWork,
    process: Process,
    target: str,
    name: str,
    moves: list[tuple[dict[str, Any], str, int | None, dict[str, Any] | None, int | None]],
    *,
    firing: list[int] | None = None,
) -> list[dict[str, Any]]:
    """The write path of every move: locked order rows (each move is ``(row, actor_role,
    actor_id, data, seller_id)``) enter ``target`` by ``name``, their versions bumped,
    their history written, their pending timers cancelled (but ``firing``) and the new
    state's set: on SQLite the history's insert (which moves the orders, by triggers)
    and the timers' (and the sellers' update when a move changes them), one statement for
    all on PostgreSQL.  Returns the rows as they now are."""
    now = uow.now
    clearing = all(seller_id is None for *_, seller_id in moves)
    if len(moves) > 1 and any(seller_id != row["seller_id"] and not clearing for row, *_, seller_id in moves):
        raise ValueError("a set of moves cannot give the orders sellers")
    changed = [(row, seller_id) for row, *_, seller_id in moves if seller_id != row["seller_id"]]
    if uow.runtime.db.is_postgres:
        await _enter_all_at_once(uow, process, target, name, moves, firing=firing)
    else:
        await _write_move(uow, process, target, name, moves)
        if changed:  # (SQLite: the history's insert moved the orders, their sellers aside)
            await _SET_SELLERS.run(None if clearing else changed[0][1], [row["id"] for row, _ in changed])
    if changed:  # an escrow shows its seller's pending money: it follows the order's seller
        await set_escrow_sellers([(f"order:{row['id']}", seller_id) for row, seller_id in changed])
    for row, _, _, data, _ in moves:  # what the order's notices read of the move
        uow.hold("order_history", (row["id"], name), data or {})
    return [
        {
            **row,
            "state": target,
            "version": row["version"] + 1,
            "seller_id": seller_id,
            "state_entered_at": now,
            "updated_at": now,
        }
        for row, *_, seller_id in moves
    ]


async def _write_move(
    uow: UnitOfWork,
    process: Process,
    target: str,
    name: str,
    moves: list[tuple[dict[str, Any], str, int | None, dict[str, Any] | None, int | None]],
) -> None:
    """SQLite: the moves' history rows, whose insert moves the orders and cancels their
    pending timers (triggers: ``core_orders`` migration 2026-12-22), then the new state's
    timers.  A history row of an order that moved since it was read is refused (by the
    unique ``(order, seq)`` or the trigger): a 409, as PostgreSQL's version check."""
    now = uow.now
    try:
        await _INSERT_HISTORY.run(
            *(
                {
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
                for row, actor_role, actor_id, data, _ in moves
            )
        )
    except sqlite3.IntegrityError as exc:
        if not (is_unique_violation(exc) or _MOVED_MEANWHILE in str(exc)):
            raise
        if len(moves) == 1:
            order_id = moves[0][0]["id"]
            raise Conflict(
                f"order {order_id} changed while {name} was being fired; reload it and try again"
            ) from exc
        raise Conflict(f"orders changed while {name} was being fired; firing them one by one") from exc
    timers = [t for row, *_ in moves for t in _timer_rows(row["id"], process, target, now, row.get("data"))]
    if timers:
        await _INSERT_TIMERS.run(*timers)


def _timed(process: Process, moves: list[tuple[dict[str, Any], Any, Any, Any, Any]]) -> bool:
    """Whether an order of ``moves`` leaves a state the process gives timers: timers are
    set only for those, so leaving any other leaves none pending."""
    return any(process.timers_for(row["state"]) for row, *_ in moves)


@functools.cache
def _move_at_once(cancel: str, timers: bool) -> PreparedRaw:
    """PostgreSQL: the moves (arrays, a value per order) in one statement: the orders
    moved unless their version changed since they were read, and, for those moved, their
    history, their old state's pending timers cancelled (``cancel``: ``""`` none,
    ``"all"``, ``"but"`` all but the firing ones) and the new state's timers set.  Its rows:
    the orders moved."""
    ctes = [
        "v AS (SELECT * FROM unnest({}::integer[], {}::integer[], {}::integer[], {}::varchar[], {}::varchar[], "
        "{}::integer[], {}::text[]) WITH ORDINALITY AS v(id, version, seller_id, from_state, actor_role, actor_id, "
        "data, position))",
        "moved AS (UPDATE core_order o SET state = {}, version = v.version + 1, seller_id = v.seller_id, "
        "state_entered_at = {}, updated_at = {} FROM v WHERE o.id = v.id AND o.version = v.version RETURNING o.id)",
        'history AS (INSERT INTO core_order_event ("order", seq, transition, from_state, to_state, actor_role, '
        "actor_id, data, at) SELECT v.id, v.version + 1, {}, v.from_state, {}, v.actor_role, v.actor_id, "
        "v.data::json, {} FROM v JOIN moved ON moved.id = v.id ORDER BY v.position)",
    ]
    if cancel:
        firing = " AND NOT (id = ANY({}::integer[]))" if cancel == "but" else ""
        ctes.append(
            "cancelled AS (UPDATE core_order_timer SET status = 'cancelled' WHERE \"order\" IN "
            f"(SELECT id FROM moved) AND status = 'pending'{firing})"
        )
    if timers:
        ctes.append(
            'timers AS (INSERT INTO core_order_timer ("order", state, transition, due_at, status, attempts, '
            "last_error, fired_at, created_at) SELECT t.o, {}, t.tr, t.due, 'pending', 0, NULL, NULL, {} FROM "
            "unnest({}::integer[], {}::varchar[], {}::timestamptz[]) WITH ORDINALITY AS t(o, tr, due, position) "
            "JOIN moved ON moved.id = t.o ORDER BY t.position)"
        )
    return PreparedRaw(Order, "WITH " + ", ".join(ctes) + " SELECT id FROM moved")


async def _enter_all_at_once(
    uow: UnitOfWork,
    process: Process,
    target: str,
    name: str,
    moves: list[tuple[dict[str, Any], str, int | None, dict[str, Any] | None, int | None]],
    *,
    firing: list[int] | None,
) -> None:
    """PostgreSQL: :func:`_enter_all`'s writes in one statement (:func:`_move_at_once`)."""
    now = uow.now
    cancel = "but" if firing else "all" if _timed(process, moves) else ""
    timers = [t for row, *_ in moves for t in _timer_rows(row["id"], process, target, now, row.get("data"))]
    values: list[Any] = [
        [row["id"] for row, *_ in moves],
        [row["version"] for row, *_ in moves],
        [seller_id for *_, seller_id in moves],
        [row["state"] for row, *_ in moves],
        [role for _, role, *_ in moves],
        [actor for _, _, actor, *_ in moves],
        [_JSON(data or {}).decode() for _, _, _, data, _ in moves],
        target,
        now,
        now,
        name,
        target,
        now,
    ]
    if firing:
        values.append(firing)
    if timers:
        values += [target, now, [t["order"] for t in timers], [t["transition"] for t in timers]]
        values.append([t["due_at"] for t in timers])
    moved = await _move_at_once(cancel, bool(timers)).run(*values)
    if len(moved) != len(moves) and len(moves) == 1:
        raise Conflict(
            f"order {moves[0][0]['id']} changed while {name} was being fired; reload it and try again"
        )
    if len(moved) != len(moves):
        raise Conflict(f"orders changed while {name} was being fired; firing them one by one")


def _record_transition(
    uow: UnitOfWork,
    row: dict[str, Any],
    process: Process,
    name: str,
    target: str,
    actor_role: str,
    actor_id: int | None,
    *,
    former_seller_id: int | None = None,
) -> None:
    """The ``order.transitioned`` event of an order (its row before the move)."""
    uow.record(
        OrderTransitioned(
            order_id=row["id"],
            process=process.name,
            transition=name,
            from_state=row["state"],
            to_state=target,
            actor_role=actor_role,
            former_seller_id=former_seller_id,
        ),
        subject=f"order:{row['id']}",
        actor_id=actor_id,
    )


async def move_in(
    uow: UnitOfWork,
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
    [after] = await _enter_all(
        uow, process, target, name, [(row, actor_role, actor_id, data, row["seller_id"])]
    )
    _record_transition(uow, row, process, name, target, actor_role, actor_id)
    hold_order(uow, after)
    return dict(after)


async def _check_eligible(runtime: Runtime, listing_id: int, member: Any) -> None:
    """A candidate must be allowed to take the order's listing (``agorakit_can_take``)."""

    await check_can_take(runtime, await get_listing(listing_id), member)


def _timer_rows(
    order_id: int, process: Process, state: str, now: Any, data: Any = None
) -> list[dict[str, Any]]:
    """The timer rows of an order (with ``data``) that enters ``state`` at ``now``."""
    if isinstance(data, str):
        data = msgspec.json.decode(data)
    return [
        {
            "order": order_id,
            "state": state,
            "transition": timer.transition,
            "due_at": now + timer.delay(data),
            "status": "pending",
            "attempts": 0,
            "created_at": now,
        }
        for timer in process.timers_for(state)
    ]


def _locked_orders(locking: bool) -> Prepared:
    def build(ids: Any) -> Any:
        query = Order.select().where(any_of(Order.id, ids)).order_by(Order.id).output(load_json=True)
        return query.lock_rows() if locking else query

    return Prepared(build)


#: orders' rows by id, locked in id order (``FOR UPDATE`` on PostgreSQL)
_LOCKED_ORDERS = {locking: _locked_orders(locking) for locking in (False, True)}


async def fire_set(
    uow: UnitOfWork,
    process: Process,
    transition: Transition,
    timers: list[dict[str, Any]],
    items: dict[int, list[dict[str, Any]]],
) -> tuple[list[int], list[int], list[dict[str, Any]]]:
    """Fire the timers' ``transition`` on their orders (one each) together, as
    :func:`_fire` does one at a time, in a fixed number of statements: the orders locked
    at once, the write path once (:func:`_enter_all`), and each guard's and effect's set
    form once.  Returns the timers fired, those whose order had left their state
    (cancelled), and those a guard refused (left to fire one by one, which records
    why)."""
    runtime = uow.runtime
    reg = registry(runtime)
    rows = {
        row["id"]: row
        for row in await _LOCKED_ORDERS[runtime.db.is_postgres].run(sorted(t["order"] for t in timers))
    }
    cancelled: list[int] = []
    firing: list[tuple[dict[str, Any], _Entry]] = []
    for timer in timers:
        row = rows[timer["order"]]
        if row["state"] != timer["state"]:
            cancelled.append(timer["id"])
            continue
        before = await _to_order(row, items=items[row["id"]])
        context = TransitionContext(
            runtime, uow, before, process, transition, "system", None, {"timer": timer["id"]}
        )
        seller = _seller_after(transition, "system", None, row)
        firing.append((timer, _Entry(row, context, items[row["id"]], seller)))
    refused: list[dict[str, Any]] = []
    for guard in transition.guards if firing else ():
        reasons = await maybe_await(reg.guards[guard].many([entry.context for _, entry in firing]))
        passing = []
        for pair, reason in zip(firing, reasons, strict=True):
            if reason:
                refused.append(pair[0])
            else:
                passing.append(pair)
        firing = passing
    if not firing:
        return [], cancelled, refused
    await _transition_all(uow, [entry for _, entry in firing], firing=[timer["id"] for timer, _ in firing])
    return [timer["id"] for timer, _ in firing], cancelled, refused
