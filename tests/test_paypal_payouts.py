"""PayPal payouts against the local PayPal stand-in, on SQLite and PostgreSQL.

Members withdraw to a PayPal email; the worker sweep batches the requested withdrawals,
sends each batch once (``sender_batch_id``), follows it, and maps every PayPal item
status to the ledger: SUCCESS completes (clearing → external:paypal, fee → platform:fees),
the failure statuses give the whole amount back, the waiting ones keep it processing.
Every request the plugin sends and every answer of the stand-in is checked against
PayPal's published OpenAPI files when they are present (``AGORAKIT_PAYPAL_SPEC_DIR``).
"""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from agorakit.events.tables import StoredEvent
from agorakit.money import ledger
from agorakit.money.tables import Withdrawal
from agorakit.plugins.payouts_paypal import service
from agorakit.plugins.payouts_paypal.events import (
    PayPalPayoutBatchCreated,
    PayPalPayoutBatchSubmitted,
    PayPalPayoutItemUpdated,
)
from agorakit.plugins.payouts_paypal.tables import PayPalPayoutBatch, PayPalPayoutItem
from agorakit.plugins.paypal.client import use_transport
from agorakit.plugins.paypal.testing import FakePayPal, PayPalContract, spec_dir_problem
from agorakit.runtime import Runtime
from agorakit.settings import ConfigError, settings_from_dict
from agorakit.testing import TEST_DEFAULTS, deep_merge
from agorakit.worker import sweep

REPO = Path(__file__).resolve().parents[1]
SPEC_DIR = Path(os.environ.get("AGORAKIT_PAYPAL_SPEC_DIR") or REPO / ".." / "shared" / "paypal-openapi")
WEBHOOK_ID = "8PT597110X687430LKGECATA"
PAYPAL = {
    "client_id": "test-client-id",
    "client_secret": "test-client-secret",
    "webhook_id": WEBHOOK_ID,
}
ENABLED = {
    "site": {"plugins": ["paypal", "payouts_paypal"]},
    "money": {"payout_methods": ["paypal"]},
    "plugins": {"paypal": PAYPAL},
}


@pytest.fixture
def site_config():
    return ENABLED


@pytest.fixture
def contract():
    """PayPal's published contract, or None (the functional tests run without it)."""
    return None if spec_dir_problem(SPEC_DIR) else PayPalContract(SPEC_DIR)


@pytest.fixture
def paypal(runtime, clock, contract):
    fake = FakePayPal(clock=clock, contract=contract, webhook_id=WEBHOOK_ID)
    fake.sleeps = []

    async def no_sleep(seconds: float) -> None:
        fake.sleeps.append(seconds)

    use_transport(runtime, fake.transport(), sleep=no_sleep)
    yield fake
    if contract is not None:
        assert contract.violations == []


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def usd(amount: str) -> dict:
    return {"amount": amount, "currency": "USD"}


async def fund(runtime, member_id: int, cents: int) -> None:
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key=f"test-funding:{member_id}:{cents}",
            kind="test_funding",
            description="Test funding",
            lines=ledger.move(ledger.external("test"), ledger.available(member_id), cents, "USD"),
        )


async def withdraw(client, member, amount: str, email: str = "seller@example.com", **headers):
    return await client.post(
        "/withdrawals",
        json={"method": "paypal", "amount": usd(amount), "destination": {"email": email}},
        headers={**member.headers, **headers},
    )


async def seller_with_withdrawal(client, runtime, make_member, *, balance=5000, amount="20.00", email=None):
    member = await make_member()
    await fund(runtime, member.id, balance)
    response = await withdraw(client, member, amount, email or f"m{member.id}@example.com")
    assert response.status_code == 201, response.text
    return member, response.json()


async def status_of(withdrawal_id: int) -> str:
    row = await Withdrawal.select(Withdrawal.status).where(Withdrawal.id == withdrawal_id).first()
    return row["status"]


async def balances(member_id: int) -> dict[str, int]:
    return {
        "available": await ledger.balance_of(ledger.available(member_id), "USD"),
        "clearing": await ledger.balance_of(ledger.clearing("paypal"), "USD"),
        "external": await ledger.balance_of(ledger.external("paypal"), "USD"),
        "fees": await ledger.balance_of(ledger.PLATFORM_FEES, "USD"),
    }


async def next_sync(runtime, clock) -> None:
    """Let the sync interval pass and run one sweep."""
    clock.advance(timedelta(minutes=11))
    await sweep(runtime)


# --------------------------------------------------------------------------------------
# The method
# --------------------------------------------------------------------------------------


async def test_payout_method_offers_paypal_from_15_dollars(client, runtime):
    response = await client.get("/payout-methods")
    assert response.json() == [
        {
            "name": "paypal",
            "label": "PayPal",
            "minimums": [usd("15.00")],  # the seed: "PayPal from $15"
            "fee": "no fee",
            "destination_fields": ["email"],
            "available": True,
            "unavailable_reason": None,
        }
    ]
    assert runtime.payout_methods["paypal"].manual is False


