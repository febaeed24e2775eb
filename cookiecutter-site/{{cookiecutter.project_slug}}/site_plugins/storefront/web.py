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
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from agorakit import web
from agorakit.runtime import Runtime, runtime_of
from agorakit.web import FILTERS, Api, ApiError, PageSecurity
from litestar import MediaType, Request, Response
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, PermissionDeniedException
from litestar.response import Redirect
from litestar.template.base import csrf_token

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


class SignInRequired(Exception):
    """The page needs a signed-in member: the visitor goes to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path
        super().__init__(next_path)


class Shop:
    """What a page works with: the runtime, the settings, the signed-in member, the API."""

    def __init__(self, request: Request[Any, Any, Any], runtime: Runtime) -> None:
        self.request = request
        self.runtime = runtime
        self.settings = runtime.plugin_settings(NAME)
        session = request.scope.get("session")
        self.session: dict[str, Any] = dict(session) if isinstance(session, dict) else {}
        self.member: dict[str, Any] | None = self.session.get("member")
        self.api = Api(request, self.session.get("token"))

    @property
    def currency(self) -> str:
        return self.runtime.settings.site.currency

    def here(self) -> str:
        query = self.request.url.query
        return self.request.url.path + (f"?{query}" if query else "")

    def require_member(self, back: str | None = None) -> dict[str, Any]:
        """The signed-in member, else off to the sign-in page, to come back to ``back``
        (by default this page; a form's handler names the page the form was on)."""
        if self.member is None:
            raise SignInRequired(back or self.here())
        return self.member

    def save_session(self) -> None:
        if "session" in self.request.scope:
            self.request.set_session(dict(self.session) or {})

    def sign_in(self, token: str, member: dict[str, Any]) -> None:
        self.session = {
            "token": token,
            "member": {"id": member["id"], "display_name": member["display_name"], "email": member["email"]},
        }
        self.member = self.session["member"]
        self.api = Api(self.request, token)
        self.save_session()

    def sign_out(self) -> None:
        self.session, self.member = {}, None
        self.api = Api(self.request, None)
        if "session" in self.request.scope:
            self.request.clear_session()

    def flash(self, text: str, kind: str = "info") -> None:
        self.session.setdefault("flash", []).append({"kind": kind, "text": text})
        self.save_session()

    def redirect(self, path: str, flash: str | None = None, kind: str = "info") -> Redirect:
        if flash:
            self.flash(flash, kind)
        return Redirect(path=path, status_code=303)

    def render(self, template: str, status: int = 200, **context: Any) -> Response[str]:
        flashes = self.session.pop("flash", [])
        if flashes:
            self.save_session()
        page = templates.get_template(template).render(
            site_name=self.runtime.settings.site.name,
            settings=self.settings,
            member=self.member,
            csrf_token=csrf_token({"request": self.request}),
            flashes=flashes,
            path=self.request.url.path,
            prefix=PREFIX,
            static=STATIC_PREFIX,
            currency=self.currency,
            **context,
        )
        return Response(content=page, media_type=MediaType.HTML, status_code=status, headers=PAGE_HEADERS)

    def error_page(self, status: int, title: str, detail: str) -> Response[str]:
        return self.render("error.html", status=status, title=title, detail=detail)


async def provide_shop(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> Shop:
    return Shop(request, runtime)


# -- error pages -----------------------------------------------------------------------

TITLES = {
    400: "That request could not be read",
    403: "You may not do that",
    404: "Not found",
    409: "That cannot be done now",
    422: "Some details need fixing",
    429: "Too many attempts",
}


def _shop_for(request: Request[Any, Any, Any]) -> Shop:
    return Shop(request, runtime_of(request.scope))


def on_sign_in_required(request: Request[Any, Any, Any], exc: SignInRequired) -> Response[Any]:
    return Redirect(path=f"{PREFIX}/sign-in?next={quote(exc.next_path, safe='/')}", status_code=303)


def on_api_error(request: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    shop = _shop_for(request)
    if exc.status == 401:  # the token expired or was revoked (password change, suspension)
        shop.sign_out()
        shop.flash("Your session has ended: sign in again.")
        return on_sign_in_required(request, SignInRequired(shop.here()))
    status = exc.status if 400 <= exc.status < 500 else 502
    return shop.error_page(status, TITLES.get(status, "Something went wrong"), exc.detail)


def on_forbidden(request: Request[Any, Any, Any], exc: PermissionDeniedException) -> Response[Any]:
    detail = "This form has expired or did not come from this site. Go back, reload the page and try again."
    return _shop_for(request).error_page(403, "The form could not be accepted", detail)


def on_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code if 400 <= exc.status_code < 500 else 500
    return _shop_for(request).error_page(status, TITLES.get(status, "Something went wrong"), str(exc.detail))


def on_bug(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("storefront page %s failed", request.url.path, exc_info=exc)
    detail = "The page could not be shown. The error has been logged; please try again later."
    return _shop_for(request).error_page(500, "Something went wrong", detail)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    SignInRequired: on_sign_in_required,
    ApiError: on_api_error,
    PermissionDeniedException: on_forbidden,
    HTTPException: on_http_error,
    Exception: on_bug,
}
