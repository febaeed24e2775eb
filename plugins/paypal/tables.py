"""Tables of the paypal plugin: the webhook deliveries it accepted."""

from piccolo.columns import JSON, Text, Timestamptz, Varchar

from agorakit.db import Table


class WebhookEvent(Table, tablename="paypal_webhook_event"):
    """One PayPal webhook event whose signature was verified, kept once per event id.

    A second delivery of the same event finds this row and changes nothing (PayPal
    delivers at least once and retries for days).
    """

    event_id = Varchar(
        length=80, unique=True, help_text="PayPal's event id, e.g. WH-2WR32451HC0233532-67976317FL4543714."
    )
    event_type = Varchar(
        length=80, index=True, help_text="e.g. PAYMENT.PAYOUTS-ITEM.SUCCEEDED, PAYMENT.CAPTURE.COMPLETED."
    )
    resource_id = Varchar(
        length=80,
        null=True,
        default=None,
        help_text="The id of the event's resource (payout item, capture, order).",
    )
    transmission_id = Varchar(length=80, help_text="PAYPAL-TRANSMISSION-ID of the first accepted delivery.")
    status = Varchar(
        length=16,
        index=True,
        help_text="received (being handled) | processed | ignored (no handler or nothing to change) | failed (will be retried by PayPal).",
    )
    result = Text(default="", help_text="What the handler did, for operators.")
    body = JSON(default={}, help_text="The verified event as PayPal sent it.")
    received_at = Timestamptz(help_text="When the first delivery was accepted.")
    processed_at = Timestamptz(null=True, default=None, help_text="When a handler finished with it.")
