"""The pooled fixed-price process: paid orders wait without a seller, one candidate locks
each, sellers release them before their deadline, buyers return them to the pool after it.

A throw-away "pool" plugin registers ``pool_order``, built by
``agorakit.orders.fixed_price_process(pooled=True, delivery_unit="hours",
open_expiry_days=3)`` with a guard of its own on ``lock`` and effects of its own on
``lock`` and ``release`` (``extra_guards``/``extra_effects``).  Its orders are paid
from the buyer's credit, 25.00 each, with 6 hours to deliver and no site fee.
"""

from __future__ import annotations

import asyncio
import base64
from collections import Counter
from datetime import timedelta
from types import SimpleNamespace

import msgspec
import pytest

import agorakit
from agorakit import orders
from agorakit.errors import Conflict
from agorakit.events.tables import StoredEvent
from agorakit.money import ledger
from agorakit.orders import ItemIn, Process, Timer, Transition
from agorakit.orders.process import ProcessError
from agorakit.worker import sweep

POOL = "pool_order"
PRICE = 2500
HOURS = 6


#: an order a candidate takes for an hour, after which it lapses back to the pool
LAPSING = Process(
    name="lapsing",
    version=1,
    states=("open", "taken", "done"),
    initial="open",
    final=("done",),
    transitions=(
        Transition(name="take", sources=("open",), target="taken", actors=("candidate",)),
        Transition(name="lapse", sources=("taken",), target="open", actors=("system",), clears_seller=True),
        Transition(name="finish", sources=("taken",), target="done", actors=("buyer",)),
    ),
    timers=(Timer(state="taken", after=timedelta(hours=1), transition="lapse"),),
)


class PoolPlugin:
    """A model plugin's side: the pooled process, a guard that keeps some members from
    locking, an effect counting locks on the order, and an effect that can be made to
    fail on ``release``."""

    def __init__(self) -> None:
        self.vetoed: dict[int, str] = {}
        self.fail_release = False

    @agorakit.hookimpl
    def agorakit_processes(self, runtime):
        return [
            LAPSING,
            orders.fixed_price_process(
                POOL,
                auto_complete_days=2,
                unpaid_expiry_hours=24,
                report_window_days=2,
                report_review_hours=24,
                pooled=True,
                delivery_unit="hours",
                open_expiry_days=3,
                extra_guards={"lock": ("pool_lock_limit",)},
                extra_effects={"lock": ("pool_count_locks",), "release": ("pool_release_check",)},
            ),
        ]

    @agorakit.hookimpl
    def agorakit_order_guards(self):
        def lock_limit(ctx):
            return self.vetoed.get(ctx.actor_id)

        return {"pool_lock_limit": lock_limit}

    @agorakit.hookimpl
    def agorakit_order_effects(self):
        async def count_locks(ctx):
            data = await orders.merge_order_data(ctx.order, {"locks": ctx.order.data.get("locks", 0) + 1})
            ctx.order = msgspec.structs.replace(ctx.order, data=data)

        async def release_check(ctx):
            await orders.merge_order_data(ctx.order, {"released_by": ctx.data["former_seller_id"]})
            if self.fail_release:
                raise Conflict("releases are paused while the pool is audited")

        return {"pool_count_locks": count_locks, "pool_release_check": release_check}


@pytest.fixture
def plugin():
    return PoolPlugin()


@pytest.fixture
def extra_plugins(plugin):
    return [("pool", plugin)]


@pytest.fixture(params=["with-gigs", "without-gigs"])
def site_config(request, tmp_path):
    return {
        "site": {"plugins": ["gigs"] if request.param == "with-gigs" else []},
        "attachments": {"path": str(tmp_path / "files")},
    }


@pytest.fixture
async def buyer(runtime, make_member):
    """A buyer with 100.00 of site credit."""
    member = await make_member(display_name="Bea Buyer")
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key=f"fund:{member.id}",
            kind="test_funding",
            description="test",
            lines=ledger.move(ledger.external("test"), ledger.credit(member.id), 10000, "USD"),
        )
    return member


