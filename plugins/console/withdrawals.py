"""Withdrawals: the queue (status, method, overdue), mark a manual payout paid or failed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from agorakit.web import safe_next

from .evidence import member_names
from .web import PREFIX, ConsolePage

BASE = f"{PREFIX}/withdrawals"
STATUSES = ("requested", "processing", "completed", "failed", "cancelled")
#: the states in which an operator may still settle a withdrawal by hand
OPEN = ("requested", "processing")


class WithdrawalPages(Controller):
    path = "/withdrawals"

    @get("")
    async def queue(
        self, page: NamedDependency[ConsolePage], cursor: FromQuery[str | None] = None
    ) -> Response[str]:
        async def ages_and_names(answer: dict[str, Any]) -> dict[str, Any]:
            now = page.runtime.clock.now()
            for item in answer["items"]:
                created = datetime.fromisoformat(item["created_at"].replace("Z", "+00:00"))
                item["age_seconds"] = (now - created).total_seconds()
            return {"names": await member_names(page, (item["member_id"] for item in answer["items"]))}

        return await page.render_list(
            "withdrawals.html",
            "/operator/withdrawals",
            cursor=cursor,
            filters=["status", "method", "overdue"],
            more=ages_and_names,
            statuses=STATUSES,
            open_statuses=OPEN,
        )

    @post("/{withdrawal_id:int}/complete")
    async def complete(self, page: NamedDependency[ConsolePage], withdrawal_id: FromPath[int]) -> Redirect:
        form = await page.form()
        body = {"provider_ref": form["provider_ref"]} if form.get("provider_ref") else {}
        call = page.api.post(f"/operator/withdrawals/{withdrawal_id}/complete", body)
        done = f"Withdrawal #{withdrawal_id} marked paid."
        return await page.act(call, safe_next(form.get("back"), BASE), done)

    @post("/{withdrawal_id:int}/fail")
    async def fail(self, page: NamedDependency[ConsolePage], withdrawal_id: FromPath[int]) -> Redirect:
        form = await page.form()
        call = page.api.post(
            f"/operator/withdrawals/{withdrawal_id}/fail", {"reason": form.get("reason", "")}
        )
        done = f"Withdrawal #{withdrawal_id} marked failed: the money is back on the member's balance."
        return await page.act(call, safe_next(form.get("back"), BASE), done)
