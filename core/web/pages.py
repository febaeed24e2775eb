"""What a server-rendered page works with, and what a plugin adds to the operator console.

:class:`PageContext` is a page handler's one dependency: the runtime, the signed-in
person's session, their in-process :class:`~agorakit.web.api.Api`, flash messages,
redirects and rendering.  A set of pages (the console, a site's storefront) subclasses it
with its own templates and path.

:class:`ConsolePages` is what a plugin returns from ``agorakit_console_pages``: its
pages (Litestar handlers, mounted under ``/console/<name>`` with the console's session,
CSRF and sign-in), their navigation links, the templates they render, the console page
that lists each of the plugin's work queues, and panels for a member's page.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from typing import Any

import jinja2
from litestar import MediaType, Request, Response
from litestar.response import Redirect
from litestar.template.base import csrf_token
from litestar.types import ControllerRouterHandler

from agorakit.runtime import Runtime

from .api import Api, ApiError

#: Every page: the pages' own stylesheet and scripts only, forms sent only to the site,
#: never shown in another site's frame.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class PageContext:
    """One request's page: who is signed in, their API, the session, rendering."""

    #: the pages' path prefix (``/console``)
    prefix: str = "/"
    #: the pages' templates
    templates: jinja2.Environment
    #: rows on one page of a list (the ``limit`` of the API's keyset pages)
    page_size: int = 20
    #: every page's security headers
    headers: Mapping[str, str] = PAGE_HEADERS

    def __init__(self, request: Request[Any, Any, Any], runtime: Runtime) -> None:
        self.request = request
        self.runtime = runtime
        session = request.scope.get("session")
        self.session: dict[str, Any] = dict(session) if isinstance(session, dict) else {}
        self.user: dict[str, Any] | None = self.session.get("user")
        self.api = Api(request, self.session.get("token"))

    def here(self) -> str:
        """This page's path and query."""
        query = self.request.url.query
        return self.request.url.path + (f"?{query}" if query else "")

    async def form(self) -> dict[str, str]:
        """The posted form's fields (the last value of a repeated one), stripped."""
        data = await self.request.form()
        return {key: str(value).strip() for key, value in data.items() if isinstance(value, str)}

    def save_session(self) -> None:
        if "session" in self.request.scope:
            self.request.set_session(dict(self.session) or {})

    def sign_in(self, token: str, user: Mapping[str, Any]) -> None:
        """Keep the person's API token and the fields pages show about them."""
        self.session = {"token": token, "user": dict(user)}
        self.user = self.session["user"]
        self.api = Api(self.request, token)
        self.save_session()

    def sign_out(self) -> None:
        self.session, self.user = {}, None
        self.api = Api(self.request, None)
        if "session" in self.request.scope:
            self.request.clear_session()

    def flash(self, text: str, kind: str = "info") -> None:
        """A message shown once, on the next page rendered (``info``, ``success``, ``error``)."""
        self.session.setdefault("flash", []).append({"kind": kind, "text": text})
        self.save_session()

    def redirect(self, path: str, flash: str | None = None, kind: str = "success") -> Redirect:
        """See-other to ``path`` (after a form), with an optional flash message."""
        if flash:
            self.flash(flash, kind)
        return Redirect(path=path, status_code=303)

    def filters(self, *names: str) -> dict[str, str]:
        """The page's filters from its query string (only ``names``, the empty ones dropped)."""
        params = self.request.query_params
        return {name: str(params.get(name) or "").strip() for name in names if params.get(name)}

    async def act(self, call: Awaitable[Any], back: str, done: str, *, failed: str | None = None) -> Redirect:
        """Run a form's API call: back to ``back`` saying ``done``, or, when the API
        refuses, to ``failed`` (default ``back``) with the API's reason (an expired
        session, a suspended account and the API's own failures are raised)."""
        try:
            await call
        except ApiError as error:
            if not error.refusal:
                raise
            return self.redirect(failed or back, error.message(), "error")
        return self.redirect(back, done)

    async def render_list(
        self,
        template: str,
        path: str,
        *,
        cursor: str | None = None,
        filters: Sequence[str] = (),
        params: Mapping[str, Any] | None = None,
        more: Callable[[dict[str, Any]], Mapping[str, Any] | Awaitable[Mapping[str, Any]]] | None = None,
        show_refusal: bool = False,
        **context: Any,
    ) -> Response[str]:
        """A page of one of the API's keyset lists: ``GET path`` with the query's
        ``filters`` (those named, as :meth:`filters` reads them), ``params`` (over the
        filters; None drops one), ``cursor`` and ``limit=page_size``, rendered with
        ``items``, ``next_cursor``, ``filters``, ``cursor`` and ``context``.  ``more``, a
        function (sync or async) of the API's answer, adds what needs it (the members the
        items name, another field of the answer; it may annotate the items).  With
        ``show_refusal`` the API's refusal of the filters (a 4xx) is the page's ``error``,
        with no rows, instead of an error page."""
        chosen = self.filters(*filters)
        query = {**chosen, **(params or {}), "cursor": cursor, "limit": self.page_size}
        error: str | None = None
        try:
            answer = await self.api.get(path, **query)
        except ApiError as problem:
            if not (show_refusal and problem.refusal):
                raise
            answer, error = {"items": [], "next_cursor": None}, problem.message()
        if show_refusal:
            context["error"] = error
        if more is not None:
            extra = more(answer)
            context = {**((await extra) if inspect.isawaitable(extra) else extra), **context}
        return self.render(
            template,
            items=answer["items"],
            next_cursor=answer["next_cursor"],
            filters=chosen,
            cursor=cursor,
            **context,
        )

    def context(self) -> dict[str, Any]:
        """What every template of these pages sees (subclasses add their own)."""
        return {}

    def render(self, template: str, status: int = 200, **context: Any) -> Response[str]:
        flashes = self.session.pop("flash", [])
        if flashes:
            self.save_session()
        page = self.templates.get_template(template).render(
            site_name=self.runtime.settings.site.name,
            user=self.user,
            csrf_token=csrf_token({"request": self.request}),
            flashes=flashes,
            path=self.request.url.path,
            here=self.here(),
            prefix=self.prefix,
            currency=self.runtime.settings.site.currency,
            **{**self.context(), **context},
        )
        return Response(
            content=page, media_type=MediaType.HTML, status_code=status, headers=dict(self.headers)
        )

    def error_page(self, status: int, title: str, detail: str) -> Response[str]:
        """The pages' ``error.html`` with a ``title`` and a ``detail``."""
        return self.render("error.html", status=status, title=title, detail=detail)


