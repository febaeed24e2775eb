"""Fees: plugins return independent fee lines for a quote; the core adds them up.

``agorakit_compute_fees(runtime, quote)`` is a collecting hook: every fee plugin returns
its own :class:`FeeLine` list, none sees another's result.  A plugin reads its own settings
with ``runtime.plugin_settings("<name>")`` and what is sold from ``quote.context``
(:class:`QuoteContext`).  The core's default is a percentage commission on the seller's
side (:mod:`agorakit.money.commission`).

Rounding: a percentage fee is computed in integer minor units and rounded half up to the
minor unit: ``fee = (amount * hundredths_of_percent + 5000) // 10000``.  20% of 5.00 is
1.00; 20% of 0.03 is 0.006 → 0.01; 20% of 0.02 is 0.004 → 0.00.  Whatever the fees, the
seller's net plus every fee equals exactly what the buyer paid.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

import msgspec

from agorakit.hooks import Hooks
from agorakit.money.account_names import LedgerError
from agorakit.settings import Percent


class QuoteContext(msgspec.Struct, frozen=True, kw_only=True):
    """What a quote is for, beyond its amount: the listing, its category, the parties'
    countries and the quantity.  A field is None when the sale has no such thing (an
    order without a listing, a quote shown to a visitor who is not signed in)."""

    #: the listing ordered
    listing_id: int | None = None
    #: the listing's kind ("gig", ...), as registered with ``agorakit_listing_kinds``
    listing_kind: str | None = None
    #: the slug of the listing's category
    category: str | None = None
    #: ISO 3166-1 alpha-2 country of the seller ("US")
    seller_country: str | None = None
    #: ISO 3166-1 alpha-2 country of the buyer
    buyer_country: str | None = None
    #: how many of the listing are bought (for an order of line items: the largest
    #: quantity of a line)
    quantity: int = 1


class Quote(msgspec.Struct, frozen=True, kw_only=True):
    """What is being sold, for fee plugins to price."""

    #: the price the seller set (line items and quantities included), minor units
    amount: int
    currency: str
    #: the listing kind ("gig", "campaign", "offer", "request", "lead") or "order"
    kind: str = "order"
    buyer_id: int | None = None
    seller_id: int | None = None
    #: the listing, its category, the parties' countries and the quantity
    context: QuoteContext = msgspec.field(default_factory=QuoteContext)


class FeeLine(msgspec.Struct, frozen=True, kw_only=True):
    """One fee: who pays it, how much, and the label shown on statements."""

    payer: Literal["seller", "buyer"]
    amount: int
    label: str
    #: a stable identifier of the fee, e.g. "commission", "service_fee"
    code: str = "fee"


class CommissionDefault(msgspec.Struct, frozen=True, kw_only=True):
    """A listing kind's default commission, declared by the plugin that owns the kind
    (``agorakit_commission_defaults``): the core's commission charges ``percent`` of the
    amount to ``payer`` for quotes of ``kind``, unless the site sets the kind's percent
    in ``[fees] commission_by_kind``."""

    #: the listing kind (``Quote.kind``), e.g. "campaign"
    kind: str
    #: "0" to "100", at most two decimals, e.g. "10" or "12.5"
    percent: Percent
    #: who pays it: the seller (taken from what they receive) or the buyer (on top)
    payer: Literal["seller", "buyer"] = "seller"


class FeeBreakdown(msgspec.Struct, frozen=True):
    amount: int
    currency: str
    lines: list[FeeLine]
    #: what the buyer pays: amount + buyer fees
    buyer_total: int
    #: what the seller receives: amount - seller fees
    seller_net: int
    #: what the platform keeps: every fee
    platform_total: int


def percent_of(amount: int, percent: str | Decimal) -> int:
    """``percent`` % of ``amount`` minor units, rounded half up (percent has ≤ 2 decimals)."""
    hundredths = Decimal(str(percent)) * 100
    if hundredths != hundredths.to_integral_value() or hundredths < 0:
        message = f"percent must be non-negative with at most 2 decimals, got {percent!r}"
        raise ValueError(message)
    return (amount * int(hundredths) + 5000) // 10000


def compute_fees(runtime: Any, quote: Quote) -> FeeBreakdown:
    """Collect every fee plugin's lines for ``quote`` and add them up.

    ``runtime`` is the site's runtime, which the fee plugins receive.  A bare plugin
    manager (``runtime.pm``) or hook facade (``runtime.hooks``) is accepted too, for
    pricing without a site; the plugins then receive ``runtime=None``.
    """
    if isinstance(runtime, Hooks):
        hooks, runtime = runtime, None
    elif hasattr(runtime, "hooks"):
        hooks = runtime.hooks
    else:
        hooks, runtime = Hooks(runtime), None
    lines: list[FeeLine] = []
    for line in hooks.collect_sync("agorakit_compute_fees", runtime=runtime, quote=quote):
        if not isinstance(line, FeeLine) or not isinstance(line.amount, int) or line.amount < 0:
            message = f"a fee plugin returned an invalid fee line: {line!r}"
            raise LedgerError(message)
        if line.amount:
            lines.append(line)
    seller_fees = sum(line.amount for line in lines if line.payer == "seller")
    buyer_fees = sum(line.amount for line in lines if line.payer == "buyer")
    if seller_fees > quote.amount:
        message = f"seller fees {seller_fees} exceed the amount {quote.amount}"
        raise LedgerError(message)
    return FeeBreakdown(
        amount=quote.amount,
        currency=quote.currency,
        lines=lines,
        buyer_total=quote.amount + buyer_fees,
        seller_net=quote.amount - seller_fees,
        platform_total=seller_fees + buyer_fees,
    )
