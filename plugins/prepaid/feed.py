"""The requests feed: the open requests a seller may take, from the plugin's own table.

A seller sees the open requests of the categories they have approved access to (access
to a category covers the categories below it), newest first, never their own; filters by
category (with its subtree), service type, mode and price.  One query on
``prepaid_request`` (index ``status, category_id, id``) after reading the seller's
categories: its cost does not grow with the number of open requests elsewhere.
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
    select = (
        Request.select()
        .where((Request.status == "open") & Request.category_id.is_in(sorted(allowed)))
        .where(Request.buyer_id != caller.id)
        .order_by(Request.id, ascending=False)
        .limit(query.limit + 1)
    )
    if query.service_type:
        select = select.where(Request.service_type == query.service_type)
    if query.mode:
        select = select.where(Request.mode == query.mode)
    if prices[0] is not None or prices[1] is not None:
        select = select.where(Request.currency == currency)
    if prices[0] is not None:
        select = select.where(Request.price >= prices[0])
    if prices[1] is not None:
        select = select.where(Request.price <= prices[1])
    position = decode_cursor(query.cursor, keys=("id",))
    if position is not None:
        select = select.where(Request.id < position["id"])
    rows: list[dict[str, Any]] = await select.output(load_json=True)
    rows, next_cursor = page(rows, query.limit, lambda r: {"id": r["id"]})
    return [await to_request(runtime, r, viewer=caller, brief=True) for r in rows], next_cursor
