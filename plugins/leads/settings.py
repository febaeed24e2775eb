"""Settings of the leads plugin (``[plugins.leads]`` in ``site.toml``).

Every number of the model is here with its default.  Job details are a form per
category (``details_by_category``; a category without its own uses its nearest configured
ancestor's, then ``default_details``), and so is the lead price (``price_by_category``,
then ``default_lead_price``).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from agorakit.catalog import DetailField, check_fields
from agorakit.settings import AmountSetting, SettingsStruct


def _default_details() -> list[DetailField]:
    return [
        DetailField(
            name="when",
            label="When do you need it",
            type="choice",
            choices=["As soon as possible", "Within a week", "Within a month", "I'm flexible"],
        )
    ]


class LeadsSettings(SettingsStruct, frozen=True):
    #: a new job waits for an operator before businesses see it (default true); screening
    #: for contact details and banned words runs either way
    review_required: bool = True
    #: operators' target for reviewing a job, in working hours (Monday-Friday, UTC;
    #: default 24); older ones are overdue in the queue
    review_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 30)] = 24
    #: the job form by category slug (inherited by the categories below)
    details_by_category: dict[str, list[DetailField]] = {}
    #: the form of categories with none configured (default: "when")
    default_details: list[DetailField] = msgspec.field(default_factory=_default_details)
    #: the price a business pays to unlock a lead, by category slug (inherited by the
    #: categories below), in the site's default currency
    price_by_category: dict[str, AmountSetting] = {}
    #: the lead price of categories with none configured (default "15.00")
    default_lead_price: AmountSetting = "15.00"
    #: businesses that may unlock (or be contacted on) one lead (default 5)
    max_unlocks: Annotated[int, msgspec.Meta(ge=1, le=100)] = 5
    #: days after the charge during which a business may report the lead (default 30)
    report_days: Annotated[int, msgspec.Meta(ge=1, le=365)] = 30
    #: operators' target for deciding a report, in hours (default 48)
    report_review_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 30)] = 48
    #: days a job stays open to businesses before it expires (default 30)
    lead_days: Annotated[int, msgspec.Meta(ge=1, le=365)] = 30
    #: hours an unlock paid with an outside method (bank transfer) may wait for its
    #: payment before it is cancelled and its place freed (default 72)
    unpaid_expiry_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 90)] = 72
    #: longest free-text description of a job (default 5000 characters)
    max_text: Annotated[int, msgspec.Meta(ge=100, le=50_000)] = 5000
    #: most categories and service-area entries one business profile holds
    max_profile_categories: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 50
    max_profile_areas: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 200

    def __post_init__(self) -> None:
        check_fields(self.default_details, "default_details")
        for slug, fields in self.details_by_category.items():
            check_fields(fields, f"details_by_category.{slug}")
