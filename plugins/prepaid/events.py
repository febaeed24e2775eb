"""The prepaid plugin's events: requests posted, opened to sellers, locked, released and
ended; offers made, accepted, declined and withdrawn.

Registered through the plugin's ``agorakit_event_types``; ``subject`` (``request:ID``)
and ``actor_id`` travel on the envelope.
"""

from __future__ import annotations

from agorakit.events import Event


class RequestPosted(Event, frozen=True, kw_only=True):
    """A buyer posted a request (a prepaid one waits for its payment)."""

    name = "prepaid.request_posted"
    request_id: int
    buyer_id: int
    mode: str
    category: str
    service_type: str


class RequestOpened(Event, frozen=True, kw_only=True):
    """A request entered the feed of the sellers with access to its category: a prepaid
    request whose payment settled, or returned to the pool; a classic request when posted.
    The sellers who asked to be told are notified."""

    name = "prepaid.request_opened"
    fan_out = True
    request_id: int
    buyer_id: int
    mode: str
    category_id: int
    category: str
    service_type: str
    #: minor units
    price: int
    currency: str
    #: the request was in the feed before (a lock ended without a delivery)
    returned: bool = False


class RequestLocked(Event, frozen=True, kw_only=True):
    """A seller locked a prepaid request: it left the feed and the timeframe started."""

    name = "prepaid.request_locked"
    request_id: int
    order_id: int
    buyer_id: int
    seller_id: int


class RequestReleased(Event, frozen=True, kw_only=True):
    """A lock ended without a delivery: the seller gave it up (``by="seller"``) or the
    buyer sent it back to the pool after the timeframe (``by="buyer"``)."""

    name = "prepaid.request_released"
    request_id: int
    order_id: int
    buyer_id: int
    seller_id: int
    by: str


class RequestClosed(Event, frozen=True, kw_only=True):
    """A request left the market without a sale: cancelled by its buyer, expired without
    an accepted offer, or its payment never came."""

    name = "prepaid.request_closed"
    request_id: int
    buyer_id: int
    #: cancelled | expired
    status: str
    #: an operator withdrew it (``reason`` says why, and a paid request was refunded)
    by_operator: bool = False
    reason: str = ""


class OfferMade(Event, frozen=True, kw_only=True):
    """A seller sent an offer on a classic request (a flagged one waits for an operator)."""

    name = "prepaid.offer_made"
    offer_id: int
    request_id: int
    buyer_id: int
    seller_id: int
    flagged: bool = False


class OfferAccepted(Event, frozen=True, kw_only=True):
    """The buyer accepted an offer: its order waits for the payment."""

    name = "prepaid.offer_accepted"
    offer_id: int
    request_id: int
    order_id: int
    buyer_id: int
    seller_id: int


class OfferDeclined(Event, frozen=True, kw_only=True):
    """An offer lost: the buyer accepted another, the request closed, or an operator
    rejected a flagged offer (``reason``)."""

    name = "prepaid.offer_declined"
    offer_id: int
    request_id: int
    seller_id: int
    reason: str = ""


class OfferWithdrawn(Event, frozen=True, kw_only=True):
    """A seller withdrew an offer before it was accepted."""

    name = "prepaid.offer_withdrawn"
    offer_id: int
    request_id: int
    buyer_id: int
    seller_id: int
    #: the screening held it: the buyer never saw it
    flagged: bool = False


EVENTS: list[type[Event]] = [
    RequestPosted,
    RequestOpened,
    RequestLocked,
    RequestReleased,
    RequestClosed,
    OfferMade,
    OfferAccepted,
    OfferDeclined,
    OfferWithdrawn,
]
