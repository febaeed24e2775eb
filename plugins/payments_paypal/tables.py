"""Tables of the payments_paypal plugin: the PayPal order of each PayPal payment."""

from piccolo.columns import Integer, Text, Timestamptz, Varchar

from agorakit.db import Table


class PayPalOrder(Table, tablename="payments_paypal_order"):
    """The PayPal Orders v2 order that collects one payment (``core_payment``)."""

    payment_id = Integer(unique=True, help_text="The core_payment it collects.")
    order_id = Varchar(length=36, unique=True, help_text="PayPal's order id.")
    request_id = Varchar(
        length=108,
        help_text="PayPal-Request-Id prefix of its create/capture calls (derived from the payment).",
    )
    status = Varchar(
        length=24,
        help_text="PayPal's order status: CREATED, APPROVED, PAYER_ACTION_REQUIRED, COMPLETED, VOIDED.",
    )
    approve_url = Text(help_text="Where the buyer approves the payment at PayPal.")
    capture_id = Varchar(
        length=36, null=True, default=None, unique=True, help_text="PayPal's capture id once captured."
    )
    capture_status = Varchar(
        length=24, null=True, default=None, help_text="COMPLETED, PENDING, DECLINED, FAILED, REFUNDED, ..."
    )
    last_error = Text(null=True, default=None, help_text="The last PayPal error, with PayPal's debug_id.")
    next_sync_at = Timestamptz(
        null=True, default=None, help_text="When the worker next asks PayPal about the order."
    )
    created_at = Timestamptz()
    updated_at = Timestamptz()
