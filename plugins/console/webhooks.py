"""Webhooks: the endpoints the worker POSTs the site's events to, each with its settings,
secret, deliveries and their attempts; create, edit, rotate the secret, resume, delete,
replay a delivery or a time range.

A secret is shown once, on the page that answers the form that made it (creating an
endpoint, rotating its secret): it is never kept in the session or put in a URL."""

from __future__ import annotations

import re
from typing import Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from agorakit.web import ApiError

from .web import PREFIX, ConsolePage, utc_time

BASE = f"{PREFIX}/webhooks"
API = "/operator/webhooks"
ENDPOINT_STATUSES = ("active", "failing", "disabled")
DELIVERY_STATUSES = ("pending", "delivered", "failed", "cancelled")


def event_patterns(text: str) -> list[str]:
    """The event type patterns of a form's field: one per line or comma-separated."""
    return [part.strip() for part in re.split(r"[,\n]", text) if part.strip()]


def endpoint_fields(form: dict[str, str], *, enabled: bool) -> dict[str, Any]:
    """The API's body for an endpoint from the create or edit form."""
    return {
        "url": form.get("url", ""),
        "event_types": event_patterns(form.get("event_types", "")),
        "description": form.get("description", ""),
        "enabled": enabled,
    }


def endpoint_url(endpoint_id: int) -> str:
    return f"{BASE}/{endpoint_id}"


def secret_page(page: ConsolePage, endpoint: dict[str, Any], secret: str, *, rotated: bool) -> Response[str]:
    return page.render("webhook_secret.html", endpoint=endpoint, secret=secret, rotated=rotated)


