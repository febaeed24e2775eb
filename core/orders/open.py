"""Open orders for a member: the orders without a seller they may take, newest first.

An order is open to a member (``GET /orders/open``) when it has no seller, sits in a
state from which its process lets a ``candidate`` fire a transition, is not the
member's own, and its listing is one they may take: published, not theirs, and, for a
kind with ``takers="qualified"``, in a category they have approved access to (or below
one).  The database decides all of that (:meth:`_Statement.page`), reading the partial
index ``core_order_open`` (the orders without a seller, by id) newest first.  The
plugins' ``agorakit_can_take`` vetoes are then asked about the page's listings: a
vetoed order is left out and more are read to fill the page, at most :data:`SCAN_ROUNDS`
pages' worth; a page whose orders are mostly vetoed may end short, with a cursor to go
on from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agorakit.catalog import (
    category_slugs,
    category_subtree,
    get_listings,
    qualified_category_ids,
    qualified_kinds,
    take_vetoes,
)
from agorakit.catalog.tables import Listing
from agorakit.db.prepared import Prepared, any_of
from agorakit.errors import FieldError, ValidationFailed
from agorakit.orders.process_registry import registry
from agorakit.orders.queries import _to_order, roles_of
from agorakit.orders.schemas import OrderOut
from agorakit.orders.tables import Order, OrderItem
from agorakit.pagination import check_limit, decode_cursor, encode_cursor

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts.schemas import MemberOut
    from agorakit.runtime import Runtime

#: how many pages' worth of open orders one page reads at most when plugins veto some
SCAN_ROUNDS = 5
#: how many of the newest open orders a page reads in order before it looks its matches
#: up instead (see :meth:`_Statement.page`)
WALK = 1000
#: the largest amount a filter compares (a bigger one matches what this one matches)
_MAX_AMOUNT = 2**63 - 1

_ORDERS = Prepared(lambda ids: Order.select().where(any_of(Order.id, ids)).output(load_json=True))
_ITEMS_OF = Prepared(
    lambda ids: (
        OrderItem.select()
        .where(any_of(OrderItem.order, ids))
        .order_by(OrderItem.order)
        .order_by(OrderItem.position)
        .output(load_json=True)
    )
)


def candidate_states(runtime: Runtime, process: str | None = None) -> dict[tuple[str, int], list[str]]:
    """(process, version) → the states from which a candidate may fire a transition."""
    out: dict[tuple[str, int], list[str]] = {}
    for key, definition in registry(runtime).processes.items():
        if process is not None and key[0] != process:
            continue
        states = [s for s in definition.states if definition.available(s, frozenset({"candidate"}))]
        if states:
            out[key] = states
    return out


async def open_orders(
    runtime: Runtime,
    caller: MemberOut,
    *,
    process: str | None = None,
    category: str | None = None,
    currency: str | None = None,
    min_amount: int | None = None,
    max_amount: int | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> tuple[list[OrderOut], str | None]:
    """The orders ``caller`` may take now (see the module docstring), newest first, as
    ``GET /orders/{id}`` shows each to them (``allowed_transitions``), and the cursor of
    the next page (None on the last).

    ``process``: one process's orders (any version); ``category``: a category slug, with
    the categories below it; ``min_amount``/``max_amount``: the order's amount in minor
    units of ``currency`` (the site's when an amount is given without one), inclusive.
    An unknown process or category, a negative amount, a foreign cursor or a limit out of
    1..100 is a 422.
    """
    check_limit(limit)
    position = decode_cursor(cursor, keys=("id",))
    errors = [
        FieldError(field, "must not be negative", "query")
        for field, value in (("min_price", min_amount), ("max_price", max_amount))
        if value is not None and value < 0
    ]
    if process is not None and not any(name == process for name, _ in registry(runtime).processes):
        errors.append(FieldError("process", f"there is no process {process!r}", "query"))
    category_ids: list[int] | None = None
    if category is not None:
        try:
            subtree = set(await category_subtree([category], field="category"))
        except ValidationFailed as exc:
            errors += [FieldError(e.field, e.message, "query") for e in exc.errors]
        else:
            category_ids = sorted(i for i, slug in (await category_slugs()).items() if slug in subtree)
    if errors:
        raise ValidationFailed(errors)
    states = candidate_states(runtime, process)
    if not states or getattr(caller, "status", "active") != "active":
        return [], None
    if (min_amount is not None or max_amount is not None) and currency is None:
        currency = runtime.settings.site.currency  # an amount means nothing without its currency
    statement = await _statement(
        runtime,
        caller,
        states,
        category_ids=category_ids,
        currency=currency,
        min_amount=min_amount,
        max_amount=max_amount,
    )
    want = limit + 1
    vetoing = bool(runtime.hooks.implementations("agorakit_can_take"))
    kept: list[dict[str, Any]] = []
    after = position["id"] if position is not None else None
    exhausted = False
    for _ in range(SCAN_ROUNDS if vetoing else 1):
        rows = await statement.page(runtime, after, want - len(kept))
        if rows:
            after = rows[-1]["id"]
        exhausted = len(rows) < want - len(kept)
        kept += await _not_vetoed(runtime, caller, rows) if vetoing else rows
        if len(kept) >= want or exhausted:
            break
    if len(kept) >= want:
        kept, next_cursor = kept[:limit], encode_cursor({"id": kept[limit - 1]["id"]})
    elif exhausted:
        next_cursor = None
    else:  # the vetoes left fewer than a page within the rounds: go on after what was read
        next_cursor = encode_cursor({"id": after})
    return await _views(runtime, caller, [row["id"] for row in kept]), next_cursor


#: the columns of an order the conditions read, for the walk's outer query
_WALK_COLUMNS = "o.id, o.listing_id, o.buyer_id, o.process, o.process_version, o.state, o.currency, o.amount"


@dataclass
class _Statement:
    """A page's SQL in two parts: ``index`` (the orders without a seller in the
    candidate states: the range of the partial index ``core_order_open``) and ``rest``
    (every other condition, on the order ``o`` and its listing ``l``), each with its
    values in the order the text reads them."""

    index: str
    index_args: list[Any]
    rest: str
    rest_args: list[Any]

    async def page(self, runtime: Runtime, after: int | None, count: int) -> list[dict[str, Any]]:
        """The first ``count`` open orders (``id`` and ``listing_id``) below ``after``,
        newest first.

        First a walk: the newest :data:`WALK` orders of the index's range, read in its
        order, with the other conditions tested on each (a page of a caller who may take
        most orders fills within a few dozen).  When the walk holds fewer than ``count``
        matches, the matches are looked up first and then sorted: a caller who may take
        few of the open orders (qualified in a small category, or in none) would
        otherwise read every open order and its listing (1 s at 100k open orders on
        PostgreSQL).  See docs/processes.md#open-orders for what a page costs."""
        orders, listings = Order._meta.tablename, Listing._meta.tablename
        postgres = runtime.db.is_postgres
        index = self.index + (f" AND o.id < {int(after)}" if after is not None else "")
        args = [*self.index_args, *self.rest_args]
        # SQLite keeps one average count per value of seller_id's own index and takes
        # "no seller" to be a few rows, to be fetched and sorted (every order without a
        # seller, to keep the newest thousand): it is told which index to walk.
        walk_from = f"{orders} o" if postgres else f"{orders} o INDEXED BY core_order_open"
        walk = f"SELECT {_WALK_COLUMNS} FROM {walk_from} WHERE {index} ORDER BY o.id DESC LIMIT {WALK}"
        found: list[dict[str, Any]] = await Order.raw(
            f"SELECT o.id AS id, o.listing_id AS listing_id FROM ({walk}) o "
            f"JOIN {listings} l ON l.id = o.listing_id WHERE {self.rest} ORDER BY o.id DESC LIMIT {int(count)}",
            *args,
        )
        if len(found) >= count:
            return found
        matches = (
            f"SELECT o.id AS id, o.listing_id AS listing_id FROM {orders} o "
            f"JOIN {listings} l ON l.id = o.listing_id WHERE {index} AND {self.rest}"
        )
        if postgres:
            matches += " OFFSET 0"  # matches first: PostgreSQL would walk the index again
        return await Order.raw(
            f"SELECT id, listing_id FROM ({matches}) AS m ORDER BY id DESC LIMIT {int(count)}", *args
        )