async def place(runtime, buyer) -> int:
    placed = await orders.create_order(
        runtime,
        process=POOL,
        buyer_id=buyer.id,
        currency="USD",
        items=[ItemIn(kind="base", description="Reach rank Gold", unit_price=PRICE, quantity=1)],
        data={"charge_fees": False, "delivery_hours": HOURS},
    )
    return placed.id


async def pay(client, buyer, order_id) -> None:
    paid = await client.post(
        f"/orders/{order_id}/payments", json={"method": "balance"}, headers=buyer.headers
    )
    assert paid.status_code == 201, paid.text


async def paid_order(client, runtime, buyer) -> int:
    order_id = await place(runtime, buyer)
    await pay(client, buyer, order_id)
    return order_id


async def fire(client, member, order_id, name, **data):
    body = {"data": data} if data else None
    return await client.post(f"/orders/{order_id}/transitions/{name}", json=body, headers=member.headers)


async def get(client, member, order_id) -> dict:
    response = await client.get(f"/orders/{order_id}", headers=member.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def locked(client, runtime, buyer, seller) -> int:
    order_id = await paid_order(client, runtime, buyer)
    response = await fire(client, seller, order_id, "lock")
    assert response.status_code == 200, response.text
    return order_id


def deadline(view: dict):
    return orders.deadline_of(SimpleNamespace(**view))


async def history(client, member, order_id) -> list[dict]:
    response = await client.get(f"/orders/{order_id}/history", headers=member.headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def pending(client, member) -> str:
    [balance] = (await client.get("/me/balance", headers=member.headers)).json()["balances"]
    return balance["pending"]


async def books_are_sound(runtime) -> None:
    assert await ledger.check_ledger() == []
    assert await orders.escrow_problem_lines(runtime) == []


# --------------------------------------------------------------------------------------
# The process as data
# --------------------------------------------------------------------------------------


def build(**overrides) -> Process:
    settings = {
        "auto_complete_days": 2,
        "unpaid_expiry_hours": 24,
        "report_window_days": 2,
        "report_review_hours": 24,
        "pooled": True,
        **overrides,
    }
    return orders.fixed_price_process("x_order", **settings)


def test_the_pooled_process_as_data():
    process = build(
        delivery_unit="hours",
        open_expiry_days=3,
        extra_guards={"lock": ("limit",), "cancel_late": ("late_check",)},
        extra_effects={"release": ("strike",)},
    )
    assert process.states == (
        "awaiting_payment",
        "open",
        "in_progress",
        "delivered",
        "reported",
        "completed",
        "cancelled",
        "refunded",
    )
    rows = {
        t.name: (t.sources, t.target, t.actors, t.guards, t.effects, t.clears_seller)
        for t in process.transitions
    }
    assert list(rows) == [
        "paid",
        "cancel_unpaid",
        "expire",
        "lock",
        "release",
        "return_to_pool",
        "cancel_open",
        "expire_open",
        "deliver",
        "accept",
        "auto_complete",
        "cancel_late",
    ]
    assert rows["paid"] == (
        ("awaiting_payment",),
        "open",
        ("system",),
        (),
        ("fixed_price_record_payment",),
        False,
    )
    assert rows["lock"] == (
        ("open",),
        "in_progress",
        ("candidate",),
        ("limit",),
        ("fixed_price_start_clock",),
        False,
    )
    assert rows["release"] == (
        ("in_progress",),
        "open",
        ("seller",),
        ("fixed_price_deadline_not_passed",),
        ("fixed_price_stop_clock", "strike"),
        True,
    )
    assert rows["return_to_pool"] == (
        ("in_progress",),
        "open",
        ("buyer",),
        ("fixed_price_deadline_passed",),
        ("fixed_price_stop_clock",),
        True,
    )
    assert rows["cancel_open"] == (
        ("open",),
        "cancelled",
        ("buyer", "operator"),
        (),
        ("refund_escrow",),
        False,
    )
    assert rows["expire_open"] == (("open",), "cancelled", ("system",), (), ("refund_escrow",), False)
    assert rows["cancel_late"][3:5] == (("fixed_price_deadline_passed", "late_check"), ("refund_escrow",))
    assert all(t.summary for t in process.transitions)
    assert [(t.state, t.after, t.transition) for t in process.timers] == [
        ("awaiting_payment", timedelta(hours=24), "expire"),
        ("delivered", timedelta(days=2), "auto_complete"),
        ("open", timedelta(days=3), "expire_open"),
    ]
    diagram = process.mermaid()
    assert "    in_progress --> open: release (seller)" in diagram
    assert "    note right of open: after 3 days → expire_open" in diagram


def test_without_pooled_the_process_is_the_one_gigs_have():
    plain = build(pooled=False)
    assert "open" not in plain.states
    assert [t.name for t in plain.transitions] == [
        "paid",
        "cancel_unpaid",
        "expire",
        "deliver",
        "accept",
        "auto_complete",
        "cancel_late",
    ]
    assert not any(t.clears_seller for t in plain.transitions)
    assert plain.transitions[0].effects == ("fixed_price_start_clock",)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"extra_guards": {"lokc": ("limit",)}},
            "process x_order: extra_guards names transition(s) 'lokc' it does not have; it has: paid,",
        ),
        ({"extra_effects": {"withdraw": ("x",)}}, "extra_effects names transition(s) 'withdraw'"),
        ({"extra_effects": {"lock": ("x",)}, "pooled": False}, "extra_effects names transition(s) 'lock'"),
        ({"delivery_unit": "weeks"}, "delivery_unit is 'days' or 'hours', not 'weeks'"),
        ({"open_expiry_days": 3, "pooled": False}, "open_expiry_days applies to pooled processes only"),
        ({"open_expiry_days": 0}, "timer on 'open' must wait a positive duration"),
    ],
)
def test_a_bad_pooled_process_is_a_process_error(overrides, message):
    with pytest.raises(ProcessError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build(**overrides)


def test_clearing_the_seller_needs_a_state_a_candidate_can_take_the_order_from():
    def process(target):
        return Process(
            name="handback",
            version=1,
            states=("open", "taken", "parked", "done"),
            initial="open",
            final=("done",),
            transitions=(
                Transition(name="take", sources=("open",), target="taken", actors=("candidate",)),
                Transition(
                    name="drop", sources=("taken",), target=target, actors=("seller",), clears_seller=True
                ),
                Transition(name="finish", sources=("taken", "parked"), target="done", actors=("buyer",)),
            ),
        )

    drop = process("open").transition("drop")
    assert drop is not None and drop.clears_seller
    with pytest.raises(ProcessError, match="transition 'drop' clears the seller but no candidate transition leaves 'parked'"):  # fmt: skip
        process("parked")


# --------------------------------------------------------------------------------------
# The pool
# --------------------------------------------------------------------------------------


async def test_a_paid_order_waits_in_the_pool_for_a_candidate(
    client, runtime, buyer, make_member, clock, problem
):
    seller, stranger = await make_member(), await make_member()
    order_id = await place(runtime, buyer)
    assert (await client.get(f"/orders/{order_id}", headers=stranger.headers)).status_code == 404  # unpaid
    clock.advance(timedelta(minutes=30))
    await pay(client, buyer, order_id)
    view = await get(client, buyer, order_id)
    assert (view["state"], view["seller_id"], deadline(view)) == ("open", None, None)
    assert view["data"]["paid_at"] == clock.now().isoformat()
    assert view["allowed_transitions"] == ["cancel_open"]
    seen = await get(client, seller, order_id)
    assert (seen["seller_id"], seen["allowed_transitions"]) == (None, ["lock"])
    assert await ledger.balance_of(ledger.escrow(f"order:{order_id}"), "USD") == PRICE
    assert await ledger.balance_of(ledger.credit(buyer.id), "USD") == 10000 - PRICE
    problem(await fire(client, seller, order_id, "cancel_open"), 403, "actor_not_allowed")
    await books_are_sound(runtime)


async def test_locking_starts_the_sellers_clock_in_hours(client, runtime, buyer, make_member, clock):
    seller, stranger = await make_member(), await make_member()
    order_id = await paid_order(client, runtime, buyer)
    clock.advance(timedelta(hours=5, minutes=7))
    taken = await fire(client, seller, order_id, "lock")
    assert taken.status_code == 200, taken.text
    view = taken.json()
    assert (view["state"], view["seller_id"]) == ("in_progress", seller.id)
    assert deadline(view) == clock.now() + timedelta(hours=HOURS)
    assert view["allowed_transitions"] == ["release", "deliver"]
    assert view["data"]["locks"] == 1  # the plugin's effect, in the same transition
    assert (await get(client, buyer, order_id))["allowed_transitions"] == ["return_to_pool", "cancel_late"]
    assert (await client.get(f"/orders/{order_id}", headers=stranger.headers)).status_code == 404
    assert await pending(client, seller) == "25.00"  # the escrow is for the seller now
    assert (await history(client, buyer, order_id))[-1] | {"at": None} == {
        "seq": 3,
        "transition": "lock",
        "from_state": "open",
        "to_state": "in_progress",
        "actor_role": "candidate",
        "actor_id": seller.id,
        "data": {},
        "at": None,
    }


async def test_a_seller_releases_before_the_deadline_and_another_takes_it(
    client, runtime, buyer, make_member, clock, problem
):
    first, second = await make_member(), await make_member()
    order_id = await locked(client, runtime, buyer, first)
    clock.advance(timedelta(hours=HOURS) - timedelta(seconds=1))
    released = await fire(client, first, order_id, "release", reason="I cannot reach that rank")
    assert released.status_code == 200, released.text
    view = await get(client, buyer, order_id)
    assert (view["state"], view["seller_id"], deadline(view)) == ("open", None, None)
    assert view["data"]["released_by"] == first.id  # the plugin's effect saw who left
    last = (await history(client, buyer, order_id))[-1]
    assert (last["transition"], last["actor_role"], last["actor_id"], last["data"]) == (
        "release",
        "seller",
        first.id,
        {"reason": "I cannot reach that rank", "former_seller_id": first.id},
    )
    event = await _event(order_id, "release")
    assert (event["from_state"], event["to_state"], event["former_seller_id"]) == (
        "in_progress",
        "open",
        first.id,
    )
    assert await pending(client, first) == "0.00"
    assert await ledger.balance_of(ledger.escrow(f"order:{order_id}"), "USD") == PRICE

    clock.advance(timedelta(hours=1))
    taken = await fire(client, second, order_id, "lock")
    assert taken.status_code == 200, taken.text
    assert (taken.json()["seller_id"], taken.json()["data"]["locks"]) == (second.id, 2)
    assert deadline(taken.json()) == clock.now() + timedelta(hours=HOURS)
    assert await pending(client, second) == "25.00"
    problem(await client.get(f"/orders/{order_id}", headers=first.headers), 404, "not_found")
    problem(await fire(client, first, order_id, "deliver"), 404, "not_found")
    # the new seller delivers and is paid exactly the price
    delivered = await client.post(
        f"/orders/{order_id}/delivery",
        json={"message": "Gold reached", "attachments": []},
        headers=second.headers,
    )
    assert delivered.json()["state"] == "delivered", delivered.text
    assert (await fire(client, buyer, order_id, "accept")).json()["state"] == "completed"
    assert await ledger.balance_of(ledger.available(second.id), "USD") == PRICE
    assert await ledger.balance_of(ledger.available(first.id), "USD") == 0
    await books_are_sound(runtime)


async def _event(order_id: int, transition: str) -> dict:
    rows = (
        await StoredEvent.select(StoredEvent.data)
        .where((StoredEvent.subject == f"order:{order_id}") & (StoredEvent.name == "order.transitioned"))
        .order_by(StoredEvent.id)
        .output(load_json=True)
    )
    [data] = [r["data"] for r in rows if r["data"]["transition"] == transition]
    return data


async def test_releasing_is_for_the_seller_and_only_before_the_deadline(
    client, runtime, buyer, make_member, clock, problem
):
    seller = await make_member()
    order_id = await locked(client, runtime, buyer, seller)
    due = clock.now() + timedelta(hours=HOURS)
    problem(await fire(client, buyer, order_id, "release"), 403, "actor_not_allowed")
    clock.advance(timedelta(hours=HOURS))  # the deadline itself is too late
    body = problem(await fire(client, seller, order_id, "release"), 409, "guard_failed")
    assert body["detail"] == (
        f"the deadline to deliver was {due.isoformat()}; release is possible only before it "
        "(now the buyer may cancel the order or hand it to another seller)"
    )
    assert body["extra"] == {"guard": "fixed_price_deadline_not_passed", "state": "in_progress"}
    view = await get(client, seller, order_id)
    assert (view["state"], view["seller_id"], deadline(view)) == ("in_progress", seller.id, due)
    assert view["allowed_transitions"] == ["release", "deliver"]


async def test_the_buyer_returns_a_late_order_to_the_pool(
    client, runtime, buyer, make_member, clock, problem
):
    seller, other = await make_member(), await make_member()
    order_id = await locked(client, runtime, buyer, seller)
    due = clock.now() + timedelta(hours=HOURS)
    clock.advance(timedelta(hours=HOURS) - timedelta(seconds=1))
    body = problem(await fire(client, buyer, order_id, "return_to_pool"), 409, "guard_failed")
    assert body["detail"] == (
        f"the seller has until {due.isoformat()} to deliver; you can hand the order to another seller after that"
    )
    problem(await fire(client, seller, order_id, "return_to_pool"), 403, "actor_not_allowed")
    assert (await get(client, buyer, order_id))["seller_id"] == seller.id
    clock.advance(timedelta(seconds=1))
    returned = await fire(client, buyer, order_id, "return_to_pool")
    assert returned.status_code == 200, returned.text
    assert (returned.json()["state"], returned.json()["seller_id"], deadline(returned.json())) == (
        "open",
        None,
        None,
    )
    last = (await history(client, buyer, order_id))[-1]
    assert (last["transition"], last["actor_role"], last["data"]) == (
        "return_to_pool",
        "buyer",
        {"former_seller_id": seller.id},
    )
    # the seller it was taken from is told, though the order has no seller any more
    notices = (await client.get("/notifications", headers=seller.headers)).json()["items"]
    latest = notices[0]
    assert (latest["template"], latest["title"], latest["link"]) == (
        "order_transitioned",
        f"Order #{order_id} is now open",
        f"/orders/{order_id}",
    )
    assert (
        "What happened: after the deadline the buyer takes the order from its seller: "
        "it waits for another (by the buyer)."
    ) in latest["body"]
    assert (await fire(client, other, order_id, "lock")).json()["seller_id"] == other.id
    assert await ledger.balance_of(ledger.escrow(f"order:{order_id}"), "USD") == PRICE
    await books_are_sound(runtime)


async def test_a_late_order_cancelled_refunds_the_buyers_credit(client, runtime, buyer, make_member, clock):
    seller = await make_member()
    order_id = await locked(client, runtime, buyer, seller)
    clock.advance(timedelta(hours=HOURS))
    cancelled = await fire(client, buyer, order_id, "cancel_late")
    assert cancelled.json()["state"] == "cancelled", cancelled.text
    assert await ledger.balance_of(ledger.credit(buyer.id), "USD") == 10000
    assert await ledger.balance_of(ledger.escrow(f"order:{order_id}"), "USD") == 0
    assert await ledger.balance_of(ledger.available(seller.id), "USD") == 0
    await books_are_sound(runtime)


async def test_the_buyer_withdraws_an_order_nobody_took(client, runtime, buyer, make_member, problem):
    order_id = await paid_order(client, runtime, buyer)
    other = await paid_order(client, runtime, buyer)
    assert await ledger.balance_of(ledger.credit(buyer.id), "USD") == 10000 - 2 * PRICE
    cancelled = await fire(client, buyer, order_id, "cancel_open")
    assert cancelled.json()["state"] == "cancelled", cancelled.text
    assert await ledger.balance_of(ledger.credit(buyer.id), "USD") == 10000 - PRICE
    assert await ledger.balance_of(ledger.escrow(f"order:{order_id}"), "USD") == 0
    assert await ledger.balance_of(ledger.escrow(f"order:{other}"), "USD") == PRICE
    seller = await make_member()
    problem(await fire(client, seller, order_id, "lock"), 404, "not_found")  # gone from the pool
    # an operator withdraws one too (e.g. a request breaking the rules): the same refund
    operator = await make_member(role="operator")
    withdrawn = await fire(client, operator, other, "cancel_open")
    assert withdrawn.json()["state"] == "cancelled", withdrawn.text
    assert await ledger.balance_of(ledger.credit(buyer.id), "USD") == 10000
    await books_are_sound(runtime)


async def test_an_order_nobody_takes_expires_three_days_after_it_last_entered_the_pool(
    client, runtime, buyer, make_member, clock
):
    seller = await make_member()
    order_id = await paid_order(client, runtime, buyer)
    clock.advance(timedelta(days=2))
    await fire(client, seller, order_id, "lock")
    clock.advance(timedelta(hours=1))
    assert (await fire(client, seller, order_id, "release")).status_code == 200
    clock.advance(timedelta(days=3) - timedelta(seconds=1))  # five days after the payment
    await sweep(runtime)
    assert (await get(client, buyer, order_id))["state"] == "open"
    clock.advance(timedelta(seconds=1))
    report = await sweep(runtime)
    assert len(report.timers_fired) == 1
    view = await get(client, buyer, order_id)
    assert view["state"] == "cancelled"
    last = (await history(client, buyer, order_id))[-1]
    assert (last["transition"], last["actor_role"]) == ("expire_open", "system")
    assert await ledger.balance_of(ledger.credit(buyer.id), "USD") == 10000
    await books_are_sound(runtime)


async def test_the_plugins_guard_vetoes_a_lock(client, runtime, buyer, make_member, plugin, problem):
    barred, allowed = await make_member(), await make_member()
    plugin.vetoed[barred.id] = "you hold three orders already; deliver one first"
    order_id = await paid_order(client, runtime, buyer)
    body = problem(await fire(client, barred, order_id, "lock"), 409, "guard_failed")
    assert body["detail"] == "you hold three orders already; deliver one first"
    assert body["extra"] == {"guard": "pool_lock_limit", "state": "open"}
    view = await get(client, buyer, order_id)
    assert (view["state"], view["seller_id"], view["data"].get("locks")) == ("open", None, None)
    assert [h["transition"] for h in await history(client, buyer, order_id)] == ["create", "paid"]
    assert (await fire(client, allowed, order_id, "lock")).json()["seller_id"] == allowed.id


async def test_a_failing_effect_of_the_plugin_rolls_the_release_back(
    client, runtime, buyer, make_member, plugin, problem
):
    seller = await make_member()
    order_id = await locked(client, runtime, buyer, seller)
    before = await get(client, seller, order_id)
    plugin.fail_release = True
    body = problem(await fire(client, seller, order_id, "release"), 409, "conflict")
    assert body["detail"] == "releases are paused while the pool is audited"
    after = await get(client, seller, order_id)
    assert after == before  # same state, seller, deadline, data (no released_by), version
    assert "released_by" not in after["data"]
    assert [h["transition"] for h in await history(client, buyer, order_id)] == ["create", "paid", "lock"]
    assert await pending(client, seller) == "25.00"
    plugin.fail_release = False
    assert (await fire(client, seller, order_id, "release")).json()["state"] == "open"


async def test_the_worker_hands_a_batch_of_orders_back_to_the_pool(runtime, make_member, clock, client):
    """A ``clears_seller`` transition fired by a timer, for several orders at once (a set)."""
    buyer = await make_member()
    sellers = [await make_member() for _ in range(3)]
    ids = []
    for seller in sellers:
        order = await orders.create_order(
            runtime,
            process="lapsing",
            buyer_id=buyer.id,
            currency="USD",
            items=[ItemIn(description="Ask around", unit_price=100)],
            data={"charge_fees": False},
        )
        assert (await fire(client, seller, order.id, "take")).status_code == 200
        ids.append(order.id)
    clock.advance(timedelta(hours=1))
    report = await sweep(runtime)
    assert len(report.timers_fired) == 3
    for order_id, seller in zip(ids, sellers, strict=True):
        view = await get(client, buyer, order_id)
        assert (view["state"], view["seller_id"]) == ("open", None)
        last = (await history(client, buyer, order_id))[-1]
        assert (last["transition"], last["actor_role"], last["data"]["former_seller_id"]) == (
            "lapse",
            "system",
            seller.id,
        )
        assert (await _event(order_id, "lapse"))["former_seller_id"] == seller.id
    assert (await fire(client, sellers[0], ids[1], "take")).json()["seller_id"] == sellers[0].id


@pytest.mark.postgres_only("concurrency is proven on PostgreSQL")
@pytest.mark.parametrize("site_config", [{"database": {"pool_max_size": 20}}])
async def test_fifty_candidates_lock_at_once_and_exactly_one_wins(
    client, runtime, buyer, make_member, problem
):
    order_id = await paid_order(client, runtime, buyer)
    candidates = [await make_member() for _ in range(50)]
    responses = await asyncio.gather(*(fire(client, member, order_id, "lock") for member in candidates))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 1, 409: 49}, [r.text for r in responses if r.status_code not in (200, 409)]
    for response in responses:
        if response.status_code == 409:
            problem(response, 409, "conflict")
    winner = candidates[[r.status_code for r in responses].index(200)]
    view = await get(client, buyer, order_id)
    assert (view["state"], view["seller_id"], view["data"]["locks"]) == ("in_progress", winner.id, 1)
    assert [h["transition"] for h in await history(client, buyer, order_id)] == ["create", "paid", "lock"]
    assert await pending(client, winner) == "25.00"
    await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# The order's conversation when its seller changes
