"""console: the operator console, server-rendered pages at ``/console``.

Operators and owners sign in with their account; members are refused.  The home page
shows every work queue with its count and the age of its oldest item; a page per queue
shows the items with their evidence and the actions the API offers; members, money and
the site's settings have pages of their own.  Every page reads and acts through the
site's JSON API, in-process, with the operator's token: every permission, validation and
ledger posting is the API's.  Other plugins add pages through ``agorakit_console_pages``.
Settings: ``[plugins.console]``.  See ``docs/console.md``.
"""

from __future__ import annotations

from typing import Any

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.di import Provide
from litestar.static_files import create_static_files_router

from agorakit import hookimpl
from agorakit.runtime import Runtime
from agorakit.settings import SettingsSpec
from agorakit.web import ConsolePages, PageSecurity

from .pages import CONTROLLERS, NAV, QUEUE_PAGES
from .settings import ConsoleSettings
from .web import EXCEPTION_HANDLERS, HERE, NAME, PREFIX, STATIC_PREFIX, build_site, provide_page


@hookimpl
def agorakit_settings() -> SettingsSpec:
    return SettingsSpec(name=NAME, type=ConsoleSettings)


@hookimpl
def agorakit_routes(runtime: Runtime) -> list[Any]:
    """The console's pages and the plugins' (with the console's session, CSRF check and
    sign-in on them only), and its static files; built per app.  None of it is part of
    the API's OpenAPI document."""
    parts: list[ConsolePages] = runtime.hooks.collect_sync("agorakit_console_pages", runtime=runtime)
    minutes = min(runtime.plugin_settings(NAME).session_minutes, runtime.settings.auth.token_ttl_minutes)
    site = build_site(parts, NAV, PageSecurity(NAME, PREFIX, samesite="strict", max_age_minutes=minutes))
    site.queue_pages = {**QUEUE_PAGES, **site.queue_pages}
    plugin_routers = [
        Router(path=f"/{part.name}", route_handlers=list(part.handlers)) for part in parts if part.handlers
    ]
    pages = Router(
        path=PREFIX,
        route_handlers=[*CONTROLLERS, *plugin_routers],
        middleware=[site.security.middleware()],
        dependencies={"page": Provide(provide_page)},
        exception_handlers=EXCEPTION_HANDLERS,
        include_in_schema=False,
        # operators sign in with the console's session cookie, not a bearer token
        opt={"exclude_from_auth": True, "console_site": site},
    )
    static = create_static_files_router(
        path=STATIC_PREFIX,
        directories=[HERE / "static"],
        name="console_static",
        cache_control=CacheControlHeader(max_age=3600, public=True),
        include_in_schema=False,
        opt={"exclude_from_auth": True},
    )
    return [pages, static]
