"""HTTP routes of the orders area: orders, transitions, history, proofs, timers; the
operators' list of orders, and their ledger views that read orders (the fee income by
kind, the ledger check with the orders' escrows)."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from agorakit.accounts.auth import operator_only
from agorakit.http.openapi import problems
from agorakit.http.params import Id, IdempotencyKey, Limit, MemberRequest
from agorakit.money import parse_amount
from agorakit.money.controllers import created_or_replayed
from agorakit.money.schemas import PaymentOut
from agorakit.orders import engine, proofs, queries, timers
from agorakit.orders.delivery import deliver_order
from agorakit.orders.escrow import ledger_problems
from agorakit.orders.fee_income import fee_income, parse_day
from agorakit.orders.open import open_orders
from agorakit.orders.payments import pay_order
from agorakit.orders.schemas import (
    DeliverOrder,
    FeeIncome,
    FireTransition,
    LedgerCheck,
    OperatorOrderPage,
    OrderHistory,
    OrderOut,
    OrderPage,
    PayOrder,
    ProofOut,
    ReviewProof,
    SubmitProof,
    TimerPage,
)
from agorakit.pagination import DEFAULT_LIMIT
from agorakit.runtime import Runtime

Currency = Annotated[str | None, QueryParameter(pattern=r"^[A-Z]{3}$")]
PriceText = Annotated[str | None, QueryParameter(max_length=32, description='decimal string, e.g. "12.50"')]


class OrderController(Controller):
    path = "/orders"
    tags = ["orders"]

    @get("", operation_id="listMyOrders", summary="Your orders as buyer or seller, newest first")
    async def list_mine(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
        role: FromQuery[Literal["buyer", "seller"] | None] = None,
        order_state: Annotated[str | None, QueryParameter(name="state", max_length=40)] = None,
    ) -> OrderPage:
        items, next_cursor = await queries.list_orders(
            runtime, caller=request.user, cursor=cursor, limit=limit, role=role, state=order_state
        )
        return OrderPage(items=items, next_cursor=next_cursor)

    @get(
        "/open",
        operation_id="listOpenOrders",
        summary="Orders without a seller that you may take, newest first",
    )
    async def list_open(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        process: Annotated[str | None, QueryParameter(max_length=60)] = None,
        category: Annotated[str | None, QueryParameter(max_length=60)] = None,
        currency: Currency = None,
        min_price: PriceText = None,
        max_price: PriceText = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> OrderPage:
        if (min_price or max_price) and not currency:
            currency = runtime.settings.site.currency  # a price means nothing without its currency
        prices = [
            parse_amount(text, currency or "", field=name, allow_zero=True) if text else None
            for name, text in (("min_price", min_price), ("max_price", max_price))
        ]
        items, next_cursor = await open_orders(
            runtime,
            request.user,
            process=process,
            category=category,
            currency=currency,
            min_amount=prices[0],
            max_amount=prices[1],
            cursor=cursor,
            limit=limit,
        )
        return OrderPage(items=items, next_cursor=next_cursor)

    @get("/{order_id:int}", operation_id="getOrder", summary="One order (parties and operators)")
    async def get_one(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], order_id: Id
    ) -> OrderOut:
        return await queries.get_order(runtime, order_id, caller=request.user)

    @get("/{order_id:int}/history", operation_id="getOrderHistory", summary="Every transition of an order")
    async def get_history(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], order_id: Id
    ) -> OrderHistory:
        return OrderHistory(items=await queries.history(runtime, order_id, caller=request.user))

    @post(
        "/{order_id:int}/transitions/{name:str}",
        operation_id="fireTransition",
        summary="Fire a transition of the order's process",
        status_code=HTTP_200_OK,
    )
    async def fire(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        order_id: Id,
        name: FromPath[str],
        data: JSONBody[FireTransition | None] = None,
    ) -> OrderOut:
        return await engine.fire(
            runtime, order_id, name, caller=request.user, data=data.data if data else None
        )

    @post(
        "/{order_id:int}/payments",
        operation_id="payOrder",
        responses=problems(503),
        summary="Pay for the order (its total, with any buyer fees) by a payment method",
        status_code=HTTP_201_CREATED,
    )
    async def pay(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        order_id: Id,
        data: JSONBody[PayOrder],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[PaymentOut]:
        payment, replayed = await pay_order(
            runtime, order_id, caller=request.user, method=data.method, idempotency_key=idempotency_key
        )
        return created_or_replayed(payment, replayed)

    @get("/{order_id:int}/proofs", operation_id="listProofs", summary="Proofs submitted for an order")
    async def proofs(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], order_id: Id
    ) -> list[ProofOut]:
        return await proofs.list_proofs(runtime, order_id, caller=request.user)

    @post(
        "/{order_id:int}/proofs",
        operation_id="submitProof",
        summary="Submit proof of the work (seller)",
        status_code=HTTP_201_CREATED,
    )
    async def submit(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        order_id: Id,
        data: JSONBody[SubmitProof],
    ) -> ProofOut:
        return await proofs.submit_proof(runtime, order_id, data, caller=request.user)

    @post(
        "/{order_id:int}/delivery",
        operation_id="deliverOrder",
        summary="Deliver a fixed-price order (seller): a message and files; marks it delivered",
        status_code=HTTP_200_OK,
    )
    async def deliver(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        order_id: Id,
        data: JSONBody[DeliverOrder],
    ) -> OrderOut:
        return await deliver_order(
            runtime, order_id, message=data.message, attachments=list(data.attachments), caller=request.user
        )

    @post(
        "/{order_id:int}/proofs/{proof_id:int}/review",
        operation_id="reviewProof",
        summary="Accept, reject or ask to correct a proof (buyer)",
        status_code=HTTP_200_OK,
    )
    async def review(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        order_id: Id,
        proof_id: Id,
        data: JSONBody[ReviewProof],
    ) -> ProofOut:
        return await proofs.review_proof(
            runtime, order_id, proof_id, decision=data.decision, reason=data.reason, caller=request.user
        )


class OperatorTimerController(Controller):
    path = "/operator/timers"
    tags = ["operator"]
    guards = [operator_only]

    @get("", operation_id="operatorListTimers", summary="Order timers, e.g. the ones that failed")
    async def list_timers(
        self,
        status: FromQuery[Literal["pending", "fired", "cancelled", "failed"] | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> TimerPage:
        items, next_cursor = await timers.list_timers(status=status, cursor=cursor, limit=limit)
        return TimerPage(items=items, next_cursor=next_cursor)


class OperatorOrderController(Controller):
    path = "/operator/orders"
    tags = ["operator"]
    guards = [operator_only]

    @get("", operation_id="operatorListOrders", summary="Every order, newest first (operators)")
    async def list_orders(
        self,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
        member_id: Annotated[
            int | None, QueryParameter(ge=1, le=2_147_483_647, description="the buyer or the seller")
        ] = None,
        kind: Annotated[
            str | None, QueryParameter(max_length=60, description="the order's process, e.g. gig_order")
        ] = None,
        order_state: Annotated[str | None, QueryParameter(name="state", max_length=40)] = None,
    ) -> OperatorOrderPage:
        items, next_cursor = await queries.operator_orders(
            cursor=cursor, limit=limit, member_id=member_id, kind=kind, state=order_state
        )
        return OperatorOrderPage(items=items, next_cursor=next_cursor)


class OperatorLedgerController(Controller):
    path = "/operator/ledger"
    tags = ["operator"]
    guards = [operator_only]

    @get(
        "/fee-income",
        operation_id="operatorFeeIncome",
        summary="The site's fee income per UTC day and kind over a range (default: the last 30 days)",
    )
    async def fee_income(
        self,
        runtime: NamedDependency[Runtime],
        start: Annotated[
            str | None, QueryParameter(name="from", description="the first UTC day, YYYY-MM-DD")
        ] = None,
        end: Annotated[
            str | None, QueryParameter(name="to", description="the last UTC day, YYYY-MM-DD (default today)")
        ] = None,
        currency: Currency = None,
    ) -> FeeIncome:
        return await fee_income(
            runtime, start=parse_day(start, "from"), end=parse_day(end, "to"), currency=currency
        )

    @post(
        "/check",
        operation_id="operatorCheckLedger",
        summary="Run the ledger check of agorakit check-ledger and answer its problems",
        status_code=HTTP_200_OK,
    )
    async def check(self, runtime: NamedDependency[Runtime]) -> LedgerCheck:
        checked_at = runtime.clock.now()
        problems = await ledger_problems(runtime)
        return LedgerCheck(ok=not problems, checked_at=checked_at, problems=problems)