async def test_withdrawal_below_minimum_or_to_a_bad_email_is_refused(client, runtime, make_member, problem):
    member = await make_member()
    await fund(runtime, member.id, 5000)
    body = problem(await withdraw(client, member, "14.99"), 422, "below_minimum", fields={"amount.amount"})
    assert "15.00 USD" in body["detail"]
    response = await client.post(
        "/withdrawals",
        json={
            "method": "paypal",
            "amount": usd("20.00"),
            "destination": {"email": "not-an-email", "iban": "x"},
        },
        headers=member.headers,
    )
    problem(response, 422, "validation_error", fields={"destination.email", "destination.iban"})
    assert await Withdrawal.count() == 0
    assert await ledger.balance_of(ledger.available(member.id), "USD") == 5000


async def test_withdrawal_email_is_normalised(client, runtime, make_member):
    member = await make_member()
    await fund(runtime, member.id, 5000)
    response = await withdraw(client, member, "15.00", "  Ada.Lovelace@EXAMPLE.com ")
    assert response.status_code == 201, response.text
    assert response.json()["destination"] == {"email": "Ada.Lovelace@example.com"}


def test_payout_plugin_without_paypal_plugin_stops_startup():
    data = deep_merge(
        TEST_DEFAULTS,
        {"site": {"plugins": ["payouts_paypal"]}, "money": {"payout_methods": ["paypal"]}},
    )
    settings = settings_from_dict(data, source="site.toml", environ={})
    with pytest.raises(ConfigError) as info:
        Runtime(settings)
    assert str(info.value).startswith("site.toml: the PayPal methods need the 'paypal' plugin")


def test_payout_fee_not_below_minimum_stops_startup():
    data = deep_merge(
        TEST_DEFAULTS,
        {
            "site": {"plugins": ["paypal", "payouts_paypal"]},
            "plugins": {"payouts_paypal": {"payout_fee": "15.00"}},
        },
    )
    with pytest.raises(ConfigError, match=r"payout_fee \(15.00\) must be below payout_minimum"):
        settings_from_dict(data, source="site.toml", environ={})


class TestNotConfigured:
    """PayPal enabled with empty credentials (the demo): the site starts, PayPal says 503."""

    @pytest.fixture
    def site_config(self):
        return {"site": {"plugins": ["paypal", "payouts_paypal"]}, "money": {"payout_methods": ["paypal"]}}

    async def test_withdrawal_is_refused_until_paypal_is_configured(
        self, client, runtime, make_member, problem
    ):
        reason = "PayPal payouts are not available yet: the site has not set up its PayPal account"
        (listed,) = (await client.get("/payout-methods")).json()
        assert (listed["name"], listed["available"], listed["unavailable_reason"]) == (
            "paypal",
            False,
            reason,
        )
        member = await make_member()
        await fund(runtime, member.id, 5000)
        body = problem(await withdraw(client, member, "20.00"), 503, "service_unavailable")
        assert (body["detail"], body["extra"]) == (reason, {"method": "paypal"})
        # refused before the minimum is checked: the reason, not "below the minimum"
        below = problem(await withdraw(client, member, "1.00"), 503, "service_unavailable")
        assert below["detail"] == reason
        assert await ledger.balance_of(ledger.available(member.id), "USD") == 5000
        report = await sweep(runtime)
        assert report.method_syncs == {}
        assert await Withdrawal.count() == 0


# --------------------------------------------------------------------------------------
# The happy path and every status
# --------------------------------------------------------------------------------------


async def test_worker_sends_a_batch_and_success_completes_the_withdrawal(
    client, runtime, make_member, paypal, clock
):
    member, withdrawal = await seller_with_withdrawal(client, runtime, make_member, email="ada@example.com")
    assert withdrawal["status"] == "requested"

    report = await sweep(runtime)
    (batch,) = await PayPalPayoutBatch.select()
    assert report.method_syncs["payout:paypal"]["batched"] == [batch["id"]]
    assert report.method_syncs["payout:paypal"]["submitted"] == [batch["id"]]
    assert batch["status"] == "submitted" and batch["paypal_batch_id"] in paypal.batches
    assert batch["sender_batch_id"].startswith(f"agorakit-{batch['id']}-")
    (sent,) = paypal.calls("POST", "/v1/payments/payouts")
    body = __import__("json").loads(sent.content)
    assert body["sender_batch_header"]["sender_batch_id"] == batch["sender_batch_id"]
    assert body["items"] == [
        {
            "recipient_type": "EMAIL",
            "amount": {"value": "20.00", "currency": "USD"},
            "receiver": "ada@example.com",
            "sender_item_id": f"WD-{withdrawal['id']}",
            "note": f"Withdrawal {withdrawal['id']} from test market",
        }
    ]
    assert await status_of(withdrawal["id"]) == "processing"
    mine = (await client.get(f"/withdrawals/{withdrawal['id']}", headers=member.headers)).json()
    assert mine["batch_ref"] == batch["sender_batch_id"]

    paypal.set_item_status(f"WD-{withdrawal['id']}", "SUCCESS")
    await next_sync(runtime, clock)
    assert await status_of(withdrawal["id"]) == "completed"
    item = await PayPalPayoutItem.select().first()
    assert item["status"] == "SUCCESS" and item["outcome"] == "completed"
    done = await PayPalPayoutBatch.select().first()
    assert done["status"] == "done" and done["paypal_status"] == "SUCCESS"
    mine = (await client.get(f"/withdrawals/{withdrawal['id']}", headers=member.headers)).json()
    assert mine["provider_ref"] == item["paypal_item_id"]
    assert await balances(member.id) == {"available": 3000, "clearing": 0, "external": 2000, "fees": 0}
    assert await ledger.check_ledger() == []

    # Nothing more to do: no further calls to PayPal's payouts.
    before = len(paypal.requests)
    await next_sync(runtime, clock)
    assert len(paypal.requests) == before