class WebhookPages(Controller):
    path = "/webhooks"

    @get("")
    async def endpoints(
        self, page: NamedDependency[ConsolePage], cursor: FromQuery[str | None] = None
    ) -> Response[str]:
        return await page.render_list(
            "webhooks.html",
            API,
            cursor=cursor,
            filters=["status"],
            show_refusal=True,
            statuses=ENDPOINT_STATUSES,
        )

    @post("")
    async def create(self, page: NamedDependency[ConsolePage]) -> Response[Any]:
        form = await page.form()
        body = endpoint_fields(form, enabled=form.get("enabled") == "on")
        try:
            endpoint = await page.api.post(API, body)
        except ApiError as error:
            if not error.refusal:
                raise
            return page.redirect(BASE, f"The endpoint was not created: {error.message()}", "error")
        return secret_page(page, endpoint, endpoint["secret"], rotated=False)

    @get("/{endpoint_id:int}")
    async def endpoint(
        self,
        page: NamedDependency[ConsolePage],
        endpoint_id: FromPath[int],
        cursor: FromQuery[str | None] = None,
    ) -> Response[str]:
        endpoint = await page.api.get(f"{API}/{endpoint_id}")
        filters = page.filters("status")
        error: str | None = None
        try:
            deliveries = await page.api.get(
                f"{API}/{endpoint_id}/deliveries", **filters, cursor=cursor, limit=page.page_size
            )
        except ApiError as problem:
            if not problem.refusal:
                raise
            deliveries, error = {"items": [], "next_cursor": None}, problem.message()
        return page.render(
            "webhook.html",
            endpoint=endpoint,
            items=deliveries["items"],
            next_cursor=deliveries["next_cursor"],
            filters=filters,
            cursor=cursor,
            error=error,
            statuses=DELIVERY_STATUSES,
        )

    @post("/{endpoint_id:int}/edit")
    async def edit(self, page: NamedDependency[ConsolePage], endpoint_id: FromPath[int]) -> Redirect:
        form = await page.form()
        body = endpoint_fields(form, enabled=form.get("enabled") == "on")
        call = page.api.call("PATCH", f"{API}/{endpoint_id}", json=body)
        return await page.act(call, endpoint_url(endpoint_id), f"Endpoint #{endpoint_id} saved.")

    @post("/{endpoint_id:int}/rotate-secret")
    async def rotate(self, page: NamedDependency[ConsolePage], endpoint_id: FromPath[int]) -> Response[Any]:
        endpoint = await page.api.get(f"{API}/{endpoint_id}")  # before: the new secret is never lost
        try:
            answer = await page.api.post(f"{API}/{endpoint_id}/rotate-secret")
        except ApiError as error:
            if not error.refusal:
                raise
            return page.redirect(endpoint_url(endpoint_id), error.message(), "error")
        endpoint["previous_secret_expires_at"] = answer.get("previous_secret_expires_at")
        return secret_page(page, endpoint, answer["secret"], rotated=True)

    @post("/{endpoint_id:int}/resume")
    async def resume(self, page: NamedDependency[ConsolePage], endpoint_id: FromPath[int]) -> Redirect:
        call = page.api.post(f"{API}/{endpoint_id}/resume")
        done = f"Endpoint #{endpoint_id} is active again: its waiting deliveries are sent, oldest first."
        return await page.act(call, endpoint_url(endpoint_id), done)

    @get("/{endpoint_id:int}/delete")
    async def confirm_delete(
        self, page: NamedDependency[ConsolePage], endpoint_id: FromPath[int]
    ) -> Response[str]:
        endpoint = await page.api.get(f"{API}/{endpoint_id}")
        return page.render("webhook_delete.html", endpoint=endpoint)

    @post("/{endpoint_id:int}/delete")
    async def delete(self, page: NamedDependency[ConsolePage], endpoint_id: FromPath[int]) -> Redirect:
        call = page.api.call("DELETE", f"{API}/{endpoint_id}")
        done = f"Endpoint #{endpoint_id} deleted; its pending deliveries are cancelled."
        return await page.act(call, BASE, done, failed=endpoint_url(endpoint_id))

    @post("/{endpoint_id:int}/replay")
    async def replay_range(self, page: NamedDependency[ConsolePage], endpoint_id: FromPath[int]) -> Redirect:
        form = await page.form()
        body = {"from": utc_time(form.get("from", "")), "to": utc_time(form.get("to", ""))}
        try:
            answer = await page.api.post(f"{API}/{endpoint_id}/replay", body)
        except ApiError as error:
            if not error.refusal:
                raise
            return page.redirect(endpoint_url(endpoint_id), error.message(), "error")
        queued = answer["queued"]
        done = f"{queued} deliver{'y' if queued == 1 else 'ies'} queued again for endpoint #{endpoint_id}."
        return page.redirect(endpoint_url(endpoint_id), done)

    @get("/{endpoint_id:int}/deliveries/{delivery_id:int}")
    async def delivery(
        self, page: NamedDependency[ConsolePage], endpoint_id: FromPath[int], delivery_id: FromPath[int]
    ) -> Response[str]:
        endpoint = await page.api.get(f"{API}/{endpoint_id}")
        answer = await page.api.get(f"{API}/{endpoint_id}/deliveries/{delivery_id}")
        return page.render(
            "webhook_delivery.html",
            endpoint=endpoint,
            delivery=answer["delivery"],
            attempts=answer["attempts"],
        )

    @post("/{endpoint_id:int}/deliveries/{delivery_id:int}/replay")
    async def replay(
        self, page: NamedDependency[ConsolePage], endpoint_id: FromPath[int], delivery_id: FromPath[int]
    ) -> Redirect:
        back = f"{endpoint_url(endpoint_id)}/deliveries/{delivery_id}"
        try:
            queued = await page.api.post(f"{API}/{endpoint_id}/deliveries/{delivery_id}/replay")
        except ApiError as error:
            if not error.refusal:
                raise
            return page.redirect(back, error.message(), "error")
        done = f"Delivery #{delivery_id} queued again as delivery #{queued['id']} (the same webhook-id)."
        return page.redirect(f"{endpoint_url(endpoint_id)}/deliveries/{queued['id']}", done)
