"""Operator routes of the bank_transfer plugin, under ``/bank-transfer``."""

from __future__ import annotations

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from agorakit.accounts import operator_only
from agorakit.http import Id, Limit, MemberRequest
from agorakit.money import PaymentOut
from agorakit.pagination import DEFAULT_LIMIT
from agorakit.plugins.bank_transfer import service
from agorakit.plugins.bank_transfer.schemas import (
    BankTransferPayoutBatchOut,
    BankTransferPayoutBatchPage,
    ConfirmPayment,
    CreatePayoutBatch,
)
from agorakit.runtime import Runtime


class BankTransferController(Controller):
    path = "/bank-transfer"
    tags = ["bank transfer"]
    guards = [operator_only]

    @post(
        "/payments/{payment_id:int}/confirm",
        operation_id="bankTransferConfirmPayment",
        summary="Confirm that a bank transfer arrived (settles the payment)",
        status_code=HTTP_200_OK,
    )
    async def confirm_payment(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        payment_id: Id,
        data: JSONBody[ConfirmPayment],
    ) -> PaymentOut:
        return await service.confirm_payment(
            runtime,
            payment_id=payment_id,
            operator_id=request.user.id,
            amount=data.amount,
            reference=data.reference,
        )

    @post(
        "/payout-batches",
        operation_id="bankTransferCreatePayoutBatch",
        summary="Batch every requested bank withdrawal of a currency for payment",
        status_code=HTTP_201_CREATED,
    )
    async def create_batch(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], data: JSONBody[CreatePayoutBatch]
    ) -> BankTransferPayoutBatchOut:
        return await service.create_payout_batch(runtime, currency=data.currency, operator_id=request.user.id)

    @get(
        "/payout-batches",
        operation_id="bankTransferListPayoutBatches",
        summary="Payout batches, newest first",
    )
    async def list_batches(
        self, cursor: FromQuery[str | None] = None, limit: Limit = DEFAULT_LIMIT
    ) -> BankTransferPayoutBatchPage:
        items, next_cursor = await service.list_payout_batches(cursor=cursor, limit=limit)
        return BankTransferPayoutBatchPage(items=items, next_cursor=next_cursor)

    @get("/payout-batches/{ref:str}", operation_id="bankTransferGetPayoutBatch", summary="One payout batch")
    async def get_batch(self, ref: FromPath[str]) -> BankTransferPayoutBatchOut:
        return await service.get_payout_batch(ref)

    @get(
        "/payout-batches/{ref:str}/csv",
        operation_id="bankTransferExportPayoutBatch",
        summary="A payout batch as CSV, to pay from the bank",
        media_type="text/csv",
    )
    async def export_batch(self, ref: FromPath[str]) -> Response[str]:
        text = await service.payout_batch_csv(ref)
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{ref}.csv"'},
        )
