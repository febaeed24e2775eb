"""Bodies of the disputes API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from agorakit.money.amounts import AmountText, Money

ReasonCode = Annotated[str, msgspec.Meta(min_length=1, max_length=60, examples=["not_delivered"])]
DisputeText = Annotated[str, msgspec.Meta(max_length=5000)]
Note = Annotated[str, msgspec.Meta(max_length=2000)]


class OpenDispute(msgspec.Struct, forbid_unknown_fields=True):
    #: a reason code of the order's process (``GET /orders/{id}/disputes/reasons``)
    reason: ReasonCode
    #: what went wrong, in the opener's words (at least 10 characters)
    text: DisputeText
    #: the conversation the report is made from (one the opener takes part in): the
    #: evidence captures it as well as the order's own conversation
    conversation_id: Annotated[int, msgspec.Meta(ge=1)] | None = None


class MemberAction(msgspec.Struct, forbid_unknown_fields=True):
    """An action on a member the resolution takes, in its transaction."""

    #: a party of the order or a member of a conversation the evidence holds; not an operator
    member_id: Annotated[int, msgspec.Meta(ge=1)]
    action: Literal["warn", "flag", "suspend"]
    #: the reason (a warned member is told it); default: the resolution's note
    note: Note = ""


class MemberActionOut(msgspec.Struct):
    member_id: int
    action: Literal["warn", "flag", "suspend"]
    note: str


class ResolveDispute(msgspec.Struct, forbid_unknown_fields=True):
    #: refund (to the buyer's credit), release (pay the seller) or reject
    outcome: Literal["refund", "release", "reject"]
    #: the operator's reason, shown to both parties; required to reject
    note: Note = ""
    #: refund only: how much (default everything refundable), in the order's currency
    amount: AmountText | None = None
    #: warn, flag or suspend a member involved in the dispute, with the resolution
    member_action: MemberAction | None = None


class DisputeReason(msgspec.Struct):
    code: str
    label: str


class DisputeReasons(msgspec.Struct):
    reasons: list[DisputeReason]
    #: states in which a dispute may be opened, and who may open one
    states: list[str]
    openers: list[str]
    window_days: float
    #: final states (e.g. completed) in which the order may still be reported, for
    #: ``after_window_days`` after it got there; a refund then comes back from the seller
    after_states: list[str] = msgspec.field(default_factory=list)
    after_window_days: float | None = None


class DisputeOut(msgspec.Struct):
    id: int
    order_id: int
    opened_by: int
    opener_role: str
    reason: str
    reason_label: str
    text: str
    status: Literal["open", "resolved"]
    outcome: Literal["refund", "release", "reject"] | None
    from_state: str
    refund_from: Literal["escrow", "fees", "seller"]
    refunded: Money
    released: Money
    resolution_note: str | None
    resolved_by: int | None
    opened_at: datetime
    due_at: datetime
    resolved_at: datetime | None
    #: open and past its review target
    overdue: bool
    #: what was captured when it was opened: the order, its history, proofs and conversation
    evidence: dict[str, Any]
    #: what the resolution did to a member (shown to operators and to that member)
    member_action: MemberActionOut | None = None


class DisputePage(msgspec.Struct):
    items: list[DisputeOut]
    next_cursor: str | None = None