async def test_batch_and_item_events_are_typed(client, runtime, make_member, paypal, clock):
    _, withdrawal = await seller_with_withdrawal(client, runtime, make_member, amount="20.00")
    await sweep(runtime)
    (batch,) = await PayPalPayoutBatch.select()
    item_id = paypal.set_item_status(f"WD-{withdrawal['id']}", "SUCCESS")
    await next_sync(runtime, clock)
    stored = await (
        StoredEvent.select()
        .where(StoredEvent.name.like("paypal_payout.%"))
        .order_by(StoredEvent.id)
        .output(load_json=True)
    )
    typed = [(row["subject"], runtime.event_types.payload(row["name"], row["data"])) for row in stored]
    assert typed == [
        (
            f"paypal_payout_batch:{batch['id']}",
            PayPalPayoutBatchCreated(
                batch_id=batch["id"],
                sender_batch_id=batch["sender_batch_id"],
                currency="USD",
                count=1,
                total=2000,
            ),
        ),
        (
            f"paypal_payout_batch:{batch['id']}",
            PayPalPayoutBatchSubmitted(
                batch_id=batch["id"],
                sender_batch_id=batch["sender_batch_id"],
                paypal_batch_id=batch["paypal_batch_id"],
            ),
        ),
        (
            f"withdrawal:{withdrawal['id']}",
            PayPalPayoutItemUpdated(
                withdrawal_id=withdrawal["id"], status="PENDING", paypal_item_id=item_id, outcome=None
            ),
        ),
        (
            f"withdrawal:{withdrawal['id']}",
            PayPalPayoutItemUpdated(
                withdrawal_id=withdrawal["id"], status="SUCCESS", paypal_item_id=item_id, outcome="completed"
            ),
        ),
    ]


class TestWithFee:
    @pytest.fixture
    def site_config(self):
        return deep_merge(ENABLED, {"plugins": {"payouts_paypal": {"payout_fee": "1.25"}}})

    async def test_fee_is_kept_and_paypal_pays_the_net(self, client, runtime, make_member, paypal, clock):
        member, withdrawal = await seller_with_withdrawal(client, runtime, make_member, amount="20.00")
        assert (withdrawal["fee"], withdrawal["net"]) == (usd("1.25"), usd("18.75"))
        await sweep(runtime)
        item_id = paypal.set_item_status(f"WD-{withdrawal['id']}", "SUCCESS")
        assert paypal.items[item_id]["payout_item"]["amount"] == {"value": "18.75", "currency": "USD"}
        await next_sync(runtime, clock)
        assert await balances(member.id) == {"available": 3000, "clearing": 0, "external": 1875, "fees": 125}
        assert await ledger.check_ledger() == []


@pytest.mark.parametrize("status", ["FAILED", "RETURNED", "REFUNDED", "REVERSED", "BLOCKED"])
async def test_failed_statuses_give_the_money_back(client, runtime, make_member, paypal, clock, status):
    member, withdrawal = await seller_with_withdrawal(client, runtime, make_member)
    await sweep(runtime)
    paypal.set_item_status(f"WD-{withdrawal['id']}", status, error="RECEIVER_UNREGISTERED")
    await next_sync(runtime, clock)
    row = await Withdrawal.select().where(Withdrawal.id == withdrawal["id"]).first()
    assert row["status"] == "failed"
    assert row["failure_reason"].startswith(f"PayPal reported the payout {status}: RECEIVER_UNREGISTERED")
    assert await balances(member.id) == {"available": 5000, "clearing": 0, "external": 0, "fees": 0}
    assert await ledger.check_ledger() == []


@pytest.mark.parametrize("status", ["PENDING", "ONHOLD", "UNCLAIMED"])
async def test_waiting_statuses_keep_it_processing(client, runtime, make_member, paypal, clock, status):
    member, withdrawal = await seller_with_withdrawal(client, runtime, make_member)
    await sweep(runtime)
    paypal.set_item_status(f"WD-{withdrawal['id']}", status)
    await next_sync(runtime, clock)
    assert await status_of(withdrawal["id"]) == "processing"
    item = await PayPalPayoutItem.select().first()
    assert item["status"] == status and item["outcome"] is None
    assert (await PayPalPayoutBatch.select().first())["status"] == "submitted"
    assert await balances(member.id) == {"available": 3000, "clearing": 2000, "external": 0, "fees": 0}


