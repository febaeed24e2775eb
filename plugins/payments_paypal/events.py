"""The payments_paypal plugin's events (``subject`` is ``payment:{id}``).

A PayPal payment that fails is the core's ``payment.failed``
(:class:`agorakit.money.PaymentFailed`); a settled one is ``payment.completed``.
"""

from __future__ import annotations

from agorakit.events import Event


class PayPalOrderCreated(Event, frozen=True, kw_only=True):
    """The PayPal order of a payment was created: the buyer can approve it at PayPal."""

    name = "paypal_checkout.order_created"
    payment_id: int
    #: PayPal's order id
    order_id: str


class PayPalCapturePending(Event, frozen=True, kw_only=True):
    """PayPal holds a captured payment as PENDING: the payment stays open, without expiry,
    until PayPal decides."""

    name = "paypal_checkout.capture_pending"
    payment_id: int
    #: PayPal's ``status_details.reason`` (e.g. ``PENDING_REVIEW``), if it gave one
    reason: str | None = None


class PayPalLateCaptureCredited(Event, frozen=True, kw_only=True):
    """PayPal captured money for a payment that had ended unpaid (expired, cancelled):
    the payer got it as site credit."""

    name = "paypal_checkout.late_capture_credited"
    payment_id: int
    payer_id: int
    #: PayPal's capture id
    capture_id: str | None = None
    #: minor units of the payment's currency
    amount: int


#: this plugin's events, registered through ``agorakit_event_types``
EVENTS: list[type[Event]] = [PayPalOrderCreated, PayPalCapturePending, PayPalLateCaptureCredited]
