"""Request and response bodies of the money API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from agorakit.money.amounts import Money

MethodName = Annotated[str, msgspec.Meta(min_length=1, max_length=40, examples=["bank_transfer"])]
PaymentStatus = Literal[
    "pending", "awaiting_funds", "completed", "failed", "expired", "cancelled", "refunded"
]
WithdrawalStatus = Literal["requested", "processing", "completed", "failed", "cancelled"]
VoucherStatus = Literal["issued", "redeemed", "cancelled", "expired"]


class CurrencyBalance(msgspec.Struct):
    currency: str
    #: earned money you can withdraw (never below "0.00": what you owe is ``owed``)
    available: str
    #: site wallet: refunds, deposits, credits; spendable here, not withdrawable
    credit: str
    #: what you paid into orders that are not finished yet
    in_escrow: str
    #: what buyers paid into your orders that are not finished yet (before fees)
    pending: str
    #: what you owe the site: your part of an order refunded after it completed, beyond
    #: what your available balance held; your next earnings pay it back first, and you
    #: cannot withdraw until it is "0.00"
    owed: str = "0.00"


class Balance(msgspec.Struct):
    balances: list[CurrencyBalance]


class StatementLine(msgspec.Struct):
    id: int
    at: datetime
    #: "available" or "credit"
    account: str
    #: signed: positive money came in
    amount: Money
    balance_after: Money
    kind: str
    description: str
    refs: dict[str, Any]


class Statement(msgspec.Struct):
    items: list[StatementLine]
    next_cursor: str | None


class CreateDeposit(msgspec.Struct, forbid_unknown_fields=True):
    """Add money to your credit balance through a pay-in method."""

    method: MethodName
    amount: Money


class PaymentOut(msgspec.Struct):
    id: int
    payer_id: int
    method: str
    amount: Money
    purpose: str
    escrow_ref: str | None
    status: PaymentStatus
    #: quote this reference with a bank transfer
    reference: str
    details: dict[str, Any]
    failure_reason: str | None
    expires_at: datetime | None
    completed_at: datetime | None
    created_at: datetime


class PaymentPage(msgspec.Struct):
    items: list[PaymentOut]
    next_cursor: str | None


class MethodOut(msgspec.Struct):
    name: str
    label: str
    #: whether a payment can be started with the method now
    available: bool
    #: why not, when it is not available (a payment with it is then a 503 saying this)
    unavailable_reason: str | None


class PayoutMethodOut(msgspec.Struct):
    name: str
    label: str
    #: smallest withdrawal, per accepted currency
    minimums: list[Money]
    #: how the fee is computed, e.g. "1.00 USD per withdrawal" or "no fee"
    fee: str
    #: the fields the destination object needs
    destination_fields: list[str]
    #: whether a withdrawal can be asked with the method now
    available: bool
    #: why not, when it is not available (a withdrawal with it is then a 503 saying this)
    unavailable_reason: str | None


class CreateWithdrawal(msgspec.Struct, forbid_unknown_fields=True):
    method: MethodName
    amount: Money
    #: where the money goes; fields depend on the method (see GET /payout-methods)
    destination: dict[str, Any]


class WithdrawalOut(msgspec.Struct):
    id: int
    member_id: int
    method: str
    #: taken from your available balance
    amount: Money
    #: kept by the site
    fee: Money
    #: what you receive
    net: Money
    destination: dict[str, Any]
    status: WithdrawalStatus
    batch_ref: str | None
    provider_ref: str | None
    failure_reason: str | None
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    #: the site pays it by then (requested + ``[money] payout_days``)
    due_at: datetime
    #: still requested or processing after its due date
    overdue: bool


class WithdrawalPage(msgspec.Struct):
    items: list[WithdrawalOut]
    next_cursor: str | None


class FailWithdrawal(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class CompleteWithdrawal(msgspec.Struct, forbid_unknown_fields=True):
    #: the payout provider's or bank's reference for the transfer
    provider_ref: Annotated[str, msgspec.Meta(max_length=120)] | None = None


class AccountEntry(msgspec.Struct):
    id: int
    at: datetime
    amount: Money
    balance_after: Money
    kind: str
    description: str
    refs: dict[str, Any]


class AccountOut(msgspec.Struct):
    name: str
    kind: str
    balance: Money
    entries: list[AccountEntry]
    next_cursor: str | None


class CurrencyTotals(msgspec.Struct):
    currency: str
    platform_fees: str
    members_available: str
    members_credit: str
    escrow: str
    clearing: str
    vouchers_outstanding: str
    #: money that came in minus money that went out, per method (negative = net inflow)
    external: dict[str, str]
    #: every account summed: always "0.00" in a sound ledger
    sum: str


class LedgerTotals(msgspec.Struct):
    totals: list[CurrencyTotals]


class CreateVoucher(msgspec.Struct, forbid_unknown_fields=True):
    """Turn part of your balance (credit first, then available) into a voucher."""

    amount: Money


class RedeemVoucher(msgspec.Struct, forbid_unknown_fields=True):
    #: the code as given, e.g. "7K3M-Q9XD-..." (case, spaces and dashes do not matter)
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class VoucherOut(msgspec.Struct):
    """A voucher as its issuer and operators see it."""

    id: int
    issuer_id: int
    amount: Money
    #: the parts taken from the issuer's credit and available balance: a cancel returns each
    from_credit: Money
    from_available: Money
    status: VoucherStatus
    #: the code's last 4 characters, to tell vouchers apart (the code itself is not kept)
    hint: str
    #: redeemable until this instant (excluded); then its value returns to the issuer's credit
    expires_at: datetime
    redeemed_at: datetime | None
    #: the member who redeemed it: operators only (None in the issuer's list)
    redeemed_by: int | None
    created_at: datetime
    updated_at: datetime
    #: the code, only in the response that issued the voucher: it is shown once and never
    #: again (None in a replay, in lists and after a cancel)
    code: str | None = None


class VoucherPage(msgspec.Struct):
    items: list[VoucherOut]
    next_cursor: str | None


class RedeemedVoucher(msgspec.Struct):
    """What the redeemer is told: the amount went to their credit."""

    voucher_id: int
    amount: Money
    redeemed_at: datetime
