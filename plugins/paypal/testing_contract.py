"""The contract of the local PayPal: PayPal's published OpenAPI files, read with
``openapi-core``.  :class:`PayPalContract` validates every request the plugins send and
every response the stand-in returns; violations are collected in ``contract.violations``.
The token endpoint and the certificate download are not in PayPal's files and are checked
by hand.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx

from agorakit.plugins.paypal.testing_support import CERT_HOST, SANDBOX

SPEC_FILES = {
    "/v1/payments/": "payments_payouts_batch_v1.json",
    "/v2/checkout/": "checkout_orders_v2.json",
    "/v1/notifications/": "notifications_webhooks_v1.json",
}
SPEC_DIR_ENV = "AGORAKIT_PAYPAL_SPEC_DIR"

_SPECS: dict[Path, Any] = {}


def spec_dir_problem(spec_dir: Path) -> str | None:
    """Why PayPal's OpenAPI files cannot be used from ``spec_dir`` (None: they can)."""
    missing = [name for name in SPEC_FILES.values() if not (spec_dir / name).is_file()]
    if missing:
        return (
            f"PayPal's OpenAPI files are not in {spec_dir} (missing {', '.join(missing)}); set {SPEC_DIR_ENV}"
        )
    try:
        import openapi_core  # noqa: F401
    except ImportError:
        return "openapi-core is not installed (pip install 'agorakit[dev]')"
    return None


class _OpenAPIRequest:
    """An httpx request as openapi-core's Request protocol, on PayPal's sandbox host."""

    def __init__(self, request: httpx.Request) -> None:
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        self.host_url = SANDBOX
        self.path = request.url.path
        self.method = request.method.lower()
        self.body = request.content or None
        self.content_type = request.headers.get("content-type", "application/json").lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(list(request.url.params.multi_items())),
            header=Headers(list(request.headers.items())),
        )


class _OpenAPIResponse:
    def __init__(self, response: httpx.Response) -> None:
        from werkzeug.datastructures import Headers

        self.status_code = response.status_code
        self.headers = Headers(list(response.headers.items()))
        self.content_type = response.headers.get("content-type", "application/json").lower()
        self.data = response.content or None


@contextlib.contextmanager
def _python_schema_backend() -> Iterator[None]:
    """Check PayPal's files with the ``jsonschema`` backend of openapi-spec-validator.

    With ``jsonschema-rs`` installed (schemathesis brings it) the validator picks that
    backend by itself, and its regular-expression dialect refuses patterns in PayPal's
    published files (an email address pattern), so they would not load.
    """
    name = "OPENAPI_SPEC_VALIDATOR_SCHEMA_VALIDATOR_BACKEND"
    before = os.environ.get(name)
    os.environ[name] = "jsonschema"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


