"""Who the catalog tells about its own events (its ``agorakit_notify``): a listing's
owner when an operator approved, rejected, paused, resumed or closed it, a member when an
operator decided their qualification application or revoked their access."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit.accounts import get_members, is_operator
from agorakit.catalog.events import (
    ListingApproved,
    ListingClosed,
    ListingPaused,
    ListingRejected,
    ListingResumed,
    QualificationApproved,
    QualificationRejected,
    QualificationRevoked,
)
from agorakit.catalog.tables import Category, Listing
from agorakit.db.prepared import Prepared
from agorakit.events import DomainEvent
from agorakit.notifications import Notice

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

_TITLE = Prepared(lambda id: Listing.select(Listing.title).where(Listing.id == id).first())
_CATEGORY_NAME = Prepared(lambda id: Category.select(Category.name).where(Category.id == id).first())


async def listing_moderated(event: DomainEvent) -> list[Notice]:
    payload = event.payload
    assert isinstance(payload, ListingApproved | ListingRejected)
    listing_id = payload.listing_id
    row = await _TITLE.run(listing_id)
    approved = isinstance(payload, ListingApproved)
    return [
        Notice(
            member_id=payload.owner_id,
            category="listings",
            template="listing_approved" if approved else "listing_rejected",
            context={
                "listing_id": listing_id,
                "title": row["title"] if row else f"#{listing_id}",
                "reason": "" if approved else payload.reason,
            },
            link=f"/listings/{listing_id}",
        )
    ]


_PAST = {ListingPaused: "paused", ListingResumed: "resumed", ListingClosed: "closed"}


async def listing_moved(event: DomainEvent) -> list[Notice]:
    """The owner, when an operator (not they) paused, resumed or closed their listing.

    Any other move (the site's own, without an actor, or a member's through a plugin's
    ``move_listing_in``, such as a seller taking a request) is the plugin's to tell about."""
    payload = event.payload
    assert isinstance(payload, ListingPaused | ListingResumed | ListingClosed)
    if payload.owner_id is None or event.actor_id is None or event.actor_id == payload.owner_id:
        return []
    actor = (await get_members([event.actor_id])).get(event.actor_id)
    if actor is None or not is_operator(actor):
        return []
    row = await _TITLE.run(payload.listing_id)
    return [
        Notice(
            member_id=payload.owner_id,
            category="listings",
            template="listing_moved",
            context={
                "listing_id": payload.listing_id,
                "title": row["title"] if row else f"#{payload.listing_id}",
                "action": _PAST[type(payload)],
                "reason": payload.reason or "",
            },
            link=f"/listings/{payload.listing_id}",
        )
    ]


async def qualification_decided(event: DomainEvent) -> list[Notice]:
    payload = event.payload
    assert isinstance(payload, QualificationApproved | QualificationRejected)
    row = await _CATEGORY_NAME.run(payload.category_id)
    approved = isinstance(payload, QualificationApproved)
    return [
        Notice(
            member_id=payload.member_id,
            category="listings",
            template="qualification_decided",
            context={
                "approved": approved,
                "category_name": row["name"] if row else "the category",
                "reason": "" if approved else payload.reason,
            },
            link="/me/qualifications",
        )
    ]


async def qualification_revoked(event: DomainEvent) -> list[Notice]:
    payload = event.payload
    assert isinstance(payload, QualificationRevoked)
    row = await _CATEGORY_NAME.run(payload.category_id)
    return [
        Notice(
            member_id=payload.member_id,
            category="listings",
            template="qualification_revoked",
            context={"category_name": row["name"] if row else "the category", "reason": payload.reason},
            link="/me/qualifications",
        )
    ]


async def catalog_notices(event: DomainEvent, runtime: Runtime) -> list[Notice] | None:
    """The catalog's notices for one event (None for the events it does not describe)."""
    if isinstance(event.payload, ListingApproved | ListingRejected):
        return await listing_moderated(event)
    if isinstance(event.payload, ListingPaused | ListingResumed | ListingClosed):
        return await listing_moved(event)
    if isinstance(event.payload, QualificationApproved | QualificationRejected):
        return await qualification_decided(event)
    if isinstance(event.payload, QualificationRevoked):
        return await qualification_revoked(event)
    return None
