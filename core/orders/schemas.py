"""Request and response bodies of the orders API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from agorakit.http.params import RowId
from agorakit.money.amounts import Money

Url = Annotated[str, msgspec.Meta(max_length=2000, pattern=r"^https?://\S+$")]


class OrderItemOut(msgspec.Struct):
    position: int
    kind: str
    description: str
    unit_price: Money
    quantity: int
    amount: Money


class OrderOut(msgspec.Struct):
    id: int
    process: str
    process_version: int
    state: str
    version: int
    buyer_id: int
    seller_id: int | None
    listing_id: int | None
    amount: Money
    items: list[OrderItemOut]
    data: dict[str, Any]
    state_entered_at: datetime
    created_at: datetime
    updated_at: datetime
    #: transitions the caller may fire now
    allowed_transitions: list[str] = []


class OrderPage(msgspec.Struct):
    items: list[OrderOut]
    next_cursor: str | None


class OperatorOrderOut(msgspec.Struct):
    """An order as a row of the operators' list of orders."""

    id: int
    #: the order's process, which says what model it is: ``gig_order``, ``microjob_task``,
    #: ``prepaid_request``, ``lead_unlock``, ...
    kind: str
    state: str
    buyer_id: int
    buyer_name: str | None
    #: null while the order has no seller (an open prepaid request, a lead's unlock)
    seller_id: int | None
    seller_name: str | None
    listing_id: int | None
    listing_title: str | None
    #: the order's amount: the sum of its items, before buyer fees
    total: Money
    created_at: datetime
    updated_at: datetime


class OperatorOrderPage(msgspec.Struct):
    items: list[OperatorOrderOut]
    next_cursor: str | None


class FeeIncomeDay(msgspec.Struct):
    #: a UTC day, ``YYYY-MM-DD``
    day: str
    #: the day's fee income per kind (an order's process, or ``withdrawal``); refunds of
    #: fees count negatively
    by_kind: dict[str, Money]
    total: Money


class FeeIncome(msgspec.Struct, kw_only=True):
    """What the platform fee account took in over a range of UTC days, both included."""

    currency: str
    #: the first day, ``YYYY-MM-DD``
    from_: str = msgspec.field(name="from")
    #: the last day
    to: str
    #: every day of the range, oldest first, zeros included
    days: list[FeeIncomeDay]
    #: the range's totals per kind
    by_kind: dict[str, Money]
    total: Money


class LedgerCheck(msgspec.Struct):
    """The result of the ledger check ``agorakit check-ledger`` runs."""

    #: true when no problem was found
    ok: bool
    checked_at: datetime
    #: one sentence per problem, as ``agorakit check-ledger`` prints them
    problems: list[str]


class TimerPage(msgspec.Struct):
    items: list[TimerOut]
    next_cursor: str | None


class FireTransition(msgspec.Struct, forbid_unknown_fields=True):
    """Optional facts for the transition (a reason, a note); stored in the history."""

    data: dict[str, Any] = {}


class PayOrder(msgspec.Struct, forbid_unknown_fields=True):
    #: a payment method the site offers (GET /payment-methods)
    method: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class OrderEventOut(msgspec.Struct):
    seq: int
    transition: str
    from_state: str | None
    to_state: str
    actor_role: str
    actor_id: int | None
    data: dict[str, Any]
    at: datetime


class OrderHistory(msgspec.Struct):
    items: list[OrderEventOut]


class SubmitProof(msgspec.Struct, forbid_unknown_fields=True):
    text: Annotated[str, msgspec.Meta(max_length=10_000)] = ""
    urls: Annotated[list[Url], msgspec.Meta(max_length=20)] = []
    #: ids of files uploaded with ``POST /attachments`` (scope ``order:<id>``) by the submitter
    attachments: Annotated[list[RowId], msgspec.Meta(max_length=20)] = []


class DeliverOrder(msgspec.Struct, forbid_unknown_fields=True):
    """A delivery of a fixed-price order: a message and files (at least one of them)."""

    #: the delivery message to the buyer
    message: Annotated[str, msgspec.Meta(max_length=10_000)] = ""
    #: ids of files uploaded for the order (``POST /attachments`` with scope ``order:<id>``)
    attachments: Annotated[list[RowId], msgspec.Meta(max_length=20)] = []


class ReviewProof(msgspec.Struct, forbid_unknown_fields=True):
    decision: Literal["accept", "reject", "request_correction"]
    #: required to reject or to ask for a correction
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class ProofOut(msgspec.Struct):
    id: int
    order_id: int
    submitted_by: int
    text: str
    urls: list[str]
    #: ids of the attached files (``GET /attachments/{id}``)
    attachments: list[int]
    status: str
    review_reason: str | None
    reviewed_by: int | None
    reviewed_at: datetime | None
    created_at: datetime


class TimerOut(msgspec.Struct):
    id: int
    order_id: int
    state: str
    transition: str
    due_at: datetime
    status: str
    attempts: int
    last_error: str | None


class ItemIn(msgspec.Struct, frozen=True, kw_only=True):
    """An order line for :func:`agorakit.orders.create_order` (minor units)."""

    description: str
    unit_price: int
    quantity: int = 1
    kind: str = "base"
