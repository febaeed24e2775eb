"""The error responses of the OpenAPI document.

Every error the API sends is an RFC 9457 problem details body
(:class:`~agorakit.http.problem_details.Problem`, ``application/problem+json``), so the
document describes each operation's errors with that one schema.  Most of them follow
from the route's shape and are added here once, when the app registers the route:

- 400 ``bad_request`` and 422 ``validation_error`` for any route that takes input (a
  body, a path, query or header parameter); this replaces Litestar's own 400 schema,
  which the API never sends;
- 413 ``request_too_large`` for a route that takes a body;
- 404 ``not_found`` for a route with a path parameter (an id that does not exist or
  belongs to someone the caller may not see: the API answers 404 for both);
- 409 for a route that changes something: the state does not allow it, or a concurrent
  change got in the way (``concurrent_change``: nothing changed, a retry can pass);
- 403 for a route behind a role guard (operators only, the owner only);
- 401 and 403 (a suspended account) and the bearer-token requirement for a route that
  needs a token (set by the JWT config,
  :meth:`agorakit.accounts.auth.MemberJWTAuth.document_route`);
- 200 beside the 201 of a POST that takes an ``Idempotency-Key``: a replay answers 200
  with the first result.

A route adds the errors its service can raise beyond these (a 409 on a read, 429
throttles, 503 for a provider that is not configured, 502 for a provider's refusal)
with ``responses=problems(409, 503)``.  A route that lists Litestar exceptions in
``raises=`` gets problem details for their statuses too, not Litestar's own
``{status_code, detail, extra}`` schema (which the API never sends, and whose ``extra``
generated clients cannot read).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from litestar.handlers.http_handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.routes import HTTPRoute

from agorakit.http.problem_details import PROBLEM_MEDIA_TYPE, Problem

#: What each documented error status means across the API (the problem ``code`` in
#: brackets is the generic one; domain errors carry more specific codes).
STATUS_DESCRIPTIONS: dict[int, str] = {
    400: "The request is malformed (`bad_request`): a body that is not JSON, or input that cannot be read.",
    401: "No valid bearer token (`unauthenticated`), or wrong credentials.",
    403: "The caller may not do this (`forbidden`, or a more specific code such as `account_suspended`).",
    404: "No such object, or one the caller may not see (`not_found`).",
    409: "The current state does not allow this (`conflict`, or a more specific code), or a concurrent "
    "change got in the way (`concurrent_change`: nothing changed, try again).",
    413: "The request body is larger than the site allows (`request_too_large`).",
    415: "The uploaded file's type is not accepted (`unsupported_media_type`).",
    422: "The input is well-formed but invalid (`validation_error`); `errors` names each field.",
    429: "Too many attempts (`too_many_requests`); the `Retry-After` header says when to try again.",
    502: "The payment provider refused the request (`paypal_error`); `extra.debug_id` is its reference.",
    503: "A service this operation needs is not configured or not reachable (`service_unavailable`).",
}

#: Names of handler parameters that are not input from the client (injected by Litestar).
_INJECTED = frozenset({"self", "request", "runtime", "state", "scope", "headers", "socket"})
IDEMPOTENCY_HEADER = "Idempotency-Key"


def problem(status: int, description: str | None = None) -> ResponseSpec:
    """One problem-details response for the OpenAPI document."""
    return ResponseSpec(
        data_container=Problem,
        media_type=PROBLEM_MEDIA_TYPE,
        description=description or STATUS_DESCRIPTIONS[status],
        generate_examples=False,
    )


def problems(*statuses: int, **described: str) -> dict[int, ResponseSpec]:
    """``responses=`` for a route: problem details for each status.

    ``problems(404, 409)``; a status with a route-specific description is given by
    keyword: ``problems(404, s409="the gig is paused or closed")``.
    """
    out = {status: problem(status) for status in statuses}
    for key, text in described.items():
        status = int(key.lstrip("s"))
        out[status] = problem(status, text)
    return out


def _takes_input(handler: HTTPRouteHandler, route: HTTPRoute) -> tuple[bool, bool]:
    """(any client input at all, a request body)."""
    names = set(handler.parsed_fn_signature.parameters) - _INJECTED
    has_body = "data" in names
    return bool(names or route.path_parameters), has_body


def _takes_idempotency_key(handler: HTTPRouteHandler) -> bool:
    for field in handler.parsed_fn_signature.parameters.values():
        kwarg = field.kwarg_definition
        if kwarg is not None and IDEMPOTENCY_HEADER in (
            getattr(kwarg, "header", None),
            getattr(kwarg, "name", None),
        ):
            return True
    return False


def _success_type(handler: HTTPRouteHandler) -> Any:
    """The body type of a handler's success response (``Response[X]`` gives ``X``)."""
    returned = handler.parsed_fn_signature.return_type
    if returned.inner_types and returned.origin is not None:
        return returned.inner_types[0].annotation
    return returned.annotation


def document_route(route: HTTPRoute, *, role_guards: dict[Any, str]) -> None:
    """Add the error responses every route of this shape can produce (see the module doc)."""
    for handler in route.route_handlers:
        if not handler.resolve_include_in_schema():
            continue
        documented: dict[int, ResponseSpec] = {}
        takes_input, has_body = _takes_input(handler, route)
        if takes_input:
            documented.update(problems(400, 422))
        if has_body:
            documented.update(problems(413))
        if route.path_parameters:
            documented.update(problems(404))
        if handler.http_methods - {"GET", "HEAD", "OPTIONS"}:
            documented.update(problems(409))
        guards = [g for layer in handler.ownership_layers for g in (layer.guards or ())]
        for guard, who in role_guards.items():
            if guard in guards:
                documented[403] = problem(403, f"The caller is not {who} (`forbidden`).")
        for raised in handler.raises or ():
            status = raised.status_code
            described = None if status in STATUS_DESCRIPTIONS else f"{HTTPStatus(status).phrase}."
            documented.setdefault(status, problem(status, described))
        handler.raises = None
        if handler.status_code == 201 and _takes_idempotency_key(handler):
            documented[200] = ResponseSpec(
                data_container=_success_type(handler),
                description="A replay of an earlier request with the same `Idempotency-Key`: "
                "the first result, with the header `Idempotent-Replayed: true`; nothing changes again.",
                generate_examples=False,
            )
        # what the route declares itself is more specific, so it wins
        handler.responses = {**documented, **(handler.responses or {})}


__all__ = ["STATUS_DESCRIPTIONS", "document_route", "problem", "problems"]
