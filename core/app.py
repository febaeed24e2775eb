"""The application factory.

``create_app(settings)`` builds one :class:`Runtime` and one init plugin; the init plugin
collects everything else (routes, tables, exception handlers, auth, docs) from the plugin
manager.  Nothing here knows which marketplace models a site enables.
"""

from __future__ import annotations

import gc
import os

import pluggy
from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi.config import OpenAPIConfig
from litestar.plugins import InitPlugin, ReceiveRoutePlugin
from litestar.routes import BaseRoute, HTTPRoute

import agorakit
from agorakit.accounts.auth import make_jwt_auth, operator_only, owner_only
from agorakit.accounts.throttle import close_throttle_store
from agorakit.clock import Clock
from agorakit.events.follow import start_followers, stop_followers
from agorakit.http.body import BodyRequest
from agorakit.http.docs_ui import docs_router, render_plugins
from agorakit.http.headers import add_response_headers
from agorakit.http.logging import request_logging_middleware
from agorakit.http.openapi import document_route
from agorakit.http.problem_details import EXCEPTION_HANDLERS
from agorakit.http.read_routing import read_routing_middleware
from agorakit.http.text_input import refuse_nul_characters
from agorakit.http.tracing import install_tracing
from agorakit.metrics import install_metrics
from agorakit.runtime import Runtime
from agorakit.settings import Settings, load_settings


def provide_runtime(state: State) -> Runtime:
    return state.runtime


# The app reaches its runtime through ``app.state.runtime`` only (the dependency above,
# the lifespan hooks below, the test clock's middleware): whoever holds the app can put
# another runtime there, as the test fixtures do to serve each test's runtime from one
# app built per site configuration.


async def _start_database(app: Litestar) -> None:
    await app.state.runtime.db.start()


async def _register_process(app: Litestar) -> None:
    await app.state.runtime.start_process("app")


async def _start_background_delivery(app: Litestar) -> None:
    await app.state.runtime.start_background_delivery()


async def _stop_background_delivery(app: Litestar) -> None:
    await app.state.runtime.stop_background_delivery()


async def _start_followers(app: Litestar) -> None:
    """The plugins' event followers (``agorakit_event_followers``), in every served process."""
    app.state.event_followers = await start_followers(app.state.runtime)


async def _stop_followers(app: Litestar) -> None:
    await stop_followers(app.state.pop("event_followers", []))


async def _deregister_process(app: Litestar) -> None:
    await app.state.runtime.stop_process()


async def _close_database(app: Litestar) -> None:
    await close_throttle_store(app.state.runtime)
    await app.state.runtime.db.close()


class AgorakitInit(InitPlugin, ReceiveRoutePlugin):
    """Collects the app's parts from the plugin manager, and documents each route's
    security requirement and error responses as the app registers it."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.jwt_auth = None

    def receive_route(self, route: BaseRoute) -> None:
        if isinstance(route, HTTPRoute):
            document_route(route, role_guards={operator_only: "an operator", owner_only: "the site's owner"})
            if self.jwt_auth is not None:
                self.jwt_auth.document_route(route)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        runtime = self.runtime
        settings = runtime.settings
        docs_path = settings.http.docs_path.rstrip("/") or "/docs"

        app_config.route_handlers.extend(runtime.hooks.collect_sync("agorakit_routes", runtime=runtime))
        app_config.dependencies["runtime"] = Provide(provide_runtime, sync_to_thread=False)
        app_config.exception_handlers.update(EXCEPTION_HANDLERS)
        app_config.request_class = BodyRequest  # strict, typed body decoding for every route
        app_config.middleware.insert(0, request_logging_middleware)
        app_config.before_send.append(add_response_headers)
        if settings.dev.test_clock:  # read the shared clock per request, and say so on every answer
            from agorakit.testclock.http import test_clock_header, test_clock_middleware

            app_config.middleware.append(test_clock_middleware)
            app_config.before_send.append(test_clock_header)
        # [database] read_url: the marked routes read from the replica.  On every app: it
        # asks the runtime it serves (app.state.runtime) and passes through without a replica.
        app_config.middleware.append(read_routing_middleware)
        install_metrics(app_config, runtime)  # [metrics] enabled: the request metrics and their route
        install_tracing(app_config, runtime)  # [tracing] enabled: a server span per request
        app_config.before_request = refuse_nul_characters
        app_config.request_max_body_size = settings.http.max_body_bytes
        if settings.http.cors_origins:
            app_config.cors_config = CORSConfig(
                allow_origins=settings.http.cors_origins,
                allow_credentials=False,
                allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
                expose_headers=["X-Request-ID", "Retry-After"],
            )
        app_config.openapi_config = OpenAPIConfig(
            title=settings.site.name,
            version=agorakit.__version__,
            description=f"The {settings.site.name} API, served by agorakit.",
            path=docs_path,
            openapi_router=docs_router(docs_path),  # pinned, integrity-checked UIs under a CSP
            render_plugins=render_plugins(),
        )
        jwt_auth = make_jwt_auth(runtime, exclude=[f"^{docs_path}"])
        app_config = jwt_auth.on_app_init(app_config)
        self.jwt_auth = jwt_auth

        app_config.state.update({"runtime": runtime, "jwt_auth": jwt_auth})
        app_config.on_startup.extend(
            [_start_database, _register_process, _start_background_delivery, _start_followers]
        )
        app_config.on_shutdown.extend(
            [_stop_followers, _stop_background_delivery, _deregister_process, _close_database]
        )
        return app_config


def create_app(
    settings: Settings,
    *,
    pm: pluggy.PluginManager | None = None,
    clock: Clock | None = None,
    debug: bool = False,
) -> Litestar:
    """Build the site's Litestar app from validated settings."""
    return app_for_runtime(Runtime(settings, pm=pm, clock=clock), debug=debug)


def app_for_runtime(runtime: Runtime, *, debug: bool = False) -> Litestar:
    """Build the app around an existing runtime (tests share one with their fixtures)."""
    return Litestar(
        plugins=[AgorakitInit(runtime)],
        # Litestar reads the body limit from this argument, not from the AppConfig an
        # init plugin returns, so it is passed here as well.
        request_max_body_size=runtime.settings.http.max_body_bytes,
        debug=debug,
    )


def app_from_env() -> Litestar:
    """Factory for ASGI servers: reads the config named by ``AGORAKIT_CONFIG``."""
    app = create_app(load_settings(os.environ.get("AGORAKIT_CONFIG", "site.toml")))
    app.on_startup.append(freeze_startup_heap)  # last: after the database and the dispatcher
    return app


def freeze_startup_heap() -> None:
    """Keep the objects a server process made while starting out of later garbage
    collections (``agorakit run`` and ``agorakit worker`` call it once they are up).

    A started app holds a few hundred thousand long-lived objects (modules, tables,
    routes, plugins); every full collection walked them all.  Measured under the SQLite
    order flow at 32 clients: one full collection every few seconds, 65 ms long, a pause
    every request in flight waited through (about 1% of them: the p99).  Collected once
    and frozen (``gc.freeze``), they are skipped from then on: the same collection took
    2.6 ms.  Objects made later (requests, caches) are collected as usual.
    """
    gc.collect()
    gc.freeze()
