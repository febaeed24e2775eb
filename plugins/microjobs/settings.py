"""Settings of the microjobs plugin (``[plugins.microjobs]`` in ``site.toml``).

Every number of the model is here, with the seed's default.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from agorakit.settings import AmountSetting, SettingsStruct

Mode = Literal["basic", "international", "limited", "hired_group", "ptc"]
MODES: tuple[Mode, ...] = ("basic", "international", "limited", "hired_group", "ptc")
Country = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")]


class MicrojobsSettings(SettingsStruct, frozen=True):
    #: the campaign modes employers may choose (default: all five)
    modes: list[Mode] = msgspec.field(default_factory=lambda: list(MODES))
    #: countries whose members may do a ``basic`` campaign (default US, GB, AU, CA)
    basic_countries: list[Country] = msgspec.field(default_factory=lambda: ["US", "GB", "AU", "CA"])
    #: countries an employer may pick for a ``limited`` campaign (empty = every country)
    allowed_countries: list[Country] = []
    #: a new campaign waits for an operator before workers see it (default true)
    review_required: bool = True
    #: lowest reward per task, in the campaign's currency (default "0.10")
    min_reward: AmountSetting = "0.10"
    #: most positions one campaign may have (default 10000)
    max_positions: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 10_000
    #: minutes a worker has to submit after taking a position, when the employer does
    #: not choose (default 60); an expired take frees the position
    submit_minutes: Annotated[int, msgspec.Meta(ge=1, le=60 * 24 * 30)] = 60
    #: the shortest and longest time an employer may give (default 5 minutes, 7 days)
    min_submit_minutes: Annotated[int, msgspec.Meta(ge=1, le=60 * 24 * 30)] = 5
    max_submit_minutes: Annotated[int, msgspec.Meta(ge=1, le=60 * 24 * 30)] = 60 * 24 * 7
    #: hours a worker has to correct and resubmit a proof the employer was not satisfied
    #: with (default 72); not resubmitting ends the task unpaid and frees the position
    correction_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 60)] = 72
    #: days after which a proof the employer has not rated is satisfied and paid (default 7)
    auto_satisfy_days: Annotated[int, msgspec.Meta(ge=1, le=90)] = 7
    #: seconds a paid-to-click worker must stay on the employer's page before confirming
    #: (default 10)
    ptc_min_seconds: Annotated[int, msgspec.Meta(ge=0, le=3600)] = 10
    #: minutes a paid-to-click visit stays open for its confirmation (default 60)
    ptc_visit_minutes: Annotated[int, msgspec.Meta(ge=1, le=60 * 24)] = 60
    #: balance a worker needs before withdrawing, in the site currency (default "10.00")
    min_withdrawal: AmountSetting = "10.00"
    #: success rate (percent of rated tasks satisfied) a worker needs to withdraw
    #: (default 75); a worker with no rated task has no rate and passes only when this is 0
    min_success_rate: Annotated[int, msgspec.Meta(ge=0, le=100)] = 75
    #: who the success-rate rule holds: "workers" (default): members who have taken a
    #: task, so employers and sellers of offers (or gigs) withdraw their sales with the
    #: balance rule alone; "everyone": every member, a seller with no rated task included
    success_rate_applies_to: Literal["everyone", "workers"] = "workers"
    #: days a dispute about a task may be opened after its proof was submitted or rated
    #: (default 7), and operators' target for deciding it in hours (default 48)
    dispute_window_days: Annotated[int, msgspec.Meta(ge=1, le=90)] = 7
    dispute_review_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 30)] = 48
    #: free sell/exchange offers: on (default true), and their order timings
    offers: bool = True
    offer_auto_complete_days: Annotated[int, msgspec.Meta(ge=1, le=60)] = 3
    offer_unpaid_expiry_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 90)] = 72
    #: most groups one employer may have, and members in one group (defaults 50, 1000)
    max_groups: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 50
    max_group_members: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 1000
