"""Settings of the gigs plugin (``[plugins.gigs]`` in ``site.toml``); defaults are the seed's numbers."""

from __future__ import annotations

from typing import Annotated

import msgspec

from agorakit.settings import AmountSetting, SettingsStruct


class GigsSettings(SettingsStruct, frozen=True):
    #: lowest base price of a gig, a decimal string in the listing's currency (default "5.00")
    min_price: AmountSetting = "5.00"
    #: highest price of one extra, in the listing's currency (default "1000.00")
    max_extra_price: AmountSetting = "1000.00"
    #: extras one gig may offer (default 10)
    max_extras: Annotated[int, msgspec.Meta(ge=0, le=50)] = 10
    #: the largest "max quantity" a seller may allow per order (default 20)
    max_quantity: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 20
    #: longest delivery time a seller may promise, in days (default 90)
    max_delivery_days: Annotated[int, msgspec.Meta(ge=1, le=365)] = 90
    #: days after delivery before the order completes by itself (default 3)
    auto_complete_days: Annotated[int, msgspec.Meta(ge=1, le=60)] = 3
    #: hours an order may wait for its payment before it is cancelled (default 72)
    unpaid_expiry_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 90)] = 72
    #: days after delivery during which the buyer may report it (default 3, the auto-completion time)
    report_window_days: Annotated[int, msgspec.Meta(ge=1, le=90)] = 3
    #: operators' target for deciding a report, in hours (default 48)
    report_review_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 30)] = 48
    #: days after completion during which the buyer may still report the order ("marked
    #: complete without a real delivery"); a refund then comes back from the seller (default 14)
    report_after_completion_days: Annotated[int, msgspec.Meta(ge=1, le=365)] = 14
