"""Bodies of the microjobs API.

Struct names carry the plugin's prefix (``Microjobs...``) where a name could collide
with another area's in the OpenAPI document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from agorakit.http import RowId
from agorakit.money import Money

Mode = Literal["basic", "international", "limited", "hired_group", "ptc"]
Country = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")]
FieldName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$", examples=["screenshot"])]
Text2000 = Annotated[str, msgspec.Meta(max_length=2000)]
Step = Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
Slug = Annotated[str, msgspec.Meta(min_length=1, max_length=120, pattern=r"^[a-z0-9][a-z0-9/-]*$")]


class ProofField(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One thing a worker must submit as proof."""

    #: identifier of the answer, e.g. "username"; unique in the campaign
    name: FieldName
    #: what the worker is asked, e.g. "Your username on the site"
    label: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    #: text: a written answer; url: a link (http or https); file: uploaded files
    type: Literal["text", "url", "file"] = "text"
    required: bool = True


class CampaignAttributes(msgspec.Struct, forbid_unknown_fields=True):
    """The ``attributes`` of a ``campaign`` listing: what a worker reads and submits."""

    #: the steps a worker follows, in order
    instructions: Annotated[list[Step], msgspec.Meta(min_length=1, max_length=30)]
    #: what a worker submits as proof (empty only for paid-to-click campaigns)
    proof: Annotated[list[ProofField], msgspec.Meta(max_length=20)] = []


class CreateCampaign(msgspec.Struct, forbid_unknown_fields=True):
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    description: Annotated[str, msgspec.Meta(min_length=1, max_length=10_000)]
    #: slug of the category
    category: Slug
    #: what a worker earns per task, e.g. {"amount": "0.50", "currency": "USD"}
    reward: Money
    #: how many workers may do it
    positions: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
    mode: Mode
    instructions: Annotated[list[Step], msgspec.Meta(min_length=1, max_length=30)]
    proof: Annotated[list[ProofField], msgspec.Meta(max_length=20)] = []
    #: minutes a worker has to submit after taking a position (default: the site's)
    submit_minutes: Annotated[int, msgspec.Meta(ge=1, le=60 * 24 * 30)] | None = None
    #: ``limited``: who may do it (ISO 3166-1 alpha-2 codes from the site's allowed list)
    countries: Annotated[list[Country], msgspec.Meta(max_length=250)] = []
    #: ``hired_group``: the id of one of your groups
    group_id: RowId | None = None
    #: ``ptc``: the page the worker visits (http or https)
    url: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    #: how to pay the budget: "balance" (wallet credit first, then earned balance) or any
    #: enabled payment method
    method: Annotated[str, msgspec.Meta(min_length=1, max_length=40)] = "balance"


class AddPositions(msgspec.Struct, forbid_unknown_fields=True):
    positions: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
    method: Annotated[str, msgspec.Meta(min_length=1, max_length=40)] = "balance"


class PayCampaign(msgspec.Struct, forbid_unknown_fields=True):
    """Pay the first funding again (after a payment expired or was cancelled)."""

    method: Annotated[str, msgspec.Meta(min_length=1, max_length=40)] = "balance"


class StopCampaign(msgspec.Struct, forbid_unknown_fields=True):
    #: operators say why (told to the employer)
    reason: Text2000 = ""


class CampaignBudget(msgspec.Struct, kw_only=True):
    """The money of a campaign, in the campaign's currency."""

    #: what a worker earns per task, before worker fees
    reward: Money
    #: the site's fee per position, paid by the employer
    fee_per_position: Money
    #: what one position costs the employer: reward + fee
    per_position: Money
    #: what a worker receives per task: reward - worker fees
    worker_earns: Money
    #: what the campaign's escrow holds now (free positions)
    escrow: Money


class CampaignOut(msgspec.Struct, kw_only=True):
    id: int
    listing_id: int
    employer_id: int
    title: str
    category: str
    mode: Mode
    #: who may do it: the basic countries, or the employer's countries (empty = everyone)
    countries: list[str]
    group_id: int | None
    state: Literal["awaiting_funds", "pending_review", "active", "paused", "rejected", "stopped", "finished"]
    #: funded positions, taken (in progress or done), done, and free
    positions: int
    taken: int
    done: int
    free: int
    #: positions the first funding pays for (while awaiting funds)
    requested: int
    submit_minutes: int
    url: str | None
    budget: CampaignBudget
    #: the open payment of a funding still waiting (bank transfer), if any
    pending_payment_id: int | None = None
    created_at: datetime
    updated_at: datetime
    stopped_at: datetime | None = None


