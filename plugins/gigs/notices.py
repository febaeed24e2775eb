"""Who the gigs plugin notifies about its own events (``agorakit_notify``)."""

from __future__ import annotations

from typing import Any

from agorakit.notifications import Notice
from agorakit.plugins.gigs.events import CancellationDeclined, CancellationProposed

TEMPLATES = {
    CancellationProposed: "gigs_cancellation_proposed",
    CancellationDeclined: "gigs_cancellation_declined",
}


def gig_notices(event: Any) -> list[Any] | None:
    payload = event.payload
    if not isinstance(payload, CancellationProposed | CancellationDeclined) or payload.recipient is None:
        return None

    return [
        Notice(
            member_id=payload.recipient,
            category="orders",
            template=TEMPLATES[type(payload)],
            context={"order": payload.order_id, "reason": payload.reason},
            link=f"/gigs/orders/{payload.order_id}/cancellation",
        )
    ]
