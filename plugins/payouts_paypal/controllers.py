"""Operator routes of the payouts_paypal plugin, under ``/paypal/payouts``."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.status_codes import HTTP_200_OK

from agorakit.accounts import operator_only
from agorakit.http import Id, Limit, MemberRequest, problem
from agorakit.pagination import DEFAULT_LIMIT
from agorakit.plugins.payouts_paypal import service, store
from agorakit.plugins.payouts_paypal.schemas import (
    PayoutItemOut,
    PayoutRunOut,
    PaypalPayoutBatchOut,
    PaypalPayoutBatchPage,
)
from agorakit.runtime import Runtime


class PayPalPayoutsController(Controller):
    path = "/paypal/payouts"
    tags = ["paypal"]
    guards = [operator_only]

    @get("/batches", operation_id="paypalListPayoutBatches", summary="PayPal payout batches, newest first")
    async def list_batches(
        self,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
        status: FromQuery[str | None] = None,
    ) -> PaypalPayoutBatchPage:
        items, next_cursor = await store.list_batches(cursor=cursor, limit=limit, status=status)
        return PaypalPayoutBatchPage(items=items, next_cursor=next_cursor)

    @get(
        "/batches/{batch_id:int}",
        operation_id="paypalGetPayoutBatch",
        summary="One PayPal payout batch with its PayPal ids and items",
    )
    async def get_batch(self, batch_id: Id) -> PaypalPayoutBatchOut:
        return await store.get_batch(batch_id)

    @post(
        "/batches/{batch_id:int}/sync",
        operation_id="paypalSyncPayoutBatch",
        responses={503: problem(503)},
        summary="Ask PayPal now for a batch's status (the worker does it regularly)",
        status_code=HTTP_200_OK,
    )
    async def sync_batch(self, runtime: NamedDependency[Runtime], batch_id: Id) -> PaypalPayoutBatchOut:
        return await service.sync_now(runtime, batch_id)

    @post(
        "/run",
        operation_id="paypalRunPayouts",
        responses={503: problem(503)},
        summary="Batch, send and sync PayPal withdrawals now (what the worker does each sweep)",
        status_code=HTTP_200_OK,
    )
    async def run(self, runtime: NamedDependency[Runtime]) -> PayoutRunOut:
        return PayoutRunOut(**await service.run(runtime))

    @get(
        "/withdrawals/{withdrawal_id:int}",
        operation_id="paypalGetPayoutItem",
        summary="A withdrawal's PayPal payout item (PayPal ids, status, error)",
    )
    async def get_item(self, withdrawal_id: Id) -> PayoutItemOut:
        return await store.get_item(withdrawal_id)

    @post(
        "/withdrawals/{withdrawal_id:int}/cancel",
        operation_id="paypalCancelUnclaimedPayout",
        responses={503: problem(503)},
        summary="Cancel an unclaimed PayPal payout (the money returns, the withdrawal fails)",
        status_code=HTTP_200_OK,
    )
    async def cancel(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], withdrawal_id: Id
    ) -> PayoutItemOut:
        return await service.cancel_unclaimed(
            runtime, withdrawal_id=withdrawal_id, operator_id=request.user.id
        )
