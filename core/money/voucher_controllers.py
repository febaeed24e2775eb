"""HTTP routes of vouchers: a member's own, redeeming a code, the operators' list.

Always mounted; with ``[vouchers] enabled = false`` issuing and redeeming answer
``404 vouchers_disabled`` while listing and cancelling keep working, so that nobody's
money is stuck in a voucher.
"""

from __future__ import annotations

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from agorakit.accounts.auth import operator_only
from agorakit.http.openapi import problems
from agorakit.http.params import Id, IdempotencyKey, Limit, MemberRequest
from agorakit.money import vouchers
from agorakit.money.amounts import max_amount, parse_money
from agorakit.money.controllers import created_or_replayed
from agorakit.money.schemas import (
    CreateVoucher,
    RedeemedVoucher,
    RedeemVoucher,
    VoucherOut,
    VoucherPage,
    VoucherStatus,
)
from agorakit.pagination import DEFAULT_LIMIT
from agorakit.runtime import Runtime


class MyVouchersController(Controller):
    path = "/me/vouchers"
    tags = ["money"]

    @post(
        "",
        operation_id="issueVoucher",
        responses=problems(404),
        summary="Turn part of your balance into a voucher code (shown once)",
        status_code=HTTP_201_CREATED,
    )
    async def issue(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        data: JSONBody[CreateVoucher],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[VoucherOut]:
        amount, currency = parse_money(
            data.amount, accepted=runtime.currencies, maximum=max_amount(runtime, data.amount.currency)
        )
        voucher, replayed = await vouchers.issue_voucher(
            runtime,
            issuer_id=request.user.id,
            amount=amount,
            currency=currency,
            idempotency_key=idempotency_key,
        )
        return created_or_replayed(voucher, replayed)

    @get("", operation_id="listMyVouchers", summary="Vouchers you issued, newest first")
    async def list_mine(
        self,
        request: MemberRequest,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
        status: FromQuery[VoucherStatus | None] = None,
    ) -> VoucherPage:
        items, next_cursor = await vouchers.list_vouchers(
            cursor=cursor, limit=limit, issuer_id=request.user.id, status=status
        )
        return VoucherPage(items=items, next_cursor=next_cursor)

    @post(
        "/{voucher_id:int}/cancel",
        operation_id="cancelVoucher",
        summary="Take back a voucher nobody redeemed (its value returns where it came from)",
        status_code=HTTP_200_OK,
    )
    async def cancel(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], voucher_id: Id
    ) -> VoucherOut:
        return await vouchers.cancel_voucher(runtime, voucher_id=voucher_id, issuer_id=request.user.id)


class RedeemVoucherController(Controller):
    path = "/vouchers"
    tags = ["money"]

    @post(
        "/redeem",
        operation_id="redeemVoucher",
        responses=problems(403, 404, 429),
        summary="Redeem a voucher code into your credit",
        status_code=HTTP_200_OK,
    )
    async def redeem(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], data: JSONBody[RedeemVoucher]
    ) -> RedeemedVoucher:
        return await vouchers.redeem_voucher(runtime, code=data.code, member_id=request.user.id)


class OperatorVoucherController(Controller):
    path = "/operator/vouchers"
    tags = ["operator"]
    guards = [operator_only]

    @get("", operation_id="operatorListVouchers", summary="All vouchers, newest first")
    async def list_all(
        self,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
        status: FromQuery[VoucherStatus | None] = None,
    ) -> VoucherPage:
        items, next_cursor = await vouchers.list_vouchers(cursor=cursor, limit=limit, status=status)
        return VoucherPage(items=items, next_cursor=next_cursor)
