"""Routes of the paypal plugin: the webhook endpoint PayPal calls, and what operators see."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.status_codes import HTTP_200_OK

from agorakit.accounts.auth import operator_only
from agorakit.http.openapi import problems
from agorakit.http.params import Limit
from agorakit.pagination import DEFAULT_LIMIT, decode_cursor, encode_cursor
from agorakit.plugins.paypal import webhooks
from agorakit.plugins.paypal.schemas import WebhookEventOut, WebhookEventPage
from agorakit.plugins.paypal.tables import WebhookEvent
from agorakit.runtime import Runtime


class PayPalWebhookController(Controller):
    path = "/webhooks/paypal"
    tags = ["paypal"]

    @post(
        "",
        operation_id="paypalReceiveWebhook",
        responses=problems(400, 401, 413, 422, 503),
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
        query = WebhookEvent.select().order_by(WebhookEvent.id, ascending=False).limit(limit + 1)
        position = decode_cursor(cursor, keys=("id",))
        if position is not None:
            query = query.where(WebhookEvent.id < int(position["id"]))
        if event_type:
            query = query.where(WebhookEvent.event_type == event_type)
        if status:
            query = query.where(WebhookEvent.status == status)
        rows = await query
        items = [
            WebhookEventOut(
                event_id=r["event_id"],
                event_type=r["event_type"],
                resource_id=r["resource_id"],
                status=r["status"],
                result=r["result"],
                received_at=r["received_at"],
                processed_at=r["processed_at"],
            )
            for r in rows[:limit]
        ]
        next_cursor = encode_cursor({"id": rows[limit - 1]["id"]}) if len(rows) > limit else None
        return WebhookEventPage(items=items, next_cursor=next_cursor)
