"""Settings of the bank_transfer plugin (``[plugins.bank_transfer]`` in ``site.toml``)."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Annotated

import msgspec

from agorakit.money import exponent
from agorakit.settings import AmountSetting, SettingsStruct

DEFAULT_INSTRUCTIONS = (
    "Transfer the amount to our bank account and quote the payment reference so we can "
    "match your transfer. (The site operator has not set the bank details yet: "
    "[plugins.bank_transfer] instructions.)"
)


class BankTransferSettings(SettingsStruct, frozen=True):
    #: hours an unconfirmed bank transfer pay-in waits for the money before it expires
    #: (default 72)
    payin_expiry_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 90)] = 72
    #: text shown to payers with every pay-in: the site's account holder, IBAN/BIC or
    #: account and routing number (default: a placeholder that says it is not set)
    instructions: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)] = DEFAULT_INSTRUCTIONS
    #: smallest bank withdrawal, a decimal string in each currency's units (default "50.00")
    payout_minimum: AmountSetting = "50.00"
    #: flat fee kept per bank withdrawal, a decimal string in each currency's units
    #: (default "0.00"); it must be below payout_minimum
    payout_fee: AmountSetting = "0.00"

    def __post_init__(self) -> None:
        fee, minimum = Decimal(self.payout_fee), Decimal(self.payout_minimum)
        if fee > 0 and fee >= minimum:
            message = (
                f"payout_fee ({self.payout_fee}) must be below payout_minimum ({self.payout_minimum}), "
                "or a withdrawal of the minimum would pay out nothing"
            )
            raise ValueError(message)


def to_minor(text: str, currency: str, *, round_up: bool = False) -> int:
    """A settings amount (``"50.00"``) in minor units of ``currency``.

    Settings may carry more decimals than a currency has (``"0.50"`` for JPY): minimums
    round up (never below what the site asked for), fees round half up.
    """
    scaled = Decimal(text) * 10 ** exponent(currency)
    return int(scaled.to_integral_value(rounding=ROUND_CEILING if round_up else ROUND_HALF_UP))
