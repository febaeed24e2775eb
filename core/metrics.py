"""Prometheus metrics (``[metrics]``, off by default): Litestar's own Prometheus
integration for the requests, and agorakit's gauges read when the metrics are scraped.

Requests are counted and timed by ``litestar.plugins.prometheus`` (its middleware, grouped
by route template: ``/orders/{order_id:int}``, never the raw path, so ids do not grow the
label set), under the prefix ``agorakit_http``.  The gauges are read at scrape time with
one aggregate query each: every operator queue (``agorakit_operator_queues``, as
``GET /operator/queues`` gathers them), the event and email outboxes, the order timers,
the withdrawals waiting by method, and the PostgreSQL connection pool.  The metrics route
is outside the API: not in the OpenAPI document, and guarded by ``[metrics] token`` when
one is set.  docs/operations.md lists every metric.
"""

from __future__ import annotations

import hmac
import os
from typing import TYPE_CHECKING, Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Response
from piccolo.query.functions.aggregate import Count

from agorakit.errors import Unauthenticated
from agorakit.events.tables import StoredEvent
from agorakit.http import count_queue
from agorakit.money.tables import Withdrawal
from agorakit.notifications.tables import EmailOutbox
from agorakit.orders.tables import OrderTimer
from agorakit.runtime import Runtime

if TYPE_CHECKING:  # pragma: no cover
    from litestar.config.app import AppConfig
    from prometheus_client.metrics_core import Metric

#: the request metrics' prefix: agorakit_http_requests_total, ..._request_duration_seconds
HTTP_PREFIX = "agorakit_http"
#: the withdrawals' states that wait for a payout
WAITING_WITHDRAWALS = ("requested", "processing")


def install_metrics(app_config: AppConfig, runtime: Runtime) -> None:
    """With ``[metrics] enabled``: the request middleware and the metrics route."""
    section = runtime.settings.metrics
    if not section.enabled:
        return
    from litestar.plugins.prometheus import PrometheusConfig

    config = PrometheusConfig(app_name="agorakit", prefix=HTTP_PREFIX, group_path=True)
    app_config.middleware.append(config.middleware)
    app_config.route_handlers.append(_metrics_controller(section.path))


def _metrics_controller(path: str) -> type:
    from litestar.plugins.prometheus import PrometheusController

    class MetricsController(PrometheusController):
        """Litestar's Prometheus controller, with agorakit's gauges and the token."""

        @get(
            "/",
            operation_id="metrics",
            summary="Prometheus metrics of this process and the site's queues",
            include_in_schema=False,
            opt={"exclude_from_auth": True},
        )
        async def get(self, request: Request, runtime: NamedDependency[Runtime]) -> Response:
            _check_token(request, runtime.settings.metrics.token)
            return Response(
                await exposition(runtime), status_code=200, headers={"Content-Type": _content_type()}
            )

    MetricsController.path = path
    return MetricsController


def _check_token(request: Request, token: str | None) -> None:
    if token is None:
        return
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthenticated(
            "send the metrics token as Authorization: Bearer <token>",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )


def _content_type() -> str:
    from prometheus_client import CONTENT_TYPE_LATEST

    return CONTENT_TYPE_LATEST


async def exposition(runtime: Runtime) -> bytes:
    """The text exposition: the process's metrics (requests, Python, process), then the
    site's gauges read now."""
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess

    registry: Any = REGISTRY
    if "prometheus_multiproc_dir" in os.environ or "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    families = await site_gauges(runtime)
    scraped = CollectorRegistry(auto_describe=False)
    scraped.register(_Families(families))
    return generate_latest(registry) + generate_latest(scraped)


