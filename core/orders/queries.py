"""Reading orders: their rows, the API view, who the caller is to an order, history, the
caller's list of orders and the operators' list of every order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from agorakit.accounts import get_members
from agorakit.accounts.roles import is_operator
from agorakit.catalog import NotEligible, check_can_take, get_listing
from agorakit.catalog.tables import Listing
from agorakit.db.prepared import Prepared, PreparedRaw, any_of
from agorakit.errors import NotFound
from agorakit.money.amounts import money
from agorakit.orders.process import Process
from agorakit.orders.process_registry import registry
from agorakit.orders.schemas import OperatorOrderOut, OrderEventOut, OrderItemOut, OrderOut
from agorakit.orders.tables import Order, OrderEvent, OrderItem
from agorakit.pagination import decode_cursor, page
from agorakit.runtime import current_unit_of_work

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts.schemas import MemberOut
    from agorakit.runtime import Runtime

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
    """The order's row; the one the current transaction holds if it holds it (see
    :meth:`agorakit.runtime.UnitOfWork.hold`), which a row read ``for_update`` in a
    transaction becomes."""
    uow = current_unit_of_work()
    held = uow.held("order", order_id) if uow is not None else None
    if held is not None:
        return dict(held)
    locking = for_update and Order._meta.db.engine_type == "postgres"
    row = await (_ORDER_FOR_UPDATE if locking else _ORDER).run(order_id)
    if row is None:
        raise NotFound(f"there is no order {order_id}")
    if for_update and uow is not None:
        uow.hold("order", order_id, dict(row))
    return row


#: the columns of an item row read with its order (as ``item_<column>``)
_ITEM_COLUMNS = ("id", "position", "kind", "description", "unit_price", "quantity", "amount")
#: what is read of each party with its order (as ``buyer_<column>``, ``seller_<column>``):
#: what the order's notices need of their recipients, ``muted`` being the categories the
#: member turned email off for
_PARTY_COLUMNS = ("email", "display_name", "status", "muted")


#: the order's conversation and its participants (their ids, comma-separated), which its
#: system messages are posted in (``agorakit.messaging``), and whether a payment funds it
#: or is funding it (open or completed: ``agorakit.money.payments.FUNDING_STATUSES``): read
#: with the order, so that the transaction that moves it or pays it does not read them again.
#: (On PostgreSQL a locked read that waited for another transaction's lock sees what that
#: one wrote in the order's row only, so a payment's check reads the funding payments again;
#: a conversation opened meanwhile is found by its insert's conflict.)
_THREAD = (
    "(SELECT c.id FROM core_conversation c WHERE c.\"key\" = 'order:' || o.id) AS conversation_id, "
    "(SELECT {concat}(CAST(p.member_id AS TEXT), ',') FROM core_conversation c JOIN core_conversation_participant p "
    "ON p.conversation = c.id WHERE c.\"key\" = 'order:' || o.id) AS conversation_members, "
    "EXISTS (SELECT 1 FROM core_payment p WHERE p.escrow_ref = 'order:' || o.id "
    "AND p.status IN ('pending', 'awaiting_funds', 'completed')) AS funded"
)


def _with_items(locking: bool) -> PreparedRaw:
    def sql(engine_type: str) -> str:
        items = ", ".join(f'i."{column}" AS "item_{column}"' for column in _ITEM_COLUMNS)
        concat = "string_agg" if engine_type == "postgres" else "group_concat"
        parties = ", ".join(
            f"{alias}.email AS {role}_email, {alias}.display_name AS {role}_display_name, "
            f"{alias}.status AS {role}_status, (SELECT {concat}(n.category, ',') FROM "
            f"core_notification_preference n WHERE n.member_id = {alias}.id AND NOT n.email) AS {role}_muted"
            for role, alias in (("buyer", "b"), ("seller", "s"))
        )
        lock = " FOR UPDATE OF o" if locking and engine_type == "postgres" else ""
        return (
            f"SELECT o.*, {items}, {parties}, {_THREAD.format(concat=concat)} FROM core_order o "
            'LEFT JOIN core_order_item i ON i."order" = o.id '
            "LEFT JOIN core_member b ON b.id = o.buyer_id LEFT JOIN core_member s ON s.id = o.seller_id "
            f'WHERE o.id = {{}} ORDER BY i."position"{lock}'
        )

    return PreparedRaw(Order, sql)


#: an order, its items and its parties in one statement, a row per item (``FOR UPDATE``
#: of the order on PostgreSQL when locking)
_WITH_ITEMS = {locking: _with_items(locking) for locking in (False, True)}
_decode = msgspec.json.Decoder().decode
_EXTRA = (
    *(f"{role}_{column}" for role in ("buyer", "seller") for column in _PARTY_COLUMNS),
    "conversation_id",
    "conversation_members",
    "funded",
)


async def order_with_items(
    order_id: int, *, for_update: bool = False
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The order's row and its item rows (by position) in one statement, or as the
    current transaction holds them; 404 for no such order.  ``for_update``: the order's
    row is locked for the rest of the transaction (PostgreSQL), which then holds both,
    its parties as its notices need them, and its conversation with its participants
    (``"order_conversation"``: ``(id or None, {member ids})``, what its system messages
    need) and whether a payment funds it (``"order_funded"``); see :meth:`~agorakit.runtime.UnitOfWork.hold`)."""
    uow = current_unit_of_work()
    if uow is not None:
        row, items = uow.held("order", order_id), uow.held("order_items", order_id)
        if row is not None and items is not None:
            return dict(row), items
    rows = await _WITH_ITEMS[for_update and Order._meta.db.engine_type == "postgres"].run(order_id)
    if not rows:
        raise NotFound(f"there is no order {order_id}")
    first = rows[0]
    row = {key: value for key, value in first.items() if not key.startswith("item_") and key not in _EXTRA}
    if isinstance(row["data"], str | bytes):
        row["data"] = _decode(row["data"])
    items = [
        {"order": order_id, **{column: r[f"item_{column}"] for column in _ITEM_COLUMNS}}
        for r in rows
        if r["item_id"] is not None
    ]
    if for_update and uow is not None:
        uow.hold("order", order_id, dict(row))
        uow.hold("order_items", order_id, items)
        members = {int(m) for m in (first["conversation_members"] or "").split(",") if m}
        uow.hold("order_conversation", order_id, (first["conversation_id"], members))
        if Order._meta.db.engine_type != "postgres":  # (see _THREAD)
            uow.hold("order_funded", order_id, bool(first["funded"]))
        for role in ("buyer", "seller"):
            member_id = row[f"{role}_id"]
            if member_id is not None and first[f"{role}_status"] is not None:
                party = {column: first[f"{role}_{column}"] for column in _PARTY_COLUMNS}
                party["muted"] = frozenset(filter(None, (party["muted"] or "").split(",")))
                uow.hold(
                    "member", member_id, {**(uow.held("member", member_id) or {}), "id": member_id, **party}
                )
    return row, items


