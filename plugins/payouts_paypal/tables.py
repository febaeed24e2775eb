"""Tables of the payouts_paypal plugin: PayPal payout batches and their items.

A batch is made from requested PayPal withdrawals of one currency; its ``sender_batch_id``
is fixed when the row is created, so every attempt to send it (after a timeout, a 5xx or a
worker that died) is the same request to PayPal, which pays a ``sender_batch_id`` once.
"""

from piccolo.columns import BigInt, ForeignKey, Integer, Text, Timestamptz, Varchar

from agorakit.db import Table


class PayPalPayoutBatch(Table, tablename="payouts_paypal_batch"):
    """Withdrawals sent to PayPal together (``POST /v1/payments/payouts``)."""

    sender_batch_id = Varchar(
        length=80,
        unique=True,
        help_text="Our id for the batch at PayPal: <prefix><row id>-<random>, fixed at creation.",
    )
    currency = Varchar(length=3, help_text="ISO 4217 code; a PayPal batch holds one currency.")
    status = Varchar(
        length=16,
        index=True,
        help_text="created (not yet accepted by PayPal) | submitted | done (every item final) | rejected (PayPal refused it; money returned) | blocked (needs an operator).",
    )
    paypal_batch_id = Varchar(
        length=40,
        null=True,
        default=None,
        unique=True,
        help_text="PayPal's payout_batch_id once PayPal accepted the batch.",
    )
    paypal_status = Varchar(
        length=16,
        null=True,
        default=None,
        help_text="PayPal's batch_status: PENDING, PROCESSING, SUCCESS, DENIED, CANCELED.",
    )
    item_count = Integer(help_text="Number of withdrawals in the batch.")
    total = BigInt(help_text="What PayPal pays out: the sum of amount - fee, in minor units.")
    submit_attempts = Integer(default=0, help_text="How often a worker tried to send the batch.")
    claimed_until = Timestamptz(
        null=True, default=None, help_text="A worker is sending the batch until then; after it another may."
    )
    next_sync_at = Timestamptz(
        null=True, default=None, help_text="When the worker next asks PayPal for the batch's status."
    )
    last_error = Text(
        null=True, default=None, help_text="The last PayPal error for this batch, with PayPal's debug_id."
    )
    created_at = Timestamptz(help_text="When the withdrawals were batched (they became processing).")
    submitted_at = Timestamptz(null=True, default=None, help_text="When PayPal accepted the batch.")
    synced_at = Timestamptz(
        null=True, default=None, help_text="When PayPal was last asked for the batch's status."
    )
    updated_at = Timestamptz()


class PayPalPayoutItem(Table, tablename="payouts_paypal_item"):
    """One withdrawal in a PayPal payout batch and what PayPal says about it."""

    batch = ForeignKey(PayPalPayoutBatch, index=True, help_text="The batch it was sent in.")
    withdrawal_id = Integer(unique=True, help_text="The core_withdrawal it pays out.")
    member_id = Integer(index=True, help_text="Who withdraws.")
    sender_item_id = Varchar(
        length=63, unique=True, help_text="Our id for the item at PayPal: WD-<withdrawal id>."
    )
    receiver = Varchar(length=254, help_text="The recipient's PayPal email.")
    amount = BigInt(help_text="What PayPal pays the recipient (amount - fee), in minor units.")
    currency = Varchar(length=3)
    paypal_item_id = Varchar(
        length=40, null=True, default=None, unique=True, help_text="PayPal's payout_item_id."
    )
    transaction_id = Varchar(
        length=40, null=True, default=None, help_text="PayPal's transaction id, once paid."
    )
    status = Varchar(
        length=16, default="NEW", help_text="PayPal's transaction_status (NEW until PayPal reports one)."
    )
    rank = Integer(
        default=0,
        help_text="0 NEW, 1 PENDING, 2 ONHOLD/UNCLAIMED, 3 final: a status only replaces a lower rank.",
    )
    outcome = Varchar(
        length=16, null=True, default=None, help_text="What the withdrawal became: completed | failed."
    )
    late_status = Varchar(
        length=16,
        null=True,
        default=None,
        help_text="A final status PayPal reported after another final one (e.g. REVERSED after SUCCESS); moves no money, for operators.",
    )
    error = Text(null=True, default=None, help_text="PayPal's error for the item, if any.")
    updated_at = Timestamptz()
