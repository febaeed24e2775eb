"""System routes: health (``/health``, and ``/health/live`` and ``/health/ready`` for load
balancers), the index, what is running (``/-/plugins``) and the
operators' work queues (``/operator/queues``).

A core plugin of its own (registered after ``agorakit.http.plugin``): it sits above the
areas, since ``/-/plugins`` is for operators and who is an operator is the accounts
area's to say, and the HTTP area lies below accounts.  The queues come from every area
and plugin through ``agorakit_operator_queues``."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.status_codes import HTTP_200_OK

import agorakit
from agorakit import hookimpl
from agorakit.accounts import operator_only
from agorakit.attachments import check_storage, storage_for
from agorakit.db.migrate import unapplied_migrations
from agorakit.errors import ServiceUnavailable
from agorakit.hooks import hooks_of, plugin_info
from agorakit.http import OperatorQueue
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


class Live(msgspec.Struct):
    status: str


class Ready(msgspec.Struct, omit_defaults=True):
    status: str
    #: each check by name ("database", "migrations", "storage"): "ok" or what is wrong
    checks: dict[str, str]
    #: with ``[database] read_url``: "ok", or what is wrong with the read replica (its
    #: reads then go to the primary, so it does not make the process unready)
    read_replica: str | None = None


async def readiness(runtime: Runtime) -> dict[str, str]:
    """The checks of ``/health/ready``: the database answers, every migration of the core
    and the enabled plugins is applied, the attachments storage is reachable; each "ok"
    or a sentence saying what is wrong."""
    checks: dict[str, str] = {}
    try:
        await runtime.db.ping()
    except Exception as exc:
        log.warning("readiness: database unreachable: %r", exc)
        checks["database"] = "the database is unreachable"
        checks["migrations"] = "not checked: the database is unreachable"
    else:
        checks["database"] = "ok"
        try:
            missing = await unapplied_migrations(runtime.apps)
        except Exception as exc:
            log.warning("readiness: applied migrations unreadable: %r", exc)
            missing = ["(the applied migrations could not be read)"]
        checks["migrations"] = (
            f"{len(missing)} not applied (run agorakit migrate): {', '.join(missing[:5])}"
            if missing
            else "ok"
        )
    try:
        checks["storage"] = await check_storage(storage_for(runtime)) or "ok"
    except Exception as exc:
        log.warning("readiness: attachments storage unreachable: %r", exc)
        checks["storage"] = "the attachments storage is unreachable"
    return checks


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


class QueueOut(msgspec.Struct):
    key: str
    title: str
    area: str
    count: int
    oldest_at: datetime | None
    #: how long the oldest item has waited, by the site's clock (None when empty)
    oldest_age_seconds: int | None
    overdue: int
    due_hours: int | None
    list_path: str


class QueueList(msgspec.Struct):
    queues: list[QueueOut]
    generated_at: datetime


def _queue_out(queue: OperatorQueue, now: datetime) -> QueueOut:
    age = None if queue.oldest_at is None else max(0, int((now - queue.oldest_at).total_seconds()))
    return QueueOut(
        key=queue.key,
        title=queue.title,
        area=queue.area,
        count=queue.count,
        oldest_at=queue.oldest_at,
        oldest_age_seconds=age,
        overdue=queue.overdue,
        due_hours=queue.due_hours,
        list_path=queue.list_path,
    )


def _urgency(queue: QueueOut) -> tuple[int, int, int, str]:
    """Overdue ones first (the most overdue first), then the others with items (the
    longest waiting first), then the empty ones; by key within each."""
    if queue.overdue:
        return (0, -queue.overdue, -(queue.oldest_age_seconds or 0), queue.key)
    if queue.count:
        return (1, 0, -(queue.oldest_age_seconds or 0), queue.key)
    return (2, 0, 0, queue.key)


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
        "/health/live",
        operation_id="healthLive",
        summary="Liveness: the process answers (no database query)",
        opt={"exclude_from_auth": True},
    )
    async def live(self) -> Live:
        return Live(status="ok")

    @get(
        "/health/ready",
        operation_id="healthReady",
        responses=problems(503),
        summary="Readiness: the database answers, migrations are applied, the storage is reachable",
        opt={"exclude_from_auth": True},
    )
    async def ready(self, runtime: NamedDependency[Runtime]) -> Ready:
        """503 problem details when a check fails: ``extra.failed`` names the failed
        checks, ``extra.checks`` says what is wrong with each."""
        checks = await readiness(runtime)
        replica = runtime.db.replica_state()
        failed = [name for name, result in checks.items() if result != "ok"]
        if failed:
            extra: dict[str, Any] = {"failed": failed, "checks": checks}
            if replica is not None:
                extra["read_replica"] = replica
            raise ServiceUnavailable(f"not ready: {', '.join(failed)}", extra=extra)
        return Ready(status="ok", checks=checks, read_replica=replica)

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

    @get(
        "/operator/queues",
        operation_id="operatorListQueues",
        guards=[operator_only],
        tags=["operator"],
        summary="Every work queue of the site with its count and oldest item, overdue ones first",
    )
    async def queues(self, runtime: NamedDependency[Runtime], nonempty: FromQuery[bool] = False) -> QueueList:
        """``nonempty=true``: only the queues with items."""
        now = runtime.clock.now()
        found = await runtime.hooks.collect("agorakit_operator_queues", runtime=runtime)
        out = [_queue_out(queue, now) for queue in found if queue.count or not nonempty]
        return QueueList(queues=sorted(out, key=_urgency), generated_at=now)


@hookimpl
def agorakit_routes():
    return [SystemController]
