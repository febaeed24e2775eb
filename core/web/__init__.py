"""Building blocks for server-rendered pages on the site's own API: the operator console
and a site's storefront.

- :class:`Api` calls the site's JSON API in-process with the signed-in person's token, so
  every rule stays the API's; :class:`ApiError` is its problem-details answer.
- :class:`PageSecurity` gives a set of pages its encrypted session cookie and CSRF
  protection; :class:`PageContext` is what a page handler works with;
  :func:`page_exception_handlers` gives them their error pages and sends a visitor to
  sign in (:class:`SignInRequired`).
- :class:`ConsolePages` (with :class:`ConsoleLink` and :class:`MemberPanel`) is what a
  plugin adds to the operator console through ``agorakit_console_pages``.
- ``FILTERS`` are Jinja filters for the API's amounts, instants and codes;
  :func:`safe_next` keeps a "back to" path on the site.

The names below are this area's plugin API (``docs/plugin-api.md``); its modules are
internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit.exports import lazy_exports

if TYPE_CHECKING:
    from agorakit.web.api import Api as Api
    from agorakit.web.api import ApiAnswer as ApiAnswer
    from agorakit.web.api import ApiError as ApiError
    from agorakit.web.errors import SignInRequired as SignInRequired
    from agorakit.web.errors import page_exception_handlers as page_exception_handlers
    from agorakit.web.filters import FILTERS as FILTERS
    from agorakit.web.filters import safe_next as safe_next
    from agorakit.web.pages import PAGE_HEADERS as PAGE_HEADERS
    from agorakit.web.pages import ConsoleLink as ConsoleLink
    from agorakit.web.pages import ConsolePages as ConsolePages
    from agorakit.web.pages import MemberPanel as MemberPanel
    from agorakit.web.pages import PageContext as PageContext
    from agorakit.web.security import PageSecurity as PageSecurity

EXPORTS: dict[str, str] = {
    "Api": "agorakit.web.api",
    "ApiAnswer": "agorakit.web.api",
    "ApiError": "agorakit.web.api",
    "ConsoleLink": "agorakit.web.pages",
    "ConsolePages": "agorakit.web.pages",
    "FILTERS": "agorakit.web.filters",
    "MemberPanel": "agorakit.web.pages",
    "PAGE_HEADERS": "agorakit.web.pages",
    "PageContext": "agorakit.web.pages",
    "PageSecurity": "agorakit.web.security",
    "SignInRequired": "agorakit.web.errors",
    "page_exception_handlers": "agorakit.web.errors",
    "safe_next": "agorakit.web.filters",
}
__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
