"""Money: the double-entry ledger, balances, fees, pay-ins, withdrawals, payouts and vouchers.

The names below are this area's plugin API (``docs/plugin-api.md``); its modules are
internal.  A pay-in method whose money comes through an outside provider follows its
payments with the functions of :mod:`agorakit.money.providers` (``settle_from_provider``,
``fail_payment``, ...); handlers of this area's events test ``event.payload`` against
its event classes (``PaymentCompleted``, ``WithdrawalFailed``, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit.exports import lazy_exports

if TYPE_CHECKING:
    from agorakit.money.amounts import AmountText as AmountText
    from agorakit.money.amounts import CurrencyCode as CurrencyCode
    from agorakit.money.amounts import Money as Money
    from agorakit.money.amounts import exponent as exponent
    from agorakit.money.amounts import format_amount as format_amount
    from agorakit.money.amounts import max_amount as max_amount
    from agorakit.money.amounts import money as money
    from agorakit.money.amounts import parse_amount as parse_amount
    from agorakit.money.amounts import parse_money as parse_money
    from agorakit.money.controllers import created_or_replayed as created_or_replayed
    from agorakit.money.events import PaymentCancelled as PaymentCancelled
    from agorakit.money.events import PaymentCompleted as PaymentCompleted
    from agorakit.money.events import PaymentExpired as PaymentExpired
    from agorakit.money.events import PaymentFailed as PaymentFailed
    from agorakit.money.events import PaymentRefunded as PaymentRefunded
    from agorakit.money.events import PaymentStarted as PaymentStarted
    from agorakit.money.events import WithdrawalCancelled as WithdrawalCancelled
    from agorakit.money.events import WithdrawalCompleted as WithdrawalCompleted
    from agorakit.money.events import WithdrawalFailed as WithdrawalFailed
    from agorakit.money.events import WithdrawalProcessing as WithdrawalProcessing
    from agorakit.money.events import WithdrawalRequested as WithdrawalRequested
    from agorakit.money.fees import FeeLine as FeeLine
    from agorakit.money.fees import Quote as Quote
    from agorakit.money.fees import QuoteContext as QuoteContext
    from agorakit.money.fees import compute_fees as compute_fees
    from agorakit.money.fees import percent_of as percent_of
    from agorakit.money.methods import BindsToSite as BindsToSite
    from agorakit.money.methods import PaymentMethod as PaymentMethod
    from agorakit.money.methods import PaymentStep as PaymentStep
    from agorakit.money.methods import PayoutMethod as PayoutMethod
    from agorakit.money.methods import ReportsAvailability as ReportsAvailability
    from agorakit.money.methods import SyncsWithProvider as SyncsWithProvider
    from agorakit.money.payments import OPEN_STATUSES as OPEN_STATUSES
    from agorakit.money.payments import expire_payments as expire_payments
    from agorakit.money.payments import get_payment as get_payment
    from agorakit.money.payments import minor_units as minor_units
    from agorakit.money.payments import settle as settle
    from agorakit.money.providers import UNPAID_ENDS as UNPAID_ENDS
    from agorakit.money.providers import attach_provider_ref as attach_provider_ref
    from agorakit.money.providers import count_payments as count_payments
    from agorakit.money.providers import credit_late_payment as credit_late_payment
    from agorakit.money.providers import fail_payment as fail_payment
    from agorakit.money.providers import keep_open as keep_open
    from agorakit.money.providers import open_payment_ids as open_payment_ids
    from agorakit.money.providers import settle_from_provider as settle_from_provider
    from agorakit.money.schemas import PaymentOut as PaymentOut

if TYPE_CHECKING:  # vouchers
    from agorakit.money.events import VoucherCancelled as VoucherCancelled
    from agorakit.money.events import VoucherExpired as VoucherExpired
    from agorakit.money.events import VoucherIssued as VoucherIssued
    from agorakit.money.events import VoucherRedeemed as VoucherRedeemed
    from agorakit.money.schemas import RedeemedVoucher as RedeemedVoucher
    from agorakit.money.schemas import VoucherOut as VoucherOut
    from agorakit.money.vouchers import cancel_voucher as cancel_voucher
    from agorakit.money.vouchers import expire_vouchers as expire_vouchers
    from agorakit.money.vouchers import issue_voucher as issue_voucher
    from agorakit.money.vouchers import redeem_voucher as redeem_voucher
if TYPE_CHECKING:  # escrows a plugin funds and moves, a kind's default commission
    from agorakit.money.escrows import escrow_balance as escrow_balance
    from agorakit.money.escrows import fund_escrow as fund_escrow
    from agorakit.money.escrows import member_balance as member_balance
    from agorakit.money.escrows import move_escrow as move_escrow
    from agorakit.money.escrows import pay_from_escrow as pay_from_escrow
    from agorakit.money.escrows import return_escrow as return_escrow
    from agorakit.money.fees import CommissionDefault as CommissionDefault
    from agorakit.money.ledger import InsufficientFunds as InsufficientFunds
    from agorakit.money.payments import refund_settled_payment as refund_settled_payment

if TYPE_CHECKING:  # payout queue, and settling a pay-in a method confirms itself
    from agorakit.money.account_names import external as external
    from agorakit.money.payout_queue import QueuedWithdrawal as QueuedWithdrawal
    from agorakit.money.payout_queue import attach_to_batch as attach_to_batch
    from agorakit.money.payout_queue import batch_withdrawal_ids as batch_withdrawal_ids
    from agorakit.money.payout_queue import batch_withdrawals as batch_withdrawals
    from agorakit.money.payout_queue import claim_waiting as claim_waiting
    from agorakit.money.payout_queue import complete_payout as complete_payout
    from agorakit.money.payout_queue import count_waiting as count_waiting
    from agorakit.money.payout_queue import fail_payout as fail_payout
    from agorakit.money.payout_queue import withdrawal_status as withdrawal_status

EXPORTS: dict[str, str] = {
    "AmountText": "agorakit.money.amounts",
    "attach_provider_ref": "agorakit.money.providers",
    "compute_fees": "agorakit.money.fees",
    "created_or_replayed": "agorakit.money.controllers",
    "credit_late_payment": "agorakit.money.providers",
    "CurrencyCode": "agorakit.money.amounts",
    "expire_payments": "agorakit.money.payments",
    "exponent": "agorakit.money.amounts",
    "fail_payment": "agorakit.money.providers",
    "FeeLine": "agorakit.money.fees",
    "format_amount": "agorakit.money.amounts",
    "get_payment": "agorakit.money.payments",
    "keep_open": "agorakit.money.providers",
    "max_amount": "agorakit.money.amounts",
    "minor_units": "agorakit.money.payments",
    "Money": "agorakit.money.amounts",
    "money": "agorakit.money.amounts",
    "open_payment_ids": "agorakit.money.providers",
    "count_payments": "agorakit.money.providers",
    "OPEN_STATUSES": "agorakit.money.payments",
    "parse_amount": "agorakit.money.amounts",
    "parse_money": "agorakit.money.amounts",
    "PaymentCancelled": "agorakit.money.events",
    "PaymentCompleted": "agorakit.money.events",
    "PaymentExpired": "agorakit.money.events",
    "PaymentFailed": "agorakit.money.events",
    "PaymentOut": "agorakit.money.schemas",
    "PaymentRefunded": "agorakit.money.events",
    "PaymentStarted": "agorakit.money.events",
    "PaymentStep": "agorakit.money.methods",
    "PaymentMethod": "agorakit.money.methods",
    "PayoutMethod": "agorakit.money.methods",
    "BindsToSite": "agorakit.money.methods",
    "SyncsWithProvider": "agorakit.money.methods",
    "ReportsAvailability": "agorakit.money.methods",
    "percent_of": "agorakit.money.fees",
    "Quote": "agorakit.money.fees",
    "QuoteContext": "agorakit.money.fees",
    # payout queue
    "QueuedWithdrawal": "agorakit.money.payout_queue",
    "count_waiting": "agorakit.money.payout_queue",
    "claim_waiting": "agorakit.money.payout_queue",
    "attach_to_batch": "agorakit.money.payout_queue",
    "batch_withdrawals": "agorakit.money.payout_queue",
    "batch_withdrawal_ids": "agorakit.money.payout_queue",
    "withdrawal_status": "agorakit.money.payout_queue",
    "complete_payout": "agorakit.money.payout_queue",
    "fail_payout": "agorakit.money.payout_queue",
    # settling a pay-in a method confirms itself (bank_transfer)
    "external": "agorakit.money.account_names",
    "settle": "agorakit.money.payments",
    "settle_from_provider": "agorakit.money.providers",
    "UNPAID_ENDS": "agorakit.money.providers",
    "WithdrawalCancelled": "agorakit.money.events",
    "WithdrawalCompleted": "agorakit.money.events",
    "WithdrawalFailed": "agorakit.money.events",
    "WithdrawalProcessing": "agorakit.money.events",
    "WithdrawalRequested": "agorakit.money.events",
    # vouchers
    "cancel_voucher": "agorakit.money.vouchers",
    "expire_vouchers": "agorakit.money.vouchers",
    "issue_voucher": "agorakit.money.vouchers",
    "redeem_voucher": "agorakit.money.vouchers",
    "RedeemedVoucher": "agorakit.money.schemas",
    "VoucherCancelled": "agorakit.money.events",
    "VoucherExpired": "agorakit.money.events",
    "VoucherIssued": "agorakit.money.events",
    "VoucherOut": "agorakit.money.schemas",
    "VoucherRedeemed": "agorakit.money.events",
    # escrows a plugin funds and moves by reference
    "escrow_balance": "agorakit.money.escrows",
    "fund_escrow": "agorakit.money.escrows",
    "InsufficientFunds": "agorakit.money.ledger",
    "member_balance": "agorakit.money.escrows",
    "move_escrow": "agorakit.money.escrows",
    "pay_from_escrow": "agorakit.money.escrows",
    "refund_settled_payment": "agorakit.money.payments",
    "return_escrow": "agorakit.money.escrows",
    # a kind's default commission (agorakit_commission_defaults)
    "CommissionDefault": "agorakit.money.fees",
}
__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
