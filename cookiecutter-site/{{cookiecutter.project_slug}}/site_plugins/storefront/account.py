"""Signing up, in and out.

Sign-up posts ``POST /auth/register`` and then signs the new member in with
``POST /auth/login``; the token the API answers is kept in the encrypted session cookie
(never shown to the page's scripts).  Signing out clears the cookie.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pycountry
from agorakit.web import ApiError
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery

from .web import PREFIX, Shop, safe_next


@cache
def countries() -> list[tuple[str, str]]:
    """(ISO code, name) of every country, by name, for the sign-up form."""
    return sorted(((c.alpha_2, c.name) for c in pycountry.countries), key=lambda item: item[1])


class AccountPages(Controller):
    path = "/"

    @get("/sign-in", name="storefront_sign_in")
    async def sign_in_form(self, shop: NamedDependency[Shop], next: FromQuery[str] = "") -> Any:
        return shop.render("sign_in.html", next=safe_next(next), email="", errors={}, problem=None)

    @post("/sign-in", name="storefront_sign_in_post")
    async def sign_in(self, shop: NamedDependency[Shop], request: Request[Any, Any, Any]) -> Any:
        form = await request.form()
        email = str(form.get("email") or "").strip()
        target = safe_next(str(form.get("next") or ""))
        try:
            answer = await shop.api.post(
                "/auth/login", {"email": email, "password": str(form.get("password") or "")}
            )
        except ApiError as exc:
            return shop.render(
                "sign_in.html",
                status=exc.status,
                next=target,
                email=email,
                errors=exc.field_errors(),
                problem=None if exc.errors else exc.detail,
            )
        shop.sign_in(answer["access_token"], answer["member"])
        return shop.redirect(target, flash=f"Welcome back, {answer['member']['display_name']}.")

    @get("/sign-up", name="storefront_sign_up")
    async def sign_up_form(self, shop: NamedDependency[Shop]) -> Any:
        terms = await shop.api.get("/terms")
        values = {"email": "", "display_name": "", "country": ""}
        return shop.render(
            "sign_up.html", countries=countries(), terms=terms, values=values, errors={}, problem=None
        )

    @post("/sign-up", name="storefront_sign_up_post")
    async def sign_up(self, shop: NamedDependency[Shop], request: Request[Any, Any, Any]) -> Any:
        form = await request.form()
        terms = await shop.api.get("/terms")
        values = {
            "email": str(form.get("email") or "").strip(),
            "display_name": str(form.get("display_name") or ""),
            "country": str(form.get("country") or ""),
        }
        password = str(form.get("password") or "")
        body = {**values, "password": password, "accept_terms": form.get("accept_terms") == "yes"}
        try:
            registered = await shop.api.post("/auth/register", body)
        except ApiError as exc:
            return shop.render(
                "sign_up.html",
                status=exc.status,
                countries=countries(),
                terms=terms,
                values=values,
                errors=exc.field_errors(),
                problem=None if exc.errors else exc.detail,
            )
        try:
            answer = await shop.api.post("/auth/login", {"email": values["email"], "password": password})
        except ApiError:
            # The site wants the address verified first, or it was registered already: the
            # API answers a registration the same way either way, and so does this page.
            return shop.redirect(
                f"{PREFIX}/sign-in", flash=f"{registered['detail'][:1].upper()}{registered['detail'][1:]}."
            )
        shop.sign_in(answer["access_token"], answer["member"])
        return shop.redirect(
            PREFIX, flash=f"Welcome, {answer['member']['display_name']}! Your account is ready."
        )

    @post("/sign-out", name="storefront_sign_out")
    async def sign_out(self, shop: NamedDependency[Shop]) -> Any:
        shop.sign_out()
        return shop.redirect(PREFIX)
