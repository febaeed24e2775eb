"""Settings of the prepaid plugin (``[plugins.prepaid]`` in ``site.toml``).

Every number of the model is here with its default.  Service types are configured per
category: a request's category uses the list of its nearest configured ancestor (or
itself), and ``default_service_types`` where none is configured.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from agorakit.catalog import DetailField, check_fields
from agorakit.settings import AmountSetting, SettingsStruct

Mode = Literal["prepaid", "classic"]
MODES: tuple[Mode, ...] = ("prepaid", "classic")
Name = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


class ServiceType(SettingsStruct, frozen=True):
    """A kind of service buyers request in a category, e.g. "rank boost" or "coaching"."""

    #: key a request names (``service_type``)
    name: Name
    #: shown to people
    label: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    #: the details a request of this type gives
    fields: list[DetailField] = []


def _default_service_types() -> list[ServiceType]:
    return [
        ServiceType(
            name="custom",
            label="Custom task",
            fields=[DetailField(name="task", label="What should be done", type="text", max_length=4000)],
        )
    ]


class PrepaidSettings(SettingsStruct, frozen=True):
    #: the request modes buyers may use: "prepaid" (pay at once, a qualified seller locks
    #: it) and "classic" (sellers send offers, the buyer accepts one and pays); default both
    modes: list[Mode] = msgspec.field(default_factory=lambda: list(MODES))
    #: service types by category slug (a category without an entry uses its nearest
    #: configured ancestor's, then ``default_service_types``)
    service_types: dict[str, list[ServiceType]] = {}
    #: service types of categories with none configured (default: one "custom" type with
    #: a free-text task)
    default_service_types: list[ServiceType] = msgspec.field(default_factory=_default_service_types)
    #: lowest and highest request price (and offer price), in the request's currency
    #: (defaults "5.00" and "10000.00")
    min_price: AmountSetting = "5.00"
    max_price: AmountSetting = "10000.00"
    #: the delivery timeframe a buyer asks for when none is given, in hours (default 72),
    #: and the bounds a buyer or a seller's offer may choose (defaults 1 and 720)
    timeframe_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 365)] = 72
    min_timeframe_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 365)] = 1
    max_timeframe_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 365)] = 720
    #: undelivered locks one seller may hold at once (default 3)
    max_open_locks: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 3
    #: days a classic request waits for an accepted offer before it expires (default 14)
    request_days: Annotated[int, msgspec.Meta(ge=1, le=365)] = 14
    #: days after delivery before the request confirms itself (default 3)
    auto_confirm_days: Annotated[int, msgspec.Meta(ge=1, le=60)] = 3
    #: days after delivery during which the buyer may report it (default 3)
    report_days: Annotated[int, msgspec.Meta(ge=1, le=90)] = 3
    #: operators' target for deciding a report, in hours (default 48)
    report_review_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 30)] = 48
    #: hours a prepaid request (or an accepted offer) may wait for its payment before it
    #: is cancelled (default 72)
    unpaid_expiry_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 90)] = 72
    #: what happens to an offer with contact details or links: "block" (default; 422
    #: naming what was found) or "flag" (kept, hidden from the buyer until an operator
    #: approves it)
    offer_screening: Literal["block", "flag"] = "block"
    #: offers one request may receive (default 50)
    max_offers: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 50
    #: longest offer message (default 2000 characters)
    max_offer_message: Annotated[int, msgspec.Meta(ge=1, le=20_000)] = 2000

    def __post_init__(self) -> None:
        if not self.modes:
            raise ValueError("modes: enable at least one of 'prepaid' and 'classic'")
        if self.min_timeframe_hours > self.max_timeframe_hours:
            raise ValueError("min_timeframe_hours must not exceed max_timeframe_hours")
        if not self.min_timeframe_hours <= self.timeframe_hours <= self.max_timeframe_hours:
            raise ValueError("timeframe_hours must lie between min_timeframe_hours and max_timeframe_hours")
        for where, types in [("default_service_types", self.default_service_types)] + [
            (f"service_types.{slug}", types) for slug, types in self.service_types.items()
        ]:
            names = [t.name for t in types]
            if len(set(names)) != len(names):
                raise ValueError(f"{where}: two service types share a name")
            for service in types:
                check_fields(service.fields, f"{where}.{service.name}")