async def _statement(
    runtime: Runtime,
    caller: MemberOut,
    states: dict[tuple[str, int], list[str]],
    *,
    category_ids: list[int] | None,
    currency: str | None,
    min_amount: int | None,
    max_amount: int | None,
) -> _Statement:
    """The conditions of a page (see :class:`_Statement`)."""
    index_args: list[Any] = []
    every_state = sorted({s for found in states.values() for s in found})
    index = f"o.seller_id IS NULL AND o.state IN ({', '.join(_value(index_args, s) for s in every_state)})"
    args: list[Any] = []
    where = [
        "("
        + " OR ".join(
            f"(o.process = {_value(args, name)} AND o.process_version = {int(version)} "
            f"AND o.state IN ({', '.join(_value(args, s) for s in found)}))"
            for (name, version), found in sorted(states.items())
        )
        + ")"
    ]
    where.append(f"o.buyer_id <> {_value(args, caller.id)}")
    if currency is not None:
        where.append(f"o.currency = {_value(args, currency)}")
    if min_amount is not None:
        where.append(f"o.amount >= {_value(args, min(min_amount, _MAX_AMOUNT))}")
    if max_amount is not None:
        where.append(f"o.amount <= {_value(args, min(max_amount, _MAX_AMOUNT))}")
    where.append("l.status = 'published'")
    where.append(f"l.owner_id <> {_value(args, caller.id)}")
    restricted = qualified_kinds(runtime)
    if restricted:
        allowed = sorted(await qualified_category_ids(caller.id))
        kinds = f"l.kind NOT IN ({', '.join(_value(args, k) for k in restricted)})"
        if allowed:
            kinds = f"({kinds} OR l.category_id IN ({_ids(allowed)}))"
        where.append(kinds)
    if category_ids is not None:
        where.append(f"l.category_id IN ({_ids(category_ids) or 'NULL'})")
    return _Statement(index, index_args, " AND ".join(where), args)


