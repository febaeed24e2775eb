"""The dispute events.

Each class is one domain event of this area (``docs/events.md``); ``subject`` and
``actor_id`` travel on the envelope (:class:`agorakit.events.DomainEvent`).
"""

from __future__ import annotations

from agorakit.events import Event


class DisputeOpened(Event, frozen=True, kw_only=True):
    """A party opened a dispute on an order; its escrow is frozen."""

    name = "dispute.opened"
    dispute_id: int
    order_id: int
    reason: str
    opener_role: str
    buyer_id: int
    #: None while the order has no seller (an open request)
    seller_id: int | None


class DisputeResolved(Event, frozen=True, kw_only=True):
    """An operator resolved a dispute: amounts refunded and released, in minor units."""

    name = "dispute.resolved"
    dispute_id: int
    order_id: int
    outcome: str
    refunded: int
    released: int
    currency: str
    note: str
    buyer_id: int
    #: None while the order has no seller (an open request)
    seller_id: int | None


#: this area's events, registered through ``agorakit_event_types``
EVENTS: list[type[Event]] = [DisputeOpened, DisputeResolved]
