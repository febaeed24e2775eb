"""Settings of the payouts_paypal plugin (``[plugins.payouts_paypal]`` in ``site.toml``).

The PayPal account itself (credentials, sandbox/live, webhooks) is ``[plugins.paypal]``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import msgspec

from agorakit.settings import AmountSetting, SettingsStruct


class PayoutsPayPalSettings(SettingsStruct, frozen=True):
    #: smallest PayPal withdrawal, a decimal string in each currency's units (default
    #: "15.00", the seed's "PayPal from $15"); rounded up to the currency's minor unit
    payout_minimum: AmountSetting = "15.00"
    #: flat fee the site keeps per PayPal withdrawal, in each currency's units (default
    #: "0.00"); must be below payout_minimum
    payout_fee: AmountSetting = "0.00"
    #: most withdrawals sent in one PayPal payout batch (default 500; PayPal allows 15000)
    batch_max_items: Annotated[int, msgspec.Meta(ge=1, le=15000)] = 500
    #: minutes between two status checks of a batch still in flight (default 10); webhooks
    #: move items sooner, the check catches what webhooks missed
    sync_interval_minutes: Annotated[int, msgspec.Meta(ge=1, le=24 * 60)] = 10
    #: minutes a worker's claim on sending a batch lasts (default 10); a worker that died
    #: while sending is replaced after it, and resending with the same sender_batch_id pays nobody twice
    submit_lease_minutes: Annotated[int, msgspec.Meta(ge=1, le=24 * 60)] = 10
    #: start of every sender_batch_id, to tell this site's batches apart in a shared PayPal
    #: account (default "agorakit-")
    sender_batch_prefix: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{0,24}$")] = "agorakit-"
    #: subject of the email PayPal sends each recipient (default "You have a payout")
    email_subject: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] = "You have a payout"
    #: body of that email; empty = "You have received a payout from <site name>."
    email_message: Annotated[str, msgspec.Meta(max_length=1000)] = ""

    def __post_init__(self) -> None:
        fee, minimum = Decimal(self.payout_fee), Decimal(self.payout_minimum)
        if fee > 0 and fee >= minimum:
            message = (
                f"payout_fee ({self.payout_fee}) must be below payout_minimum ({self.payout_minimum}), "
                "or a withdrawal of the minimum would pay out nothing"
            )
            raise ValueError(message)