def hold_order(uow: Any, row: dict[str, Any], items: list[dict[str, Any]] | None = None) -> None:
    """Keep an order's row (and its items) as the transaction ``uow`` leaves them."""
    uow.hold("order", row["id"], dict(row))
    if items is not None:
        uow.hold("order_items", row["id"], items)


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
        fetched: list[dict[str, Any]] = await _ITEMS.run(row["id"])
        items = fetched
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


def roles_of(
    order: dict[str, Any], caller: MemberOut | None, process: Process | None = None
) -> frozenset[str]:
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


async def get_order(runtime: Runtime, order_id: int, *, caller: MemberOut | None) -> OrderOut:
    """An order for one of its parties, an operator, or a member who may take it (an order
    without a seller whose listing they may take); 404 for anyone else."""
    row = await _order_row(order_id)
    process = registry(runtime).processes.get((row["process"], row["process_version"]))
    roles = await _visible_roles(runtime, row, caller, process)
    return await _to_order(row, roles=roles, process=process)


async def visible_row(runtime: Runtime, order_id: int, *, caller: MemberOut | None) -> dict[str, Any]:
    """The order's row if ``caller`` may see the order (as :func:`get_order` decides), else
    a 404: for a check that needs no more than the row."""
    row = await _order_row(order_id)
    await _visible_roles(
        runtime, row, caller, registry(runtime).processes.get((row["process"], row["process_version"]))
    )
    return row


