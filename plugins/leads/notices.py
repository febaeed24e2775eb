"""Who the leads plugin tells about what (``agorakit_notify``), site and email.

The core tells a listing's owner of moderation decisions and an order's parties of its
moves in general terms; for a job's listing and an unlock's order this plugin returns its
own notice to the same member on the same event, which replaces the core's, so nobody is
told twice, and nobody is told of what they did themselves (a receipt aside):

==========================================  ===============================  ==============================
event                                       who                              template
==========================================  ===============================  ==============================
``leads.lead_opened``                       every business whose profile     leads_lead_opened
                                            matches the job and who asked
                                            to be told (``notify``)
``listing.approved`` of a job               the customer                     leads_lead_approved
``listing.rejected`` of a job               the customer (the reason)        leads_lead_rejected
``leads.lead_unlocked``                     the business (a receipt: the     leads_lead_unlocked
                                            price, what paid it, the report
                                            window)
``leads.lead_unlocked`` (the business       the customer (the business's     leads_business_interested
unlocked it)                                name)
``leads.business_contacted``                the business (reply to accept,   leads_business_contacted
                                            and the price it then pays)
``leads.lead_closed``                       the businesses in contact        leads_lead_closed
                                            (but the one who closed it)
``leads.lead_closed`` ``expired``           the customer                     leads_lead_expired
``order.transitioned`` ``expire`` of an     the business (its place on the   leads_unlock_cancelled
unlock                                      job is gone)
==========================================  ===============================  ==============================

A job's rejection (``leads.lead_rejected``) is told on the catalog's ``listing.rejected``
of the same transaction, and an unlock that nobody paid in time (``leads.unlock_cancelled``)
on its order's ``expire``: the events the core would otherwise tell about in general terms.
A business dropping its own unpaid unlock is not told; a customer whose contacted
business replies hears of the reply itself (a message).  Reports are core disputes and
keep the core's notices.  ``leads.lead_opened`` may name hundreds of businesses: the core
stores them set-wise, after the job's commit; a job closed by then is told to nobody.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from agorakit.catalog import ListingApproved, ListingRejected, category_names
from agorakit.errors import NotFound
from agorakit.events import DomainEvent
from agorakit.money import format_amount, get_payment
from agorakit.notifications import Notice, display_name
from agorakit.orders import OrderTransitioned
from agorakit.plugins.leads.events import BusinessContacted, LeadClosed, LeadOpened, LeadUnlocked
from agorakit.plugins.leads.process import PROCESS
from agorakit.plugins.leads.profiles import matching_businesses, settings_of
from agorakit.plugins.leads.tables import Lead, Unlock

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime


def _money(amount: int, currency: str) -> str:
    return f"{format_amount(amount, currency)} {currency}"


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _place(country: str, postal_code: str, city: str) -> str:
    return f"{city.title() if city else postal_code}, {country}"


def _link(lead_id: int) -> str:
    return f"/leads/{lead_id}"


async def _lead(lead_id: int) -> dict[str, Any] | None:
    return await Lead.select().where(Lead.id == lead_id).first()


async def _category_name(lead: dict[str, Any]) -> str:
    return (await category_names()).get(lead["category_id"]) or lead["category"]


async def lead_opened(event: DomainEvent, runtime: Runtime) -> list[Notice]:
    """A job reached the businesses: those it matches who want to hear of new jobs."""
    opened = event.payload
    assert isinstance(opened, LeadOpened)
    lead = await _lead(opened.lead_id)
    if lead is None or lead["status"] != "open":
        return []  # closed before its notices were made
    skip = {opened.customer_id, event.actor_id}
    businesses = [b for b in await matching_businesses(lead, notify_only=True) if b not in skip]
    if not businesses:
        return []
    context = {
        "lead_id": lead["id"],
        "title": lead["title"],
        "category_name": await _category_name(lead),
        "place": _place(lead["country"], lead["postal_code"], lead["city"]),
        "price": _money(lead["price"], lead["currency"]),
        "max_unlocks": lead["max_unlocks"],
    }
    return [
        Notice(
            member_id=business_id,
            category="listings",
            template="leads_lead_opened",
            context=context,
            link=_link(lead["id"]),
        )
        for business_id in businesses
    ]


async def lead_moderated(event: DomainEvent, runtime: Runtime) -> list[Notice] | None:
    """An operator approved or rejected a job's listing: its customer, in the words of a
    job (instead of the core's listing notice); None for other listings."""
    payload = event.payload
    assert isinstance(payload, ListingApproved | ListingRejected)
    lead = await Lead.select().where(Lead.listing_id == payload.listing_id).first()
    if lead is None:
        return None
    if lead["customer_id"] == event.actor_id:
        return []
    approved = isinstance(payload, ListingApproved)
    context = {
        "lead_id": lead["id"],
        "title": lead["title"],
        "category_name": await _category_name(lead),
        "place": _place(lead["country"], lead["postal_code"], lead["city"]),
        "lead_days": settings_of(runtime).lead_days,
        "reason": "" if approved else payload.reason,
    }
    return [
        Notice(
            member_id=lead["customer_id"],
            category="listings",
            template="leads_lead_approved" if approved else "leads_lead_rejected",
            context=context,
            link=_link(lead["id"]),
        )
    ]


async def _paid_with(payment_id: int | None) -> dict[str, Any]:
    """How a charge was paid: the method and, from the balance, the credit and available parts."""
    if payment_id is None:
        return {"method": "", "from_credit": "", "from_available": ""}
    try:
        payment = await get_payment(payment_id)
    except NotFound:
        return {"method": "", "from_credit": "", "from_available": ""}
    currency = payment.amount.currency
    details = payment.details
    parts = {
        key: _money(details[key], currency) if details.get(key) else ""
        for key in ("from_credit", "from_available")
    }
    return {"method": payment.method, **parts}


async def lead_unlocked(event: DomainEvent, runtime: Runtime) -> list[Notice]:
    """A business was charged for a lead: its receipt, and the customer when the business
    unlocked it (a business that replied to the customer is heard of by its message)."""
    unlocked = event.payload
    assert isinstance(unlocked, LeadUnlocked)
    lead = await _lead(unlocked.lead_id)
    if lead is None:
        return []
    days = settings_of(runtime).report_days
    conversation = f"/conversations/{unlocked.conversation_id}"
    base = {
        "lead_id": lead["id"],
        "title": lead["title"],
        "place": _place(lead["country"], lead["postal_code"], lead["city"]),
        "conversation_link": conversation,
    }
    receipt = {
        **base,
        **await _paid_with(unlocked.payment_id),
        "order_id": unlocked.order_id,
        "price": _money(unlocked.price, unlocked.currency),
        "origin": unlocked.origin,
        "customer_name": await display_name(unlocked.customer_id),
        "report_days": days,
        "report_until": _when(event.at + timedelta(days=days)),
    }
    notices = [
        Notice(
            member_id=unlocked.business_id,
            category="orders",
            template="leads_lead_unlocked",
            context=receipt,
            link=conversation,
        )
    ]
    if unlocked.origin == "business" and unlocked.customer_id != event.actor_id:
        notices.append(
            Notice(
                member_id=unlocked.customer_id,
                category="listings",
                template="leads_business_interested",
                context={**base, "business_name": await display_name(unlocked.business_id)},
                link=conversation,
            )
        )
    return notices


async def business_contacted(event: DomainEvent, runtime: Runtime) -> list[Notice]:
    """A customer wrote first to a business: it accepts by replying, and pays then."""
    contacted = event.payload
    assert isinstance(contacted, BusinessContacted)
    if contacted.business_id == event.actor_id:
        return []
    lead = await _lead(contacted.lead_id)
    unlock = (
        await Unlock.select(Unlock.price, Unlock.currency).where(Unlock.id == contacted.unlock_id).first()
    )
    if lead is None or unlock is None:
        return []
    context = {
        "lead_id": lead["id"],
        "title": lead["title"],
        "place": _place(lead["country"], lead["postal_code"], lead["city"]),
        "customer_name": await display_name(contacted.customer_id),
        "price": _money(unlock["price"], unlock["currency"]),
        "conversation_link": f"/conversations/{contacted.conversation_id}",
    }
    return [
        Notice(
            member_id=contacted.business_id,
            category="listings",
            template="leads_business_contacted",
            context=context,
            link=f"/conversations/{contacted.conversation_id}",
        )
    ]


async def lead_closed(event: DomainEvent, runtime: Runtime) -> list[Notice]:
    """A job ended: the businesses in contact (charged ones keep their conversation; the
    ones a customer wrote to first will not be charged), and its customer when it expired."""
    closed = event.payload
    assert isinstance(closed, LeadClosed)
    lead = await _lead(closed.lead_id)
    if lead is None:
        return []
    context = {
        "lead_id": lead["id"],
        "title": lead["title"],
        "place": _place(lead["country"], lead["postal_code"], lead["city"]),
        "status": closed.status,
        "reason": closed.reason,
    }
    notices: list[Notice] = []
    told = [b for b in closed.business_ids if b != event.actor_id]
    if told:
        rows = await Unlock.select(Unlock.business_id, Unlock.status, Unlock.conversation_id).where(
            (Unlock.lead_id == lead["id"]) & Unlock.business_id.is_in(told)
        )
        for row in rows:
            conversation = f"/conversations/{row['conversation_id']}" if row["conversation_id"] else None
            notices.append(
                Notice(
                    member_id=row["business_id"],
                    category="listings",
                    template="leads_lead_closed",
                    context={**context, "charged": row["status"] == "charged"},
                    link=conversation or _link(lead["id"]),
                )
            )
    if closed.status == "expired" and closed.customer_id != event.actor_id:
        notices.append(
            Notice(
                member_id=closed.customer_id,
                category="listings",
                template="leads_lead_expired",
                context={
                    **context,
                    "lead_days": settings_of(runtime).lead_days,
                    "businesses": len(closed.business_ids),
                },
                link=_link(lead["id"]),
            )
        )
    return notices


async def unlock_expired(event: DomainEvent, runtime: Runtime) -> list[Notice]:
    """Nobody paid an unlock in time: the business (instead of the core's order notice)."""
    moved = event.payload
    assert isinstance(moved, OrderTransitioned)
    unlock = await Unlock.select().where(Unlock.order_id == moved.order_id).first()
    if unlock is None or unlock["business_id"] == event.actor_id:
        return []
    lead = await _lead(unlock["lead_id"])
    if lead is None:
        return []
    context = {
        "lead_id": lead["id"],
        "title": lead["title"],
        "order_id": moved.order_id,
        "price": _money(unlock["price"], unlock["currency"]),
        "hours": settings_of(runtime).unpaid_expiry_hours,
        "open": lead["status"] == "open",
    }
    return [
        Notice(
            member_id=unlock["business_id"],
            category="orders",
            template="leads_unlock_cancelled",
            context=context,
            link=_link(lead["id"]),
        )
    ]


async def leads_notices(event: DomainEvent, runtime: Runtime) -> list[Notice] | None:
    """The plugin's notices for one event (None for events it does not describe).  Other
    plugins' and the core's events are told apart by their payload, without a read (a
    listing's moderation aside: one read tells a job's listing from others)."""
    payload = event.payload
    if isinstance(payload, OrderTransitioned):
        if payload.process == PROCESS and payload.transition == "expire":
            return await unlock_expired(event, runtime)
        return None
    if isinstance(payload, ListingApproved | ListingRejected):
        return await lead_moderated(event, runtime)
    if isinstance(payload, LeadOpened):
        return await lead_opened(event, runtime)
    if isinstance(payload, LeadUnlocked):
        return await lead_unlocked(event, runtime)
    if isinstance(payload, BusinessContacted):
        return await business_contacted(event, runtime)
    if isinstance(payload, LeadClosed):
        return await lead_closed(event, runtime)
    return None