class CampaignPage(msgspec.Struct):
    items: list[CampaignOut]
    next_cursor: str | None


class JobOut(msgspec.Struct, kw_only=True):
    """A campaign as a worker sees it in the job list."""

    campaign_id: int
    listing_id: int
    title: str
    description: str
    category: str
    mode: Mode
    #: what the worker earns per task (after worker fees)
    earns: Money
    free_positions: int
    positions: int
    submit_minutes: int
    instructions: list[str]
    proof: list[ProofField]
    employer_id: int
    employer_name: str
    published_at: datetime | None = None
    #: the caller's task in it, if they took one
    my_task_id: int | None = None


class JobPage(msgspec.Struct):
    items: list[JobOut]
    next_cursor: str | None


class Answer(msgspec.Struct, forbid_unknown_fields=True):
    """The answer to one proof field: ``value`` for text and url, ``attachments`` for file."""

    field: FieldName
    value: Annotated[str, msgspec.Meta(max_length=5000)] = ""
    attachments: Annotated[list[RowId], msgspec.Meta(max_length=20)] = []


class SubmitTaskProof(msgspec.Struct, forbid_unknown_fields=True):
    answers: Annotated[list[Answer], msgspec.Meta(max_length=20)]


class RateTask(msgspec.Struct, forbid_unknown_fields=True):
    satisfied: bool
    #: required when not satisfied: what is wrong (the worker reads it)
    reason: Text2000 = ""
    #: optional feedback on the work
    feedback: Text2000 = ""


class TaskOut(msgspec.Struct, kw_only=True):
    id: int
    order_id: int
    campaign_id: int
    campaign_title: str
    worker_id: int
    employer_id: int
    ptc: bool
    status: str
    answers: dict[str, object]
    corrections: int
    reason: str | None
    feedback: str | None
    auto: bool
    #: what the worker earns (after worker fees)
    earns: Money
    #: when a taken task must be submitted, or a correction resubmitted
    due_at: datetime | None = None
    visited_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    rated_at: datetime | None = None


class TaskPage(msgspec.Struct):
    items: list[TaskOut]
    next_cursor: str | None


class VisitOut(msgspec.Struct, kw_only=True):
    """A paid-to-click visit: open ``go_url`` in the browser, then confirm."""

    task: TaskOut
    #: the site's redirect to the employer's page; opening it records the visit
    go_url: str
    #: seconds the worker must stay before confirming
    confirm_after_seconds: int


class WorkerStats(msgspec.Struct, kw_only=True):
    member_id: int
    #: tasks rated: satisfied + not satisfied + refunded by a dispute (paid-to-click excluded)
    rated: int
    #: satisfied by the employer, automatically, or by a dispute's release
    satisfied: int
    #: satisfied / rated in percent, one decimal, rounded down ("74.9"); null without rated
    #: tasks.  Rules compare exact integers: satisfied x 100 >= minimum x rated
    success_rate: str | None
    #: tasks in progress (taken, submitted, correcting, disputed)
    in_progress: int
    #: paid-to-click visits paid
    clicks: int


class GroupIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]


class GroupMemberIn(msgspec.Struct, forbid_unknown_fields=True):
    member_id: RowId


class GroupOut(msgspec.Struct, kw_only=True):
    id: int
    name: str
    employer_id: int
    members: int
    created_at: datetime


class GroupMemberOut(msgspec.Struct, kw_only=True):
    member_id: int
    display_name: str
    added_at: datetime


class MembershipOut(msgspec.Struct, kw_only=True):
    """A group the caller is in."""

    group_id: int
    group_name: str
    employer_id: int
    employer_name: str
    added_at: datetime


class WorkerOut(msgspec.Struct, kw_only=True):
    """A worker in an employer's workers list (did one of their tasks)."""

    member_id: int
    display_name: str
    country: str
    tasks: int
    satisfied: int


class SkillsIn(msgspec.Struct, forbid_unknown_fields=True):
    #: category slugs
    categories: Annotated[list[Slug], msgspec.Meta(max_length=100)]


class SkillsOut(msgspec.Struct):
    categories: list[str]
