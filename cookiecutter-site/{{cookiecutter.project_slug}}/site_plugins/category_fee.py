"""category_fee: the site's fee on gigs, lower in the categories it names.

The fee is a percentage of the price, paid by the seller (taken from what they
receive), e.g. 20% everywhere and 10% for logo design. It takes the place of the core's
commission for the listing kinds it prices, so the core charges those kinds nothing:

    [site]
    plugins = ["gigs", "category_fee"]

    [fees]
    commission_by_kind = { gig = "0" }

    [plugins.category_fee]
    percent = "20"
    reduced = { logo-design = "10" }

Other kinds (a microjobs campaign, a lead) keep the core's commission. The plugin stops
start-up while the core would charge one of its kinds too, so no seller pays twice.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import msgspec
from agorakit import hookimpl
from agorakit.money import FeeLine, Quote, percent_of
from agorakit.settings import ConfigError, Percent, SettingsSpec, SettingsStruct

NAME = "category_fee"
#: a category's slug, as the catalog writes them ("logo-design")
Slug = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]


class CategoryFeeSettings(SettingsStruct, frozen=True):
    #: the fee in percent of the price, in every category not in ``reduced`` (default "20")
    percent: Percent = "20"
    #: lower fees by category slug, e.g. { logo-design = "10" }; each below ``percent``
    reduced: dict[Slug, Percent] = {}
    #: the listing kinds it prices (default ["gig"])
    kinds: list[str] = msgspec.field(default_factory=lambda: ["gig"])

    def __post_init__(self) -> None:
        for slug, percent in self.reduced.items():
            if Decimal(percent) >= Decimal(self.percent):
                message = f"reduced: {slug} = {percent!r} is not lower than percent ({self.percent!r})"
                raise ValueError(message)
        if not self.kinds:
            raise ValueError('kinds: name the listing kinds it prices, e.g. ["gig"]')


@hookimpl
def agorakit_settings() -> SettingsSpec:
    return SettingsSpec(name=NAME, type=CategoryFeeSettings)


@hookimpl
def agorakit_startup(runtime: Any) -> None:
    """Refuse to start while the core's commission would charge these kinds as well."""
    settings: CategoryFeeSettings = runtime.plugin_settings(NAME)
    fees = runtime.settings.fees
    if not fees.commission:
        return
    charged = [kind for kind in settings.kinds if Decimal(fees.commission_by_kind.get(kind, "-1")) != 0]
    if charged:
        table = "{ " + ", ".join(f'{kind} = "0"' for kind in charged) + " }"
        message = (
            f"{runtime.settings.source}: plugins.{NAME}: the core's commission charges {', '.join(charged)} "
            f"orders too; set [fees] commission_by_kind = {table} (or commission = false)"
        )
        raise ConfigError(message)


@hookimpl
def agorakit_compute_fees(runtime: Any, quote: Quote) -> list[FeeLine]:
    if runtime is None:  # priced without a site: no settings to read
        return []
    settings: CategoryFeeSettings = runtime.plugin_settings(NAME)
    if quote.kind not in settings.kinds:
        return []
    percent = settings.reduced.get(quote.context.category or "", settings.percent)
    fee = percent_of(quote.amount, percent)
    return [FeeLine(payer="seller", amount=fee, label=f"Site fee ({percent}%)", code="commission")]