async def test_unclaimed_then_returned_after_30_days_fails(client, runtime, make_member, paypal, clock):
    member, withdrawal = await seller_with_withdrawal(client, runtime, make_member)
    await sweep(runtime)
    paypal.set_item_status(f"WD-{withdrawal['id']}", "UNCLAIMED")
    await next_sync(runtime, clock)
    assert await status_of(withdrawal["id"]) == "processing"
    clock.advance(timedelta(days=30))
    paypal.set_item_status(f"WD-{withdrawal['id']}", "RETURNED")
    await next_sync(runtime, clock)
    assert await status_of(withdrawal["id"]) == "failed"
    assert await balances(member.id) == {"available": 5000, "clearing": 0, "external": 0, "fees": 0}


async def test_partial_batch_failure_settles_each_item_in_exact_cents(
    client, runtime, make_member, paypal, clock
):
    ann, w1 = await seller_with_withdrawal(client, runtime, make_member, balance=10001, amount="15.01")
    bob, w2 = await seller_with_withdrawal(client, runtime, make_member, balance=9999, amount="99.99")
    cat, w3 = await seller_with_withdrawal(client, runtime, make_member, balance=5000, amount="42.42")
    await sweep(runtime)
    (batch,) = await PayPalPayoutBatch.select()
    assert (batch["item_count"], batch["total"]) == (3, 1501 + 9999 + 4242)
    paypal.set_item_status(f"WD-{w1['id']}", "SUCCESS")
    paypal.set_item_status(f"WD-{w2['id']}", "FAILED", error="RECEIVER_ACCOUNT_LOCKED")
    paypal.set_item_status(f"WD-{w3['id']}", "UNCLAIMED")
    await next_sync(runtime, clock)
    assert [await status_of(w["id"]) for w in (w1, w2, w3)] == ["completed", "failed", "processing"]
    assert await ledger.balance_of(ledger.available(ann.id), "USD") == 10001 - 1501
    assert await ledger.balance_of(ledger.available(bob.id), "USD") == 9999
    assert await ledger.balance_of(ledger.available(cat.id), "USD") == 5000 - 4242
    assert await ledger.balance_of(ledger.clearing("paypal"), "USD") == 4242
    assert await ledger.balance_of(ledger.external("paypal"), "USD") == 1501
    assert (await PayPalPayoutBatch.select().first())["status"] == "submitted"

    paypal.set_item_status(f"WD-{w3['id']}", "SUCCESS")  # claimed at last
    await next_sync(runtime, clock)
    assert await status_of(w3["id"]) == "completed"
    assert await ledger.balance_of(ledger.external("paypal"), "USD") == 1501 + 4242
    assert await ledger.balance_of(ledger.clearing("paypal"), "USD") == 0
    assert (await PayPalPayoutBatch.select().first())["status"] == "done"
    assert await ledger.check_ledger() == []


async def test_batches_split_by_currency_and_size(client, runtime, make_member, paypal):
    runtime.settings.plugins["payouts_paypal"] = __import__("msgspec").structs.replace(
        runtime.plugin_settings("payouts_paypal"), batch_max_items=2
    )
    for _ in range(3):
        await seller_with_withdrawal(client, runtime, make_member)
    await sweep(runtime)
    counts = [b["item_count"] for b in await PayPalPayoutBatch.select().order_by(PayPalPayoutBatch.id)]
    assert counts == [2, 1]
    assert len(paypal.calls("POST", "/v1/payments/payouts")) == 2


async def test_a_status_never_moves_backward(client, runtime, make_member, paypal, clock):
    member, withdrawal = await seller_with_withdrawal(client, runtime, make_member)
    await sweep(runtime)
    item_id = paypal.set_item_status(f"WD-{withdrawal['id']}", "UNCLAIMED")
    await next_sync(runtime, clock)
    # PayPal (or a stale page) reports PENDING again: an earlier rank changes nothing.
    paypal.set_item_status(item_id, "PENDING")
    await next_sync(runtime, clock)
    assert (await PayPalPayoutItem.select().first())["status"] == "UNCLAIMED"
    paypal.set_item_status(item_id, "SUCCESS")
    await next_sync(runtime, clock)
    # REVERSED after SUCCESS: recorded for operators, no money moves.
    paypal.set_item_status(item_id, "REVERSED")
    await service.sync_batch(runtime, (await PayPalPayoutBatch.select().first())["id"])
    item = await PayPalPayoutItem.select().first()
    assert (item["status"], item["outcome"], item["late_status"]) == ("SUCCESS", "completed", "REVERSED")
    assert await status_of(withdrawal["id"]) == "completed"
    assert await balances(member.id) == {"available": 3000, "clearing": 0, "external": 2000, "fees": 0}


