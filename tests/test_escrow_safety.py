"""One payment funds an order, once, whatever the method: balance, bank transfer, PayPal.

A second payment of an order is refused while the first is open or completed (409
``order_already_paid``, naming the first payment), also under 50 concurrent requests; a
payment that settles for an order that no longer needs it hands exactly its own amount
back to the payer's credit and ends ``refunded``; ``check-ledger`` and the worker report
every order whose escrow does not hold what it must.  On SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import httpx
import pytest

import agorakit
from agorakit import orders as orders_api
from agorakit.errors import Conflict, Forbidden
from agorakit.money import ledger, payments
from agorakit.money.tables import Payment
from agorakit.orders.escrow import escrow_problem_lines
from agorakit.orders.payments import OrderAlreadyPaid
from agorakit.plugins.paypal.client import use_transport
from agorakit.plugins.paypal.testing import FakePayPal
from agorakit.worker import sweep

WEBHOOK_ID = "8PT597110X687430LKGECATA"
METHODS = ["balance", "bank_transfer", "paypal"]
PRICE = 2500  # the gig's 25.00: what the buyer pays and the escrow must hold
CREDIT = 10000  # the buyer's site credit at the start


@pytest.fixture
def site_config(tmp_path):
    return {
        "site": {"plugins": ["gigs", "bank_transfer", "paypal", "payments_paypal"]},
        "database": {"pool_max_size": 20},
        "money": {"payment_methods": METHODS},
        "attachments": {"path": str(tmp_path / "files")},
        "plugins": {
            "paypal": {
                "client_id": "test-client-id",
                "client_secret": "test-client-secret",
                "webhook_id": WEBHOOK_ID,
            }
        },
    }


@pytest.fixture
def paypal(runtime, clock):
    fake = FakePayPal(clock=clock, webhook_id=WEBHOOK_ID)

    async def no_sleep(seconds: float) -> None:
        pass

    use_transport(runtime, fake.transport(), sleep=no_sleep)
    return fake


def usd(amount: str) -> dict:
    return {"amount": amount, "currency": "USD"}


async def fund(runtime, account: str, cents: int) -> None:
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key=f"fund:{account}:{cents}",
            kind="test_funding",
            description="test",
            lines=ledger.move(ledger.external("test"), account, cents, "USD"),
        )


@pytest.fixture
async def market(client, runtime, make_member, paypal):
    """An operator, a seller with a published 25.00 gig, a buyer with 100.00 of credit."""
    operator, seller, buyer = await make_member(role="operator"), await make_member(), await make_member()
    created = await client.post(
        "/operator/categories", json={"slug": "design", "name": "Design"}, headers=operator.headers
    )
    assert created.status_code == 201, created.text
    gig = await client.post(
        "/listings",
        json={
            "kind": "gig",
            "title": "I will design a minimalist logo",
            "description": "Three concepts, vector files and two rounds of changes.",
            "price": usd("25.00"),
            "category": "design",
            "attributes": {"delivery_days": 3},
        },
        headers=seller.headers,
    )
    assert gig.status_code == 201, gig.text
    await client.post(f"/listings/{gig.json()['id']}/submit", headers=seller.headers)
    approved = await client.post(f"/operator/listings/{gig.json()['id']}/approve", headers=operator.headers)
    assert approved.json()["status"] == "published"
    await fund(runtime, ledger.credit(buyer.id), CREDIT)
    return operator, seller, buyer, gig.json()["id"]


async def place(client, buyer, gig_id) -> int:
    placed = await client.post(f"/gigs/{gig_id}/orders", json={}, headers=buyer.headers)
    assert placed.status_code == 201, placed.text
    return placed.json()["id"]


def pay(client, buyer, order_id: int, method: str, **headers: str):
    return client.post(
        f"/orders/{order_id}/payments", json={"method": method}, headers={**buyer.headers, **headers}
    )


async def settle(client, operator, buyer, paypal, payment: dict) -> httpx.Response:
    """Let a pending payment's money arrive: the operator confirms the transfer, or the
    buyer approves at PayPal and the payment is captured."""
    if payment["method"] == "bank_transfer":
        return await client.post(
            f"/bank-transfer/payments/{payment['id']}/confirm",
            json={"amount": payment["amount"], "reference": "STMT-1"},
            headers=operator.headers,
        )
    assert payment["method"] == "paypal"
    checkout = await client.post(f"/paypal/payments/{payment['id']}/checkout", headers=buyer.headers)
    assert checkout.status_code == 200, checkout.text
    paypal.approve(checkout.json()["order_id"])
    return await client.post(f"/paypal/payments/{payment['id']}/capture", headers=buyer.headers)


async def state_of(client, member, order_id) -> str:
    return (await client.get(f"/orders/{order_id}", headers=member.headers)).json()["state"]


async def escrow_of(order_id: int) -> int:
    return await ledger.balance_of(ledger.escrow(f"order:{order_id}"), "USD")


async def credit_of(member) -> int:
    return await ledger.balance_of(ledger.credit(member.id), "USD")


async def assert_sound(runtime) -> None:
    assert await ledger.check_ledger() == []
    assert await escrow_problem_lines(runtime) == []


async def deliver_and_accept(client, seller, buyer, order_id) -> None:
    delivered = await client.post(
        f"/gigs/orders/{order_id}/delivery", json={"message": "Three concepts."}, headers=seller.headers
    )
    assert delivered.status_code == 200, delivered.text
    accepted = await client.post(f"/gigs/orders/{order_id}/accept", headers=buyer.headers)
    assert accepted.status_code == 200, accepted.text


# --------------------------------------------------------------------------------------
# A second payment is refused while the first is open or completed
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("second", METHODS)
@pytest.mark.parametrize("first", METHODS)
async def test_second_payment_of_an_order_is_refused_and_the_first_funds_it_once(
    client, runtime, market, paypal, problem, first, second
):
    operator, seller, buyer, gig_id = market
    order_id = await place(client, buyer, gig_id)
    started = await pay(client, buyer, order_id, first)
    assert started.status_code == 201, started.text
    payment = started.json()
    assert payment["status"] == (
        "completed" if first == "balance" else "awaiting_funds" if first == "bank_transfer" else "pending"
    )

    body = problem(await pay(client, buyer, order_id, second), 409, "order_already_paid")
    assert body["extra"] == {
        "payment_id": payment["id"],
        "payment_status": payment["status"],
        "method": first,
    }
    if first == "balance":
        assert body["detail"] == f"order {order_id} is already paid, by payment {payment['id']} (balance)"
    else:
        assert body["detail"] == (
            f"order {order_id} is already being paid by payment {payment['id']} ({first}, {payment['status']}); "
            f"cancel that payment (POST /payments/{payment['id']}/cancel) to pay another way"
        )
    assert await Payment.count() == 1  # the refused payment left no row

    if first != "balance":
        assert await state_of(client, buyer, order_id) == "awaiting_payment"
        settled = await settle(client, operator, buyer, paypal, payment)
        assert settled.status_code == 200, settled.text
        assert settled.json()["status"] == "completed"
        # once paid, any further payment is refused as paid
        body = problem(await pay(client, buyer, order_id, second), 409, "order_already_paid")
        assert body["extra"]["payment_status"] == "completed"
    assert await state_of(client, buyer, order_id) == "in_progress"
    assert await escrow_of(order_id) == PRICE
    assert await credit_of(buyer) == CREDIT - (PRICE if first == "balance" else 0)
    await assert_sound(runtime)

    await deliver_and_accept(client, seller, buyer, order_id)
    assert await escrow_of(order_id) == 0
    assert await ledger.balance_of(ledger.available(seller.id), "USD") == 2000
    assert await ledger.balance_of(ledger.PLATFORM_FEES, "USD") == 500
    await assert_sound(runtime)


async def test_cancelling_the_open_payment_lets_the_buyer_pay_another_way(
    client, runtime, market, paypal, problem
):
    operator, _, buyer, gig_id = market
    order_id = await place(client, buyer, gig_id)
    transfer = (await pay(client, buyer, order_id, "bank_transfer")).json()
    problem(await pay(client, buyer, order_id, "balance"), 409, "order_already_paid")
    cancelled = await client.post(f"/payments/{transfer['id']}/cancel", headers=buyer.headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"

    paid = await pay(client, buyer, order_id, "balance")
    assert paid.status_code == 201 and paid.json()["status"] == "completed"
    # The cancelled transfer can no longer be confirmed: its money is not taken twice.
    problem(await settle(client, operator, buyer, paypal, transfer), 409, "conflict")
    assert await escrow_of(order_id) == PRICE
    assert await credit_of(buyer) == CREDIT - PRICE
    await assert_sound(runtime)


async def test_a_payment_that_cannot_pay_the_order_is_refused_whoever_starts_it(client, runtime, market):
    """A plugin calling ``start_payment`` itself meets the same rules as the API."""
    _, _, buyer, gig_id = market
    order_id = await place(client, buyer, gig_id)

    def start(amount: int = PRICE, currency: str = "USD"):
        return payments.start_payment(
            runtime,
            payer_id=buyer.id,
            method="bank_transfer",
            amount=amount,
            currency=currency,
            purpose="escrow",
            escrow_ref=f"order:{order_id}",
        )

    with pytest.raises(
        Conflict, match=rf"order {order_id} costs 25.00 USD; a payment of 24.99 USD cannot pay it"
    ):
        await start(amount=PRICE - 1)
    with pytest.raises(Conflict) as wrong_currency:
        await start(currency="EUR")
    assert str(wrong_currency.value).endswith("a payment of 25.00 EUR cannot pay it")
    assert (await pay(client, buyer, order_id, "balance")).status_code == 201
    with pytest.raises(OrderAlreadyPaid) as paid:
        await start()
    assert str(paid.value).startswith(f"order {order_id} is already paid, by payment")
    assert await Payment.count() == 1
    await assert_sound(runtime)


async def test_an_order_that_is_not_payable_refuses_payments(client, runtime, market, problem):
    _, _, buyer, gig_id = market
    order_id = await place(client, buyer, gig_id)
    dropped = await client.post(f"/orders/{order_id}/transitions/cancel_unpaid", headers=buyer.headers)
    assert dropped.status_code == 200, dropped.text
    for method in METHODS:
        body = problem(await pay(client, buyer, order_id, method), 409, "transition_not_allowed")
        assert body["detail"] == f"order {order_id} is cancelled; it cannot be paid now"
    assert await Payment.count() == 0


# --------------------------------------------------------------------------------------
# Money that arrives for an order that no longer needs it is handed back, exactly
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["bank_transfer", "paypal"])
async def test_payment_arriving_after_the_order_was_cancelled_is_refunded_not_completed(
    client, runtime, market, paypal, method
):
    operator, _, buyer, gig_id = market
    order_id = await place(client, buyer, gig_id)
    payment = (await pay(client, buyer, order_id, method)).json()
    dropped = await client.post(f"/orders/{order_id}/transitions/cancel_unpaid", headers=buyer.headers)
    assert dropped.status_code == 200, dropped.text

    settled = await settle(client, operator, buyer, paypal, payment)
    assert settled.status_code == 200, settled.text
    shown = (await client.get(f"/payments/{payment['id']}", headers=buyer.headers)).json()
    assert shown["status"] == "refunded"
    assert shown["failure_reason"] == f"order {order_id} was already cancelled when the payment arrived"
    assert await escrow_of(order_id) == 0
    assert await credit_of(buyer) == CREDIT + PRICE  # exactly the payment, as site credit
    assert await state_of(client, buyer, order_id) == "cancelled"

    statement = (await client.get("/me/ledger?limit=10", headers=buyer.headers)).json()["items"]
    assert (statement[0]["kind"], statement[0]["amount"]) == ("payment_refunded", usd("25.00"))
    notices = (await client.get("/notifications", headers=buyer.headers)).json()["items"]
    templates = [n["template"] for n in notices]
    assert "payment_refunded" in templates and "payment_settled" not in templates
    await assert_sound(runtime)


async def test_payment_left_from_before_settles_into_a_paid_order_as_an_exact_refund(
    client, runtime, market, paypal, clock
):
    """A second open payment written before one payment per order was enforced (or by a
    plugin around the API) settles later: the order keeps its escrow, the payer gets
    exactly that payment back, and the order still pays the seller."""
    operator, seller, buyer, gig_id = market
    order_id = await place(client, buyer, gig_id)
    assert (await pay(client, buyer, order_id, "balance")).status_code == 201
    [legacy] = await Payment.insert(
        Payment(
            payer_id=buyer.id,
            method="bank_transfer",
            amount=PRICE,
            currency="USD",
            purpose="escrow",
            escrow_ref=f"order:{order_id}",
            status="awaiting_funds",
            reference="PAY-LEGACY0001",
            details={},
            created_at=clock.now(),
            updated_at=clock.now(),
        )
    ).returning(Payment.id)

    confirmed = await client.post(
        f"/bank-transfer/payments/{legacy['id']}/confirm",
        json={"amount": usd("25.00"), "reference": "STMT-9"},
        headers=operator.headers,
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "refunded"
    assert confirmed.json()["failure_reason"] == f"order {order_id} was already paid when the payment arrived"
    assert await escrow_of(order_id) == PRICE
    assert await credit_of(buyer) == CREDIT  # paid once by balance, the transfer handed back
    assert await state_of(client, buyer, order_id) == "in_progress"
    await assert_sound(runtime)

    await deliver_and_accept(client, seller, buyer, order_id)
    assert await ledger.balance_of(ledger.available(seller.id), "USD") == 2000
    await assert_sound(runtime)


async def test_payment_of_the_wrong_amount_written_around_the_check_is_refunded(
    client, runtime, market, clock
):
    """An open payment row for less than the order costs (written before the check, or
    by a plugin's own insert) settles as a refund: the order stays unpaid and its escrow
    never holds a wrong amount."""
    operator, _, buyer, gig_id = market
    order_id = await place(client, buyer, gig_id)
    [short] = await Payment.insert(
        Payment(
            payer_id=buyer.id,
            method="bank_transfer",
            amount=PRICE - 500,
            currency="USD",
            purpose="escrow",
            escrow_ref=f"order:{order_id}",
            status="awaiting_funds",
            reference="PAY-LEGACY0002",
            details={},
            created_at=clock.now(),
            updated_at=clock.now(),
        )
    ).returning(Payment.id)
    confirmed = await client.post(
        f"/bank-transfer/payments/{short['id']}/confirm",
        json={"amount": usd("20.00"), "reference": "STMT-10"},
        headers=operator.headers,
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "refunded"
    assert confirmed.json()["failure_reason"] == f"order {order_id} costs 25.00 USD, not 20.00 USD"
    assert await state_of(client, buyer, order_id) == "awaiting_payment"
    assert await escrow_of(order_id) == 0
    assert await credit_of(buyer) == CREDIT + 2000
    await assert_sound(runtime)
    # the order can still be paid properly
    assert (await pay(client, buyer, order_id, "balance")).status_code == 201
    assert await escrow_of(order_id) == PRICE
    await assert_sound(runtime)


# --------------------------------------------------------------------------------------
# Fifty concurrent payments of one order
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", [*METHODS, "mixed"])
async def test_fifty_concurrent_payments_of_one_order_fund_it_once(client, runtime, market, paypal, method):
    operator, seller, buyer, gig_id = market
    order_id = await place(client, buyer, gig_id)
    methods = [METHODS[i % 3] if method == "mixed" else method for i in range(50)]
    responses = await asyncio.gather(*(pay(client, buyer, order_id, m) for m in methods))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 49, [r.text for r in responses if r.status_code not in (201, 409)]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"order_already_paid"}
    [payment] = [r.json() for r in responses if r.status_code == 201]
    assert await Payment.count() == 1
    if payment["method"] != "balance":
        assert (await settle(client, operator, buyer, paypal, payment)).status_code == 200
    assert await state_of(client, buyer, order_id) == "in_progress"
    assert await escrow_of(order_id) == PRICE
    assert await credit_of(buyer) == CREDIT - (PRICE if payment["method"] == "balance" else 0)
    await assert_sound(runtime)
    await deliver_and_accept(client, seller, buyer, order_id)
    assert await ledger.balance_of(ledger.available(seller.id), "USD") == 2000
    await assert_sound(runtime)


async def test_fifty_concurrent_payments_with_one_idempotency_key_are_one_payment(client, runtime, market):
    _, _, buyer, gig_id = market
    order_id = await place(client, buyer, gig_id)
    responses = await asyncio.gather(
        *(pay(client, buyer, order_id, "balance", **{"Idempotency-Key": "pay-once"}) for _ in range(50))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 49 + [201], [r.text for r in responses if r.status_code not in (200, 201)]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 49
    assert await credit_of(buyer) == CREDIT - PRICE
    await assert_sound(runtime)


# --------------------------------------------------------------------------------------
# The escrow invariant: check-ledger and the worker
# --------------------------------------------------------------------------------------


async def drain(runtime, order_id: int, buyer, cents: int) -> None:
    """Move money out of an order's escrow behind the engine's back (what the bug did)."""
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key=f"drain:{order_id}:{cents}",
            kind="escrow_refunded",
            description="test",
            lines=ledger.move(ledger.escrow(f"order:{order_id}"), ledger.credit(buyer.id), cents, "USD"),
        )


async def test_escrow_invariant_names_each_order_and_its_amounts(client, runtime, market):
    _, _, buyer, gig_id = market
    running, waiting, done = [await place(client, buyer, gig_id) for _ in range(3)]
    for order_id in (running, done):
        assert (await pay(client, buyer, order_id, "balance")).status_code == 201
    await assert_sound(runtime)

    await drain(runtime, running, buyer, PRICE)  # a running order's escrow emptied
    await fund(runtime, ledger.escrow(f"order:{waiting}"), 700)  # money in an unpaid order
    from agorakit.orders.tables import Order

    await Order.update({Order.state: "completed"}).where(Order.id == done)  # final, escrow full
    assert await ledger.check_ledger() == []  # every balance matches its entries...
    assert await escrow_problem_lines(runtime) == [  # ...but the orders' escrows are wrong
        f"order:{running}:escrow USD: order {running} is in_progress and its escrow holds 0.00 USD, "
        "but must hold 25.00 USD",
        f"order:{waiting}:escrow USD: order {waiting} is awaiting_payment and its escrow holds 7.00 USD, "
        "but must hold 0.00 USD",
        f"order:{done}:escrow USD: order {done} is completed and its escrow holds 25.00 USD, "
        "but must hold 0.00 USD",
    ]


async def test_check_ledger_command_exits_non_zero_on_a_drained_escrow(client, runtime, market, tmp_path):
    import anyio.to_thread
    from click.testing import CliRunner

    from agorakit.cli import build_cli

    _, _, buyer, gig_id = market
    order_id = await place(client, buyer, gig_id)
    assert (await pay(client, buyer, order_id, "balance")).status_code == 201
    config = tmp_path / "site.toml"
    config.write_text(
        f'[auth]\njwt_secret = "{"k" * 40}"\n[database]\nurl = "{runtime.settings.database.url}"\n'
        '[site]\nplugins = ["gigs"]\n'
    )
    args = ["--config", str(config), "check-ledger"]

    async def run_cli():
        result = await anyio.to_thread.run_sync(lambda: CliRunner().invoke(build_cli(args), args))
        runtime.db.bind(runtime.apps)  # the CLI's runtime rebound the tables
        return result

    ok = await run_cli()
    assert ok.exit_code == 0, ok.output
    assert "every order's escrow holds what it must" in ok.output
    await drain(runtime, order_id, buyer, 1000)
    bad = await run_cli()
    assert bad.exit_code == 1, bad.output
    assert (
        f"PROBLEM order:{order_id}:escrow USD: order {order_id} is in_progress and its escrow holds "
        "15.00 USD, but must hold 25.00 USD"
    ) in bad.output


async def test_worker_checks_escrows_every_interval_and_logs_each_problem(
    client, runtime, market, clock, caplog
):
    _, _, buyer, gig_id = market
    order_id = await place(client, buyer, gig_id)
    assert (await pay(client, buyer, order_id, "balance")).status_code == 201
    assert (await sweep(runtime)).escrow_problems == []  # checked, sound

    await drain(runtime, order_id, buyer, PRICE)
    problem = (
        f"order:{order_id}:escrow USD: order {order_id} is in_progress and its escrow holds 0.00 USD, "
        "but must hold 25.00 USD"
    )
    clock.advance(timedelta(minutes=59))
    assert (await sweep(runtime)).escrow_problems == []  # not due yet
    clock.advance(timedelta(minutes=1))
    with caplog.at_level(logging.ERROR, logger="agorakit.worker"):
        report = await sweep(runtime)
    assert report.escrow_problems == [problem]
    assert f"escrow check: {problem}" in caplog.text


class DepositCap:
    """A plugin that refuses deposits above 50.00 (a site's own rule)."""

    @agorakit.hookimpl
    def agorakit_payment_starting(self, uow, payer_id, method, amount, currency, purpose, escrow_ref):
        if purpose == "deposit" and amount > 5000:
            raise Forbidden(f"deposits above 50.00 {currency} need a call with our support")


class TestPaymentStartingHook:
    @pytest.fixture
    def extra_plugins(self):
        return [("deposit-cap", DepositCap())]

    async def test_hook_agorakit_payment_starting(self, client, runtime, market, problem):
        _, _, buyer, gig_id = market
        body = {"method": "bank_transfer", "amount": usd("50.01")}
        refused = problem(await client.post("/payments", json=body, headers=buyer.headers), 403, "forbidden")
        assert refused["detail"] == "deposits above 50.00 USD need a call with our support"
        assert await Payment.count() == 0
        body["amount"] = usd("50.00")
        assert (await client.post("/payments", json=body, headers=buyer.headers)).status_code == 201
        # the core's own implementation runs beside it: orders still take one payment
        order_id = await place(client, buyer, gig_id)
        assert (await pay(client, buyer, order_id, "balance")).status_code == 201
        problem(await pay(client, buyer, order_id, "balance"), 409, "order_already_paid")
        assert await Payment.count() == 2


async def test_the_payment_transition_fires_only_when_a_payment_settles(client, runtime, market, problem):
    """Fired by anyone or anything else, ``paid`` would start an order with an empty escrow."""
    operator, _, buyer, gig_id = market
    order_id = await place(client, buyer, gig_id)
    expected = f"paid happens when the order's payment settles; pay it with POST /orders/{order_id}/payments"
    for who in (buyer, operator):
        body = problem(
            await client.post(f"/orders/{order_id}/transitions/paid", headers=who.headers),
            409,
            "transition_not_allowed",
        )
        assert body["detail"] == expected
    with pytest.raises(orders_api.TransitionNotAllowed) as refused:
        await orders_api.fire(runtime, order_id, "paid", caller=None)  # a plugin's code, as system
    assert str(refused.value) == expected
    assert await state_of(client, buyer, order_id) == "awaiting_payment"
    assert (await pay(client, buyer, order_id, "balance")).status_code == 201
    assert await state_of(client, buyer, order_id) == "in_progress"
    await assert_sound(runtime)
