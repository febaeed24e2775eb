"""Response bodies of the payments_paypal routes."""

from __future__ import annotations

import msgspec


class CheckoutOut(msgspec.Struct):
    """Where the buyer approves the payment at PayPal."""

    payment_id: int
    #: PayPal's order id (the PayPal JS SDK's ``orderID``)
    order_id: str
    #: PayPal's order status: CREATED until the buyer approves, then APPROVED
    status: str
    #: send the buyer here to approve; then call POST /paypal/payments/{payment_id}/capture
    approve_url: str