class PayPalContract:
    """Validates traffic against PayPal's published OpenAPI files (see the module docstring)."""

    def __init__(self, spec_dir: Path) -> None:
        from openapi_core import OpenAPI

        self.spec_dir = Path(spec_dir)
        self.apis: dict[str, Any] = {}
        for prefix, name in SPEC_FILES.items():
            path = (self.spec_dir / name).resolve()
            if path not in _SPECS:
                with _python_schema_backend():
                    _SPECS[path] = OpenAPI.from_file_path(str(path))
            self.apis[prefix] = _SPECS[path]
        #: every problem found, as "METHOD path: what"
        self.violations: list[str] = []
        #: (method, path, status) of every exchange checked against a spec file
        self.checked: list[tuple[str, str, int | None]] = []

    def _api(self, path: str) -> Any:
        return next((api for prefix, api in self.apis.items() if path.startswith(prefix)), None)

    def check_request(self, request: httpx.Request) -> list[str]:
        """Problems with a request the plugin sent (also added to ``violations``)."""
        where = f"{request.method} {request.url.path}"
        problems: list[str] = []
        if request.url.host == CERT_HOST and request.url.path.startswith("/v1/notifications/certs/"):
            if request.method != "GET" or request.url.scheme != "https":
                problems.append("certificates are fetched with GET over https")
        elif request.url.path == "/v1/oauth2/token":
            form = parse_qs(request.content.decode())
            if request.method != "POST" or form != {"grant_type": ["client_credentials"]}:
                problems.append("the token request is POST grant_type=client_credentials (form)")
            if not request.headers.get("authorization", "").startswith("Basic "):
                problems.append("the token request authenticates with HTTP Basic client_id:secret")
            if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                problems.append("the token request is application/x-www-form-urlencoded")
        else:
            api = self._api(request.url.path)
            if api is None:
                problems.append("no PayPal API file describes this path")
            else:
                if not request.headers.get("authorization", "").startswith("Bearer "):
                    problems.append("API requests carry an OAuth2 bearer token")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # openapi-core warns that it skips OAuth2 itself
                    errors = list(api.iter_request_errors(_OpenAPIRequest(request)))
                if request.url.path == "/v1/notifications/verify-webhook-signature":
                    # PayPal asks for the event exactly as delivered, yet its file marks the
                    # event's fields readOnly ("SHOULD NOT be sent"): that alone is no violation.
                    errors = [e for e in errors if not _only_read_only(e)]
                problems += [_explain(e) for e in errors]
                self.checked.append((request.method, request.url.path, None))
        self.violations += [f"request {where}: {p}" for p in problems]
        return problems

    def check_response(self, request: httpx.Request, response: httpx.Response) -> list[str]:
        """Problems with a response the stand-in returned (also added to ``violations``)."""
        where = f"{request.method} {request.url.path} -> {response.status_code}"
        problems: list[str] = []
        if request.url.path == "/v1/oauth2/token":
            body = response.json()
            if response.is_success:
                if not (
                    isinstance(body.get("access_token"), str)
                    and body.get("token_type") == "Bearer"
                    and isinstance(body.get("expires_in"), int)
                ):
                    problems.append(
                        "a token response has access_token, token_type Bearer and expires_in (seconds)"
                    )
            elif not isinstance(body.get("error"), str):
                problems.append("a token error has error and error_description")
        elif request.url.host != CERT_HOST:
            api = self._api(request.url.path)
            if api is not None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    problems += [
                        _explain(e)
                        for e in api.iter_response_errors(
                            _OpenAPIRequest(request), _OpenAPIResponse(response)
                        )
                    ]
                self.checked.append((request.method, request.url.path, response.status_code))
        self.violations += [f"response {where}: {p}" for p in problems]
        return problems

    def check_resource(self, spec: str, schema: str, instance: Any) -> list[str]:
        """Problems with ``instance`` (e.g. a webhook's resource) as the component ``schema``
        of the spec file whose paths start with ``spec`` (e.g. "/v2/checkout/")."""
        from openapi_schema_validator import OAS30Validator

        api = self.apis[spec]
        document = api.spec.read_value() if hasattr(api.spec, "read_value") else api.spec.contents()
        validator = OAS30Validator(
            {"components": document["components"], "$ref": f"#/components/schemas/{schema}"}
        )
        problems = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)
        ]
        self.violations += [f"resource {schema}: {p}" for p in problems]
        return problems


def _schema_errors(error: BaseException) -> list[Any]:
    found: list[Any] = []
    cause: BaseException | None = error
    while cause is not None:
        found += list(getattr(cause, "schema_errors", None) or [])
        cause = cause.__cause__
    return found


def _only_read_only(error: Exception) -> bool:
    found = _schema_errors(error)
    return bool(found) and all("read-only property" in getattr(e, "message", str(e)) for e in found)


def _explain(error: Exception) -> str:
    text = f"{type(error).__name__}: {error}"
    cause = error.__cause__
    while cause is not None:
        text += f" <- {cause}"
        schema_errors = getattr(cause, "schema_errors", None)
        if schema_errors:
            text += " [" + "; ".join(getattr(e, "message", str(e)) for e in schema_errors) + "]"
        cause = cause.__cause__
    return text[:2000]
