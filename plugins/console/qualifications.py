"""Applications to sell in a category: the queue, each one's evidence, approve, reject or
revoke."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from .evidence import member_names
from .web import PREFIX, ConsolePage

BASE = f"{PREFIX}/qualifications"
STATUSES = ("pending", "approved", "rejected", "revoked")


class QualificationPages(Controller):
    path = "/qualifications"

    @get("")
    async def queue(
        self, page: NamedDependency[ConsolePage], cursor: FromQuery[str | None] = None
    ) -> Response[str]:
        async def names(answer: dict[str, Any]) -> dict[str, Any]:
            return {"names": await member_names(page, (item["member_id"] for item in answer["items"]))}

        return await page.render_list(
            "qualifications.html",
            "/operator/qualifications",
            cursor=cursor,
            filters=["status", "category"],
            more=names,
            statuses=STATUSES,
        )

    @post("/{qualification_id:int}/approve")
    async def approve(self, page: NamedDependency[ConsolePage], qualification_id: FromPath[int]) -> Redirect:
        call = page.api.post(f"/operator/qualifications/{qualification_id}/approve")
        return await page.act(call, BASE, f"Application #{qualification_id} approved.")

    @post("/{qualification_id:int}/reject")
    async def reject(self, page: NamedDependency[ConsolePage], qualification_id: FromPath[int]) -> Redirect:
        form = await page.form()
        call = page.api.post(
            f"/operator/qualifications/{qualification_id}/reject", {"reason": form.get("reason", "")}
        )
        done = f"Application #{qualification_id} rejected; the member sees the reason and may apply again."
        return await page.act(call, BASE, done)

    @post("/{qualification_id:int}/revoke")
    async def revoke(self, page: NamedDependency[ConsolePage], qualification_id: FromPath[int]) -> Redirect:
        form = await page.form()
        call = page.api.post(
            f"/operator/qualifications/{qualification_id}/revoke", {"reason": form.get("reason", "")}
        )
        back = f"{BASE}?status=approved"
        done = f"Access #{qualification_id} revoked; the member is told the reason."
        return await page.act(call, back, done)
