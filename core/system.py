"""System routes: health, the index, and what is running (``/-/plugins``).

A core plugin of its own (registered after ``agorakit.http.plugin``): it sits above the
areas, since ``/-/plugins`` is for operators and who is an operator is the accounts
area's to say, and the HTTP area lies below accounts."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.status_codes import HTTP_200_OK

import agorakit
from agorakit import hookimpl
from agorakit.accounts import operator_only
from agorakit.errors import ServiceUnavailable
from agorakit.hooks import hooks_of, plugin_info
from agorakit.http.openapi import problems
from agorakit.runtime import Runtime
from agorakit.settings import masked

log = logging.getLogger("agorakit.http")


class Health(msgspec.Struct, omit_defaults=True):
    status: str
    database: str
    version: str
    #: the site's time, present only on a site that runs on a test clock ([dev] test_clock)
    test_clock: datetime | None = None


class Index(msgspec.Struct):
    name: str
    version: str
    docs: str
    openapi: str


class PluginOut(msgspec.Struct):
    name: str
    builtin: bool
    package: str | None
    version: str | None
    hooks: list[str]
    settings: dict[str, Any] | None


class PluginList(msgspec.Struct):
    agorakit_version: str
    plugins: list[PluginOut]


class SystemController(Controller):
    tags = ["system"]

    @get(
        "/health",
        operation_id="health",
        responses=problems(503),
        summary="Liveness and database check",
        status_code=HTTP_200_OK,
        opt={"exclude_from_auth": True},
    )
    async def health(self, runtime: NamedDependency[Runtime]) -> Health:
        try:
            await runtime.db.ping()
        except Exception as exc:
            log.warning("health check: database unreachable: %r", exc)
            raise ServiceUnavailable("the database is unreachable") from None
        test_clock = runtime.clock.now() if runtime.settings.dev.test_clock else None
        return Health(
            status="ok", database=runtime.db.kind, version=agorakit.__version__, test_clock=test_clock
        )

    @get(
        "/",
        operation_id="index",
        summary="What this server is and where its docs are",
        opt={"exclude_from_auth": True},
    )
    async def index(self, request: Request, runtime: NamedDependency[Runtime]) -> Index:
        docs = runtime.settings.http.docs_path
        return Index(
            name=runtime.settings.site.name,
            version=agorakit.__version__,
            docs=docs,
            openapi=f"{docs}/openapi.json",
        )

    @get(
        "/-/plugins",
        operation_id="listPlugins",
        guards=[operator_only],
        summary="Enabled plugins, their versions, hooks and settings (secrets masked)",
    )
    async def plugins(self, runtime: NamedDependency[Runtime]) -> PluginList:
        out = []
        for name, info in plugin_info(runtime.pm).items():
            settings = runtime.settings.plugins.get(name)
            out.append(
                PluginOut(
                    name=name,
                    builtin=info.builtin,
                    package=info.package or ("agorakit" if info.builtin else None),
                    version=info.version or (agorakit.__version__ if info.builtin else None),
                    hooks=hooks_of(runtime.pm, name),
                    settings=masked(settings) if settings is not None else None,
                )
            )
        return PluginList(agorakit_version=agorakit.__version__, plugins=out)


@hookimpl
def agorakit_routes():
    return [SystemController]
