"""Who the microjobs plugin tells about what (``agorakit_notify``), site and email.

The core already notifies about orders, proofs, listings and payments in general terms
("Order #41: proof submitted"); for the events that are about a campaign or a task this
plugin returns its own notice to the same member, which replaces the core's (the core's
generic notice for a member yields to a plugin's notice on the same event), so nobody is
told twice:

========================================  ===============================  ==================
event                                      who                               template
========================================  ===============================  ==================
``proof.submitted`` of a task              the employer                      microjobs_proof_to_rate
``proof.accepted`` / ``.rejected`` /       the worker (with the reason and   microjobs_proof_rated
``.correction_requested`` of a task        feedback)
``order.transitioned`` ``auto_satisfy``    the worker and the employer       microjobs_auto_satisfied
``listing.approved`` of a campaign         the employer                      microjobs_campaign_approved
``listing.rejected`` of a campaign         the employer (reason, refund)     microjobs_campaign_rejected
``listing.closed`` of a campaign, by an    the employer (reason)             microjobs_campaign_stopped
operator
``microjobs.campaign_finished``            the employer                      microjobs_campaign_finished
``payment.completed`` into a campaign,     the employer                      microjobs_campaign_funded
settled by an operator (bank transfer)
``microjobs.group_member_added``           the worker                        microjobs_group_invitation
========================================  ===============================  ==================

A campaign stopped by its employer tells nobody (they did it); one stopped by an operator
is told once, on the listing's ``listing.closed`` (which carries the operator's reason),
not again on ``microjobs.campaign_stopped``.  A campaign paid from the employer's balance
tells nobody either.  Disputes of tasks are told by the core's dispute notices.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agorakit.catalog import ListingApproved, ListingClosed, ListingRejected, listing_texts
from agorakit.events import DomainEvent
from agorakit.money import PaymentCompleted, format_amount
from agorakit.notifications import Notice, display_name
from agorakit.orders import (
    OrderTransitioned,
    ProofAccepted,
    ProofCorrectionRequested,
    ProofRejected,
    ProofSubmitted,
)
from agorakit.plugins.microjobs.events import CampaignFinished, GroupMemberAdded
from agorakit.plugins.microjobs.process import TASK
from agorakit.plugins.microjobs.tables import Campaign, Funding, Task

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

NAME = "microjobs"
_RATED = {ProofAccepted: "satisfied", ProofCorrectionRequested: "correction", ProofRejected: "unsatisfied"}


async def _title(runtime: Runtime, listing_id: int) -> str:
    texts = await listing_texts(runtime, [listing_id])
    return texts[0]["title"] if texts else f"#{listing_id}"


async def _task(order_id: int) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A task with proof and its campaign, or None (another plugin's order, a PTC visit)."""
    task = await Task.select().where(Task.order_id == order_id).first()
    if task is None or task["ptc"]:
        return None
    campaign = await Campaign.select().where(Campaign.id == task["campaign_id"]).first()
    return (task, campaign) if campaign is not None else None


def _earns(campaign: dict[str, Any]) -> str:
    return f"{format_amount(campaign['reward'] - campaign['worker_fee'], campaign['currency'])} {campaign['currency']}"


async def proof_to_rate(event: DomainEvent, runtime: Runtime, order_id: int) -> list[Notice] | None:
    found = await _task(order_id)
    if found is None:
        return None
    task, campaign = found
    if campaign["employer_id"] == event.actor_id:
        return []
    settings = runtime.plugin_settings(NAME)
    context = {
        "order_id": order_id,
        "campaign_id": campaign["id"],
        "title": await _title(runtime, campaign["listing_id"]),
        "worker_name": await display_name(task["worker_id"]),
        "resubmitted": task["corrections"] > 0,
        "auto_satisfy_days": settings.auto_satisfy_days,
    }
    return [
        Notice(
            member_id=campaign["employer_id"],
            category="orders",
            template="microjobs_proof_to_rate",
            context=context,
            link=f"/microjobs/tasks/{order_id}",
        )
    ]


async def proof_rated(
    event: DomainEvent, runtime: Runtime, order_id: int, outcome: str
) -> list[Notice] | None:
    found = await _task(order_id)
    if found is None:
        return None
    task, campaign = found
    if task["worker_id"] == event.actor_id:
        return []
    settings = runtime.plugin_settings(NAME)
    context = {
        "order_id": order_id,
        "campaign_id": campaign["id"],
        "title": await _title(runtime, campaign["listing_id"]),
        "outcome": outcome,
        "reason": task["reason"] or "",
        "feedback": task["feedback"] or "",
        "earns": _earns(campaign),
        "correction_hours": settings.correction_hours,
    }
    return [
        Notice(
            member_id=task["worker_id"],
            category="orders",
            template="microjobs_proof_rated",
            context=context,
            link=f"/microjobs/tasks/{order_id}",
        )
    ]


async def auto_satisfied(event: DomainEvent, runtime: Runtime, order_id: int) -> list[Notice] | None:
    found = await _task(order_id)
    if found is None:
        return None
    task, campaign = found
    context = {
        "order_id": order_id,
        "campaign_id": campaign["id"],
        "title": await _title(runtime, campaign["listing_id"]),
        "earns": _earns(campaign),
        "days": runtime.plugin_settings(NAME).auto_satisfy_days,
    }
    return [
        Notice(
            member_id=member_id,
            category="orders",
            template="microjobs_auto_satisfied",
            context={**context, "role": role},
            link=f"/microjobs/tasks/{order_id}",
        )
        for role, member_id in (("worker", task["worker_id"]), ("employer", campaign["employer_id"]))
    ]


async def _campaign_of_listing(listing_id: int) -> dict[str, Any] | None:
    return await Campaign.select().where(Campaign.listing_id == listing_id).first()


