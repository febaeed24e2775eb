"""HTTP routes of the money area: balances, statements, deposits, withdrawals, operators."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from agorakit.accounts.auth import operator_only
from agorakit.accounts.roles import is_operator
from agorakit.accounts.service import get_member
from agorakit.http.openapi import problems
from agorakit.http.params import Id, IdempotencyKey, Limit, MemberRequest
from agorakit.money import balances, payments, withdrawals
from agorakit.money.amounts import max_amount, money, parse_money
from agorakit.money.methods import unavailable_reason
from agorakit.money.schemas import (
    AccountOut,
    Balance,
    CompleteWithdrawal,
    CreateDeposit,
    CreateWithdrawal,
    FailWithdrawal,
    LedgerTotals,
    MethodOut,
    PaymentOut,
    PaymentPage,
    PaymentStatus,
    PayoutMethodOut,
    Statement,
    WithdrawalOut,
    WithdrawalPage,
    WithdrawalStatus,
)
from agorakit.pagination import DEFAULT_LIMIT
from agorakit.runtime import Runtime

Currency = Annotated[str | None, QueryParameter(pattern=r"^[A-Z]{3}$")]
#: ``?member_id=``: only the member's own (payments they made, withdrawals they asked)
MemberFilter = Annotated[int | None, QueryParameter(ge=1, le=2_147_483_647, description="only this member's")]


def created_or_replayed(body: Any, replayed: bool) -> Response:
    if replayed:
        return Response(body, status_code=HTTP_200_OK, headers={"Idempotent-Replayed": "true"})
    return Response(body, status_code=HTTP_201_CREATED)


class BalanceController(Controller):
    path = "/me"
    tags = ["money"]

    @get("/balance", operation_id="getBalance", summary="Your balances per currency")
    async def balance(self, request: MemberRequest, runtime: NamedDependency[Runtime]) -> Balance:
        items = await balances.member_balances(
            request.user.id, default_currency=runtime.settings.site.currency
        )
        return Balance(balances=items)

    @get("/ledger", operation_id="getStatement", summary="Your money movements, newest first")
    async def statement(
        self, request: MemberRequest, cursor: FromQuery[str | None] = None, limit: Limit = DEFAULT_LIMIT
    ) -> Statement:
        items, next_cursor = await balances.statement(request.user.id, cursor=cursor, limit=limit)
        return Statement(items=items, next_cursor=next_cursor)


class MethodsController(Controller):
    tags = ["money"]

    @get(
        "/payment-methods",
        operation_id="listPaymentMethods",
        summary="Pay-in methods this site offers, and whether each can be used now",
        opt={"exclude_from_auth": True},
    )
    async def payment_methods(self, runtime: NamedDependency[Runtime]) -> list[MethodOut]:
        out = []
        for m in runtime.payment_methods.values():
            reason = unavailable_reason(m)
            out.append(MethodOut(name=m.name, label=m.label, available=not reason, unavailable_reason=reason))
        return out

    @get(
        "/payout-methods",
        operation_id="listPayoutMethods",
        summary="Withdrawal methods, minimums, fees, and whether each can be used now",
        opt={"exclude_from_auth": True},
    )
    async def payout_methods(self, runtime: NamedDependency[Runtime]) -> list[PayoutMethodOut]:
        out = []
        for m in runtime.payout_methods.values():
            reason = unavailable_reason(m)
            out.append(
                PayoutMethodOut(
                    name=m.name,
                    label=m.label,
                    minimums=[money(m.minimum(c), c) for c in runtime.currencies],
                    fee=m.fee_description(runtime.settings.site.currency),
                    destination_fields=list(m.destination_fields),
                    available=not reason,
                    unavailable_reason=reason,
                )
            )
        return out


class PaymentController(Controller):
    path = "/payments"
    tags = ["money"]

    @post(
        "",
        operation_id="createDeposit",
        responses=problems(503),
        summary="Add money to your credit balance",
        status_code=HTTP_201_CREATED,
    )
    async def create(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        data: JSONBody[CreateDeposit],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[PaymentOut]:
        amount, currency = parse_money(
            data.amount, accepted=runtime.currencies, maximum=max_amount(runtime, data.amount.currency)
        )
        payment, replayed = await payments.start_payment(
            runtime,
            payer_id=request.user.id,
            method=data.method,
            amount=amount,
            currency=currency,
            purpose="deposit",
            idempotency_key=idempotency_key,
        )
        return created_or_replayed(payment, replayed)

    @get("", operation_id="listMyPayments", summary="Your payments, newest first")
    async def list_mine(
        self,
        request: MemberRequest,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
        status: FromQuery[PaymentStatus | None] = None,
    ) -> PaymentPage:
        items, next_cursor = await payments.list_payments(
            cursor=cursor, limit=limit, payer_id=request.user.id, status=status
        )
        return PaymentPage(items=items, next_cursor=next_cursor)

    @get("/{payment_id:int}", operation_id="getPayment", summary="One of your payments")
    async def get_one(self, request: MemberRequest, payment_id: Id) -> PaymentOut:
        payer = None if is_operator(request.user) else request.user.id
        return await payments.get_payment(payment_id, payer_id=payer)

    @post(
        "/{payment_id:int}/cancel",
        operation_id="cancelPayment",
        summary="Cancel a payment not yet paid",
        status_code=HTTP_200_OK,
    )
    async def cancel(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], payment_id: Id
    ) -> PaymentOut:
        return await payments.cancel_payment(runtime, payment_id=payment_id, payer_id=request.user.id)


class WithdrawalController(Controller):
    path = "/withdrawals"
    tags = ["money"]

    @post(
        "",
        operation_id="createWithdrawal",
        responses=problems(503),
        summary="Withdraw from your available balance",
        status_code=HTTP_201_CREATED,
    )
    async def create(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        data: JSONBody[CreateWithdrawal],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[WithdrawalOut]:
        amount, currency = parse_money(
            data.amount, accepted=runtime.currencies, maximum=max_amount(runtime, data.amount.currency)
        )
        withdrawal, replayed = await withdrawals.request_withdrawal(
            runtime,
            member=request.user,
            method=data.method,
            amount=amount,
            currency=currency,
            destination=data.destination,
            idempotency_key=idempotency_key,
        )
        return created_or_replayed(withdrawal, replayed)

    @get("", operation_id="listMyWithdrawals", summary="Your withdrawals, newest first")
    async def list_mine(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
        status: FromQuery[WithdrawalStatus | None] = None,
    ) -> WithdrawalPage:
        items, next_cursor = await withdrawals.list_withdrawals(
            now=runtime.clock.now(), cursor=cursor, limit=limit, member_id=request.user.id, status=status
        )
        return WithdrawalPage(items=items, next_cursor=next_cursor)

    @get("/{withdrawal_id:int}", operation_id="getWithdrawal", summary="One of your withdrawals")
    async def get_one(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], withdrawal_id: Id
    ) -> WithdrawalOut:
        member = None if is_operator(request.user) else request.user.id
        return await withdrawals.get_withdrawal(withdrawal_id, now=runtime.clock.now(), member_id=member)

    @post(
        "/{withdrawal_id:int}/cancel",
        operation_id="cancelWithdrawal",
        summary="Take back a withdrawal not yet sent",
        status_code=HTTP_200_OK,
    )
    async def cancel(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], withdrawal_id: Id
    ) -> WithdrawalOut:
        return await withdrawals.cancel_withdrawal(
            runtime, withdrawal_id=withdrawal_id, member_id=request.user.id
        )


class OperatorMoneyController(Controller):
    path = "/operator"
    tags = ["operator"]
    guards = [operator_only]

    @get("/payments", operation_id="operatorListPayments", summary="All payments, newest first")
    async def list_payments(
        self,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
        status: FromQuery[PaymentStatus | None] = None,
        method: FromQuery[str | None] = None,
        member_id: MemberFilter = None,
    ) -> PaymentPage:
        items, next_cursor = await payments.list_payments(
            cursor=cursor, limit=limit, status=status, method=method, payer_id=member_id
        )
        return PaymentPage(items=items, next_cursor=next_cursor)

    @get("/withdrawals", operation_id="operatorListWithdrawals", summary="Withdrawals, oldest first")
    async def list_withdrawals(
        self,
        runtime: NamedDependency[Runtime],
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
        status: FromQuery[WithdrawalStatus | None] = None,
        method: FromQuery[str | None] = None,
        overdue: FromQuery[bool | None] = None,
        member_id: MemberFilter = None,
    ) -> WithdrawalPage:
        """``overdue=true``: only withdrawals still requested or processing after their
        due date (``due_at``); ``overdue=false``: only the others."""
        items, next_cursor = await withdrawals.list_withdrawals(
            now=runtime.clock.now(),
            cursor=cursor,
            limit=limit,
            status=status,
            method=method,
            overdue=overdue,
            member_id=member_id,
            oldest_first=True,
        )
        return WithdrawalPage(items=items, next_cursor=next_cursor)

    @post(
        "/withdrawals/{withdrawal_id:int}/complete",
        operation_id="operatorCompleteWithdrawal",
        summary="Mark a manually paid withdrawal as completed",
        status_code=HTTP_200_OK,
    )
    async def complete(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        withdrawal_id: Id,
        data: JSONBody[CompleteWithdrawal],
    ) -> WithdrawalOut:
        withdrawals.check_manual(
            runtime, await withdrawals.get_withdrawal(withdrawal_id, now=runtime.clock.now())
        )
        return await withdrawals.complete_withdrawal(
            runtime, withdrawal_id=withdrawal_id, actor_id=request.user.id, provider_ref=data.provider_ref
        )

    @post(
        "/withdrawals/{withdrawal_id:int}/fail",
        operation_id="operatorFailWithdrawal",
        summary="Mark a withdrawal as failed (the money returns to the member)",
        status_code=HTTP_200_OK,
    )
    async def fail(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        withdrawal_id: Id,
        data: JSONBody[FailWithdrawal],
    ) -> WithdrawalOut:
        withdrawals.check_manual(
            runtime, await withdrawals.get_withdrawal(withdrawal_id, now=runtime.clock.now())
        )
        return await withdrawals.fail_withdrawal(
            runtime, withdrawal_id=withdrawal_id, actor_id=request.user.id, reason=data.reason
        )

    @get(
        "/ledger/accounts/{name:str}",
        operation_id="operatorGetAccount",
        summary="A ledger account's balance and entries",
    )
    async def account(
        self,
        runtime: NamedDependency[Runtime],
        name: FromPath[str],
        currency: Currency = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> AccountOut:
        return await balances.account_view(
            name, currency or runtime.settings.site.currency, cursor=cursor, limit=limit
        )

    @get(
        "/members/{member_id:int}/balance",
        operation_id="operatorMemberBalance",
        summary="A member's balances per currency, as GET /me/balance shows them to the member",
    )
    async def member_balance(self, runtime: NamedDependency[Runtime], member_id: Id) -> Balance:
        await get_member(runtime, member_id)  # 404 for an unknown member
        items = await balances.member_balances(member_id, default_currency=runtime.settings.site.currency)
        return Balance(balances=items)

    @get("/ledger/totals", operation_id="operatorLedgerTotals", summary="Platform totals per currency")
    async def totals(self) -> LedgerTotals:
        return LedgerTotals(totals=await balances.platform_totals())
