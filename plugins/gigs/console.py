"""The gigs plugin's pages in the operator console (``/console/gigs``).

- **Gig orders needing attention**: running gig orders (``GET /operator/orders`` with
  ``kind=gig_order``), each with its delivery deadline (``GET /orders/{id}``: late once
  it has passed) and its open cancellation proposal (``GET /gigs/orders/{id}/cancellation``),
  linking to the order's console page.
- A **"Gigs" panel** on a member's console page: their record as a gig seller
  (``GET /gigs/sellers/{id}/record``).

Every read is a call to the site's API with the operator's token.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery

from agorakit.web import ApiError, ConsoleLink, ConsolePages, MemberPanel, PageContext

NAME = "gigs"
PROCESS = "gig_order"
#: the states of a gig order that can need an operator's eye, the first the default
STATES = ("in_progress", "delivered")


def _instant(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


async def attention(page: PageContext, row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """An order row with its deadline, whether it is late, and its open cancellation proposal."""
    order = await page.api.get(f"/orders/{row['id']}")
    proposals = await page.api.get(f"/gigs/orders/{row['id']}/cancellation")
    deadline = (order.get("data") or {}).get("deadline")
    at = _instant(deadline)
    late = row["state"] == "in_progress" and at is not None and at <= now
    proposal = next((p for p in proposals if p["status"] == "open"), None)
    return {
        **row,
        "deadline": deadline,
        "late": late,
        "late_seconds": (now - at).total_seconds() if late and at else None,
        "proposal": proposal,
        "needs_attention": late or proposal is not None,
    }


class GigPages(Controller):
    path = ""

    @get("/orders")
    async def orders(
        self, page: NamedDependency[PageContext], cursor: FromQuery[str | None] = None
    ) -> Response[str]:
        filters = page.filters("state", "member_id", "show")
        state = filters.get("state", "")
        state = filters["state"] = state if state in STATES else STATES[0]
        everything = filters.get("show") == "all"
        answer = await page.api.get(
            "/operator/orders",
            kind=PROCESS,
            state=state,
            member_id=filters.get("member_id"),
            cursor=cursor,
            limit=page.page_size,
        )
        now = page.runtime.clock.now()
        items = [await attention(page, row, now) for row in answer["items"]]
        shown = items if everything else [item for item in items if item["needs_attention"]]
        return page.render(
            "gigs/orders.html",
            items=shown,
            hidden=len(items) - len(shown),
            states=STATES,
            everything=everything,
            filters=filters,
            next_cursor=answer["next_cursor"],
            cursor=cursor,
        )


async def seller_panel(page: PageContext, member: dict[str, Any]) -> MemberPanel | None:
    """The member's record as a gig seller, with a link to their running gig orders."""
    try:
        record = await page.api.get(f"/gigs/sellers/{member['id']}/record")
    except ApiError as error:
        if error.status == 404:
            return None
        raise
    rows = [
        ("Gig orders completed", str(record["completed"])),
        ("Cancelled by them as the seller, before delivering", str(record["cancelled_by_seller"])),
    ]
    return MemberPanel("Gigs", rows, link=f"/console/{NAME}/orders?member_id={member['id']}")


def console_pages() -> ConsolePages:
    return ConsolePages(
        name=NAME,
        title="Gigs",
        handlers=[GigPages],
        links=[ConsoleLink("Gig orders needing attention", "orders")],
        template_dir=Path(__file__).parent / "console_templates",
        member_panels=[seller_panel],
    )