async def test_refused_batch_fails_its_withdrawals_with_the_money_back(
    client, runtime, make_member, paypal, monkeypatch
):
    member, withdrawal = await seller_with_withdrawal(client, runtime, make_member)

    original = paypal._create_payout

    def insufficient(request, body):
        return paypal._json(
            422,
            {
                "name": "INSUFFICIENT_FUNDS",
                "message": "Sender does not have sufficient funds.",
                "debug_id": "abc123",
            },
        )

    monkeypatch.setattr(paypal, "_create_payout", insufficient)
    await sweep(runtime)
    monkeypatch.setattr(paypal, "_create_payout", original)
    batch = await PayPalPayoutBatch.select().first()
    assert batch["status"] == "rejected"
    assert "INSUFFICIENT_FUNDS" in batch["last_error"] and "debug_id abc123" in batch["last_error"]
    row = await Withdrawal.select().where(Withdrawal.id == withdrawal["id"]).first()
    assert row["status"] == "failed" and "INSUFFICIENT_FUNDS" in row["failure_reason"]
    assert await balances(member.id) == {"available": 5000, "clearing": 0, "external": 0, "fees": 0}
    assert await ledger.check_ledger() == []


# --------------------------------------------------------------------------------------
# Operators
# --------------------------------------------------------------------------------------


