"""The review events.

Each class is one domain event of this area (``docs/events.md``); ``subject`` and
``actor_id`` travel on the envelope (:class:`agorakit.events.DomainEvent`).
"""

from __future__ import annotations

from agorakit.events import Event


class ReviewPosted(Event, frozen=True, kw_only=True):
    """A party reviewed the other after an order."""

    name = "review.posted"
    review_id: int
    order_id: int
    subject_member_id: int
    author_role: str
    rating: int
    listing_id: int | None = None


class ReviewHidden(Event, frozen=True, kw_only=True):
    """An operator hid a review, with a reason."""

    name = "review.hidden"
    review_id: int
    order_id: int
    subject_member_id: int
    author_id: int
    reason: str


class ReviewUnhidden(Event, frozen=True, kw_only=True):
    """An operator showed a hidden review again."""

    name = "review.unhidden"
    review_id: int
    order_id: int
    subject_member_id: int
    author_id: int


#: this area's events, registered through ``agorakit_event_types``
EVENTS: list[type[Event]] = [ReviewPosted, ReviewHidden, ReviewUnhidden]
