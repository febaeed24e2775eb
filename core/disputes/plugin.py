"""The core's own plugin for disputes: its table, routes and notifications."""

from __future__ import annotations

from agorakit import hookimpl
from agorakit.disputes.controllers import (
    DisputeController,
    OperatorDisputeController,
    OrderDisputeController,
)
from agorakit.disputes.events import EVENTS, DisputeOpened, DisputeResolved
from agorakit.disputes.piccolo_app import APP_CONFIG
from agorakit.disputes.service import open_disputes_queue
from agorakit.money import format_amount
from agorakit.notifications import Notice


@hookimpl
def agorakit_tables():

    return [APP_CONFIG]


@hookimpl
def agorakit_routes():

    return [OrderDisputeController, DisputeController, OperatorDisputeController]


@hookimpl
def agorakit_notify(event, runtime):
    """Tell the other party a dispute was opened, and both parties how it was resolved."""

    payload = event.payload
    if isinstance(payload, DisputeOpened):
        other = payload.seller_id if payload.opener_role == "buyer" else payload.buyer_id
        if other is None:
            return None
        context = {"dispute": payload.dispute_id, "order": payload.order_id, "reason": payload.reason}
        return [
            Notice(
                member_id=other,
                category="disputes",
                template="dispute_opened",
                context=context,
                link=f"/disputes/{payload.dispute_id}",
            )
        ]
    if isinstance(payload, DisputeResolved):
        context = {
            "dispute": payload.dispute_id,
            "order": payload.order_id,
            "outcome": payload.outcome,
            "refunded": format_amount(payload.refunded, payload.currency),
            "released": format_amount(payload.released, payload.currency),
            "currency": payload.currency,
            "note": payload.note,
        }
        return [
            Notice(
                member_id=member,
                category="disputes",
                template="dispute_resolved",
                context={**context, "role": role},
                link=f"/disputes/{payload.dispute_id}",
            )
            for role, member in (("buyer", payload.buyer_id), ("seller", payload.seller_id))
            if member is not None
        ]
    return None


@hookimpl
def agorakit_event_types():

    return EVENTS


@hookimpl
async def agorakit_operator_queues(runtime):
    """Open disputes, overdue past their process's review time."""

    return [await open_disputes_queue(runtime)]
