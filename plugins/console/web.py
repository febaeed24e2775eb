"""The console's plumbing: its pages' context, the plugins' parts, errors.

Every page is a :class:`ConsolePage` (an :class:`agorakit.web.PageContext`) given to the
handler as the dependency ``page``.  Pages need a signed-in operator, except those marked
``opt={"console_public": True}`` (signing in): the dependency itself sends anyone else to
the sign-in page, so a plugin's page cannot forget the check.  Every read and every
action is a call to the site's API with the operator's token (``page.api``), so the API
decides who may do what, exactly as for any other client.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from litestar import Request
from litestar.di import NamedDependency

from agorakit.runtime import Runtime, runtime_of
from agorakit.web import (
    FILTERS,
    ConsoleLink,
    ConsolePages,
    PageContext,
    PageSecurity,
    SignInRequired,
    page_exception_handlers,
)

NAME = "console"
PREFIX = "/console"
STATIC_PREFIX = "/static/console"
HERE = Path(__file__).parent
#: the roles that may sign in to the console
OPERATOR_ROLES = frozenset({"operator", "owner"})
#: seconds between two checks of a signed-in operator's role with the API
ROLE_CHECK_SECONDS = 60
#: a ``datetime-local`` input's value (no offset): the console's times are UTC
LOCAL_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")

log = logging.getLogger("agorakit.console")


@dataclass
class ConsoleSite:
    """What the console is made of on one app: the core's pages and the plugins'."""

    security: PageSecurity
    templates: jinja2.Environment
    parts: list[ConsolePages]
    #: navigation groups: (title, [(title, absolute path)])
    nav: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)
    #: queue key -> absolute console path of the page listing it
    queue_pages: dict[str, str] = field(default_factory=dict)


def console_path(part: ConsolePages, path: str) -> str:
    return f"{PREFIX}/{part.name}" + (f"/{path.lstrip('/')}" if path.strip("/") else "")


def build_site(
    parts: list[ConsolePages], core_nav: list[tuple[str, list[tuple[str, str]]]], security: PageSecurity
) -> ConsoleSite:
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(HERE / "templates")]
    loaders += [jinja2.FileSystemLoader(part.template_dir) for part in parts if part.template_dir]
    templates = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    templates.filters.update(FILTERS)
    templates.globals.update(query=query_string, static=STATIC_PREFIX)
    site = ConsoleSite(security, templates, parts, list(core_nav))
    for part in sorted(parts, key=lambda p: p.title):
        links = [
            (link.title, console_path(part, link.path)) for link in part.links or [ConsoleLink(part.title)]
        ]
        site.nav.append((part.title, links))
        for key, path in part.queue_pages.items():
            site.queue_pages[key] = console_path(part, path)
    return site


def query_string(values: dict[str, Any], **changes: Any) -> str:
    """``?a=1&b=2`` from a page's filters with some changed (None drops a key)."""
    merged = {**values, **changes}
    pairs = {key: value for key, value in merged.items() if value not in (None, "", False)}
    return "?" + urlencode(pairs) if pairs else ""


def utc_time(value: str) -> str:
    """A ``datetime-local`` input's value as an ISO instant in UTC (the times the console
    shows are UTC); anything else as typed, for the API to say what is wrong with it."""
    value = value.strip()
    return f"{value}Z" if LOCAL_TIME.match(value) else value


class ConsolePage(PageContext):
    """A console page: the signed-in operator, their API, the console's templates."""

    prefix = PREFIX

    def __init__(self, request: Request[Any, Any, Any], runtime: Runtime, site: ConsoleSite) -> None:
        super().__init__(request, runtime)
        self.site = site
        self.templates = site.templates
        self.settings = runtime.plugin_settings(NAME)
        self.page_size = int(self.settings.page_size)

    def context(self) -> dict[str, Any]:
        return {"nav": self.site.nav, "static": STATIC_PREFIX, "operator": self.user}

    def require_operator(self) -> dict[str, Any]:
        if self.user is None or self.user.get("role") not in OPERATOR_ROLES:
            raise SignInRequired(self.here() if self.request.method == "GET" else PREFIX)
        return self.user

    async def recheck_role(self) -> None:
        """Ask the API who the operator is now, at most every ``ROLE_CHECK_SECONDS``: an
        operator made a member again is signed out (a suspended one already is, by the
        API's refusal of their token)."""
        now = self.runtime.clock.now().timestamp()
        if now - float(self.session.get("role_checked_at", 0)) < ROLE_CHECK_SECONDS:
            return
        me = await self.api.get("/me")
        if me["role"] not in OPERATOR_ROLES:
            self.sign_out()
            self.flash("Your account is no longer an operator's: the console is closed to it.", "error")
            raise SignInRequired(PREFIX)
        assert self.user is not None
        self.user.update(role=me["role"], display_name=me["display_name"], email=me["email"])
        self.session["role_checked_at"] = now
        self.save_session()


def site_of(request: Request[Any, Any, Any]) -> ConsoleSite:
    """The console of the app serving the request (the console's router carries it)."""
    return request.route_handler.opt["console_site"]


async def provide_page(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> ConsolePage:
    page = ConsolePage(request, runtime, site_of(request))
    if not request.route_handler.opt.get("console_public"):
        page.require_operator()
        await page.recheck_role()
    return page


# -- error pages -----------------------------------------------------------------------


def _page_for(request: Request[Any, Any, Any]) -> ConsolePage:
    return ConsolePage(request, runtime_of(request.scope), site_of(request))


EXCEPTION_HANDLERS: dict[Any, Any] = page_exception_handlers(
    _page_for, f"{PREFIX}/sign-in", not_found="There is no console page here.", log=log
)
