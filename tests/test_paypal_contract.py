"""The PayPal REST client, the webhook verifier and the stand-in's contract checks.

The contract tests read PayPal's published OpenAPI files from ``AGORAKIT_PAYPAL_SPEC_DIR``
(default: ``../shared/paypal-openapi`` beside the checkout) and skip with the reason when
they are absent; the client tests run without them.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from agorakit.clock import FrozenClock
from agorakit.plugins.payouts_paypal.service import duplicate_batch
from agorakit.plugins.paypal import webhooks
from agorakit.plugins.paypal.client import (
    PayPalAuthError,
    PayPalClient,
    PayPalNotConfigured,
    PayPalRequestError,
    PayPalServerError,
    PayPalUnavailable,
)
from agorakit.plugins.paypal.settings import PayPalSettings
from agorakit.plugins.paypal.testing import CERT_URL, FakePayPal, PayPalContract, spec_dir_problem

REPO = Path(__file__).resolve().parents[1]
SPEC_DIR = Path(os.environ.get("AGORAKIT_PAYPAL_SPEC_DIR") or REPO / ".." / "shared" / "paypal-openapi")
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PAYOUT = {
    "sender_batch_header": {"sender_batch_id": "agorakit-1-0a1b2c3d", "email_subject": "You have a payout"},
    "items": [
        {
            "recipient_type": "EMAIL",
            "amount": {"value": "15.00", "currency": "USD"},
            "receiver": "ada@example.com",
            "sender_item_id": "WD-1",
        }
    ],
}
ORDER = {
    "intent": "CAPTURE",
    "purchase_units": [{"reference_id": "payment-1", "amount": {"currency_code": "USD", "value": "25.00"}}],
}


@pytest.fixture
def contract():
    problem = spec_dir_problem(SPEC_DIR)
    if problem:
        pytest.skip(problem)
    return PayPalContract(SPEC_DIR)


def make_client(fake: FakePayPal, clock: FrozenClock, **settings) -> tuple[PayPalClient, list[float]]:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    config = PayPalSettings(
        client_id=fake.client_id, client_secret=fake.client_secret, webhook_id=fake.webhook_id, **settings
    )
    return PayPalClient(config, clock=clock.now, transport=fake.transport(), sleep=sleep), sleeps


# --------------------------------------------------------------------------------------
# The contract: PayPal's own files keep both sides honest
# --------------------------------------------------------------------------------------


async def test_every_call_and_answer_follows_paypals_published_contract(contract):
    clock = FrozenClock(NOW)
    fake = FakePayPal(clock=clock, contract=contract)
    client, _ = make_client(fake, clock)
    batch = await client.create_payout(PAYOUT)
    batch_id = batch["batch_header"]["payout_batch_id"]
    with pytest.raises(PayPalRequestError):  # the duplicate sender_batch_id answer
        await client.create_payout(PAYOUT)
    await client.get_payout_batch(batch_id)
    item_id = fake.set_item_status("WD-1", "UNCLAIMED")
    await client.get_payout_item(item_id)
    await client.cancel_payout_item(item_id)
    with pytest.raises(PayPalRequestError):
        await client.cancel_payout_item(item_id)  # no longer UNCLAIMED
    order = await client.create_order(ORDER, request_id="agorakit-1-PAY-1-create")
    with pytest.raises(PayPalRequestError):
        await client.capture_order(order["id"], request_id="agorakit-1-PAY-1-capture")  # not approved
    fake.approve(order["id"])
    fake.decline_next_capture(order["id"])
    with pytest.raises(PayPalRequestError):
        await client.capture_order(order["id"], request_id="agorakit-1-PAY-1-capture")
    fake.approve(order["id"])
    captured = await client.capture_order(order["id"], request_id="agorakit-1-PAY-1-capture")
    with pytest.raises(PayPalRequestError):
        await client.capture_order(order["id"], request_id="agorakit-1-PAY-1-again")  # already captured
    await client.get_order(order["id"])
    with pytest.raises(PayPalRequestError):
        await client.get_order("NOSUCHORDER")
    delivery = fake.delivery("PAYMENT.CAPTURE.COMPLETED", fake.capture_resource(next(iter(fake.captures))))
    answer = await client.verify_webhook_signature(
        {
            "auth_algo": "SHA256withRSA",
            "cert_url": CERT_URL,
            "transmission_id": delivery.headers["paypal-transmission-id"],
            "transmission_sig": delivery.headers["paypal-transmission-sig"],
            "transmission_time": delivery.headers["paypal-transmission-time"],
            "webhook_id": fake.webhook_id,
            "webhook_event": json.loads(delivery.body),
        }
    )
    assert answer == {"verification_status": "SUCCESS"}
    # The webhook resources are PayPal's own schemas too.
    contract.check_resource("/v1/payments/", "payout_item-2", fake.item_resource(item_id))
    contract.check_resource("/v1/payments/", "payout_batch", fake.batch_resource(batch_id))
    contract.check_resource("/v2/checkout/", "order", fake.order_resource(order["id"]))
    contract.check_resource("/v2/checkout/", "capture", delivery.event["resource"])
    assert captured["status"] == "COMPLETED"
    assert contract.violations == []
    # Every exchange above was validated, the request and the answer.
    assert len([c for c in contract.checked if c[2] is None]) == 14
    assert len([c for c in contract.checked if c[2] is not None]) == 14
    assert {status for _, _, status in contract.checked} >= {200, 201, 400, 404, 422}


async def test_the_contract_catches_a_drifting_request_and_answer(contract):
    clock = FrozenClock(NOW)
    fake = FakePayPal(clock=clock, contract=contract)
    client, _ = make_client(fake, clock)
    bad = {"sender_batch_header": PAYOUT["sender_batch_header"], "items": [{"amount": {"value": "15.00"}}]}
    with pytest.raises(PayPalRequestError) as info:
        await client.create_payout(bad)  # the stand-in refuses what PayPal would refuse
    assert info.value.status == 400
    assert any("'currency' is a required property" in v for v in contract.violations)
    assert any("'receiver' is a required property" in v for v in contract.violations)
    contract.violations.clear()
    order = await client.create_order(ORDER, request_id="r-1")
    request = httpx.Request("GET", f"https://api-m.sandbox.paypal.com/v2/checkout/orders/{order['id']}")
    drifted = httpx.Response(200, json={"id": order["id"], "status": "PAID"})
    assert contract.check_response(request, drifted)
    assert "'PAID' is not one of" in contract.violations[0]
    assert contract.check_resource("/v2/checkout/", "capture", {"id": "1", "status": "DONE"})


# --------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------


async def test_token_is_cached_and_refreshed_before_it_expires():
    clock = FrozenClock(NOW)
    fake = FakePayPal(clock=clock, token_ttl=3600)
    client, _ = make_client(fake, clock)
    await client.create_order(ORDER, request_id="r-1")
    await client.create_order(ORDER, request_id="r-2")
    assert len(fake.calls("POST", "/v1/oauth2/token")) == 1
    clock.advance(timedelta(minutes=56))  # within 5 minutes of its end: replaced before use
    await client.create_order(ORDER, request_id="r-3")
    assert len(fake.calls("POST", "/v1/oauth2/token")) == 2


async def test_revoked_token_is_replaced_once_then_the_error_stands():
    clock = FrozenClock(NOW)
    fake = FakePayPal(clock=clock)
    client, _ = make_client(fake, clock)
    await client.get_order((await client.create_order(ORDER, request_id="r-1"))["id"])
    fake.expire_tokens()
    order = await client.create_order(ORDER, request_id="r-2")
    assert order["status"] == "CREATED"
    assert len(fake.calls("POST", "/v1/oauth2/token")) == 2
    fake.token_ttl = 0  # every new token is dead on arrival: one refresh, then a 401 error
    fake.expire_tokens()
    with pytest.raises(PayPalAuthError) as info:
        await client.get_order(order["id"])
    assert info.value.status == 401 and info.value.debug_id


async def test_wrong_credentials_and_missing_credentials():
    clock = FrozenClock(NOW)
    fake = FakePayPal(clock=clock)
    client, _ = make_client(fake, clock)
    client.settings = PayPalSettings(client_id=fake.client_id, client_secret="wrong")
    with pytest.raises(PayPalAuthError, match="refused the client id/secret"):
        await client.get_order("X")
    client.settings = PayPalSettings()
    with pytest.raises(PayPalNotConfigured):
        await client.get_order("X")
    assert len(fake.calls("GET", "/v2/")) == 0


async def test_retries_only_server_errors_rate_limits_and_network_errors():
    clock = FrozenClock(NOW)
    fake = FakePayPal(clock=clock)
    client, sleeps = make_client(fake, clock, retry_backoff_seconds=0.5)
    fake.fail_next("POST", r"^/v2/checkout/orders$", status=503)
    fake.fail_next("POST", r"^/v2/checkout/orders$", status=429)
    fake.fail_next("POST", r"^/v2/checkout/orders$", exception=httpx.ConnectTimeout)
    order = await client.create_order(ORDER, request_id="same-id")
    posts = fake.calls("POST", "/v2/checkout/orders")
    assert len(posts) == 4 and {p.headers["paypal-request-id"] for p in posts} == {"same-id"}
    assert sleeps == [0.5, 1.0, 2.0]
    assert len(fake.orders) == 1 and order["id"] in fake.orders
    # A 4xx is never retried.
    with pytest.raises(PayPalRequestError) as info:
        await client.capture_order(order["id"], request_id="c-1")
    assert info.value.issues == {"ORDER_NOT_APPROVED"} and info.value.status == 422
    assert len(fake.calls("POST", f"/v2/checkout/orders/{order['id']}/capture")) == 1
    # Out of retries: the error says the outcome is unknown.
    fake.fail_next("GET", r"^/v2/checkout/orders/", status=500, times=4)
    with pytest.raises(PayPalServerError) as server:
        await client.get_order(order["id"])
    assert server.value.outcome_unknown and server.value.debug_id
    fake.fail_next("GET", r"^/v2/checkout/orders/", exception=httpx.ReadTimeout, times=4)
    with pytest.raises(PayPalUnavailable, match="no answer from PayPal after 4 attempts"):
        await client.get_order(order["id"])


async def test_paypal_errors_keep_their_debug_id_and_details():
    clock = FrozenClock(NOW)
    fake = FakePayPal(clock=clock)
    client, _ = make_client(fake, clock)
    await client.create_payout(PAYOUT)
    with pytest.raises(PayPalRequestError) as info:
        await client.create_payout(PAYOUT)
    error = info.value
    assert (error.status, error.name) == (400, "USER_BUSINESS_ERROR")
    assert error.debug_id and error.debug_id in str(error)
    assert duplicate_batch(error) == next(iter(fake.batches))


async def test_credentials_and_tokens_are_never_logged(caplog):
    clock = FrozenClock(NOW)
    fake = FakePayPal(clock=clock, client_secret="s3cr3t-value-never-logged")
    client, _ = make_client(fake, clock)
    with caplog.at_level(logging.DEBUG):
        await client.create_order(ORDER, request_id="r-1")
        fake.fail_next("GET", r"^/v2/", status=500, times=4)
        with pytest.raises(PayPalServerError):
            await client.get_order("X")
    token = next(iter(fake.tokens))
    assert "s3cr3t-value-never-logged" not in caplog.text and token not in caplog.text
    assert "paypal POST /v2/checkout/orders -> 201" in caplog.text


# --------------------------------------------------------------------------------------
# The webhook verifier
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://api.paypal.com/v1/notifications/certs/CERT-1", True),
        ("https://api.sandbox.paypal.com/v1/notifications/certs/CERT-1", True),
        ("https://messageverificationcerts.paypal.com/x", True),
        ("https://API.PAYPAL.COM./v1/x", True),
        ("http://api.paypal.com/v1/x", False),
        ("https://api.paypal.com:8443/v1/x", False),
        ("https://api.paypal.com.evil.example/v1/x", False),
        ("https://evilpaypal.com/v1/x", False),
        ("https://api.paypal.com@evil.example/v1/x", False),
        ("https://user@api.paypal.com/v1/x", False),
        ("file:///etc/passwd", False),
        ("not a url", False),
    ],
)
def test_certificates_come_only_from_paypal_hosts_over_https(url, allowed):
    assert webhooks.cert_url_allowed(url, PayPalSettings().cert_hosts) is allowed


async def test_certificate_is_fetched_once_and_cached():
    clock = FrozenClock(NOW)
    fake = FakePayPal(clock=clock)
    client, _ = make_client(fake, clock)
    for _ in range(3):
        delivery = fake.delivery("PAYMENT.CAPTURE.COMPLETED", {"id": "1"})
        transmission = webhooks.read_transmission(delivery.headers)
        await webhooks.verify_offline(client, client.settings, transmission, delivery.body, clock.now())
    assert len(fake.calls("GET", "/v1/notifications/certs/")) == 1
    clock.advance(timedelta(hours=25))
    await webhooks.verify_offline(client, client.settings, transmission, delivery.body, clock.now())
    assert len(fake.calls("GET", "/v1/notifications/certs/")) == 2


async def test_signed_string_is_ids_time_webhook_id_and_decimal_crc32():
    transmission = webhooks.Transmission(
        transmission_id="69cd13f0-d67a-11e5-baa3-778b53f4ae55",
        transmission_time="2016-02-18T20:01:35Z",
        transmission_sig="x",
        cert_url=CERT_URL,
        auth_algo="SHA256withRSA",
    )
    body = b'{"id":"WH-0G2756385H040842W-5Y612302CV158622M"}'
    import zlib

    assert webhooks.signed_message(transmission, "1JE4291016473214C", body) == (
        f"69cd13f0-d67a-11e5-baa3-778b53f4ae55|2016-02-18T20:01:35Z|1JE4291016473214C|{zlib.crc32(body)}".encode()
    )