async def test_operators_see_paypal_ids_and_cancel_unclaimed_items(
    client, runtime, make_member, paypal, clock, problem
):
    operator = await make_member(role="operator")
    member, withdrawal = await seller_with_withdrawal(client, runtime, make_member)
    await sweep(runtime)
    (batch,) = await PayPalPayoutBatch.select()

    listed = (await client.get("/paypal/payouts/batches", headers=operator.headers)).json()
    assert [b["paypal_batch_id"] for b in listed["items"]] == [batch["paypal_batch_id"]]
    shown = (await client.get(f"/paypal/payouts/batches/{batch['id']}", headers=operator.headers)).json()
    assert shown["sender_batch_id"] == batch["sender_batch_id"]
    (item,) = shown["items"]
    assert item["withdrawal_id"] == withdrawal["id"] and item["status"] == "PENDING"
    assert item["paypal_item_id"] == paypal.item_id(f"WD-{withdrawal['id']}")

    # Only UNCLAIMED items can be cancelled.
    cancel = f"/paypal/payouts/withdrawals/{withdrawal['id']}/cancel"
    problem(await client.post(cancel, headers=operator.headers), 409, "paypal_item_not_cancellable")
    problem(await client.post(cancel, headers=member.headers), 403, "forbidden")
    paypal.set_item_status(item["paypal_item_id"], "UNCLAIMED")
    synced = await client.post(f"/paypal/payouts/batches/{batch['id']}/sync", headers=operator.headers)
    assert synced.json()["items"][0]["status"] == "UNCLAIMED"

    response = await client.post(cancel, headers=operator.headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "RETURNED" and response.json()["outcome"] == "failed"
    assert await status_of(withdrawal["id"]) == "failed"
    assert await balances(member.id) == {"available": 5000, "clearing": 0, "external": 0, "fees": 0}
    problem(await client.post(cancel, headers=operator.headers), 409, "paypal_item_not_cancellable")
    problem(
        await client.get("/paypal/payouts/withdrawals/999999", headers=operator.headers), 404, "not_found"
    )
    # And a PayPal payout is never settled by hand.
    problem(
        await client.post(
            f"/operator/withdrawals/{withdrawal['id']}/complete", json={}, headers=operator.headers
        ),
        403,
        "forbidden",
    )


# --------------------------------------------------------------------------------------
# Webhooks: verified, idempotent, in agreement with polling
# --------------------------------------------------------------------------------------


async def test_item_webhook_completes_before_the_next_poll(client, runtime, make_member, paypal):
    member, withdrawal = await seller_with_withdrawal(client, runtime, make_member)
    await sweep(runtime)
    item_id = paypal.set_item_status(f"WD-{withdrawal['id']}", "SUCCESS")
    response = await paypal.deliver(client, "PAYMENT.PAYOUTS-ITEM.SUCCEEDED", paypal.item_resource(item_id))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "processed"
    assert response.json()["result"].startswith(f"withdrawal {withdrawal['id']} completed")
    assert await status_of(withdrawal["id"]) == "completed"

    # A stale poll (PayPal's list still said PENDING) cannot move it back.
    paypal.set_item_status(item_id, "PENDING")
    await service.sync_batch(runtime, (await PayPalPayoutBatch.select().first())["id"])
    assert (await PayPalPayoutItem.select().first())["status"] == "SUCCESS"
    assert await balances(member.id) == {"available": 3000, "clearing": 0, "external": 2000, "fees": 0}


async def test_duplicate_webhook_changes_nothing(client, runtime, make_member, paypal):
    member, withdrawal = await seller_with_withdrawal(client, runtime, make_member)
    await sweep(runtime)
    item_id = paypal.set_item_status(f"WD-{withdrawal['id']}", "FAILED")
    delivery = paypal.delivery("PAYMENT.PAYOUTS-ITEM.FAILED", paypal.item_resource(item_id))
    from agorakit.plugins.paypal.testing import send

    first, second = await send(client, delivery), await send(client, delivery)
    assert (first.json()["status"], second.json()["status"]) == ("processed", "duplicate")
    # PayPal resends the same event in a new transmission: still a duplicate.
    again = await paypal.deliver(
        client, "PAYMENT.PAYOUTS-ITEM.FAILED", paypal.item_resource(item_id), event_id=delivery.event["id"]
    )
    assert again.json()["status"] == "duplicate"
    assert await balances(member.id) == {"available": 5000, "clearing": 0, "external": 0, "fees": 0}
    assert await ledger.check_ledger() == []


async def test_batch_webhook_fetches_the_items(client, runtime, make_member, paypal):
    _, w1 = await seller_with_withdrawal(client, runtime, make_member)
    _, w2 = await seller_with_withdrawal(client, runtime, make_member)
    await sweep(runtime)
    paypal.set_item_status(f"WD-{w1['id']}", "SUCCESS")
    paypal.set_item_status(f"WD-{w2['id']}", "BLOCKED")
    (batch,) = await PayPalPayoutBatch.select()
    response = await paypal.deliver(
        client, "PAYMENT.PAYOUTSBATCH.SUCCESS", paypal.batch_resource(batch["paypal_batch_id"])
    )
    assert response.json()["status"] == "processed", response.text
    assert [await status_of(w["id"]) for w in (w1, w2)] == ["completed", "failed"]


@pytest.mark.parametrize(
    "tamper",
    ["other_key", "other_webhook_id", "body_changed", "cert_host", "http_cert", "bad_algo", "no_signature"],
)
async def test_forged_webhooks_are_refused_and_change_nothing(
    client, runtime, make_member, paypal, problem, tamper
):
    from cryptography.hazmat.primitives.asymmetric import rsa

    from agorakit.plugins.paypal.testing import CERT_URL, send

    _member, withdrawal = await seller_with_withdrawal(client, runtime, make_member)
    await sweep(runtime)
    item_id = paypal.set_item_status(f"WD-{withdrawal['id']}", "SUCCESS")
    resource = paypal.item_resource(item_id)
    options = {
        "other_key": {"key": rsa.generate_private_key(public_exponent=65537, key_size=2048)},
        "other_webhook_id": {"webhook_id": "9XX00000000000000000000"},
        "cert_host": {
            "cert_url": CERT_URL.replace("api.sandbox.paypal.com", "api.sandbox.paypal.com.evil.example")
        },
        "http_cert": {"cert_url": CERT_URL.replace("https://", "http://")},
    }.get(tamper, {})
    delivery = paypal.delivery("PAYMENT.PAYOUTS-ITEM.SUCCEEDED", resource, **options)
    if tamper == "body_changed":
        delivery.body = delivery.body.replace(b'"SUCCESS"', b'"SUCCESS" ')
    if tamper == "bad_algo":
        delivery.headers["paypal-auth-algo"] = "SHA1withRSA"
    if tamper == "no_signature":
        del delivery.headers["paypal-transmission-sig"]
    response = await send(client, delivery)
    if tamper == "no_signature":
        problem(response, 400, "paypal_webhook_invalid")
    else:
        problem(response, 401, "paypal_webhook_signature_invalid")
    assert await status_of(withdrawal["id"]) == "processing"
    # Certificates come only from the allowed host (never from the forged URL).
    assert all(r.url.host == "api.sandbox.paypal.com" for r in paypal.calls("GET", "/v1/notifications/certs"))


async def test_old_or_unknown_webhooks_change_nothing(client, runtime, make_member, paypal, clock, problem):
    _member, withdrawal = await seller_with_withdrawal(client, runtime, make_member)
    await sweep(runtime)
    item_id = paypal.set_item_status(f"WD-{withdrawal['id']}", "SUCCESS")
    old = paypal.delivery("PAYMENT.PAYOUTS-ITEM.SUCCEEDED", paypal.item_resource(item_id))
    clock.advance(timedelta(days=4))  # older than webhook_max_age_minutes (about 3 days)
    from agorakit.plugins.paypal.testing import send

    problem(await send(client, old), 400, "paypal_webhook_stale")
    unknown = await paypal.deliver(client, "CUSTOMER.DISPUTE.CREATED", {"id": "PP-D-1"})
    assert unknown.status_code == 200 and unknown.json()["status"] == "ignored"
    stranger = paypal.item_resource(item_id) | {
        "payout_item_id": "NOTOURS",
        "payout_item": {"sender_item_id": "X-1"},
    }
    ignored = await paypal.deliver(client, "PAYMENT.PAYOUTS-ITEM.SUCCEEDED", stranger)
    assert ignored.json()["status"] == "ignored"
    assert await status_of(withdrawal["id"]) == "processing"
    operator = await make_member(role="operator")
    events = (await client.get("/paypal/webhook-events", headers=operator.headers)).json()["items"]
    assert [e["status"] for e in events] == ["ignored", "ignored"]


class TestWebhooksNotSetUp:
    @pytest.fixture
    def site_config(self):
        return deep_merge(ENABLED, {"plugins": {"paypal": {"webhook_id": ""}}})

    async def test_webhook_without_webhook_id_is_503(self, client, paypal, problem):
        response = await paypal.deliver(client, "PAYMENT.PAYOUTSBATCH.SUCCESS", {})
        problem(response, 503, "service_unavailable")


class TestOnlineVerification:
    @pytest.fixture
    def site_config(self):
        return deep_merge(ENABLED, {"plugins": {"paypal": {"webhook_verification": "online"}}})

    async def test_paypal_verifies_the_delivery(self, client, runtime, make_member, paypal, problem):
        from cryptography.hazmat.primitives.asymmetric import rsa

        _member, withdrawal = await seller_with_withdrawal(client, runtime, make_member)
        await sweep(runtime)
        item_id = paypal.set_item_status(f"WD-{withdrawal['id']}", "SUCCESS")
        forged = await paypal.deliver(
            client,
            "PAYMENT.PAYOUTS-ITEM.SUCCEEDED",
            paypal.item_resource(item_id),
            key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        )
        problem(forged, 401, "paypal_webhook_signature_invalid")
        assert await status_of(withdrawal["id"]) == "processing"
        response = await paypal.deliver(
            client, "PAYMENT.PAYOUTS-ITEM.SUCCEEDED", paypal.item_resource(item_id)
        )
        assert response.json()["status"] == "processed", response.text
        assert len(paypal.calls("POST", "/v1/notifications/verify-webhook-signature")) == 2
        assert await status_of(withdrawal["id"]) == "completed"


# --------------------------------------------------------------------------------------
# Faults: nothing is paid twice, nothing is lost
# --------------------------------------------------------------------------------------


async def test_token_expiry_mid_run_fetches_a_new_token(client, runtime, make_member, paypal, clock):
    _, withdrawal = await seller_with_withdrawal(client, runtime, make_member)
    await sweep(runtime)
    assert len(paypal.calls("POST", "/v1/oauth2/token")) == 1
    paypal.expire_tokens()  # PayPal stops accepting the cached token early: 401, new token, retry
    paypal.set_item_status(f"WD-{withdrawal['id']}", "SUCCESS")
    await next_sync(runtime, clock)
    assert len(paypal.calls("POST", "/v1/oauth2/token")) == 2
    assert await status_of(withdrawal["id"]) == "completed"
    # A token near its end is replaced before it is used (9 hours here).
    clock.advance(timedelta(hours=9))
    await service.sync_batch(runtime, (await PayPalPayoutBatch.select().first())["id"])
    assert len(paypal.calls("POST", "/v1/oauth2/token")) == 3


async def test_server_error_then_success_sends_one_batch(client, runtime, make_member, paypal, clock):
    member, withdrawal = await seller_with_withdrawal(client, runtime, make_member)
    paypal.fail_next("POST", r"^/v1/payments/payouts$", status=500, times=2)
    await sweep(runtime)
    posts = paypal.calls("POST", "/v1/payments/payouts")
    assert len(posts) == 3 and len({p.content for p in posts}) == 1  # the same body each time
    assert paypal.sleeps == [1.0, 2.0]  # exponential backoff
    assert len(paypal.batches) == 1
    assert (await PayPalPayoutBatch.select().first())["status"] == "submitted"
    paypal.set_item_status(f"WD-{withdrawal['id']}", "SUCCESS")
    await next_sync(runtime, clock)
    assert await balances(member.id) == {"available": 3000, "clearing": 0, "external": 2000, "fees": 0}


async def test_outage_keeps_the_batch_for_the_next_sweep(client, runtime, make_member, paypal):
    _, withdrawal = await seller_with_withdrawal(client, runtime, make_member)
    paypal.fail_next("POST", r"^/v1/payments/payouts$", exception=httpx.ConnectError, times=4)
    report = await sweep(runtime)
    batch = await PayPalPayoutBatch.select().first()
    assert report.method_syncs["payout:paypal"]["errors"] == [batch["id"]]
    assert batch["status"] == "created" and batch["claimed_until"] is None
    assert "no answer from PayPal after 4 attempts" in batch["last_error"]
    assert paypal.batches == {} and await status_of(withdrawal["id"]) == "processing"
    await sweep(runtime)
    assert len(paypal.batches) == 1
    assert (await PayPalPayoutBatch.select().first())["status"] == "submitted"


async def test_timeout_after_paypal_accepted_finds_the_original_batch(
    client, runtime, make_member, paypal, clock
):
    member, withdrawal = await seller_with_withdrawal(client, runtime, make_member)
    # PayPal creates the batch but every answer is lost until the retries run out ...
    paypal.fail_next("POST", r"^/v1/payments/payouts$", exception=httpx.ReadTimeout, after=True, times=4)
    await sweep(runtime)
    assert len(paypal.batches) == 1
    batch = await PayPalPayoutBatch.select().first()
    assert batch["status"] == "created" and batch["paypal_batch_id"] is None
    # ... the next sweep sends it again: "already used", so it adopts the original.
    await sweep(runtime)
    assert len(paypal.batches) == 1
    batch = await PayPalPayoutBatch.select().first()
    assert batch["status"] == "submitted" and batch["paypal_batch_id"] == next(iter(paypal.batches))
    paypal.set_item_status(f"WD-{withdrawal['id']}", "SUCCESS")
    await next_sync(runtime, clock)
    assert await balances(member.id) == {"available": 3000, "clearing": 0, "external": 2000, "fees": 0}
    assert await ledger.check_ledger() == []


async def test_worker_killed_between_submit_and_store_recovers(
    client, runtime, make_member, paypal, clock, monkeypatch
):
    member, withdrawal = await seller_with_withdrawal(client, runtime, make_member)

    async def killed(*args, **kwargs):
        raise SystemExit("worker killed")

    with monkeypatch.context() as patch:
        patch.setattr(service, "store_submission", killed)
        with pytest.raises(SystemExit):
            await sweep(runtime)
    assert len(paypal.batches) == 1  # PayPal has it, we do not know
    batch = await PayPalPayoutBatch.select().first()
    assert batch["status"] == "created" and batch["claimed_until"] is not None
    # The dead worker's claim holds for submit_lease_minutes; then another worker takes over.
    await sweep(runtime)
    assert len(paypal.calls("POST", "/v1/payments/payouts")) == 1
    clock.advance(timedelta(minutes=11))
    await sweep(runtime)
    assert len(paypal.calls("POST", "/v1/payments/payouts")) == 2 and len(paypal.batches) == 1
    assert (await PayPalPayoutBatch.select().first())["status"] == "submitted"
    paypal.set_item_status(f"WD-{withdrawal['id']}", "SUCCESS")
    await next_sync(runtime, clock)
    assert await status_of(withdrawal["id"]) == "completed"
    assert await balances(member.id) == {"available": 3000, "clearing": 0, "external": 2000, "fees": 0}


async def test_webhook_before_the_submit_answer_is_stored(
    client, runtime, make_member, paypal, clock, monkeypatch
):
    member, withdrawal = await seller_with_withdrawal(client, runtime, make_member)

    async def slow_store(*args, **kwargs):
        raise SystemExit("the answer is not stored yet")

    with monkeypatch.context() as patch:
        patch.setattr(service, "store_submission", slow_store)
        with pytest.raises(SystemExit):
            await sweep(runtime)
    item_id = paypal.set_item_status(f"WD-{withdrawal['id']}", "SUCCESS")
    response = await paypal.deliver(client, "PAYMENT.PAYOUTS-ITEM.SUCCEEDED", paypal.item_resource(item_id))
    assert response.json()["status"] == "processed", response.text
    assert await status_of(withdrawal["id"]) == "completed"
    batch = await PayPalPayoutBatch.select().first()
    assert batch["status"] == "submitted" and batch["paypal_batch_id"] == next(iter(paypal.batches))
    clock.advance(timedelta(minutes=11))
    await sweep(runtime)
    assert len(paypal.calls("POST", "/v1/payments/payouts")) == 1  # never sent again
    assert await balances(member.id) == {"available": 3000, "clearing": 0, "external": 2000, "fees": 0}
    assert await ledger.check_ledger() == []


@pytest.mark.postgres_only("concurrent workers need PostgreSQL's row locks")
async def test_two_workers_at_once_pay_once(client, runtime, make_member, paypal, clock):
    members = [await seller_with_withdrawal(client, runtime, make_member) for _ in range(3)]
    await asyncio.gather(sweep(runtime), sweep(runtime))
    # one worker batches every withdrawal, or the two split them (the rows one claims, the
    # other skips): either way each withdrawal is sent in exactly one batch, once
    sent = [
        paypal.items[item]["payout_item"]["sender_item_id"]
        for batch in paypal.batches.values()
        for item in batch["items"]
    ]
    assert sorted(sent) == sorted(f"WD-{w['id']}" for _, w in members)
    assert 1 <= len(paypal.batches) <= 2
    assert len(paypal.calls("POST", "/v1/payments/payouts")) == len(paypal.batches)
    assert await PayPalPayoutItem.count() == 3
    for _, withdrawal in members:
        paypal.set_item_status(f"WD-{withdrawal['id']}", "SUCCESS")
    clock.advance(timedelta(minutes=11))
    item_id = paypal.item_id(f"WD-{members[0][1]['id']}")
    await asyncio.gather(
        sweep(runtime),
        sweep(runtime),
        paypal.deliver(client, "PAYMENT.PAYOUTS-ITEM.SUCCEEDED", paypal.item_resource(item_id)),
    )
    assert [await status_of(w["id"]) for _, w in members] == ["completed"] * 3
    assert await ledger.balance_of(ledger.external("paypal"), "USD") == 3 * 2000
    assert await ledger.balance_of(ledger.clearing("paypal"), "USD") == 0
    assert await ledger.check_ledger() == []
