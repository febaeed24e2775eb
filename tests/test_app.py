"""The app shell: health, docs, problem details, body limit, CORS, request logging."""

from __future__ import annotations

import json
import logging

import pytest

from agorakit.http.logging import JsonFormatter, configure_logging
from agorakit.settings import LoggingSection


async def test_health_reports_database_kind(client, db_kind):
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": db_kind, "version": "0.1.0"}


async def test_health_is_503_problem_when_database_is_down(client, runtime, problem, monkeypatch):
    async def unreachable():
        raise OSError("connection refused")

    monkeypatch.setattr(runtime.db, "ping", unreachable)
    problem(await client.get("/health"), 503, "service_unavailable")


async def test_index_points_at_the_docs(client):
    body = (await client.get("/")).json()
    assert body == {
        "name": "test market",
        "version": "0.1.0",
        "docs": "/docs",
        "openapi": "/docs/openapi.json",
    }


async def test_openapi_31_schema_and_docs_ui_are_served(client):
    schema = (await client.get("/docs/openapi.json")).json()
    assert schema["openapi"].startswith("3.1")
    assert schema["info"]["title"] == "test market"
    operations = {op["operationId"]: op for path in schema["paths"].values() for op in path.values()}
    for operation_id in ["register", "login", "getMe", "updateMe", "changePassword", "listMembers", "health"]:
        assert operation_id in operations
        assert operations[operation_id]["summary"]
    assert "BearerToken" in schema["components"]["securitySchemes"]
    ui = await client.get("/docs")
    assert ui.status_code == 200 and "<html" in ui.text.lower()
    assert (await client.get("/docs/swagger")).status_code == 200


async def test_every_route_has_an_operation_id_and_summary(client):
    schema = (await client.get("/docs/openapi.json")).json()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            assert operation.get("operationId"), f"{method.upper()} {path} has no operation_id"
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"


async def test_unknown_path_and_wrong_method_are_problems(client, problem):
    problem(await client.get("/no/such/thing"), 404, "not_found")
    problem(await client.delete("/health"), 405, "method_not_allowed")


class TestBodyLimit:
    @pytest.fixture
    def site_config(self):
        return {"http": {"max_body_bytes": 512}}

    async def test_oversized_body_is_413_and_changes_nothing(self, client, problem):
        from agorakit.accounts.tables import Member

        body = {
            "email": "big@example.com",
            "password": "a-long-good-passphrase",
            "display_name": "Big",
            "country": "US",
            "skills": ["x" * 30] * 20,
        }
        problem(await client.post("/auth/register", json=body), 413, "request_too_large")
        assert await Member.count() == 0


