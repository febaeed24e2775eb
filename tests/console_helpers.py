"""Driving the operator console over HTTP in tests: sign in, read pages, post forms.

The browser tests (``tests/test_console_browser.py``) click through the pages in a
real Chromium; these helpers check the pages' rules (who may see what, CSRF, the API's
errors) quickly, in-process, on both databases.
"""

from __future__ import annotations

import html
import re
import tempfile
from pathlib import Path
from typing import Any

import httpx
from api_world import GIG, usd
from litestar import Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from agorakit import hookimpl
from agorakit.web import ConsolePages, MemberPanel, PageContext

CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')
ERROR = re.compile(r'<p class="flash error" role="alert">(.*?)</p>', re.S)

#: a site with the console and the plugins its pages serve
CONSOLE_SITE: dict[str, Any] = {
    "site": {"plugins": ["console", "gigs", "bank_transfer"]},
    "money": {"payment_methods": ["balance", "bank_transfer"], "payout_methods": ["bank_transfer"]},
}


def text_of(page: httpx.Response) -> str:
    """The page's visible text, roughly: tags dropped, entities decoded, spaces folded."""
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page.text, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def error_of(page: httpx.Response) -> str:
    """The page's error flash (the API's refusal), or ""."""
    found = ERROR.search(page.text)
    return found.group(1) if found else ""


async def ok(response: httpx.Response, status: int = 200) -> Any:
    """The API's answer, which must have ``status``."""
    assert response.status_code == status, response.text
    return response.json()


async def balance_of(client: httpx.AsyncClient, member: Any) -> dict:
    """The member's one balance line (``GET /me/balance``)."""
    (line,) = (await client.get("/me/balance", headers=member.headers)).json()["balances"]
    return line


class Console:
    """One operator's (or member's) browser on the console: cookies and the CSRF token."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        # its own cookie jar on the same app: two people, two browsers
        self.http = httpx.AsyncClient(transport=client._transport, base_url=client.base_url)
        self.csrf = ""

    async def __aenter__(self) -> Console:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def get(self, path: str, **params: Any) -> httpx.Response:
        page = await self.http.get(path, params=params or None)
        if match := CSRF.search(page.text):
            self.csrf = match.group(1)
        return page

    async def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True
    ) -> httpx.Response:
        """Post a form as the page would (with the token of the last page read)."""
        form = dict(data or {})
        if csrf:
            form["_csrf_token"] = self.csrf
        return await self.http.post(path, data=form)

    async def sign_in(self, email: str, password: str) -> httpx.Response:
        await self.get("/console/sign-in")
        return await self.post("/console/sign-in", {"email": email, "password": password})


async def signed_in(client: httpx.AsyncClient, person: Any) -> Console:
    """A browser signed in to the console as ``person`` (the testing kit's member)."""
    browser = Console(client)
    answer = await browser.sign_in(person.member.email, person.password)
    assert answer.status_code == 303, answer.text
    return browser


async def pending_gig(
    client: httpx.AsyncClient, seller: Any, title: str = "I will design a minimalist logo"
) -> dict:
    """A gig its seller submitted for review."""
    gig = (await client.post("/listings", json={**GIG, "title": title}, headers=seller.headers)).json()
    response = await client.post(f"/listings/{gig['id']}/submit", headers=seller.headers)
    assert response.status_code == 200, response.text
    return response.json()


@get("/{member_id:int}")
async def member_panels(page: NamedDependency[PageContext], member_id: FromPath[int]) -> Response[str]:
    """Every plugin's panels of a member, as a member's console page shows them."""
    member = await page.api.get(f"/operator/members/{member_id}")
    parts = page.runtime.hooks.collect_sync("agorakit_console_pages", runtime=page.runtime)
    panels: list[MemberPanel] = []
    for part in parts:
        for factory in part.member_panels:
            if (panel := await factory(page, member)) is not None:
                panels.append(panel)
    return page.render("panels/panels.html", panels=panels)


class MemberPanels:
    """An extra plugin (``extra_plugins``) showing a member's panels at
    ``/console/panels/{member_id}``: a stand-in for the member page, for the plugins'
    panel tests."""

    templates = Path(tempfile.mkdtemp(prefix="console-panels-"))
    (templates / "panels").mkdir()
    (templates / "panels" / "panels.html").write_text(
        '{% extends "base.html" %}{% block content %}<h1>Panels</h1>'
        "{% for panel in panels %}<section><h2>{{ panel.title }}</h2>"
        "{% for label, value in panel.rows %}<p>{{ label }}: {{ value }}</p>{% endfor %}"
        '{% if panel.link %}<a href="{{ panel.link }}">More</a>{% endif %}</section>{% endfor %}'
        "{% endblock %}"
    )

    @staticmethod
    @hookimpl
    def agorakit_console_pages(runtime):
        return ConsolePages(
            name="panels", title="Panels", handlers=[member_panels], template_dir=MemberPanels.templates
        )


__all__ = [
    "CONSOLE_SITE",
    "Console",
    "MemberPanels",
    "balance_of",
    "error_of",
    "ok",
    "pending_gig",
    "signed_in",
    "text_of",
    "usd",
]
