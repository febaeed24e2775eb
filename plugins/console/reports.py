"""Members' reports on conversations: the queue, a report with the captured conversation,
and the decision (warn, suspend or dismiss)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from .evidence import member_names
from .web import PREFIX, ConsolePage

BASE = f"{PREFIX}/reports"
DONE = {
    "warn": "the member is warned",
    "suspend": "the member is suspended",
    "dismiss": "dismissed without action",
}


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Whom a decision may act on: the reported member, or for a report on a whole
    conversation its other participants as captured."""
    people = (report.get("evidence") or {}).get("participants") or []
    if report.get("member_id"):
        return [person for person in people if person["id"] == report["member_id"]] or [
            {"id": report["member_id"], "display_name": f"member #{report['member_id']}"}
        ]
    return [person for person in people if person["id"] != report["reporter_id"]]


class ReportPages(Controller):
    path = "/reports"

    @get("")
    async def queue(
        self, page: NamedDependency[ConsolePage], cursor: FromQuery[str | None] = None
    ) -> Response[str]:
        async def names(answer: dict[str, Any]) -> dict[str, Any]:
            ids = [i for item in answer["items"] for i in (item["reporter_id"], item["member_id"])]
            return {"names": await member_names(page, ids)}

        return await page.render_list(
            "reports.html", "/operator/reports", cursor=cursor, filters=["status"], more=names
        )

    @get("/{report_id:int}")
    async def report(self, page: NamedDependency[ConsolePage], report_id: FromPath[int]) -> Response[str]:
        report = await page.api.get(f"/operator/reports/{report_id}")
        names = await member_names(
            page, [report["reporter_id"], report["member_id"], report["acted_on"], report["decided_by"]]
        )
        return page.render("report.html", report=report, names=names, targets=targets(report))

    @post("/{report_id:int}/decide")
    async def decide(self, page: NamedDependency[ConsolePage], report_id: FromPath[int]) -> Redirect:
        form = await page.form()
        action = form.get("action", "")
        body: dict[str, Any] = {"action": action, "note": form.get("note", "")}
        if form.get("member_id") and action != "dismiss":
            body["member_id"] = int(form["member_id"]) if form["member_id"].isdigit() else form["member_id"]
        call = page.api.post(f"/operator/reports/{report_id}/decide", body)
        done = f"Report #{report_id} decided: {DONE.get(action, action)}."
        return await page.act(call, BASE, done, failed=f"{BASE}/{report_id}")
