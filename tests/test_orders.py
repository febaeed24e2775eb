"""The order engine: declarative processes, transitions, timers, proofs, the worker."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

import agorakit
from agorakit import orders as orders_api
from agorakit.errors import FieldError
from agorakit.money import ledger
from agorakit.money.tables import LedgerEntry
from agorakit.orders import timers as order_timers
from agorakit.orders.escrow import escrow_problem_lines
from agorakit.orders.process import Process, ProcessError, Timer, Transition
from agorakit.orders.schemas import ItemIn
from agorakit.orders.tables import OrderTimer
from agorakit.worker import sweep


def gig_process(version: int = 1, auto_complete_days: int = 3) -> Process:
    return Process(
        name="testgig",
        version=version,
        states=("awaiting_payment", "in_progress", "delivered", "completed", "cancelled"),
        initial="awaiting_payment",
        final=("completed", "cancelled"),
        transitions=(
            Transition(
                name="pay",
                sources=("awaiting_payment",),
                target="in_progress",
                actors=("buyer",),
                effects=("fund_from_credit",),
            ),
            Transition(name="paid", sources=("awaiting_payment",), target="in_progress", actors=("system",)),
            Transition(name="deliver", sources=("in_progress",), target="delivered", actors=("seller",)),
            Transition(
                name="accept",
                sources=("delivered",),
                target="completed",
                actors=("buyer",),
                effects=("release_escrow",),
            ),
            Transition(
                name="auto_complete",
                sources=("delivered",),
                target="completed",
                actors=("system",),
                effects=("release_escrow",),
            ),
            Transition(
                name="cancel_late",
                sources=("in_progress",),
                target="cancelled",
                actors=("buyer",),
                guards=("deadline_passed",),
                effects=("refund_escrow",),
            ),
            Transition(
                name="refund",
                sources=("awaiting_payment", "delivered", "in_progress"),
                target="cancelled",
                actors=("operator",),
                effects=("refund_escrow",),
            ),
            Transition(
                name="explode",
                sources=("in_progress",),
                target="completed",
                actors=("system",),
                effects=("release_escrow", "explode"),
            ),
            Transition(
                name="stuck",
                sources=("in_progress",),
                target="completed",
                actors=("system", "buyer"),
                effects=("release_escrow", "deadlock_once"),
            ),
            Transition(
                name="unbalanced",
                sources=("in_progress",),
                target="completed",
                actors=("system",),
                effects=("unbalanced_entry",),
            ),
            Transition(
                name="always_fails",
                sources=("in_progress",),
                target="completed",
                actors=("system",),
                guards=("never",),
            ),
        ),
        timers=(
            Timer(state="delivered", after=timedelta(days=auto_complete_days), transition="auto_complete"),
        ),
        on_proof={"submitted": "deliver"},
        on_payment="paid",
    )


class TestGigPlugin:
    """A process, its guards and effects, and a proof rule, as a model plugin would ship."""

    __test__ = False  # a plugin, not a test class

    def __init__(self, processes=None):
        self.processes = processes or [gig_process()]

    @agorakit.hookimpl
    def agorakit_processes(self, runtime):
        return self.processes

    @agorakit.hookimpl
    def agorakit_order_guards(self):
        def deadline_passed(ctx):
            deadline = ctx.order.data["deadline_days"]
            if ctx.runtime.clock.now() - ctx.order.created_at < timedelta(days=deadline):
                return f"the seller has until day {deadline} to deliver; you can cancel after that"
            return None

        async def never(ctx):
            return "this transition never passes"

        return {"deadline_passed": deadline_passed, "never": never}

    @agorakit.hookimpl
    def agorakit_order_effects(self):
        async def fund_from_credit(ctx):
            order = ctx.order
            await ledger.post(
                ctx.uow,
                key=f"order:{order.id}:fund",
                kind="payment_completed",
                description="test payment",
                lines=ledger.move(
                    ledger.credit(order.buyer_id), ledger.escrow(f"order:{order.id}"), 500, "USD"
                ),
            )

        async def explode(ctx):  # after release_escrow has moved the money and the order
            raise RuntimeError("the effect broke")

        async def deadlock_once(ctx):  # PostgreSQL picked this transaction as a deadlock's victim
            from asyncpg.exceptions import DeadlockDetectedError

            self.deadlocks = getattr(self, "deadlocks", 0) + 1
            if self.deadlocks == 1 or ctx.actor_role == "buyer":
                raise DeadlockDetectedError("deadlock detected")

        async def unbalanced_entry(ctx):  # PostgreSQL's deferred check refuses the COMMIT
            from agorakit.money.ledger import _INSERT_ENTRIES, _INSERT_TRANSACTION, ensure_account

            now = ctx.uow.now
            account = await ensure_account(ledger.PLATFORM_FEES, "USD", now=now)
            rows = await _INSERT_TRANSACTION.run(
                {
                    "idempotency_key": f"bad:{ctx.order.id}",
                    "kind": "bad",
                    "description": "x",
                    "created_at": now,
                }
            )
            await _INSERT_ENTRIES.run(
                {
                    "transaction": rows[0]["id"],
                    "account": account["id"],
                    "amount": 1,
                    "currency": "USD",
                    "balance_after": 1,
                    "created_at": now,
                }
            )

        return {
            "fund_from_credit": fund_from_credit,
            "explode": explode,
            "unbalanced_entry": unbalanced_entry,
            "deadlock_once": deadlock_once,
        }

    @agorakit.hookimpl
    def agorakit_validate_proof(self, order, proof):
        if "forbidden" in proof.text:
            return [FieldError("text", "proofs may not say 'forbidden'")]
        return None


@pytest.fixture
def extra_plugins():
    return [("testgig", TestGigPlugin())]


async def fund_credit(runtime, member_id, cents=500):
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key=f"test-credit:{member_id}:{cents}",
            kind="test_funding",
            description="test",
            lines=ledger.move(ledger.external("test"), ledger.credit(member_id), cents, "USD"),
        )


async def new_order(runtime, buyer, seller, **data):
    return await orders_api.create_order(
        runtime,
        process="testgig",
        buyer_id=buyer.id,
        seller_id=seller.id,
        currency="USD",
        items=[ItemIn(description="Logo design", unit_price=500)],
        data={"deadline_days": 2, **data},
    )


def fire_path(order_id, name):
    return f"/orders/{order_id}/transitions/{name}"


async def test_hook_agorakit_processes(client, runtime, make_member):
    buyer, seller = await make_member(), await make_member()
    order = await new_order(runtime, buyer, seller)
    assert (order.process, order.process_version, order.state) == ("testgig", 1, "awaiting_payment")
    assert order.amount.amount == "5.00"
    body = (await client.get(f"/orders/{order.id}", headers=buyer.headers)).json()
    assert body["allowed_transitions"] == ["pay"]
    seller_view = (await client.get(f"/orders/{order.id}", headers=seller.headers)).json()
    assert seller_view["allowed_transitions"] == []


async def test_hook_agorakit_order_effects(client, runtime, make_member):
    """The full flow: pay (plugin effect), deliver by proof, accept (core release effect)."""
    buyer, seller = await make_member(), await make_member()
    await fund_credit(runtime, buyer.id)
    order = await new_order(runtime, buyer, seller)
    paid = await client.post(fire_path(order.id, "pay"), headers=buyer.headers)
    assert paid.status_code == 200, paid.text
    assert paid.json()["state"] == "in_progress"
    assert await ledger.balance_of(ledger.escrow(f"order:{order.id}"), "USD") == 500

    proof = await client.post(
        f"/orders/{order.id}/proofs",
        json={"text": "Here is your logo", "urls": ["https://files.example.com/logo.png"]},
        headers=seller.headers,
    )
    assert proof.status_code == 201, proof.text
    assert (await client.get(f"/orders/{order.id}", headers=buyer.headers)).json()["state"] == "delivered"

    accepted = await client.post(fire_path(order.id, "accept"), headers=buyer.headers)
    assert accepted.json()["state"] == "completed"
    # 20% site fee, rounded half up: 5.00 -> seller 4.00, platform 1.00; the escrow is empty.
    assert await ledger.balance_of(ledger.available(seller.id), "USD") == 400
    assert await ledger.balance_of(ledger.PLATFORM_FEES, "USD") == 100
    assert await ledger.balance_of(ledger.escrow(f"order:{order.id}"), "USD") == 0
    assert await ledger.check_ledger() == []

    history = (await client.get(f"/orders/{order.id}/history", headers=seller.headers)).json()["items"]
    assert [
        (e["seq"], e["transition"], e["from_state"], e["to_state"], e["actor_role"]) for e in history
    ] == [
        (1, "create", None, "awaiting_payment", "buyer"),
        (2, "pay", "awaiting_payment", "in_progress", "buyer"),
        (3, "deliver", "in_progress", "delivered", "seller"),
        (4, "accept", "delivered", "completed", "buyer"),
    ]
    assert history[2]["data"] == {"proof": proof.json()["id"]}


async def test_transition_refusals_say_what_is_allowed(client, runtime, make_member, problem):
    buyer, seller, stranger = await make_member(), await make_member(), await make_member()
    order = await new_order(runtime, buyer, seller)
    body = problem(
        await client.post(fire_path(order.id, "accept"), headers=buyer.headers), 409, "transition_not_allowed"
    )
    assert body["extra"] == {"state": "awaiting_payment", "allowed_transitions": ["pay"]}
    body = problem(
        await client.post(fire_path(order.id, "pay"), headers=seller.headers), 403, "actor_not_allowed"
    )
    assert body["detail"] == "pay is for the buyer of the order"
    problem(await client.post(fire_path(order.id, "pay"), headers=stranger.headers), 404, "not_found")
    problem(await client.get(f"/orders/{order.id}", headers=stranger.headers), 404, "not_found")
    problem(await client.get(f"/orders/{order.id}/history", headers=stranger.headers), 404, "not_found")
    problem(await client.get(f"/orders/{order.id}/proofs", headers=stranger.headers), 404, "not_found")
    problem(
        await client.post(f"/orders/{order.id}/proofs", json={"text": "x"}, headers=stranger.headers),
        404,
        "not_found",
    )
    body = problem(
        await client.post(fire_path(order.id, "teleport"), headers=buyer.headers), 404, "unknown_transition"
    )
    assert "it has: pay, paid, deliver" in body["detail"]
    problem(
        await client.post(fire_path(order.id, "auto_complete"), headers=buyer.headers),
        409,
        "transition_not_allowed",
    )
    assert (await client.get(f"/orders/{order.id}", headers=buyer.headers)).json()["version"] == 1


async def test_hook_agorakit_order_guards(client, runtime, make_member, clock, problem):
    buyer, seller = await make_member(), await make_member()
    await fund_credit(runtime, buyer.id)
    order = await new_order(runtime, buyer, seller)
    await client.post(fire_path(order.id, "pay"), headers=buyer.headers)
    early = await client.post(fire_path(order.id, "cancel_late"), headers=buyer.headers)
    body = problem(early, 409, "guard_failed")
    assert body["detail"] == "the seller has until day 2 to deliver; you can cancel after that"
    assert await ledger.balance_of(ledger.credit(buyer.id), "USD") == 0

    clock.advance(days=2)
    late = await client.post(fire_path(order.id, "cancel_late"), headers=buyer.headers)
    assert late.json()["state"] == "cancelled"
    assert await ledger.balance_of(ledger.credit(buyer.id), "USD") == 500  # refunded to credit
    assert await ledger.balance_of(ledger.escrow(f"order:{order.id}"), "USD") == 0


async def test_timer_auto_completes_after_three_days(client, runtime, make_member, clock):
    buyer, seller = await make_member(), await make_member()
    await fund_credit(runtime, buyer.id)
    order = await new_order(runtime, buyer, seller)
    await client.post(fire_path(order.id, "pay"), headers=buyer.headers)
    await client.post(fire_path(order.id, "deliver"), headers=seller.headers)

    clock.advance(days=3, seconds=-1)
    assert (await sweep(runtime)).timers_fired == []
    clock.advance(seconds=1)
    report = await sweep(runtime)
    assert len(report.timers_fired) == 1
    state = (await client.get(f"/orders/{order.id}", headers=buyer.headers)).json()
    assert state["state"] == "completed"
    history = (await client.get(f"/orders/{order.id}/history", headers=buyer.headers)).json()["items"]
    assert (history[-1]["transition"], history[-1]["actor_role"], history[-1]["actor_id"]) == (
        "auto_complete",
        "system",
        None,
    )
    assert await ledger.balance_of(ledger.available(seller.id), "USD") == 400
    assert (await sweep(runtime)).timers_fired == []  # fired once


async def test_timer_is_cancelled_when_its_state_is_left(client, runtime, make_member, clock):
    buyer, seller = await make_member(), await make_member()
    await fund_credit(runtime, buyer.id)
    order = await new_order(runtime, buyer, seller)
    await client.post(fire_path(order.id, "pay"), headers=buyer.headers)
    await client.post(fire_path(order.id, "deliver"), headers=seller.headers)
    await client.post(fire_path(order.id, "accept"), headers=buyer.headers)
    clock.advance(days=4)
    assert (await sweep(runtime)).timers_fired == []
    rows = await OrderTimer.select(OrderTimer.status).where(OrderTimer.order == order.id)
    assert rows == [{"status": "cancelled"}]
    assert await ledger.balance_of(ledger.available(seller.id), "USD") == 400  # released once


async def test_failing_timer_is_retried_then_reported_to_operators(client, runtime, make_member, clock):
    buyer, seller, operator = await make_member(), await make_member(), await make_member(role="operator")
    await fund_credit(runtime, buyer.id)
    order = await new_order(runtime, buyer, seller)
    await client.post(fire_path(order.id, "pay"), headers=buyer.headers)
    async with runtime.unit_of_work() as uow:
        await OrderTimer.insert(
            OrderTimer(
                order=order.id,
                state="in_progress",
                transition="always_fails",
                due_at=uow.now,
                status="pending",
                attempts=0,
                created_at=uow.now,
            )
        )
    outcomes = []
    for _ in range(order_timers.TIMER_MAX_ATTEMPTS):
        report = await sweep(runtime)
        outcomes.append((len(report.timers_retried), len(report.timers_failed)))
        clock.advance(hours=2)
    assert outcomes == [(1, 0), (1, 0), (1, 0), (1, 0), (0, 1)]
    failed = (
        await client.get("/operator/timers", params={"status": "failed"}, headers=operator.headers)
    ).json()["items"]
    assert [(t["order_id"], t["transition"], t["attempts"]) for t in failed] == [
        (order.id, "always_fails", 5)
    ]
    assert failed[0]["last_error"] == "this transition never passes"
    assert (await client.get(f"/orders/{order.id}", headers=buyer.headers)).json()["state"] == "in_progress"


async def test_hook_agorakit_validate_proof(client, runtime, make_member, problem):
    buyer, seller = await make_member(), await make_member()
    await fund_credit(runtime, buyer.id)
    order = await new_order(runtime, buyer, seller)
    await client.post(fire_path(order.id, "pay"), headers=buyer.headers)
    url = f"/orders/{order.id}/proofs"
    problem(
        await client.post(url, json={"text": "forbidden words"}, headers=seller.headers),
        422,
        "validation_error",
        fields={"text"},
    )
    problem(
        await client.post(url, json={"text": "  "}, headers=seller.headers),
        422,
        "validation_error",
        fields={"text"},
    )
    problem(
        await client.post(url, json={"urls": ["ftp://x"]}, headers=seller.headers), 422, "validation_error"
    )
    problem(await client.post(url, json={"text": "mine"}, headers=buyer.headers), 403, "forbidden")
    assert (await client.get(url, headers=buyer.headers)).json() == []

    proof = (await client.post(url, json={"text": "done"}, headers=seller.headers)).json()
    review = f"{url}/{proof['id']}/review"
    problem(
        await client.post(review, json={"decision": "reject"}, headers=buyer.headers),
        422,
        "validation_error",
        fields={"reason"},
    )
    problem(await client.post(review, json={"decision": "accept"}, headers=seller.headers), 403, "forbidden")
    reviewed = await client.post(
        review, json={"decision": "request_correction", "reason": "wrong colour"}, headers=buyer.headers
    )
    assert reviewed.json()["status"] == "correction_requested"
    assert reviewed.json()["review_reason"] == "wrong colour"
    problem(await client.post(review, json={"decision": "accept"}, headers=buyer.headers), 409, "conflict")


async def test_orders_keep_the_process_version_they_started_with(runtime, make_member, plugin_manager):
    buyer, seller = await make_member(), await make_member()
    first = await new_order(runtime, buyer, seller)
    plugin = plugin_manager.get_plugin("testgig")
    plugin.processes = [gig_process(1), gig_process(2, auto_complete_days=5)]
    runtime._orders_registry = None  # start-up collects processes again
    second = await new_order(runtime, buyer, seller)
    assert (first.process_version, second.process_version) == (1, 2)
    fired = await orders_api.fire(runtime, first.id, "refund", caller=await _operator(runtime))
    assert (fired.state, fired.process_version) == ("cancelled", 1)
    plugin.processes = [gig_process(2)]
    runtime._orders_registry = None
    from agorakit.errors import Conflict

    with pytest.raises(Conflict, match="no enabled plugin provides any more"):
        await orders_api.fire(runtime, first.id, "refund", caller=await _operator(runtime, "op2@example.com"))
    plugin.processes = [gig_process(1)]
    runtime._orders_registry = None


async def _operator(runtime, email="op@example.com"):
    from agorakit.accounts import service as accounts
    from agorakit.accounts.schemas import RegisterMember

    return await accounts.register(
        runtime,
        RegisterMember(email=email, password="operator-passphrase-9", display_name="Op", country="US"),
        role="operator",
    )


def test_inconsistent_process_is_refused_at_definition():
    with pytest.raises(ProcessError) as info:
        Process(
            name="broken",
            version=1,
            states=("a", "b"),
            initial="c",
            final=("b",),
            transitions=(Transition(name="go", sources=("a",), target="z", actors=("buyer",)),),
            timers=(Timer(state="a", after=timedelta(hours=1), transition="go"),),
        )
    message = str(info.value)
    assert "initial state 'c' is not a state" in message
    assert "transition 'go' uses unknown state 'z'" in message
    assert "timer transition 'go' must be fireable by system from 'a'" in message


def test_process_state_diagram_is_mermaid():
    diagram = gig_process().mermaid()
    assert diagram.startswith("stateDiagram-v2\n    [*] --> awaiting_payment")
    assert "    delivered --> completed: accept (buyer)" in diagram


async def test_concurrent_transitions_from_one_state_have_one_winner(client, runtime, make_member, db_kind):
    buyer, seller = await make_member(), await make_member()
    operator = await make_member(role="operator")
    await fund_credit(runtime, buyer.id)
    order = await new_order(runtime, buyer, seller)
    await client.post(fire_path(order.id, "pay"), headers=buyer.headers)
    await client.post(fire_path(order.id, "deliver"), headers=seller.headers)
    responses = await asyncio.gather(
        *[client.post(fire_path(order.id, "accept"), headers=buyer.headers) for _ in range(5)],
        *[client.post(fire_path(order.id, "refund"), headers=operator.headers) for _ in range(5)],
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [409] * 9, codes
    final = (await client.get(f"/orders/{order.id}", headers=buyer.headers)).json()
    assert final["version"] == 4
    # Whichever won, the escrow was paid out exactly once.
    assert await ledger.balance_of(ledger.escrow(f"order:{order.id}"), "USD") == 0
    assert await ledger.check_ledger() == []


class TestSeveralWorkers:
    @pytest.fixture(params=[(100, 1), (2, 1), (2, 3)], ids=["batch100", "batch2", "batch2-concurrency3"])
    def site_config(self, request):
        batch, concurrency = request.param
        return {
            "database": {"pool_max_size": 16},
            "worker": {"timer_batch": batch, "timer_concurrency": concurrency},
        }

    async def test_each_due_timer_fires_exactly_once(self, client, runtime, make_member, clock, db_kind):
        buyer, sellers = await make_member(), [await make_member(), await make_member()]
        await fund_credit(runtime, buyer.id, 500 * 8)
        orders = []
        for n in range(8):  # the two sellers' orders interleaved
            seller = sellers[n % 2]
            order = await new_order(runtime, buyer, seller)
            await client.post(fire_path(order.id, "pay"), headers=buyer.headers)
            await client.post(fire_path(order.id, "deliver"), headers=seller.headers)
            orders.append(order.id)
        clock.advance(days=3)
        reports = await asyncio.gather(*(sweep(runtime) for _ in range(4)))
        fired = [t for r in reports for t in r.timers_fired]
        assert len(fired) == len(set(fired)) == 8
        assert all(not r.timers_retried and not r.timers_failed for r in reports)
        for seller in sellers:
            assert await ledger.balance_of(ledger.available(seller.id), "USD") == 4 * 400
        # The fee account's entries, in the order written, add up to the balance after each.
        rows = (
            await LedgerEntry.select(LedgerEntry.amount, LedgerEntry.balance_after)
            .where(LedgerEntry.account.name == ledger.PLATFORM_FEES)
            .order_by(LedgerEntry.id)
        )
        running = 0
        for row in rows:
            running += row["amount"]
            assert row["balance_after"] == running
        assert running == 8 * 100 == await ledger.balance_of(ledger.PLATFORM_FEES, "USD")
        assert await ledger.check_ledger() == []


async def _due_timer(runtime, order_id, transition, state="in_progress"):
    async with runtime.unit_of_work() as uow:
        rows = await OrderTimer.insert(
            OrderTimer(
                order=order_id,
                state=state,
                transition=transition,
                due_at=uow.now,
                status="pending",
                attempts=0,
                created_at=uow.now,
            )
        ).returning(OrderTimer.id)
    return rows[0]["id"]


async def _delivered_orders(client, runtime, buyer, seller, count):
    await fund_credit(runtime, buyer.id, 500 * count)
    orders = []
    for _ in range(count):
        order = await new_order(runtime, buyer, seller)
        await client.post(fire_path(order.id, "pay"), headers=buyer.headers)
        await client.post(fire_path(order.id, "deliver"), headers=seller.headers)
        orders.append(order.id)
    return orders


async def _paid_order_with_due_timer(client, runtime, buyer, seller, transition):
    """A paid order (in_progress) with a pending ``transition`` timer due now."""
    order = await new_order(runtime, buyer, seller)
    await fund_credit(runtime, buyer.id, 500)
    assert (await client.post(fire_path(order.id, "pay"), headers=buyer.headers)).status_code == 200
    return order, await _due_timer(runtime, order.id, transition)


async def _stored_transitions(order_id):
    from agorakit.events.tables import StoredEvent

    rows = (
        await StoredEvent.select(StoredEvent.data)
        .output(load_json=True)
        .order_by(StoredEvent.id)
        .where((StoredEvent.subject == f"order:{order_id}") & (StoredEvent.name == "order.transitioned"))
    )
    return [r["data"]["transition"] for r in rows]


async def test_a_batch_of_timers_gives_each_transition_its_own_orders_items(
    client, runtime, make_member, clock, monkeypatch
):
    """A batch reads its orders' items at once; each effect sees its own order's, in order."""
    from agorakit.hooks import maybe_await

    buyer, seller = await make_member(), await make_member()
    await fund_credit(runtime, buyer.id, 500 * 3)
    orders = []
    for n in range(3):
        order = await orders_api.create_order(
            runtime,
            process="testgig",
            buyer_id=buyer.id,
            seller_id=seller.id,
            currency="USD",
            items=[
                ItemIn(description=f"Logo {n}", unit_price=300),
                ItemIn(description=f"Extra {n}", unit_price=200),
            ],
            data={"deadline_days": 2},
        )
        await client.post(fire_path(order.id, "pay"), headers=buyer.headers)
        await client.post(fire_path(order.id, "deliver"), headers=seller.headers)
        orders.append(order)
    effects = orders_api.registry(runtime).effects
    release, seen = effects["release_escrow"], {}

    async def recording(ctx):
        seen[ctx.order.id] = [(item.position, item.description) for item in ctx.order.items]
        return await maybe_await(release(ctx))

    monkeypatch.setitem(effects, "release_escrow", recording)
    clock.advance(days=3)
    report = await sweep(runtime)
    assert len(report.timers_fired) == 3
    assert seen == {order.id: [(1, f"Logo {n}"), (2, f"Extra {n}")] for n, order in enumerate(orders)}


async def test_a_failing_timer_in_a_batch_undoes_only_its_own_work(
    client, runtime, make_member, clock, caplog
):
    """Timers fire in one transaction per batch; one whose effect raises after the order
    moved and the escrow was released is rolled back alone, and retried.  What it left
    for the commit (its fee credit, on PostgreSQL) goes with it: the batch commits."""
    buyer, seller = await make_member(), await make_member()
    delivered = await _delivered_orders(client, runtime, buyer, seller, 3)
    clock.advance(days=3)
    broken, timer = await _paid_order_with_due_timer(client, runtime, buyer, seller, "explode")

    with caplog.at_level(logging.INFO, logger="agorakit.orders"):
        report = await sweep(runtime)

    assert "did not commit" not in caplog.text  # one batch, not the timers one by one
    assert await ledger.balance_of(ledger.PLATFORM_FEES, "USD") == 3 * 100

    assert len(report.timers_fired) == 3 and report.timers_retried == [timer]
    for order_id in delivered:
        assert (await client.get(f"/orders/{order_id}", headers=buyer.headers)).json()["state"] == "completed"
        assert await _stored_transitions(order_id) == ["pay", "deliver", "auto_complete"]
    assert await ledger.balance_of(ledger.available(seller.id), "USD") == 3 * 400
    # The broken one: not moved, its escrow still held, no history, no event, nothing paid
    after = (await client.get(f"/orders/{broken.id}", headers=buyer.headers)).json()
    assert (after["state"], after["version"]) == ("in_progress", 2)
    assert await ledger.balance_of(ledger.escrow(f"order:{broken.id}"), "USD") == 500
    history = (await client.get(f"/orders/{broken.id}/history", headers=buyer.headers)).json()["items"]
    assert [e["transition"] for e in history] == ["create", "pay"]
    assert await _stored_transitions(broken.id) == ["pay"]
    row = await OrderTimer.select().where(OrderTimer.id == timer).first()
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert row["last_error"] == "unexpected error: RuntimeError('the effect broke')"
    assert await ledger.check_ledger() == []


@pytest.mark.parametrize("site_config", [{"worker": {"timer_concurrency": 1}}])  # one batch at a time
async def test_a_timer_that_loses_a_deadlock_waits_for_the_next_batch(client, runtime, make_member, clock):
    """The batch commits the timers before it; the timer itself is not counted as failed."""
    buyer, seller = await make_member(), await make_member()
    delivered = await _delivered_orders(client, runtime, buyer, seller, 2)
    clock.advance(days=3)
    stuck, timer = await _paid_order_with_due_timer(client, runtime, buyer, seller, "stuck")
    batches = []
    original = order_timers._fire_batch

    async def recording(*args, **kwargs):
        outcomes = await original(*args, **kwargs)
        batches.append(sorted(result for _, result in outcomes))
        return outcomes

    order_timers._fire_batch = recording
    try:
        report = await sweep(runtime)
    finally:
        order_timers._fire_batch = original

    assert batches == [["fired", "fired"], ["fired"], []]
    assert len(report.timers_fired) == 3 and report.timers_fired[-1] == timer
    assert report.timers_retried == [] and report.timers_failed == []
    for order_id in [*delivered, stuck.id]:
        assert (await client.get(f"/orders/{order_id}", headers=buyer.headers)).json()["state"] == "completed"
    row = await OrderTimer.select().where(OrderTimer.id == timer).first()
    assert (row["status"], row["attempts"], row["last_error"]) == ("fired", 0, None)
    assert await ledger.balance_of(ledger.available(seller.id), "USD") == 3 * 400
    assert await ledger.check_ledger() == []


async def test_a_request_that_loses_a_deadlock_gets_a_409_and_changes_nothing(
    client, runtime, make_member, problem
):
    buyer, seller = await make_member(), await make_member()
    await fund_credit(runtime, buyer.id)
    order = await new_order(runtime, buyer, seller)
    await client.post(fire_path(order.id, "pay"), headers=buyer.headers)
    body = problem(
        await client.post(fire_path(order.id, "stuck"), headers=buyer.headers), 409, "concurrent_change"
    )
    assert body["detail"] == (
        "another request changed the same data at the same moment; nothing was changed, try again"
    )
    after = (await client.get(f"/orders/{order.id}", headers=buyer.headers)).json()
    assert (after["state"], after["version"]) == ("in_progress", 2)
    assert await ledger.balance_of(ledger.escrow(f"order:{order.id}"), "USD") == 500
    assert await ledger.balance_of(ledger.available(seller.id), "USD") == 0


@pytest.mark.postgres_only("PostgreSQL checks that the ledger balances at COMMIT; SQLite checks each posting")
async def test_a_batch_whose_commit_fails_fires_its_timers_one_by_one(client, runtime, make_member, clock):
    buyer, seller = await make_member(), await make_member()
    delivered = await _delivered_orders(client, runtime, buyer, seller, 2)
    clock.advance(days=3)
    broken, timer = await _paid_order_with_due_timer(client, runtime, buyer, seller, "unbalanced")

    report = await sweep(runtime)

    assert len(report.timers_fired) == 2 and report.timers_retried == [timer]
    for order_id in delivered:
        assert (await client.get(f"/orders/{order_id}", headers=buyer.headers)).json()["state"] == "completed"
    assert (await client.get(f"/orders/{broken.id}", headers=buyer.headers)).json()["state"] == "in_progress"
    row = await OrderTimer.select().where(OrderTimer.id == timer).first()
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert row["last_error"].startswith("unexpected error: CheckViolationError('ledger transaction ")
    assert row["last_error"].endswith(" is not balanced')")
    assert await ledger.check_ledger() == []


class TestTimeBoundBatches:
    @pytest.fixture
    def site_config(self):
        return {
            "worker": {
                "timer_batch": 100,
                "batch_seconds": 0.000001,
                "timer_concurrency": 1,
                "fire_in_sets": False,
            }
        }

    async def test_a_batch_stops_taking_timers_after_batch_seconds(
        self, client, runtime, make_member, clock, monkeypatch
    ):
        """One order at a time (sets: test_timers_fired_as_sets.py)."""
        buyer, seller = await make_member(), await make_member()
        orders = await _delivered_orders(client, runtime, buyer, seller, 4)
        clock.advance(days=3)
        batches = []
        original = order_timers._fire_batch

        async def counting(*args, **kwargs):
            outcomes = await original(*args, **kwargs)
            batches.append(len(outcomes))
            return outcomes

        monkeypatch.setattr(order_timers, "_fire_batch", counting)
        report = await sweep(runtime)
        # Each batch fires one timer, then finds its time up; the rest wait for the next one.
        assert batches == [1, 1, 1, 1, 0]
        assert len(report.timers_fired) == 4
        states = {(await client.get(f"/orders/{o}", headers=buyer.headers)).json()["state"] for o in orders}
        assert states == {"completed"}
        assert await ledger.balance_of(ledger.available(seller.id), "USD") == 4 * 400


@pytest.mark.postgres_only("SQLite fires one batch at a time")
@pytest.mark.parametrize("site_config", [{"worker": {"timer_concurrency": 2}}])
async def test_concurrent_batches_share_the_limit_and_raise_the_first_error(runtime, monkeypatch):
    calls = []

    async def broken(rt, limit):
        calls.append(limit)
        raise RuntimeError("the database went away")

    monkeypatch.setattr(order_timers, "_fire_due", broken)
    with pytest.raises(RuntimeError, match="the database went away"):
        await orders_api.fire_due_timers(runtime, limit=5)
    assert calls and set(calls) <= {2, 3}


async def test_worker_loop_runs_sweeps(runtime):
    from agorakit.worker import run_worker

    assert await run_worker(runtime, interval=0.01, sweeps=2) == 2


async def test_paying_an_order_from_balance_starts_it_at_once(client, runtime, make_member, problem):
    buyer, seller = await make_member(), await make_member()
    await fund_credit(runtime, buyer.id, 300)
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key="avail",
            kind="test_funding",
            description="t",
            lines=ledger.move(ledger.external("test"), ledger.available(buyer.id), 1000, "USD"),
        )
    order = await new_order(runtime, buyer, seller)
    assert order.data["quote"] == {
        "buyer_total": 500,
        "seller_net": 400,
        "platform_total": 100,
        "lines": [{"payer": "seller", "amount": 100, "label": "Site fee (20%)", "code": "commission"}],
    }
    problem(
        await client.post(f"/orders/{order.id}/payments", json={"method": "balance"}, headers=seller.headers),
        403,
        "forbidden",
    )
    stranger = await make_member()
    for path in (f"/orders/{order.id}/payments", "/orders/987654/payments"):  # nobody's business
        problem(
            await client.post(path, json={"method": "balance"}, headers=stranger.headers), 404, "not_found"
        )
    paid = await client.post(
        f"/orders/{order.id}/payments",
        json={"method": "balance"},
        headers={**buyer.headers, "Idempotency-Key": "order-pay-1"},
    )
    assert paid.status_code == 201, paid.text
    assert paid.json()["details"] == {"from_credit": 300, "from_available": 200}
    state = (await client.get(f"/orders/{order.id}", headers=buyer.headers)).json()
    assert state["state"] == "in_progress"
    history = (await client.get(f"/orders/{order.id}/history", headers=buyer.headers)).json()["items"]
    assert (history[-1]["transition"], history[-1]["actor_role"]) == ("paid", "system")
    replay = await client.post(
        f"/orders/{order.id}/payments",
        json={"method": "balance"},
        headers={**buyer.headers, "Idempotency-Key": "order-pay-1"},
    )
    assert replay.status_code == 200 and replay.json()["id"] == paid.json()["id"]
    again = await client.post(
        f"/orders/{order.id}/payments", json={"method": "balance"}, headers=buyer.headers
    )
    body = problem(again, 409, "order_already_paid")
    assert body["extra"]["payment_id"] == paid.json()["id"]
    assert await ledger.balance_of(ledger.available(buyer.id), "USD") == 800  # paid once


class TestBankTransferOrders:
    @pytest.fixture
    def site_config(self):
        return {
            "site": {"plugins": ["bank_transfer"]},
            "money": {"payment_methods": ["balance", "bank_transfer"]},
        }

    async def test_hook_agorakit_payment_settled(self, client, runtime, make_member):
        buyer, seller, operator = await make_member(), await make_member(), await make_member(role="operator")
        order = await new_order(runtime, buyer, seller)
        payment = (
            await client.post(
                f"/orders/{order.id}/payments", json={"method": "bank_transfer"}, headers=buyer.headers
            )
        ).json()
        assert payment["status"] == "awaiting_funds"
        # The seller's clock does not start until the money is confirmed.
        assert (await client.get(f"/orders/{order.id}", headers=buyer.headers)).json()[
            "state"
        ] == "awaiting_payment"
        confirmed = await client.post(
            f"/bank-transfer/payments/{payment['id']}/confirm",
            json={"amount": {"amount": "5.00", "currency": "USD"}, "reference": "STMT-1"},
            headers=operator.headers,
        )
        assert confirmed.status_code == 200, confirmed.text
        assert (await client.get(f"/orders/{order.id}", headers=buyer.headers)).json()[
            "state"
        ] == "in_progress"
        assert await ledger.balance_of(ledger.escrow(f"order:{order.id}"), "USD") == 500

    async def test_money_for_a_cancelled_order_returns_as_credit(self, client, runtime, make_member):
        buyer, seller, operator = await make_member(), await make_member(), await make_member(role="operator")
        order = await new_order(runtime, buyer, seller)
        payment = (
            await client.post(
                f"/orders/{order.id}/payments", json={"method": "bank_transfer"}, headers=buyer.headers
            )
        ).json()
        await client.post(fire_path(order.id, "refund"), headers=operator.headers)  # cancelled meanwhile
        confirmed = await client.post(
            f"/bank-transfer/payments/{payment['id']}/confirm",
            json={"amount": {"amount": "5.00", "currency": "USD"}, "reference": "STMT-2"},
            headers=operator.headers,
        )
        assert confirmed.status_code == 200, confirmed.text
        assert (await client.get(f"/orders/{order.id}", headers=buyer.headers)).json()["state"] == "cancelled"
        assert await ledger.balance_of(ledger.credit(buyer.id), "USD") == 500
        assert await ledger.balance_of(ledger.escrow(f"order:{order.id}"), "USD") == 0
        assert await ledger.check_ledger() == []


def test_a_process_naming_a_missing_effect_stops_startup(site_settings):
    from agorakit.hooks import get_plugin_manager
    from agorakit.runtime import Runtime
    from agorakit.settings import ConfigError

    broken = gig_process()
    broken = Process(
        **{
            **{f: getattr(broken, f) for f in broken.__struct_fields__},
            "name": "broken",
            "transitions": (
                *broken.transitions,
                Transition(
                    name="magic",
                    sources=("delivered",),
                    target="completed",
                    actors=("buyer",),
                    effects=("no_such_effect",),
                ),
            ),
        }
    )
    pm = get_plugin_manager([], extra=[("testgig", TestGigPlugin([broken]))])
    with pytest.raises(ConfigError, match="process broken: no plugin provides effect 'no_such_effect'"):
        Runtime(site_settings, pm=pm)


def request_process() -> Process:
    """A prepaid-style request: paid up front, open to sellers, taken by exactly one."""
    return Process(
        name="testrequest",
        version=1,
        states=("open", "locked", "delivered", "completed", "cancelled"),
        initial="open",
        final=("completed", "cancelled"),
        transitions=(
            Transition(name="lock", sources=("open",), target="locked", actors=("candidate",)),
            Transition(name="deliver", sources=("locked",), target="delivered", actors=("seller",)),
            Transition(name="cancel", sources=("open",), target="cancelled", actors=("buyer",)),
        ),
    )


class TestOpenRequests:
    @pytest.fixture
    def extra_plugins(self):
        from catalog_helpers import CatalogTestPlugin

        self.catalog = CatalogTestPlugin()
        return [("testgig", TestGigPlugin([gig_process(), request_process()])), ("catalog", self.catalog)]

    @pytest.fixture
    def site_config(self):
        return {"database": {"pool_max_size": 15}}

    async def test_one_candidate_wins_the_lock_the_others_get_409(self, client, runtime, make_member):
        buyer = await make_member()
        sellers = [await make_member() for _ in range(8)]
        order = await orders_api.create_order(
            runtime,
            process="testrequest",
            buyer_id=buyer.id,
            currency="USD",
            items=[ItemIn(description="Boost to Gold", unit_price=2000)],
        )
        view = (await client.get(f"/orders/{order.id}", headers=sellers[0].headers)).json()
        assert (view["seller_id"], view["allowed_transitions"]) == (None, ["lock"])
        assert (await client.get(f"/orders/{order.id}", headers=buyer.headers)).json()[
            "allowed_transitions"
        ] == ["cancel"]
        responses = await asyncio.gather(
            *(client.post(fire_path(order.id, "lock"), headers=s.headers) for s in sellers)
        )
        codes = [r.status_code for r in responses]
        assert sorted(codes) == [200] + [409] * 7, [r.text for r in responses]
        winner = sellers[codes.index(200)]
        final = (await client.get(f"/orders/{order.id}", headers=winner.headers)).json()
        assert (final["state"], final["seller_id"], final["allowed_transitions"]) == (
            "locked",
            winner.id,
            ["deliver"],
        )
        loser = sellers[codes.index(409)]
        assert (await client.get(f"/orders/{order.id}", headers=loser.headers)).status_code == 404
        history = (await client.get(f"/orders/{order.id}/history", headers=buyer.headers)).json()["items"]
        assert (history[-1]["transition"], history[-1]["actor_role"], history[-1]["actor_id"]) == (
            "lock",
            "candidate",
            winner.id,
        )

    async def test_buyer_cannot_take_own_request_and_vetoed_sellers_are_refused(
        self, client, runtime, make_member, problem
    ):
        from catalog_helpers import make_categories, publish

        operator, buyer = await make_member(role="operator"), await make_member()
        seller, vetoed = await make_member(), await make_member()
        await make_categories(client, operator)
        listing = await publish(client, seller, operator)
        order = await orders_api.create_order(
            runtime,
            process="testrequest",
            buyer_id=buyer.id,
            currency="USD",
            items=[ItemIn(description="Boost", unit_price=2000)],
            listing_id=listing["id"],
        )
        problem(
            await client.post(fire_path(order.id, "lock"), headers=buyer.headers), 403, "actor_not_allowed"
        )
        self.catalog.vetoes[vetoed.id] = "you are not qualified for this game yet"
        body = problem(
            await client.post(fire_path(order.id, "lock"), headers=vetoed.headers), 403, "not_eligible"
        )
        assert body["detail"] == "you are not qualified for this game yet"
        assert (await client.get(f"/orders/{order.id}", headers=buyer.headers)).json()["state"] == "open"


async def test_check_ledger_reports_a_final_order_that_still_holds_escrow(client, runtime, make_member):
    buyer, seller = await make_member(), await make_member()
    await fund_credit(runtime, buyer.id)
    order = await new_order(runtime, buyer, seller)
    await client.post(fire_path(order.id, "pay"), headers=buyer.headers)
    assert await escrow_problem_lines(runtime) == []
    # Force the order into a final state without its effect (as a buggy plugin might).
    from agorakit.orders.tables import Order

    await Order.update({Order.state: "completed"}).where(Order.id == order.id)
    assert await escrow_problem_lines(runtime) == [
        f"order:{order.id}:escrow USD: order {order.id} is completed and its escrow holds "
        "5.00 USD, but must hold 0.00 USD"
    ]


async def test_an_order_without_seller_is_hidden_when_its_process_has_no_candidates(
    client, runtime, make_member, problem
):
    buyer, stranger = await make_member(), await make_member()
    order = await orders_api.create_order(
        runtime,
        process="testgig",
        buyer_id=buyer.id,
        currency="USD",
        items=[ItemIn(description="Logo", unit_price=500)],
        data={"deadline_days": 2},
    )
    problem(await client.get(f"/orders/{order.id}", headers=stranger.headers), 404, "not_found")
    problem(await client.post(fire_path(order.id, "pay"), headers=stranger.headers), 404, "not_found")