# --------------------------------------------------------------------------------------


PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


async def upload(client, member, scope) -> int:
    response = await client.post(
        "/attachments",
        files={"file": ("shot.png", PNG, "image/png")},
        data={"scope": scope},
        headers=member.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def say(client, member, conversation_id, body, attachments=()):
    return await client.post(
        f"/conversations/{conversation_id}/messages",
        json={"body": body, "attachments": list(attachments)},
        headers=member.headers,
    )


async def bodies(client, member, conversation_id) -> list[str]:
    response = await client.get(f"/conversations/{conversation_id}/messages", headers=member.headers)
    assert response.status_code == 200, response.text
    return [m["body"] for m in reversed(response.json()["items"])]


async def order_conversation(client, member, order_id) -> dict:
    response = await client.get(f"/orders/{order_id}/conversation", headers=member.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_new_seller_never_reads_the_previous_sellers_conversation(
    client, runtime, buyer, make_member, problem
):
    first, second = await make_member(), await make_member()
    operator = await make_member(role="operator")
    order_id = await locked(client, runtime, buyer, first)
    before = await order_conversation(client, buyer, order_id)
    assert {p["id"] for p in before["participants"]} == {buyer.id, first.id}
    screenshot = await upload(client, buyer, f"order:{order_id}")
    assert (await say(client, buyer, before["id"], "My login is bea#1234", [screenshot])).status_code == 201
    assert (await say(client, first, before["id"], "Got it, starting tonight")).status_code == 201
    assert (await fire(client, first, order_id, "release")).status_code == 200
    assert (await fire(client, second, order_id, "lock")).status_code == 200

    # the second seller: a conversation of their own with the buyer, nothing of the first's
    now = await order_conversation(client, second, order_id)
    assert now["id"] != before["id"]
    assert ({p["id"] for p in now["participants"]}, now["closed"]) == ({buyer.id, second.id}, False)
    assert not any(
        "bea#1234" in body or "tonight" in body for body in await bodies(client, second, now["id"])
    )
    problem(await client.get(f"/conversations/{before['id']}", headers=second.headers), 404, "not_found")
    problem(
        await client.get(f"/conversations/{before['id']}/messages", headers=second.headers), 404, "not_found"
    )
    problem(await say(client, second, before["id"], "hello?"), 404, "not_found")
    inbox = (await client.get("/conversations", headers=second.headers)).json()["items"]
    assert [c["id"] for c in inbox] == [now["id"]]
    assert await bodies(client, second, now["id"]) == [
        f"Order {order_id}: in progress → open (release by the seller)",
        f"Order {order_id}: open → in progress (lock by the seller)",
    ]
    # the files of the first seller's conversation are theirs and the buyer's only
    problem(await client.get(f"/attachments/{screenshot}", headers=second.headers), 404, "not_found")
    problem(await client.get(f"/attachments/{screenshot}/content", headers=second.headers), 404, "not_found")
    for member in (first, buyer, operator):
        seen = await client.get(f"/attachments/{screenshot}/content", headers=member.headers)
        assert (seen.status_code, seen.content) == (200, PNG)
    fresh = await upload(client, buyer, f"order:{order_id}")
    assert (await say(client, buyer, now["id"], "Here it is again", [fresh])).status_code == 201
    assert (await client.get(f"/attachments/{fresh}", headers=second.headers)).status_code == 200
    problem(await client.get(f"/attachments/{fresh}", headers=first.headers), 404, "not_found")
    assert (await say(client, second, now["id"], "Starting now")).status_code == 201

    # the first seller and the buyer keep their conversation to read, closed
    ended = (await client.get(f"/conversations/{before['id']}", headers=first.headers)).json()
    assert (ended["subject"], ended["closed"]) == (f"order:{order_id}", True)
    assert {p["id"] for p in ended["participants"]} == {buyer.id, first.id}
    assert (await bodies(client, first, before["id"]))[-2:] == [
        "My login is bea#1234",
        "Got it, starting tonight",
    ]
    body = problem(await say(client, first, before["id"], "still there?"), 409, "conflict")
    assert body["detail"] == (
        f"conversation {before['id']} ended when its seller left order {order_id}; it is kept to read, not to write in"
    )
    problem(await say(client, buyer, before["id"], "sorry"), 409, "conflict")
    refused = await client.post(
        "/attachments",
        files={"file": ("late.png", PNG, "image/png")},
        data={"scope": f"conversation:{before['id']}"},
        headers=first.headers,
    )
    problem(refused, 409, "conflict")
    read = await client.post(f"/conversations/{before['id']}/read", headers=first.headers)
    assert (read.status_code, read.json()["unread_count"]) == (200, 0)
    assert not any("Starting now" in body for body in await bodies(client, first, before["id"]))
    problem(await client.get(f"/conversations/{now['id']}", headers=first.headers), 404, "not_found")
    assert {c["id"] for c in (await client.get("/conversations", headers=buyer.headers)).json()["items"]} == {
        before["id"],
        now["id"],
    }
    assert (await order_conversation(client, buyer, order_id))["id"] == now["id"]
    assert (await order_conversation(client, operator, order_id))["id"] == now["id"]
