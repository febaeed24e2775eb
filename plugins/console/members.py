"""Members: the search, a member's page (profile, money, orders, reviews, the plugins'
panels) and the actions operators take on a member (suspend, reactivate, warn, flag)."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from agorakit.web import ApiError, MemberPanel

from .web import PREFIX, ConsolePage

BASE = f"{PREFIX}/members"
#: rows of each list on a member's page (orders, withdrawals, payments, reviews)
RECENT = 10

log = logging.getLogger("agorakit.console")


async def member_panels(page: ConsolePage, member: dict[str, Any]) -> list[dict[str, Any]]:
    """The plugins' panels for ``member``: each shown, or said to be unavailable (with the
    API's reason) when it fails; one panel failing never breaks the page."""
    shown = []
    for part in page.site.parts:
        for factory in part.member_panels:
            try:
                panel = await factory(page, member)
            except ApiError as error:
                if error.session_ended:
                    raise
                shown.append({"part": part.title, "panel": None, "error": error.message()})
                continue
            except Exception:
                log.exception("member panel of %s failed for member %s", part.name, member.get("id"))
                error_text = "The panel could not be shown; the error has been logged."
                shown.append({"part": part.title, "panel": None, "error": error_text})
                continue
            if isinstance(panel, MemberPanel):
                shown.append({"part": part.title, "panel": panel, "error": None})
    return shown


class MemberPages(Controller):
    path = "/members"

    @get("")
    async def members(
        self, page: NamedDependency[ConsolePage], cursor: FromQuery[str | None] = None
    ) -> Response[str]:
        filters = ["q", "status", "role", "flagged"]
        return await page.render_list(
            "members.html", "/operator/members", cursor=cursor, filters=filters, show_refusal=True
        )

    @get("/{member_id:int}")
    async def member(self, page: NamedDependency[ConsolePage], member_id: FromPath[int]) -> Response[str]:
        member = await page.api.get(f"/operator/members/{member_id}")
        balance = await page.api.get(f"/operator/members/{member_id}/balance")
        orders = await page.api.get("/operator/orders", member_id=member_id, limit=RECENT)
        withdrawals = await page.api.get("/operator/withdrawals", member_id=member_id, limit=RECENT)
        payments = await page.api.get("/operator/payments", member_id=member_id, limit=RECENT)
        reviews = await page.api.get(f"/members/{member_id}/reviews", limit=RECENT)
        rating = await page.api.get(f"/members/{member_id}/rating")
        return page.render(
            "member.html",
            member=member,
            balances=balance["balances"],
            orders=orders,
            withdrawals=withdrawals,
            payments=payments,
            reviews=reviews,
            rating=rating,
            panels=await member_panels(page, member),
        )

    @post("/{member_id:int}/suspend")
    async def suspend(self, page: NamedDependency[ConsolePage], member_id: FromPath[int]) -> Redirect:
        form = await page.form()
        call = page.api.post(f"/operator/members/{member_id}/suspend", {"reason": form.get("reason", "")})
        done = f"Member #{member_id} suspended: their sign-ins and tokens are refused."
        return await page.act(call, f"{BASE}/{member_id}", done)

    @post("/{member_id:int}/reactivate")
    async def reactivate(self, page: NamedDependency[ConsolePage], member_id: FromPath[int]) -> Redirect:
        call = page.api.post(f"/operator/members/{member_id}/reactivate")
        return await page.act(call, f"{BASE}/{member_id}", f"Member #{member_id} reactivated.")

    @post("/{member_id:int}/warn")
    async def warn(self, page: NamedDependency[ConsolePage], member_id: FromPath[int]) -> Redirect:
        form = await page.form()
        call = page.api.post(f"/operator/members/{member_id}/warnings", {"reason": form.get("reason", "")})
        done = f"Member #{member_id} warned; they are told the reason."
        return await page.act(call, f"{BASE}/{member_id}", done)

    @post("/{member_id:int}/flag")
    async def flag(self, page: NamedDependency[ConsolePage], member_id: FromPath[int]) -> Redirect:
        form = await page.form()
        call = page.api.post(f"/operator/members/{member_id}/flag", {"reason": form.get("reason", "")})
        done = f"Member #{member_id} flagged for operators' attention."
        return await page.act(call, f"{BASE}/{member_id}", done)

    @post("/{member_id:int}/unflag")
    async def unflag(self, page: NamedDependency[ConsolePage], member_id: FromPath[int]) -> Redirect:
        call = page.api.call("DELETE", f"/operator/members/{member_id}/flag")
        return await page.act(call, f"{BASE}/{member_id}", f"Member #{member_id}'s flag removed.")
