"""The catalog events: categories, qualifications and listings through moderation.

Each class is one domain event of this area (``docs/events.md``); ``subject`` and
``actor_id`` travel on the envelope (:class:`agorakit.events.DomainEvent`).
"""

from __future__ import annotations

from agorakit.events import Event


class CategoryCreated(Event, frozen=True, kw_only=True):
    """An operator created a category."""

    name = "category.created"
    category_id: int
    slug: str


class CategoryUpdated(Event, frozen=True, kw_only=True):
    """An operator changed a category."""

    name = "category.updated"
    category_id: int


class QualificationApplied(Event, frozen=True, kw_only=True):
    """A member applied to be qualified for a category."""

    name = "qualification.applied"
    qualification_id: int
    member_id: int
    category: str


class QualificationApproved(Event, frozen=True, kw_only=True):
    """An operator approved a member's application."""

    name = "qualification.approved"
    qualification_id: int
    member_id: int
    category_id: int


class QualificationRejected(Event, frozen=True, kw_only=True):
    """An operator rejected a member's application, with a reason."""

    name = "qualification.rejected"
    qualification_id: int
    member_id: int
    category_id: int
    reason: str


class QualificationRevoked(Event, frozen=True, kw_only=True):
    """An operator revoked a member's approved access to a category, with a reason."""

    name = "qualification.revoked"
    qualification_id: int
    member_id: int
    category_id: int
    reason: str


class ListingEvent(Event, frozen=True, kw_only=True):
    """Base of the events about one listing (``subject`` is ``listing:<listing_id>``): a
    handler that follows every listing change tests ``isinstance(event.payload,
    ListingEvent)``."""

    listing_id: int


class ListingCreated(ListingEvent, frozen=True, kw_only=True):
    """A member created a listing (a draft)."""

    name = "listing.created"
    kind: str


class ListingUpdated(ListingEvent, frozen=True, kw_only=True):
    """The owner changed a listing."""

    name = "listing.updated"


class ListingSubmitted(ListingEvent, frozen=True, kw_only=True):
    """A listing went to moderation."""

    name = "listing.submitted"
    kind: str


class ListingPublished(ListingEvent, frozen=True, kw_only=True):
    """A listing was published without moderation."""

    name = "listing.published"
    kind: str


class ListingApproved(ListingEvent, frozen=True, kw_only=True):
    """An operator approved a listing: it is published."""

    name = "listing.approved"
    owner_id: int


class ListingRejected(ListingEvent, frozen=True, kw_only=True):
    """An operator rejected a listing, with a reason."""

    name = "listing.rejected"
    owner_id: int
    reason: str


class ListingPaused(ListingEvent, frozen=True, kw_only=True):
    """The owner or an operator paused a listing (``actor_id`` says who)."""

    name = "listing.paused"
    #: the listing's owner (None in events recorded before it was kept)
    owner_id: int | None = None
    #: an operator's reason, told to the owner (None when the owner acted)
    reason: str | None = None


class ListingResumed(ListingEvent, frozen=True, kw_only=True):
    """The owner or an operator resumed a paused listing (``actor_id`` says who)."""

    name = "listing.resumed"
    #: the listing's owner (None in events recorded before it was kept)
    owner_id: int | None = None
    #: an operator's reason, told to the owner (None when the owner acted)
    reason: str | None = None


class ListingClosed(ListingEvent, frozen=True, kw_only=True):
    """The owner or an operator closed a listing for good (``actor_id`` says who)."""

    name = "listing.closed"
    #: the listing's owner (None in events recorded before it was kept)
    owner_id: int | None = None
    #: an operator's reason, told to the owner (None when the owner acted)
    reason: str | None = None


#: this area's events, registered through ``agorakit_event_types``
EVENTS: list[type[Event]] = [
    CategoryCreated,
    CategoryUpdated,
    QualificationApplied,
    QualificationApproved,
    QualificationRejected,
    QualificationRevoked,
    ListingCreated,
    ListingUpdated,
    ListingSubmitted,
    ListingPublished,
    ListingApproved,
    ListingRejected,
    ListingPaused,
    ListingResumed,
    ListingClosed,
]
