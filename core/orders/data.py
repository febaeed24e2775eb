"""An order's ``data``: the model-specific facts a process's effects keep on the order
(a deadline, when it was paid, ...), merged in by plugins inside a transition."""

from __future__ import annotations

from typing import Any

import msgspec

from agorakit.db.prepared import PreparedRaw
from agorakit.orders.tables import Order
from agorakit.runtime import current_unit_of_work

#: one order's data (JSON text): JSON values cannot be parameters of a query builder's
_SET_DATA = PreparedRaw(Order, "UPDATE core_order SET data = {} WHERE id = {}")


def _set_many_sql(engine_type: str) -> str:
    if engine_type == "postgres":
        return (
            "UPDATE core_order SET data = v.data::json "
            "FROM unnest({}::bigint[], {}::text[]) AS v(id, data) WHERE core_order.id = v.id"
        )
    # one value: a JSON list of [id, data text] pairs, given twice
    return (
        "UPDATE core_order SET data = (SELECT json_extract(p.value, '$[1]') FROM json_each({}) AS p "
        "WHERE json_extract(p.value, '$[0]') = core_order.id) "
        "WHERE id IN (SELECT json_extract(value, '$[0]') FROM json_each({}))"
    )


#: several orders' data in one statement
_SET_DATA_MANY = PreparedRaw(Order, _set_many_sql)


def _encode(data: dict[str, Any]) -> str:
    return msgspec.json.encode(data).decode()


async def merge_order_data(order: Any, patch: dict[str, Any]) -> dict[str, Any]:
    """Merge ``patch`` into the data of ``order`` (an :class:`OrderOut` read in the same
    unit of work, e.g. a transition's ``ctx.order``); returns the order's new data.  Use
    it inside the unit of work that holds the order (a guard's or an effect's)."""
    data = {**(order.data or {}), **patch}
    await _SET_DATA.run(_encode(data), order.id)
    _held_data(order.id, data)
    return data


def _held_data(order_id: int, data: dict[str, Any]) -> None:
    """The order's row the transaction holds (if it does) gets its new data too."""
    uow = current_unit_of_work()
    held = uow.held("order", order_id) if uow is not None else None
    if uow is not None and held is not None:
        uow.hold("order", order_id, {**held, "data": data})


async def merge_order_data_many(patches: list[tuple[Any, dict[str, Any]]]) -> list[dict[str, Any]]:
    """:func:`merge_order_data` for several ``(order, patch)`` pairs (an order at most
    once) in one statement; the orders' new data, in order."""
    merged = [{**(order.data or {}), **patch} for order, patch in patches]
    if not patches:
        return merged
    ids = [order.id for order, _ in patches]
    texts = [_encode(data) for data in merged]
    if Order._meta.db.engine_type == "postgres":
        await _SET_DATA_MANY.run(ids, texts)
    else:
        pairs = [[order_id, text] for order_id, text in zip(ids, texts, strict=True)]
        await _SET_DATA_MANY.run(pairs, pairs)
    for order_id, data in zip(ids, merged, strict=True):
        _held_data(order_id, data)
    return merged
