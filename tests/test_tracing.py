"""OpenTelemetry tracing (``[tracing]``) and the request id on every log line.

With tracing on, every request is one server span named ``<METHOD> <route template>``
with its status and request id, sent to the process's tracer provider (here one with an
in-memory exporter); off, nothing of OpenTelemetry is even imported.  Enabled without the
packages, start-up stops with a config error naming the extra.  Any log line written while
a request is handled carries the request's id, in JSON and in text.
"""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import textwrap

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from agorakit.app import create_app
from agorakit.http.logging import JsonFormatter, TextFormatter, current_request_id
from agorakit.settings import ConfigError, settings_from_dict

_EXPORTER = InMemorySpanExporter()
SECRET = {"auth": {"jwt_secret": "a-test-secret-of-at-least-32-characters"}}


@pytest.fixture(scope="module", autouse=True)
def tracer_provider():
    """The process's tracer provider, set before any app of this module is built (so
    agorakit uses it rather than set its own), also exporting to memory."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider):
        trace.set_tracer_provider(TracerProvider())
        provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    if not getattr(provider, "_agorakit_test_exporter", False):
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        provider._agorakit_test_exporter = True  # type: ignore[attr-defined]
    return provider


@pytest.fixture
def spans():
    """The spans ended during the test."""
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


def run_python(code: str, **env: str) -> str:
    code = f"SECRET = {SECRET!r}\n" + textwrap.dedent(code)
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", **env},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


class TestTracingOn:
    @pytest.fixture
    def site_config(self):
        return {"site": {"plugins": ["gigs"]}, "tracing": {"enabled": True, "service_name": "acme-test"}}

    async def test_a_request_is_a_server_span_named_by_its_route(self, client, make_member, spans):
        member = await make_member()
        response = await client.get(
            "/listings/4242", headers={**member.headers, "X-Request-ID": "req-span-1"}
        )
        assert response.status_code == 404
        assert response.headers["x-request-id"] == "req-span-1"

        [span] = [span for span in spans.get_finished_spans() if span.kind is SpanKind.SERVER]
        assert span.name == "GET /listings/{listing_id}"
        assert span.attributes["http.route"] == "/listings/{listing_id}"
        status = span.attributes.get("http.response.status_code", span.attributes.get("http.status_code"))
        assert status == 404
        assert span.attributes["agorakit.request_id"] == "req-span-1"
        assert not [span for span in spans.get_finished_spans() if span.kind is not SpanKind.SERVER]

    async def test_a_failed_request_marks_its_span_as_an_error(self, client, runtime, monkeypatch, spans):
        async def unreachable():
            raise OSError("connection refused")

        monkeypatch.setattr(runtime.db, "ping", unreachable)
        assert (await client.get("/health/live")).status_code == 200
        assert (await client.get("/health/ready")).status_code == 503
        names = [(span.name, span.status.status_code) for span in spans.get_finished_spans()]
        assert names == [("GET /health/live", StatusCode.UNSET), ("GET /health/ready", StatusCode.ERROR)]


async def test_tracing_is_off_by_default(client, spans):
    assert (await client.get("/health/live")).status_code == 200
    assert spans.get_finished_spans() == ()


def test_off_imports_nothing_of_the_opentelemetry_sdk():
    # Litestar itself imports the OpenTelemetry API when it is installed (to find its
    # plugin); agorakit loads the SDK, the exporter and its tracer provider only when on.
    out = run_python(
        """
        import sys
        from agorakit.app import create_app
        from agorakit.settings import settings_from_dict

        create_app(settings_from_dict(SECRET, source="site.toml", environ={}))
        print(sorted(name for name in sys.modules if name.startswith(("opentelemetry.sdk", "opentelemetry.exporter"))))
        """
    )
    assert out == "[]"


def test_the_tracer_provider_is_set_with_the_service_name_when_none_is():
    out = run_python(
        """
        from opentelemetry import trace
        from agorakit.app import create_app
        from agorakit.settings import settings_from_dict

        settings = settings_from_dict(
            {**SECRET, "site": {"name": "Acme Market"}, "tracing": {"enabled": True}},
            source="site.toml",
            environ={},
        )
        create_app(settings)
        provider = trace.get_tracer_provider()
        print(type(provider).__module__, provider.resource.attributes["service.name"])
        """,
        OTEL_TRACES_EXPORTER="none",
    )
    assert out == "opentelemetry.sdk.trace Acme Market"


def test_tracing_without_the_packages_is_a_config_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "opentelemetry.instrumentation.asgi", None)
    settings = settings_from_dict({**SECRET, "tracing": {"enabled": True}}, source="site.toml", environ={})
    with pytest.raises(ConfigError) as error:
        create_app(settings)
    assert str(error.value) == (
        "site.toml: tracing.enabled: OpenTelemetry is not installed (opentelemetry-instrumentation-asgi); "
        "install agorakit's tracing extra: pip install 'agorakit[tracing]'"
    )


def test_service_name_is_limited():
    with pytest.raises(ConfigError, match="tracing"):
        settings_from_dict({**SECRET, "tracing": {"service_name": "x" * 201}}, source="site.toml", environ={})


# -- the request id on every log line ------------------------------------------------------


@pytest.fixture
def json_log():
    """Lines a logger of the site writes, formatted as ``[logging] format = "json"``."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("agorakit.test_tracing")
    saved = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield logger, stream
    logger.removeHandler(handler)
    logger.setLevel(saved)


async def test_a_line_logged_inside_a_handler_carries_the_request_id(client, runtime, monkeypatch, json_log):
    logger, stream = json_log
    ping = runtime.db.ping

    async def logged_ping():
        logger.info("pinging the database")
        return await ping()

    monkeypatch.setattr(runtime.db, "ping", logged_ping)
    response = await client.get("/health/ready", headers={"X-Request-ID": "req-log-7"})
    assert response.status_code == 200
    logger.info("after the request")
    inside, after = (json.loads(line) for line in stream.getvalue().splitlines())
    assert inside["message"] == "pinging the database"
    assert inside["request_id"] == "req-log-7"
    assert after["message"] == "after the request"
    assert "request_id" not in after


def test_the_text_format_shows_the_request_id_only_inside_a_request():
    record = logging.LogRecord("agorakit.orders", logging.INFO, __file__, 1, "order %s paid", (7,), None)
    assert TextFormatter().format(record).endswith(" INFO agorakit.orders: order 7 paid")
    token = current_request_id.set("req-9")
    try:
        line = TextFormatter().format(record)
    finally:
        current_request_id.reset(token)
    assert line.endswith(" INFO agorakit.orders [req-9]: order 7 paid")
