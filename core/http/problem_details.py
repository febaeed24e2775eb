"""RFC 9457 problem details for every error response.

Body (``application/problem+json``)::

    {"type": "urn:agorakit:problem:validation_error", "title": "...", "status": 422,
     "detail": "email: ...", "code": "validation_error", "instance": "/auth/register",
     "errors": [{"field": "email", "message": "...", "source": "body"}]}

``code`` is stable (clients switch on it; ``type`` is the same code as a URN).  Field
errors come for every validation failure: schema errors found while decoding (a wrong
type, a missing field, an unknown field) and domain rules (a weak password, an unknown
country).  A body that is not JSON at all is a 400 ``bad_request``.  Anything
unexpected is logged with its traceback and answered with a 500 that reveals nothing.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException

from agorakit.db import is_lock_conflict
from agorakit.errors import AgorakitError, FieldError

log = logging.getLogger("agorakit.http")

PROBLEM_MEDIA_TYPE = "application/problem+json"


class Problem(msgspec.Struct, omit_defaults=True):
    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    errors: list[FieldError] = []
    extra: dict[str, Any] = {}


_HTTP_CODES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    409: ("conflict", "Conflict with the current state"),
    413: ("request_too_large", "Request body too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    429: ("too_many_requests", "Too many requests"),
    500: ("internal_error", "Internal server error"),
    503: ("service_unavailable", "Service unavailable"),
}


def problem_response(
    request: Request,
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response[Problem]:
    body = Problem(
        type=f"urn:agorakit:problem:{code}",
        title=title,
        status=status,
        detail=detail,
        code=code,
        instance=request.url.path,
        errors=errors or [],
        extra=extra or {},
    )
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def handle_domain_error(request: Request, exc: AgorakitError) -> Response[Problem]:
    return problem_response(
        request,
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        errors=exc.errors,
        headers=exc.headers,
        extra=exc.extra,
    )


_FIELD_IN_MESSAGE = re.compile(r"`\$\.(?P<path>[^`]+)`")
_NAMED_FIELD = re.compile(r"(?:missing required|contains unknown) field `(?P<name>[^`]+)`")


def handle_validation_error(request: Request, exc: ValidationException) -> Response[Problem]:
    errors: list[FieldError] = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", "invalid value"))
        key = item.get("key")
        if not key or key == "data":  # msgspec names nested fields only inside the message
            match = _FIELD_IN_MESSAGE.search(message)
            key = match.group("path") if match else None
        named = _NAMED_FIELD.search(message)
        if named:  # "Object missing required field `country`": the field is the named one
            key = f"{key}.{named.group('name')}" if key else named.group("name")
        if key:
            message = re.sub(r"\s*- at `\$[^`]*`", "", message)
            source = item.get("source") or "body"
            source = getattr(source, "value", source)  # Litestar passes ParamType members
            errors.append(FieldError(str(key), message, str(source)))
    if not errors:
        detail = _plain_detail(exc.extra) or "the request body is not valid JSON"
        return problem_response(request, status=400, code="bad_request", title="Bad request", detail=detail)
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
    return problem_response(
        request,
        status=422,
        code="validation_error",
        title="The request has invalid fields",
        detail=detail,
        errors=errors,
    )


def _plain_detail(extra: Any) -> str:
    if isinstance(extra, list):
        return "; ".join(str(i.get("message")) for i in extra if isinstance(i, dict) and i.get("message"))
    return ""


def handle_http_exception(request: Request, exc: HTTPException) -> Response[Problem]:
    status = exc.status_code
    if status >= 500:
        return handle_unexpected(request, exc)
    code, title = _HTTP_CODES.get(status, ("http_error", "Request failed"))
    detail = exc.detail if exc.detail and exc.detail != title else title
    if status == 404:
        detail = f"nothing at {request.method} {request.url.path}"
    elif status == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    return problem_response(
        request, status=status, code=code, title=title, detail=detail, headers=exc.headers
    )


def handle_unexpected(request: Request, exc: Exception) -> Response[Problem]:

    if is_lock_conflict(exc):  # rolled back whole: nothing changed, and a retry can pass
        log.warning("%s %s lost to a concurrent transaction: %s", request.method, request.url.path, exc)
        return problem_response(
            request,
            status=409,
            code="concurrent_change",
            title="A concurrent change got in the way",
            detail="another request changed the same data at the same moment; nothing was changed, try again",
        )
    status = getattr(exc, "status_code", 500)
    if not isinstance(status, int) or status < 500:
        status = 500
    if status == 500:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    code, title = _HTTP_CODES.get(status, ("internal_error", "Internal server error"))
    detail = "the server failed to handle this request; it has been logged"
    if status == 503:
        detail = str(getattr(exc, "detail", "")) or "the service is temporarily unavailable"
    return problem_response(request, status=status, code=code, title=title, detail=detail)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    AgorakitError: handle_domain_error,
    ValidationException: handle_validation_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}

__all__ = ["EXCEPTION_HANDLERS", "PROBLEM_MEDIA_TYPE", "MediaType", "Problem", "problem_response"]
