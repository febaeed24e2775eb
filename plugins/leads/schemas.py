"""Bodies of the leads API.

Struct names carry the plugin's prefix (``Lead...``) where a name could collide with
another area's in the OpenAPI document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from agorakit.catalog import DetailFieldOut
from agorakit.money import Money

Slug = Annotated[str, msgspec.Meta(min_length=1, max_length=60, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")]
Country = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{2}$", examples=["US"])]
PostalCode = Annotated[str, msgspec.Meta(min_length=1, max_length=12, examples=["94110"])]
City = Annotated[str, msgspec.Meta(min_length=1, max_length=80, examples=["San Francisco"])]
Method = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
Body = Annotated[str, msgspec.Meta(min_length=1, max_length=10_000)]
LeadStatus = Literal["pending_review", "open", "rejected", "closed", "expired"]
UnlockStatus = Literal["contacted", "awaiting_payment", "charged", "cancelled"]


class LeadLocation(msgspec.Struct, forbid_unknown_fields=True):
    """Where the job is: a country and a postal code, or a country and a city."""

    country: Country
    postal_code: PostalCode | None = None
    city: City | None = None


class LeadAttributes(msgspec.Struct, forbid_unknown_fields=True):
    """The ``attributes`` of a ``lead`` listing (written by the plugin, not by clients)."""

    country: str
    postal_code: str = ""
    city: str = ""
    details: dict[str, Any] = {}


class CreateLead(msgspec.Struct, forbid_unknown_fields=True):
    #: slug of the category, e.g. "home-cleaning"
    category: Slug
    #: where the service is needed
    location: LeadLocation
    #: the category's form (``GET /leads/forms/{category}``), e.g. {"rooms": 3, "when": "Within a week"}
    details: dict[str, Any]
    #: the job in the customer's own words (at least 20 characters)
    text: Annotated[str, msgspec.Meta(max_length=50_000)]
    #: a title for businesses (default: the category's name and the place)
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=120)] | None = None


class UpdateLead(msgspec.Struct, forbid_unknown_fields=True):
    """What to change; a field left out keeps its value."""

    location: LeadLocation | None = None
    details: dict[str, Any] | None = None
    text: Annotated[str, msgspec.Meta(max_length=50_000)] | None = None
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=120)] | None = None


class CloseLead(msgspec.Struct, forbid_unknown_fields=True):
    #: why (optional; e.g. "hired someone")
    reason: Annotated[str, msgspec.Meta(max_length=500)] = ""


class LeadFormOut(msgspec.Struct):
    """What posting a job in a category asks for, and what a business pays for it."""

    category: str
    fields: list[DetailFieldOut]
    lead_price: Money


class LeadOut(msgspec.Struct):
    id: int
    listing_id: int
    #: the customer (hidden from a business until one of them contacts the other)
    customer_id: int | None
    category: str
    title: str
    location: LeadLocation
    details: dict[str, Any]
    text: str
    #: pending_review | open | rejected | closed | expired
    status: LeadStatus
    #: what a business pays to unlock it
    price: Money
    #: places taken and places it has (``max_unlocks``)
    unlocks: int
    max_unlocks: int
    created_at: datetime
    opened_at: datetime | None = None
    expires_at: datetime | None = None
    closed_at: datetime | None = None
    #: why it was rejected (shown to the customer) or closed
    reason: str | None = None
    #: a business's own unlock of it, if any
    unlock: LeadUnlockOut | None = None


class LeadPage(msgspec.Struct):
    items: list[LeadOut]
    next_cursor: str | None = None


class ServiceArea(msgspec.Struct, forbid_unknown_fields=True):
    """A country, narrowed to a postal-code prefix or a city (neither: the whole country)."""

    country: Country
    postal_prefix: Annotated[str, msgspec.Meta(min_length=1, max_length=12)] | None = None
    city: City | None = None


class SaveProfile(msgspec.Struct, forbid_unknown_fields=True):
    #: the categories served (slugs; the categories below each count too)
    categories: list[Slug]
    #: where the business works
    areas: list[ServiceArea]
    headline: Annotated[str, msgspec.Meta(max_length=120)] = ""
    description: Annotated[str, msgspec.Meta(max_length=5000)] = ""
    #: inactive: no leads in the feed, no notices
    active: bool = True
    #: be told of new matching leads
    notify: bool = True


class LeadPrice(msgspec.Struct):
    category: str
    price: Money


class ProfileOut(msgspec.Struct):
    member_id: int
    display_name: str
    headline: str
    description: str
    categories: list[str]
    areas: list[ServiceArea]
    active: bool
    notify: bool
    #: the lead price of each category served
    prices: list[LeadPrice]
    updated_at: datetime


class MatchingBusiness(msgspec.Struct):
    """A business a customer may contact first about their job."""

    member_id: int
    display_name: str
    headline: str
    #: whether the business already unlocked or was contacted on this job
    in_contact: bool


class MatchingBusinessPage(msgspec.Struct):
    items: list[MatchingBusiness]
    next_cursor: str | None = None


class ContactBusiness(msgspec.Struct, forbid_unknown_fields=True):
    #: the business (from ``GET /leads/{id}/businesses``)
    business_id: Annotated[int, msgspec.Meta(ge=1)]
    #: the first message
    body: Body


class UnlockLead(msgspec.Struct, forbid_unknown_fields=True):
    #: how to pay: "balance" (credit first, then available; the default) or an enabled
    #: payment method
    method: Method = "balance"


class LeadUnlockOut(msgspec.Struct):
    id: int
    lead_id: int
    business_id: int
    customer_id: int
    #: business (it unlocked) | customer (the customer wrote first)
    origin: str
    #: contacted (the customer wrote; charged when the business replies) |
    #: awaiting_payment | charged | cancelled
    status: UnlockStatus
    price: Money
    order_id: int | None
    conversation_id: int | None
    created_at: datetime
    charged_at: datetime | None = None
    #: until when a report may be made (``report_days`` after the charge)
    report_until: datetime | None = None
    #: the payment an outside method started, as the payments API shows it
    payment: Any = None


class LeadUnlockPage(msgspec.Struct):
    items: list[LeadUnlockOut]
    next_cursor: str | None = None


class ReportLead(msgspec.Struct, forbid_unknown_fields=True):
    #: job_changed | tos_violation | other
    reason: Literal["job_changed", "tos_violation", "other"]
    #: what happened (required for "other"; at least 10 characters when given)
    text: Annotated[str, msgspec.Meta(max_length=5000)] = ""
