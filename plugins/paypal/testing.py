"""A local, stateful PayPal for tests: no test reaches the internet.

:class:`FakePayPal` answers the PayPal REST calls the PayPal plugins make, as an
``httpx`` transport (hand it to a runtime with
:func:`agorakit.plugins.paypal.client.use_transport`):

- ``POST /v1/oauth2/token``: client-credentials tokens that expire (``expire_tokens()``
  makes every token stale at once, as if PayPal had revoked them);
- Payouts v1: batches and items whose status tests move (``set_item_status``), the
  30-day duplicate ``sender_batch_id`` rule (the answer links the original batch),
  ``GET`` batch with pages, ``GET`` item, cancel of unclaimed items;
- Orders v2: create (with ``PayPal-Request-Id`` replay), the buyer's approval
  (``approve``, a test helper: in real life the buyer does it on PayPal's site),
  capture with ``ORDER_NOT_APPROVED``, ``ORDER_ALREADY_CAPTURED``,
  ``INSTRUMENT_DECLINED`` and pending captures;
- webhooks: ``delivery(...)`` builds an event signed with a test RSA key the way PayPal
  signs (``transmission_id|transmission_time|webhook_id|crc32(body)``, SHA256withRSA),
  and the transport serves the matching certificate from a PayPal certificate host,
  so the plugin's verifier runs unchanged; ``POST /v1/notifications/verify-webhook-signature``
  answers for the online mode;
- faults: ``fail_next(...)`` answers a matching request with a 5xx/429 or raises a
  timeout, before or *after* the request took effect (PayPal accepted, the answer was lost).

With a :class:`PayPalContract` (PayPal's published OpenAPI files, read with
``openapi-core``), every request the plugins send and every response the stand-in returns
is validated; violations are collected in ``contract.violations``.  The token endpoint
and the certificate download are not in PayPal's files and are checked by hand.

This module holds the stand-in's plumbing, OAuth2 and webhooks; its Payouts part is
:mod:`.testing_payouts`, its Orders part :mod:`.testing_orders`, the contract
:mod:`.testing_contract` and the shared pieces :mod:`.testing_support`.  Import them all
from here.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import secrets
import zlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx

from agorakit.clock import SystemClock
from agorakit.plugins.paypal.testing_contract import PayPalContract, spec_dir_problem
from agorakit.plugins.paypal.testing_orders import FakeOrders, approve_url
from agorakit.plugins.paypal.testing_payouts import FakePayouts
from agorakit.plugins.paypal.testing_support import (
    CERT_HOST,
    CERT_PATH,
    CERT_URL,
    ERROR_MESSAGES,
    Fault,
    StoredAnswer,
    Transmission,
    iso_time,
    paypal_id,
    sign,
    signing_key,
)

__all__ = [
    "CERT_URL",
    "FakePayPal",
    "PayPalContract",
    "Transmission",
    "approve_url",
    "send",
    "sign",
    "signing_key",
    "spec_dir_problem",
]

# --------------------------------------------------------------------------------------
# The stand-in
# --------------------------------------------------------------------------------------


class FakePayPal(FakePayouts, FakeOrders):
    """A stateful PayPal sandbox in memory (see the module docstring)."""

    def __init__(
        self,
        *,
        clock: Any = None,
        client_id: str = "test-client-id",
        client_secret: str = "test-client-secret",
        webhook_id: str = "8PT597110X687430LKGECATA",
        token_ttl: int = 32400,
        contract: PayPalContract | None = None,
    ) -> None:
        if clock is None:  # PayPal's servers run on the real time
            clock = SystemClock()
        self.now: Callable[[], datetime] = clock.now if hasattr(clock, "now") else clock
        self.client_id, self.client_secret, self.webhook_id = client_id, client_secret, webhook_id
        self.token_ttl = token_ttl
        self.contract = contract
        #: every request received, in order
        self.requests: list[httpx.Request] = []
        self.tokens: dict[str, datetime] = {}
        self.faults: list[Fault] = []
        # Payouts
        self.batches: dict[str, dict[str, Any]] = {}
        self.items: dict[str, dict[str, Any]] = {}
        self.sender_batch_ids: dict[str, tuple[str, datetime]] = {}
        # Orders
        self.orders: dict[str, dict[str, Any]] = {}
        self.captures: dict[str, str] = {}  # capture id -> order id
        self._request_ids: dict[tuple[str, str], StoredAnswer] = {}
        self._declines: set[str] = set()
        self._pending: set[str] = set()
        # Webhooks
        self.transmissions: dict[str, Transmission] = {}
        self._serial = itertools.count(1)

    # ---------------------------------------------------------------- plumbing

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def calls(self, method: str, path_prefix: str) -> list[httpx.Request]:
        """Requests received with ``method`` whose path starts with ``path_prefix``."""
        return [r for r in self.requests if r.method == method and r.url.path.startswith(path_prefix)]

    def fail_next(
        self,
        method: str,
        path: str,
        *,
        status: int | None = 500,
        exception: type[Exception] | None = None,
        after: bool = False,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests matching ``method`` and ``path`` (a regex) badly.

        ``status``: answer with this HTTP status (5xx, 429) and PayPal's error body;
        ``exception``: raise it instead (e.g. ``httpx.ReadTimeout``); ``after``: carry the
        request out first, then fail (PayPal accepted, the answer never arrived).
        """
        self.faults.append(Fault(method, re.compile(path), status, exception, after, times))

    def _take_fault(self, request: httpx.Request) -> Fault | None:
        for fault in self.faults:
            if fault.method == request.method and fault.path.search(request.url.path):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _fail(self, fault: Fault, request: httpx.Request) -> httpx.Response:
        if fault.exception is not None:
            raise fault.exception("simulated by FakePayPal", request=request)  # type: ignore[call-arg]
        status = fault.status or 500
        name = "RATE_LIMIT_REACHED" if status == 429 else "INTERNAL_SERVER_ERROR"
        message = "Too many requests." if status == 429 else ERROR_MESSAGES["INTERNAL_SERVER_ERROR"]
        return self._json(status, {"name": name, "message": message, "debug_id": self._debug_id()})

    async def handle(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        fault = self._take_fault(request)
        if fault is not None and not fault.after:
            response = self._fail(fault, request)
            self._check_response(request, response)
            return response
        problems = self.contract.check_request(request) if self.contract else []
        if problems:
            response = self._error(
                400, "INVALID_REQUEST", "INVALID_PARAMETER_SYNTAX", "; ".join(problems)[:500]
            )
        else:
            response = self._route(request)
        if fault is not None:
            return self._fail(fault, request)
        self._check_response(request, response)
        return response

    def _check_response(self, request: httpx.Request, response: httpx.Response) -> None:
        if self.contract:
            self.contract.check_response(request, response)

    def _route(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        if request.url.host == CERT_HOST and method == "GET" and path == CERT_PATH:
            return httpx.Response(
                200, content=signing_key()[1], headers={"content-type": "application/x-pem-file"}
            )
        if path == "/v1/oauth2/token" and method == "POST":
            return self._token(request)
        if not self._authorised(request):
            return self._error(401, "AUTHENTICATION_FAILURE")
        body = json.loads(request.content) if request.content else None
        routes: list[tuple[str, str, Callable[..., httpx.Response]]] = [
            ("POST", r"^/v1/payments/payouts$", self._create_payout),
            ("GET", r"^/v1/payments/payouts/(?P<id>[^/]+)$", self._get_batch),
            ("GET", r"^/v1/payments/payouts-item/(?P<id>[^/]+)$", self._get_item),
            ("POST", r"^/v1/payments/payouts-item/(?P<id>[^/]+)/cancel$", self._cancel_item),
            ("POST", r"^/v2/checkout/orders$", self._create_order),
            ("GET", r"^/v2/checkout/orders/(?P<id>[^/]+)$", self._get_order),
            ("POST", r"^/v2/checkout/orders/(?P<id>[^/]+)/capture$", self._capture_order),
            ("POST", r"^/v1/notifications/verify-webhook-signature$", self._verify_signature),
        ]
        for route_method, pattern, handler in routes:
            match = re.match(pattern, path)
            if match and route_method == method:
                return handler(request, body, **match.groupdict())
        return self._error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", f"no route {method} {path}")

    # ---------------------------------------------------------------- OAuth2

    def _token(self, request: httpx.Request) -> httpx.Response:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        form = parse_qs(request.content.decode())
        if request.headers.get("authorization") != f"Basic {expected}":
            return httpx.Response(
                401, json={"error": "invalid_client", "error_description": "Client Authentication failed"}
            )
        if form.get("grant_type") != ["client_credentials"]:
            return httpx.Response(
                400,
                json={
                    "error": "unsupported_grant_type",
                    "error_description": "grant_type must be client_credentials",
                },
            )
        token = "A21AA" + secrets.token_urlsafe(24)
        self.tokens[token] = self.now() + timedelta(seconds=self.token_ttl)
        return httpx.Response(
            200,
            json={
                "scope": "https://uri.paypal.com/services/payments/payouts https://uri.paypal.com/services/payments/payment",
                "access_token": token,
                "token_type": "Bearer",
                "app_id": "APP-80W284485P519543T",
                "expires_in": self.token_ttl,
                "nonce": f"{iso_time(self.now())}{secrets.token_hex(8)}",
            },
        )

    def _authorised(self, request: httpx.Request) -> bool:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else None
        expires = self.tokens.get(token or "")
        return expires is not None and self.now() < expires

    def expire_tokens(self) -> None:
        """Every token issued so far stops working (as if it expired early)."""
        self.tokens.clear()

    # ---------------------------------------------------------------- Webhooks

    def delivery(
        self,
        event_type: str,
        resource: dict[str, Any],
        *,
        event_id: str | None = None,
        transmission_time: datetime | None = None,
        webhook_id: str | None = None,
        cert_url: str = CERT_URL,
        key: Any = None,
    ) -> Transmission:
        """A webhook delivery signed the way PayPal signs (or with another ``key``/``webhook_id``)."""
        event = {
            "id": event_id or f"WH-{paypal_id(length=17)}-{paypal_id(length=17)}",
            "event_version": "1.0",
            "create_time": iso_time(self.now()),
            "resource_type": _resource_type(event_type),
            "event_type": event_type,
            "summary": f"{event_type} (FakePayPal)",
            "resource": resource,
            "links": [],
        }
        body = json.dumps(event, separators=(",", ":")).encode()
        transmission_id = f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-11ee-{secrets.token_hex(2)}-{secrets.token_hex(6)}"
        sent = iso_time(transmission_time or self.now())
        crc = zlib.crc32(body) & 0xFFFFFFFF
        message = f"{transmission_id}|{sent}|{webhook_id or self.webhook_id}|{crc}".encode()
        headers = {
            "content-type": "application/json",
            "paypal-transmission-id": transmission_id,
            "paypal-transmission-time": sent,
            "paypal-transmission-sig": sign(message, key),
            "paypal-cert-url": cert_url,
            "paypal-auth-algo": "SHA256withRSA",
        }
        transmission = Transmission(headers=headers, body=body, event=event)
        self.transmissions[transmission_id] = transmission
        return transmission

    async def deliver(
        self, client: httpx.AsyncClient, event_type: str, resource: dict[str, Any], **kwargs: Any
    ) -> httpx.Response:
        """Sign an event and POST it to the site's ``/webhooks/paypal`` (``client``: the site)."""
        transmission = self.delivery(event_type, resource, **kwargs)
        return await send(client, transmission)

    def _verify_signature(self, request: httpx.Request, body: Any) -> httpx.Response:
        sent = self.transmissions.get(body.get("transmission_id", ""))
        ok = (
            sent is not None
            and body.get("webhook_id") == self.webhook_id
            and body.get("transmission_sig") == sent.headers["paypal-transmission-sig"]
            and body.get("transmission_time") == sent.headers["paypal-transmission-time"]
            and body.get("cert_url") == sent.headers["paypal-cert-url"]
            and body.get("webhook_event") == json.loads(sent.body)
            and _signature_matches(sent, self.webhook_id)
        )
        return self._json(200, {"verification_status": "SUCCESS" if ok else "FAILURE"})


async def send(
    client: httpx.AsyncClient, transmission: Transmission, path: str = "/webhooks/paypal"
) -> httpx.Response:
    return await client.post(path, content=transmission.body, headers=transmission.headers)


def _signature_matches(sent: Transmission, webhook_id: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    crc = zlib.crc32(sent.body) & 0xFFFFFFFF
    message = f"{sent.headers['paypal-transmission-id']}|{sent.headers['paypal-transmission-time']}|{webhook_id}|{crc}"
    try:
        signing_key()[0].public_key().verify(
            base64.b64decode(sent.headers["paypal-transmission-sig"]),
            message.encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except InvalidSignature:
        return False
    return True


def _resource_type(event_type: str) -> str:
    if event_type.startswith("PAYMENT.PAYOUTSBATCH."):
        return "payouts"
    if event_type.startswith("PAYMENT.PAYOUTS-ITEM."):
        return "payouts_item"
    if event_type.startswith("PAYMENT.CAPTURE."):
        return "capture"
    if event_type.startswith("CHECKOUT.ORDER."):
        return "checkout-order"
    return "unknown"
