"""The one PayPal REST client both PayPal plugins use.

- **Token**: OAuth2 client credentials (``POST /v1/oauth2/token``), cached until shortly
  before it expires and fetched again once when PayPal answers 401 (a token revoked or
  expired early).
- **Retries**: only after a 5xx, a 429 or a network error (a timeout included), with
  exponential backoff; each retry sends the *same* body and idempotency id
  (``PayPal-Request-Id`` for Orders, the ``sender_batch_id`` inside a payout body), so a
  request PayPal already carried out is not carried out twice.  Another 4xx is never
  retried.
- **Errors**: PayPal's error body (``name``, ``message``, ``debug_id``, ``details``) becomes
  a :class:`PayPalError` subclass that keeps the ``debug_id`` PayPal support asks for.
- **Secrets**: the client id and secret come from ``[plugins.paypal]`` (or the
  environment) and are sent only as HTTP Basic credentials to the token endpoint; neither
  they nor tokens nor bodies are logged (a request logs method, path, status, debug id).

One :class:`PayPalClient` per runtime (:func:`client_for`) keeps the token and the
certificate cache.  Each call opens a short-lived ``httpx.AsyncClient``, so the client
works on any event loop and needs no shutdown.  Tests hand it a transport (a local
stand-in of PayPal, :mod:`agorakit.plugins.paypal.testing`) with :func:`use_transport`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from agorakit.plugins.paypal.settings import PayPalSettings
from agorakit.settings import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

log = logging.getLogger("agorakit.paypal")

#: A token is fetched again this long before PayPal says it expires.
TOKEN_REFRESH_MARGIN = timedelta(minutes=5)
#: The longest wait honoured from a 429's Retry-After, in seconds.
MAX_RETRY_AFTER = 60.0


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


class PayPalError(Exception):
    """PayPal refused a request, or could not be reached.

    ``status`` is the HTTP status (None when no answer came), ``name``/``message``/
    ``details``/``links`` come from PayPal's error body and ``debug_id`` is what PayPal
    support needs to find the request.
    """

    #: True when PayPal may have carried out the request anyway (5xx, timeout): retry it
    #: later with the same idempotency id, never with a new one
    outcome_unknown = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        name: str | None = None,
        debug_id: str | None = None,
        details: list[dict[str, Any]] | None = None,
        links: list[dict[str, Any]] | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.name = name
        self.debug_id = debug_id
        self.details = details or []
        self.links = links or []
        self.method = method
        self.path = path

    @property
    def issues(self) -> set[str]:
        """The ``issue`` codes of the error's details (e.g. ``ORDER_NOT_APPROVED``)."""
        return {str(d.get("issue")) for d in self.details if isinstance(d, dict) and d.get("issue")}

    def describe(self) -> str:
        """One line for logs, operators and problem details (no secrets in it)."""
        parts = [f"PayPal {self.method or ''} {self.path or ''}".strip()]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.name:
            parts.append(self.name)
        if self.issues:
            parts.append("/".join(sorted(self.issues)))
        text = ": ".join(parts) + f": {self.message}"
        if self.debug_id:
            text += f" (debug_id {self.debug_id})"
        return text

    def __str__(self) -> str:
        return self.describe()


class PayPalNotConfigured(PayPalError):
    """``[plugins.paypal]`` has no client id or secret."""


class PayPalAuthError(PayPalError):
    """PayPal refused the client id/secret, or the token lacks a permission (401/403)."""


class PayPalRequestError(PayPalError):
    """PayPal refused the request (a 4xx other than 401/429): retrying will not help."""


class PayPalServerError(PayPalError):
    """PayPal kept answering 5xx or 429 until the retries ran out."""

    outcome_unknown = True


class PayPalUnavailable(PayPalError):
    """No answer from PayPal (network error or timeout) until the retries ran out."""

    outcome_unknown = True


