"""The storefront's plumbing: sessions, CSRF, rendering, redirects and error pages.

- **Sessions and CSRF** come from :class:`agorakit.web.PageSecurity`: an encrypted
  (AES-GCM), HttpOnly, SameSite=Lax session cookie scoped to the storefront's path,
  Secure when the site's ``base_url`` is https, whose key is derived from the site's
  ``[auth] jwt_secret`` (changing that secret signs everyone out, as it does for API
  tokens); and Litestar's CSRF middleware on the storefront's routes only: every form
  has a hidden ``_csrf_token`` that must match the signed token in the
  ``storefront_csrf`` cookie; a POST without it is refused with a 403 page and changes
  nothing.
- Every page calls the site's API in-process with the member's token
  (:class:`agorakit.web.Api`), so every rule stays the API's.
- :class:`Shop` is an :class:`agorakit.web.PageContext` (the session, flash messages,
  redirects, rendering) with the storefront's templates and headers; the error pages
  are :func:`agorakit.web.page_exception_handlers`' (a visitor who must sign in goes to
  the sign-in page, to come back).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from agorakit import web
from agorakit.runtime import Runtime, runtime_of
from agorakit.web import FILTERS, PageContext, PageSecurity, SignInRequired, page_exception_handlers
from litestar import Request
from litestar.di import NamedDependency
from litestar.response import Redirect

NAME = "storefront"
#: where the pages live; the API owns ``/`` and every other prefix
PREFIX = "/shop"
STATIC_PREFIX = "/static/storefront"
HERE = Path(__file__).parent
#: Every page: its own stylesheet and the inline colours only, no scripts, forms sent
#: only to the site, never shown in another site's frame.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

log = logging.getLogger("agorakit.storefront")


#: the session cookie ``storefront_session`` and the CSRF cookie ``storefront_csrf``
SECURITY = PageSecurity(NAME, PREFIX)
#: the session middleware around the CSRF middleware, on the storefront's routes only
StorefrontMiddleware = SECURITY.middleware()


# -- rendering -------------------------------------------------------------------------


templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters.update(FILTERS)


def safe_next(value: str | None) -> str:
    """A path inside the storefront to go back to after signing in (never another site)."""
    return web.safe_next(value, PREFIX)


class Shop(PageContext):
    """What a page works with: the runtime, the settings, the signed-in member, the API,
    the session, flash messages, redirects and rendering (:class:`agorakit.web.PageContext`)."""

    prefix = PREFIX
    templates = templates
    headers = PAGE_HEADERS

    def __init__(self, request: Request[Any, Any, Any], runtime: Runtime) -> None:
        super().__init__(request, runtime)
        self.settings = runtime.plugin_settings(NAME)
        self.page_size = int(self.settings.page_size)

    @property
    def member(self) -> dict[str, Any] | None:
        """The signed-in member (``id``, ``display_name``, ``email``), or None."""
        return self.user

    @property
    def currency(self) -> str:
        return self.runtime.settings.site.currency

    def require_member(self, back: str | None = None) -> dict[str, Any]:
        """The signed-in member, else off to the sign-in page, to come back to ``back``
        (by default this page; a form's handler names the page the form was on)."""
        if self.user is None:
            raise SignInRequired(back or self.here())
        return self.user

    def sign_in(self, token: str, user: Mapping[str, Any]) -> None:
        """Keep the member's token and the fields the pages show about them."""
        super().sign_in(token, {key: user[key] for key in ("id", "display_name", "email")})

    def redirect(self, path: str, flash: str | None = None, kind: str = "info") -> Redirect:
        return super().redirect(path, flash, kind)

    def context(self) -> dict[str, Any]:
        return {"settings": self.settings, "member": self.user, "static": STATIC_PREFIX}


async def provide_shop(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> Shop:
    return Shop(request, runtime)


# -- error pages -----------------------------------------------------------------------


def _shop_for(request: Request[Any, Any, Any]) -> Shop:
    return Shop(request, runtime_of(request.scope))


EXCEPTION_HANDLERS: dict[Any, Any] = page_exception_handlers(_shop_for, f"{PREFIX}/sign-in", log=log)
