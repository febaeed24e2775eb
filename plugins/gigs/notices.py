"""Who the gigs plugin notifies about its own events (``agorakit_notify``)."""

from __future__ import annotations

from typing import Any


def gig_notices(event: Any) -> list[Any] | None:
    if event.name not in ("gigs.cancellation_proposed", "gigs.cancellation_declined"):
        return None
    from agorakit.notifications import Notice

    recipient = event.data.get("recipient")
    if recipient is None:
        return None
    template = event.name.replace("gigs.", "gigs_")
    order = event.data["order"]
    return [
        Notice(
            member_id=recipient,
            category="orders",
            template=template,
            context={"order": order, "reason": event.data.get("reason", "")},
            link=f"/gigs/orders/{order}/cancellation",
        )
    ]
