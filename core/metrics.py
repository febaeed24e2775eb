"""Prometheus metrics (``[metrics]``, off by default): Litestar's own Prometheus
integration for the requests, and agorakit's gauges read when the metrics are scraped.

Requests are counted and timed by ``litestar.plugins.prometheus`` (its metrics, grouped
by route template: ``/orders/{order_id:int}``, never the raw path, so ids do not grow the
label set), under the prefix ``agorakit_http``, through :func:`request_metrics`: Litestar's
middleware with the same metrics, labels and values at a third of its cost per request.  The gauges are read at scrape time with
one aggregate query each: every operator queue (``agorakit_operator_queues``, as
``GET /operator/queues`` gathers them), the event and email outboxes, the order timers,
the withdrawals waiting by method, and the PostgreSQL connection pool.  The metrics route
is outside the API: not in the OpenAPI document, and guarded by ``[metrics] token`` when
one is set.  docs/operations.md lists every metric.
"""

from __future__ import annotations

import functools
import hmac
import os
import time
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
    from litestar.plugins.prometheus import PrometheusMiddleware
    from litestar.types import Message, Receive, Scope, Send
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

    config = PrometheusConfig(
        app_name="agorakit", prefix=HTTP_PREFIX, group_path=True, middleware_class=request_metrics()
    )
    app_config.middleware.append(config.middleware)
    app_config.route_handlers.append(_metrics_controller(section.path))


@functools.cache
def request_metrics() -> type[PrometheusMiddleware]:
    """The request middleware's class (made on first use: prometheus_client is imported only
    when the metrics are on)."""
    from litestar.plugins.prometheus import PrometheusMiddleware

    class RequestMetrics(PrometheusMiddleware):
        """Litestar's Prometheus middleware for agorakit's config (route templates, no extra
        labels, no exemplars): the same four metrics with the same labels and values, cheaper
        per request.

        Litestar's middleware builds a ``Request`` and parses the URL, makes the label dict and
        looks each labelled child up again (four lookups, each taking the metric's lock), and
        wraps ``send`` with ``functools.wraps``, on every request (about 30 µs; docs/performance.md
        has the figures).  Here the children are looked up once per method, route and status
        and kept (as many as the metric's own label sets), and the route template and method are
        read from the ASGI scope.
        """

        def __init__(self, app: Any, config: Any) -> None:
            super().__init__(app, config)
            #: (method, route) -> the in-progress gauge's child
            self._in_progress: dict[tuple[str, str], Any] = {}
            #: (method, route, status) -> the children of the request counter, the duration
            #: histogram and (5xx only) the error counter
            self._done: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}

        def _labels(self, method: str, path: str, status: int) -> dict[str, str | int | float]:
            # the order of Litestar's default labels: the metrics are created with these names
            return {"method": method, "path": path, "status_code": status, "app_name": self._config.app_name}

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            method = scope["method"] if scope["type"] == "http" else scope["type"]  # type: ignore[typeddict-item]
            path = scope["path_template"]  # type: ignore[typeddict-item]
            gauge = self._in_progress.get((method, path))
            if gauge is None:
                labels = self._labels(method, path, 200)
                gauge = self.requests_in_progress(labels).labels(*labels.values())
                self._in_progress[(method, path)] = gauge
            span = [200, 0.0]  # the response's status, and when its body was sent

            async def timed_send(message: Message) -> None:
                kind = message["type"]
                if kind == "http.response.start":
                    span[0] = message["status"]  # type: ignore[typeddict-item]
                elif kind == "http.response.body":
                    span[1] = time.perf_counter()
                await send(message)

            started = time.perf_counter()
            gauge.inc()
            try:
                await self.app(scope, receive, timed_send)
            finally:
                gauge.dec()
                status = int(span[0])
                children = self._done.get((method, path, status))
                if children is None:
                    labels = self._labels(method, path, status)
                    values = [*labels.values()]
                    errors = self.requests_error_count(labels).labels(*values) if status >= 500 else None
                    children = (
                        self.request_count(labels).labels(*values),
                        self.request_time(labels).labels(*values),
                        errors,
                    )
                    self._done[(method, path, status)] = children
                count, duration, errors = children
                if errors is not None:
                    errors.inc()
                count.inc()
                # Litestar's duration: until the body was sent, 0 when it never was
                duration.observe(span[1] - started if span[1] else 0)

    return RequestMetrics


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
