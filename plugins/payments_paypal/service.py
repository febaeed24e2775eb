"""PayPal Checkout: create the order, capture it once, settle the payment once.

- :func:`checkout`: ``POST /v2/checkout/orders`` (intent CAPTURE, the payment's exact
  amount, ``PayPal-Request-Id`` derived from the payment, so asking again returns the same
  order) and the approval link, kept with the payment.
- :func:`capture`: ``POST /v2/checkout/orders/{id}/capture`` (again with a derived
  ``PayPal-Request-Id``).  ``ORDER_NOT_APPROVED`` and ``INSTRUMENT_DECLINED`` become 422
  problems that hand the buyer the approval link again; ``ORDER_ALREADY_CAPTURED`` looks
  the order up and goes on.
- :func:`apply_capture`: a ``COMPLETED`` capture of the exact amount settles the payment
  (``external:paypal`` → the payer's credit or the order's escrow, and the order moves
  through ``agorakit_payment_settled``) in one transaction, exactly once — the capture
  route, the webhooks and the worker may all try.  ``PENDING`` keeps the payment open
  (no expiry) until PayPal decides; ``DECLINED``/``FAILED`` fail it.  Money captured for a
  payment that had meanwhile expired, been cancelled or failed goes to the payer's site
  credit; a settlement refused for another reason leaves the payment open for the next try.

Refunds of orders stay on the site (the buyer's credit, the seed rule); nothing here sends
money back to PayPal.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from agorakit.db import is_unique_violation
from agorakit.errors import (
    AgorakitError,
    Conflict,
    FieldError,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
)
from agorakit.money import (
    OPEN_STATUSES,
    PaymentOut,
    attach_provider_ref,
    credit_late_payment,
    fail_payment,
    format_amount,
    get_payment,
    keep_open,
    minor_units,
    open_payment_ids,
    settle_from_provider,
)
from agorakit.plugins.payments_paypal.events import (
    PayPalCapturePending,
    PayPalLateCaptureCredited,
    PayPalOrderCreated,
)
from agorakit.plugins.payments_paypal.methods import METHOD, PLUGIN
from agorakit.plugins.payments_paypal.schemas import CheckoutOut
from agorakit.plugins.payments_paypal.tables import PayPalOrder
from agorakit.plugins.paypal.amounts import from_paypal
from agorakit.plugins.paypal.client import PayPalError, client_for

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

log = logging.getLogger("agorakit.paypal.checkout")

OPEN = OPEN_STATUSES


class PayPalProblem(AgorakitError):
    """A PayPal refusal the buyer can act on; ``extra`` carries ``approve_url`` and ``debug_id``."""

    status = 422


class OrderNotApproved(PayPalProblem):
    code = "paypal_order_not_approved"
    title = "The buyer has not approved the payment at PayPal yet"


class InstrumentDeclined(PayPalProblem):
    code = "paypal_instrument_declined"
    title = "PayPal declined the buyer's funding source"


class CaptureDeclined(PayPalProblem):
    code = "paypal_capture_declined"
    title = "PayPal declined the payment"


class PayPalFailed(AgorakitError):
    status = 502
    code = "paypal_error"
    title = "PayPal refused the request"


def _settings(runtime: Runtime) -> Any:
    return runtime.plugin_settings(PLUGIN)


def _request_id(payment: PaymentOut, step: str) -> str:
    """The PayPal-Request-Id of a call for a payment: the same for every retry of it.

    The payment's random reference is part of it, so a payment id reused after a database
    reset never replays another payment's order.
    """
    return f"agorakit-{payment.id}-{payment.reference}-{step}"


def _unavailable(exc: PayPalError) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"PayPal did not answer; try again ({exc.describe()})", extra={"debug_id": exc.debug_id}
    )


def _failed(exc: PayPalError) -> PayPalFailed:
    return PayPalFailed(exc.describe(), extra={"debug_id": exc.debug_id, "paypal_error": exc.name})


async def _paypal_payment(payment_id: int, payer_id: int | None) -> PaymentOut:
    payment = await get_payment(payment_id, payer_id=payer_id)
    if payment.method != METHOD:
        message = f"payment {payment_id} is paid by {payment.method}, not by PayPal"
        raise ValidationFailed([FieldError("payment_id", message, "path")])
    return payment


async def _order_row(payment_id: int) -> dict[str, Any] | None:
    return await PayPalOrder.select().where(PayPalOrder.payment_id == payment_id).first()


def _approve_link(order: dict[str, Any]) -> str | None:
    for link in order.get("links") or []:
        if isinstance(link, dict) and link.get("rel") in ("approve", "payer-action"):
            return link.get("href")
    return None


# --------------------------------------------------------------------------------------
# Checkout: the order and its approval link
# --------------------------------------------------------------------------------------


async def checkout(runtime: Runtime, *, payment_id: int, payer_id: int) -> CheckoutOut:
    """The PayPal order of an open PayPal payment (created once) and its approval link."""
    payment = await _paypal_payment(payment_id, payer_id)
    row = await _order_row(payment_id)
    if row is not None and row["capture_id"] is None and row["status"] != "VOIDED":
        return CheckoutOut(
            payment_id=payment_id,
            order_id=row["order_id"],
            status=row["status"],
            approve_url=row["approve_url"],
        )
    if payment.status not in OPEN:
        raise Conflict(
            f"payment {payment_id} is {payment.status}; start a new payment", extra={"status": payment.status}
        )
    if row is not None:
        raise Conflict(
            f"payment {payment_id} has been captured at PayPal already", extra={"status": payment.status}
        )
    settings = _settings(runtime)
    site = runtime.settings.site
    amount = payment.amount
    context: dict[str, Any] = {
        "brand_name": (settings.brand_name or site.name)[:127],
        "shipping_preference": "NO_SHIPPING",
        "user_action": "PAY_NOW",
    }
    if settings.return_url:
        context["return_url"] = settings.return_url
    if settings.cancel_url:
        context["cancel_url"] = settings.cancel_url
    what = "deposit to your balance" if payment.purpose == "deposit" else f"payment for {payment.escrow_ref}"
    body = {
        "intent": "CAPTURE",
        "purchase_units": [
            {
                "reference_id": f"payment-{payment.id}",
                "custom_id": f"agorakit-payment-{payment.id}",
                "description": f"{site.name}: {what} ({payment.reference})"[:127],
                "amount": {"currency_code": amount.currency, "value": amount.amount},
            }
        ],
        "application_context": context,
    }
    client = client_for(runtime)
    try:
        order = await client.create_order(body, request_id=_request_id(payment, "create"))
    except PayPalError as exc:
        if exc.outcome_unknown:
            raise _unavailable(exc) from exc
        raise _failed(exc) from exc
    approve_url = _approve_link(order) or ""
    try:
        async with runtime.unit_of_work() as uow:
            await PayPalOrder.insert(
                PayPalOrder(
                    payment_id=payment.id,
                    order_id=order["id"],
                    request_id=_request_id(payment, "")[:108],
                    status=order.get("status", "CREATED"),
                    approve_url=approve_url,
                    next_sync_at=uow.now + timedelta(minutes=settings.sync_interval_minutes),
                    created_at=uow.now,
                    updated_at=uow.now,
                )
            )
            await attach_provider_ref(
                uow,
                payment,
                order["id"],
                details={"paypal_order_id": order["id"], "approve_url": approve_url},
            )
            uow.record(
                PayPalOrderCreated(payment_id=payment.id, order_id=order["id"]),
                subject=f"payment:{payment.id}",
                actor_id=payer_id,
            )
    except Exception as exc:
        if not is_unique_violation(exc):
            raise
        # A concurrent checkout stored the same order (PayPal-Request-Id made it one).
    row = await _order_row(payment_id)
    assert row is not None
    return CheckoutOut(
        payment_id=payment_id, order_id=row["order_id"], status=row["status"], approve_url=row["approve_url"]
    )


# --------------------------------------------------------------------------------------
# Capture and settlement
# --------------------------------------------------------------------------------------


async def capture(runtime: Runtime, *, payment_id: int, payer_id: int | None) -> PaymentOut:
    """Capture an approved PayPal payment and settle it (once); ``payer_id`` None = system."""
    payment = await _paypal_payment(payment_id, payer_id)
    if payment.status == "completed":
        return payment
    row = await _order_row(payment_id)
    if row is None:
        message = (
            f"payment {payment_id} has no PayPal order yet: POST /paypal/payments/{payment_id}/checkout first"
        )
        raise Conflict(message)
    if payment.status not in OPEN:
        raise Conflict(
            f"payment {payment_id} is {payment.status}; start a new payment", extra={"status": payment.status}
        )
    if row["capture_id"] is not None:
        return payment  # captured; PayPal holds it (PENDING) and will tell us
    client = client_for(runtime)
    try:
        order = await client.capture_order(row["order_id"], request_id=_request_id(payment, "capture"))
    except PayPalError as exc:
        if exc.outcome_unknown:
            raise _unavailable(exc) from exc
        extra = {"approve_url": row["approve_url"], "debug_id": exc.debug_id, "order_id": row["order_id"]}
        if "ORDER_ALREADY_CAPTURED" in exc.issues:
            order = await _get_order(client, row["order_id"])
        elif "ORDER_NOT_APPROVED" in exc.issues:
            message = "approve the payment at PayPal first (approve_url), then capture it again"
            raise OrderNotApproved(message, extra=extra) from exc
        elif "INSTRUMENT_DECLINED" in exc.issues or "PAYER_ACTION_REQUIRED" in exc.issues:
            await _note(runtime, row["id"], status="PAYER_ACTION_REQUIRED", error=exc.describe())
            message = (
                "PayPal declined the chosen funding source; approve the payment again at PayPal "
                "(approve_url) with another card or account, then capture it again"
            )
            raise InstrumentDeclined(message, extra=extra) from exc
        else:
            await _note(runtime, row["id"], error=exc.describe())
            raise _failed(exc) from exc
    return await apply_order(runtime, row, order)


async def _get_order(client: Any, order_id: str) -> dict[str, Any]:
    try:
        return await client.get_order(order_id)
    except PayPalError as exc:
        if exc.outcome_unknown:
            raise _unavailable(exc) from exc
        raise _failed(exc) from exc


async def apply_order(runtime: Runtime, row: dict[str, Any], order: dict[str, Any]) -> PaymentOut:
    """Act on an order as PayPal shows it (after capture, a lookup or a webhook)."""
    captures = [
        c
        for unit in order.get("purchase_units") or []
        for c in ((unit.get("payments") or {}).get("captures") or [])
    ]
    if captures:
        return await apply_capture(runtime, row, captures[0], order_status=order.get("status"))
    await _note(runtime, row["id"], status=order.get("status"))
    return await get_payment(row["payment_id"])


async def apply_capture(
    runtime: Runtime, row: dict[str, Any], capture_: dict[str, Any], *, order_status: str | None = None
) -> PaymentOut:
    """Settle on a COMPLETED capture of the exact amount; keep PENDING open; fail a DECLINED one."""
    status = str(capture_.get("status") or "").upper()
    capture_id = capture_.get("id")
    payment = await get_payment(row["payment_id"])
    await _note(runtime, row["id"], status=order_status, capture_id=capture_id, capture_status=status)
    if status == "COMPLETED":
        return await _settle(runtime, row, payment, capture_)
    if status == "PENDING":
        await _hold_open(runtime, payment, capture_)
        return await get_payment(payment.id)
    if status in ("DECLINED", "FAILED"):
        await _fail(runtime, payment, f"PayPal {status.lower()} the capture {capture_id}")
        raise CaptureDeclined(
            f"PayPal {status.lower()} the payment; start a new payment with another funding source",
            extra={"order_id": row["order_id"], "capture_id": capture_id},
        )
    # REFUNDED / PARTIALLY_REFUNDED / REVERSED after settlement: refunds stay on the site.
    log.warning("payment %s: PayPal capture %s is now %s; no money moves", payment.id, capture_id, status)
    return payment


async def _settle(
    runtime: Runtime, row: dict[str, Any], payment: PaymentOut, capture_: dict[str, Any]
) -> PaymentOut:
    amount = capture_.get("amount") or {}
    currency = payment.amount.currency
    cents = minor_units(payment)
    try:
        captured = (
            from_paypal(amount.get("value", ""), currency)
            if amount.get("currency_code") == currency
            else None
        )
    except ValueError:
        captured = None
    if captured != cents:
        message = (
            f"PayPal captured {amount.get('value')} {amount.get('currency_code')} for payment {payment.id} "
            f"of {payment.amount.amount} {currency}; not settled, an operator must check it"
        )
        log.error(message)
        await _note(runtime, row["id"], error=message)
        raise Conflict(message)
    details = {"paypal_order_id": row["order_id"], "paypal_capture_id": capture_.get("id")}
    try:
        async with runtime.unit_of_work() as uow:
            await settle_from_provider(uow, payment, actor_id=payment.payer_id, details=details)
    except Conflict:
        current = await get_payment(payment.id)
        if current.status in ("completed", "refunded"):
            return current  # settled by the route, a webhook or the worker: once is enough
        if current.status in OPEN:
            raise  # refused for another reason: the next try (webhook, worker) settles it
        await _credit_late_capture(runtime, current, capture_, cents)
        return await get_payment(payment.id)
    return await get_payment(payment.id)


async def _credit_late_capture(
    runtime: Runtime, payment: PaymentOut, capture_: dict[str, Any], cents: int
) -> None:
    """PayPal took the money for a payment that had expired, been cancelled or failed
    meanwhile: the payer gets it as site credit (never lost, never paid twice)."""
    currency = payment.amount.currency
    async with runtime.unit_of_work() as uow:
        credited = await credit_late_payment(
            uow,
            payment,
            amount=cents,
            key=f"paypal:capture:{capture_.get('id')}:credit",
            kind="paypal_late_capture",
            description=(
                f"PayPal payment {payment.reference} arrived after the payment was {payment.status}; "
                f"{format_amount(cents, currency)} {currency} added to your credit"
            ),
        )
        if credited:
            uow.record(
                PayPalLateCaptureCredited(
                    payment_id=payment.id,
                    payer_id=payment.payer_id,
                    capture_id=capture_.get("id"),
                    amount=cents,
                ),
                subject=f"payment:{payment.id}",
            )
    log.warning(
        "payment %s was %s when PayPal captured it; credited to the payer", payment.id, payment.status
    )


async def _hold_open(runtime: Runtime, payment: PaymentOut, capture_: dict[str, Any]) -> None:
    """A PENDING capture: PayPal has the buyer's approval; the payment must not expire."""
    reason = (capture_.get("status_details") or {}).get("reason")
    async with runtime.unit_of_work() as uow:
        details = {
            "paypal_capture_id": capture_.get("id"),
            "paypal_capture_status": "PENDING",
            **({"paypal_pending_reason": reason} if reason else {}),
        }
        held = await keep_open(uow, payment, details=details)
        if held and payment.details.get("paypal_capture_status") != "PENDING":
            uow.record(
                PayPalCapturePending(payment_id=payment.id, reason=reason), subject=f"payment:{payment.id}"
            )


