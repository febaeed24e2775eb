"""storefront: server-rendered pages for buyers and sellers, on the site's own API.

Pages under ``/shop`` (home and search, a gig, signing up and in, ordering and paying,
my orders with the next step, an order's messages, balance and withdrawals), with their
stylesheet under ``/static/storefront/``.  Plain HTML forms, no JavaScript needed, no
build step.  Every page calls the site's JSON API in-process with the member's token, so
every rule stays the API's.  Settings: ``[plugins.storefront]`` (colours, tagline, page
size).  See the project's README and agorakit's ``docs/storefront.md``.
"""

from __future__ import annotations

from typing import Any

from agorakit import hookimpl
from agorakit.settings import SettingsSpec
from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.di import Provide
from litestar.static_files import create_static_files_router

from .account import AccountPages
from .catalog import CatalogPages
from .money import MoneyPages
from .orders import OrderPages
from .settings import StorefrontSettings
from .web import EXCEPTION_HANDLERS, HERE, NAME, PREFIX, STATIC_PREFIX, StorefrontMiddleware, provide_shop


@hookimpl
def agorakit_settings() -> SettingsSpec:
    return SettingsSpec(name=NAME, type=StorefrontSettings)


@hookimpl
def agorakit_routes() -> list[Any]:
    """The pages (with sessions and CSRF on them only) and the static files; a new
    router per app.  Neither is part of the API's OpenAPI document."""
    pages = Router(
        path=PREFIX,
        route_handlers=[CatalogPages, AccountPages, OrderPages, MoneyPages],
        middleware=[StorefrontMiddleware],
        dependencies={"shop": Provide(provide_shop)},
        exception_handlers=EXCEPTION_HANDLERS,
        include_in_schema=False,
        # the pages sign members in with their own session cookie, not a bearer token
        opt={"exclude_from_auth": True},
    )
    static = create_static_files_router(
        path=STATIC_PREFIX,
        directories=[HERE / "static"],
        name="storefront_static",
        cache_control=CacheControlHeader(max_age=3600, public=True),
        include_in_schema=False,
        opt={"exclude_from_auth": True},
    )
    return [pages, static]
