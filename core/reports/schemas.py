"""Bodies of the reports API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

Reason = Literal["abuse", "spam", "off_platform", "minor", "other"]
Action = Literal["warn", "suspend", "dismiss"]
Status = Literal["open", "closed"]
PositiveId = Annotated[int, msgspec.Meta(ge=1, le=2_147_483_647)]


class FileReport(msgspec.Struct, forbid_unknown_fields=True):
    #: a conversation the reporter takes part in
    conversation_id: PositiveId
    reason: Reason
    #: what happened, in the reporter's words (at least 10 characters)
    text: Annotated[str, msgspec.Meta(max_length=5000)]
    #: another participant of the conversation; leave out to report the conversation
    member_id: PositiveId | None = None


class DecideReport(msgspec.Struct, forbid_unknown_fields=True):
    #: warn or suspend the reported member, or dismiss the report
    action: Action
    #: the reason (a warned member is told it); required to warn or suspend
    note: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    #: for a report on a conversation: which of its participants to act on
    member_id: PositiveId | None = None


class ReportOut(msgspec.Struct):
    """A report as its reporter sees it: no details of any action against the other member."""

    id: int
    conversation_id: int
    member_id: int | None
    reason: Reason
    text: str
    status: Status
    #: once closed: "action_taken" or "no_action"
    outcome: Literal["action_taken", "no_action"] | None
    created_at: datetime
    decided_at: datetime | None


class OperatorReportOut(msgspec.Struct):
    """A report as operators see it, with the captured conversation and the decision."""

    id: int
    reporter_id: int
    conversation_id: int
    member_id: int | None
    reason: Reason
    text: str
    status: Status
    action: Action | None
    acted_on: int | None
    decision_note: str | None
    decided_by: int | None
    created_at: datetime
    due_at: datetime
    decided_at: datetime | None
    #: hours since it was filed (to the decision, once decided)
    age_hours: float
    #: open and past the review target (``[reports] review_hours``)
    overdue: bool
    #: the conversation as it was when the report was filed (``conversation_evidence``)
    evidence: dict[str, Any]


class ReportPage(msgspec.Struct):
    items: list[ReportOut]
    next_cursor: str | None = None


class OperatorReportPage(msgspec.Struct):
    items: list[OperatorReportOut]
    next_cursor: str | None = None