async def _fail(runtime: Runtime, payment: PaymentOut, reason: str) -> None:
    async with runtime.unit_of_work() as uow:
        await fail_payment(uow, payment, reason=reason)


async def _note(
    runtime: Runtime,
    row_id: int,
    *,
    status: str | None = None,
    capture_id: str | None = None,
    capture_status: str | None = None,
    error: str | None = None,
) -> None:
    values: dict[Any, Any] = {PayPalOrder.updated_at: runtime.clock.now()}
    if status:
        values[PayPalOrder.status] = status
    if capture_id:
        values[PayPalOrder.capture_id] = capture_id
    if capture_status:
        values[PayPalOrder.capture_status] = capture_status
    if error:
        values[PayPalOrder.last_error] = error[:2000]
    async with runtime.unit_of_work():
        await PayPalOrder.update(values).where(PayPalOrder.id == row_id)


# --------------------------------------------------------------------------------------
# Webhooks and the worker
# --------------------------------------------------------------------------------------


async def handle_event(runtime: Runtime, event: Any) -> str | None:
    """A verified checkout webhook; None when it is not about a payment of this site."""
    resource = event.resource or {}
    if event.event_type == "CHECKOUT.ORDER.APPROVED":
        row = await PayPalOrder.select().where(PayPalOrder.order_id == str(resource.get("id"))).first()
        if row is None:
            return None
        return await _finish(
            runtime, row, lambda: capture(runtime, payment_id=row["payment_id"], payer_id=None)
        )
    if event.event_type.startswith("PAYMENT.CAPTURE."):
        order_id = ((resource.get("supplementary_data") or {}).get("related_ids") or {}).get("order_id")
        row = None
        if order_id:
            row = await PayPalOrder.select().where(PayPalOrder.order_id == str(order_id)).first()
        if row is None and resource.get("id"):
            row = await PayPalOrder.select().where(PayPalOrder.capture_id == str(resource["id"])).first()
        if row is None:
            return None
        return await _finish(runtime, row, lambda: apply_capture(runtime, row, resource))
    return None