class _Families:
    """A collector of metric families read beforehand (prometheus_client collects
    synchronously; the queries are async)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


async def site_gauges(runtime: Runtime) -> list[Metric]:
    """agorakit's gauges, each read with one aggregate query (the queues with theirs)."""
    from prometheus_client.core import GaugeMetricFamily

    now = runtime.clock.now()
    out: list[Metric] = []

    def gauge(name: str, documentation: str, value: float | None = None, **labels: Any) -> Any:
        family = GaugeMetricFamily(name, documentation, value=value, labels=list(labels) or None)
        out.append(family)
        return family

    pool = getattr(runtime.db.engine, "pool", None) if runtime.db.is_postgres else None
    if pool is not None:  # asyncpg's pool; SQLite has none
        size, idle = pool.get_size(), pool.get_idle_size()
        gauge("agorakit_db_pool_size", "Connections open in this process's PostgreSQL pool", size)
        gauge("agorakit_db_pool_in_use", "Connections of the pool in use now", size - idle)
        maximum = pool.get_max_size()
        gauge("agorakit_db_pool_max_size", "The pool's most connections ([database] pool_max_size)", maximum)
    replica = runtime.db.replica
    if replica is not None and replica.read_pool is not None:  # [database] read_url
        read_pool = replica.read_pool
        size, idle = read_pool.get_size(), read_pool.get_idle_size()
        gauge("agorakit_db_read_pool_size", "Connections open in this process's read replica pool", size)
        gauge("agorakit_db_read_pool_in_use", "Connections of the read replica pool in use now", size - idle)
        gauge(
            "agorakit_db_read_pool_max_size",
            "The read replica pool's most connections ([database] pool_max_size)",
            read_pool.get_max_size(),
        )
        gauge(
            "agorakit_db_read_replica_up",
            "1 while public reads go to the read replica, 0 while they fall back to the primary",
            1 if replica.replica_up else 0,
        )

    events = await count_queue(StoredEvent, StoredEvent.status == "pending", since=StoredEvent.at)
    gauge("agorakit_outbox_pending_events", "Domain events written and not yet published", events.count)
    gauge(
        "agorakit_outbox_oldest_pending_age_seconds",
        "Age of the oldest pending domain event, by the site's clock (0 when none)",
        _age(now, events.oldest_at),
    )

    due = await count_queue(
        OrderTimer, (OrderTimer.status == "pending") & (OrderTimer.due_at <= now), since=OrderTimer.due_at
    )
    gauge("agorakit_timers_due", "Order timers due and not yet fired", due.count)
    gauge(
        "agorakit_timers_oldest_due_age_seconds",
        "How long the longest-due timer has been due (0 when none)",
        _age(now, due.oldest_at),
    )

    emails = await count_queue(
        EmailOutbox, EmailOutbox.status.is_in(["pending", "sending"]), since=EmailOutbox.created_at
    )
    gauge("agorakit_email_outbox_pending", "Emails waiting to be sent (pending or being sent)", emails.count)
    gauge(
        "agorakit_email_outbox_oldest_age_seconds",
        "Age of the oldest email waiting to be sent (0 when none)",
        _age(now, emails.oldest_at),
    )

    withdrawals = gauge(
        "agorakit_withdrawals_waiting",
        "Withdrawals waiting for their payout, by payout method and status",
        method="method",
        status="status",
    )
    for (method, status), count in (await _waiting_withdrawals(runtime)).items():
        withdrawals.add_metric([method, status], count)

    queues = await runtime.hooks.collect("agorakit_operator_queues", runtime=runtime)
    items = gauge("agorakit_operator_queue_items", "Items waiting in each operator queue", queue="queue")
    overdue = gauge("agorakit_operator_queue_overdue", "Items past each queue's due rule", queue="queue")
    oldest = gauge(
        "agorakit_operator_queue_oldest_age_seconds",
        "How long the oldest item of each queue has waited (0 when empty)",
        queue="queue",
    )
    by_key = {queue.key: queue for queue in queues}
    for key in sorted(by_key):
        queue = by_key[key]
        items.add_metric([key], queue.count)
        overdue.add_metric([key], queue.overdue)
        oldest.add_metric([key], _age(now, queue.oldest_at))
    failed_timers = by_key.get("timers.failed")
    failed = failed_timers.count if failed_timers else 0
    gauge("agorakit_timers_failed", "Order timers given up on after every attempt", failed)
    return out


async def _waiting_withdrawals(runtime: Runtime) -> dict[tuple[str, str], int]:
    """Withdrawals requested or processing, by method and status; every method the site
    offers is there, at 0 when none waits."""
    counts = {
        (method, status): 0
        for method in runtime.settings.money.payout_methods
        for status in WAITING_WITHDRAWALS
    }
    rows = await (
        Withdrawal.select(Withdrawal.method, Withdrawal.status, Count(alias="n"))
        .where(Withdrawal.status.is_in(list(WAITING_WITHDRAWALS)))
        .group_by(Withdrawal.method, Withdrawal.status)
    )
    for row in rows:
        counts[(row["method"], row["status"])] = int(row["n"])
    return dict(sorted(counts.items()))


def _age(now: Any, since: Any) -> float:
    return 0.0 if since is None else max(0.0, (now - since).total_seconds())
