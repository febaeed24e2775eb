"""category_fees: the site's commission, a percentage that depends on the category.

Enable it in site.toml and turn the core's own commission off, since this one replaces it:

    [site]
    plugins = ["category_fees"]

    [fees]
    commission = false

    [plugins.category_fees]
    default_percent = "10"
    by_category = { logo-design = "15", translation = "7.5" }
"""

from __future__ import annotations

import re

from agorakit import hookimpl
from agorakit.money import FeeLine, Quote, percent_of
from agorakit.settings import Percent, SettingsSpec, SettingsStruct

NAME = "category_fees"
#: "0" to "100", at most two decimals: what Percent settings accept
PERCENT = re.compile(r"100|\d{1,2}(\.\d{1,2})?")


class CategoryFeesSettings(SettingsStruct):
    #: the commission in percent where the category has no rate of its own
    default_percent: Percent = "10"
    #: the commission in percent by category slug
    by_category: dict[str, str] = {}

    def __post_init__(self) -> None:
        for slug, percent in self.by_category.items():
            if not PERCENT.fullmatch(percent):
                message = f'by_category: {slug} = {percent!r} is not a percentage from 0 to 100 (e.g. "7.5")'
                raise ValueError(message)


@hookimpl
def agorakit_settings() -> SettingsSpec:
    return SettingsSpec(name=NAME, type=CategoryFeesSettings)


@hookimpl
def agorakit_compute_fees(runtime, quote: Quote) -> list[FeeLine]:
    settings: CategoryFeesSettings = runtime.plugin_settings(NAME)
    percent = settings.by_category.get(quote.context.category or "", settings.default_percent)
    return [
        FeeLine(
            payer="seller",
            amount=percent_of(quote.amount, percent),
            label=f"Commission ({percent}%)",
            code="commission",
        )
    ]
