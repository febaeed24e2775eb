"""Creating orders: an order enters its process's initial state with its items, its
history's first row, its timers and its fee quote (priced now by the fee plugins, or
agreed beforehand), in one unit of work."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from agorakit.db.prepared import PreparedInsert, PreparedRaw
from agorakit.errors import FieldError, ValidationFailed
from agorakit.money.fees import Quote, QuoteContext, compute_fees
from agorakit.orders.engine import _INSERT_HISTORY, _INSERT_TIMERS, _timer_rows, hold_member
from agorakit.orders.events import OrderCreated
from agorakit.orders.process_registry import registry
from agorakit.orders.queries import _to_order, hold_order, roles_of
from agorakit.orders.quotes import load_quote_context, order_quantity
from agorakit.orders.schemas import ItemIn, OrderOut
from agorakit.orders.tables import Order, OrderItem

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts.schemas import MemberOut
    from agorakit.runtime import Runtime, UnitOfWork


async def create_order(
    runtime: Runtime,
    *,
    process: str,
    buyer_id: int,
    currency: str,
    items: list[ItemIn],
    seller_id: int | None = None,
    listing_id: int | None = None,
    data: dict[str, Any] | None = None,
    uow: UnitOfWork | None = None,
    caller: MemberOut | None = None,
    quote_context: QuoteContext | None = None,
    agreed_quote: dict[str, Any] | None = None,
    actor_id: int | None = None,
) -> OrderOut:
    """Create an order in its process's initial state (inside ``uow`` if given), caused by
    ``actor_id`` (default the buyer; the seller when a worker takes a campaign's position).

    ``agreed_quote``: a fee breakdown agreed before the order exists (what an employer
    paid per task when funding a campaign): ``buyer_total``, ``seller_net``,
    ``platform_total`` (minor units) and ``lines``; fee plugins are not asked again and
    the order's release pays exactly it.

    ``quote_context`` is what fee plugins see of the sale (the listing, its category,
    both parties' countries, the quantity); a caller that has read the listing and the
    buyer passes it, otherwise it is read in one statement (not when the order charges
    no fees).  Returns the order as :func:`get_order` shows it to ``caller`` (its
    allowed transitions), or without them when no caller is given.
    """
    if not items:
        raise ValidationFailed([FieldError("items", "an order needs at least one item")])
    for index, item in enumerate(items):
        if item.unit_price < 0 or item.quantity < 1:
            message = "unit price must not be negative and quantity must be at least 1"
            raise ValidationFailed([FieldError(f"items[{index}]", message)])
    definition = registry(runtime).latest(process)
    if agreed_quote is not None:
        _check_agreed(agreed_quote, sum(item.unit_price * item.quantity for item in items))
        data = {**(data or {}), "quote": agreed_quote}
    elif data and "quote" in data:
        data = {key: value for key, value in data.items() if key != "quote"}  # priced below
    args = (definition, buyer_id, seller_id, listing_id, currency, items, data, quote_context)
    actor = buyer_id if actor_id is None else actor_id
    if uow is None:
        async with runtime.unit_of_work() as own:
            row, item_rows = await _create(own, *args, actor=actor, caller=caller)
    else:
        row, item_rows = await _create(uow, *args, actor=actor, caller=caller)
    if caller is None:
        return await _to_order(row, items=item_rows)
    return await _to_order(row, roles=roles_of(row, caller, definition), process=definition, items=item_rows)


def quote_order(
    runtime: Runtime,
    *,
    process: str,
    amount: int,
    currency: str,
    buyer_id: int | None,
    seller_id: int | None,
    data: dict[str, Any],
    context: QuoteContext,
) -> dict[str, Any]:
    """The fee breakdown agreed when the order is placed (kept in ``data["quote"]``).

    ``data["fee_kind"]`` names the kind fee plugins see (default: the process name);
    ``data["charge_fees"] = False`` (e.g. free offers) means no fee at all.  ``context``
    is what fee plugins see of the sale (:class:`agorakit.money.QuoteContext`).
    """
    if not data.get("charge_fees", True):
        return {"buyer_total": amount, "seller_net": amount, "platform_total": 0, "lines": []}
    breakdown = compute_fees(
        runtime,
        Quote(
            amount=amount,
            currency=currency,
            kind=data.get("fee_kind", process),
            buyer_id=buyer_id,
            seller_id=seller_id,
            context=context,
        ),
    )
    return {
        "buyer_total": breakdown.buyer_total,
        "seller_net": breakdown.seller_net,
        "platform_total": breakdown.platform_total,
        "lines": msgspec.to_builtins(breakdown.lines),
    }


def _check_agreed(quote: dict[str, Any], amount: int) -> None:
    """An agreed quote must add up: what the buyer pays = the seller's net + the fees."""
    try:
        buyer_total, net, fees = (int(quote[k]) for k in ("buyer_total", "seller_net", "platform_total"))
    except (KeyError, TypeError, ValueError):
        raise ValueError(
            f"an agreed quote needs buyer_total, seller_net and platform_total: {quote!r}"
        ) from None
    if buyer_total - fees != net or not 0 <= net <= amount <= buyer_total:
        raise ValueError(f"an agreed quote does not add up for an amount of {amount}: {quote!r}")


_INSERT_ORDER = PreparedInsert(Order)
_INSERT_ITEMS = PreparedInsert(OrderItem)


async def _create_apart(uow, definition, row, lines, role, actor) -> tuple[int, list[int]]:
    """SQLite: the order, its items, its history's first row and its timers, a statement
    each; the order's id and its items' ids."""
    order_id = (await _INSERT_ORDER.run(row))[0]["id"]
    inserted = await _INSERT_ITEMS.run(*({"order": order_id, **line} for line in lines))
    await _INSERT_HISTORY.run(
        {
            "order": order_id,
            "seq": 1,
            "transition": "create",
            "from_state": None,
            "to_state": definition.initial,
            "actor_role": role,
            "actor_id": actor,
            "data": {},
            "at": row["created_at"],
        }
    )
    timers = _timer_rows(order_id, definition, definition.initial, row["created_at"], row["data"])
    if timers:
        await _INSERT_TIMERS.run(*timers)
    return order_id, [r["id"] for r in inserted]


def _create_sql(engine_type: str) -> str:
    assert engine_type == "postgres", "SQLite writes an order a statement per table"
    return (
        "WITH o AS (INSERT INTO core_order (process, process_version, state, version, buyer_id, seller_id, "
        "listing_id, currency, amount, data, state_entered_at, created_at, updated_at) VALUES "
        "({}, {}, {}, 1, {}, {}, {}, {}, {}, {}::json, {}, {}, {}) RETURNING id), "
        'i AS (INSERT INTO core_order_item ("order", position, kind, description, unit_price, quantity, amount) '
        "SELECT o.id, v.position, v.kind, v.description, v.unit_price, v.quantity, v.amount FROM o, unnest("
        "{}::integer[], {}::varchar[], {}::varchar[], {}::bigint[], {}::integer[], {}::bigint[]) "
        "AS v(position, kind, description, unit_price, quantity, amount) ORDER BY v.position RETURNING id, position), "
        'h AS (INSERT INTO core_order_event ("order", seq, transition, from_state, to_state, actor_role, actor_id, '
        "data, at) SELECT o.id, 1, 'create', NULL, {}, {}, {}, json_build_object(), {} FROM o), "
        't AS (INSERT INTO core_order_timer ("order", state, transition, due_at, status, attempts, created_at) '
        "SELECT o.id, {}, v.transition, v.due_at, 'pending', 0, {} FROM o, unnest({}::varchar[], {}::timestamptz[]) "
        "WITH ORDINALITY AS v(transition, due_at, position) ORDER BY v.position) "
        "SELECT o.id, i.id AS item_id FROM o LEFT JOIN i ON TRUE ORDER BY i.position"
    )


#: PostgreSQL: an order, its items, its history's first row and its timers in one statement
_CREATE = PreparedRaw(Order, _create_sql)


async def _create_at_once(uow, definition, row, lines, role, actor) -> tuple[int, list[int]]:
    """PostgreSQL: :func:`_create_apart` in one statement."""
    now = row["created_at"]
    timers = _timer_rows(0, definition, definition.initial, now, row["data"])
    rows = await _CREATE.run(
        row["process"],
        row["process_version"],
        row["state"],
        row["buyer_id"],
        row["seller_id"],
        row["listing_id"],
        row["currency"],
        row["amount"],
        msgspec.json.encode(row["data"]).decode(),
        now,
        now,
        now,
        *([line[column] for line in lines] for column in _LINE_COLUMNS),
        definition.initial,
        role,
        actor,
        now,
        definition.initial,
        now,
        [timer["transition"] for timer in timers],
        [timer["due_at"] for timer in timers],
    )
    return rows[0]["id"], [r["item_id"] for r in rows if r["item_id"] is not None]


_LINE_COLUMNS = ("position", "kind", "description", "unit_price", "quantity", "amount")


async def _create(
    uow, definition, buyer_id, seller_id, listing_id, currency, items, data, context, *, actor, caller=None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Write the order, its items, history and timers; its row and item rows as written
    (the transaction holds them: its notices and the response read nothing again)."""
    now = uow.now
    amount = sum(item.unit_price * item.quantity for item in items)
    data = dict(data or {})
    agreed = data.get("quote")
    if agreed is None and context is None and data.get("charge_fees", True):
        context = await load_quote_context(
            listing_id=listing_id,
            buyer_id=buyer_id,
            seller_id=seller_id,
            quantity=order_quantity(item.quantity for item in items),
        )
    if agreed is None:
        data["quote"] = quote_order(
            uow.runtime,
            process=definition.name,
            amount=amount,
            currency=currency,
            buyer_id=buyer_id,
            seller_id=seller_id,
            data=data,
            context=context or QuoteContext(),  # none read: the order charges no fees
        )
    row = {
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
    role = "seller" if actor == seller_id and actor != buyer_id else "buyer"
    lines = [
        {
            "position": index,
            "kind": item.kind,
            "description": item.description,
            "unit_price": item.unit_price,
            "quantity": item.quantity,
            "amount": item.unit_price * item.quantity,
        }
        for index, item in enumerate(items, start=1)
    ]
    if uow.runtime.db.is_postgres:
        order_id, item_ids = await _create_at_once(uow, definition, row, lines, role, actor)
    else:
        order_id, item_ids = await _create_apart(uow, definition, row, lines, role, actor)
    row = {"id": order_id, **row}
    item_rows = [
        {"id": item_id, "order": order_id, **line} for item_id, line in zip(item_ids, lines, strict=True)
    ]
    hold_order(uow, row, item_rows)
    if caller is not None:
        hold_member(uow, caller)
    uow.record(
        OrderCreated(order_id=order_id, process=definition.name, state=definition.initial),
        subject=f"order:{order_id}",
        actor_id=actor,
    )
    return row, item_rows
