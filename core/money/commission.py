"""The core's default fee plugin: a percentage commission paid by the seller.

Registered ``trylast`` like any other hookimpl.  Configure it in ``[fees]``
(``commission_percent``, ``commission_by_kind``); turn it off with
``commission = false`` when a site's own fee plugin replaces it.
"""

from __future__ import annotations

from typing import Any

from agorakit import hookimpl
from agorakit.money.fees import FeeLine, Quote, percent_of


class Commission:
    def __init__(self, fees: Any) -> None:
        self.fees = fees

    @hookimpl(trylast=True)
    def agorakit_compute_fees(self, quote: Quote) -> list[FeeLine]:
        percent = self.fees.commission_by_kind.get(quote.kind, self.fees.commission_percent)
        amount = percent_of(quote.amount, percent)
        return [FeeLine(payer="seller", amount=amount, label=f"Site fee ({percent}%)", code="commission")]
