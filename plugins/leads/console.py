"""The leads pages of the operator console, under ``/console/leads``.

Jobs by status, pending ones first and oldest first (``GET /operator/leads``), with the
customer's text, details and place; a pending job is approved or rejected with a reason
through the catalog's review (``POST /operator/listings/{listing_id}/approve|reject``),
any job not yet ended is closed (``POST /leads/{id}/close``).  A business's report on a
lead it paid for is a core dispute (process ``lead_unlock``): the console's disputes
page lists them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from agorakit.web import ConsoleLink, ConsolePages, PageContext

HERE = Path(__file__).parent
BASE = "/console/leads"
#: a job's statuses, for the filter ("any": every job, newest first)
STATUSES = ("pending_review", "open", "rejected", "closed", "expired")
#: the job list's status when the page is opened: the review queue
DEFAULT_STATUS = "pending_review"
#: the console page of the refund reports on unlocked leads (the core's disputes)
REPORTS = "/console/disputes?process=lead_unlock"


def back_to(path: str) -> str:
    """A "back to" path from a form: the leads pages only."""
    return path if path.startswith(BASE) and not path.startswith("//") else BASE


async def review(page: PageContext, lead_id: int, action: str, body: Any = None) -> Any:
    """Approve or reject a job through its listing's review (the catalog's routes)."""
    lead = await page.api.get(f"/leads/{lead_id}")
    return await page.api.post(f"/operator/listings/{lead['listing_id']}/{action}", body)


class LeadPages(Controller):
    path = ""

    @get("")
    async def jobs(
        self, page: NamedDependency[PageContext], cursor: FromQuery[str | None] = None
    ) -> Response[str]:
        status = page.filters("status").get("status", DEFAULT_STATUS)
        return await page.render_list(
            "leads/jobs.html",
            "/operator/leads",
            cursor=cursor,
            filters=["status", "category"],
            params={"status": None if status == "any" else status},
            current=status,
            statuses=STATUSES,
            reports=REPORTS,
        )

    @post("/{lead_id:int}/approve")
    async def approve(self, page: NamedDependency[PageContext], lead_id: FromPath[int]) -> Redirect:
        form = await page.form()
        call = review(page, lead_id, "approve")
        done = f"Job #{lead_id} approved: it is open to matching businesses."
        return await page.act(call, back_to(form.get("back", "")), done)

    @post("/{lead_id:int}/reject")
    async def reject(self, page: NamedDependency[PageContext], lead_id: FromPath[int]) -> Redirect:
        form = await page.form()
        call = review(page, lead_id, "reject", {"reason": form.get("reason", "")})
        done = f"Job #{lead_id} rejected; its customer sees the reason."
        return await page.act(call, back_to(form.get("back", "")), done)

    @post("/{lead_id:int}/close")
    async def close(self, page: NamedDependency[PageContext], lead_id: FromPath[int]) -> Redirect:
        form = await page.form()
        call = page.api.post(f"/leads/{lead_id}/close", {"reason": form.get("reason", "")})
        done = f"Job #{lead_id} closed: it left every feed."
        return await page.act(call, back_to(form.get("back", "")), done)


def console_pages() -> ConsolePages:
    return ConsolePages(
        name="leads",
        title="Leads",
        handlers=[LeadPages],
        links=[ConsoleLink("Jobs", "")],
        template_dir=HERE / "console_templates",
        queue_pages={"leads.pending": ""},
    )


__all__ = ["LeadPages", "console_pages"]
