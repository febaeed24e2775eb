"""PayPal Checkout (Orders v2) against the local PayPal stand-in, on SQLite and PostgreSQL.

A PayPal payment starts pending; the buyer gets the PayPal order and its approval link,
approves at PayPal, and the payment is captured and settled exactly once — by the capture
route, a webhook or the worker, whichever comes first.  Traffic is checked against
PayPal's published OpenAPI files when they are present (``AGORAKIT_PAYPAL_SPEC_DIR``).
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

import agorakit
from agorakit.errors import Conflict
from agorakit.money import ledger
from agorakit.money.tables import Payment
from agorakit.plugins.payments_paypal.tables import PayPalOrder
from agorakit.plugins.paypal.client import client_for, use_transport
from agorakit.plugins.paypal.testing import FakePayPal, PayPalContract, send, spec_dir_problem
from agorakit.testing import deep_merge
from agorakit.worker import sweep

REPO = Path(__file__).resolve().parents[1]
SPEC_DIR = Path(os.environ.get("AGORAKIT_PAYPAL_SPEC_DIR") or REPO / ".." / "shared" / "paypal-openapi")
WEBHOOK_ID = "8PT597110X687430LKGECATA"
ENABLED = {
    "site": {"plugins": ["paypal", "payments_paypal"]},
    "money": {"payment_methods": ["balance", "paypal"]},
    "plugins": {
        "paypal": {
            "client_id": "test-client-id",
            "client_secret": "test-client-secret",
            "webhook_id": WEBHOOK_ID,
        }
    },
}


@pytest.fixture
def site_config():
    return ENABLED


@pytest.fixture
def contract():
    return None if spec_dir_problem(SPEC_DIR) else PayPalContract(SPEC_DIR)


@pytest.fixture
def paypal(runtime, clock, contract):
    fake = FakePayPal(clock=clock, contract=contract, webhook_id=WEBHOOK_ID)

    async def no_sleep(seconds: float) -> None:
        pass

    use_transport(runtime, fake.transport(), sleep=no_sleep)
    yield fake
    if contract is not None:
        assert contract.violations == []


def usd(amount: str) -> dict:
    return {"amount": amount, "currency": "USD"}


async def start_deposit(client, member, amount="25.00"):
    response = await client.post(
        "/payments", json={"method": "paypal", "amount": usd(amount)}, headers=member.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def checkout(client, member, payment_id):
    return await client.post(f"/paypal/payments/{payment_id}/checkout", headers=member.headers)


async def capture(client, member, payment_id):
    return await client.post(f"/paypal/payments/{payment_id}/capture", headers=member.headers)


async def approved_deposit(client, member, paypal, amount="25.00"):
    payment = await start_deposit(client, member, amount)
    order = (await checkout(client, member, payment["id"])).json()
    paypal.approve(order["order_id"])
    return payment, order


async def payment_row(payment_id: int) -> dict:
    return await Payment.select().where(Payment.id == payment_id).first().output(load_json=True)


# --------------------------------------------------------------------------------------
# The happy path
# --------------------------------------------------------------------------------------


async def test_deposit_checkout_approve_and_capture_settles_once(
    client, runtime, make_member, paypal, problem
):
    member = await make_member()
    payment = await start_deposit(client, member)
    assert payment["status"] == "pending" and payment["method"] == "paypal"
    assert payment["details"]["checkout"] == f"/paypal/payments/{payment['id']}/checkout"
    assert payment["expires_at"] is not None
    assert paypal.requests == []  # nothing is sent to PayPal inside the payment's transaction

    response = await checkout(client, member, payment["id"])
    assert response.status_code == 200, response.text
    order = response.json()
    assert order["status"] == "CREATED"
    assert order["approve_url"] == f"https://www.sandbox.paypal.com/checkoutnow?token={order['order_id']}"
    (created,) = paypal.calls("POST", "/v2/checkout/orders")
    assert created.headers["paypal-request-id"] == f"agorakit-{payment['id']}-{payment['reference']}-create"
    body = json.loads(created.content)
    assert body["intent"] == "CAPTURE"
    assert body["purchase_units"][0]["amount"] == {"currency_code": "USD", "value": "25.00"}
    again = (await checkout(client, member, payment["id"])).json()
    assert again == order and len(paypal.calls("POST", "/v2/checkout/orders")) == 1
    shown = (await client.get(f"/payments/{payment['id']}", headers=member.headers)).json()
    assert shown["details"]["approve_url"] == order["approve_url"]
    assert shown["details"]["paypal_order_id"] == order["order_id"]

    body = problem(await capture(client, member, payment["id"]), 422, "paypal_order_not_approved")
    assert body["extra"]["approve_url"] == order["approve_url"] and body["extra"]["debug_id"]
    assert (await payment_row(payment["id"]))["status"] == "pending"

    paypal.approve(order["order_id"])
    response = await capture(client, member, payment["id"])
    assert response.status_code == 200, response.text
    settled = response.json()
    assert settled["status"] == "completed"
    assert settled["details"]["paypal_capture_id"] in paypal.captures
    assert await ledger.balance_of(ledger.credit(member.id), "USD") == 2500
    assert await ledger.balance_of(ledger.external("paypal"), "USD") == -2500

    # Capturing again, a webhook, the worker: nothing moves twice.
    assert (await capture(client, member, payment["id"])).json()["status"] == "completed"
    (capture_id,) = paypal.captures
    hook = await paypal.deliver(client, "PAYMENT.CAPTURE.COMPLETED", paypal.capture_resource(capture_id))
    assert hook.status_code == 200 and hook.json()["result"] == f"payment {payment['id']} completed"
    await sweep(runtime)
    # Two capture calls in all: the one refused before approval, the one that captured.
    assert len(paypal.calls("POST", f"/v2/checkout/orders/{order['order_id']}/capture")) == 2
    assert await ledger.balance_of(ledger.credit(member.id), "USD") == 2500
    assert await ledger.check_ledger() == []


async def test_strangers_and_other_methods_are_refused(client, runtime, make_member, paypal, problem):
    member, stranger = await make_member(), await make_member()
    payment = await start_deposit(client, member)
    problem(await checkout(client, stranger, payment["id"]), 404, "not_found")
    problem(await capture(client, stranger, payment["id"]), 404, "not_found")
    problem(await capture(client, member, payment["id"]), 409, "conflict")  # no order yet
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key="fund",
            kind="test_funding",
            description="t",
            lines=ledger.move(ledger.external("test"), ledger.available(member.id), 5000, "USD"),
        )
    cancelled = await client.post(f"/payments/{payment['id']}/cancel", headers=member.headers)
    assert cancelled.json()["status"] == "cancelled"
    problem(await checkout(client, member, payment["id"]), 409, "conflict")
    assert paypal.requests == []


async def test_declined_funding_source_asks_the_buyer_to_approve_again(client, make_member, paypal, problem):
    member = await make_member()
    payment, order = await approved_deposit(client, member, paypal)
    paypal.decline_next_capture(order["order_id"])
    body = problem(await capture(client, member, payment["id"]), 422, "paypal_instrument_declined")
    assert body["extra"]["approve_url"] == order["approve_url"]
    assert "another card or account" in body["detail"]
    assert (await payment_row(payment["id"]))["status"] == "pending"
    paypal.approve(order["order_id"])  # the buyer picks another funding source
    assert (await capture(client, member, payment["id"])).json()["status"] == "completed"
    assert await ledger.balance_of(ledger.credit(member.id), "USD") == 2500


async def test_already_captured_order_is_looked_up_and_settled_once(client, runtime, make_member, paypal):
    member = await make_member()
    payment, order = await approved_deposit(client, member, paypal)
    # The capture went through at PayPal but its answer was lost, and PayPal no longer
    # replays the PayPal-Request-Id: it answers ORDER_ALREADY_CAPTURED.
    paypal.fail_next("POST", r"/capture$", exception=httpx.ReadTimeout, after=True, times=4)
    response = await capture(client, member, payment["id"])
    assert response.status_code == 503, response.text
    assert (await payment_row(payment["id"]))["status"] == "pending"
    paypal._request_ids.clear()
    response = await capture(client, member, payment["id"])
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "completed"
    assert len(paypal.captures) == 1
    assert paypal.calls("GET", f"/v2/checkout/orders/{order['order_id']}")
    assert await ledger.balance_of(ledger.credit(member.id), "USD") == 2500
    assert await ledger.check_ledger() == []


async def test_lost_capture_answer_is_replayed_by_paypal_request_id(client, make_member, paypal):
    member = await make_member()
    payment, _ = await approved_deposit(client, member, paypal)
    paypal.fail_next("POST", r"/capture$", exception=httpx.ReadTimeout, after=True)
    response = await capture(client, member, payment["id"])  # the client's retry is replayed
    assert response.json()["status"] == "completed"
    captures = paypal.calls("POST", "/v2/checkout/orders/")
    assert len({r.headers["paypal-request-id"] for r in captures if r.url.path.endswith("/capture")}) == 1
    assert len(paypal.captures) == 1
    assert await ledger.balance_of(ledger.credit(member.id), "USD") == 2500


# --------------------------------------------------------------------------------------
# Webhooks, pending captures and the worker
# --------------------------------------------------------------------------------------


async def test_order_approved_webhook_captures_and_settles(client, runtime, make_member, paypal):
    member = await make_member()
    payment, order = await approved_deposit(client, member, paypal)
    response = await paypal.deliver(
        client, "CHECKOUT.ORDER.APPROVED", paypal.order_resource(order["order_id"])
    )
    assert response.status_code == 200, response.text
    assert response.json() | {"event_id": None} == {
        "event_id": None,
        "event_type": "CHECKOUT.ORDER.APPROVED",
        "status": "processed",
        "result": f"payment {payment['id']} completed",
    }
    assert (await payment_row(payment["id"]))["status"] == "completed"
    assert (await capture(client, member, payment["id"])).json()["status"] == "completed"
    assert await ledger.balance_of(ledger.credit(member.id), "USD") == 2500
    assert len(paypal.captures) == 1


async def test_pending_capture_funds_nothing_until_paypal_completes_it(
    client, runtime, make_member, paypal, clock
):
    member = await make_member()
    payment, order = await approved_deposit(client, member, paypal)
    paypal.pend_next_capture(order["order_id"])
    response = await capture(client, member, payment["id"])
    assert response.status_code == 200, response.text
    pending = response.json()
    assert pending["status"] == "pending" and pending["expires_at"] is None
    assert pending["details"]["paypal_capture_status"] == "PENDING"
    assert pending["details"]["paypal_pending_reason"] == "PENDING_REVIEW"
    assert await ledger.balance_of(ledger.credit(member.id), "USD") == 0

    clock.advance(timedelta(hours=5))  # past approval_hours: a pending capture does not expire
    await sweep(runtime)
    assert (await payment_row(payment["id"]))["status"] == "pending"
    (capture_id,) = paypal.captures
    paypal.complete_capture(capture_id)
    hook = await paypal.deliver(client, "PAYMENT.CAPTURE.COMPLETED", paypal.capture_resource(capture_id))
    assert hook.json()["result"] == f"payment {payment['id']} completed"
    assert await ledger.balance_of(ledger.credit(member.id), "USD") == 2500
    assert await ledger.check_ledger() == []


async def test_pending_capture_declined_later_fails_the_payment(client, runtime, make_member, paypal, clock):
    member = await make_member()
    payment, order = await approved_deposit(client, member, paypal)
    paypal.pend_next_capture(order["order_id"])
    await capture(client, member, payment["id"])
    (capture_id,) = paypal.captures
    paypal.complete_capture(capture_id, "DECLINED")
    clock.advance(timedelta(minutes=11))
    await sweep(runtime)  # the worker finds it (no webhook came)
    row = await payment_row(payment["id"])
    assert row["status"] == "failed" and "declined" in row["failure_reason"]
    assert await ledger.balance_of(ledger.credit(member.id), "USD") == 0


async def test_worker_captures_an_approved_order_whose_webhook_never_came(
    client, runtime, make_member, paypal, clock
):
    member = await make_member()
    payment, _ = await approved_deposit(client, member, paypal)
    await sweep(runtime)
    assert (await payment_row(payment["id"]))["status"] == "pending"  # not due yet
    clock.advance(timedelta(minutes=11))
    report = await sweep(runtime)
    assert report.method_syncs == {"payment:paypal": {"settled": [payment["id"]], "errors": []}}
    assert (await payment_row(payment["id"]))["status"] == "completed"
    assert await ledger.balance_of(ledger.credit(member.id), "USD") == 2500


async def test_capture_after_the_payment_expired_becomes_credit(client, runtime, make_member, paypal, clock):
    member = await make_member()
    payment, order = await approved_deposit(client, member, paypal)
    clock.advance(timedelta(hours=4))
    await sweep(runtime)
    assert (await payment_row(payment["id"]))["status"] == "expired"
    # The buyer's approval was captured anyway (e.g. by a stale client): the money is not lost.
    captured = await client_for(runtime).capture_order(order["order_id"], request_id="late-capture-1")
    capture_id = captured["purchase_units"][0]["payments"]["captures"][0]["id"]
    for _ in range(2):
        await paypal.deliver(client, "PAYMENT.CAPTURE.COMPLETED", paypal.capture_resource(capture_id))
    assert (await payment_row(payment["id"]))["status"] == "expired"
    assert await ledger.balance_of(ledger.credit(member.id), "USD") == 2500
    assert await ledger.check_ledger() == []


async def test_unknown_order_events_are_ignored(client, make_member, paypal):
    response = await paypal.deliver(
        client, "CHECKOUT.ORDER.APPROVED", {"id": "5O190127TN364715T", "status": "APPROVED"}
    )
    assert response.json()["status"] == "ignored"


class TestNotConfigured:
    @pytest.fixture
    def site_config(self):
        return {
            "site": {"plugins": ["paypal", "payments_paypal"]},
            "money": {"payment_methods": ["balance", "paypal"]},
        }

    async def test_paypal_payment_is_503_until_configured(self, client, make_member, problem):
        reason = "PayPal payments are not available yet: the site has not set up its PayPal account"
        assert (await client.get("/payment-methods")).json() == [
            {"name": "balance", "label": "Your balance", "available": True, "unavailable_reason": None},
            {"name": "paypal", "label": "PayPal", "available": False, "unavailable_reason": reason},
        ]
        member = await make_member()
        response = await client.post(
            "/payments", json={"method": "paypal", "amount": usd("5.00")}, headers=member.headers
        )
        body = problem(response, 503, "service_unavailable")
        assert (body["detail"], body["extra"]) == (reason, {"method": "paypal"})
        assert await Payment.count() == 0


# --------------------------------------------------------------------------------------
# Paying a gig order with PayPal funds its escrow and starts the order
# --------------------------------------------------------------------------------------


class TestGigOrder:
    @pytest.fixture
    def site_config(self, tmp_path):
        return deep_merge(
            ENABLED,
            {
                "site": {"plugins": ["gigs", "paypal", "payments_paypal"]},
                "attachments": {"path": str(tmp_path)},
            },
        )

    async def test_paypal_pays_a_gig_order_into_escrow(self, client, runtime, make_member, paypal):
        operator, seller, buyer = await make_member(role="operator"), await make_member(), await make_member()
        for slug, name in [("design", "Design")]:
            await client.post(
                "/operator/categories", json={"slug": slug, "name": name}, headers=operator.headers
            )
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
        gig_id = gig.json()["id"]
        await client.post(f"/listings/{gig_id}/submit", headers=seller.headers)
        await client.post(f"/operator/listings/{gig_id}/approve", headers=operator.headers)
        placed = await client.post(f"/gigs/{gig_id}/orders", json={}, headers=buyer.headers)
        assert placed.status_code == 201, placed.text
        order_id = placed.json()["id"]
        paid = await client.post(
            f"/orders/{order_id}/payments", json={"method": "paypal"}, headers=buyer.headers
        )
        assert paid.status_code == 201, paid.text
        payment = paid.json()
        assert payment["status"] == "pending" and payment["escrow_ref"] == f"order:{order_id}"
        paypal_order = (await checkout(client, buyer, payment["id"])).json()
        paypal.approve(paypal_order["order_id"])
        assert (await capture(client, buyer, payment["id"])).json()["status"] == "completed"
        state = (await client.get(f"/orders/{order_id}", headers=buyer.headers)).json()["state"]
        assert state == "in_progress"
        assert await ledger.balance_of(ledger.escrow(f"order:{order_id}"), "USD") == 2500
        assert await ledger.balance_of(ledger.external("paypal"), "USD") == -2500
        assert await ledger.check_ledger() == []


# --------------------------------------------------------------------------------------
# Concurrency
# --------------------------------------------------------------------------------------


@pytest.mark.postgres_only("concurrent settlement needs PostgreSQL")
async def test_concurrent_deliveries_and_capture_settle_once(client, runtime, make_member, paypal):
    member = await make_member()
    payment, order = await approved_deposit(client, member, paypal)
    approved = paypal.delivery("CHECKOUT.ORDER.APPROVED", paypal.order_resource(order["order_id"]))
    results = await asyncio.gather(
        send(client, approved),
        send(client, approved),
        capture(client, member, payment["id"]),
        return_exceptions=True,
    )
    assert all(isinstance(r, httpx.Response) and r.status_code == 200 for r in results), results
    (capture_id,) = paypal.captures
    completed = paypal.delivery("PAYMENT.CAPTURE.COMPLETED", paypal.capture_resource(capture_id))
    await asyncio.gather(send(client, completed), send(client, completed))
    assert (await payment_row(payment["id"]))["status"] == "completed"
    assert await ledger.balance_of(ledger.credit(member.id), "USD") == 2500
    assert await ledger.balance_of(ledger.external("paypal"), "USD") == -2500
    assert await PayPalOrder.count() == 1
    assert await ledger.check_ledger() == []


class RefusesFirstSettlement:
    """What a payment pays for refuses it once (e.g. the order changed meanwhile)."""

    def __init__(self) -> None:
        self.refused = 0

    @agorakit.hookimpl
    def agorakit_payment_settled(self, uow, payment):
        if not self.refused:
            self.refused += 1
            raise Conflict("the order changed meanwhile; try again")


class TestSettlementRefusedOnce:
    @pytest.fixture
    def extra_plugins(self):
        return [("refuses", RefusesFirstSettlement())]

    async def test_the_payment_stays_open_without_credit_and_settles_on_the_next_try(
        self, client, runtime, make_member, paypal, clock
    ):
        member = await make_member()
        payment, _order = await approved_deposit(client, member, paypal)
        refused = await capture(client, member, payment["id"])
        assert refused.status_code == 409, refused.text
        assert (await payment_row(payment["id"]))["status"] == "pending"
        assert await ledger.balance_of(ledger.credit(member.id), "USD") == 0
        assert await ledger.balance_of(ledger.external("paypal"), "USD") == 0
        clock.advance(timedelta(minutes=11))  # the worker's next check with PayPal
        report = await sweep(runtime)
        assert report.method_syncs == {"payment:paypal": {"settled": [payment["id"]], "errors": []}}
        assert (await payment_row(payment["id"]))["status"] == "completed"
        assert await ledger.balance_of(ledger.credit(member.id), "USD") == 2500
        assert await ledger.balance_of(ledger.external("paypal"), "USD") == -2500
        assert await ledger.check_ledger() == []
