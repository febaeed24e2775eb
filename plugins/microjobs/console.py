"""The microjobs pages of the operator console, under ``/console/microjobs``.

Every campaign with its budget and positions (``GET /operator/microjobs/campaigns``); a
campaign's page with its instructions, proof fields and tasks with their proofs
(``GET /microjobs/campaigns/{id}`` and ``.../tasks``), and pause, resume or stop with a
reason told to the employer (``POST /operator/microjobs/campaigns/{id}/pause|resume|stop``);
a worker's success rate and tasks (``GET /operator/microjobs/workers/{id}``), also a
panel on the member's console page.  New campaigns are reviewed in the console's
listings queue; disputed tasks in its disputes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from agorakit.plugins.microjobs.operator import STATES
from agorakit.plugins.microjobs.process import click_process, task_process
from agorakit.web import ApiError, ConsoleLink, ConsolePages, MemberPanel, PageContext

HERE = Path(__file__).parent
BASE = "/console/microjobs"


def task_states(page: PageContext) -> tuple[str, ...]:
    """A task's states, for the campaign page's filter: the task and click processes'."""
    settings = page.runtime.plugin_settings("microjobs")
    states = [*task_process(settings).states, *click_process(settings).states]
    return tuple(dict.fromkeys(states))


#: what each operator action tells the employer it did
MOVES = {"pause": "paused", "resume": "resumed", "stop": "stopped"}


class MicrojobsPages(Controller):
    path = ""

    @get("/campaigns")
    async def campaigns(
        self, page: NamedDependency[PageContext], cursor: FromQuery[str | None] = None
    ) -> Response[str]:
        return await page.render_list(
            "microjobs/campaigns.html",
            "/operator/microjobs/campaigns",
            cursor=cursor,
            filters=["state"],
            states=STATES,
        )

    @get("/campaigns/{campaign_id:int}")
    async def campaign(
        self,
        page: NamedDependency[PageContext],
        campaign_id: FromPath[int],
        cursor: FromQuery[str | None] = None,
    ) -> Response[str]:
        campaign = await page.api.get(f"/microjobs/campaigns/{campaign_id}")
        listing = await page.api.get(f"/listings/{campaign['listing_id']}")
        filters = page.filters("status")
        tasks = await page.api.get(
            f"/microjobs/campaigns/{campaign_id}/tasks", cursor=cursor, limit=page.page_size, **filters
        )
        return page.render(
            "microjobs/campaign.html",
            campaign=campaign,
            listing=listing,
            tasks=tasks["items"],
            next_cursor=tasks["next_cursor"],
            filters=filters,
            cursor=cursor,
            task_states=task_states(page),
        )

    @post("/campaigns/{campaign_id:int}/{action:str}")
    async def move(
        self, page: NamedDependency[PageContext], campaign_id: FromPath[int], action: FromPath[str]
    ) -> Redirect:
        back = f"{BASE}/campaigns/{campaign_id}"
        if action not in MOVES:
            return page.redirect(back, f"There is no action {action!r} on a campaign.", "error")
        form = await page.form()
        call = page.api.post(
            f"/operator/microjobs/campaigns/{campaign_id}/{action}", {"reason": form.get("reason", "")}
        )
        done = f"Campaign #{campaign_id} {MOVES[action]}; its employer is told why."
        return await page.act(call, back, done)

    @get("/workers/{member_id:int}")
    async def worker(
        self,
        page: NamedDependency[PageContext],
        member_id: FromPath[int],
        cursor: FromQuery[str | None] = None,
    ) -> Response[str]:
        filters = page.filters("status")
        worker = await page.api.get(
            f"/operator/microjobs/workers/{member_id}", cursor=cursor, limit=page.page_size, **filters
        )
        return page.render(
            "microjobs/worker.html",
            worker=worker,
            tasks=worker["tasks"],
            next_cursor=worker["next_cursor"],
            filters=filters,
            cursor=cursor,
            task_states=task_states(page),
        )


async def worker_panel(page: PageContext, member: dict[str, Any]) -> MemberPanel | None:
    """The member's record as a worker: success rate and tasks (none: no panel)."""
    try:
        worker = await page.api.get(f"/operator/microjobs/workers/{member['id']}", limit=1)
    except ApiError as error:
        if error.status == 404:
            return None
        raise
    stats = worker["stats"]
    if not (stats["rated"] or stats["in_progress"] or stats["clicks"] or worker["tasks"]):
        return None
    rate = f"{stats['success_rate']} %" if stats["success_rate"] is not None else "no rated task yet"
    rows = [
        ("Success rate", rate),
        ("Tasks rated", f"{stats['satisfied']} satisfied of {stats['rated']}"),
        ("Tasks in progress", str(stats["in_progress"])),
        ("Paid-to-click visits", str(stats["clicks"])),
    ]
    return MemberPanel("Microjobs", rows, link=f"{BASE}/workers/{member['id']}")


def console_pages() -> ConsolePages:
    return ConsolePages(
        name="microjobs",
        title="Microjobs",
        handlers=[MicrojobsPages],
        links=[ConsoleLink("Campaigns", "campaigns")],
        template_dir=HERE / "console_templates",
        member_panels=[worker_panel],
    )


__all__ = ["MicrojobsPages", "console_pages", "worker_panel"]
