"""Domain exceptions.

Business rules raise these; one exception handler (:mod:`agorakit.http.problem_details`) turns
them into RFC 9457 problem details. Each class carries a stable ``code`` (part of the API
contract: clients switch on it) and the HTTP status it maps to.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec


class FieldError(msgspec.Struct, frozen=True):
    """One invalid input field: where it is and what is wrong with it."""

    field: str
    message: str
    source: str = "body"


class AgorakitError(Exception):
    """Base of every domain error.  ``detail`` is a sentence a person can act on."""

    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[FieldError] = (),
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)
        self.headers = headers or {}
        self.extra = extra or {}


class ValidationFailed(AgorakitError):
    status = 422
    code = "validation_error"
    title = "The request has invalid fields"

    def __init__(self, errors: Sequence[FieldError], detail: str | None = None) -> None:
        if detail is None:
            detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
        super().__init__(detail, errors=errors)


class Unauthenticated(AgorakitError):
    status = 401
    code = "unauthenticated"
    title = "Authentication required"


class InvalidCredentials(Unauthenticated):
    code = "invalid_credentials"
    title = "Wrong email or password"


class AccountSuspended(AgorakitError):
    status = 403
    code = "account_suspended"
    title = "The account is suspended"


class Forbidden(AgorakitError):
    status = 403
    code = "forbidden"
    title = "Not allowed"


class NotFound(AgorakitError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(AgorakitError):
    status = 409
    code = "conflict"
    title = "Conflict with the current state"


class EmailTaken(Conflict):
    code = "email_taken"
    title = "The email address is already registered"


class ProfileChangeRefused(Conflict):
    code = "profile_change_refused"
    title = "This profile change is not allowed"


class TooManyRequests(AgorakitError):
    status = 429
    code = "too_many_requests"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class ServiceUnavailable(AgorakitError):
    status = 503
    code = "service_unavailable"
    title = "Service unavailable"


class EmailNotVerified(AgorakitError):
    status = 403
    code = "email_not_verified"
    title = "The email address is not verified"


class InvalidToken(AgorakitError):
    status = 400
    code = "invalid_token"
    title = "The link is invalid or expired"
