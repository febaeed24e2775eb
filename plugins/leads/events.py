"""The leads plugin's events: jobs posted, opened to businesses, rejected, closed and
expired; businesses contacted, charged and unlocks dropped.

Registered through the plugin's ``agorakit_event_types``; ``subject`` (``lead:ID``) and
``actor_id`` travel on the envelope.  A report on a lead is a core dispute on the
unlock's order (``dispute.opened`` / ``dispute.resolved``).
"""

from __future__ import annotations

from agorakit.events import Event


class LeadPosted(Event, frozen=True, kw_only=True):
    """A customer posted a job (it waits for review, or opens at once)."""

    name = "leads.lead_posted"
    lead_id: int
    customer_id: int
    category: str
    country: str


class LeadOpened(Event, frozen=True, kw_only=True):
    """A job passed its checks and reached the matching businesses (who are notified)."""

    name = "leads.lead_opened"
    fan_out = True
    lead_id: int
    customer_id: int
    category_id: int
    category: str
    title: str
    country: str
    postal_code: str
    city: str
    #: what a business pays to unlock it, minor units
    price: int
    currency: str


class LeadRejected(Event, frozen=True, kw_only=True):
    """An operator rejected a job; the customer is told why."""

    name = "leads.lead_rejected"
    lead_id: int
    customer_id: int
    reason: str


class LeadClosed(Event, frozen=True, kw_only=True):
    """A job ended: closed by its customer or an operator, or expired."""

    name = "leads.lead_closed"
    lead_id: int
    customer_id: int
    #: closed | expired
    status: str
    reason: str = ""
    #: the businesses in contact with it (told it closed)
    business_ids: list[int] = []


class BusinessContacted(Event, frozen=True, kw_only=True):
    """A customer wrote first to a business about a job; the business is charged when it replies."""

    name = "leads.business_contacted"
    lead_id: int
    unlock_id: int
    customer_id: int
    business_id: int
    conversation_id: int


class LeadUnlocked(Event, frozen=True, kw_only=True):
    """A business was charged for a lead and may talk to the customer."""

    name = "leads.lead_unlocked"
    lead_id: int
    unlock_id: int
    customer_id: int
    business_id: int
    order_id: int
    conversation_id: int
    #: business (it unlocked) | customer (it replied to the customer)
    origin: str
    #: minor units
    price: int
    currency: str
    #: the payment that paid the charge (its method; from the balance, how much came from credit)
    payment_id: int | None = None


class UnlockCancelled(Event, frozen=True, kw_only=True):
    """An unlock waiting for its payment was dropped or expired; its place is free again."""

    name = "leads.unlock_cancelled"
    lead_id: int
    unlock_id: int
    business_id: int
    order_id: int


EVENTS: list[type[Event]] = [
    LeadPosted,
    LeadOpened,
    LeadRejected,
    LeadClosed,
    BusinessContacted,
    LeadUnlocked,
    UnlockCancelled,
]