@dataclass(frozen=True)
class ConsoleLink:
    """A navigation entry: ``path`` is relative to the plugin's ``/console/<name>``."""

    title: str
    path: str = ""


@dataclass(frozen=True)
class MemberPanel:
    """A box on a member's console page: a title and label/value rows."""

    title: str
    rows: Sequence[tuple[str, str]] = ()
    #: a console path with more (e.g. the member's tasks), or ""
    link: str = ""


#: ``async def panel(page, member) -> MemberPanel | None``: ``member`` is the API's
#: ``GET /operator/members/{id}`` answer; the panel calls the API with ``page.api``.
MemberPanelFactory = Callable[[PageContext, dict[str, Any]], Awaitable["MemberPanel | None"]]


@dataclass(frozen=True)
class ConsolePages:
    """A plugin's part of the operator console (the ``agorakit_console_pages`` hook)."""

    #: the plugin's name: its pages live under ``/console/<name>``
    name: str
    #: the navigation group's title ("Gigs")
    title: str
    #: Litestar route handlers or controllers, paths relative to ``/console/<name>``;
    #: they take the dependency ``page`` (a :class:`PageContext` with a signed-in operator)
    handlers: Sequence[ControllerRouterHandler] = ()
    links: Sequence[ConsoleLink] = ()
    #: a folder of Jinja templates (``{% extends "base.html" %}``); name them after the
    #: plugin (``gigs/orders.html``) so they cannot shadow another plugin's
    template_dir: str | PathLike[str] | None = None
    #: a work queue's key (``agorakit_operator_queues``) → the path, relative to
    #: ``/console/<name>``, of the page that lists it
    queue_pages: Mapping[str, str] = field(default_factory=dict)
    member_panels: Sequence[MemberPanelFactory] = ()
