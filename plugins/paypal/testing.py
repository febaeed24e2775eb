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
"""

from __future__ import annotations

import base64
import contextlib
import copy
import itertools
import json
import os
import re
import secrets
import string
import warnings
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx

from agorakit.clock import SystemClock

SANDBOX = "https://api-m.sandbox.paypal.com"
CERT_HOST = "api.sandbox.paypal.com"
CERT_PATH = "/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77"
CERT_URL = f"https://{CERT_HOST}{CERT_PATH}"
#: Payout item statuses that end an item (no later status moves money).
FINAL_ITEM_STATUSES = {"SUCCESS", "FAILED", "RETURNED", "REFUNDED", "REVERSED", "BLOCKED"}
#: How long PayPal remembers a sender_batch_id / a PayPal-Request-Id.
SENDER_BATCH_ID_DAYS = 30
REQUEST_ID_HOURS = 6

#: PayPal's wording of the issues the stand-in reports (the Orders file pins each one).
ISSUE_DESCRIPTIONS = {
    "ORDER_NOT_APPROVED": (
        "Payer has not yet approved the Order for payment. Please redirect the payer to the "
        "'rel':'approve' url returned as part of the HATEOAS links within the Create Order call or "
        "provide a valid `payment_source` in the request."
    ),
    "ORDER_ALREADY_CAPTURED": "Order already captured.If 'intent=CAPTURE' only one capture per order is allowed.",
    "INSTRUMENT_DECLINED": (
        "The instrument presented  was either declined by the processor or bank, or it can't be used "
        "for this payment."
    ),
    "INVALID_RESOURCE_ID": "Specified resource ID does not exist. Please check the resource ID and try again.",
    "INVALID_PARAMETER_SYNTAX": "The value of a field does not conform to the expected format.",
    "INVALID_PARAMETER_VALUE": "A parameter value is not valid.",
}
_ERROR_MESSAGES = {
    "INVALID_REQUEST": "Request is not well-formed, syntactically incorrect, or violates schema.",
    "AUTHENTICATION_FAILURE": (
        "Authentication failed due to missing authorization header, or invalid authentication credentials."
    ),
    "RESOURCE_NOT_FOUND": "The specified resource does not exist.",
    "UNPROCESSABLE_ENTITY": (
        "The requested action could not be performed, semantically incorrect, or failed business validation."
    ),
    "INTERNAL_SERVER_ERROR": "An internal server error occurred.",
}


def _ids(prefix: str = "", length: int = 13) -> str:
    alphabet = string.ascii_uppercase + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Fault:
    """Answer the next matching request(s) badly (see :meth:`FakePayPal.fail_next`)."""

    method: str
    path: re.Pattern[str]
    status: int | None
    exception: type[Exception] | None
    after: bool
    times: int


@dataclass
class _Stored:
    status: int
    body: Any
    at: datetime


@dataclass
class Transmission:
    """One webhook delivery built by :meth:`FakePayPal.delivery`."""

    headers: dict[str, str]
    body: bytes
    event: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------
# The test signing key and certificate (made once per process: RSA keys are slow)
# --------------------------------------------------------------------------------------

_KEYS: dict[str, Any] = {}


def signing_key() -> tuple[Any, bytes]:
    """``(private key, PEM certificate)`` of the stand-in's webhook signer."""
    if "key" not in _KEYS:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts.sandbox.paypal.com")]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
            .not_valid_after(datetime(2045, 1, 1, tzinfo=UTC))
            .sign(key, hashes.SHA256())
        )
        _KEYS["key"], _KEYS["pem"] = key, cert.public_bytes(serialization.Encoding.PEM)
    return _KEYS["key"], _KEYS["pem"]


def sign(message: bytes, key: Any = None) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    key = key or signing_key()[0]
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


# --------------------------------------------------------------------------------------
# The stand-in
# --------------------------------------------------------------------------------------


