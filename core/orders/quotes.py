"""What fee plugins see of an order: its :class:`~agorakit.money.QuoteContext`.

A caller that has read the listing and the buyer already (a listing kind's order
endpoint) passes the context to :func:`agorakit.orders.create_order` or
:func:`agorakit.orders.quote_order` and costs nothing more.  Otherwise the engine reads it
here, in one statement: the listing's kind and category slug and both parties'
countries.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from agorakit.money.fees import QuoteContext


def order_quantity(quantities: Iterable[int]) -> int:
    """How many of the listing an order of line items buys: its largest line quantity
    (a gig's extras are ordered as many times as the gig)."""
    return max(quantities, default=1)


_SQL: dict[str, str] = {}


def _sql() -> str:
    # Table names come from the tables themselves; the statement is built once.
    if "context" not in _SQL:
        from agorakit.accounts.tables import Member
        from agorakit.catalog.tables import Category, Listing

        member = Member._meta.tablename
        listing = Listing._meta.tablename
        category = Category._meta.tablename
        _SQL["context"] = (
            f'SELECT (SELECT m.country FROM "{member}" m WHERE m.id = {{}}) AS buyer_country, '
            f'(SELECT m.country FROM "{member}" m WHERE m.id = {{}}) AS seller_country, '
            "l.kind AS listing_kind, c.slug AS category "
            "FROM (SELECT 1 AS one) AS one "
            f'LEFT JOIN "{listing}" l ON l.id = {{}} '
            f'LEFT JOIN "{category}" c ON c.id = l.category_id'
        )
    return _SQL["context"]


async def load_quote_context(
    *, listing_id: int | None, buyer_id: int | None, seller_id: int | None, quantity: int
) -> QuoteContext:
    """The context of a quote read from the database (one statement)."""
    from agorakit.orders.tables import Order

    rows: list[dict[str, Any]] = await Order.raw(_sql(), buyer_id, seller_id, listing_id)
    row = rows[0]
    return QuoteContext(
        listing_id=listing_id,
        listing_kind=row["listing_kind"],
        category=row["category"],
        seller_country=row["seller_country"],
        buyer_country=row["buyer_country"],
        quantity=quantity,
    )
