"""Routes of the paypal plugin: the webhook endpoint PayPal calls, and what operators see."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.status_codes import HTTP_200_OK

from agorakit.accounts import operator_only
from agorakit.http import Limit, problem
from agorakit.pagination import DEFAULT_LIMIT
from agorakit.plugins.paypal import webhooks
from agorakit.plugins.paypal.schemas import WebhookEventPage
from agorakit.runtime import Runtime


class PayPalWebhookController(Controller):
    path = "/webhooks/paypal"
    tags = ["paypal"]

    @post(
        "",
        operation_id="paypalReceiveWebhook",
        responses={status: problem(status) for status in (400, 401, 413, 422, 503)},
        summary="PayPal calls this with payout and checkout events (signature verified first)",
        status_code=HTTP_200_OK,
        opt={"exclude_from_auth": True},
    )
    async def receive(self, request: Request, runtime: NamedDependency[Runtime]) -> webhooks.WebhookAck:
        body = await request.body()
        return await webhooks.receive(runtime, request.headers, body)


class PayPalOperatorController(Controller):
    path = "/paypal"
    tags = ["paypal"]
    guards = [operator_only]

    @get(
        "/webhook-events",
        operation_id="paypalListWebhookEvents",
        summary="PayPal webhook events received, newest first",
    )
    async def list_events(
        self,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
        event_type: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
    ) -> WebhookEventPage:
        items, next_cursor = await webhooks.list_events(
            cursor=cursor, limit=limit, event_type=event_type, status=status
        )
        return WebhookEventPage(items=items, next_cursor=next_cursor)
