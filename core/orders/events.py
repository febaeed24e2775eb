"""The order events: orders created and moved through their process, timers, proofs.

Each class is one domain event of this area (``docs/events.md``); ``subject`` and
``actor_id`` travel on the envelope (:class:`agorakit.events.DomainEvent`).
"""

from __future__ import annotations

from agorakit.events import Event


class OrderCreated(Event, frozen=True, kw_only=True):
    """A buyer created an order."""

    name = "order.created"
    order_id: int
    process: str
    state: str


class OrderTransitioned(Event, frozen=True, kw_only=True, omit_defaults=True):
    """An order moved by a transition of its process (``former_seller_id`` only in the
    data of a transition that took the order from its seller)."""

    name = "order.transitioned"
    order_id: int
    process: str
    transition: str
    from_state: str
    to_state: str
    actor_role: str
    #: the seller a ``clears_seller`` transition took off the order (None for any other)
    former_seller_id: int | None = None


class OrderTimerFailed(Event, frozen=True, kw_only=True):
    """A timer's transition failed; the timer is retried or given up."""

    name = "order.timer_failed"
    timer_id: int
    error: str


class ProofSubmitted(Event, frozen=True, kw_only=True):
    """A seller submitted a proof of work."""

    name = "proof.submitted"
    order_id: int
    proof_id: int
    #: the order's process, so a handler can tell its orders' proofs without a read
    process: str | None = None


class ProofAccepted(Event, frozen=True, kw_only=True):
    """The buyer accepted a proof."""

    name = "proof.accepted"
    order_id: int
    proof_id: int
    #: the order's process, so a handler can tell its orders' proofs without a read
    process: str | None = None


class ProofRejected(Event, frozen=True, kw_only=True):
    """The buyer rejected a proof."""

    name = "proof.rejected"
    order_id: int
    proof_id: int
    #: the order's process, so a handler can tell its orders' proofs without a read
    process: str | None = None


class ProofCorrectionRequested(Event, frozen=True, kw_only=True):
    """The buyer asked for a correction of a proof."""

    name = "proof.correction_requested"
    order_id: int
    proof_id: int
    #: the order's process, so a handler can tell its orders' proofs without a read
    process: str | None = None


#: this area's events, registered through ``agorakit_event_types``
EVENTS: list[type[Event]] = [
    OrderCreated,
    OrderTransitioned,
    OrderTimerFailed,
    ProofSubmitted,
    ProofAccepted,
    ProofRejected,
    ProofCorrectionRequested,
]
