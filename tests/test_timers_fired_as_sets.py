"""The worker fires a batch's timers of one transition as a set ([worker] fire_in_sets).

A set is the orders locked at once, moved, written to history and given their new timers
in one statement each, with each guard's and effect's set form called once
(:func:`agorakit.orders.orders_api.set_form`).  It must leave the database exactly as firing
the same timers one order at a time does; these tests fire the same scenario both ways
and compare every table the engine, the ledger and the event handlers write.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import msgspec
import pytest

import agorakit
from agorakit import orders as orders_api
from agorakit.money import ledger
from agorakit.orders import timers as order_timers
from agorakit.orders.escrow import escrow_problem_lines
from agorakit.orders.process import Process, Timer, Transition
from agorakit.orders.process_registry import fires_as_set
from agorakit.orders.schemas import ItemIn
from agorakit.orders.tables import OrderTimer
from agorakit.testing import TEST_EPOCH, empty_tables
from agorakit.worker import SweepReport, sweep
from tests.test_event_batches import statements


def set_process() -> Process:
    """Three timers: unpaid orders expire (no effects), delivered ones complete (release
    the escrow), stalled ones lapse (a guard, then refund the escrow)."""
    return Process(
        name="settest",
        version=1,
        states=("awaiting_payment", "in_progress", "delivered", "completed", "cancelled"),
        initial="awaiting_payment",
        final=("completed", "cancelled"),
        transitions=(
            Transition(
                name="pay",
                sources=("awaiting_payment",),
                target="in_progress",
                actors=("buyer",),
                effects=("settest_fund",),
            ),
            Transition(name="expire", sources=("awaiting_payment",), target="cancelled", actors=("system",)),
            Transition(name="deliver", sources=("in_progress",), target="delivered", actors=("seller",)),
            Transition(
                name="auto_complete",
                sources=("delivered",),
                target="completed",
                actors=("system",),
                effects=("release_escrow",),
            ),
            Transition(
                name="lapse",
                sources=("in_progress",),
                target="cancelled",
                actors=("system",),
                guards=("settest_not_on_hold",),
                effects=("refund_escrow",),
            ),
            Transition(
                name="close",
                sources=("delivered",),
                target="completed",
                actors=("system",),
                effects=("release_escrow", "settest_single_only"),
            ),
        ),
        timers=(
            Timer(state="awaiting_payment", after=timedelta(days=1), transition="expire"),
            Timer(state="in_progress", after=timedelta(days=5), transition="lapse"),
            Timer(state="delivered", after=timedelta(days=3), transition="auto_complete"),
        ),
    )


class SetPlugin:
    def __init__(self) -> None:
        self.guard_sets: list[list[int]] = []

    @agorakit.hookimpl
    def agorakit_processes(self, runtime):
        return [set_process()]

    @agorakit.hookimpl
    def agorakit_order_guards(self):
        def reason(ctx):
            return "the order is on hold" if ctx.order.data.get("hold") else None

        async def many(contexts):
            self.guard_sets.append([ctx.order.id for ctx in contexts])
            return [reason(ctx) for ctx in contexts]

        @orders_api.set_form(many)
        async def not_on_hold(ctx):
            return reason(ctx)

        return {"settest_not_on_hold": not_on_hold}

    @agorakit.hookimpl
    def agorakit_order_effects(self):
        async def fund(ctx):
            order = ctx.order
            await ledger.post(
                ctx.uow,
                key=f"order:{order.id}:fund",
                kind="payment_completed",
                description="test payment",
                lines=ledger.move(
                    ledger.credit(order.buyer_id), ledger.escrow(f"order:{order.id}"), 1000, "USD"
                ),
            )

        async def single_only(ctx):  # no set form: its transition fires one order at a time
            return None

        return {"settest_fund": fund, "settest_single_only": single_only}


@pytest.fixture
def plugin():
    return SetPlugin()


@pytest.fixture
def extra_plugins(plugin):
    return [("settest", plugin)]


@pytest.fixture
def site_config():
    # One batch at a time: two at once (PostgreSQL's default) would split a sweep's timers
    # between them as their claims race, and the rows compared below would interleave.
    # No batch cut short by its time budget either: on a busy machine the one-by-one run
    # would be cut at other timers than the run in sets.
    return {"worker": {"timer_concurrency": 1, "batch_seconds": 10}}


def fire_in_sets(runtime, on: bool) -> None:
    worker = msgspec.structs.replace(runtime.settings.worker, fire_in_sets=on)
    runtime.settings = msgspec.structs.replace(runtime.settings, worker=worker)


async def fund(runtime, member_id, cents):
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key=f"test-credit:{member_id}",
            kind="test_funding",
            description="test",
            lines=ledger.move(ledger.external("test"), ledger.credit(member_id), cents, "USD"),
        )


async def new_order(runtime, buyer, seller, **data):
    return await orders_api.create_order(
        runtime,
        process="settest",
        buyer_id=buyer.id,
        seller_id=seller.id,
        currency="USD",
        items=[ItemIn(description="Logo design", unit_price=1000)],
        data=data,
    )


async def scenario(runtime, make_member, clock, tag, *, staged=True):
    """Two buyers and three sellers: 6 delivered orders, 3 stalled ones (one on hold), 2
    unpaid ones, and a stale timer of an order that has left its state.  ``staged``: a
    sweep when each kind of timer is due (day 1, 3 and 5), so that each batch fires one
    transition; else one sweep after all are due."""
    clock.set(TEST_EPOCH)
    buyers = [await make_member(email=f"buyer{n}@example.com", display_name=f"Buyer {n}") for n in (1, 2)]
    sellers = [
        await make_member(email=f"seller{n}@example.com", display_name=f"Seller {n}") for n in (1, 2, 3)
    ]
    for buyer in buyers:
        await fund(runtime, buyer.id, 10_000)
    orders = {"delivered": [], "stalled": [], "unpaid": []}
    for n in range(6):
        buyer, seller = buyers[n % 2], sellers[n % 3]
        order = await new_order(runtime, buyer, seller)
        await orders_api.fire(runtime, order.id, "pay", caller=buyer.member)
        await orders_api.fire(runtime, order.id, "deliver", caller=seller.member)
        orders["delivered"].append(order.id)
    for n in range(3):
        buyer, seller = buyers[n % 2], sellers[(n + 1) % 3]
        order = await new_order(runtime, buyer, seller, hold=n == 1)
        await orders_api.fire(runtime, order.id, "pay", caller=buyer.member)
        orders["stalled"].append(order.id)
    for n in range(2):
        orders["unpaid"].append((await new_order(runtime, buyers[n], sellers[n])).id)
    # A timer left pending on a state its order has left (it fires as cancelled).
    async with runtime.unit_of_work() as uow:
        await OrderTimer.insert(
            OrderTimer(
                order=orders["delivered"][0],
                state="in_progress",
                transition="lapse",
                due_at=uow.now,
                status="pending",
                attempts=0,
                created_at=uow.now,
            )
        )
    report = SweepReport()
    for days in (1, 2, 2) if staged else (5,):
        clock.advance(days=days)
        swept = await sweep(runtime)
        report.timers_fired += swept.timers_fired
        report.timers_retried += swept.timers_retried
    return buyers, sellers, orders, report


#: columns that differ between two runs of the same scenario by design
VOLATILE = {"message_id", "password_hash", "token_hash", "jti"}


async def dump(runtime) -> dict[str, list[dict]]:
    """Every row the scenario wrote, table by table in id order, without volatile columns."""
    out = {}
    for app in runtime.apps:
        for table in app.table_classes:
            name = table._meta.tablename
            if name.startswith("core_member") or name.startswith("core_session"):
                continue
            if name == "core_category_version":  # counts the tree's changes since the database began
                continue
            rows = await table.select().order_by(table._meta.primary_key)
            out[name] = [{k: v for k, v in row.items() if k not in VOLATILE} for row in rows]
    return out


async def test_timers_fired_as_a_set_leave_what_one_by_one_leaves(runtime, make_member, clock, plugin):
    registry = orders_api.registry(runtime)
    process = registry.get("settest", 1)
    assert fires_as_set(runtime, process.transition("auto_complete"))
    assert fires_as_set(runtime, process.transition("expire"))
    assert not fires_as_set(runtime, process.transition("close"))

    fire_in_sets(runtime, False)
    _, _, _, one_by_one = await scenario(runtime, make_member, clock, "a")
    assert plugin.guard_sets == []
    singles = await dump(runtime)
    await empty_tables(runtime)

    fire_in_sets(runtime, True)
    buyers, sellers, orders, as_sets = await scenario(runtime, make_member, clock, "b")
    sets = await dump(runtime)

    # The guard ran once, on the three stalled orders, as a set.
    assert sorted(plugin.guard_sets[0]) == orders["stalled"] and len(plugin.guard_sets) == 1
    assert as_sets.timers_fired == one_by_one.timers_fired
    assert as_sets.timers_retried == one_by_one.timers_retried
    assert len(as_sets.timers_fired) == 2 + 6 + 2  # expired, completed, lapsed (not the one on hold)
    assert len(as_sets.timers_retried) == 1  # the one on hold: its guard refused
    for table in singles:
        # ids too: a set writes its rows in the order one by one writes them
        assert sets[table] == singles[table], table
    await check_outcome(buyers, sellers, orders)
    stale = [t for t in sets["core_order_timer"] if t["order"] == orders["delivered"][0]]
    assert [t["status"] for t in stale] == ["cancelled", "cancelled", "fired", "cancelled"]
    assert await ledger.check_ledger() == []
    assert await escrow_problem_lines(runtime) == []


async def check_outcome(buyers, sellers, orders):
    """What members see: 20% commission, sellers paid their net, buyers refunded to credit."""
    states = {o: (await orders_api.order_by_id(o))["state"] for group in orders.values() for o in group}
    assert [states[o] for o in orders["delivered"]] == ["completed"] * 6
    assert [states[o] for o in orders["stalled"]] == ["cancelled", "in_progress", "cancelled"]
    assert [states[o] for o in orders["unpaid"]] == ["cancelled", "cancelled"]
    for seller in sellers:
        assert await ledger.balance_of(ledger.available(seller.id), "USD") == 2 * 800
    assert await ledger.balance_of(ledger.PLATFORM_FEES, "USD") == 6 * 200
    # Buyer 1 paid for 5 orders (3 delivered, 2 stalled) and got both lapsed ones back.
    assert await ledger.balance_of(ledger.credit(buyers[0].id), "USD") == 10_000 - 3 * 1000
    # Buyer 2: 3 delivered, and the one on hold is still in escrow.
    assert await ledger.balance_of(ledger.credit(buyers[1].id), "USD") == 10_000 - 4 * 1000
    assert await ledger.balance_of(ledger.escrow(f"order:{orders['stalled'][1]}"), "USD") == 1000
    assert await ledger.check_ledger() == []


async def test_a_batch_of_several_transitions_fires_each_as_a_set(runtime, make_member, clock, plugin):
    fire_in_sets(runtime, True)
    buyers, sellers, orders, report = await scenario(runtime, make_member, clock, "c", staged=False)
    assert len(report.timers_fired) == 10 and len(report.timers_retried) == 1
    assert sorted(plugin.guard_sets[0]) == orders["stalled"] and len(plugin.guard_sets) == 1
    await check_outcome(buyers, sellers, orders)


async def test_a_set_runs_the_same_statements_for_three_orders_as_for_twelve(runtime, make_member, clock):
    fire_in_sets(runtime, True)
    buyer, seller = await make_member(), await make_member()
    await fund(runtime, buyer.id, 16 * 1000)
    seen = {}
    for size in (1, 3, 12):
        for _ in range(size):
            order = await new_order(runtime, buyer, seller)
            await orders_api.fire(runtime, order.id, "pay", caller=buyer.member)
            await orders_api.fire(runtime, order.id, "deliver", caller=seller.member)
        clock.advance(days=3)
        with statements(runtime) as sql:
            report = await orders_api.fire_due_timers(runtime)
        assert len(report.fired) == size
        seen[size] = sql
    # (the first set also opened the seller's and the fee account)
    assert len(seen[3]) == len(seen[12])
    # one statement moves the twelve orders: on PostgreSQL with their history and timers,
    # on SQLite the insert of their history (its trigger moves them and cancels their timers)
    moves = ("UPDATE core_order o SET", 'INSERT INTO "core_order_event"')
    assert sum(any(move in sql for move in moves) for sql in seen[12]) == 1
    assert not any('UPDATE "core_order" SET' in sql for sql in seen[12])
    # one statement writes the twelve postings' transactions (on PostgreSQL with their accounts and entries)
    assert sum("INSERT INTO core_ledger_transaction" in sql.replace('"', "") for sql in seen[12]) == 1
    assert await ledger.balance_of(ledger.available(seller.id), "USD") == 16 * 800


async def test_a_set_whose_effect_fails_fires_its_timers_one_by_one(runtime, make_member, clock, caplog):
    """The set is rolled back and its orders fire one at a time: the one at fault is
    retried with its own error, the others complete, in the same batch."""
    fire_in_sets(runtime, True)
    buyer, seller = await make_member(), await make_member()
    await fund(runtime, buyer.id, 3 * 1000)
    orders = []
    for _ in range(3):
        order = await new_order(runtime, buyer, seller)
        await orders_api.fire(runtime, order.id, "pay", caller=buyer.member)
        await orders_api.fire(runtime, order.id, "deliver", caller=seller.member)
        orders.append(order.id)
    # The middle order's escrow was emptied behind the engine's back.
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key="drain",
            kind="test",
            description="drain",
            lines=ledger.move(ledger.escrow(f"order:{orders[1]}"), ledger.external("test"), 1000, "USD"),
        )
    clock.advance(days=3)
    with caplog.at_level(logging.INFO, logger="agorakit.orders"):
        report = await orders_api.fire_due_timers(runtime)

    assert "a set of 3 auto_complete timers failed (InsufficientFunds" in caplog.text
    assert "did not commit" not in caplog.text
    timers = {
        row["order"]: row for row in await OrderTimer.select().where(OrderTimer.transition == "auto_complete")
    }
    assert sorted(report.fired) == sorted(timers[o]["id"] for o in (orders[0], orders[2]))
    assert report.retried == [timers[orders[1]]["id"]]
    assert timers[orders[1]]["last_error"] == (
        f"the payment held for order {orders[1]} is 0.00 USD; this needs 10.00 USD"
    )
    assert await ledger.balance_of(ledger.available(seller.id), "USD") == 2 * 800
    states = [(await orders_api.order_by_id(o))["state"] for o in orders]
    assert states == ["completed", "delivered", "completed"]
    assert await ledger.check_ledger() == []


@pytest.mark.parametrize("site_config", [{"worker": {"batch_seconds": 0.000001, "timer_concurrency": 1}}])
async def test_a_set_is_fired_whole_then_the_batch_takes_no_more(runtime, make_member, clock):
    """batch_seconds is checked between sets (and single timers): a set is not split."""
    fire_in_sets(runtime, True)
    buyer, seller = await make_member(), await make_member()
    await fund(runtime, buyer.id, 4 * 1000)
    for _ in range(3):
        order = await new_order(runtime, buyer, seller)
        await orders_api.fire(runtime, order.id, "pay", caller=buyer.member)
        await orders_api.fire(runtime, order.id, "deliver", caller=seller.member)
    await new_order(runtime, buyer, seller)  # unpaid: its expire timer is another set
    clock.advance(days=3)
    batches = []
    original = order_timers._fire_batch

    async def counting(*args, **kwargs):
        outcomes = await original(*args, **kwargs)
        batches.append(sorted(result for _, result in outcomes))
        return outcomes

    order_timers._fire_batch = counting
    try:
        report = await orders_api.fire_due_timers(runtime)
    finally:
        order_timers._fire_batch = original
    assert [len(b) for b in batches] == [3, 1, 0] or [len(b) for b in batches] == [1, 3, 0]
    assert len(report.fired) == 4
