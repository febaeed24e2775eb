"""Testing the pages as a browser without JavaScript does: ``Visitor``.

A visitor keeps its own cookies (the session and the CSRF cookie), reads the CSRF token
of the last page it loaded and sends it with each form, like the browser would::

    async def test_my_page(client, make_member):
        seller = await make_member()
        async with Visitor(client.app) as browser:
            await browser.sign_in(seller)
            page = await browser.get("/shop/orders?role=seller")
            assert page.status_code == 200

Two visitors are two browsers (a buyer and a seller signed in at once).
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import httpx

CSRF_INPUT = re.compile(r'name="_csrf_token" value="([^"]+)"')
_ports = itertools.count(50100)


class Visitor:
    """One browser: cookies, the last page's CSRF token, forms sent as a browser sends them."""

    def __init__(self, app: Any, base_url: str = "http://testserver") -> None:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", next(_ports)))
        self.http = httpx.AsyncClient(transport=transport, base_url=base_url)
        self.csrf: str | None = None

    async def __aenter__(self) -> Visitor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    def _remember(self, response: httpx.Response) -> httpx.Response:
        found = (
            CSRF_INPUT.search(response.text) if "html" in response.headers.get("content-type", "") else None
        )
        if found:
            self.csrf = found.group(1)
        return response

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return self._remember(await self.http.get(path, params=params or None))

    async def post(
        self, path: str, data: dict[str, Any] | list[tuple[str, Any]] | None = None, *, csrf: bool = True
    ) -> httpx.Response:
        """Send a form (``data``: a dict, or pairs for a field sent several times), with
        the CSRF token of the last page unless ``csrf=False``."""
        fields = list(data.items()) if isinstance(data, dict) else list(data or [])
        if csrf:
            if self.csrf is None:
                await self.get("/shop")
            fields.append(("_csrf_token", self.csrf))
        form: dict[str, list[str]] = {}
        for name, value in fields:
            form.setdefault(name, []).append(str(value))
        response = await self.http.post(path, data=form)
        return self._remember(response)

    async def sign_in(self, login: Any) -> httpx.Response:
        """Sign in through the sign-in form as a member made by ``make_member``."""
        await self.get("/shop/sign-in")
        response = await self.post("/shop/sign-in", {"email": login.member.email, "password": login.password})
        if response.status_code != 303:
            raise AssertionError(f"signing in answered {response.status_code}: {response.text[:500]}")
        return response
