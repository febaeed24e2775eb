"""Request and response bodies of the webhooks API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

Url = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
Description = Annotated[str, msgspec.Meta(max_length=500)]
#: event type patterns: ``order.transitioned``, ``order.*``, ``*``
Patterns = Annotated[
    list[Annotated[str, msgspec.Meta(max_length=100)]], msgspec.Meta(min_length=1, max_length=100)
]
EndpointStatus = Literal["active", "failing", "disabled"]
DeliveryStatus = Literal["pending", "delivered", "failed", "cancelled"]


class CreateEndpoint(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """An endpoint to register: where to POST, and which events."""

    url: Url
    event_types: Patterns
    description: Description = ""
    enabled: bool = True


class UpdateEndpoint(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The fields to change (those left out stay as they are)."""

    url: Url | None = None
    event_types: Patterns | None = None
    description: Description | None = None
    #: false: nothing is queued or sent; true: queued and sent again (a failing endpoint
    #: is resumed)
    enabled: bool | None = None


class EndpointOut(msgspec.Struct, kw_only=True):
    id: int
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    #: active; failing (a delivery failed through the whole retry schedule: its later
    #: deliveries wait until it is resumed); disabled
    status: EndpointStatus
    failing_since: datetime | None
    created_at: datetime
    created_by: int | None
    #: deliveries waiting to be sent, and those that failed for good
    pending: int = 0
    failed: int = 0
    #: when its last delivery reached it (None: none yet)
    last_delivered_at: datetime | None = None


class EndpointCreated(msgspec.Struct, kw_only=True):
    """A new endpoint with its signing secret (shown only here and on rotation)."""

    id: int
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    status: EndpointStatus
    failing_since: datetime | None
    created_at: datetime
    secret: str


class EndpointPage(msgspec.Struct):
    items: list[EndpointOut]
    next_cursor: str | None


class SecretRotated(msgspec.Struct):
    #: the new secret: requests are signed with it from now on
    secret: str
    #: until then requests carry a second signature with the previous secret
    previous_secret_expires_at: datetime


class DeliveryOut(msgspec.Struct, kw_only=True):
    id: int
    endpoint_id: int
    #: the event's public id, sent as ``webhook-id``
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    #: when it is sent next (pending ones)
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    #: queued by an operator's replay
    replay: bool


class AttemptOut(msgspec.Struct, kw_only=True):
    id: int
    at: datetime
    duration_ms: int
    #: the response's status (None: no response)
    status_code: int | None
    #: what went wrong (None: delivered)
    error: str | None
    #: the start of the response's body
    response_body: str


class DeliveryDetail(msgspec.Struct, kw_only=True):
    delivery: DeliveryOut
    #: oldest first
    attempts: list[AttemptOut]


class DeliveryPage(msgspec.Struct):
    items: list[DeliveryOut]
    next_cursor: str | None


class ReplayRange(msgspec.Struct, forbid_unknown_fields=True):
    """Queue again every stored event in ``[from, to)`` that the endpoint's patterns match."""

    start: datetime = msgspec.field(name="from")
    end: datetime = msgspec.field(name="to")


class ReplayQueued(msgspec.Struct):
    queued: int
