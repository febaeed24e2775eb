"""The core's own plugin for disputes: its table, routes and notifications."""

from __future__ import annotations

from agorakit import hookimpl


@hookimpl
def agorakit_tables():
    from agorakit.disputes.piccolo_app import APP_CONFIG

    return [APP_CONFIG]


@hookimpl
def agorakit_routes():
    from agorakit.disputes.controllers import (
        DisputeController,
        OperatorDisputeController,
        OrderDisputeController,
    )

    return [OrderDisputeController, DisputeController, OperatorDisputeController]


@hookimpl
def agorakit_notify(event, runtime):
    """Tell the other party a dispute was opened, and both parties how it was resolved."""
    from agorakit.money.amounts import format_amount
    from agorakit.notifications import Notice

    data = event.data
    if event.name == "dispute.opened":
        other = data["seller"] if data["opener_role"] == "buyer" else data["buyer"]
        if other is None:
            return None
        context = {"dispute": data["dispute"], "order": data["order"], "reason": data["reason"]}
        return [
            Notice(
                member_id=other,
                category="disputes",
                template="dispute_opened",
                context=context,
                link=f"/disputes/{data['dispute']}",
            )
        ]
    if event.name == "dispute.resolved":
        context = {
            "dispute": data["dispute"],
            "order": data["order"],
            "outcome": data["outcome"],
            "refunded": format_amount(data["refunded"], data["currency"]),
            "released": format_amount(data["released"], data["currency"]),
            "currency": data["currency"],
            "note": data["note"],
        }
        return [
            Notice(
                member_id=member,
                category="disputes",
                template="dispute_resolved",
                context={**context, "role": role},
                link=f"/disputes/{data['dispute']}",
            )
            for role, member in (("buyer", data["buyer"]), ("seller", data["seller"]))
            if member is not None
        ]
    return None


@hookimpl
def agorakit_event_types():
    from agorakit.disputes.events import EVENTS

    return EVENTS