async def _visible_roles(
    runtime: Runtime, row: dict[str, Any], caller: MemberOut | None, process: Process | None
) -> frozenset[str]:
    """The caller's roles on the order, or a 404 when they may not see it: a member who is
    only a candidate sees an order with a listing only while they may take that listing
    (e.g. their access to its category), as the listing itself would tell them."""
    roles = roles_of(row, caller, process)
    if roles == frozenset({"candidate"}) and row["listing_id"] is not None and caller is not None:
        try:
            await check_can_take(runtime, await get_listing(row["listing_id"]), caller)
        except (NotEligible, NotFound):
            roles = frozenset()
    if not roles:
        raise NotFound(f"there is no order {row['id']}")
    return roles


async def history(runtime: Runtime, order_id: int, *, caller: MemberOut | None) -> list[OrderEventOut]:
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
    runtime: Runtime,
    *,
    caller: MemberOut,
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
    rows, next_cursor = page(await query.output(load_json=True), limit, lambda row: {"id": row["id"]})
    reg = registry(runtime)
    items = []
    for row in rows:
        process = reg.processes.get((row["process"], row["process_version"]))
        items.append(await _to_order(row, roles=roles_of(row, caller, process), process=process))
    return items, next_cursor


async def operator_orders(
    *,
    cursor: str | None,
    limit: int,
    member_id: int | None = None,
    kind: str | None = None,
    state: str | None = None,
) -> tuple[list[OperatorOrderOut], str | None]:
    """Every order, newest first, for operators: ``member_id`` as buyer or seller,
    ``kind`` (the process) and ``state`` narrow it; the parties' names and the listing's
    title are read in one statement each per page."""
    query = (
        Order.select(
            Order.id,
            Order.process,
            Order.state,
            Order.buyer_id,
            Order.seller_id,
            Order.listing_id,
            Order.currency,
            Order.amount,
            Order.created_at,
            Order.updated_at,
        )
        .order_by(Order.id, ascending=False)
        .limit(limit + 1)
    )
    if member_id is not None:
        query = query.where((Order.buyer_id == member_id) | (Order.seller_id == member_id))
    if kind:
        query = query.where(Order.process == kind)
    if state:
        query = query.where(Order.state == state)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Order.id < position["id"])
    rows, next_cursor = page(await query, limit, lambda row: {"id": row["id"]})
    people = {row["buyer_id"] for row in rows} | {row["seller_id"] for row in rows if row["seller_id"]}
    names = {member_id: m.display_name for member_id, m in (await get_members(sorted(people))).items()}
    listing_ids = sorted({row["listing_id"] for row in rows if row["listing_id"] is not None})
    titles = (
        {
            r["id"]: r["title"]
            for r in await Listing.select(Listing.id, Listing.title).where(any_of(Listing.id, listing_ids))
        }
        if listing_ids
        else {}
    )
    return [
        OperatorOrderOut(
            id=row["id"],
            kind=row["process"],
            state=row["state"],
            buyer_id=row["buyer_id"],
            buyer_name=names.get(row["buyer_id"]),
            seller_id=row["seller_id"],
            seller_name=names.get(row["seller_id"]) if row["seller_id"] is not None else None,
            listing_id=row["listing_id"],
            listing_title=titles.get(row["listing_id"]),
            total=money(row["amount"], row["currency"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )
        for row in rows
    ], next_cursor
