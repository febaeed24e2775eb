"""The payouts_paypal plugin's domain events (registered through ``agorakit_event_types``).

Batch events have the subject ``paypal_payout_batch:{batch_id}``, item events
``withdrawal:{withdrawal_id}``.  The withdrawals' own events (``withdrawal.processing``,
``.completed``, ``.failed``) come from the core as usual.
"""

from __future__ import annotations

from agorakit.events import Event


class PayPalPayoutBatchCreated(Event, frozen=True, kw_only=True):
    """Requested PayPal withdrawals of one currency became a batch (they are processing)."""

    name = "paypal_payout.batch_created"
    batch_id: int
    #: our id for the batch at PayPal, fixed now for every attempt to send it
    sender_batch_id: str
    currency: str
    #: number of withdrawals in the batch
    count: int
    #: what PayPal pays out, in minor units: the sum of each withdrawal's amount minus its fee
    total: int


class PayPalPayoutBatchSubmitted(Event, frozen=True, kw_only=True):
    """PayPal accepted the batch (its answer, a lookup after a lost answer, or a webhook)."""

    name = "paypal_payout.batch_submitted"
    batch_id: int
    sender_batch_id: str
    #: PayPal's payout_batch_id (None when PayPal's answer did not carry one)
    paypal_batch_id: str | None = None


class PayPalPayoutBatchRejected(Event, frozen=True, kw_only=True):
    """PayPal refused the batch outright: it paid nobody, its withdrawals fail."""

    name = "paypal_payout.batch_rejected"
    batch_id: int
    #: PayPal's error name, e.g. VALIDATION_ERROR (None when the answer had none)
    error: str | None = None
    #: PayPal's debug_id of the refusal, for PayPal's support
    debug_id: str | None = None


class PayPalPayoutBatchBlocked(Event, frozen=True, kw_only=True):
    """The batch's sender_batch_id belongs to another batch at PayPal; an operator must check it."""

    name = "paypal_payout.batch_blocked"
    batch_id: int
    reason: str


class PayPalPayoutItemUpdated(Event, frozen=True, kw_only=True):
    """PayPal reported a newer status of a withdrawal's payout item."""

    name = "paypal_payout.item_updated"
    withdrawal_id: int
    #: PayPal's transaction_status, e.g. PENDING, UNCLAIMED, SUCCESS, RETURNED
    status: str
    #: PayPal's payout_item_id, once known
    paypal_item_id: str | None = None
    #: what the withdrawal became with this status: completed | failed (None while in flight)
    outcome: str | None = None


class PayPalPayoutLateStatus(Event, frozen=True, kw_only=True):
    """A final status after another final one (e.g. REVERSED after SUCCESS): no money moved."""

    name = "paypal_payout.late_status"
    withdrawal_id: int
    status: str
    #: the final status the item had
    previous: str


#: this plugin's events
EVENTS: list[type[Event]] = [
    PayPalPayoutBatchCreated,
    PayPalPayoutBatchSubmitted,
    PayPalPayoutBatchRejected,
    PayPalPayoutBatchBlocked,
    PayPalPayoutItemUpdated,
    PayPalPayoutLateStatus,
]
