"""Amounts between agorakit (integer minor units) and PayPal (decimal strings)."""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from agorakit.money import exponent, format_amount

_VALUE = re.compile(r"^-?\d+(\.\d+)?$")


def to_paypal(minor: int, currency: str) -> dict[str, str]:
    """``1500, "USD"`` → ``{"value": "15.00", "currency": "USD"}`` (Payouts' money object)."""
    return {"value": format_amount(minor, currency), "currency": currency}


def from_paypal(value: str, currency: str) -> int:
    """PayPal's ``"15.00"`` in minor units of ``currency``; ValueError when it is not exact."""
    if not isinstance(value, str) or not _VALUE.match(value.strip()):
        raise ValueError(f"{value!r} is not a PayPal amount")
    scaled = Decimal(value.strip()) * 10 ** exponent(currency)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} has more decimals than {currency} has")
    return int(scaled)


def setting_to_minor(text: str, currency: str, *, round_up: bool = False) -> int:
    """A settings amount (``"15.00"``) in minor units: minimums round up, fees half up."""
    scaled = Decimal(text) * 10 ** exponent(currency)
    return int(scaled.to_integral_value(rounding=ROUND_CEILING if round_up else ROUND_HALF_UP))
