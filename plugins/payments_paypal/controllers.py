"""Buyer routes of the payments_paypal plugin, under ``/paypal/payments``."""

from __future__ import annotations

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.status_codes import HTTP_200_OK

from agorakit.http import Id, MemberRequest, problem
from agorakit.money import PaymentOut
from agorakit.plugins.payments_paypal import service
from agorakit.plugins.payments_paypal.schemas import CheckoutOut
from agorakit.runtime import Runtime

#: PayPal refused the request (502) or did not answer (503)
_PAYPAL_PROBLEMS = {502: problem(502), 503: problem(503)}


class PayPalCheckoutController(Controller):
    path = "/paypal/payments"
    tags = ["paypal"]

    @post(
        "/{payment_id:int}/checkout",
        operation_id="paypalCheckout",
        responses=_PAYPAL_PROBLEMS,
        summary="The PayPal order of your PayPal payment and the link where you approve it",
        status_code=HTTP_200_OK,
    )
    async def checkout(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], payment_id: Id
    ) -> CheckoutOut:
        return await service.checkout(runtime, payment_id=payment_id, payer_id=request.user.id)

    @post(
        "/{payment_id:int}/capture",
        operation_id="paypalCapture",
        responses=_PAYPAL_PROBLEMS,
        summary="After approving at PayPal: capture the payment (settles it once)",
        status_code=HTTP_200_OK,
    )
    async def capture(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], payment_id: Id
    ) -> PaymentOut:
        return await service.capture(runtime, payment_id=payment_id, payer_id=request.user.id)
