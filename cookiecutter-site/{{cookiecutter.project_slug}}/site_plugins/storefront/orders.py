"""My orders (as buyer and as seller), one order's page and everything done on it.

Reads ``GET /orders``, ``GET /orders/{id}`` (with the ``allowed_transitions`` the API
computes for the caller), ``GET /orders/{id}/proofs``, ``GET /orders/{id}/reviews``,
``GET /orders/{id}/conversation`` and its messages, ``GET /payment-methods``,
``GET /payments`` and ``GET /me/balance``.  Acts through ``POST /orders/{id}/payments``,
``POST /payments/{id}/cancel``, ``POST /gigs/orders/{id}/delivery``,
``POST /orders/{id}/transitions/{name}``, ``POST /conversations/{id}/messages`` and
``POST /orders/{id}/reviews``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import Any

from agorakit.money import format_amount
from agorakit.web import ApiError
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from .web import PREFIX, Shop

#: The transitions a party fires with a plain button: label, and the question a
#: confirmation asks.  Delivering has its own form; the API decides every one of them.
ACTIONS: dict[str, str] = {
    "accept": "Accept the delivery",
    "cancel_unpaid": "Cancel this order",
    "cancel_late": "Cancel: the delivery is late",
    "seller_cancel": "Cancel and refund the buyer",
}
ROLES = {"buyer": "Buying", "seller": "Selling"}


def deadline_passed(order: dict[str, Any], now: datetime) -> bool:
    deadline = (order.get("data") or {}).get("deadline")
    if not deadline:
        return False
    return datetime.fromisoformat(str(deadline).replace("Z", "+00:00")) <= now


def next_step(order: dict[str, Any], role: str) -> str:
    """What the member is expected to do next, in words, for the orders list."""
    state, allowed = order["state"], set(order.get("allowed_transitions") or [])
    if state == "awaiting_payment":
        return "Pay" if role == "buyer" else "Waiting for the buyer's payment"
    if state == "in_progress":
        return "Deliver" if role == "seller" else "Waiting for the delivery"
    if state == "delivered":
        return "Accept or report the delivery" if "accept" in allowed else "Waiting for the buyer"
    if state == "completed":
        return "Leave a review"
    return ""


class OrderPages(Controller):
    path = "/orders"

    @get("/", name="storefront_orders")
    async def orders(
        self, shop: NamedDependency[Shop], role: FromQuery[str] = "buyer", cursor: FromQuery[str] = ""
    ) -> Any:
        shop.require_member()
        role = role if role in ROLES else "buyer"
        page = await shop.api.get("/orders", role=role, cursor=cursor, limit=shop.settings.page_size)
        rows = [{"order": order, "next": next_step(order, role)} for order in page["items"]]
        return shop.render("orders.html", role=role, roles=ROLES, rows=rows, next_cursor=page["next_cursor"])

    async def _order_page(
        self,
        shop: Shop,
        order_id: int,
        *,
        status: int = 200,
        errors: dict[str, str] | None = None,
        problem: str | None = None,
        values: dict[str, str] | None = None,
    ) -> Any:
        me = shop.require_member()
        order = await shop.api.get(f"/orders/{order_id}")
        role = "buyer" if order["buyer_id"] == me["id"] else "seller"
        allowed = set(order.get("allowed_transitions") or [])
        now = shop.runtime.clock.now()
        actions = [
            (name, label)
            for name, label in ACTIONS.items()
            if name in allowed and (name != "cancel_late" or deadline_passed(order, now))
        ]
        pay: dict[str, Any] | None = None
        if role == "buyer" and order["state"] == "awaiting_payment":
            methods = await shop.api.get("/payment-methods")
            open_payments = await shop.api.get("/payments", status="awaiting_funds", limit=100)
            waiting = [p for p in open_payments["items"] if p.get("escrow_ref") == f"order:{order_id}"]
            balances = (await shop.api.get("/me/balance"))["balances"]
            balance = next((b for b in balances if b["currency"] == order["amount"]["currency"]), None)
            pay = {
                "methods": methods,
                "waiting": waiting[0] if waiting else None,
                "balance": balance,
                "key": uuid.uuid4().hex,
            }
        proofs = await shop.api.get(f"/orders/{order_id}/proofs")
        reviews = await shop.api.get(f"/orders/{order_id}/reviews")
        reviewed = any(r["author_id"] == me["id"] for r in reviews["items"])
        conversation = await shop.api.get(f"/orders/{order_id}/conversation")
        messages = await shop.api.get(f"/conversations/{conversation['id']}/messages", limit=50)
        names = {p["id"]: p["display_name"] for p in conversation["participants"]}
        quote = (order.get("data") or {}).get("quote") or {}
        currency = order["amount"]["currency"]
        figures = {
            key: {"amount": format_amount(int(quote[key]), currency), "currency": currency}
            for key in ("buyer_total", "seller_net", "platform_total")
            if key in quote
        }
        return shop.render(
            "order.html",
            status=status,
            order=order,
            figures=figures,
            role=role,
            actions=actions,
            can_deliver=role == "seller" and order["state"] == "in_progress",
            pay=pay,
            proofs=proofs,
            reviews=reviews["items"],
            can_review=order["state"] == "completed" and not reviewed,
            conversation=conversation,
            messages=list(reversed(messages["items"])),
            names=names,
            errors=errors or {},
            problem=problem,
            values=values or {},
        )

    @get("/{order_id:int}", name="storefront_order")
    async def order(self, shop: NamedDependency[Shop], order_id: FromPath[int]) -> Any:
        return await self._order_page(shop, order_id)

    async def _act(
        self,
        shop: Shop,
        order_id: int,
        call: Callable[[], Awaitable[Any]],
        *,
        done: str,
        values: dict[str, str] | None = None,
        aliases: dict[str, str] | None = None,
    ) -> Any:
        """Send one request to the API: on success back to the order with ``done``; on
        a refusal the order's page again, with the API's errors at their fields."""
        shop.require_member(f"{PREFIX}/orders/{order_id}")
        try:
            await call()
        except ApiError as exc:
            if exc.status in (401, 404):
                raise
            return await self._order_page(
                shop,
                order_id,
                status=exc.status,
                errors=exc.field_errors(aliases),
                problem=None if exc.errors else exc.detail,
                values=values,
            )
        return shop.redirect(f"{PREFIX}/orders/{order_id}", flash=done)

    @post("/{order_id:int}/pay", name="storefront_pay")
    async def pay(
        self, shop: NamedDependency[Shop], order_id: FromPath[int], request: Request[Any, Any, Any]
    ) -> Any:
        form = await request.form()
        method = str(form.get("method") or "")
        key = str(form.get("idempotency_key") or "") or None
        call = partial(shop.api.post, f"/orders/{order_id}/payments", {"method": method}, idempotency_key=key)
        done = (
            "Paid: the seller has started."
            if method == "balance"
            else "Payment started: see how to pay below."
        )
        return await self._act(shop, order_id, call, done=done)

    @post("/{order_id:int}/payments/{payment_id:int}/cancel", name="storefront_cancel_payment")
    async def cancel_payment(
        self, shop: NamedDependency[Shop], order_id: FromPath[int], payment_id: FromPath[int]
    ) -> Any:
        call = partial(shop.api.post, f"/payments/{payment_id}/cancel")
        return await self._act(shop, order_id, call, done="Payment cancelled: you may pay another way.")

    @post("/{order_id:int}/deliver", name="storefront_deliver")
    async def deliver(
        self, shop: NamedDependency[Shop], order_id: FromPath[int], request: Request[Any, Any, Any]
    ) -> Any:
        form = await request.form()
        message = str(form.get("message") or "")
        call = partial(
            shop.api.post, f"/gigs/orders/{order_id}/delivery", {"message": message, "attachments": []}
        )
        return await self._act(
            shop, order_id, call, done="Delivered: the buyer has been told.", values={"message": message}
        )

    @post("/{order_id:int}/actions/{name:str}", name="storefront_order_action")
    async def action(self, shop: NamedDependency[Shop], order_id: FromPath[int], name: FromPath[str]) -> Any:
        if name not in ACTIONS:
            raise ApiError(404, {"code": "not_found", "detail": f"there is no action {name!r}"})
        call = partial(shop.api.post, f"/orders/{order_id}/transitions/{name}")
        return await self._act(shop, order_id, call, done=f"Done: {ACTIONS[name].lower()}.")

    @post("/{order_id:int}/messages", name="storefront_message")
    async def message(
        self, shop: NamedDependency[Shop], order_id: FromPath[int], request: Request[Any, Any, Any]
    ) -> Any:
        form = await request.form()
        body = str(form.get("body") or "")
        shop.require_member(f"{PREFIX}/orders/{order_id}")
        conversation = await shop.api.get(f"/orders/{order_id}/conversation")
        call = partial(shop.api.post, f"/conversations/{conversation['id']}/messages", {"body": body})
        return await self._act(shop, order_id, call, done="Message sent.", values={"body": body})

    @post("/{order_id:int}/review", name="storefront_review")
    async def review(
        self, shop: NamedDependency[Shop], order_id: FromPath[int], request: Request[Any, Any, Any]
    ) -> Any:
        form = await request.form()
        text = str(form.get("text") or "")
        rating_text = str(form.get("rating") or "")
        values = {"text": text, "rating": rating_text}
        if not rating_text.isdigit():
            shop.require_member(f"{PREFIX}/orders/{order_id}")
            return await self._order_page(
                shop, order_id, status=422, errors={"rating": "choose 1 to 5 stars"}, values=values
            )
        call = partial(
            shop.api.post, f"/orders/{order_id}/reviews", {"rating": int(rating_text), "text": text}
        )
        return await self._act(shop, order_id, call, done="Thank you for your review.", values=values)
