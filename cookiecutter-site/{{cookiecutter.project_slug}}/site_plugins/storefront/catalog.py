"""Browsing and ordering: the home page, search, a gig's page, and placing an order.

Pages read ``GET /categories``, ``GET /listings``, ``GET /listings/{id}``,
``GET /listings/{id}/reviews`` and ``GET /gigs/{id}/quote``; ordering posts
``POST /gigs/{id}/orders``.
"""

from __future__ import annotations

from typing import Any

from agorakit.web import ApiError
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from .web import PREFIX, Shop

SORTS = {
    "relevance": "Best match",
    "newest": "Newest",
    "price_asc": "Price: low to high",
    "price_desc": "Price: high to low",
    "rating": "Best rated",
}


def flatten(tree: list[dict[str, Any]], depth: int = 0) -> list[dict[str, Any]]:
    """The category tree as a list in display order, each with its depth."""
    out: list[dict[str, Any]] = []
    for node in tree:
        out.append({"slug": node["slug"], "name": node["name"], "depth": depth})
        out += flatten(node.get("children") or [], depth + 1)
    return out


def whole_number(value: str | None, field: str, errors: dict[str, str], default: int = 1) -> int:
    """A form's text as an integer (forms send text; the API takes JSON integers)."""
    if value is None or value.strip() == "":
        return default
    text = value.strip()
    if not text.isdigit() or len(text) > 9:
        errors[field] = "enter a whole number"
        return default
    return int(text)


class CatalogPages(Controller):
    path = "/"

    @get("/", name="storefront_home")
    async def home(self, shop: NamedDependency[Shop]) -> Any:
        categories = flatten(await shop.api.get("/categories"))
        page = await shop.api.get("/listings", kind="gig", sort="newest", limit=shop.settings.page_size)
        return shop.render(
            "home.html",
            categories=categories,
            listings=page["items"],
            top=[c for c in categories if not c["depth"]],
        )

    @get("/search", name="storefront_search")
    async def search(
        self,
        shop: NamedDependency[Shop],
        q: FromQuery[str] = "",
        category: FromQuery[str] = "",
        sort: FromQuery[str] = "",
        cursor: FromQuery[str] = "",
    ) -> Any:
        categories = flatten(await shop.api.get("/categories"))
        sort = sort if sort in SORTS else ("relevance" if q else "newest")
        filters = {"q": q, "category": category, "sort": sort}
        try:
            page = await shop.api.get(
                "/listings", kind="gig", limit=shop.settings.page_size, cursor=cursor, **filters
            )
        except ApiError as exc:
            if exc.status != 422:
                raise
            return shop.render(
                "search.html",
                status=422,
                categories=categories,
                sorts=SORTS,
                filters=filters,
                listings=[],
                next_cursor=None,
                problem=exc.detail,
            )
        return shop.render(
            "search.html",
            categories=categories,
            sorts=SORTS,
            filters=filters,
            listings=page["items"],
            next_cursor=page["next_cursor"],
            problem=None,
        )

    async def _gig(self, shop: Shop, listing_id: int) -> dict[str, Any]:
        listing = await shop.api.get(f"/listings/{listing_id}")
        if listing["kind"] != "gig":
            raise ApiError(404, {"code": "not_found", "detail": f"there is no gig {listing_id}"})
        return listing

    async def _gig_page(
        self,
        shop: Shop,
        listing: dict[str, Any],
        *,
        chosen: list[str],
        quantity: int,
        requirements: str = "",
        errors: dict[str, str] | None = None,
        problem: str | None = None,
        status: int = 200,
    ) -> Any:
        listing_id = listing["id"]
        params: list[tuple[str, Any]] = [("extra", title) for title in chosen] + [("quantity", quantity)]
        try:
            quote = await shop.api.call("GET", f"/gigs/{listing_id}/quote", params=params)
        except ApiError as exc:  # an extra that no longer exists, a quantity too large
            quote = await shop.api.get(f"/gigs/{listing_id}/quote")
            errors = {**exc.field_errors(), **(errors or {})}
            status = 422 if status == 200 else status
        reviews = await shop.api.get(f"/listings/{listing_id}/reviews", limit=5)
        names = {c["slug"]: c["name"] for c in flatten(await shop.api.get("/categories"))}
        return shop.render(
            "listing.html",
            status=status,
            listing=listing,
            category_name=names.get(listing["category"], listing["category"]),
            quote=quote,
            chosen=chosen,
            quantity=quantity,
            requirements=requirements,
            reviews=reviews["items"],
            errors=errors or {},
            problem=problem,
            own=bool(shop.member and shop.member["id"] == listing["seller"]["id"]),
        )

    @get("/gigs/{listing_id:int}", name="storefront_gig")
    async def gig(
        self, shop: NamedDependency[Shop], listing_id: FromPath[int], request: Request[Any, Any, Any]
    ) -> Any:
        listing = await self._gig(shop, listing_id)
        errors: dict[str, str] = {}
        quantity = whole_number(request.query_params.get("quantity"), "quantity", errors)
        chosen = request.query_params.getall("extra", [])
        return await self._gig_page(
            shop, listing, chosen=chosen, quantity=quantity, errors=errors, status=422 if errors else 200
        )

    @post("/gigs/{listing_id:int}/order", name="storefront_order_gig")
    async def order(
        self, shop: NamedDependency[Shop], listing_id: FromPath[int], request: Request[Any, Any, Any]
    ) -> Any:
        """Place the order; with ``preview`` (the "Update price" button) only show the
        price of the chosen extras and quantity."""
        form = await request.form()
        listing = await self._gig(shop, listing_id)
        errors: dict[str, str] = {}
        quantity = whole_number(form.get("quantity"), "quantity", errors)
        chosen = [str(title) for title in form.getall("extra", [])]
        requirements = str(form.get("requirements") or "")
        if errors or form.get("preview"):
            return await self._gig_page(
                shop,
                listing,
                chosen=chosen,
                quantity=quantity,
                requirements=requirements,
                errors=errors,
                status=422 if errors else 200,
            )
        shop.require_member(f"{PREFIX}/gigs/{listing_id}")
        body = {"extras": chosen, "quantity": quantity, "requirements": requirements}
        try:
            order = await shop.api.post(f"/gigs/{listing_id}/orders", body)
        except ApiError as exc:
            if exc.status == 401:
                raise
            return await self._gig_page(
                shop,
                listing,
                chosen=chosen,
                quantity=quantity,
                requirements=requirements,
                errors=exc.field_errors(),
                problem=None if exc.errors else exc.detail,
                status=exc.status,
            )
        return shop.redirect(
            f"{PREFIX}/orders/{order['id']}", flash=f"Order {order['id']} placed: choose how to pay."
        )
