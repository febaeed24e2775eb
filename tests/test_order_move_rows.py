"""The rows that follow an order's move in its transaction, on both databases.

PostgreSQL writes a move (the order, its history row, its old state's timers cancelled,
its new state's set) in one statement, and a notice (a notification and its email) in
another.  SQLite has no data-modifying ``WITH``: there the history row's insert moves the
order and cancels its timers (triggers of ``core_order_event``), and a notice is one
insert into the view ``core_notice``, whose trigger writes the notification and its email.
These tests hold both engines to the same rows.
"""

from __future__ import annotations

import pytest

from agorakit import orders as orders_api
from agorakit.errors import Conflict
from agorakit.notifications.tables import EmailOutbox, Notification, NotificationPreference
from agorakit.orders.engine import _enter_all
from agorakit.orders.process_registry import registry
from agorakit.orders.queries import order_with_items
from agorakit.orders.tables import Order, OrderEvent, OrderTimer
from tests.test_orders import extra_plugins, fund_credit, new_order

__all__ = ["extra_plugins"]


async def history_of(order_id):
    rows = await OrderEvent.select().where(OrderEvent.order == order_id).order_by(OrderEvent.seq)
    return [(r["seq"], r["transition"], r["from_state"], r["to_state"], r["actor_role"]) for r in rows], rows


async def timers_of(order_id):
    rows = await OrderTimer.select().where(OrderTimer.order == order_id).order_by(OrderTimer.id)
    return [(r["state"], r["transition"], r["status"]) for r in rows]


async def test_each_move_sets_the_order_writes_its_history_and_cancels_its_timers(runtime, make_member):
    buyer, seller = await make_member(), await make_member()
    await fund_credit(runtime, buyer.id)
    order = await new_order(runtime, buyer, seller)
    await orders_api.fire(runtime, order.id, "pay", caller=buyer.member)
    delivered = await orders_api.fire(runtime, order.id, "deliver", caller=seller.member)
    assert (delivered.state, delivered.version) == ("delivered", 3)
    assert await timers_of(order.id) == [("delivered", "auto_complete", "pending")]

    accepted = await orders_api.fire(runtime, order.id, "accept", caller=buyer.member)

    row = await Order.select().where(Order.id == order.id).first()
    assert (row["state"], row["version"], row["seller_id"]) == ("completed", 4, seller.id)
    history, rows = await history_of(order.id)
    assert history == [
        (1, "create", None, "awaiting_payment", "buyer"),
        (2, "pay", "awaiting_payment", "in_progress", "buyer"),
        (3, "deliver", "in_progress", "delivered", "seller"),
        (4, "accept", "delivered", "completed", "buyer"),
    ]
    assert [r["actor_id"] for r in rows] == [buyer.id, buyer.id, seller.id, buyer.id]
    # the order entered its state when its last history row says, as the answer says
    assert row["state_entered_at"] == row["updated_at"] == rows[-1]["at"] == accepted.state_entered_at
    assert await timers_of(order.id) == [("delivered", "auto_complete", "cancelled")]


async def test_a_move_from_a_row_read_before_another_move_is_refused(runtime, make_member):
    """Two moves from the same read: the second is a 409 and writes nothing."""
    buyer, seller = await make_member(), await make_member()
    await fund_credit(runtime, buyer.id)
    order = await new_order(runtime, buyer, seller)
    await orders_api.fire(runtime, order.id, "pay", caller=buyer.member)
    stale, _ = await order_with_items(order.id)
    await orders_api.fire(runtime, order.id, "deliver", caller=seller.member)
    process = registry(runtime).get(stale["process"], stale["process_version"])
    with pytest.raises(Conflict, match="changed while deliver was being fired"):
        async with runtime.unit_of_work() as uow:
            await _enter_all(
                uow, process, "delivered", "deliver", [(stale, "seller", seller.id, {}, seller.id)]
            )
    row = await Order.select().where(Order.id == order.id).first()
    assert (row["state"], row["version"]) == ("delivered", 3)
    assert len((await history_of(order.id))[0]) == 3
    assert await timers_of(order.id) == [("delivered", "auto_complete", "pending")]


async def test_a_notice_writes_its_notification_and_its_email_once(runtime, make_member):
    buyer, seller = await make_member(), await make_member()
    await NotificationPreference.insert(
        NotificationPreference(member_id=buyer.id, category="orders", email=False)
    )
    await fund_credit(runtime, buyer.id)
    order = await new_order(runtime, buyer, seller)
    await orders_api.fire(runtime, order.id, "pay", caller=buyer.member)
    await orders_api.fire(runtime, order.id, "deliver", caller=seller.member)
    await orders_api.fire(runtime, order.id, "accept", caller=buyer.member)

    told = (
        await Notification.select()
        .where(Notification.link.like(f"/orders/{order.id}%"))
        .order_by(Notification.id)
    )
    assert told, "the moves told the parties"
    emails = await EmailOutbox.select().order_by(EmailOutbox.id)
    by_notification = {e["notification_id"]: e for e in emails}
    for notification in told:
        email = by_notification.get(notification["id"])
        if notification["member_id"] == buyer.id:  # the buyer turned email off for orders
            assert email is None
            continue
        assert email is not None, notification
        assert (email["member_id"], email["to_address"], email["subject"], email["status"]) == (
            seller.id,
            seller.member.email,
            notification["title"],
            "pending",
        )
        assert email["text_body"].startswith(notification["body"])
    assert {n["member_id"] for n in told} == {buyer.id, seller.id}
    # every email names a notification of its member
    members = {n["id"]: n["member_id"] for n in await Notification.select()}
    assert all(members[e["notification_id"]] == e["member_id"] for e in emails if e["notification_id"])
