"""The error pages of a set of server-rendered pages (the console, a site's storefront).

:func:`page_exception_handlers` gives a set of pages' router its exception handlers:
:class:`SignInRequired` sends the visitor to the sign-in page (to come back); the API
ending the session (an expired or revoked token, a suspended account) signs them out and
does the same; any other refusal of the API, a form without its CSRF token, an unknown
page and a bug are the pages' own ``error.html``, never the API's JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, PermissionDeniedException
from litestar.response import Redirect

from .api import ApiError
from .pages import PageContext

#: an error page's title by status (any other: "Something went wrong")
TITLES: Mapping[int, str] = {
    400: "That request could not be read",
    403: "You may not do that",
    404: "Not found",
    409: "That cannot be done now",
    422: "Some details need fixing",
    429: "Too many attempts",
}


class SignInRequired(Exception):
    """The page needs someone signed in: off to the sign-in page, to come back to
    ``next_path`` (not when it is the pages' home)."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path
        super().__init__(next_path)


def page_exception_handlers(
    page_for: Callable[[Request[Any, Any, Any]], PageContext],
    sign_in_path: str,
    *,
    titles: Mapping[int, str] = TITLES,
    not_found: str | None = None,
    log: logging.Logger | None = None,
) -> dict[Any, Any]:
    """A set of pages' exception handlers.  ``page_for`` makes the page that shows an
    error (:meth:`~agorakit.web.PageContext.error_page`);
    ``sign_in_path`` is where :class:`SignInRequired` and an ended session send the
    visitor; ``titles`` words each status; ``not_found``, when given, is the detail of
    every 404 page (else the exception's); ``log`` records a bug's traceback."""
    logger = log or logging.getLogger("agorakit.web")

    def error_page(
        request: Request[Any, Any, Any], status: int, detail: str, title: str = ""
    ) -> Response[Any]:
        return page_for(request).error_page(
            status, title or titles.get(status, "Something went wrong"), detail
        )

    def on_sign_in_required(request: Request[Any, Any, Any], exc: SignInRequired) -> Response[Any]:
        target = sign_in_path
        if exc.next_path and exc.next_path != page_for(request).prefix:
            target += f"?next={quote(exc.next_path, safe='/')}"
        return Redirect(path=target, status_code=303)

    def on_api_error(request: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
        if exc.session_ended:
            page = page_for(request)
            page.sign_out()
            page.flash("Your session has ended: sign in again.", "error")
            back = page.here() if request.method == "GET" else page.prefix
            return on_sign_in_required(request, SignInRequired(back))
        return error_page(request, exc.status if exc.status < 500 else 502, exc.message())

    def on_forbidden(request: Request[Any, Any, Any], exc: PermissionDeniedException) -> Response[Any]:
        detail = (
            "This form has expired or did not come from this site. Go back, reload the page and try again."
        )
        return error_page(request, 403, detail, "The form could not be accepted")

    def on_not_found(request: Request[Any, Any, Any], exc: NotFoundException) -> Response[Any]:
        return error_page(request, 404, not_found or str(exc.detail))

    def on_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
        return error_page(request, exc.status_code if 400 <= exc.status_code < 500 else 500, str(exc.detail))

    def on_bug(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        logger.exception("page %s failed", request.url.path, exc_info=exc)
        detail = "The page could not be shown. The error has been logged; please try again later."
        return error_page(request, 500, detail)

    return {
        SignInRequired: on_sign_in_required,
        ApiError: on_api_error,
        PermissionDeniedException: on_forbidden,
        NotFoundException: on_not_found,
        HTTPException: on_http_error,
        Exception: on_bug,
    }
