"""paypal: the PayPal account, REST client and webhook endpoint shared by the PayPal methods.

Enable it together with ``payouts_paypal`` (withdrawals to PayPal) and/or
``payments_paypal`` (PayPal Checkout pay-ins)::

    [site]
    plugins = ["paypal", "payouts_paypal", "payments_paypal"]

    [plugins.paypal]
    client_id = "..."
    client_secret = { "$env" = "PAYPAL_CLIENT_SECRET" }
    webhook_id = "..."

It owns ``[plugins.paypal]`` (credentials, sandbox/live, webhook verification, timeouts and
retries), the REST client both methods share (:mod:`agorakit.plugins.paypal.client`), the
route ``POST /webhooks/paypal`` that verifies each delivery and hands it to the methods,
and a local PayPal stand-in for tests (:mod:`agorakit.plugins.paypal.testing`).  See
``docs/plugins/paypal.md``.
"""

from __future__ import annotations

from agorakit import hookimpl
from agorakit.http import OperatorQueue, count_queue
from agorakit.plugins.paypal.controllers import PayPalOperatorController, PayPalWebhookController
from agorakit.plugins.paypal.piccolo_app import APP_CONFIG
from agorakit.plugins.paypal.settings import PayPalSettings
from agorakit.plugins.paypal.tables import WebhookEvent
from agorakit.settings import SettingsSpec


@hookimpl
def agorakit_settings():

    return SettingsSpec(name="paypal", type=PayPalSettings)


@hookimpl
def agorakit_tables():

    return [APP_CONFIG]


@hookimpl
def agorakit_routes():

    return [PayPalWebhookController, PayPalOperatorController]


@hookimpl
async def agorakit_operator_queues():
    """Webhook events whose handler failed (PayPal delivers them again; no due rule)."""

    failed = await count_queue(WebhookEvent, WebhookEvent.status == "failed", since=WebhookEvent.received_at)
    return [
        OperatorQueue(
            key="paypal.webhooks_failed",
            title="PayPal webhook events that failed",
            count=failed.count,
            oldest_at=failed.oldest_at,
            list_path="/paypal/webhook-events?status=failed",
            area="paypal",
        )
    ]
