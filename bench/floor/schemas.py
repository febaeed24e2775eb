"""The floor's errors, request and response bodies (the app's shapes), and money texts."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response


class Problem(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def problem_response(_: Request, exc: Problem) -> Response:
    body = {"type": f"https://agorakit.dev/problems/{exc.code}", "title": exc.code, "status": exc.status}
    body["detail"] = exc.detail
    return Response(body, status_code=exc.status, media_type="application/problem+json")


class Money(msgspec.Struct):
    amount: str
    currency: str


class Rating(msgspec.Struct):
    average: str | None
    count: int


class Seller(msgspec.Struct):
    id: int
    display_name: str
    country: str
    rating: Rating


class ListingOut(msgspec.Struct):
    id: int
    kind: str
    status: str
    title: str
    description: str
    price: Money
    category: str
    attributes: dict[str, Any]
    seller: Seller
    rating: Rating
    created_at: Any
    updated_at: Any
    submitted_at: Any
    published_at: Any
    rejection_reason: str | None


class ListingPage(msgspec.Struct):
    items: list[ListingOut]
    next_cursor: str | None


class ItemOut(msgspec.Struct):
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
    items: list[ItemOut]
    data: dict[str, Any]
    state_entered_at: Any
    created_at: Any
    updated_at: Any
    allowed_transitions: list[str]


class PaymentOut(msgspec.Struct):
    id: int
    payer_id: int
    method: str
    amount: Money
    purpose: str
    escrow_ref: str | None
    status: str
    reference: str
    details: dict[str, Any]
    failure_reason: str | None
    expires_at: Any
    completed_at: Any
    created_at: Any


class WithdrawalOut(msgspec.Struct):
    id: int
    member_id: int
    method: str
    amount: Money
    fee: Money
    net: Money
    destination: dict[str, Any]
    status: str
    batch_ref: str | None
    provider_ref: str | None
    failure_reason: str | None
    completed_at: Any
    created_at: Any
    updated_at: Any
    due_at: Any
    overdue: bool


class OrderGig(msgspec.Struct, forbid_unknown_fields=True):
    extras: list[str] = []
    quantity: int = 1
    requirements: str = ""


class PayOrder(msgspec.Struct):
    method: str


class Delivery(msgspec.Struct, forbid_unknown_fields=True):
    message: str = ""
    attachments: list[int] = []


class Amount(msgspec.Struct):
    amount: str
    currency: str


class CreateWithdrawal(msgspec.Struct):
    method: str
    amount: Amount
    destination: dict[str, Any]


def money(minor: int, currency: str) -> Money:
    units, cents = divmod(abs(minor), 100)
    return Money(f"{'-' if minor < 0 else ''}{units}.{cents:02d}", currency)


def parse_cents(text: str) -> int:
    units, _, fraction = text.partition(".")
    return int(units) * 100 + int((fraction + "00")[:2])


def loads(value: Any) -> Any:
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


def dumps(value: Any) -> str:
    return msgspec.json.encode(value).decode()
