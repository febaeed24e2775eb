"""Support requests: the queue (box, status, category), a request with its conversation,
answering as Support, assigning and closing."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from .evidence import conversation
from .web import PREFIX, ConsolePage

BASE = f"{PREFIX}/support"
CATEGORIES = ("order", "payment", "withdrawal", "account", "other")


async def operators(page: ConsolePage) -> list[dict[str, Any]]:
    """The active operators and owners a request may be given to (their first page)."""
    people: list[dict[str, Any]] = []
    for role in ("operator", "owner"):
        answer = await page.api.get("/operator/members", role=role, status="active", limit=100)
        people += answer["items"]
    return sorted(people, key=lambda person: person["display_name"].lower())


class SupportPages(Controller):
    path = "/support"

    @get("")
    async def queue(
        self, page: NamedDependency[ConsolePage], cursor: FromQuery[str | None] = None
    ) -> Response[str]:
        filters = ["box", "status", "category"]
        return await page.render_list(
            "support.html", "/operator/support", cursor=cursor, filters=filters, categories=CATEGORIES
        )

    @get("/{ticket_id:int}")
    async def ticket(self, page: NamedDependency[ConsolePage], ticket_id: FromPath[int]) -> Response[str]:
        ticket = await page.api.get(f"/operator/support/{ticket_id}")
        talk = await conversation(page, ticket["conversation_id"])
        people = await operators(page)
        assignee = next((p for p in people if p["id"] == ticket["assignee_id"]), None)
        return page.render(
            "ticket.html", ticket=ticket, conversation=talk, operators=people, assignee=assignee
        )

    @post("/{ticket_id:int}/reply")
    async def reply(self, page: NamedDependency[ConsolePage], ticket_id: FromPath[int]) -> Redirect:
        form = await page.form()
        call = page.api.post(f"/operator/support/{ticket_id}/reply", {"body": form.get("body", "")})
        here = f"{BASE}/{ticket_id}"
        return await page.act(call, here, "Your answer was sent as Support.")

    @post("/{ticket_id:int}/assign")
    async def assign(self, page: NamedDependency[ConsolePage], ticket_id: FromPath[int]) -> Redirect:
        form = await page.form()
        chosen = form.get("operator_id", "")
        operator_id: Any = int(chosen) if chosen.isdigit() else chosen
        if chosen == "me" and page.user:
            operator_id = page.user["id"]
        call = page.api.post(f"/operator/support/{ticket_id}/assign", {"operator_id": operator_id})
        here = f"{BASE}/{ticket_id}"
        return await page.act(call, here, f"Support request #{ticket_id} assigned.")

    @post("/{ticket_id:int}/close")
    async def close(self, page: NamedDependency[ConsolePage], ticket_id: FromPath[int]) -> Redirect:
        call = page.api.post(f"/operator/support/{ticket_id}/close")
        return await page.act(
            call, BASE, f"Support request #{ticket_id} closed.", failed=f"{BASE}/{ticket_id}"
        )
