"""Structured request logging and request ids.

Every HTTP request produces one record on the ``agorakit.http.access`` logger with the
fields ``method``, ``path``, ``status``, ``duration_ms``, ``client``, ``request_id`` and
``member_id`` (in ``record.http``), and ``integration_id`` for a request made with an
integration token (whose ``member_id`` is None).  The request id comes from a well-formed incoming
``X-Request-ID`` header or is generated, and is echoed in the response.
While a request is handled its id is in :data:`current_request_id`, so every record
written then (by any logger, not only the access log) carries it: the ``request_id``
field in JSON, ``[<id>]`` after the logger's name in text.
``configure_logging`` sets text or JSON-lines output (``[logging] format``).
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from typing import Any

import msgspec
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from agorakit.settings import LoggingSection

access_log = logging.getLogger("agorakit.http.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
#: the id of the request being handled (``None`` outside a request); tasks started while
#: handling it inherit it
current_request_id: ContextVar[str | None] = ContextVar("agorakit_request_id", default=None)


def request_logging_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = current_request_id.set(request_id)
        status = 0  # no answer started yet

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        except Exception as error:
            # An exception a route's own middleware raises (a form's CSRF refusal) is
            # answered by Litestar outside this middleware, with the exception's status.
            if not status:
                status = getattr(error, "status_code", 500)
            raise
        finally:
            user = scope.get("user")
            client = scope.get("client")
            status = status or 500
            fields = {
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "client": client[0] if client else None,
                "request_id": request_id,
                "member_id": getattr(user, "id", None),
                "integration_id": getattr(user, "integration_id", None),
            }
            access_log.info(
                "%s %s %s %.1fms",
                fields["method"],
                fields["path"],
                status,
                fields["duration_ms"],
                extra={"http": fields},
            )
            current_request_id.reset(token)

    return middleware


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the request's id when the
    record was written while handling one, and any ``http`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = current_request_id.get()
        if request_id is not None:
            entry["request_id"] = request_id
        http = getattr(record, "http", None)
        if http:
            entry.update(http)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return msgspec.json.encode(entry).decode()


class TextFormatter(logging.Formatter):
    """``<time> <level> <logger> [<request id>]: <message>``; the id only while a request
    is handled."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(request)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = current_request_id.get()
        record.request = f" [{request_id}]" if request_id is not None else ""
        return super().format(record)


def configure_logging(config: LoggingSection) -> None:
    """Send the ``agorakit`` loggers to stderr in the configured format."""
    handler = logging.StreamHandler(sys.stderr)
    if config.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    root = logging.getLogger("agorakit")
    root.handlers[:] = [handler]
    root.setLevel(config.level)
    root.propagate = False
