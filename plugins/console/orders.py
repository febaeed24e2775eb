"""Orders: every order of the site (filtered by kind, state and member), and one order's
evidence (its history, proofs, conversation, disputes and reviews) that other pages link to.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from agorakit.web import ApiError

from .web import ConsolePage


async def optional(page: ConsolePage, path: str, **params: Any) -> tuple[Any, str | None]:
    """An API read a page can do without: its answer, or None and the API's reason."""
    try:
        return await page.api.get(path, **params), None
    except ApiError as error:
        if not error.refusal:
            raise
        return None, error.message()


class OrderPages(Controller):
    path = "/orders"

    @get("")
    async def orders(
        self, page: NamedDependency[ConsolePage], cursor: FromQuery[str | None] = None
    ) -> Response[str]:
        filters = ["kind", "state", "member_id"]
        return await page.render_list(
            "orders.html", "/operator/orders", cursor=cursor, filters=filters, show_refusal=True
        )

    @get("/{order_id:int}")
    async def order(self, page: NamedDependency[ConsolePage], order_id: FromPath[int]) -> Response[str]:
        order = await page.api.get(f"/orders/{order_id}")
        history = await page.api.get(f"/orders/{order_id}/history")
        parties = {}
        for member_id in {order["buyer_id"], order["seller_id"]} - {None}:
            parties[member_id], _error = await optional(page, f"/operator/members/{member_id}")
        conversation, conversation_error = await optional(page, f"/orders/{order_id}/conversation")
        messages = None
        if conversation is not None:
            messages, conversation_error = await optional(
                page, f"/conversations/{conversation['id']}/messages", limit=page.page_size
            )
        return page.render(
            "order.html",
            order=order,
            parties=parties,
            history=history["items"],
            proofs=await page.api.get(f"/orders/{order_id}/proofs"),
            disputes=await page.api.get(f"/orders/{order_id}/disputes"),
            reviews=(await page.api.get(f"/orders/{order_id}/reviews"))["items"],
            conversation=conversation,
            messages=list(reversed(messages["items"])) if messages else [],
            more_messages=bool(messages and messages["next_cursor"]),
            conversation_error=conversation_error,
        )
