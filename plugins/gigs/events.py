"""The gigs plugin's events: mutual cancellation proposals of gig orders.

Registered through the plugin's ``agorakit_event_types``; ``subject`` (``order:ID``) and
``actor_id`` (the party who acted) travel on the envelope.
"""

from __future__ import annotations

from agorakit.events import Event


class CancellationProposed(Event, frozen=True, kw_only=True):
    """A party proposed to cancel a running gig order; the other party may accept it."""

    name = "gigs.cancellation_proposed"
    order_id: int
    proposal_id: int
    reason: str
    #: the other party, who is asked to accept
    recipient: int | None


class CancellationDeclined(Event, frozen=True, kw_only=True):
    """The other party declined a cancellation proposal (with an answer)."""

    name = "gigs.cancellation_declined"
    order_id: int
    proposal_id: int
    #: the answer given
    reason: str
    #: the party who proposed
    recipient: int | None


class CancellationWithdrawn(Event, frozen=True, kw_only=True):
    """The proposing party withdrew its cancellation proposal."""

    name = "gigs.cancellation_withdrawn"
    order_id: int
    proposal_id: int
    reason: str
    recipient: int | None = None


#: the plugin's events, registered through ``agorakit_event_types``
EVENTS: list[type[Event]] = [CancellationProposed, CancellationDeclined, CancellationWithdrawn]
