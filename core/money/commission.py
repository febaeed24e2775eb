"""The core's default fee plugin: a percentage commission, by default paid by the seller.

Registered ``trylast`` like any other hookimpl.  For a quote's kind the percent and who
pays it come from, in order: ``[fees] commission_by_kind`` (the site's percent; the
payer is the kind's plugin default's, else the seller), the kind's default a plugin
declares with ``agorakit_commission_defaults``, and ``[fees] commission_percent`` paid
by the seller.  Turn it off with ``commission = false`` when a site's own fee plugin
replaces it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import msgspec

from agorakit import hookimpl
from agorakit.money.fees import CommissionDefault, FeeLine, Quote, percent_of
from agorakit.settings import ConfigError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from agorakit.runtime import Runtime


def commission_defaults(runtime: Runtime) -> dict[str, CommissionDefault]:
    """The kinds' default commissions the plugins declare, checked: by kind."""
    source = runtime.settings.source
    found: dict[str, CommissionDefault] = {}
    for item in runtime.hooks.collect_sync("agorakit_commission_defaults"):
        if not isinstance(item, CommissionDefault):
            message = f"{source}: agorakit_commission_defaults returned {item!r}, not a CommissionDefault"
            raise ConfigError(message)
        try:
            checked = msgspec.convert(msgspec.to_builtins(item), CommissionDefault)
        except msgspec.ValidationError as exc:
            message = f"{source}: the default commission of kind {item.kind!r}: {exc}"
            raise ConfigError(message) from exc
        if checked.kind in found:
            message = f"{source}: two plugins declare a default commission for the kind {checked.kind!r}"
            raise ConfigError(message)
        found[checked.kind] = checked
    return found


class Commission:
    def __init__(self, fees: Any, defaults: dict[str, CommissionDefault] | None = None) -> None:
        self.fees = fees
        self.defaults = defaults or {}

    def rate(self, kind: str) -> tuple[str, Literal["seller", "buyer"]]:
        """``(percent, payer)`` of the commission on a quote of ``kind``."""
        default = self.defaults.get(kind)
        payer: Literal["seller", "buyer"] = default.payer if default is not None else "seller"
        site = self.fees.commission_by_kind.get(kind)
        if site is not None:
            return site, payer
        if default is not None:
            return default.percent, payer
        return self.fees.commission_percent, "seller"

    @hookimpl(trylast=True)
    def agorakit_compute_fees(self, quote: Quote) -> list[FeeLine]:
        percent, payer = self.rate(quote.kind)
        amount = percent_of(quote.amount, percent)
        return [FeeLine(payer=payer, amount=amount, label=f"Site fee ({percent}%)", code="commission")]
