"""Reviews: every review (or the hidden ones), hide one with a reason, show it again."""

from __future__ import annotations

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from agorakit.web import safe_next

from .web import PREFIX, ConsolePage

BASE = f"{PREFIX}/reviews"


class ReviewPages(Controller):
    path = "/reviews"

    @get("")
    async def reviews(
        self, page: NamedDependency[ConsolePage], cursor: FromQuery[str | None] = None
    ) -> Response[str]:
        return await page.render_list("reviews.html", "/operator/reviews", cursor=cursor, filters=["hidden"])

    @post("/{review_id:int}/hide")
    async def hide(self, page: NamedDependency[ConsolePage], review_id: FromPath[int]) -> Redirect:
        form = await page.form()
        call = page.api.post(f"/operator/reviews/{review_id}/hide", {"reason": form.get("reason", "")})
        done = f"Review #{review_id} hidden from public lists and ratings."
        return await page.act(call, safe_next(form.get("back"), BASE), done)

    @post("/{review_id:int}/unhide")
    async def unhide(self, page: NamedDependency[ConsolePage], review_id: FromPath[int]) -> Redirect:
        form = await page.form()
        call = page.api.post(f"/operator/reviews/{review_id}/unhide")
        return await page.act(call, safe_next(form.get("back"), BASE), f"Review #{review_id} is shown again.")