class TestCors:
    @pytest.fixture
    def site_config(self):
        return {"http": {"cors_origins": ["https://app.example.com"]}}

    async def test_allowed_origin_gets_cors_headers(self, client):
        preflight = await client.options(
            "/auth/login",
            headers={
                "Origin": "https://app.example.com",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status_code in {200, 204}
        assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
        response = await client.get("/health", headers={"Origin": "https://app.example.com"})
        assert response.headers["access-control-allow-origin"] == "https://app.example.com"

    async def test_other_origin_gets_none(self, client):
        response = await client.get("/health", headers={"Origin": "https://evil.example.net"})
        assert "access-control-allow-origin" not in response.headers


async def test_cors_is_off_by_default(client):
    response = await client.get("/health", headers={"Origin": "https://app.example.com"})
    assert "access-control-allow-origin" not in response.headers


async def test_each_request_is_logged_with_structured_fields(client, make_member, caplog):
    member = await make_member()
    caplog.set_level(logging.INFO, logger="agorakit.http.access")
    response = await client.get("/me", headers={**member.headers, "X-Request-ID": "req-42"})
    assert response.headers["x-request-id"] == "req-42"
    records = [r for r in caplog.records if r.name == "agorakit.http.access"]
    assert len(records) == 1
    fields = records[0].http
    assert fields["method"] == "GET" and fields["path"] == "/me" and fields["status"] == 200
    assert fields["request_id"] == "req-42"
    assert fields["member_id"] == member.id
    assert fields["duration_ms"] >= 0


async def test_bad_request_id_is_replaced(client):
    response = await client.get("/health", headers={"X-Request-ID": "no spaces allowed; " + "x" * 80})
    assert response.headers["x-request-id"] != "no spaces allowed; " + "x" * 80
    assert len(response.headers["x-request-id"]) == 32


def test_json_log_format_emits_one_object_per_line():
    record = logging.LogRecord("agorakit.http.access", logging.INFO, __file__, 1, "GET / 200", (), None)
    record.http = {"method": "GET", "path": "/", "status": 200}
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "INFO" and entry["message"] == "GET / 200"
    assert entry["status"] == 200 and entry["path"] == "/"


def test_configure_logging_installs_the_chosen_format():
    logger = logging.getLogger("agorakit")
    saved = logger.handlers[:], logger.level, logger.propagate
    try:
        configure_logging(LoggingSection(level="WARNING", format="json"))
        assert isinstance(logger.handlers[0].formatter, JsonFormatter)
        assert logger.level == logging.WARNING
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved


async def test_absurd_ids_and_forged_cursors_are_4xx_not_500(client, make_member, problem):
    import base64

    operator = await make_member(role="operator")
    for path in ["/payments/99999999999999999999", "/withdrawals/2147483648", "/operator/members/0"]:
        body = problem(await client.get(path, headers=operator.headers), 422, "validation_error")
        assert body["errors"][0]["source"] == "path"
    forged = base64.urlsafe_b64encode(b'{"id":"x"}').decode().rstrip("=")
    for path in ["/operator/members", "/payments", "/withdrawals", "/me/ledger", "/operator/withdrawals"]:
        response = await client.get(path, params={"cursor": forged}, headers=operator.headers)
        problem(response, 422, "validation_error", fields={"cursor"})
    # Integers beyond 64 bits fit no database column: a 422 too, not an overflow.
    huge = base64.urlsafe_b64encode(b'{"id":99999999999999999999}').decode().rstrip("=")
    for path in ["/operator/members", "/payments", "/withdrawals", "/me/ledger", "/operator/withdrawals"]:
        response = await client.get(path, params={"cursor": huge}, headers=operator.headers)
        problem(response, 422, "validation_error", fields={"cursor"})
    for keys in (b'{"k":99999999999999999999,"id":1}', b'{"k":1,"id":-99999999999999999999}'):
        cursor = base64.urlsafe_b64encode(keys).decode().rstrip("=")
        problem(
            await client.get("/listings", params={"cursor": cursor}),
            422,
            "validation_error",
            fields={"cursor"},
        )


class _SiteNameMiddleware:
    """A plugin's route middleware: it gets no dependencies, so it finds the runtime
    of the app serving the request with ``runtime_of``."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        from agorakit.runtime import runtime_of

        name = runtime_of(scope).settings.site.name.encode()

        async def send_with_name(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-site-name", name)]
            await send(message)

        await self.app(scope, receive, send_with_name)


class _MiddlewarePlugin:
    @staticmethod
    def agorakit_routes():
        from litestar import Router, get

        @get("/ping", operation_id="middlewarePing", summary="ping", opt={"exclude_from_auth": True})
        async def ping() -> dict[str, str]:
            return {"pong": "yes"}

        return [Router(path="/middleware-plugin", route_handlers=[ping], middleware=[_SiteNameMiddleware])]


class TestPluginMiddleware:
    @pytest.fixture
    def extra_plugins(self):
        import agorakit

        plugin = _MiddlewarePlugin()
        plugin.agorakit_routes = agorakit.hookimpl(plugin.agorakit_routes)
        return [("middleware_plugin", plugin)]

    async def test_plugin_middleware_reads_the_runtime_of_the_serving_app(self, client, runtime):
        from agorakit.runtime import runtime_of

        assert runtime_of({"litestar_app": client.app}) is runtime
        response = await client.get("/middleware-plugin/ping")
        assert response.status_code == 200
        assert response.json() == {"pong": "yes"}
        assert response.headers["x-site-name"] == "test market"
