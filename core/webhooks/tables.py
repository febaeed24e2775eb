"""Tables of the webhooks area: the operators' endpoints, the deliveries of events to
them with their attempts, and the fan-out's place in the event feed."""

from piccolo.columns import JSON, BigInt, Boolean, Integer, Text, Timestamptz, Varchar

from agorakit.db.table import Table


class WebhookEndpoint(Table, tablename="core_webhook_endpoint"):
    """An outside system's URL that the worker POSTs the site's events to."""

    url = Varchar(length=2000)
    description = Varchar(length=500, default="")
    event_types = JSON(default=[], help_text='Event type patterns it subscribes to, e.g. ["order.*"].')
    secret = Varchar(length=100, secret=True, help_text="whsec_ and base64 of the signing key's bytes.")
    previous_secret = Varchar(
        length=100, null=True, default=None, secret=True, help_text="The secret before the last rotation."
    )
    previous_secret_until = Timestamptz(
        null=True, default=None, help_text="Until when the previous secret signs as well."
    )
    enabled = Boolean(default=True, help_text="False: nothing is queued for it and nothing sent.")
    status = Varchar(length=8, default="active", help_text="active | failing | disabled")
    failing_since = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    created_by = Integer(null=True, default=None, help_text="The operator who registered it.")
    deleted_at = Timestamptz(null=True, default=None, help_text="Deleted: gone from the API.")
    start_after_event_id = BigInt(default=0, help_text="It gets the events stored after this one.")
    lease_owner = Varchar(length=40, null=True, default=None, help_text="The sender working on it.")
    lease_until = Timestamptz(
        null=True, default=None, help_text="Until when (real time) the sender's lease holds."
    )


class WebhookDelivery(Table, tablename="core_webhook_delivery"):
    """One event to send to one endpoint (the first time, or a replay)."""

    endpoint_id = Integer(index=True)
    event_id = BigInt(help_text="The stored event (core_domain_event.id).")
    event_type = Varchar(length=100)
    status = Varchar(length=10, help_text="pending | delivered | failed | cancelled")
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(help_text="When it may be sent next (the site's clock).")
    last_status_code = Integer(null=True, default=None)
    last_error = Varchar(length=500, null=True, default=None)
    created_at = Timestamptz()
    delivered_at = Timestamptz(null=True, default=None)
    replay = Boolean(default=False, help_text="Queued by an operator's replay (else by the fan-out).")


class WebhookAttempt(Table, tablename="core_webhook_attempt"):
    """One POST of a delivery and what came back."""

    delivery_id = Integer(index=True)
    at = Timestamptz(help_text="When it was sent (the site's clock).")
    duration_ms = Integer(default=0)
    status_code = Integer(null=True, default=None, help_text="None: no response.")
    error = Varchar(length=500, null=True, default=None, help_text="None: delivered.")
    response_body = Text(default="", help_text="The response's first [webhooks] max_response_bytes.")


class WebhookFeed(Table, tablename="core_webhook_feed"):
    """The fan-out's place in the event feed (one row, id 1)."""

    position = Text(help_text="The encoded agorakit.events.FeedPosition.")
    version = BigInt(default=0, help_text="Bumped with each move: two workers never move it twice.")
