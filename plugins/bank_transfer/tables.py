"""Tables of the bank_transfer plugin: the manual payout batches operators export."""

from piccolo.columns import BigInt, Integer, Timestamptz, Varchar

from agorakit.db import Table


class PayoutBatch(Table, tablename="bank_transfer_payout_batch"):
    """Requested bank withdrawals of one currency, exported together for the bank.

    Its withdrawals are the ``core_withdrawal`` rows whose ``batch_ref`` is ``ref``.
    """

    # The column shadows Piccolo's ``Table.ref()`` (never used on this table).
    ref = Varchar(length=40, unique=True, help_text="Batch reference, e.g. BT-20260105-9F3A1C2B.")  # pyright: ignore[reportAssignmentType]
    currency = Varchar(length=3, help_text="ISO 4217 code; a batch holds one currency.")
    #: not ``count``: that would hide ``Table.count()``
    withdrawal_count = Integer(help_text="Number of withdrawals in the batch.")
    total = BigInt(help_text="What the bank pays out: the sum of amount - fee, in minor units.")
    created_by = Integer(help_text="Operator who created the batch.")
    created_at = Timestamptz(help_text="When the batch was created (the withdrawals became processing).")
