"""The orders area's plugin API beyond firing transitions: paging the operators' timer
list, merging an order's data, accepting its proofs, and reading ahead for notices."""

from __future__ import annotations

import contextlib

import pytest

import agorakit
from agorakit import orders
from agorakit.orders.tables import Order, OrderTimer, Proof
from agorakit.testing import TEST_EPOCH
from tests.test_event_batches import count, statements
from tests.test_orders import TestGigPlugin, fire_path, fund_credit, new_order


@pytest.fixture
def extra_plugins():
    return [("testgig", TestGigPlugin())]


async def test_operators_walk_the_timer_list_page_by_page(client, runtime, make_member):
    buyer, seller, operator = await make_member(), await make_member(), await make_member(role="operator")
    made = [await new_order(runtime, buyer, seller) for _ in range(3)]
    async with runtime.unit_of_work() as uow:
        for order in made:
            await OrderTimer.insert(
                OrderTimer(
                    order=order.id,
                    state="awaiting_payment",
                    transition="expire",
                    due_at=uow.now,
                    status="failed",
                    attempts=5,
                    created_at=uow.now,
                )
            )
    failed = (
        await OrderTimer.select(OrderTimer.id).where(OrderTimer.status == "failed").order_by(OrderTimer.id)
    )
    params = {"status": "failed", "limit": 2}
    first = (await client.get("/operator/timers", params=params, headers=operator.headers)).json()
    assert [t["id"] for t in first["items"]] == [r["id"] for r in failed[:2]]
    assert first["next_cursor"]
    second = (
        await client.get(
            "/operator/timers", params={**params, "cursor": first["next_cursor"]}, headers=operator.headers
        )
    ).json()
    assert [t["id"] for t in second["items"]] == [failed[2]["id"]]
    assert [t["order_id"] for t in first["items"] + second["items"]] == [o.id for o in made]
    assert second["next_cursor"] is None


async def test_merging_order_data_keeps_the_rest_of_it(runtime, make_member):
    buyer, seller = await make_member(), await make_member()
    one, two, three = [await new_order(runtime, buyer, seller, note=f"n{i}") for i in range(3)]
    async with runtime.unit_of_work():
        merged = await orders.merge_order_data(one, {"deadline": "2030-01-01"})
        with statements(runtime) as sql:
            many = await orders.merge_order_data_many([(two, {"step": 2}), (three, {"step": 3, "note": "x"})])
    assert count(sql, "UPDATE core_order SET data") == 1 and len(sql) == 1
    rows = {
        r["id"]: r["data"]
        for r in await Order.select(Order.id, Order.data)
        .where(Order.buyer_id == buyer.id)
        .output(load_json=True)
    }
    assert merged == rows[one.id] == {**one.data, "deadline": "2030-01-01"}
    assert rows[one.id]["note"] == "n0" and rows[one.id]["quote"]["buyer_total"] == 500
    assert many == [rows[two.id], rows[three.id]]
    assert (rows[two.id]["step"], rows[two.id]["note"]) == (2, "n1")
    assert (rows[three.id]["step"], rows[three.id]["note"]) == (3, "x")


async def test_accepting_submitted_proofs_marks_only_the_waiting_ones(runtime, make_member):
    buyer, seller = await make_member(), await make_member()
    one, two = await new_order(runtime, buyer, seller), await new_order(runtime, buyer, seller)
    async with runtime.unit_of_work() as uow:
        for order, status in ((one, "submitted"), (one, "rejected"), (two, "submitted")):
            await Proof.insert(
                Proof(order=order.id, submitted_by=seller.id, text="done", status=status, created_at=uow.now)
            )
    assert await orders.has_submitted_proof(one.id) and await orders.has_submitted_proof(two.id)
    async with runtime.unit_of_work() as uow:
        await orders.accept_submitted_proofs(uow, one.id, reviewer_id=buyer.id)
        await orders.accept_submitted_proofs_many(uow, [(two.id, None)])
    rows = await Proof.select(Proof.order, Proof.status, Proof.reviewed_by).order_by(Proof.id)
    assert rows == [
        {"order": one.id, "status": "accepted", "reviewed_by": buyer.id},
        {"order": one.id, "status": "rejected", "reviewed_by": None},
        {"order": two.id, "status": "accepted", "reviewed_by": None},
    ]
    assert not await orders.has_submitted_proof(one.id)


class ReadAheadPlugin:
    """Counts the batches it reads ahead for, and what its notices find read."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.inside: list[bool] = []
        self.active = False

    @agorakit.hookimpl
    def agorakit_notices_read_ahead(self, events, runtime):
        @contextlib.asynccontextmanager
        async def ahead():
            self.batches.append([e.name for e in events])
            self.active = True
            try:
                yield
            finally:
                self.active = False

        return ahead()

    @agorakit.hookimpl
    def agorakit_notify(self, event, runtime):
        self.inside.append(self.active)
        return None


class TestReadAhead:
    @pytest.fixture
    def plugin(self):
        return ReadAheadPlugin()

    @pytest.fixture
    def extra_plugins(self, plugin):
        return [("testgig", TestGigPlugin()), ("ahead", plugin)]

    async def test_hook_agorakit_notices_read_ahead(self, client, runtime, make_member, plugin):
        """Notifications enter every plugin's read-ahead around a whole batch; the orders
        area's reads a batch's orders and history in two statements."""
        buyer, seller = await make_member(), await make_member()
        await fund_credit(runtime, buyer.id, 1000)
        made = [await new_order(runtime, buyer, seller) for _ in range(2)]
        for order in made:
            await client.post(fire_path(order.id, "pay"), headers=buyer.headers)
        assert plugin.batches and all(plugin.inside)
        from agorakit.events import DomainEvent
        from agorakit.orders.events import OrderTransitioned
        from agorakit.orders.notices import order_notices, read_ahead

        events = [
            DomainEvent(
                name="order.transitioned",
                at=TEST_EPOCH.replace(year=2100),
                subject=f"order:{order.id}",
                actor_id=buyer.id,
                payload=OrderTransitioned(
                    order_id=order.id,
                    process="testgig",
                    transition="pay",
                    from_state="awaiting_payment",
                    to_state="in_progress",
                    actor_role="buyer",
                ),
            )
            for order in made
        ]
        with statements(runtime) as sql:
            async with read_ahead(events):
                notices = [n for event in events for n in await order_notices(event, runtime)]
        assert len(sql) == 2  # the orders, and their history of the batch's transitions
        assert [(n.member_id, n.template) for n in notices] == [(seller.id, "order_transitioned")] * 2
