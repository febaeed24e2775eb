"""``POST /webhooks/paypal``: verify a delivery, record it once, hand it to the PayPal methods.

Nothing in a delivery is trusted before its signature is checked:

- **offline** (default): the signed string is
  ``transmission_id|transmission_time|webhook_id|crc32(raw body)`` (CRC32 as an unsigned
  decimal number), signed SHA256withRSA with the key of the certificate at
  ``PAYPAL-CERT-URL``.  That certificate is fetched only over https from a host in
  ``cert_hosts`` (PayPal's own), is cached per URL while it is valid, and must be valid at
  the time of the check;
- **online**: PayPal is asked (``POST /v1/notifications/verify-webhook-signature``).

Then the delivery's age is checked (``webhook_max_age_minutes``), the event is stored
once per event id (a duplicate delivery changes nothing) and every bound payment or
payout method that has ``handle_paypal_event(runtime=, event=)`` is offered it; the first
one that returns a description handled it.  Unknown events are acknowledged (200) and
ignored, so PayPal stops resending them.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import logging
import zlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import msgspec
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from agorakit.db import is_unique_violation
from agorakit.errors import AgorakitError, ServiceUnavailable
from agorakit.pagination import decode_cursor, page
from agorakit.plugins.paypal.client import PayPalClient, PayPalError, client_for, paypal_settings
from agorakit.plugins.paypal.schemas import WebhookEventOut
from agorakit.plugins.paypal.settings import PayPalSettings
from agorakit.plugins.paypal.tables import WebhookEvent

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

log = logging.getLogger("agorakit.paypal.webhooks")

#: A cached certificate is fetched again after this long, even if still valid.
CERT_CACHE_TTL = timedelta(hours=24)
#: A transmission time this far in the future is refused (clocks drift a little).
CLOCK_SKEW = timedelta(minutes=10)
SIGNATURE_ALGORITHM = "SHA256withRSA"

HEADERS = {
    "transmission_id": "paypal-transmission-id",
    "transmission_time": "paypal-transmission-time",
    "transmission_sig": "paypal-transmission-sig",
    "cert_url": "paypal-cert-url",
    "auth_algo": "paypal-auth-algo",
}


class WebhookSignatureInvalid(AgorakitError):
    status = 401
    code = "paypal_webhook_signature_invalid"
    title = "The PayPal webhook's signature does not verify"


class WebhookInvalid(AgorakitError):
    status = 400
    code = "paypal_webhook_invalid"
    title = "Not a PayPal webhook delivery"


class WebhookStale(AgorakitError):
    status = 400
    code = "paypal_webhook_stale"
    title = "The PayPal webhook delivery is too old (or from the future)"


class Transmission(msgspec.Struct, frozen=True):
    """The signature headers of one delivery."""

    transmission_id: str
    transmission_time: str
    transmission_sig: str
    cert_url: str
    auth_algo: str


class Event(msgspec.Struct, frozen=True):
    """A verified PayPal webhook event (the parts the handlers read)."""

    id: str
    event_type: str
    resource: dict[str, Any]
    resource_type: str | None = None
    create_time: str | None = None
    summary: str | None = None


class WebhookAck(msgspec.Struct):
    """The answer to PayPal: 200 means "do not send this again"."""

    event_id: str
    event_type: str
    #: processed | ignored | duplicate | failed (a follow-up call to PayPal was refused;
    #: the worker reconciles later)
    status: str
    #: what was done, e.g. "withdrawal 12 completed"
    result: str


# --------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------


def read_transmission(headers: Any) -> Transmission:
    values: dict[str, str] = {}
    missing = []
    for key, header in HEADERS.items():
        value = headers.get(header)
        if not value:
            missing.append(header.upper())
        else:
            values[key] = str(value).strip()
    if missing:
        message = f"missing PayPal signature headers: {', '.join(missing)}"
        raise WebhookInvalid(message)
    return Transmission(**values)


def cert_url_allowed(url: str, hosts: list[str]) -> bool:
    """True when ``url`` is https on the default port and its host matches ``hosts``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme != "https" or not host or parts.username or parts.password or port not in (None, 443):
        return False
    return any(fnmatch.fnmatchcase(host, pattern.lower()) for pattern in hosts)


async def certificate(client: PayPalClient, url: str, now: datetime) -> x509.Certificate:
    """The signing certificate at ``url`` (an allowed host), from the cache while valid."""
    cached = client.certificates.get(url)
    if cached is not None:
        cert, fetched_at = cached
        if now - fetched_at < CERT_CACHE_TTL and _valid_at(cert, now):
            return cert
    try:
        pem = await client.fetch_certificate(url)
    except PayPalError as exc:
        if exc.outcome_unknown:
            message = "PayPal's signing certificate could not be fetched; PayPal will deliver again"
            raise ServiceUnavailable(message) from exc
        raise WebhookSignatureInvalid(f"no signing certificate at PAYPAL-CERT-URL ({exc.status})") from exc
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise WebhookSignatureInvalid("PAYPAL-CERT-URL does not serve a PEM certificate") from exc
    client.certificates[url] = (cert, now)
    return cert