class FakePayPal:
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
        self._request_ids: dict[tuple[str, str], _Stored] = {}
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
        message = "Too many requests." if status == 429 else _ERROR_MESSAGES["INTERNAL_SERVER_ERROR"]
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

    def _debug_id(self) -> str:
        return secrets.token_hex(6)

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        headers = {
            "paypal-debug-id": body.get("debug_id")
            if isinstance(body, dict) and body.get("debug_id")
            else self._debug_id(),
            **(headers or {}),
        }
        return httpx.Response(status, json=body, headers=headers)

    def _error(
        self,
        status: int,
        name: str,
        issue: str | None = None,
        description: str | None = None,
        *,
        links: list[dict[str, Any]] | None = None,
    ) -> httpx.Response:
        body: dict[str, Any] = {
            "name": name,
            "message": _ERROR_MESSAGES.get(name, "A business error occurred."),
            "debug_id": self._debug_id(),
        }
        if issue:
            detail: dict[str, Any] = {"issue": issue}
            description = ISSUE_DESCRIPTIONS.get(issue, description)
            if description:
                detail["description"] = description
            body["details"] = [detail]
        if links is not None:
            body["links"] = links
        elif issue:
            body["links"] = [
                {
                    "href": f"https://developer.paypal.com/docs/api/orders/v2/#error-{issue}",
                    "rel": "information_link",
                    "method": "GET",
                }
            ]
        return self._json(status, body)

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
                "nonce": f"{_iso(self.now())}{secrets.token_hex(8)}",
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

    # ---------------------------------------------------------------- Payouts

    def _create_payout(self, request: httpx.Request, body: Any) -> httpx.Response:
        header = body["sender_batch_header"]
        sender_batch_id = header.get("sender_batch_id") or _ids("AUTO-")
        now = self.now()
        seen = self.sender_batch_ids.get(sender_batch_id)
        if seen is not None and now - seen[1] < timedelta(days=SENDER_BATCH_ID_DAYS):
            original = seen[0]
            return self._json(
                400,
                {
                    "name": "USER_BUSINESS_ERROR",
                    "message": "User business error.",
                    "debug_id": self._debug_id(),
                    "information_link": "https://developer.paypal.com/docs/api/payments.payouts-batch/#errors",
                    "details": [
                        {
                            "field": "SENDER_BATCH_ID",
                            "location": "body",
                            "issue": f"Batch with given sender_batch_id already exists: {sender_batch_id}",
                        }
                    ],
                    "links": [
                        {"href": f"{SANDBOX}/v1/payments/payouts/{original}", "rel": "self", "method": "GET"}
                    ],
                },
            )
        currencies = {item["amount"]["currency"] for item in body["items"]}
        if len(currencies) != 1:
            return self._error(
                400,
                "INVALID_REQUEST",
                "INVALID_PARAMETER_VALUE",
                "All items in a payout must use one currency",
            )
        batch_id = _ids()
        items = []
        for item in body["items"]:
            item_id = _ids(length=13)
            self.items[item_id] = {
                "payout_item_id": item_id,
                "transaction_id": _ids(length=17),
                "activity_id": _ids(length=17),
                "transaction_status": "PENDING",
                "payout_item_fee": {"currency": item["amount"]["currency"], "value": "0.00"},
                "payout_batch_id": batch_id,
                "sender_batch_id": sender_batch_id,
                "payout_item": {
                    "recipient_type": item.get("recipient_type") or header.get("recipient_type") or "EMAIL",
                    "amount": dict(item["amount"]),
                    "note": item.get("note", ""),
                    "receiver": item["receiver"],
                    "sender_item_id": item.get("sender_item_id", ""),
                    "recipient_wallet": "PAYPAL",
                },
                "time_processed": _iso(now),
            }
            items.append(item_id)
        total = sum(_cents(self.items[i]["payout_item"]["amount"]["value"]) for i in items)
        self.batches[batch_id] = {
            "payout_batch_id": batch_id,
            "denied": False,
            "time_created": _iso(now),
            "sender_batch_header": {
                k: v for k, v in header.items() if k in ("sender_batch_id", "email_subject", "email_message")
            }
            | {"sender_batch_id": sender_batch_id},
            "currency": currencies.pop(),
            "total": total,
            "items": items,
        }
        self.sender_batch_ids[sender_batch_id] = (batch_id, now)
        return self._json(
            201,
            {
                "batch_header": {
                    "payout_batch_id": batch_id,
                    "batch_status": "PENDING",
                    "sender_batch_header": self.batches[batch_id]["sender_batch_header"],
                },
                "links": [
                    {"href": f"{SANDBOX}/v1/payments/payouts/{batch_id}", "rel": "self", "method": "GET"}
                ],
            },
        )

    def batch_status(self, batch_id: str) -> str:
        batch = self.batches[batch_id]
        if batch["denied"]:
            return "DENIED"
        statuses = [self.items[i]["transaction_status"] for i in batch["items"]]
        if all(s == "PENDING" for s in statuses):
            return "PENDING"
        if all(s in FINAL_ITEM_STATUSES | {"UNCLAIMED"} for s in statuses):
            return "SUCCESS"
        return "PROCESSING"

    def _batch_header(self, batch_id: str) -> dict[str, Any]:
        batch = self.batches[batch_id]
        return {
            "payout_batch_id": batch_id,
            "batch_status": self.batch_status(batch_id),
            "time_created": batch["time_created"],
            "sender_batch_header": batch["sender_batch_header"],
            "funding_source": "BALANCE",
            "amount": {"currency": batch["currency"], "value": _value(batch["total"])},
            "fees": {"currency": batch["currency"], "value": "0.00"},
        }

    def batch_resource(self, batch_id: str) -> dict[str, Any]:
        """The batch as a PAYMENT.PAYOUTSBATCH.* webhook carries it (no items)."""
        return {
            "batch_header": self._batch_header(batch_id),
            "links": [{"href": f"{SANDBOX}/v1/payments/payouts/{batch_id}", "rel": "self", "method": "GET"}],
        }

    def _get_batch(self, request: httpx.Request, body: Any, id: str) -> httpx.Response:
        if id not in self.batches:
            return self._error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        page = int(request.url.params.get("page", "1") or 1)
        size = int(request.url.params.get("page_size", "1000") or 1000)
        ids = self.batches[id]["items"]
        chunk = ids[(page - 1) * size : page * size]
        out: dict[str, Any] = {
            "batch_header": self._batch_header(id),
            "items": [self._item_in_batch(i) for i in chunk],
            "links": [
                {
                    "href": f"{SANDBOX}/v1/payments/payouts/{id}?page={page}&page_size={size}",
                    "rel": "self",
                    "method": "GET",
                }
            ],
        }
        if request.url.params.get("total_required") == "true":
            out["total_items"] = len(ids)
            out["total_pages"] = max(1, -(-len(ids) // size))
        return self._json(200, out)

    def _item_in_batch(self, item_id: str) -> dict[str, Any]:
        item = copy.deepcopy(self.items[item_id])
        item.pop("sender_batch_id", None)  # not a property of payout_batch_items
        item["links"] = [
            {"href": f"{SANDBOX}/v1/payments/payouts-item/{item_id}", "rel": "item", "method": "GET"}
        ]
        return item

    def item_resource(self, item_id: str) -> dict[str, Any]:
        """The item as GET /v1/payments/payouts-item/{id} and the PAYMENT.PAYOUTS-ITEM.* webhooks show it."""
        item = copy.deepcopy(self.items[item_id])
        item["links"] = [
            {"href": f"{SANDBOX}/v1/payments/payouts-item/{item_id}", "rel": "self", "method": "GET"}
        ]
        return item

    def _get_item(self, request: httpx.Request, body: Any, id: str) -> httpx.Response:
        if id not in self.items:
            return self._error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        return self._json(200, self.item_resource(id))

    def _cancel_item(self, request: httpx.Request, body: Any, id: str) -> httpx.Response:
        if id not in self.items:
            return self._error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        if self.items[id]["transaction_status"] != "UNCLAIMED":
            return self._json(
                400,
                {
                    "name": "ITEM_INCORRECT_STATUS",
                    "message": "You can only cancel items that are in UNCLAIMED state.",
                    "debug_id": self._debug_id(),
                },
            )
        self.items[id]["transaction_status"] = "RETURNED"
        return self._json(200, self.item_resource(id))

    def item_id(self, sender_item_id: str) -> str:
        """PayPal's item id for one of our ``sender_item_id``s (the newest such item)."""
        found = [
            i for i, item in self.items.items() if item["payout_item"]["sender_item_id"] == sender_item_id
        ]
        if not found:
            raise KeyError(f"no payout item with sender_item_id {sender_item_id!r}")
        return found[-1]

    def set_item_status(self, item: str, status: str, *, error: str | None = None) -> str:
        """Move a payout item (PayPal id or sender_item_id) to ``status``; returns its PayPal id."""
        item_id = item if item in self.items else self.item_id(item)
        self.items[item_id]["transaction_status"] = status
        if error:
            self.items[item_id]["errors"] = {
                "name": error,
                "message": f"{error} (simulated)",
                "debug_id": self._debug_id(),
            }
        return item_id

    def deny_batch(self, batch_id: str) -> None:
        self.batches[batch_id]["denied"] = True

    # ---------------------------------------------------------------- Orders

    def _replayed(self, request: httpx.Request) -> httpx.Response | None:
        request_id = request.headers.get("paypal-request-id")
        if not request_id:
            return None
        stored = self._request_ids.get((request_id, request.url.path))
        if stored is None or self.now() - stored.at > timedelta(hours=REQUEST_ID_HOURS):
            return None
        return self._json(stored.status, copy.deepcopy(stored.body))

    def _remember(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        request_id = request.headers.get("paypal-request-id")
        if request_id and response.is_success:
            self._request_ids[(request_id, request.url.path)] = _Stored(
                response.status_code, response.json(), self.now()
            )
        return response

    def _create_order(self, request: httpx.Request, body: Any) -> httpx.Response:
        replay = self._replayed(request)
        if replay is not None:
            return replay
        order_id = _ids(length=17)
        now = _iso(self.now())
        units = []
        for unit in body["purchase_units"]:
            units.append(
                {
                    key: unit[key]
                    for key in ("reference_id", "amount", "custom_id", "description", "soft_descriptor")
                    if key in unit
                }
                | {"payee": {"email_address": "merchant@example.com", "merchant_id": "7KNGBPH2U58GQ"}}
            )
        self.orders[order_id] = {
            "id": order_id,
            "intent": body["intent"],
            "status": "CREATED",
            "purchase_units": units,
            "create_time": now,
            "update_time": now,
        }
        return self._remember(request, self._json(201, self.order_resource(order_id)))

    def order_resource(self, order_id: str) -> dict[str, Any]:
        order = copy.deepcopy(self.orders[order_id])
        links = [{"href": f"{SANDBOX}/v2/checkout/orders/{order_id}", "rel": "self", "method": "GET"}]
        if order["status"] in ("CREATED", "PAYER_ACTION_REQUIRED"):
            links.append({"href": approve_url(order_id), "rel": "approve", "method": "GET"})
        if order["status"] == "APPROVED":
            links.append(
                {
                    "href": f"{SANDBOX}/v2/checkout/orders/{order_id}/capture",
                    "rel": "capture",
                    "method": "POST",
                }
            )
        order["links"] = links
        return order

    def _get_order(self, request: httpx.Request, body: Any, id: str) -> httpx.Response:
        if id not in self.orders:
            return self._error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        return self._json(200, self.order_resource(id))

    def approve(self, order_id: str, *, payer_email: str = "buyer@example.com") -> None:
        """The buyer approves the order on PayPal's site (a test helper)."""
        order = self.orders[order_id]
        assert order["status"] in ("CREATED", "PAYER_ACTION_REQUIRED"), order["status"]
        order["status"] = "APPROVED"
        order["payer"] = {"email_address": payer_email, "payer_id": "QYR5Z8XDVJNXQ"}
        order["update_time"] = _iso(self.now())

    def decline_next_capture(self, order_id: str) -> None:
        """The buyer's funding source is declined at the next capture (INSTRUMENT_DECLINED)."""
        self._declines.add(order_id)

    def pend_next_capture(self, order_id: str) -> None:
        """The next capture of the order is PENDING (e.g. an eCheck or a review)."""
        self._pending.add(order_id)

    def _capture_order(self, request: httpx.Request, body: Any, id: str) -> httpx.Response:
        replay = self._replayed(request)
        if replay is not None:
            return replay
        order = self.orders.get(id)
        if order is None:
            return self._error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        if order["status"] == "COMPLETED":
            return self._error(422, "UNPROCESSABLE_ENTITY", "ORDER_ALREADY_CAPTURED")
        if order["status"] != "APPROVED":
            return self._error(422, "UNPROCESSABLE_ENTITY", "ORDER_NOT_APPROVED")
        if id in self._declines:
            self._declines.discard(id)
            order["status"] = "PAYER_ACTION_REQUIRED"
            return self._error(422, "UNPROCESSABLE_ENTITY", "INSTRUMENT_DECLINED")
        capture_id = _ids(length=17)
        now = _iso(self.now())
        unit = order["purchase_units"][0]
        capture: dict[str, Any] = {
            "id": capture_id,
            "status": "COMPLETED",
            "amount": dict(unit["amount"]),
            "final_capture": True,
            "seller_protection": {
                "status": "ELIGIBLE",
                "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"],
            },
            "create_time": now,
            "update_time": now,
        }
        if "custom_id" in unit:
            capture["custom_id"] = unit["custom_id"]
        if id in self._pending:
            self._pending.discard(id)
            capture["status"] = "PENDING"
            capture["status_details"] = {"reason": "PENDING_REVIEW"}
        unit["payments"] = {"captures": [capture]}
        order["status"] = "COMPLETED"
        order["update_time"] = now
        self.captures[capture_id] = id
        return self._remember(request, self._json(201, self.order_resource(id)))

    def capture(self, capture_id: str) -> dict[str, Any]:
        order = self.orders[self.captures[capture_id]]
        return next(c for c in order["purchase_units"][0]["payments"]["captures"] if c["id"] == capture_id)

    def complete_capture(self, capture_id: str, status: str = "COMPLETED") -> None:
        """A pending capture finishes (COMPLETED, or DECLINED)."""
        capture = self.capture(capture_id)
        capture["status"] = status
        capture.pop("status_details", None)
        capture["update_time"] = _iso(self.now())

    def capture_resource(self, capture_id: str) -> dict[str, Any]:
        """The capture as the PAYMENT.CAPTURE.* webhooks carry it."""
        capture = copy.deepcopy(self.capture(capture_id))
        capture["supplementary_data"] = {"related_ids": {"order_id": self.captures[capture_id]}}
        capture["links"] = [
            {"href": f"{SANDBOX}/v2/payments/captures/{capture_id}", "rel": "self", "method": "GET"}
        ]
        return capture

    def order_ids(self) -> list[str]:
        return list(self.orders)

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
            "id": event_id or f"WH-{_ids(length=17)}-{_ids(length=17)}",
            "event_version": "1.0",
            "create_time": _iso(self.now()),
            "resource_type": _resource_type(event_type),
            "event_type": event_type,
            "summary": f"{event_type} (FakePayPal)",
            "resource": resource,
            "links": [],
        }
        body = json.dumps(event, separators=(",", ":")).encode()
        transmission_id = f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-11ee-{secrets.token_hex(2)}-{secrets.token_hex(6)}"
        sent = _iso(transmission_time or self.now())
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


def approve_url(order_id: str) -> str:
    return f"https://www.sandbox.paypal.com/checkoutnow?token={order_id}"


def _cents(value: str) -> int:
    units, _, fraction = value.partition(".")
    return int(units) * 100 + int((fraction + "00")[:2])


def _value(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


# --------------------------------------------------------------------------------------
# The contract: PayPal's published OpenAPI files
# --------------------------------------------------------------------------------------

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
