"""Amounts: integer minor units inside, ``{"amount": "12.50", "currency": "USD"}`` outside.

Every amount in the domain is an ``int`` of the currency's minor unit (cents for USD,
yen for JPY).  Strings like ``"12.50"`` exist only at the API edge: :func:`parse_amount`
turns one into minor units and :func:`format_amount` turns minor units back.  An amount
is exactly ASCII digits with an optional ``.`` and more ASCII digits; everything else is
refused: negatives, signs, exponents, white space, other scripts' digits, too many
decimals and amounts over the site's maximum.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import msgspec

from agorakit.errors import FieldError, ValidationFailed

if TYPE_CHECKING:  # pragma: no cover - typing only
    from agorakit.runtime import Runtime

#: ISO 4217 currencies whose minor unit is not 1/100.
_EXPONENTS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip

#: ASCII digits only (``\d`` would take full-width or Arabic-Indic digits as numbers too),
#: matched against the whole text: no sign, no exponent, no surrounding white space.
_AMOUNT = re.compile(r"(?P<units>[0-9]{1,15})(?:\.(?P<fraction>[0-9]+))?")

CurrencyCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$", examples=["USD"])]
AmountText = Annotated[
    str,
    msgspec.Meta(max_length=32, examples=["12.50"], description="decimal string in the currency's units"),
]


class Money(msgspec.Struct, frozen=True):
    """An amount as the API shows and accepts it."""

    amount: AmountText
    currency: CurrencyCode


def exponent(currency: str) -> int:
    """Digits after the decimal point in ``currency`` (2 unless ISO 4217 says otherwise)."""
    return _EXPONENTS.get(currency, 2)


def max_amount(runtime: Runtime, currency: str) -> int:
    """``[money] max_amount`` in minor units of ``currency``."""
    return int(Decimal(runtime.settings.money.max_amount) * 10 ** exponent(currency))


def format_amount(minor: int, currency: str) -> str:
    """``1250, "USD"`` → ``"12.50"``; negative amounts keep their sign."""
    digits = exponent(currency)
    sign = "-" if minor < 0 else ""
    units, fraction = divmod(abs(minor), 10**digits)
    return f"{sign}{units}.{fraction:0{digits}d}" if digits else f"{sign}{units}"


def money(minor: int, currency: str) -> Money:
    return Money(amount=format_amount(minor, currency), currency=currency)


def parse_amount(
    text: str,
    currency: str,
    *,
    field: str = "amount",
    maximum: int | None = None,
    allow_zero: bool = False,
) -> int:
    """Parse a decimal string into minor units of ``currency``, or raise a 422 field error."""
    digits = exponent(currency)
    match = _AMOUNT.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        problem = (
            "must not be negative"
            if isinstance(text, str) and text.startswith("-")
            else f'must be a decimal number written as a string, e.g. "{format_amount(1250, currency)}"'
        )
        raise ValidationFailed([FieldError(field, problem)])
    fraction = match.group("fraction") or ""
    if len(fraction) > digits:
        problem = f"{currency} amounts have at most {digits} decimal places"
        raise ValidationFailed([FieldError(field, problem)])
    minor = int(match.group("units")) * 10**digits + int(fraction.ljust(digits, "0") or 0)
    if minor == 0 and not allow_zero:
        raise ValidationFailed([FieldError(field, "must be greater than zero")])
    if maximum is not None and minor > maximum:
        problem = f"must be at most {format_amount(maximum, currency)} {currency}"
        raise ValidationFailed([FieldError(field, problem)])
    return minor


def parse_money(
    value: Money, *, accepted: list[str], field: str = "amount", maximum: int | None = None
) -> tuple[int, str]:
    """Validate a :class:`Money` body: accepted currency, well-formed positive amount."""
    if value.currency not in accepted:
        problem = f"{value.currency} is not accepted here; use {', '.join(accepted)}"
        raise ValidationFailed([FieldError(f"{field}.currency", problem)])
    minor = parse_amount(value.amount, value.currency, field=f"{field}.amount", maximum=maximum)
    return minor, value.currency
