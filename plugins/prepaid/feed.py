"""The requests feed: the open requests a seller may take, from the plugin's own table.

A seller sees the open requests of the categories they have approved access to (access
to a category covers the categories below it), newest first, never their own; filters by
category (with its subtree), service type, mode and price.  One query on
``prepaid_request`` after reading the seller's categories: the newest matches of each
category (index ``status, category_id, id``, walked backwards from the cursor), merged
newest first.  A page therefore reads at most a page per category, whatever the number
of open requests and wherever the newest of them are; a query over all the categories at
once may walk the whole table's newest requests first when those are in other
categories.  A seller with access to more than :data:`MERGED_CATEGORIES` categories gets
that one query (their categories hold a good share of any page's requests).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from agorakit.catalog import NotEligible, category_slugs, category_subtree, qualified_category_ids
from agorakit.money import parse_amount
from agorakit.pagination import decode_cursor, page
from agorakit.plugins.prepaid.tables import Request

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts import MemberOut
    from agorakit.plugins.prepaid.schemas import PrepaidRequestOut
    from agorakit.runtime import Runtime

#: up to this many categories, a page merges each category's newest matches
MERGED_CATEGORIES = 20
_COLUMNS = ", ".join(f'"{column._meta.db_column_name}"' for column in Request._meta.columns)


class FeedQuery(msgspec.Struct, kw_only=True):
    category: str | None = None
    service_type: str | None = None
    mode: str | None = None
    currency: str | None = None
    min_price: str | None = None
    max_price: str | None = None
    cursor: str | None = None
    limit: int = 20


async def feed(
    runtime: Runtime, query: FeedQuery, *, caller: MemberOut
) -> tuple[list[PrepaidRequestOut], str | None]:
    """The open requests ``caller`` may take (see the module)."""
    from agorakit.plugins.prepaid.requests import to_request

    allowed = await qualified_category_ids(caller.id)
    if query.category is not None:
        slugs = await category_slugs()
        wanted = set(await category_subtree([query.category]))
        allowed = {i for i in allowed if slugs.get(i) in wanted}
        if not allowed:
            reason = (
                f"you have no approved access to category {query.category!r} or a category below it; "
                "apply for it with POST /qualifications"
            )
            raise NotEligible(reason, extra={"reasons": [reason]})
    if not allowed:
        return [], None
    currency = query.currency or runtime.settings.site.currency
    prices = [
        parse_amount(text, currency, field=name, allow_zero=True) if text else None
        for name, text in (("min_price", query.min_price), ("max_price", query.max_price))
    ]
    where, args = ["status = {}", "buyer_id <> {}"], ["open", caller.id]
    for condition, value in (
        ("service_type = {}", query.service_type or None),
        ("mode = {}", query.mode),
        ("currency = {}", currency if prices[0] is not None or prices[1] is not None else None),
        ("price >= {}", prices[0]),
        ("price <= {}", prices[1]),
    ):
        if value is not None:
            where.append(condition)
            args.append(value)
    position = decode_cursor(query.cursor, keys=("id",))
    if position is not None:
        where.append("id < {}")
        args.append(position["id"])
    rows = await _newest(sorted(allowed), " AND ".join(where), args, query.limit + 1)
    rows, next_cursor = page(rows, query.limit, lambda r: {"id": r["id"]})
    return [await to_request(runtime, r, viewer=caller, brief=True) for r in rows], next_cursor


async def _newest(categories: list[int], where: str, args: list[Any], limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` requests of ``categories`` matching ``where`` (``{}`` for each
    of ``args``), newest first (see the module)."""
    select = f"SELECT {_COLUMNS} FROM prepaid_request WHERE"
    if len(categories) == 1 or len(categories) > MERGED_CATEGORIES:
        marks = ", ".join("{}" for _ in categories)
        sql = f"{select} category_id IN ({marks}) AND {where} ORDER BY id DESC LIMIT {limit}"
        values = [*categories, *args]
    else:
        one = f"{select} category_id = {{}} AND {where} ORDER BY id DESC LIMIT {limit}"
        sql = " UNION ALL ".join(f"SELECT * FROM ({one}) AS c{n}" for n in range(len(categories)))
        sql += f" ORDER BY id DESC LIMIT {limit}"
        values = [value for category in categories for value in (category, *args)]
    rows: list[dict[str, Any]] = await Request.raw(sql, *values)
    for row in rows:
        if isinstance(row["details"], str | bytes):  # JSON as text (a raw query)
            row["details"] = msgspec.json.decode(row["details"])
    return rows