async def _finish(runtime: Runtime, row: dict[str, Any], action: Any) -> str:
    try:
        payment = await action()
    except ServiceUnavailable as exc:
        cause = exc.__cause__
        if isinstance(cause, PayPalError):
            raise cause from exc  # the webhook answers 503 and PayPal delivers it again
        raise
    except AgorakitError as exc:  # declined, not approved, no longer open, ...: nothing to retry
        return f"payment {row['payment_id']}: {exc.detail}"
    return f"payment {payment.id} {payment.status}"


async def sync_open_orders(runtime: Runtime) -> dict[str, Any]:
    """Ask PayPal about open PayPal payments due for a check; capture approved ones."""
    report: dict[str, Any] = {"settled": [], "errors": []}
    client = client_for(runtime)
    if not client.configured:
        return report
    now = runtime.clock.now()
    open_ids = await open_payment_ids(METHOD)
    if not open_ids:
        return report
    rows = await (
        PayPalOrder.select(*PayPalOrder.all_columns())
        .where(
            PayPalOrder.payment_id.is_in(open_ids)
            & (PayPalOrder.next_sync_at.is_null() | (PayPalOrder.next_sync_at <= now))
        )
        .order_by(PayPalOrder.id)
    )
    interval = timedelta(minutes=_settings(runtime).sync_interval_minutes)
    for row in rows:
        async with runtime.unit_of_work():
            await PayPalOrder.update({PayPalOrder.next_sync_at: now + interval}).where(
                PayPalOrder.id == row["id"]
            )
        try:
            order = await client.get_order(row["order_id"])
            if order.get("status") == "APPROVED" and row["capture_id"] is None:
                payment = await capture(runtime, payment_id=row["payment_id"], payer_id=None)
            else:
                payment = await apply_order(runtime, row, order)
        except (PayPalError, AgorakitError) as exc:
            text = exc.describe() if isinstance(exc, PayPalError) else exc.detail
            log.warning("PayPal payment %s: %s", row["payment_id"], text)
            await _note(runtime, row["id"], error=text)
            report["errors"].append(row["payment_id"])
            continue
        if payment.status == "completed":
            report["settled"].append(payment.id)
    return report


async def get_order_row(payment_id: int) -> dict[str, Any]:
    row = await _order_row(payment_id)
    if row is None:
        raise NotFound(f"payment {payment_id} has no PayPal order")
    return row
