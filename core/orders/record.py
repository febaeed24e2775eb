"""A seller's record: how their orders of some processes ended, for profiles and stats."""

from __future__ import annotations

import msgspec

from agorakit.orders.tables import Order, OrderEvent


class SellerRecord(msgspec.Struct, kw_only=True):
    seller_id: int
    #: orders the member sold that completed (accepted, completed by themselves, or
    #: released by a dispute), a refund after completion included
    completed: int
    #: orders the member cancelled as their seller before delivering (``seller_cancel``)
    cancelled_by_seller: int


async def seller_record(seller_id: int, processes: tuple[str, ...] | list[str]) -> SellerRecord:
    """The record of ``seller_id`` over their orders of ``processes``: two counts, two
    statements."""
    of_seller = (Order.seller_id == seller_id) & Order.process.is_in(list(processes))
    completed = await Order.count().where(of_seller & (Order.state == "completed"))
    cancelled = await Order.count().where(
        of_seller
        & Order.id.is_in(OrderEvent.select(OrderEvent.order).where(OrderEvent.transition == "seller_cancel"))
    )
    return SellerRecord(seller_id=seller_id, completed=completed, cancelled_by_seller=cancelled)
