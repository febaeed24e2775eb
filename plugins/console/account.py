"""Signing in and out of the console.

Signing in is the API's ``POST /auth/login`` (its password check, its per-address and
per-account throttles, its refusal of suspended accounts); the console keeps the token
only for operators and owners, and refuses members with 403.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Redirect

from agorakit.web import ApiError, safe_next

from .web import OPERATOR_ROLES, PREFIX, ConsolePage

PUBLIC = {"console_public": True}


class AccountPages(Controller):
    path = ""

    @get("/sign-in", opt=PUBLIC)
    async def sign_in_form(
        self, page: NamedDependency[ConsolePage], next: FromQuery[str | None] = None
    ) -> Response[Any]:
        if page.user and page.user.get("role") in OPERATOR_ROLES:
            return page.redirect(safe_next(next, PREFIX))
        return page.render("sign_in.html", next=safe_next(next, PREFIX), email="", error=None)

    @post("/sign-in", opt=PUBLIC)
    async def sign_in(self, page: NamedDependency[ConsolePage]) -> Response[Any]:
        form = await page.form()
        email, back = form.get("email", ""), safe_next(form.get("next"), PREFIX)
        try:
            answer = await page.api.post(
                "/auth/login", {"email": email, "password": form.get("password", "")}
            )
        except ApiError as error:
            if error.status >= 500:
                raise
            text = "Wrong email or password." if error.status in (401, 422) else error.message()
            return page.render("sign_in.html", status=error.status, next=back, email=email, error=text)
        member = answer["member"]
        if member.get("role") not in OPERATOR_ROLES:
            page.sign_out()
            detail = "The console is for the site's operators. Members use the site itself."
            return page.error_page(403, "Operators only", detail)
        page.sign_in(
            answer["access_token"],
            {key: member[key] for key in ("id", "display_name", "email", "role")},
        )
        page.session["role_checked_at"] = page.runtime.clock.now().timestamp()
        page.save_session()
        return page.redirect(back)

    @post("/sign-out", opt=PUBLIC)
    async def sign_out(self, page: NamedDependency[ConsolePage]) -> Redirect:
        page.sign_out()
        page.flash("You are signed out.", "info")
        return page.redirect(f"{PREFIX}/sign-in")
