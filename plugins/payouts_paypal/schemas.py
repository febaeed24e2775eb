"""Response bodies of the payouts_paypal routes (operators only)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from agorakit.money import Money


class PayoutItemOut(msgspec.Struct):
    """One withdrawal as PayPal sees it."""

    withdrawal_id: int
    member_id: int
    batch_id: int
    #: our id for the item at PayPal (WD-<withdrawal id>)
    sender_item_id: str
    #: PayPal's payout_item_id, once known
    paypal_item_id: str | None
    #: PayPal's transaction id, once paid
    transaction_id: str | None
    #: the recipient's PayPal email
    receiver: str
    #: what PayPal pays (amount - fee)
    amount: Money
    #: PayPal's transaction_status (NEW until PayPal reports one)
    status: str
    #: what the withdrawal became: completed | failed (null while in flight)
    outcome: str | None
    #: a final status PayPal reported after another final one (e.g. REVERSED after SUCCESS)
    late_status: str | None
    #: PayPal's error for the item
    error: str | None
    updated_at: datetime


class PaypalPayoutBatchOut(msgspec.Struct):
    id: int
    #: our id for the batch at PayPal, fixed when the batch was made
    sender_batch_id: str
    #: PayPal's payout_batch_id once PayPal accepted the batch
    paypal_batch_id: str | None
    #: created | submitted | done | rejected | blocked
    status: str
    #: PayPal's batch_status (PENDING, PROCESSING, SUCCESS, DENIED, CANCELED)
    paypal_status: str | None
    currency: str
    count: int
    #: what PayPal pays out in total
    total: Money
    submit_attempts: int
    #: the last PayPal error for the batch, with PayPal's debug_id
    last_error: str | None
    created_at: datetime
    submitted_at: datetime | None
    synced_at: datetime | None
    #: the withdrawals in the batch (on GET of one batch)
    items: list[PayoutItemOut] | None = None


class PaypalPayoutBatchPage(msgspec.Struct):
    items: list[PaypalPayoutBatchOut]
    next_cursor: str | None


class PayoutRunOut(msgspec.Struct):
    """What one run of the PayPal payout step did (ids of batches)."""

    batched: list[int]
    submitted: list[int]
    synced: list[int]
    errors: list[int]
