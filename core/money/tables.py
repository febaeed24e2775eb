"""Tables of the money area: the ledger, pay-ins and withdrawals.

Constraints that SQLite cannot add to an existing table (checks, multi-column unique
keys, the append-only rule and, on PostgreSQL, the balanced-transaction trigger) are
created by the migration in raw SQL for each engine; see its ``CONSTRAINTS``.
"""

from piccolo.columns import (
    JSON,
    BigInt,
    Boolean,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)

from agorakit.db.table import Table


class LedgerAccount(Table, tablename="core_ledger_account"):
    """One account per (name, currency), e.g. ``member:12:available`` in USD."""

    name = Varchar(length=120, help_text="member:{id}:available, order:{ref}:escrow, platform:fees, ...")
    currency = Varchar(length=3, help_text="ISO 4217 code.")
    kind = Varchar(length=24, help_text="available|credit|escrow|fees|clearing|external|vouchers")
    balance = BigInt(default=0, help_text="Sum of the account's entries, in minor units.")
    allow_negative = Boolean(default=False, help_text="Only external:* accounts may go below zero.")
    member_id = Integer(null=True, default=None, index=True, help_text="Owner of a member:* account.")
    buyer_id = Integer(null=True, default=None, index=True, help_text="Escrow: the paying member.")
    seller_id = Integer(null=True, default=None, index=True, help_text="Escrow: the member it is for.")
    created_at = Timestamptz()


class LedgerTransaction(Table, tablename="core_ledger_transaction"):
    """A balanced set of entries: it sums to zero per currency."""

    idempotency_key = Varchar(
        length=200, unique=True, help_text="Posting twice with one key moves money once."
    )
    kind = Varchar(length=40, help_text="payment_captured, escrow_released, withdrawal_requested, ...")
    description = Text(help_text="A sentence a member can read in their statement.")
    refs = JSON(default={}, help_text="What it belongs to: {order: 12, withdrawal: 3, ...}.")
    actor_id = Integer(null=True, default=None, help_text="Member or operator who caused it.")
    created_at = Timestamptz()


class LedgerEntry(Table, tablename="core_ledger_entry"):
    """One side of a transaction: a signed amount on one account."""

    transaction = ForeignKey(LedgerTransaction, index=True)
    account = ForeignKey(LedgerAccount, index=True)
    amount = BigInt(help_text="Signed minor units: positive increases the account.")
    currency = Varchar(length=3)
    balance_after = BigInt(help_text="The account's balance right after this entry.")
    created_at = Timestamptz()


class Payment(Table, tablename="core_payment"):
    """Money coming in: a deposit to the payer's credit, or the funding of an escrow."""

    payer_id = Integer(index=True)
    method = Varchar(length=40)
    amount = BigInt()
    currency = Varchar(length=3)
    purpose = Varchar(length=16, help_text="deposit | escrow")
    escrow_ref = Varchar(length=80, null=True, default=None, help_text="e.g. order:12 for purpose=escrow")
    status = Varchar(
        length=16, index=True, help_text="pending|awaiting_funds|completed|failed|expired|cancelled|refunded"
    )
    reference = Varchar(length=40, help_text="Reference the payer quotes (bank transfer).")
    idempotency_key = Varchar(length=200, null=True, default=None)
    provider_ref = Varchar(length=120, null=True, default=None)
    details = JSON(default={}, help_text="Method-specific data (instructions, confirmation).")
    failure_reason = Text(null=True, default=None)
    expires_at = Timestamptz(null=True, default=None)
    completed_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class Withdrawal(Table, tablename="core_withdrawal"):
    """Money going out of a member's available balance to a payout method."""

    member_id = Integer(index=True)
    method = Varchar(length=40)
    amount = BigInt(help_text="Taken from the member's available balance.")
    fee = BigInt(default=0, help_text="Kept by the platform; the member receives amount - fee.")
    currency = Varchar(length=3)
    destination = JSON(default={}, help_text="Validated payout destination (PayPal email, bank account).")
    status = Varchar(length=16, index=True, help_text="requested|processing|completed|failed|cancelled")
    idempotency_key = Varchar(length=200, null=True, default=None)
    batch_ref = Varchar(length=80, null=True, default=None, help_text="Payout batch it was sent in.")
    provider_ref = Varchar(length=120, null=True, default=None)
    failure_reason = Text(null=True, default=None)
    completed_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    due_at = Timestamptz(
        null=True, default=None, help_text="Paid by then: created_at + [money] payout_days when requested."
    )


class Voucher(Table, tablename="core_voucher"):
    """Part of a member's balance turned into a code anyone else can redeem into their credit.

    The code itself is never stored: only its SHA-256 (``code_hash``) and its last
    characters (``code_hint``), for the issuer's list.
    """

    issuer_id = Integer(index=True)
    amount = BigInt(help_text="Minor units; vouchers:outstanding holds it while the voucher is issued.")
    currency = Varchar(length=3)
    from_credit = BigInt(default=0, help_text="Part of the amount taken from the issuer's credit.")
    from_available = BigInt(default=0, help_text="Part taken from the issuer's available balance.")
    code_hash = Varchar(length=64, unique=True, help_text="SHA-256 (hex) of the normalised code.")
    code_hint = Varchar(length=8, help_text="The code's last characters, shown to the issuer.")
    status = Varchar(length=16, index=True, help_text="issued|redeemed|cancelled|expired")
    idempotency_key = Varchar(length=200, null=True, default=None)
    expires_at = Timestamptz()
    redeemed_by = Integer(null=True, default=None, index=True)
    redeemed_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()
