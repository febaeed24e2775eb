"""Shared parts of the local PayPal (:mod:`agorakit.plugins.paypal.testing`): PayPal's
hosts and wording, ids and times as PayPal writes them, the test webhook signing key, and
the base of the stand-in's parts (PayPal's JSON answers and error bodies).
"""

from __future__ import annotations

import base64
import re
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

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
ERROR_MESSAGES = {
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


def paypal_id(prefix: str = "", length: int = 13) -> str:
    alphabet = string.ascii_uppercase + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def iso_time(moment: datetime) -> str:
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
class StoredAnswer:
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
# The base of the stand-in's parts
# --------------------------------------------------------------------------------------


class FakeCore:
    """PayPal's answers: JSON with a ``PayPal-Debug-Id``, and PayPal's error bodies."""

    #: the stand-in's clock
    now: Callable[[], datetime]

    def _debug_id(self) -> str:
        return secrets.token_hex(6)

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        sent = {
            "paypal-debug-id": body.get("debug_id")
            if isinstance(body, dict) and body.get("debug_id")
            else self._debug_id(),
            **(headers or {}),
        }
        return httpx.Response(status, json=body, headers=sent)

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
            "message": ERROR_MESSAGES.get(name, "A business error occurred."),
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
