"""The pay-in and payout methods named ``bank_transfer``.

Pay-in: a payment waits (``awaiting_funds``) with the site's bank details and the
payment's reference until an operator confirms the money arrived (see
:func:`agorakit.plugins.bank_transfer.service.confirm_payment`), or expires.

Payout: manual.  Operators export requested withdrawals as a CSV batch, pay them from
the bank, and mark each one completed or failed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from agorakit.money import PaymentStep, format_amount
from agorakit.plugins.bank_transfer.destinations import DESTINATION_FIELDS, validate_destination
from agorakit.plugins.bank_transfer.settings import BankTransferSettings, to_minor

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.money import PaymentOut
    from agorakit.runtime import Runtime, UnitOfWork

#: The methods' name: what sites bind in ``[money]``, and the ledger accounts
#: ``external:bank_transfer`` and ``payouts:bank_transfer:clearing``.
METHOD = "bank_transfer"
#: The plugin's name: its settings section ``[plugins.bank_transfer]``.
PLUGIN = "bank_transfer"


class BankTransferPayIn:
    """Pay by bank transfer: the payment waits until an operator confirms receipt."""

    name = METHOD
    label = "Bank transfer"

    async def start(self, *, runtime: Runtime, uow: UnitOfWork, payment: PaymentOut) -> PaymentStep:
        settings: BankTransferSettings = runtime.plugin_settings(PLUGIN)
        return PaymentStep(
            status="awaiting_funds",
            details={
                "instructions": settings.instructions,
                "reference": payment.reference,
                "amount": payment.amount.amount,
                "currency": payment.amount.currency,
            },
            expires_at=uow.now + timedelta(hours=settings.payin_expiry_hours),
        )


class BankTransferPayout:
    """Withdraw to a bank account; operators pay in batches and mark the outcome."""

    name = METHOD
    label = "Bank transfer"
    manual = True
    destination_fields = DESTINATION_FIELDS

    def __init__(self, settings: BankTransferSettings | None = None) -> None:
        self.settings = settings or BankTransferSettings()

    def bind(self, runtime: Runtime) -> BankTransferPayout:
        """This method with the site's ``[plugins.bank_transfer]`` settings."""
        return BankTransferPayout(runtime.plugin_settings(PLUGIN))

    def minimum(self, currency: str) -> int:
        return to_minor(self.settings.payout_minimum, currency, round_up=True)

    def fee(self, amount: int, currency: str) -> int:
        return to_minor(self.settings.payout_fee, currency)

    def fee_description(self, currency: str) -> str:
        fee = self.fee(0, currency)
        return f"{format_amount(fee, currency)} {currency} per withdrawal" if fee else "no fee"

    def validate_destination(self, destination: dict[str, Any]) -> dict[str, Any]:
        return validate_destination(destination)
