"""Who the core tells about its own events (the core's ``agorakit_notify``).

Each function takes a committed event and returns notices; facts that the event's data
does not carry (an order's parties, a listing's title) are read from
the database.  The rules that keep members from being told the same thing twice:

- nobody is told about what they did themselves (``event.actor_id``), except receipts
  of account changes (welcome, password changed);
- the payer hears of a payment (``payment.completed``) only when someone else settled it
  (an operator confirming a bank transfer).

The orders area tells about its own events (``agorakit.orders.notices``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from agorakit.events import DomainEvent
from agorakit.notifications import Notice


def _subject_id(event: DomainEvent) -> int | None:
    _, _, value = event.subject.partition(":")
    return int(value) if value.isdigit() else None


# --------------------------------------------------------------------------------------
# Listings and qualifications
# --------------------------------------------------------------------------------------


async def listing_moderated(event: DomainEvent, runtime: Any) -> list[Notice]:
    from agorakit.catalog.tables import Listing

    listing_id = _subject_id(event)
    owner_id = event.data.get("owner_id")
    if listing_id is None or owner_id is None:
        return []
    row = await Listing.select(Listing.title).where(Listing.id == listing_id).first()
    approved = event.name == "listing.approved"
    return [
        Notice(
            member_id=owner_id,
            category="listings",
            template="listing_approved" if approved else "listing_rejected",
            context={
                "listing_id": listing_id,
                "title": row["title"] if row else f"#{listing_id}",
                "reason": event.data.get("reason") or "",
            },
            link=f"/listings/{listing_id}",
        )
    ]


async def qualification_decided(event: DomainEvent, runtime: Any) -> list[Notice]:
    from agorakit.catalog.tables import Category

    member_id = event.data.get("member_id")
    if member_id is None:
        return []
    row = await Category.select(Category.name).where(Category.id == event.data.get("category_id")).first()
    return [
        Notice(
            member_id=member_id,
            category="listings",
            template="qualification_decided",
            context={
                "approved": event.name == "qualification.approved",
                "category_name": row["name"] if row else "the category",
                "reason": event.data.get("reason") or "",
            },
            link="/me/qualifications",
        )
    ]


# --------------------------------------------------------------------------------------


#: event name → the function that says who to tell
CORE_NOTICES: dict[str, Callable[[DomainEvent, Any], Awaitable[list[Notice]]]] = {
    "listing.approved": listing_moderated,
    "listing.rejected": listing_moderated,
    "qualification.approved": qualification_decided,
    "qualification.rejected": qualification_decided,
}


async def core_notices(event: DomainEvent, runtime: Any) -> list[Notice]:
    """The core's notices for one event (none for events it does not describe)."""
    function = CORE_NOTICES.get(event.name)
    return await function(event, runtime) if function else []
