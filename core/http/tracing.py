"""OpenTelemetry tracing (``[tracing]``, off by default) through Litestar's own
integration: every request is a server span named by its route template
(``GET /orders/{order_id:int}``, never the raw path), with its status.

The spans go to the process's global tracer provider.  When none is set (the process was
not started under ``opentelemetry-instrument`` or another SDK set-up), agorakit sets one:
the SDK's, with ``service.name`` from ``[tracing] service_name`` (default: the site's
name) and an OTLP/HTTP exporter configured by the standard environment
(``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_HEADERS``, ...), unless
``OTEL_TRACES_EXPORTER=none``.  With tracing off nothing of OpenTelemetry is imported.
The packages are the ``tracing`` extra; docs/operations.md explains the set-up.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from agorakit.settings import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from litestar.config.app import AppConfig
    from litestar.types import ASGIApp, Receive, Scope, Send

    from agorakit.runtime import Runtime

#: what ``[tracing] enabled`` needs, by module: the package to install
REQUIRED = {
    "opentelemetry.sdk.trace": "opentelemetry-sdk",
    "opentelemetry.instrumentation.asgi": "opentelemetry-instrumentation-asgi",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter": "opentelemetry-exporter-otlp-proto-http",
}


def install_tracing(app_config: AppConfig, runtime: Runtime) -> None:
    """With ``[tracing] enabled``: Litestar's OpenTelemetry plugin and its middleware."""
    settings = runtime.settings
    if not settings.tracing.enabled:
        return
    _require_packages(settings.source)
    from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin

    service_name = settings.tracing.service_name or settings.site.name
    config = OpenTelemetryConfig(
        tracer_provider=tracer_provider(service_name),
        scope_span_details_extractor=method_span_details,
        exclude_spans=["receive", "send"],  # one server span per request, not one per ASGI message
    )
    # the plugin wraps the whole app (its span starts before routing); the route's own
    # middleware below names the span once the route is known
    app_config.plugins.append(OpenTelemetryPlugin(config))
    app_config.middleware.append(span_route_middleware)


def _require_packages(source: str) -> None:
    import importlib

    missing = []
    for module, package in REQUIRED.items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(package)
    if missing:
        message = (
            f"{source}: tracing.enabled: OpenTelemetry is not installed ({', '.join(missing)}); "
            "install agorakit's tracing extra: pip install 'agorakit[tracing]'"
        )
        raise ConfigError(message)


def tracer_provider(service_name: str) -> Any:
    """The process's global tracer provider; when none is set, the SDK's with this
    ``service.name`` and the OTLP exporter the environment configures, set globally."""
    from opentelemetry import trace

    current = trace.get_tracer_provider()
    if not isinstance(current, trace.ProxyTracerProvider):
        return current
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    if os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() != "none":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return trace.get_tracer_provider()


def method_span_details(scope: Scope) -> tuple[str, dict[str, Any]]:
    """The server span's name before routing: the method alone (never the raw path, whose
    ids would make every span name different); :func:`span_route_middleware` adds the route."""
    return str(scope.get("method") or scope["type"]), {}


def span_route_middleware(app: ASGIApp) -> ASGIApp:
    """Names the request's server span ``<METHOD> <route template>`` and sets its
    ``http.route`` and the request id (``agorakit.request_id``)."""
    from opentelemetry import trace

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        template = scope.get("path_template")
        if scope["type"] == "http" and template:
            span = trace.get_current_span()
            span.update_name(f"{scope['method']} {template}")
            span.set_attribute("http.route", template)
            request_id = scope.get("state", {}).get("request_id")
            if request_id:
                span.set_attribute("agorakit.request_id", request_id)
        await app(scope, receive, send)

    return middleware