def _value(args: list[Any], value: Any) -> str:
    """A placeholder for ``value``, which joins ``args``."""
    args.append(value)
    return "{}"


def _ids(ids: list[int]) -> str:
    return ", ".join(str(int(i)) for i in ids)


async def _not_vetoed(
    runtime: Runtime, caller: MemberOut, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The rows whose listing no ``agorakit_can_take`` implementation vetoes for ``caller``."""
    listing_ids = sorted({row["listing_id"] for row in rows})
    if not listing_ids:
        return []
    vetoes = await take_vetoes(runtime, await get_listings(listing_ids), caller)
    return [row for row in rows if not vetoes.get(row["listing_id"])]


async def _views(runtime: Runtime, caller: MemberOut, ids: list[int]) -> list[OrderOut]:
    """The orders as the caller sees them, in the order of ``ids`` (two statements)."""
    if not ids:
        return []
    rows = {row["id"]: row for row in await _ORDERS.run(ids)}
    items: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for item in await _ITEMS_OF.run(ids):
        items[item["order"]].append(item)
    reg = registry(runtime)
    out = []
    for order_id in ids:
        row = rows[order_id]
        process = reg.processes.get((row["process"], row["process_version"]))
        roles = roles_of(row, caller, process)
        if roles:  # (an order taken since the page was read is no longer the caller's to see)
            out.append(await _to_order(row, roles=roles, process=process, items=items[order_id]))
    return out
