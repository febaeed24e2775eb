"""Bodies of the prepaid API.

Struct names carry the plugin's prefix (``Prepaid...``) where a name could collide with
another area's in the OpenAPI document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from agorakit.catalog import DetailFieldOut
from agorakit.money import Money

Mode = Literal["prepaid", "classic"]
Slug = Annotated[str, msgspec.Meta(min_length=1, max_length=60, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")]
TypeName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$", examples=["rank_boost"])]
Hours = Annotated[int, msgspec.Meta(ge=1, le=24 * 365)]
Method = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class RequestAttributes(msgspec.Struct, forbid_unknown_fields=True):
    """The ``attributes`` of a ``request`` listing (written by the plugin, not by clients)."""

    mode: Mode
    service_type: TypeName
    details: dict[str, Any] = {}
    timeframe_hours: Hours = 72


class CreateRequest(msgspec.Struct, forbid_unknown_fields=True):
    #: "prepaid" (pay now; a qualified seller locks it) or "classic" (sellers send offers)
    mode: Mode
    #: slug of the category, e.g. "games/valorant"
    category: Slug
    #: one of the category's service types (``GET /prepaid/service-types?category=``)
    service_type: TypeName
    #: the service type's fields, e.g. {"current_rank": "Gold 2", "target_rank": "Platinum 1"}
    details: dict[str, Any]
    #: what the buyer pays (prepaid) or proposes (classic), e.g. {"amount": "40.00", "currency": "USD"}
    price: Money
    #: delivery time in hours (default: the site's ``timeframe_hours``)
    timeframe_hours: Hours | None = None
    #: a title for sellers (default: the service type and the category)
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=120)] | None = None
    #: prepaid: how to pay at once ("balance" or any enabled payment method); omit it to
    #: pay later with ``POST /orders/{order_id}/payments``
    method: Method | None = None


class PrepaidRequestOut(msgspec.Struct):
    id: int
    listing_id: int
    buyer_id: int
    mode: Mode
    category: str
    service_type: str
    service_label: str
    title: str
    details: dict[str, Any]
    price: Money
    timeframe_hours: int
    #: awaiting_payment | open | in_progress (locked, or an accepted offer paid) |
    #: delivered | reported | completed | refunded | cancelled | expired
    status: str
    order_id: int | None
    seller_id: int | None
    created_at: datetime
    #: when an open classic request expires
    expires_at: datetime | None = None
    #: prepaid: the delivery deadline while locked
    deadline: datetime | None = None
    #: classic: offers received that the buyer can see (pending ones)
    offers: int = 0
    #: the payment started with the request (``method`` given), as the payments API shows it
    payment: Any = None


class PrepaidRequestPage(msgspec.Struct):
    items: list[PrepaidRequestOut]
    next_cursor: str | None = None


class MakeOffer(msgspec.Struct, forbid_unknown_fields=True):
    price: Money
    timeframe_hours: Hours
    message: Annotated[str, msgspec.Meta(max_length=20_000)] = ""


class PrepaidOfferOut(msgspec.Struct):
    id: int
    request_id: int
    seller_id: int
    price: Money
    timeframe_hours: int
    message: str
    #: pending | flagged | accepted | declined | withdrawn | rejected
    status: str
    created_at: datetime
    decided_at: datetime | None = None
    screening_flags: list[dict[str, str]] = []


class PrepaidOfferPage(msgspec.Struct):
    items: list[PrepaidOfferOut]
    next_cursor: str | None = None


class AcceptOffer(msgspec.Struct, forbid_unknown_fields=True):
    #: how to pay at once; omit it to pay later with ``POST /orders/{order_id}/payments``
    method: Method | None = None


class ReleaseLock(msgspec.Struct, forbid_unknown_fields=True):
    #: why the seller cannot fulfil it (kept in their history)
    reason: Annotated[str, msgspec.Meta(max_length=1000)] = ""


class DeliverRequest(msgspec.Struct, forbid_unknown_fields=True):
    #: what was done
    message: Annotated[str, msgspec.Meta(max_length=10_000)] = ""
    #: evidence: ids of files uploaded with scope ``order:<id>``
    attachments: Annotated[list[int], msgspec.Meta(max_length=20)] = []


class ReleaseOut(msgspec.Struct):
    request_id: int
    order_id: int
    seller_id: int
    #: who ended the lock: "seller" (gave it up) or "buyer" (timeframe passed)
    by: str
    reason: str
    locked_at: datetime | None
    at: datetime


class ReleasePage(msgspec.Struct):
    items: list[ReleaseOut]
    next_cursor: str | None = None


class ServiceTypeOut(msgspec.Struct):
    name: str
    label: str
    fields: list[DetailFieldOut]


class ServiceTypesOut(msgspec.Struct):
    category: str
    items: list[ServiceTypeOut]
