"""Integration tokens: the read-only API tokens operators make for outside systems; the
list, making one (its secret shown once, on the page that answers the form) and revoking
one (after a confirmation)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from agorakit.web import ApiError

from .web import PREFIX, ConsolePage, utc_time

BASE = f"{PREFIX}/integration-tokens"
API = "/operator/integration-tokens"


async def known_scopes(page: ConsolePage) -> list[dict[str, Any]]:
    """Every scope a token may hold, with what it lets a token read."""
    return (await page.api.get("/operator/integration-scopes"))["items"]


class IntegrationTokenPages(Controller):
    path = "/integration-tokens"

    @get("")
    async def tokens(
        self, page: NamedDependency[ConsolePage], cursor: FromQuery[str | None] = None
    ) -> Response[str]:
        async def scopes(answer: dict[str, Any]) -> dict[str, Any]:
            return {"scopes": await known_scopes(page)}

        return await page.render_list("integration_tokens.html", API, cursor=cursor, more=scopes)

    @post("")
    async def create(self, page: NamedDependency[ConsolePage]) -> Response[Any]:
        data = await page.request.form()
        expires = str(data.get("expires_at") or "").strip()
        body = {
            "name": str(data.get("name") or "").strip(),
            "scopes": [str(scope) for scope in data.getall("scopes", [])],
            "expires_at": utc_time(expires) if expires else None,
        }
        try:
            answer = await page.api.post(API, body)
        except ApiError as error:
            if not error.refusal:
                raise
            return page.redirect(BASE, f"The token was not made: {error.message()}", "error")
        return page.render(
            "integration_token_made.html", token=answer["integration_token"], secret=answer["token"]
        )

    @get("/{token_id:int}/revoke")
    async def confirm_revoke(
        self, page: NamedDependency[ConsolePage], token_id: FromPath[int]
    ) -> Response[str]:
        token = await page.api.get(f"{API}/{token_id}")
        return page.render("integration_token_revoke.html", token=token)

    @post("/{token_id:int}/revoke")
    async def revoke(self, page: NamedDependency[ConsolePage], token_id: FromPath[int]) -> Redirect:
        call = page.api.call("DELETE", f"{API}/{token_id}")
        done = f"Integration token #{token_id} revoked: it is refused from its next request."
        return await page.act(call, BASE, done)
