"""The prepaid pages of the operator console, under ``/console/prepaid``.

Offers the screening holds, with their text, flags and request, to approve or reject
with a reason (``GET /operator/prepaid/offers/flagged``,
``POST /operator/prepaid/offers/{id}/approve|reject``); locks past their deadline
(``GET /operator/prepaid/locks/stuck``); every request by status, an open one withdrawn
with a reason and a full refund (``GET /operator/prepaid/requests``,
``POST /operator/prepaid/requests/{id}/cancel``); a seller's ended locks as a panel on
the member's console page (``GET /prepaid/sellers/{id}/releases``).  Access applications
are the console's qualifications, reports its disputes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from agorakit.web import ConsoleLink, ConsolePages, MemberPanel, PageContext

HERE = Path(__file__).parent
BASE = "/console/prepaid"
#: a request's statuses, for the requests page's filter
STATUSES = (
    "awaiting_payment",
    "open",
    "in_progress",
    "delivered",
    "reported",
    "completed",
    "refunded",
    "cancelled",
    "expired",
)
#: ended locks shown on a seller's panel
PANEL_RELEASES = 5


async def requests_by_id(page: PageContext, ids: set[int]) -> dict[int, dict[str, Any]]:
    """The requests of a page's offers, as the API shows them to operators."""
    return {request_id: await page.api.get(f"/prepaid/requests/{request_id}") for request_id in sorted(ids)}


class PrepaidPages(Controller):
    path = ""

    @get("/offers")
    async def offers(
        self, page: NamedDependency[PageContext], cursor: FromQuery[str | None] = None
    ) -> Response[str]:
        async def requests(answer: dict[str, Any]) -> dict[str, Any]:
            return {
                "requests": await requests_by_id(page, {offer["request_id"] for offer in answer["items"]})
            }

        return await page.render_list(
            "prepaid/offers.html", "/operator/prepaid/offers/flagged", cursor=cursor, more=requests
        )

    @post("/offers/{offer_id:int}/approve")
    async def approve(self, page: NamedDependency[PageContext], offer_id: FromPath[int]) -> Redirect:
        call = page.api.post(f"/operator/prepaid/offers/{offer_id}/approve")
        return await page.act(call, f"{BASE}/offers", f"Offer #{offer_id} let through to the buyer.")

    @post("/offers/{offer_id:int}/reject")
    async def reject(self, page: NamedDependency[PageContext], offer_id: FromPath[int]) -> Redirect:
        form = await page.form()
        call = page.api.post(
            f"/operator/prepaid/offers/{offer_id}/reject", {"reason": form.get("reason", "")}
        )
        done = f"Offer #{offer_id} rejected; its seller is told why."
        return await page.act(call, f"{BASE}/offers", done)

    @get("/locks")
    async def locks(
        self, page: NamedDependency[PageContext], cursor: FromQuery[str | None] = None
    ) -> Response[str]:
        return await page.render_list("prepaid/locks.html", "/operator/prepaid/locks/stuck", cursor=cursor)

    @get("/requests")
    async def requests(
        self, page: NamedDependency[PageContext], cursor: FromQuery[str | None] = None
    ) -> Response[str]:
        return await page.render_list(
            "prepaid/requests.html",
            "/operator/prepaid/requests",
            cursor=cursor,
            filters=["status"],
            statuses=STATUSES,
        )

    @post("/requests/{request_id:int}/withdraw")
    async def withdraw(self, page: NamedDependency[PageContext], request_id: FromPath[int]) -> Redirect:
        form = await page.form()
        call = page.api.post(
            f"/operator/prepaid/requests/{request_id}/cancel", {"reason": form.get("reason", "")}
        )
        back = form.get("back", "")
        back = back if back.startswith(f"{BASE}/requests") else f"{BASE}/requests"
        done = f"Request #{request_id} withdrawn; its buyer is told why (a paid one is refunded in full)."
        return await page.act(call, back, done)


async def releases_panel(page: PageContext, member: dict[str, Any]) -> MemberPanel | None:
    """The seller's locks that ended without a delivery, newest first (none: no panel)."""
    answer = await page.api.get(f"/prepaid/sellers/{member['id']}/releases", limit=PANEL_RELEASES)
    if not answer["items"]:
        return None
    rows = [
        (
            f"Request #{release['request_id']}",
            ("given up" if release["by"] == "seller" else "taken back by the buyer after the deadline")
            + (f": {release['reason']}" if release["reason"] else ""),
        )
        for release in answer["items"]
    ]
    if answer["next_cursor"]:
        rows.append(("Older", f"more than {PANEL_RELEASES} locks ended without a delivery"))
    return MemberPanel("Prepaid: locks ended without a delivery", rows)


def console_pages() -> ConsolePages:
    return ConsolePages(
        name="prepaid",
        title="Prepaid",
        handlers=[PrepaidPages],
        links=[
            ConsoleLink("Flagged offers", "offers"),
            ConsoleLink("Stuck locks", "locks"),
            ConsoleLink("Requests", "requests"),
        ],
        template_dir=HERE / "console_templates",
        queue_pages={"prepaid.offers_flagged": "offers", "prepaid.locks_stuck": "locks"},
        member_panels=[releases_panel],
    )


__all__ = ["PrepaidPages", "console_pages", "releases_panel"]
