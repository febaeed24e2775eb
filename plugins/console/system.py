"""The site's machinery: failed order timers, failed emails and failed events (retry)."""

from __future__ import annotations

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from .web import PREFIX, ConsolePage

BASE = f"{PREFIX}/system"
#: tab -> (title, API list, the statuses it may show)
TABS = {
    "timers": ("Order timers", "/operator/timers", ("failed", "pending", "fired", "cancelled")),
    "emails": ("Emails", "/operator/emails", ("failed", "pending", "sending", "sent")),
    "events": ("Events", "/operator/events", ("failed", "pending", "published")),
}


class SystemPages(Controller):
    path = "/system"

    @get("")
    async def system(
        self,
        page: NamedDependency[ConsolePage],
        tab: FromQuery[str] = "timers",
        cursor: FromQuery[str | None] = None,
    ) -> Response[str]:
        if tab not in TABS:
            tab = "timers"
        title, path, statuses = TABS[tab]
        status = page.filters("status").get("status", "failed")
        answer = await page.api.get(path, status=status, cursor=cursor, limit=page.page_size)
        return page.render(
            "system.html",
            tabs=TABS,
            tab=tab,
            title=title,
            statuses=statuses,
            current=status,
            items=answer["items"],
            next_cursor=answer["next_cursor"],
            filters={"tab": tab, "status": status},
            cursor=cursor,
        )

    @post("/emails/{email_id:int}/retry")
    async def retry_email(self, page: NamedDependency[ConsolePage], email_id: FromPath[int]) -> Redirect:
        call = page.api.post(f"/operator/emails/{email_id}/retry")
        return await page.act(call, f"{BASE}?tab=emails", f"Email #{email_id} will be sent again now.")

    @post("/events/{event_id:int}/retry")
    async def retry_event(self, page: NamedDependency[ConsolePage], event_id: FromPath[int]) -> Redirect:
        call = page.api.post(f"/operator/events/{event_id}/retry")
        done = f"Event #{event_id} will be published again at the worker's next sweep."
        return await page.act(call, f"{BASE}?tab=events", done)
