"""Request and response bodies of the catalog API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from agorakit.attachments import AttachmentOut
from agorakit.money import Money, parse_amount

Slug = Annotated[str, Meta(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=60, examples=["logo-design"])]
CategoryName = Annotated[str, Meta(min_length=1, max_length=80, examples=["Logo design"])]
Reason = Annotated[str, Meta(min_length=1, max_length=1000)]
ListingStatus = Literal["draft", "pending_review", "published", "rejected", "paused", "closed"]
QualificationStatus = Literal["pending", "approved", "rejected", "revoked"]
Sort = Literal["newest", "price_asc", "price_desc", "rating", "relevance"]
#: most files a qualification application may refer to
MAX_QUALIFICATION_ATTACHMENTS = 10
AttachmentId = Annotated[int, Meta(ge=1, le=2_147_483_647)]


# --------------------------------------------------------------------------------------
# Categories and qualifications
# --------------------------------------------------------------------------------------


class CreateCategory(msgspec.Struct, forbid_unknown_fields=True):
    slug: Slug
    name: CategoryName
    #: slug of the parent category; null for a top-level one
    parent: Slug | None = None
    position: Annotated[int, Meta(ge=0, le=1_000_000)] = 0


class UpdateCategory(msgspec.Struct, forbid_unknown_fields=True):
    """Fields to change; a field left out keeps its value (``parent: null`` moves it to the top)."""

    slug: Slug | UnsetType = UNSET
    name: CategoryName | UnsetType = UNSET
    parent: Slug | UnsetType | None = UNSET
    position: Annotated[int, Meta(ge=0, le=1_000_000)] | UnsetType = UNSET


class CategoryOut(msgspec.Struct):
    id: int
    slug: str
    name: str
    parent: str | None
    position: int


class CategoryNode(msgspec.Struct):
    slug: str
    name: str
    position: int
    children: list[CategoryNode]


class ApplyQualification(msgspec.Struct, forbid_unknown_fields=True):
    #: slug of the category
    category: Slug
    note: Annotated[str, Meta(max_length=2000)] = ""
    #: ids of your own files (uploaded with scope ``member:<your id>``), at most 10
    attachments: Annotated[list[AttachmentId], Meta(max_length=MAX_QUALIFICATION_ATTACHMENTS)] = []


class UpdateMyQualification(msgspec.Struct, forbid_unknown_fields=True):
    """Fields to change; a field left out keeps its value."""

    #: whether you are told of new work in the category (and the categories below it)
    notify: bool | UnsetType = UNSET


class RejectBody(msgspec.Struct, forbid_unknown_fields=True):
    """Why an operator rejects a listing or an application, or revokes a qualification."""

    #: shown to the member
    reason: Reason


class OperatorMoveBody(msgspec.Struct, forbid_unknown_fields=True):
    """Why an operator pauses, resumes or closes a listing."""

    #: told to the listing's owner
    reason: Reason


class QualificationOut(msgspec.Struct):
    id: int
    member_id: int
    category: str
    note: str
    #: the applicant's files (shown to the applicant and operators)
    attachments: list[AttachmentOut]
    status: QualificationStatus
    #: why an operator rejected the application or revoked the access
    reason: str | None
    #: whether the member is told of new work in the category (they change it when approved)
    notify: bool
    created_at: datetime
    decided_at: datetime | None
    revoked_at: datetime | None


class QualificationPage(msgspec.Struct):
    items: list[QualificationOut]
    next_cursor: str | None


# --------------------------------------------------------------------------------------
# Listings
# --------------------------------------------------------------------------------------


class CreateListing(msgspec.Struct, forbid_unknown_fields=True):
    kind: Annotated[str, Meta(max_length=40, examples=["gig"])]
    title: Annotated[str, Meta(max_length=1000)]
    description: Annotated[str, Meta(max_length=100_000)]
    price: Money
    #: slug of the category
    category: Slug
    #: the kind's attributes (see the kind's documentation)
    attributes: dict[str, Any] = {}


class UpdateListing(msgspec.Struct, forbid_unknown_fields=True):
    """Fields to change; a field left out keeps its value."""

    title: Annotated[str, Meta(max_length=1000)] | UnsetType = UNSET
    description: Annotated[str, Meta(max_length=100_000)] | UnsetType = UNSET
    price: Money | UnsetType = UNSET
    category: Slug | UnsetType = UNSET
    #: replaces all attributes
    attributes: dict[str, Any] | UnsetType = UNSET


class ListingDraft(msgspec.Struct, kw_only=True):
    """A listing as it would be stored: what ``agorakit_validate_listing`` checks."""

    #: None while the listing is being created
    id: int | None
    owner_id: int
    kind: str
    title: str
    description: str
    #: minor units of ``currency``
    price: int
    currency: str
    #: category slug
    category: str
    #: the kind's attributes Struct, already validated
    attributes: Any


class RatingSummary(msgspec.Struct):
    #: average of the visible ratings (1-5), rounded half up to 2 decimals ("4.50"); null without ratings
    average: str | None
    count: int


class SellerOut(msgspec.Struct):
    id: int
    display_name: str
    country: str
    rating: RatingSummary


class ListingOut(msgspec.Struct, kw_only=True):
    id: int
    kind: str
    status: ListingStatus
    title: str
    description: str
    price: Money
    category: str
    attributes: dict[str, Any]
    seller: SellerOut
    #: the listing's own rating: what buyers of this listing wrote (``GET /listings/{id}/reviews``)
    rating: RatingSummary
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    published_at: datetime | None
    #: why a moderator rejected it (shown to the owner)
    rejection_reason: str | None = None

    @property
    def owner_id(self) -> int:
        return self.seller.id

    @property
    def price_minor(self) -> int:

        return parse_amount(self.price.amount, self.price.currency, allow_zero=True)


class ListingPage(msgspec.Struct):
    items: list[ListingOut]
    next_cursor: str | None


class ScreenFlagOut(msgspec.Struct):
    #: the field the text came from: for a listing "title", "description" or
    #: "attributes.<name>" (the kind's screened attributes)
    field: str
    reason: str
    match: str


class PendingListing(msgspec.Struct):
    listing: ListingOut
    #: working hours (Monday-Friday, UTC) since it was submitted
    age_working_hours: float
    #: older than ``[listings] review_target_hours``
    overdue: bool
    screening_flags: list[ScreenFlagOut]


class PendingListingPage(msgspec.Struct):
    items: list[PendingListing]
    next_cursor: str | None
    #: the review target in working hours
    review_target_hours: int


class Eligibility(msgspec.Struct):
    eligible: bool
    reasons: list[str]
