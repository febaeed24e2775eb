"""Money: the double-entry ledger, balances, fees, pay-ins, withdrawals and payouts.

The names below are this area's plugin API (``docs/plugin-api.md``); its modules are
internal.
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
    from agorakit.money.amounts import money as money
    from agorakit.money.amounts import parse_amount as parse_amount
    from agorakit.money.amounts import parse_money as parse_money
    from agorakit.money.controllers import created_or_replayed as created_or_replayed
    from agorakit.money.fees import FeeLine as FeeLine
    from agorakit.money.fees import Quote as Quote
    from agorakit.money.fees import compute_fees as compute_fees
    from agorakit.money.methods import PaymentStep as PaymentStep
    from agorakit.money.payments import expire_payments as expire_payments
    from agorakit.money.schemas import PaymentOut as PaymentOut

if TYPE_CHECKING:  # payout queue, and settling a pay-in a method confirms itself
    from agorakit.money.ledger import external as external
    from agorakit.money.payments import get_payment as get_payment
    from agorakit.money.payments import settle as settle
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
    "compute_fees": "agorakit.money.fees",
    "created_or_replayed": "agorakit.money.controllers",
    "CurrencyCode": "agorakit.money.amounts",
    "expire_payments": "agorakit.money.payments",
    "exponent": "agorakit.money.amounts",
    "FeeLine": "agorakit.money.fees",
    "format_amount": "agorakit.money.amounts",
    "Money": "agorakit.money.amounts",
    "money": "agorakit.money.amounts",
    "parse_amount": "agorakit.money.amounts",
    "parse_money": "agorakit.money.amounts",
    "PaymentOut": "agorakit.money.schemas",
    "PaymentStep": "agorakit.money.methods",
    "Quote": "agorakit.money.fees",
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
    "external": "agorakit.money.ledger",
    "get_payment": "agorakit.money.payments",
    "settle": "agorakit.money.payments",
}
__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
