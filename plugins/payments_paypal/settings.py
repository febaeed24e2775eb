"""Settings of the payments_paypal plugin (``[plugins.payments_paypal]`` in ``site.toml``).

The PayPal account itself (credentials, sandbox/live, webhooks) is ``[plugins.paypal]``.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from agorakit.settings import SettingsStruct

Url = Annotated[str, msgspec.Meta(max_length=2000, pattern=r"^(https?://\S+)?$")]


class PaymentsPayPalSettings(SettingsStruct, frozen=True):
    #: hours a PayPal payment waits for the buyer to approve it before it expires (default 3);
    #: a capture PayPal holds as PENDING keeps the payment open until PayPal decides
    approval_hours: Annotated[int, msgspec.Meta(ge=1, le=72)] = 3
    #: the name PayPal shows the buyer; empty = the site's name
    brand_name: Annotated[str, msgspec.Meta(max_length=127)] = ""
    #: where PayPal sends the buyer after approving (your front end's page, which then calls
    #: POST /paypal/payments/{id}/capture); empty = none (PayPal's JS SDK flows need none)
    return_url: Url = ""
    #: where PayPal sends a buyer who cancels; empty = none
    cancel_url: Url = ""
    #: minutes between two checks with PayPal of an unfinished PayPal payment (default 10);
    #: webhooks finish payments sooner, the check catches what webhooks missed
    sync_interval_minutes: Annotated[int, msgspec.Meta(ge=1, le=24 * 60)] = 10
