"""The ``gig`` listing kind: its attributes and the plugin's rules for them."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from agorakit.errors import FieldError, ValidationFailed
from agorakit.money import AmountText, format_amount, parse_amount
from agorakit.plugins.gigs.settings import GigsSettings
from agorakit.text import name_error

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]


class GigExtra(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """An optional add-on the buyer may choose (express delivery, source files, ...)."""

    #: what the buyer gets, e.g. "Source files"; unique within the gig
    title: Title
    #: its price per unit ordered, a decimal string in the gig's currency
    price: AmountText
    #: days it adds to the delivery time
    days: Annotated[int, msgspec.Meta(ge=0, le=90)] = 0


class GigAttributes(msgspec.Struct, forbid_unknown_fields=True):
    #: days the seller needs to deliver one order, from the moment it is paid
    delivery_days: Annotated[int, msgspec.Meta(ge=1, le=365)]
    #: optional add-ons
    extras: list[GigExtra] = []
    #: how many units a buyer may order at once (1 = no quantities)
    max_quantity: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 1
    #: what the seller needs from the buyer to start, shown before ordering
    requirements: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    #: ISO country codes of buyers who may order (empty = everyone)
    countries: list[Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")]] = []


def gig_problems(listing: Any, settings: GigsSettings) -> list[FieldError]:
    """Field errors of a gig against the site's limits (``agorakit_validate_listing``)."""
    currency = listing.currency
    attributes: GigAttributes = listing.attributes
    problems = []
    minimum = parse_amount(settings.min_price, currency, allow_zero=True)
    if listing.price < minimum:
        problems.append(
            FieldError("price.amount", f"a gig costs at least {format_amount(minimum, currency)}")
        )
    if attributes.delivery_days > settings.max_delivery_days:
        message = f"at most {settings.max_delivery_days} days"
        problems.append(FieldError("attributes.delivery_days", message))
    if attributes.max_quantity > settings.max_quantity:
        problems.append(FieldError("attributes.max_quantity", f"at most {settings.max_quantity}"))
    if len(attributes.extras) > settings.max_extras:
        problems.append(FieldError("attributes.extras", f"a gig offers at most {settings.max_extras} extras"))
    most = parse_amount(settings.max_extra_price, currency, allow_zero=True)
    seen: set[str] = set()
    for index, extra in enumerate(attributes.extras):
        field = f"attributes.extras[{index}]"
        try:
            price = parse_amount(extra.price, currency, field=f"{field}.price", maximum=most)
        except ValidationFailed as exc:
            problems.extend(exc.errors)
            price = None
        if price is not None and price <= 0:
            problems.append(FieldError(f"{field}.price", "must be greater than zero"))
        if (error := name_error(extra.title, field=f"{field}.title")) is not None:
            problems.append(error)
        key = extra.title.strip().casefold()
        if key in seen:
            problems.append(FieldError(f"{field}.title", "two extras have this title"))
        seen.add(key)
    return problems