async def _funded(campaign_id: int) -> int:
    rows = await Funding.select(Funding.amount).where(
        (Funding.campaign_id == campaign_id) & (Funding.status == "settled")
    )
    return sum(row["amount"] for row in rows)


async def campaign_reviewed(event: DomainEvent, runtime: Runtime) -> list[Notice] | None:
    """``listing.approved`` / ``listing.rejected`` of a campaign: live, or rejected with the
    reason and the budget back in the wallet (nobody could take a position before)."""
    payload = event.payload
    campaign = await _campaign_of_listing(payload.listing_id)
    if campaign is None:
        return None
    approved = isinstance(payload, ListingApproved)
    context: dict[str, Any] = {
        "campaign_id": campaign["id"],
        "title": await _title(runtime, campaign["listing_id"]),
        "positions": campaign["positions"],
    }
    if not approved:
        refunded = await _funded(campaign["id"])
        context["reason"] = payload.reason
        context["refunded"] = f"{format_amount(refunded, campaign['currency'])} {campaign['currency']}"
    return [
        Notice(
            member_id=campaign["employer_id"],
            category="listings",
            template="microjobs_campaign_approved" if approved else "microjobs_campaign_rejected",
            context=context,
            link=f"/microjobs/campaigns/{campaign['id']}",
        )
    ]


async def campaign_stopped(event: DomainEvent, runtime: Runtime) -> list[Notice] | None:
    """``listing.closed`` of a campaign by an operator: stopped, with their reason."""
    payload = event.payload
    campaign = await _campaign_of_listing(payload.listing_id)
    if campaign is None or campaign["state"] != "stopped" or event.actor_id == campaign["employer_id"]:
        return None
    in_progress = await Task.count().where(
        (Task.campaign_id == campaign["id"])
        & Task.status.is_in(["taken", "submitted", "correcting", "disputed"])
    )
    context = {
        "campaign_id": campaign["id"],
        "title": await _title(runtime, campaign["listing_id"]),
        "reason": payload.reason or "",
        "in_progress": in_progress,
    }
    return [
        Notice(
            member_id=campaign["employer_id"],
            category="listings",
            template="microjobs_campaign_stopped",
            context=context,
            link=f"/microjobs/campaigns/{campaign['id']}",
        )
    ]


async def campaign_finished(event: DomainEvent, runtime: Runtime) -> list[Notice]:
    payload = event.payload
    campaign = await Campaign.select().where(Campaign.id == payload.campaign_id).first()
    title = await _title(runtime, campaign["listing_id"]) if campaign else f"#{payload.campaign_id}"
    return [
        Notice(
            member_id=payload.employer_id,
            category="listings",
            template="microjobs_campaign_finished",
            context={"campaign_id": payload.campaign_id, "title": title, "positions": payload.positions},
            link=f"/microjobs/campaigns/{payload.campaign_id}",
        )
    ]


async def campaign_funded(event: DomainEvent, runtime: Runtime) -> list[Notice] | None:
    """``payment.completed`` into a campaign's escrow that someone else settled (an
    operator confirming a bank transfer): the positions it funds."""
    payload = event.payload
    ref = payload.escrow_ref or ""
    if not ref.startswith("campaign:") or event.actor_id == payload.payer_id:
        return None
    funding = await Funding.select().where(Funding.payment_id == payload.payment_id).first()
    if funding is None:
        return None
    campaign = await Campaign.select().where(Campaign.id == funding["campaign_id"]).first()
    if campaign is None:
        return None
    context = {
        "campaign_id": campaign["id"],
        "title": await _title(runtime, campaign["listing_id"]),
        "positions": funding["positions"],
        "amount": f"{format_amount(funding['amount'], campaign['currency'])} {campaign['currency']}",
        "refunded": funding["status"] == "refunded",
        "state": campaign["state"],
    }
    return [
        Notice(
            member_id=payload.payer_id,
            category="money",
            template="microjobs_campaign_funded",
            context=context,
            link=f"/microjobs/campaigns/{campaign['id']}",
        )
    ]


async def group_invitation(event: DomainEvent, runtime: Runtime) -> list[Notice]:
    payload = event.payload
    if payload.member_id == event.actor_id:
        return []
    return [
        Notice(
            member_id=payload.member_id,
            category="listings",
            template="microjobs_group_invitation",
            context={
                "group_id": payload.group_id,
                "group_name": payload.group_name,
                "employer_name": await display_name(payload.employer_id),
            },
            link="/microjobs/me/groups",
        )
    ]


async def microjobs_notices(event: DomainEvent, runtime: Runtime) -> list[Notice] | None:
    """The plugin's notices for one event (None for events it does not describe)."""
    payload = event.payload
    if isinstance(payload, ProofSubmitted) and payload.process in (TASK, None):
        return await proof_to_rate(event, runtime, payload.order_id)
    if isinstance(payload, ProofAccepted | ProofCorrectionRequested | ProofRejected) and payload.process in (
        TASK,
        None,
    ):
        return await proof_rated(event, runtime, payload.order_id, _RATED[type(payload)])
    if isinstance(payload, OrderTransitioned):
        if payload.process == TASK and payload.transition == "auto_satisfy":
            return await auto_satisfied(event, runtime, payload.order_id)
        return None
    if isinstance(payload, ListingApproved | ListingRejected):
        return await campaign_reviewed(event, runtime)
    if isinstance(payload, ListingClosed):
        return await campaign_stopped(event, runtime)
    if isinstance(payload, CampaignFinished):
        return await campaign_finished(event, runtime)
    if isinstance(payload, PaymentCompleted):
        return await campaign_funded(event, runtime)
    if isinstance(payload, GroupMemberAdded):
        return await group_invitation(event, runtime)
    return None
