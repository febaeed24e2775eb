"""Bodies of the gigs API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from agorakit.http import RowId
from agorakit.money import Money

ExtraTitle = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
Reason = Annotated[str, msgspec.Meta(max_length=2000)]


class OrderGig(msgspec.Struct, forbid_unknown_fields=True):
    #: titles of the extras wanted (each at most once)
    extras: Annotated[list[ExtraTitle], msgspec.Meta(max_length=50)] = []
    #: units ordered (up to the gig's max_quantity)
    quantity: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 1
    #: the buyer's answer to the gig's requirements (what the seller needs to start)
    requirements: Annotated[str, msgspec.Meta(max_length=5000)] = ""


class QuoteLine(msgspec.Struct):
    kind: Literal["base", "extra"]
    description: str
    unit_price: Money
    quantity: int
    amount: Money


class FeeOut(msgspec.Struct):
    label: str
    payer: Literal["buyer", "seller"]
    amount: Money


class GigQuote(msgspec.Struct):
    listing_id: int
    items: list[QuoteLine]
    #: the gig's price with extras and quantity
    subtotal: Money
    #: every fee, buyer's and seller's (the seller's is taken from their earnings)
    fees: list[FeeOut]
    #: what the buyer pays
    total: Money
    #: what the seller earns on completion
    seller_earns: Money
    #: days the seller has to deliver, counted from the payment
    delivery_days: int
    #: the deadline if the order were paid now
    deadline_if_paid_now: datetime


class Delivery(msgspec.Struct, forbid_unknown_fields=True):
    #: the delivery message to the buyer
    message: Annotated[str, msgspec.Meta(max_length=10_000)] = ""
    #: ids of files uploaded for the order (``POST /attachments`` with scope ``order:<id>``)
    attachments: Annotated[list[RowId], msgspec.Meta(max_length=20)] = []


class ProposeCancellation(msgspec.Struct, forbid_unknown_fields=True):
    #: why the order should be cancelled (shown to the other party)
    reason: Reason


class AnswerCancellation(msgspec.Struct, forbid_unknown_fields=True):
    #: why not (declining only; optional)
    reason: Reason = ""


class CancellationOut(msgspec.Struct):
    id: int
    order_id: int
    proposed_by: int
    proposer_role: Literal["buyer", "seller"]
    reason: str
    status: Literal["open", "accepted", "declined", "withdrawn", "lapsed"]
    answer: str | None
    decided_by: int | None
    created_at: datetime
    decided_at: datetime | None
