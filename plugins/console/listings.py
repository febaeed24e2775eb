"""Listings waiting for review: the queue, a listing's evidence, approve or reject."""

from __future__ import annotations

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from .web import PREFIX, ConsolePage

BASE = f"{PREFIX}/listings"


class ListingPages(Controller):
    path = "/listings"

    @get("")
    async def queue(
        self, page: NamedDependency[ConsolePage], cursor: FromQuery[str | None] = None
    ) -> Response[str]:
        return await page.render_list(
            "listings.html",
            "/operator/listings/pending",
            cursor=cursor,
            filters=["kind"],
            more=lambda answer: {"target_hours": answer["review_target_hours"]},
        )

    @get("/{listing_id:int}")
    async def listing(self, page: NamedDependency[ConsolePage], listing_id: FromPath[int]) -> Response[str]:
        listing = await page.api.get(f"/listings/{listing_id}")
        return page.render("listing.html", listing=listing)

    @post("/{listing_id:int}/approve")
    async def approve(self, page: NamedDependency[ConsolePage], listing_id: FromPath[int]) -> Redirect:
        call = page.api.post(f"/operator/listings/{listing_id}/approve")
        return await page.act(call, BASE, f"Listing #{listing_id} approved: it is published.")

    @post("/{listing_id:int}/reject")
    async def reject(self, page: NamedDependency[ConsolePage], listing_id: FromPath[int]) -> Redirect:
        form = await page.form()
        call = page.api.post(f"/operator/listings/{listing_id}/reject", {"reason": form.get("reason", "")})
        done = f"Listing #{listing_id} rejected; its owner sees the reason."
        return await page.act(call, BASE, done, failed=f"{BASE}/{listing_id}")
