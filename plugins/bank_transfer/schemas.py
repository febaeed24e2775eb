"""Request and response bodies of the bank_transfer routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from agorakit.money import CurrencyCode, Money


class ConfirmPayment(msgspec.Struct, forbid_unknown_fields=True):
    """An operator saw the transfer on the bank statement."""

    #: the amount that arrived; must equal the payment's amount and currency exactly
    amount: Money
    #: the bank statement's reference for the transfer (kept with the payment)
    reference: Annotated[str, msgspec.Meta(min_length=1, max_length=140, examples=["STMT-2026-01-05-0042"])]


class CreatePayoutBatch(msgspec.Struct, forbid_unknown_fields=True):
    """Batch every requested bank withdrawal in ``currency``."""

    currency: CurrencyCode


class BankTransferPayoutBatchOut(msgspec.Struct):
    ref: str
    currency: str
    #: number of withdrawals in the batch
    count: int
    #: what the bank pays out: the sum of each withdrawal's amount minus its fee
    total: Money
    #: the withdrawals in the batch, oldest first
    withdrawal_ids: list[int]
    #: the operator who created it
    created_by: int
    created_at: datetime


class BankTransferPayoutBatchPage(msgspec.Struct):
    items: list[BankTransferPayoutBatchOut]
    next_cursor: str | None
