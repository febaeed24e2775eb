"""Where a bank withdrawal goes: an IBAN account or a US account, checked and normalised.

Two forms are accepted:

- IBAN: ``{"account_holder", "iban", "bic" (optional)}``; the IBAN's check digits and
  country format are verified (python-stdnum), the BIC's format too;
- US: ``{"account_holder", "account_number", "routing_number"}``; the account number is
  4-17 digits, the routing number a 9-digit ABA number with a valid check digit.

Numbers are stored compact and upper-case (``DE89370400440532013000``), so operators
can paste them into their bank's upload as they are.  Every problem is a field error
named ``destination.<field>``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum import numdb
from stdnum.exceptions import InvalidChecksum, InvalidLength
from stdnum.exceptions import ValidationError as NumberError
from stdnum.us import rtn as stdnum_rtn

from agorakit.errors import FieldError, ValidationFailed

IBAN_FIELDS = ("account_holder", "iban", "bic")
US_FIELDS = ("account_holder", "account_number", "routing_number")
#: every field a destination may have, for ``GET /payout-methods``
DESTINATION_FIELDS = ["account_holder", "iban", "bic", "account_number", "routing_number"]

#: SEPA allows 70 characters for a name; US ACH files fewer, but banks accept this.
HOLDER_MAX_LENGTH = 70
#: Operators open the payout CSV in spreadsheets: a cell starting with one of these would
#: be read as a formula.
FORMULA_STARTS = ("=", "+", "-", "@")
_IBAN_SHAPE = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}$")
_IBAN_REGISTRY = numdb.get("iban")
#: one part of a BBAN structure in the IBAN registry, e.g. "8!n" (8 digits)
_BBAN_PART = re.compile(r"(\d+)!?[a-z]")
_US_ACCOUNT = re.compile(r"^[0-9]{4,17}$")
_SEPARATORS = re.compile(r"[ \-]")

BOTH_FORMS = (
    "give either an IBAN account (account_holder, iban, optional bic) "
    "or a US account (account_holder, account_number, routing_number)"
)


def validate_destination(destination: dict[str, Any]) -> dict[str, Any]:
    """The normalised destination, or ``ValidationFailed`` naming every bad field."""
    if not isinstance(destination, dict):
        raise ValidationFailed([FieldError("destination", f"must be an object: {BOTH_FORMS}")])
    iban_form = "iban" in destination or "bic" in destination
    us_form = "account_number" in destination or "routing_number" in destination
    errors: list[FieldError] = []
    if iban_form and us_form:
        for key in ("account_number", "routing_number"):
            if key in destination:
                errors.append(FieldError(f"destination.{key}", f"not used with an IBAN; {BOTH_FORMS}"))
        raise ValidationFailed(errors)
    if not iban_form and not us_form:
        errors.append(FieldError("destination", BOTH_FORMS))
        errors += _unknown(destination, ("account_holder",), "")
        raise ValidationFailed(errors)

    fields = IBAN_FIELDS if iban_form else US_FIELDS
    errors += _unknown(destination, fields, "an IBAN account" if iban_form else "a US account")
    out: dict[str, Any] = {"account_holder": _account_holder(destination, errors)}
    if iban_form:
        out["iban"] = _iban(destination, errors)
        bic = _bic(destination, errors)
        if bic:
            out["bic"] = bic
    else:
        out["account_number"] = _us_account_number(destination, errors)
        out["routing_number"] = _routing_number(destination, errors)
    if errors:
        raise ValidationFailed(errors)
    return out


def _unknown(destination: dict[str, Any], allowed: tuple[str, ...], form: str) -> list[FieldError]:
    has = f"; {form} has {', '.join(allowed)}" if form else ""
    return [
        FieldError(f"destination.{str(key)[:40]}", f"unknown field{has}")
        for key in destination
        if key not in allowed
    ]


def _text(destination: dict[str, Any], key: str, errors: list[FieldError], *, required: bool) -> str | None:
    value = destination.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.append(FieldError(f"destination.{key}", "is required"))
        return None
    if not isinstance(value, str):
        errors.append(FieldError(f"destination.{key}", "must be a string"))
        return None
    if len(value) > 100:
        errors.append(FieldError(f"destination.{key}", "is too long (at most 100 characters)"))
        return None
    return value.strip()


def _account_holder(destination: dict[str, Any], errors: list[FieldError]) -> str | None:
    value = _text(destination, "account_holder", errors, required=True)
    if value is None:
        return None
    name = " ".join(value.split())
    problem = None
    if any(unicodedata.category(c).startswith("C") for c in name):
        problem = "must not contain control characters"
    elif len(name) > HOLDER_MAX_LENGTH:
        problem = f"is too long (at most {HOLDER_MAX_LENGTH} characters)"
    elif name.startswith(FORMULA_STARTS):
        problem = "must start with a letter or digit, not =, +, - or @"
    if problem:
        errors.append(FieldError("destination.account_holder", problem))
        return None
    return name


def _iban(destination: dict[str, Any], errors: list[FieldError]) -> str | None:
    value = _text(destination, "iban", errors, required=True)
    if value is None:
        return None
    # stdnum checks the check digits first, so a dropped digit reads as a typo; the
    # shape and the length per country are checked here first for a clearer message.
    number = stdnum_iban.compact(value)
    country = _IBAN_REGISTRY.info(number)[0][1] if _IBAN_SHAPE.match(number) else None
    if country is None:
        problem = "is not an IBAN (it looks like DE89 3704 0044 0532 0130 00)"
    elif not country:
        problem = f"{number[:2]} is not a country code that has IBANs"
    elif len(number) != (length := 4 + sum(map(int, _BBAN_PART.findall(country.get("bban", ""))))):
        problem = f"an IBAN from {country['country']} has {length} characters, this one has {len(number)}"
    else:
        try:
            return stdnum_iban.validate(number)
        except InvalidChecksum:
            problem = "the IBAN's check digits do not match; check it for typos"
        except NumberError:
            problem = f"is not a valid IBAN from {country['country']}; check it for typos"
    errors.append(FieldError("destination.iban", problem))
    return None


def _bic(destination: dict[str, Any], errors: list[FieldError]) -> str | None:
    value = _text(destination, "bic", errors, required=False)
    if value is None:
        return None
    try:
        return stdnum_bic.validate(value)
    except InvalidLength:
        problem = "a BIC has 8 or 11 characters"
    except NumberError:
        problem = "is not a BIC (it looks like DEUTDEFF or DEUTDEFF500)"
    errors.append(FieldError("destination.bic", problem))
    return None


def _us_account_number(destination: dict[str, Any], errors: list[FieldError]) -> str | None:
    value = _text(destination, "account_number", errors, required=True)
    if value is None:
        return None
    number = _SEPARATORS.sub("", value)
    if not _US_ACCOUNT.match(number):
        errors.append(FieldError("destination.account_number", "must be 4 to 17 digits"))
        return None
    return number


def _routing_number(destination: dict[str, Any], errors: list[FieldError]) -> str | None:
    value = _text(destination, "routing_number", errors, required=True)
    if value is None:
        return None
    try:
        return stdnum_rtn.validate(_SEPARATORS.sub("", value))
    except InvalidChecksum:
        problem = "is not a valid ABA routing number (the check digit does not match)"
    except NumberError:
        problem = "must be the 9-digit ABA routing number of the bank"
    errors.append(FieldError("destination.routing_number", problem))
    return None