def error_from_response(response: httpx.Response, cls: type[PayPalError] | None = None) -> PayPalError:
    """The typed error for a PayPal error response."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    status = response.status_code
    if cls is None:
        if status in (401, 403):
            cls = PayPalAuthError
        elif status >= 500 or status == 429:
            cls = PayPalServerError
        else:
            cls = PayPalRequestError
    # The token endpoint answers OAuth-style: {"error": ..., "error_description": ...}.
    name = body.get("name") or body.get("error")
    message = body.get("message") or body.get("error_description") or response.reason_phrase or "error"
    details = body.get("details") if isinstance(body.get("details"), list) else []
    links = body.get("links") if isinstance(body.get("links"), list) else []
    return cls(
        str(message),
        status=status,
        name=str(name) if name else None,
        debug_id=body.get("debug_id") or response.headers.get("paypal-debug-id"),
        details=details,
        links=links,
        method=response.request.method,
        path=response.request.url.path,
    )


# --------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------

Clock = Callable[[], datetime]


class PayPalClient:
    """PayPal's REST API for one site (see the module docstring)."""

    def __init__(
        self,
        settings: PayPalSettings,
        *,
        clock: Clock,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.transport = transport
        self.sleep = sleep
        self._token: str | None = None
        self._token_expires: datetime | None = None
        self._token_lock = asyncio.Lock()
        #: certificate URL -> (certificate, fetched at); see agorakit.plugins.paypal.webhooks
        self.certificates: dict[str, tuple[Any, datetime]] = {}

    @property
    def base_url(self) -> str:
        return self.settings.api_url

    @property
    def configured(self) -> bool:
        return self.settings.configured

    def _http(self) -> httpx.AsyncClient:
        timeout = httpx.Timeout(self.settings.timeout_seconds, connect=self.settings.connect_timeout_seconds)
        return httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout, transport=self.transport, follow_redirects=False
        )

    # ---------------------------------------------------------------- token

    def forget_token(self) -> None:
        self._token = None
        self._token_expires = None

    async def _access_token(self, http: httpx.AsyncClient, *, stale: str | None = None) -> str:
        """A valid token: the cached one, or a new one (``stale`` is a token PayPal refused)."""
        async with self._token_lock:
            now = self.clock()
            fresh = self._token_expires is not None and now < self._token_expires
            if self._token and fresh and self._token != stale:
                return self._token
            response = await http.post(
                "/v1/oauth2/token",
                data={"grant_type": "client_credentials"},
                auth=(self.settings.client_id, self.settings.client_secret),
                headers={"Accept": "application/json"},
            )
            if response.status_code in (400, 401, 403):
                error = error_from_response(response, PayPalAuthError)
                error.message = (
                    f"PayPal refused the client id/secret of [plugins.paypal] ({error.message}); "
                    f"check them and the mode ({self.settings.mode})"
                )
                raise error
            if not response.is_success:
                raise error_from_response(response)
            body = response.json()
            token, expires_in = body.get("access_token"), body.get("expires_in")
            if not isinstance(token, str) or not token or not isinstance(expires_in, int):
                message = "PayPal's token response has no access_token/expires_in"
                raise PayPalServerError(
                    message, status=response.status_code, method="POST", path="/v1/oauth2/token"
                )
            lifetime = timedelta(seconds=expires_in)
            margin = min(TOKEN_REFRESH_MARGIN, lifetime / 10)
            self._token, self._token_expires = token, now + lifetime - margin
            return token

    # ---------------------------------------------------------------- requests

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        request_id: str | None = None,
        prefer: str | None = None,
        absolute_url: str | None = None,
        authenticated: bool = True,
    ) -> httpx.Response:
        """Send one API request, with the retries, token refresh and error mapping above.

        :returns: PayPal's successful (2xx) response.
        :raises PayPalError: a subclass telling what went wrong.
        """
        if authenticated and not self.configured:
            message = "PayPal is not configured: set client_id and client_secret in [plugins.paypal]"
            raise PayPalNotConfigured(message, method=method, path=path)
        settings = self.settings
        headers = {"Accept": "application/json"}
        if request_id:
            headers["PayPal-Request-Id"] = request_id
        if prefer:
            headers["Prefer"] = prefer
        url = absolute_url or path
        refreshed = False
        stale: str | None = None
        attempt = 0
        async with self._http() as http:
            while True:
                delay = settings.retry_backoff_seconds * (2**attempt)
                try:
                    send_headers = dict(headers)
                    if authenticated:
                        token = await self._access_token(http, stale=stale)
                        send_headers["Authorization"] = f"Bearer {token}"
                    response = await http.request(method, url, json=json, params=params, headers=send_headers)
                except httpx.TransportError as exc:
                    if attempt < settings.max_retries:
                        log.warning(
                            "paypal %s %s: %s; retry %d/%d in %.1fs",
                            method,
                            path,
                            type(exc).__name__,
                            attempt + 1,
                            settings.max_retries,
                            delay,
                        )
                        attempt += 1
                        await self.sleep(delay)
                        continue
                    message = f"no answer from PayPal after {attempt + 1} attempts ({type(exc).__name__})"
                    raise PayPalUnavailable(message, method=method, path=path) from exc
                except PayPalError as exc:
                    if exc.outcome_unknown and attempt < settings.max_retries:
                        attempt += 1
                        await self.sleep(delay)
                        continue
                    raise
                status = response.status_code
                debug_id = response.headers.get("paypal-debug-id")
                log.info("paypal %s %s -> %s debug_id=%s", method, path, status, debug_id)
                if status == 401 and authenticated and not refreshed:
                    # A token PayPal no longer accepts: fetch a new one, once.
                    refreshed, stale = True, send_headers["Authorization"].removeprefix("Bearer ")
                    continue
                if (status >= 500 or status == 429) and attempt < settings.max_retries:
                    if status == 429:
                        delay = max(delay, _retry_after(response))
                    attempt += 1
                    await self.sleep(delay)
                    continue
                if response.is_success:
                    return response
                raise error_from_response(response)

    async def request_json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self.request(method, path, **kwargs)
        if not response.content:
            return {}
        body = response.json()
        if not isinstance(body, dict):
            message = f"PayPal answered {method} {path} with a JSON {type(body).__name__}, not an object"
            raise PayPalServerError(message, status=response.status_code, method=method, path=path)
        return body

    # ---------------------------------------------------------------- Payouts v1

    async def create_payout(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /v1/payments/payouts`` (idempotent through ``sender_batch_id``)."""
        return await self.request_json("POST", "/v1/payments/payouts", json=body)

    async def get_payout_batch(
        self, payout_batch_id: str, *, page: int = 1, page_size: int = 100
    ) -> dict[str, Any]:
        """``GET /v1/payments/payouts/{id}``: the batch header and one page of its items."""
        params = {"page": page, "page_size": page_size, "total_required": "true"}
        return await self.request_json(
            "GET", f"/v1/payments/payouts/{_segment(payout_batch_id)}", params=params
        )

    async def get_payout_item(self, payout_item_id: str) -> dict[str, Any]:
        return await self.request_json("GET", f"/v1/payments/payouts-item/{_segment(payout_item_id)}")

    async def cancel_payout_item(self, payout_item_id: str) -> dict[str, Any]:
        """``POST /v1/payments/payouts-item/{id}/cancel``: only UNCLAIMED items can be cancelled."""
        return await self.request_json("POST", f"/v1/payments/payouts-item/{_segment(payout_item_id)}/cancel")

    # ---------------------------------------------------------------- Orders v2

    async def create_order(self, body: dict[str, Any], *, request_id: str) -> dict[str, Any]:
        return await self.request_json(
            "POST", "/v2/checkout/orders", json=body, request_id=request_id, prefer="return=representation"
        )

    async def get_order(self, order_id: str) -> dict[str, Any]:
        return await self.request_json("GET", f"/v2/checkout/orders/{_segment(order_id)}")

    async def capture_order(self, order_id: str, *, request_id: str) -> dict[str, Any]:
        return await self.request_json(
            "POST",
            f"/v2/checkout/orders/{_segment(order_id)}/capture",
            json={},
            request_id=request_id,
            prefer="return=representation",
        )

    # ---------------------------------------------------------------- Webhooks

    async def verify_webhook_signature(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self.request_json("POST", "/v1/notifications/verify-webhook-signature", json=body)

    async def fetch_certificate(self, url: str) -> bytes:
        """GET a signing certificate (the caller has checked the URL's host)."""
        response = await self.request("GET", httpx.URL(url).path, absolute_url=url, authenticated=False)
        return response.content


def _segment(value: str) -> str:
    """An id as one path segment (ids come from PayPal or our rows, but never trust a slash)."""
    return quote(str(value), safe="")


def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("retry-after", "")
    return min(float(value), MAX_RETRY_AFTER) if re.fullmatch(r"\d{1,4}(\.\d+)?", value) else 0.0


# --------------------------------------------------------------------------------------
# One client per runtime
# --------------------------------------------------------------------------------------

_clients: weakref.WeakKeyDictionary[Any, PayPalClient] = weakref.WeakKeyDictionary()
_transports: weakref.WeakKeyDictionary[Any, tuple[httpx.AsyncBaseTransport, Any]] = (
    weakref.WeakKeyDictionary()
)

PLUGIN = "paypal"


def paypal_settings(runtime: Runtime) -> PayPalSettings:
    """``[plugins.paypal]`` of the site; a clear error when the plugin is not enabled."""

    if PLUGIN not in runtime.settings.site.plugins:
        message = (
            f"{runtime.settings.source}: the PayPal methods need the 'paypal' plugin: "
            'add "paypal" to site.plugins (it holds [plugins.paypal]: credentials, mode, webhook id)'
        )
        raise ConfigError(message)
    return runtime.plugin_settings(PLUGIN)


def client_for(runtime: Runtime) -> PayPalClient:
    """The site's PayPal client (one per runtime)."""
    client = _clients.get(runtime)
    if client is None:
        transport, sleep = _transports.get(runtime, (None, asyncio.sleep))
        client = PayPalClient(
            paypal_settings(runtime), clock=runtime.clock.now, transport=transport, sleep=sleep
        )
        _clients[runtime] = client
    return client


def use_transport(
    runtime: Runtime,
    transport: httpx.AsyncBaseTransport,
    *,
    sleep: Callable[[float], Awaitable[Any]] | None = None,
) -> PayPalClient:
    """Send this runtime's PayPal requests through ``transport`` (tests: a PayPal stand-in).

    ``sleep`` replaces the backoff's ``asyncio.sleep`` (tests: record instead of waiting).
    """
    _transports[runtime] = (transport, sleep or asyncio.sleep)
    _clients.pop(runtime, None)
    return client_for(runtime)