def _valid_at(cert: x509.Certificate, now: datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def signed_message(transmission: Transmission, webhook_id: str, body: bytes) -> bytes:
    """What PayPal signs: ``transmission_id|transmission_time|webhook_id|crc32(body)``."""
    crc = zlib.crc32(body) & 0xFFFFFFFF
    return f"{transmission.transmission_id}|{transmission.transmission_time}|{webhook_id}|{crc}".encode()


async def verify_offline(
    client: PayPalClient, settings: PayPalSettings, transmission: Transmission, body: bytes, now: datetime
) -> None:
    if transmission.auth_algo.lower() != SIGNATURE_ALGORITHM.lower():
        raise WebhookSignatureInvalid(f"unsupported PAYPAL-AUTH-ALGO {transmission.auth_algo[:40]!r}")
    if not cert_url_allowed(transmission.cert_url, settings.cert_hosts):
        message = (
            "PAYPAL-CERT-URL is not an https URL on an allowed PayPal host ([plugins.paypal] cert_hosts)"
        )
        raise WebhookSignatureInvalid(message)
    try:
        signature = base64.b64decode(transmission.transmission_sig, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WebhookSignatureInvalid("PAYPAL-TRANSMISSION-SIG is not base64") from exc
    cert = await certificate(client, transmission.cert_url, now)
    if not _valid_at(cert, now):
        raise WebhookSignatureInvalid("PayPal's signing certificate is expired or not yet valid")
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise WebhookSignatureInvalid("PayPal's signing certificate does not hold an RSA key")
    try:
        key.verify(
            signature,
            signed_message(transmission, settings.webhook_id, body),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except InvalidSignature as exc:
        raise WebhookSignatureInvalid("the signature does not match the delivery") from exc


async def verify_online(
    client: PayPalClient, settings: PayPalSettings, transmission: Transmission, event: dict[str, Any]
) -> None:
    request = {
        "auth_algo": transmission.auth_algo,
        "cert_url": transmission.cert_url,
        "transmission_id": transmission.transmission_id,
        "transmission_sig": transmission.transmission_sig,
        "transmission_time": transmission.transmission_time,
        "webhook_id": settings.webhook_id,
        "webhook_event": event,
    }
    try:
        answer = await client.verify_webhook_signature(request)
    except PayPalError as exc:
        message = f"PayPal could not verify the delivery now; it will deliver again ({exc.describe()})"
        raise ServiceUnavailable(message) from exc
    if answer.get("verification_status") != "SUCCESS":
        raise WebhookSignatureInvalid("PayPal says the signature does not verify")


def _parse_time(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise WebhookInvalid("PAYPAL-TRANSMISSION-TIME is not an ISO 8601 time") from exc
    if parsed.tzinfo is None:
        raise WebhookInvalid("PAYPAL-TRANSMISSION-TIME has no time zone")
    return parsed


def check_age(settings: PayPalSettings, transmission: Transmission, now: datetime) -> None:
    sent = _parse_time(transmission.transmission_time)
    if sent > now + CLOCK_SKEW:
        raise WebhookStale(
            f"the delivery claims to be sent at {transmission.transmission_time}, in the future"
        )
    limit = settings.webhook_max_age_minutes
    if limit and now - sent > timedelta(minutes=limit):
        message = (
            f"the delivery was signed at {transmission.transmission_time}, more than {limit} minutes ago"
        )
        raise WebhookStale(message)


def decode_event(body: bytes) -> tuple[Event, dict[str, Any]]:
    try:
        raw = msgspec.json.decode(body)
        event = msgspec.convert(raw, Event)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise WebhookInvalid(f"the body is not a PayPal event: {exc}") from exc
    except RecursionError:  # anyone can post here, and online verification reads the body first
        raise WebhookInvalid("the body is not a PayPal event: it is nested too deeply") from None
    if not event.id or not event.event_type or len(event.id) > 80 or len(event.event_type) > 80:
        raise WebhookInvalid("the event has no id or event_type (or they are too long)")
    return event, raw


# --------------------------------------------------------------------------------------
# Receiving
# --------------------------------------------------------------------------------------


def handlers(runtime: Runtime) -> list[Any]:
    """The bound methods that take PayPal events (pay-ins first)."""
    methods = [*runtime.payment_methods.values(), *runtime.payout_methods.values()]
    return [m for m in methods if callable(getattr(m, "handle_paypal_event", None))]


async def receive(runtime: Runtime, headers: Any, body: bytes) -> WebhookAck:
    """Verify, record and handle one delivery (see the module docstring)."""
    settings = paypal_settings(runtime)
    if not settings.webhook_id:
        message = "PayPal webhooks are not set up on this site ([plugins.paypal] webhook_id is empty)"
        raise ServiceUnavailable(message)
    transmission = read_transmission(headers)
    client = client_for(runtime)
    now = runtime.clock.now()
    if settings.webhook_verification == "online":
        _, raw = decode_event(body)
        await verify_online(client, settings, transmission, raw)
    else:
        await verify_offline(client, settings, transmission, body, now)
    event, raw = decode_event(body)
    check_age(settings, transmission, now)

    row, first = await _record(runtime, event, raw, transmission)
    if not first and row["status"] in ("processed", "ignored"):
        return WebhookAck(
            event_id=event.id, event_type=event.event_type, status="duplicate", result=row["result"]
        )
    try:
        result = await dispatch(runtime, event)
    except Exception as exc:
        await _finish(runtime, event.id, "failed", _describe(exc))
        if isinstance(exc, PayPalError) and exc.outcome_unknown:
            message = f"PayPal could not be asked about the event; deliver it again ({exc.describe()})"
            raise ServiceUnavailable(message) from exc
        if isinstance(exc, PayPalError):
            # PayPal refused a follow-up call: delivering again would not help, and the
            # worker's polling reconciles the payout or payment later.
            log.warning("paypal webhook %s %s failed: %s", event.event_type, event.id, exc.describe())
            return WebhookAck(
                event_id=event.id, event_type=event.event_type, status="failed", result=_describe(exc)
            )
        raise
    status = "processed" if result else "ignored"
    result = result or f"no handler for {event.event_type}"
    await _finish(runtime, event.id, status, result)
    log.info("paypal webhook %s %s: %s", event.event_type, event.id, result)
    return WebhookAck(event_id=event.id, event_type=event.event_type, status=status, result=result)


async def dispatch(runtime: Runtime, event: Event) -> str | None:
    for method in handlers(runtime):
        result = await method.handle_paypal_event(runtime=runtime, event=event)
        if result:
            return result
    return None


def _describe(exc: Exception) -> str:
    return exc.describe() if isinstance(exc, PayPalError) else f"{type(exc).__name__}: {exc}"


async def _record(
    runtime: Runtime, event: Event, raw: dict[str, Any], transmission: Transmission
) -> tuple[dict[str, Any], bool]:
    """The event's row; ``first`` is True when this delivery created it."""
    existing = await WebhookEvent.select().where(WebhookEvent.event_id == event.id).first()
    if existing is not None:
        return existing, False
    resource_id = event.resource.get("id") if isinstance(event.resource.get("id"), str) else None
    try:
        async with runtime.unit_of_work() as uow:
            await WebhookEvent.insert(
                WebhookEvent(
                    event_id=event.id,
                    event_type=event.event_type,
                    resource_id=resource_id[:80] if resource_id else None,
                    transmission_id=transmission.transmission_id[:80],
                    status="received",
                    result="",
                    body=raw,
                    received_at=uow.now,
                )
            )
    except Exception as exc:
        if not is_unique_violation(exc):
            raise
        # A concurrent delivery of the same event: the handlers are idempotent, go on.
    row = await WebhookEvent.select().where(WebhookEvent.event_id == event.id).first()
    assert row is not None
    return row, existing is None


async def _finish(runtime: Runtime, event_id: str, status: str, result: str) -> None:
    async with runtime.unit_of_work() as uow:
        await WebhookEvent.update(
            {
                WebhookEvent.status: status,
                WebhookEvent.result: result[:2000],
                WebhookEvent.processed_at: uow.now,
            }
        ).where(WebhookEvent.event_id == event_id)


# --------------------------------------------------------------------------------------
# What operators see
# --------------------------------------------------------------------------------------


async def list_events(
    *, cursor: str | None, limit: int, event_type: str | None = None, status: str | None = None
) -> tuple[list[WebhookEventOut], str | None]:
    """The webhook events received, newest first (optionally of one type or status)."""
    query = WebhookEvent.select().order_by(WebhookEvent.id, ascending=False).limit(limit + 1)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(WebhookEvent.id < int(position["id"]))
    if event_type:
        query = query.where(WebhookEvent.event_type == event_type)
    if status:
        query = query.where(WebhookEvent.status == status)
    rows, next_cursor = page(await query, limit, lambda row: {"id": row["id"]})
    items = [
        WebhookEventOut(
            event_id=r["event_id"],
            event_type=r["event_type"],
            resource_id=r["resource_id"],
            status=r["status"],
            result=r["result"],
            received_at=r["received_at"],
            processed_at=r["processed_at"],
        )
        for r in rows
    ]
    return items, next_cursor
