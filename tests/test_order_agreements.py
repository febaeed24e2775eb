"""Two order capabilities a model builds on: a timer whose delay is the order's own
(``Timer.after_from``), and an order priced by a quote agreed before it existed
(``create_order(agreed_quote=...)``), plus ``submitted_proof_id``."""

from __future__ import annotations

from datetime import timedelta

import pytest

import agorakit
from agorakit import orders
from agorakit.money import ledger
from agorakit.orders import ItemIn, Process, SubmitProof, Timer, Transition
from agorakit.worker import sweep


class TasksPlugin:
    @agorakit.hookimpl
    def agorakit_processes(self, runtime):
        return [
            Process(
                name="timed_task",
                version=1,
                states=("open", "submitted", "done", "lapsed"),
                initial="open",
                final=("done", "lapsed"),
                transitions=(
                    Transition(name="submit", sources=("open",), target="submitted", actors=("seller",)),
                    Transition(
                        name="finish",
                        sources=("submitted",),
                        target="done",
                        actors=("buyer",),
                        effects=("release_escrow",),
                    ),
                    Transition(
                        name="lapse",
                        sources=("open",),
                        target="lapsed",
                        actors=("system",),
                        effects=("refund_escrow",),
                    ),
                ),
                timers=(
                    Timer(state="open", after=timedelta(hours=1), after_from="seconds", transition="lapse"),
                ),
                on_proof={"submitted": "submit"},
            )
        ]


@pytest.fixture
def extra_plugins():
    return [("tasks", TasksPlugin())]


AGREED = {"buyer_total": 110, "seller_net": 95, "platform_total": 15, "lines": []}


async def place(runtime, buyer, seller, *, data=None, agreed=None, cents=100) -> int:
    async with runtime.unit_of_work() as uow:
        order = await orders.create_order(
            runtime,
            process="timed_task",
            buyer_id=buyer.id,
            seller_id=seller.id,
            currency="USD",
            items=[ItemIn(kind="task", description="A task", unit_price=cents, quantity=1)],
            data=data or {},
            uow=uow,
            agreed_quote=agreed,
        )
        if agreed is not None:
            await ledger.post(
                uow,
                key=f"fund:{order.id}",
                kind="test_funding",
                description="test",
                lines=ledger.move(
                    ledger.external("test"), ledger.escrow(f"order:{order.id}"), agreed["buyer_total"], "USD"
                ),
            )
    return order.id


async def state(runtime, order_id) -> str:
    row = await orders.order_by_id(order_id)
    assert row is not None
    return row["state"]


def test_a_timer_takes_its_delay_from_the_order_data():
    timer = Timer(state="open", after=timedelta(hours=1), after_from="seconds", transition="lapse")
    assert timer.delay({"seconds": 90}) == timedelta(seconds=90)
    assert timer.delay({}) == timedelta(hours=1)
    assert timer.delay(None) == timedelta(hours=1)
    for wrong in ("90", -5, True, None):
        assert timer.delay({"seconds": wrong}) == timedelta(hours=1)


async def test_each_order_lapses_after_its_own_delay(runtime, make_member, clock):
    buyer, seller = await make_member(), await make_member()
    quick = await place(runtime, buyer, seller, data={"seconds": 600})
    default = await place(runtime, buyer, seller)
    clock.advance(timedelta(seconds=599))
    await sweep(runtime)
    assert (await state(runtime, quick), await state(runtime, default)) == ("open", "open")
    clock.advance(timedelta(seconds=1))
    await sweep(runtime)
    assert (await state(runtime, quick), await state(runtime, default)) == ("lapsed", "open")
    clock.advance(timedelta(minutes=50))
    await sweep(runtime)
    assert await state(runtime, default) == "lapsed"


async def test_an_agreed_quote_is_what_the_release_pays(runtime, make_member, client):
    buyer, seller = await make_member(), await make_member()
    order_id = await place(runtime, buyer, seller, agreed=AGREED)
    order = await orders.get_order(runtime, order_id, caller=None)
    assert order.data["quote"] == AGREED  # the fee plugins (a 20% commission) were not asked
    await orders.submit_proof(runtime, order_id, SubmitProof(text="done"), caller=seller)
    waiting = await orders.submitted_proof_id(order_id)
    assert waiting is not None
    reviewed = await orders.review_proof(
        runtime, order_id, waiting, decision="accept", reason="", caller=buyer
    )
    assert reviewed.status == "accepted"
    assert await orders.submitted_proof_id(order_id) is None
    await orders.fire(runtime, order_id, "finish", caller=buyer)
    assert await ledger.balance_of(ledger.available(seller.id), "USD") == 95
    assert await ledger.balance_of(ledger.PLATFORM_FEES, "USD") == 15
    assert await ledger.balance_of(ledger.escrow(f"order:{order_id}"), "USD") == 0


@pytest.mark.parametrize(
    "quote",
    [
        {"buyer_total": 110, "seller_net": 95},  # no platform_total
        {"buyer_total": 110, "seller_net": 95, "platform_total": 10},  # does not add up
        {"buyer_total": 90, "seller_net": 80, "platform_total": 10},  # less than the amount
        {"buyer_total": 110, "seller_net": 101, "platform_total": 9},  # net above the amount
    ],
)
async def test_an_agreed_quote_must_add_up(runtime, make_member, quote):
    buyer, seller = await make_member(), await make_member()
    with pytest.raises(ValueError):
        await place(runtime, buyer, seller, agreed=quote)


async def test_a_quote_in_data_is_priced_again_without_an_agreement(runtime, make_member):
    buyer, seller = await make_member(), await make_member()
    order_id = await place(runtime, buyer, seller, data={"quote": AGREED})
    order = await orders.get_order(runtime, order_id, caller=None)
    assert order.data["quote"]["seller_net"] == 80  # the core's 20% commission on 1.00
