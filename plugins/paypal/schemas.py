"""Response bodies of the paypal plugin's routes."""

from __future__ import annotations

from datetime import datetime

import msgspec


class WebhookEventOut(msgspec.Struct):
    event_id: str
    event_type: str
    #: the id of the payout item, capture or order the event is about
    resource_id: str | None
    #: received | processed | ignored | failed
    status: str
    #: what the handler did (or why it did nothing)
    result: str
    received_at: datetime
    processed_at: datetime | None


class WebhookEventPage(msgspec.Struct):
    items: list[WebhookEventOut]
    next_cursor: str | None
