"""The microjobs plugin's events: campaigns funded, stopped and finished, tasks taken,
rated and ended, workers added to groups.

Registered through the plugin's ``agorakit_event_types``; ``subject``
(``campaign:ID`` or ``order:ID``) and ``actor_id`` travel on the envelope.
"""

from __future__ import annotations

from typing import Literal

from agorakit.events import Event


class CampaignCreated(Event, frozen=True, kw_only=True):
    """An employer created a campaign; it waits for its funding."""

    name = "microjobs.campaign_created"
    campaign_id: int
    listing_id: int
    employer_id: int
    mode: str


class CampaignFunded(Event, frozen=True, kw_only=True):
    """A payment into a campaign's escrow settled: its positions are funded."""

    name = "microjobs.campaign_funded"
    campaign_id: int
    employer_id: int
    payment_id: int
    positions: int
    #: minor units paid
    amount: int
    currency: str


class CampaignStopped(Event, frozen=True, kw_only=True):
    """A campaign was stopped (by its employer or an operator); the free positions' money
    went back to the employer's wallet credit."""

    name = "microjobs.campaign_stopped"
    campaign_id: int
    employer_id: int
    positions_refunded: int
    #: minor units returned to the employer's credit
    refunded: int
    currency: str
    by_operator: bool = False
    reason: str = ""


class CampaignFinished(Event, frozen=True, kw_only=True):
    """Every position of a campaign is done."""

    name = "microjobs.campaign_finished"
    campaign_id: int
    employer_id: int
    positions: int


class TaskTaken(Event, frozen=True, kw_only=True):
    """A worker took a position of a campaign (or opened a paid-to-click job)."""

    name = "microjobs.task_taken"
    campaign_id: int
    order_id: int
    worker_id: int
    employer_id: int
    ptc: bool = False


class TaskRated(Event, frozen=True, kw_only=True):
    """The employer (or, after ``auto_satisfy_days``, the worker sweep) rated a proof."""

    name = "microjobs.task_rated"
    campaign_id: int
    order_id: int
    worker_id: int
    employer_id: int
    #: satisfied (paid), correction (one chance to resubmit), unsatisfied (paid anyway,
    #: cannot take the campaign again), auto_satisfied (paid by the sweep)
    outcome: Literal["satisfied", "correction", "unsatisfied", "auto_satisfied"]
    reason: str = ""
    feedback: str = ""


class TaskEnded(Event, frozen=True, kw_only=True):
    """A task ended without pay and freed its position: not submitted in time, not
    corrected in time, given up, or a paid-to-click visit never confirmed."""

    name = "microjobs.task_ended"
    campaign_id: int
    order_id: int
    worker_id: int
    employer_id: int
    outcome: Literal["expired", "abandoned", "given_up", "lapsed"]


class GroupMemberAdded(Event, frozen=True, kw_only=True):
    """An employer added a worker to one of their groups."""

    name = "microjobs.group_member_added"
    group_id: int
    group_name: str
    employer_id: int
    member_id: int


EVENTS = [
    CampaignCreated,
    CampaignFunded,
    CampaignStopped,
    CampaignFinished,
    TaskTaken,
    TaskRated,
    TaskEnded,
    GroupMemberAdded,
]
